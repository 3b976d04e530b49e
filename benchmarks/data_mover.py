#!/usr/bin/env python
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Volume data copies: lifeboat's data mover (a restic Job) against a plain `tar | upload` of the same
files, in one run, in MB/s.

For each shape (many small files; a few large ones), a namespace gets a PVC filled with random data
through a pod. Then, in alternating order:

- baseline out: `tar -c` of the volume's directory on the bed's host (hostpath CSI keeps it there),
  streamed into one S3 object with boto3's multipart upload;
- lifeboat out: volume_snapshot with volume_data: copy (snapshot, temporary PVC, Job, restic backup into
  a new repository), timed as the module process, with the Job's own seconds and restic's;
- lifeboat out again: a second copy of the same volume (another snapshot) into the same repository,
  as a nightly backup finds it: restic deduplicates, so it uploads almost nothing;
- baseline in: that S3 object streamed back through `tar -x` into an empty directory;
- lifeboat in: object_restore of the PVC from the copy into another namespace (empty PVC, Job, restic
  restore --verify, the size and file count checked), timed as the module process.

The baseline does less (no snapshot, no encryption, no deduplication, no pod) and runs on the host, not
in a pod behind the bed's relay; the ratio says what those cost here.

usage: eval "$(tests/testbed/testbed env)"
       ANSIBLE_COLLECTIONS_PATH=~/.cache/lifeboat/build-<key> $(hack/venv.sh)/bin/python benchmarks/data_mover.py
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time

import boto3

import objects as common

SHAPES = {"small": (20, 100, 100_000), "large": (1, 4, 50_000_000)}  # dirs, files per dir, bytes per file
PASSWORD = "benchmark-repository-password"
IMAGE = "docker.io/library/busybox:1.36"


def kubectl(*args, stdin=None):
    proc = subprocess.run(["kubectl"] + list(args), input=stdin, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit("kubectl %s failed: %s" % (" ".join(args[:3]), proc.stderr[-2000:]))
    return proc.stdout


def module(name, args, workdir):
    started = time.monotonic()
    proc = subprocess.run(common.module_command(name, args, workdir, "%s-%d" % (name, time.monotonic_ns())),
                          capture_output=True, text=True, env=common.module_env(), check=False)
    elapsed = time.monotonic() - started
    result = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {}
    if proc.returncode != 0 or result.get("failed"):
        sys.exit("%s failed: %s %s" % (name, result.get("msg"), proc.stderr[-2000:]))
    return elapsed, result


def fill(namespace, shape):
    dirs, files, size = SHAPES[shape]
    kubectl("create", "namespace", namespace)
    kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "filler"},
         "spec": {"terminationGracePeriodSeconds": 1, "containers": [
             {"name": "f", "image": IMAGE, "imagePullPolicy": "Never", "command": ["sleep", "3600"],
              "volumeMounts": [{"name": "d", "mountPath": "/data"}]}],
             "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}}]}))
    kubectl("wait", "-n", namespace, "pod/filler", "--for=condition=Ready", "--timeout=120s")
    kubectl("exec", "-n", namespace, "filler", "--", "sh", "-c",
            "for d in $(seq 1 %d); do mkdir -p /data/d$d; for f in $(seq 1 %d); do head -c %d /dev/urandom "
            "> /data/d$d/f$f; done; done" % (dirs, files, size))
    kubectl("delete", "-n", namespace, "pod/filler", "--wait=true")
    volume = kubectl("get", "pvc", "data", "-n", namespace, "-o", "jsonpath={.spec.volumeName}")
    handle = kubectl("get", "pv", volume, "-o", "jsonpath={.spec.csi.volumeHandle}")
    return os.path.join(os.environ["LIFEBOAT_CSI_STATE_DIR"], handle), dirs * files * size


def s3():
    return boto3.client("s3", endpoint_url=os.environ["LIFEBOAT_S3_ENDPOINT"])


def baseline_out(directory, key):
    started = time.monotonic()
    read, write = os.pipe()
    tar = subprocess.Popen(["tar", "-c", "-C", directory, "."], stdout=write)
    os.close(write)
    with os.fdopen(read, "rb") as stream:
        s3().upload_fileobj(stream, os.environ["LIFEBOAT_S3_BUCKET"], key)
    if tar.wait() != 0:
        sys.exit("tar failed")
    return time.monotonic() - started


def baseline_in(key, directory):
    started = time.monotonic()
    body = s3().get_object(Bucket=os.environ["LIFEBOAT_S3_BUCKET"], Key=key)["Body"]
    with tarfile.open(fileobj=body, mode="r|") as tar:
        tar.extractall(directory, filter="data")
    return time.monotonic() - started


def mover(prefix):
    return {"storage": "s3://%s/%s" % (os.environ["LIFEBOAT_S3_BUCKET"], prefix),
            "endpoint_url": os.environ["LIFEBOAT_S3_ENDPOINT"], "pod_endpoint_url": os.environ["LIFEBOAT_S3_POD_ENDPOINT"],
            "access_key": os.environ["AWS_ACCESS_KEY_ID"], "secret_key": os.environ["AWS_SECRET_ACCESS_KEY"],
            "repository_password": PASSWORD, "image": os.environ["LIFEBOAT_DATA_MOVER_IMAGE"]}


def run_shape(shape, workdir, baseline_first):
    stamp = "%d" % time.time()
    namespace, target, prefix = "lb-dm-%s-%s" % (shape, stamp), "lb-dm-%s-%s-in" % (shape, stamp), "bench-dm-" + stamp
    directory, total = fill(namespace, shape)
    mb = total / 1e6
    row = {"shape": shape, "files": SHAPES[shape][0] * SHAPES[shape][1], "MB": round(mb, 1)}

    def ours_out():
        elapsed, result = module("volume_snapshot", {"name": "bench", "namespace": namespace, "pvc": "data",
                                                     "volume_data": "copy", "data_mover": mover(prefix)}, workdir)
        row["copy_record"] = result["snapshot"]
        return elapsed, result["snapshot"]["data_copy"]
    steps = [("baseline_out", lambda: (baseline_out(directory, prefix + "/baseline.tar"), None)), ("ours_out", ours_out)]
    for name, step in (steps if baseline_first else steps[::-1]):
        elapsed, copy = step()
        row[name + "_MBps"] = round(mb / elapsed, 1)
        if copy:
            row["job_MBps"] = round(mb / copy["seconds"], 1)
            row["restic_MBps"] = round(mb / copy["tool_seconds"], 1)
    elapsed, _again = module("volume_snapshot", {"name": "bench-again", "namespace": namespace, "pvc": "data",
                                                 "volume_data": "copy", "data_mover": mover(prefix)}, workdir)
    row["ours_out_again_MBps"] = round(mb / elapsed, 1)
    backup = {"name": "bench", "storage": "s3://%s/%s" % (os.environ["LIFEBOAT_S3_BUCKET"], prefix),
              "endpoint_url": os.environ["LIFEBOAT_S3_ENDPOINT"]}
    module("object_backup", dict(backup, namespaces=[namespace], volume_snapshots=[row.pop("copy_record")]), workdir)

    def ours_in():
        elapsed, result = module("object_restore", dict(backup, namespace_mapping={namespace: target},
                                                        restore_volume_data="copy", data_mover=mover(prefix)), workdir)
        return elapsed, result["volumes"][0]
    extract = tempfile.mkdtemp(dir=workdir)
    steps = [("baseline_in", lambda: (baseline_in(prefix + "/baseline.tar", extract), None)), ("ours_in", ours_in)]
    for name, step in (steps if baseline_first else steps[::-1]):
        elapsed, volume = step()
        row[name + "_MBps"] = round(mb / elapsed, 1)
        if volume:
            row["restore_job_MBps"] = round(mb / volume["seconds"], 1)
    row["out_ratio"] = round(row["baseline_out_MBps"] / row["ours_out_MBps"], 2)
    row["in_ratio"] = round(row["baseline_in_MBps"] / row["ours_in_MBps"], 2)
    kubectl("delete", "namespace", namespace, target, "--wait=false")
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--shapes", nargs="+", default=sorted(SHAPES), choices=sorted(SHAPES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lb-bench-dm-") as workdir:
        for i, shape in enumerate(args.shapes):
            print(json.dumps(run_shape(shape, workdir, baseline_first=i % 2 == 0)), flush=True)


if __name__ == "__main__":
    main()
