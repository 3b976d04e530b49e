#!/usr/bin/env python
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CSI snapshot and restore batches of 1, 10 and 50 PVCs: lifeboat against kubectl, in one run.

For each size, a namespace gets that many bound 1 MiB PVCs (the bed's hostpath CSI driver).

- kubectl snapshot: one `kubectl apply` of every VolumeSnapshot, then one `kubectl wait` for
  readyToUse on all of them (the fastest way a script does it with kubectl);
- lifeboat snapshot: one volume_snapshot module process with pvc_selector (it waits for all);
- kubectl restore: one `kubectl apply` of a PVC per snapshot (dataSource, same namespace), then
  one `kubectl wait` for Bound;
- lifeboat restore: object_restore of the PVCs into another namespace from a backup holding the
  snapshot records (per volume a VolumeSnapshotContent, a VolumeSnapshot and the PVC), waiting
  for Bound; the backup itself is not timed.

Who goes first alternates per size. Each lifeboat step is the module process alone (no
ansible-playbook start-up). The CSI sidecars' flags decide much of this: the bed starts them
with upstream's defaults unless LIFEBOAT_TESTBED_SIDECAR_QPS is set (see benchmarks/README.md).

usage: eval "$(tests/testbed/testbed env)"
       ANSIBLE_COLLECTIONS_PATH=~/.cache/lifeboat/build-<key> $(hack/venv.sh)/bin/python benchmarks/volumes.py
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import objects as common

PREFIX = "lb-vol"
STORAGE_CLASS = "csi-hostpath"


def kubectl(*args, stdin=None):
    proc = subprocess.run([os.environ.get("KUBECTL", "kubectl")] + list(args), input=stdin, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        sys.exit("kubectl %s failed: %s" % (" ".join(args[:3]), proc.stderr[-2000:]))
    return proc.stdout


def manifests(objects):
    return "\n---\n".join(json.dumps(o) for o in objects)


def pvc(name, namespace, data_source=None, labels=None):
    spec = {"accessModes": ["ReadWriteOnce"], "storageClassName": STORAGE_CLASS,
            "resources": {"requests": {"storage": "1Mi"}}}
    if data_source:
        spec["dataSource"] = {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": data_source}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}}, "spec": spec}


def timed(fn):
    started = time.monotonic()
    result = fn()
    return time.monotonic() - started, result


def module(name, args, workdir):
    proc = subprocess.run(common.module_command(name, args, workdir, "%s-%d" % (name, time.monotonic_ns())),
                          capture_output=True, text=True, env=common.module_env(), check=False)
    result = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {}
    if proc.returncode != 0 or result.get("failed"):
        sys.exit("%s failed: %s %s" % (name, proc.stdout[-3000:], proc.stderr[-3000:]))
    return result


def kubectl_snapshot(ns, size):
    kubectl("apply", "-f", "-", stdin=manifests({
        "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
        "metadata": {"name": "kc-%03d" % i, "namespace": ns, "labels": {"who": "kubectl"}},
        "spec": {"source": {"persistentVolumeClaimName": "data-%03d" % i}}} for i in range(size)))
    kubectl("wait", "-n", ns, "--for=jsonpath={.status.readyToUse}=true", "volumesnapshot", "-l", "who=kubectl",
            "--timeout=900s")


def kubectl_restore(ns, size):
    kubectl("apply", "-f", "-", stdin=manifests(pvc("kc-restored-%03d" % i, ns, "kc-%03d" % i, {"who": "kubectl"})
                                                for i in range(size)))
    kubectl("wait", "-n", ns, "--for=jsonpath={.status.phase}=Bound", "pvc", "-l", "who=kubectl", "--timeout=900s")


def run_size(core, size, workdir, first):
    ns, target = "%s-%d" % (PREFIX, size), "%s-%d-copy" % (PREFIX, size)
    common.delete_namespaces(core, [ns, target])
    core.create_namespace({"metadata": {"name": ns}})
    kubectl("apply", "-f", "-", stdin=manifests(pvc("data-%03d" % i, ns, labels={"bench": "vol"})
                                                for i in range(size)))
    kubectl("wait", "-n", ns, "--for=jsonpath={.status.phase}=Bound", "pvc", "-l", "bench=vol", "--timeout=600s")
    kubeconfig = os.environ["KUBECONFIG"]
    store = "file://" + os.path.join(workdir, "store-%d" % size)
    row = {"pvcs": size, "first": first}
    records = {}

    def ours_snapshot():
        records["snapshots"] = module("volume_snapshot", {
            "kubeconfig": kubeconfig, "namespace": ns, "name": "lb", "pvc_selector": "bench=vol",
            "wait_timeout": 900}, workdir)["snapshots"]

    steps = [("kubectl_snapshot_s", lambda: kubectl_snapshot(ns, size)), ("lifeboat_snapshot_s", ours_snapshot)]
    for key, step in (steps if first == "kubectl" else steps[::-1]):
        row[key] = timed(step)[0]
    module("object_backup", {"kubeconfig": kubeconfig, "storage": store, "name": "vols", "namespaces": [ns],
                             "include_resources": ["persistentvolumeclaims"],
                             "volume_snapshots": records["snapshots"]}, workdir)

    def ours_restore():
        result = module("object_restore", {"kubeconfig": kubeconfig, "storage": store, "name": "vols",
                                           "namespace_mapping": {ns: target}, "wait_timeout": 900}, workdir)
        assert result["counts"]["persistentvolumeclaims"]["created"] == size, result["counts"]

    steps = [("kubectl_restore_s", lambda: kubectl_restore(ns, size)), ("lifeboat_restore_s", ours_restore)]
    for key, step in (steps if first == "kubectl" else steps[::-1]):
        row[key] = timed(step)[0]
    for key in list(row):
        if isinstance(row[key], float):
            row[key] = round(row[key], 2)
    row["snapshot_ratio"] = round(row["lifeboat_snapshot_s"] / row["kubectl_snapshot_s"], 2)
    row["restore_ratio"] = round(row["lifeboat_restore_s"] / row["kubectl_restore_s"], 2)
    print(json.dumps(row), file=sys.stderr)
    common.delete_namespaces(core, [ns, target])
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50")
    args = parser.parse_args()
    core = common.api()
    workdir = tempfile.mkdtemp(prefix="lifeboat-volbench-")
    rows = []
    try:
        for index, size in enumerate(int(s) for s in args.sizes.split(",")):
            rows.append(run_size(core, size, workdir, "kubectl" if index % 2 == 0 else "lifeboat"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps({"sidecar_qps": os.environ.get("LIFEBOAT_TESTBED_SIDECAR_QPS", "upstream default (5, burst 10)"),
                      "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
