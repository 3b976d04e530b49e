#!/usr/bin/env python
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many namespaces: object_backup / object_restore against the floor and against Velero, with API request counts.

For each shape (namespaces x objects per namespace, half ConfigMaps and half Secrets of 1 KiB), the namespaces are
made with a label of their own, then:

- floor LIST: every namespaced type the cluster serves (discovery), each listed once across the cluster (paginated,
  500 per page, 8 types at a time) and what is in the shape's namespaces written as JSON into a tar.gz;
- object_backup of the namespaces by that label (namespace_selector), the module process itself (its own peak RSS);
- velero backup create --include-namespaces <every one> --wait (the bed's Velero server), for shapes of at most
  --velero-up-to namespaces: Velero 1.18 lists each type once per namespace (pkg/backup/item_collector.go,
  getNamespacesToList: even '*' is expanded to every namespace), at its client's 100 requests/s, so 2,500 namespaces
  of 60 types would take it 150,000 LISTs and some 25 minutes; a smaller shape measures the same growth;
- floor CREATE: the floor's archive read back, each namespace created, then every ConfigMap and Secret by 16
  threads into the mapped namespaces, as raw POSTs (no typed models: the server's pace, not the client's);
- object_restore of the backup into other names (namespace_mapping), the module process;
- velero restore create --namespace-mappings ... --wait.

The API requests each step made are read from the apiserver's own counters (apiserver_request_total, by verb), so
they are the server's count, not ours; they include what the cluster's controllers did meanwhile. What a module costs
through ansible-playbook (a playbook of one ping) is measured once and added to ours for the comparison with Velero,
whose server is already up. The floor LIST and the backup run --repeat times each, alternating (medians).

usage: make testbed-up collection   # testbed-up also starts the Velero peer
       eval "$(tests/testbed/testbed env)"
       cd benchmarks && ANSIBLE_COLLECTIONS_PATH=~/.cache/lifeboat/build-<key> $(../hack/venv.sh)/bin/python \
           namespaces.py --shapes 2500x4,250x4,100x100 --velero-up-to 300
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import functools
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import objects as common
from profile_objects import profiled
import scale
from velero import velero, velero_peak_mb

LIST_WORKERS = 8
METRIC = re.compile(r'^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>[0-9.e+]+)$')


def get(core, path, **query):
    response = core.api_client.call_api(path, "GET", query_params=list(query.items()), auth_settings=["BearerToken"],
                                        _preload_content=False, _return_http_data_only=True)
    return response.data


def post(core, path, body):
    return core.api_client.call_api(path, "POST", body=body, auth_settings=["BearerToken"], _preload_content=False,
                                    _return_http_data_only=True).data


def requests_by_verb(core):
    """The apiserver's own count of the requests it has served, by verb."""
    counts = {}
    for line in get(core, "/metrics").decode().splitlines():
        match = METRIC.match(line)
        if match:
            verb = re.search(r'verb="([A-Z]+)"', match.group("labels"))
            if verb:
                counts[verb.group(1)] = counts.get(verb.group(1), 0) + float(match.group("value"))
    return counts


def requests_made(before, after):
    made = {verb: int(after.get(verb, 0) - before.get(verb, 0)) for verb in after}
    made = {verb: n for verb, n in made.items() if n}
    return dict(made, total=sum(made.values()))


def namespaced_types(core):
    """(list path prefix, plural) of every namespaced type the cluster can list, preferred versions."""
    found = [("/api/v1", r["name"]) for r in json.loads(get(core, "/api/v1"))["resources"]
             if r["namespaced"] and "/" not in r["name"] and "list" in r["verbs"]]
    for group in json.loads(get(core, "/apis"))["groups"]:
        prefix = "/apis/" + group["preferredVersion"]["groupVersion"]
        found += [(prefix, r["name"]) for r in json.loads(get(core, prefix))["resources"]
                  if r["namespaced"] and "/" not in r["name"] and "list" in r["verbs"]]
    return found


def floor_list(core, chosen, archive):
    """One paginated LIST per type across the cluster; what is in the chosen namespaces into a tar.gz."""
    chosen = set(chosen)
    lock = threading.Lock()
    kept = [0]
    with tarfile.open(archive, "w:gz") as tar:
        def list_type(kind):
            prefix, plural = kind
            token = None
            while True:
                page = json.loads(get(core, "%s/%s" % (prefix, plural), limit=500, **({"continue": token} if token
                                                                                      else {})))
                for obj in page["items"]:
                    meta = obj["metadata"]
                    if meta.get("namespace") not in chosen:
                        continue
                    data = json.dumps(dict(obj, apiPath=prefix, plural=plural)).encode()
                    info = tarfile.TarInfo("%s/%s/%s/%s.json" % (prefix.strip("/"), plural, meta["namespace"],
                                                                 meta["name"]))
                    info.size = len(data)
                    with lock:
                        tar.addfile(info, io.BytesIO(data))
                        kept[0] += 1
                token = page["metadata"].get("continue")
                if not token:
                    return
        with ThreadPoolExecutor(LIST_WORKERS) as pool:
            list(pool.map(list_type, namespaced_types(core)))
    return kept[0]


def floor_create(core, archive, mapping, label):
    """The archive's ConfigMaps and Secrets created into the mapped namespaces (made first), 16 at a time, as raw
    requests (the client's typed calls would spend more time building and parsing its models than the server)."""
    for target in mapping.values():
        post(core, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                          "metadata": {"name": target, "labels": {"lifeboat-bench": label}}})

    def restorable():
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                obj = json.load(tar.extractfile(member))
                if obj["plural"] not in ("configmaps", "secrets") or obj["metadata"]["name"] == "kube-root-ca.crt":
                    continue
                meta = obj["metadata"]
                body = {"apiVersion": "v1", "kind": "ConfigMap" if obj["plural"] == "configmaps" else "Secret",
                        "metadata": {"name": meta["name"], "labels": meta.get("labels")}}
                for field in ("data", "type"):
                    if field in obj:
                        body[field] = obj[field]
                yield obj["plural"], mapping[meta["namespace"]], body

    def create(item):
        plural, namespace, body = item
        post(core, "/api/v1/namespaces/%s/%s" % (namespace, plural), body)
    created = 0
    with ThreadPoolExecutor(common.WORKERS) as pool:
        for _done in pool.map(create, restorable()):
            created += 1
    return created


def make_shape(core, names, per_namespace, label):
    def make(name):
        core.create_namespace({"metadata": {"name": name, "labels": {"lifeboat-bench": label}}})
        for kind, body in common.make_objects(per_namespace):
            if kind == "configmaps":
                core.create_namespaced_config_map(name, body)
            else:
                core.create_namespaced_secret(name, body)
    with ThreadPoolExecutor(common.WORKERS) as pool:
        list(pool.map(make, names))


def counted(core, step):
    before = requests_by_verb(core)
    started = time.monotonic()
    result = step()
    elapsed = time.monotonic() - started
    return elapsed, requests_made(before, requests_by_verb(core)), result


def run_shape(core, label, namespaces, per_namespace, workdir, startup, with_velero, profile_top=0, repeat=3):
    names = ["%s-%04d" % (label, i) for i in range(namespaces)]
    print("creating %d namespaces of %d objects ..." % (namespaces, per_namespace), file=sys.stderr)
    make_shape(core, names, per_namespace, label)
    time.sleep(5)  # the cluster adds kube-root-ca.crt and the default ServiceAccount to each
    archive = os.path.join(workdir, label + ".tar.gz")
    store = "s3://%s/%s" % (os.environ["LIFEBOAT_S3_BUCKET"], os.environ["LIFEBOAT_VELERO_PREFIX"])
    module_args = {"kubeconfig": os.environ["KUBECONFIG"], "storage": store,
                   "endpoint_url": os.environ["LIFEBOAT_S3_ENDPOINT"], "name": label}
    row = {"namespaces": namespaces, "objects_per_namespace": per_namespace, "objects": namespaces * per_namespace}

    # The floor LIST and the backup alternate `repeat` times (a backup under another name each time): one run of
    # each on this two-core machine varies by a third; the medians are the row's.
    floor_times, backup_times = [], []

    def floor():
        return floor_list(core, names, archive)

    def ours(args):
        return scale.measured(scale.wrapped(common.module_command("object_backup", args, workdir, "backup-" + label)))
    backup_args = dict(module_args, namespace_selector="lifeboat-bench=" + label)
    for attempt in range(repeat):
        seconds, row["floor_list_requests"], row["floor_items"] = counted(core, floor)
        floor_times.append(seconds)
        attempt_args = dict(backup_args, name=backup_name(label, attempt))
        _elapsed, row["backup_requests"], (seconds, backup_rss, backup) = counted(core, functools.partial(ours, attempt_args))
        backup_times.append(seconds)
        assert backup["backup"]["phase"] == "Completed", backup["backup"]
        assert sorted(backup["backup"]["namespaces"]) == names
    row["floor_list_s"], row["backup_s"] = statistics.median(floor_times), statistics.median(backup_times)
    row["floor_list_runs_s"], row["backup_runs_s"] = floor_times, backup_times
    row["backup_rss_mb"], row["backup_items"] = backup_rss, backup["backup"]["total_items"]
    if profile_top:  # once more under cProfile, into another backup; not timed
        profiled("object_backup", dict(backup_args, name=label + "-profile"), workdir, "backup-profile", profile_top)
    if with_velero:
        row["velero_backup_s"], row["velero_backup_requests"], _done = counted(core, lambda: velero(
            "backup", "create", label + "-velero", "--include-namespaces", ",".join(names), "--wait"))

    floor_map = {n: "f" + n for n in names}
    row["floor_create_s"], row["floor_create_requests"], row["floor_created"] = counted(
        core, lambda: floor_create(core, archive, floor_map, label))
    ours_map = {n: "o" + n for n in names}
    _elapsed, row["restore_requests"], (row["restore_s"], restore_rss, restored) = counted(
        core, lambda: scale.measured(scale.wrapped(common.module_command(
            "object_restore", dict(module_args, namespace_mapping=ours_map), workdir, "restore-" + label))))
    row["restore_rss_mb"], row["restored"] = restore_rss, restored["totals"]["created"]
    assert row["restored"] >= namespaces * (per_namespace + 1), restored["totals"]
    if profile_top:
        profiled("object_restore", dict(module_args, name=label + "-profile",
                                        namespace_mapping={n: "p" + n for n in names}), workdir, "restore-profile",
                 profile_top)
    if with_velero:
        theirs_map = ",".join("%s:v%s" % (n, n) for n in names)
        row["velero_restore_s"], row["velero_restore_requests"], _done = counted(core, lambda: velero(
            "restore", "create", label + "-velero", "--from-backup", label + "-velero", "--namespace-mappings",
            theirs_map, "--wait"))

    row["backup_vs_floor"] = round(row["backup_s"] / row["floor_list_s"], 2)
    row["restore_vs_floor"] = round(row["restore_s"] / row["floor_create_s"], 2)
    row["ansible_startup_s"] = round(startup, 2)
    if with_velero:
        row["velero_over_ours_backup"] = round(row["velero_backup_s"] / (row["backup_s"] + startup), 2)
        row["velero_over_ours_restore"] = round(row["velero_restore_s"] / (row["restore_s"] + startup), 2)
        row["velero_server_peak_rss_mb"] = velero_peak_mb()
    for key in list(row):
        if isinstance(row[key], float):
            row[key] = round(row[key], 2)
    print(json.dumps(row), file=sys.stderr)
    return row


def backup_name(label, attempt):
    return label if attempt == 0 else "%s-again%d" % (label, attempt)


def clean_up(core, labels, workdir, repeat):
    """Delete the shapes' namespaces without waiting (the namespace controller takes minutes for thousands), and
    the backups."""
    for label in labels:
        subprocess.run(["kubectl", "delete", "namespace", "-l", "lifeboat-bench=" + label, "--wait=false"],
                       capture_output=True, check=False)
        subprocess.run([os.environ["LIFEBOAT_VELERO"], "--kubeconfig", os.environ["KUBECONFIG"], "-n", "velero",
                        "backup", "delete", label + "-velero", "--confirm"], capture_output=True, check=False)
        for name in [backup_name(label, i) for i in range(repeat)] + [label + "-profile"]:  # (after --profile)
            deleted = subprocess.run(common.module_command("object_backup", {
                "kubeconfig": os.environ["KUBECONFIG"], "name": name, "state": "absent",
                "storage": "s3://%s/%s" % (os.environ["LIFEBOAT_S3_BUCKET"], os.environ["LIFEBOAT_VELERO_PREFIX"]),
                "endpoint_url": os.environ["LIFEBOAT_S3_ENDPOINT"]}, workdir, "delete-" + name),
                env=common.module_env(), capture_output=True, text=True, check=False)
            if deleted.returncode != 0:
                print("deleting backup %s failed: %s" % (name, deleted.stdout[-2000:]), file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="2500x4,250x4,100x100", help="namespaces x objects per namespace, ...")
    parser.add_argument("--velero-up-to", type=int, default=300, help="run Velero on shapes of this many namespaces "
                        "or fewer")
    parser.add_argument("--repeat", type=int, default=3, help="floor LISTs and backups per shape (their medians)")
    parser.add_argument("--profile", type=int, default=0, metavar="TOP", help="also run the backup and the restore "
                        "once more under cProfile (not timed) and print their TOP functions")
    args = parser.parse_args()
    if "LIFEBOAT_VELERO" not in os.environ:
        sys.exit("needs the bed's Velero peer: tests/testbed/testbed velero, then eval \"$(tests/testbed/testbed env)\"")
    core = common.api()
    workdir = tempfile.mkdtemp(prefix="lifeboat-bench-namespaces-")
    labels, rows = [], []
    try:
        # What any module costs through ansible-playbook (a playbook of one ping), added to ours for the ratios
        # to Velero, whose server is already running.
        startup = common.playbook({"ansible.builtin.ping": {}}, workdir, "ping")[0]
        for shape in args.shapes.split(","):
            namespaces, per_namespace = (int(n) for n in shape.split("x"))
            labels.append("s%dx%d-%d" % (namespaces, per_namespace, time.time()))
            rows.append(run_shape(core, labels[-1], namespaces, per_namespace, workdir, startup,
                                  namespaces <= args.velero_up_to, args.profile, args.repeat))
    finally:
        clean_up(core, labels, workdir, args.repeat)
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
