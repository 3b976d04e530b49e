#!/usr/bin/env python
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Objects per second of object_backup / object_restore against a baseline in the same run.

The baseline is the plainest fast thing a script could do with the official
Python client: a paginated LIST of each resource written to a file, and a
parallel CREATE (the same number of threads as ours) of those objects into a
new namespace. Ours runs the real modules through ansible-playbook, so its
time includes Ansible's start-up, measured separately by an empty playbook.

usage: eval "$(tests/testbed/testbed env)"; ANSIBLE_COLLECTIONS_PATH=... python benchmarks/objects.py [--objects 5000]
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import kubernetes

WORKERS = 16
SRC, BASE, COPY = "lb-bench-src", "lb-bench-base", "lb-bench-copy"


def api():
    kubernetes.config.load_kube_config()
    configuration = kubernetes.client.Configuration.get_default_copy()
    configuration.connection_pool_maxsize = WORKERS
    return kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(configuration))


def make_objects(count):
    payload = "x" * 1024
    for i in range(count // 2):
        yield "configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "cm-%05d" % i, "labels": {"bench": "yes"}}, "data": {"v": payload}}
        yield "secrets", {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                          "metadata": {"name": "s-%05d" % i, "labels": {"bench": "yes"}}, "stringData": {"v": payload}}


def create_all(core, namespace, objects):
    def create(item):
        kind, body = item
        if kind == "configmaps":
            core.create_namespaced_config_map(namespace, body)
        else:
            core.create_namespaced_secret(namespace, body)
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(create, objects))


def baseline_list(core, namespace, path):
    """Paginated LIST of both resources, one object per line into path."""
    count = 0
    with open(path, "w") as out:
        for lister, kind in ((core.list_namespaced_config_map, "configmaps"), (core.list_namespaced_secret, "secrets")):
            token = None
            while True:
                page = lister(namespace, limit=500, _continue=token, _preload_content=False)
                data = json.loads(page.data)
                for item in data["items"]:
                    out.write(json.dumps([kind, item]) + "\n")
                    count += 1
                token = data["metadata"].get("continue")
                if not token:
                    break
    return count


def baseline_restore(core, namespace, path):
    def stripped():
        with open(path) as f:
            for line in f:
                kind, obj = json.loads(line)
                if obj["metadata"]["name"] == "kube-root-ca.crt":
                    continue
                obj["metadata"] = {"name": obj["metadata"]["name"], "labels": obj["metadata"].get("labels")}
                obj["apiVersion"], obj["kind"] = "v1", "ConfigMap" if kind == "configmaps" else "Secret"
                yield kind, obj
    create_all(core, namespace, stripped())


def playbook(task, workdir, name):
    """Run one task in a playbook; return (seconds, its result). The result is written by ansible-core's tree
    callback, not by a second task, so the time is the task's and Ansible's alone."""
    path = os.path.join(workdir, name + ".yml")
    tree = os.path.join(workdir, name + "-tree")
    with open(path, "w") as f:
        json.dump([{"hosts": "localhost", "gather_facts": False, "tasks": [task]}], f)
    env = dict(os.environ, ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.tree", ANSIBLE_CALLBACK_TREE_DIR=tree)
    started = time.monotonic()
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), path],
                          capture_output=True, text=True, check=False, env=env)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit("%s failed:\n%s\n%s" % (name, proc.stdout[-3000:], proc.stderr[-3000:]))
    with open(os.path.join(tree, "localhost")) as f:
        return elapsed, json.load(f)


def module_command(name, args, workdir, label=None, runner=()):
    """argv that runs a module as Ansible does (its arguments in a file), without ansible-playbook;
    runner goes before `-m` (e.g. cProfile). Run it with module_env()."""
    path = os.path.join(workdir, "%s-args.json" % (label or name))
    with open(path, "w") as f:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, f)
    return [sys.executable] + list(runner) + ["-m", "ansible_collections.lifeboat.k8s.plugins.modules." + name, path]


def module_env():
    return dict(os.environ, PYTHONPATH=os.environ["ANSIBLE_COLLECTIONS_PATH"].split(":")[0])


def delete_namespaces(core, names):
    for name in names:
        try:
            core.delete_namespace(name)
        except kubernetes.client.ApiException as e:
            if e.status != 404:
                raise
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        left = [n for n in names if n in [ns.metadata.name for ns in core.list_namespace().items]]
        if not left:
            return
        time.sleep(1)
    sys.exit("namespaces %s did not go away" % names)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=5000)
    args = parser.parse_args()
    core = api()
    workdir = tempfile.mkdtemp(prefix="lifeboat-bench-")
    storage = "file://" + os.path.join(workdir, "store")
    kubeconfig = os.environ["KUBECONFIG"]
    try:
        delete_namespaces(core, [SRC, BASE, COPY])
        for ns in (SRC, BASE):
            core.create_namespace({"metadata": {"name": ns}})
        print("creating %d objects in %s ..." % (args.objects, SRC), file=sys.stderr)
        create_all(core, SRC, make_objects(args.objects))
        time.sleep(2)  # let the cluster publish kube-root-ca.crt and the default ServiceAccount

        started = time.monotonic()
        listed = baseline_list(core, SRC, os.path.join(workdir, "baseline.jsonl"))
        base_backup = time.monotonic() - started
        started = time.monotonic()
        baseline_restore(core, BASE, os.path.join(workdir, "baseline.jsonl"))
        base_restore = time.monotonic() - started

        overhead = playbook({"ansible.builtin.debug": {"msg": "start-up"}}, workdir, "empty")[0]
        defaults = {"kubeconfig": kubeconfig, "storage": storage}
        backup_time, backup = playbook({"lifeboat.k8s.object_backup": dict(
            defaults, name="bench", namespaces=[SRC], include_resources=["configmaps", "secrets"])}, workdir, "backup")
        restore_time, restore = playbook({"lifeboat.k8s.object_restore": dict(
            defaults, name="bench", namespace_mapping={SRC: COPY})}, workdir, "restore")
        rerun_time, rerun = playbook({"lifeboat.k8s.object_restore": dict(
            defaults, name="bench", namespace_mapping={SRC: COPY})}, workdir, "restore-again")
        counts = backup["backup"]["counts"]
        items = counts.get("configmaps", 0) + counts.get("secrets", 0)
        created = restore["totals"]["created"]
        assert items == listed, (items, listed)
        assert not rerun["changed"]
        report = {
            "objects": items, "workers": WORKERS, "ansible_startup_s": round(overhead, 2),
            "baseline": {"list_s": round(base_backup, 2), "create_s": round(base_restore, 2),
                         "list_objects_per_s": round(listed / base_backup), "create_objects_per_s": round(listed / base_restore)},
            "lifeboat": {"object_backup_s": round(backup_time, 2), "object_restore_s": round(restore_time, 2),
                         "object_restore_rerun_s": round(rerun_time, 2), "restored": created,
                         "backup_objects_per_s": round(items / backup_time),
                         "restore_objects_per_s": round(created / restore_time),
                         "archive_bytes": backup["backup"]["size_bytes"]},
            "ratios": {"backup_vs_list": round(backup_time / base_backup, 2),
                       "backup_minus_startup_vs_list": round((backup_time - overhead) / base_backup, 2),
                       "restore_vs_create": round(restore_time / base_restore, 2),
                       "restore_minus_startup_vs_create": round((restore_time - overhead) / base_restore, 2)},
            "bench_process_max_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        }
        print(json.dumps(report, indent=2))
    finally:
        delete_namespaces(core, [SRC, BASE, COPY])
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
