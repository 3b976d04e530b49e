#!/usr/bin/env python
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time and peak memory of object_backup / object_restore at 10k-100k objects, against floors.

For each size, one namespace is filled with ConfigMaps and Secrets (half each, 1 KiB), then,
each in its own process so that its peak RSS (getrusage of that process alone) is its own:

- floor LIST: a paginated LIST (500 per page) of both resources with the official client,
  each object written as a JSON file into a tar.gz, as an archive is;
- object_backup: the module process itself, run as Ansible runs it (its arguments in a file),
  without ansible-playbook around it;
- floor CREATE: the floor archive read back and each object created into a new namespace by
  16 threads (ours uses 16), a chunk at a time;
- object_restore into a third namespace, and again with existing: update (compares every
  object, changes none).

usage: eval "$(tests/testbed/testbed env)"
       ANSIBLE_COLLECTIONS_PATH=~/.cache/lifeboat/build-<key> $(hack/venv.sh)/bin/python benchmarks/scale.py \
           --sizes 10000,30000,100000
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

import objects as common

SRC, BASE, COPY = "lb-scale-src", "lb-scale-base", "lb-scale-copy"
CHUNK = 1000


def floor_list(namespace, out_path):
    core = common.api()
    listers = (("configmaps", core.list_namespaced_config_map), ("secrets", core.list_namespaced_secret))
    with tarfile.open(out_path, "w:gz") as tar:
        for kind, lister in listers:
            token = None
            while True:
                page = json.loads(lister(namespace, limit=500, _continue=token, _preload_content=False).data)
                for obj in page["items"]:
                    data = json.dumps(obj).encode()
                    info = tarfile.TarInfo("%s/%s.json" % (kind, obj["metadata"]["name"]))
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                token = page["metadata"].get("continue")
                if not token:
                    break


def floor_create(namespace, in_path):
    core = common.api()

    def stripped():
        with tarfile.open(in_path, "r:gz") as tar:
            for member in tar:
                kind = member.name.split("/")[0]
                obj = json.load(tar.extractfile(member))
                if obj["metadata"]["name"] == "kube-root-ca.crt":
                    continue
                obj["metadata"] = {"name": obj["metadata"]["name"], "labels": obj["metadata"].get("labels")}
                obj["apiVersion"], obj["kind"] = "v1", "ConfigMap" if kind == "configmaps" else "Secret"
                yield kind, obj

    chunk = []
    for item in stripped():
        chunk.append(item)
        if len(chunk) >= CHUNK:
            common.create_all(core, namespace, chunk)
            chunk = []
    common.create_all(core, namespace, chunk)


def measured(argv):
    """Run wrapped(argv); return (seconds of the wrapped process, its peak RSS in MB, its result)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=common.module_env())
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.exit("%s failed:\n%s\n%s" % (" ".join(argv[:4]), out.decode()[-3000:], err.decode()[-3000:]))
    report = json.loads(out.decode().strip().splitlines()[-1])
    return report["seconds"], report["max_rss_mb"], report.get("result")


def wrapped(argv):
    """This script, running argv as its one child and reporting that child's peak RSS."""
    return [sys.executable, os.path.abspath(__file__), "--rss", "--"] + argv


def run_size(core, size, workdir, kubeconfig):
    common.delete_namespaces(core, [SRC, BASE, COPY])
    for ns in (SRC, BASE):
        core.create_namespace({"metadata": {"name": ns}})
    print("creating %d objects ..." % size, file=sys.stderr)
    common.create_all(core, SRC, common.make_objects(size))
    time.sleep(2)
    store = "file://" + os.path.join(workdir, "store-%d" % size)
    archive = os.path.join(workdir, "floor-%d.tar.gz" % size)
    me = [sys.executable, os.path.abspath(__file__)]
    row = {"objects": size}
    row["floor_list_s"], row["floor_list_rss_mb"], _result = measured(wrapped(me + ["--floor-list", SRC, archive]))
    args = {"kubeconfig": kubeconfig, "storage": store, "name": "scale"}
    row["backup_s"], row["backup_rss_mb"], backup = measured(wrapped(common.module_command("object_backup", dict(
        args, namespaces=[SRC], include_resources=["configmaps", "secrets"]), workdir)))
    row["floor_create_s"], row["floor_create_rss_mb"], _result = measured(wrapped(me + ["--floor-create", BASE, archive]))
    restore_args = dict(args, namespace_mapping={SRC: COPY})
    row["restore_s"], row["restore_rss_mb"], restored = measured(wrapped(common.module_command(
        "object_restore", restore_args, workdir)))
    row["rerun_update_s"], row["rerun_update_rss_mb"], rerun = measured(wrapped(common.module_command(
        "object_restore", dict(restore_args, existing="update"), workdir, "rerun")))
    assert backup["backup"]["phase"] == "Completed", backup["backup"]
    assert restored["totals"]["created"] >= size, restored["totals"]
    assert not rerun["changed"], rerun["totals"]
    row["backup_vs_floor"] = round(row["backup_s"] / row["floor_list_s"], 2)
    row["restore_vs_floor"] = round(row["restore_s"] / row["floor_create_s"], 2)
    for key in list(row):
        if isinstance(row[key], float):
            row[key] = round(row[key], 2)
    print(json.dumps(row), file=sys.stderr)
    return row


def rss_mode(argv):
    """--rss -- argv: run argv, print its last stdout line's JSON as result with its own peak RSS and its own time
    (from its start to its end: not this wrapper's start-up, which imports the kubernetes client)."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    if status != 0:
        sys.stdout.write(out.decode())
        sys.exit(1)
    lines = out.decode().strip().splitlines()
    result = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
    if result is not None and result.get("failed"):
        sys.stdout.write(out.decode())
        sys.exit(1)
    print(json.dumps({"max_rss_mb": round(usage.ru_maxrss / 1024), "result": result, "seconds": seconds}))


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--rss":
        return rss_mode(sys.argv[3:])
    if len(sys.argv) > 1 and sys.argv[1] == "--floor-list":
        return floor_list(sys.argv[2], sys.argv[3])
    if len(sys.argv) > 1 and sys.argv[1] == "--floor-create":
        return floor_create(sys.argv[2], sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,30000,100000")
    args = parser.parse_args()
    core = common.api()
    workdir = tempfile.mkdtemp(prefix="lifeboat-scale-")
    rows = []
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            rows.append(run_size(core, size, workdir, os.environ["KUBECONFIG"]))
            shutil.rmtree(os.path.join(workdir, "store-%d" % size), ignore_errors=True)
    finally:
        common.delete_namespaces(core, [SRC, BASE, COPY])
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
