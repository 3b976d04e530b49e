#!/usr/bin/env python
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Volume data copies: lifeboat's data mover (a restic Job) against a plain `tar | upload` of the same
files and against restic itself run on the host, in one run, in MB/s.

For each shape (many small files of 100 kB; four large ones) and each row (one volume of --megabytes; and
--volumes volumes of --megabytes / --volumes each, copied at once), a namespace gets PVCs filled with random
data through a pod. Then, in alternating order:

- floor out: `tar -c` of the volumes' directories on the bed's host (hostpath CSI keeps them there), streamed
  into S3 objects with boto3's multipart upload, concurrently;
- restic out: the restic binary of the mover's image, run on the host against the same bucket (a repository
  per volume, concurrently): the tool without snapshot, clone, pod or relay;
- lifeboat out: volume_snapshot with volume_data: copy of every PVC (snapshots, temporary PVCs, Jobs, restic
  backups into new repositories), timed as the module process, with the Jobs' own seconds and restic's;
- lifeboat incremental: --change-percent of the files rewritten (small) or of one file's bytes overwritten
  (large), then a second copy into the same repositories, as a nightly backup finds them;
- floor in: the S3 objects streamed back through `tar -x` into empty directories; restic on the host restoring
  its own repositories into empty directories;
- lifeboat in: object_restore of the PVCs from their copies into another namespace, timed as the module process.
- Velero, when the bed runs it with its node-agent (`testbed velero`, `testbed velero-node-agent`): `velero backup
  create --snapshot-move-data --wait` of the namespace (CSI snapshots moved into its kopia repository by its
  data-mover pods), again after the change, and `velero restore create --wait` into another namespace, in the
  same alternating order; the bytes its DataUploads say they moved are checked; and lifeboat restoring Velero's
  backup (object_restore: kopia in the data mover's Job, from Velero's repository) into a third namespace.

The floor does less (no snapshot, no encryption, no deduplication, no pod) and runs on the host, not in a pod
behind the bed's relay; the ratios say what those cost here.

usage: eval "$(tests/testbed/testbed env)"
       ANSIBLE_COLLECTIONS_PATH=~/.cache/lifeboat/build-<key> $(hack/venv.sh)/bin/python benchmarks/data_mover.py \
         [--megabytes 2000] [--volumes 8] [--shapes small large]
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import boto3

import objects as common
from velero import velero

FILE_BYTES = {"small": 100_000, "large": None}  # large: four files sharing the volume's bytes
PASSWORD = "benchmark-repository-password"
VELERO_PASSWORD = "static-passw0rd"  # Velero's default repository password
IMAGE = "docker.io/library/busybox:1.36"
RESTIC = os.path.join(os.path.expanduser(os.environ.get("LIFEBOAT_CACHE", "~/.cache/lifeboat")), "testbed")


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


def layout(shape, volume_bytes):
    """(files, bytes per file) of one volume."""
    if FILE_BYTES[shape]:
        return max(volume_bytes // FILE_BYTES[shape], 1), FILE_BYTES[shape]
    return 4, volume_bytes // 4


def in_filler(namespace, script):
    kubectl("exec", "-n", namespace, "filler", "--", "sh", "-c", script)


def fill_script(volume, files, size):
    return ("cd /v/%s && i=0; while [ $i -lt %d ]; do d=d$((i / 100)); mkdir -p $d; "
            "head -c %d /dev/urandom > $d/f$i; i=$((i + 1)); done" % (volume, files, size))


def fill(namespace, volumes, shape, volume_bytes):
    """PVCs data-0.. filled concurrently through one pod; their directories on the host."""
    files, size = layout(shape, volume_bytes)
    claim = "%dMi" % (volume_bytes * 1.2 // 2**20 + 64)
    kubectl("create", "namespace", namespace)
    claims = [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data-%d" % i},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": claim}}}}
              for i in range(volumes)]
    kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": claims + [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "filler"},
         "spec": {"terminationGracePeriodSeconds": 1, "containers": [
             {"name": "f", "image": IMAGE, "imagePullPolicy": "Never", "command": ["sleep", "36000"],
              "volumeMounts": [{"name": "d%d" % i, "mountPath": "/v/data-%d" % i} for i in range(volumes)]}],
             "volumes": [{"name": "d%d" % i, "persistentVolumeClaim": {"claimName": "data-%d" % i}}
                         for i in range(volumes)]}}]}))
    kubectl("wait", "-n", namespace, "pod/filler", "--for=condition=Ready", "--timeout=300s")
    in_filler(namespace, " & ".join("(%s)" % fill_script("data-%d" % i, files, size) for i in range(volumes)) +
              " & wait")
    directories = []
    for i in range(volumes):
        volume = kubectl("get", "pvc", "data-%d" % i, "-n", namespace, "-o", "jsonpath={.spec.volumeName}")
        handle = kubectl("get", "pv", volume, "-o", "jsonpath={.spec.csi.volumeHandle}")
        directories.append(os.path.join(os.environ["LIFEBOAT_CSI_STATE_DIR"], handle))
    return directories, files


def change(namespace, volumes, shape, volume_bytes, percent):
    """Rewrite percent of each volume: whole files (small), or bytes inside one file (large)."""
    files, size = layout(shape, volume_bytes)
    for i in range(volumes):
        if FILE_BYTES[shape]:
            count = max(files * percent // 100, 1)
            in_filler(namespace, "cd /v/data-%d && for i in $(seq 0 %d); do head -c %d /dev/urandom > "
                                 "d$((i / 100))/f$i; done" % (i, count - 1, size))
        else:
            block = max(volume_bytes * percent // 100, 1)
            in_filler(namespace, "dd if=/dev/urandom of=/v/data-%d/d0/f0 bs=%d count=1 seek=1 conv=notrunc "
                                 "2>/dev/null" % (i, block))


def s3():
    return boto3.client("s3", endpoint_url=os.environ["LIFEBOAT_S3_ENDPOINT"])


def concurrently(function, arguments):
    with ThreadPoolExecutor(max_workers=max(len(arguments), 1)) as pool:
        return list(pool.map(function, arguments))


def floor_out(directories, prefix):
    def one(index):
        read, write = os.pipe()
        tar = subprocess.Popen(["tar", "-c", "-C", directories[index], "."], stdout=write)
        os.close(write)
        with os.fdopen(read, "rb") as stream:
            s3().upload_fileobj(stream, os.environ["LIFEBOAT_S3_BUCKET"], "%s/floor-%d.tar" % (prefix, index))
        if tar.wait() != 0:
            sys.exit("tar failed")
    started = time.monotonic()
    concurrently(one, list(range(len(directories))))
    return time.monotonic() - started


def floor_in(prefix, count, workdir):
    into = tempfile.mkdtemp(dir=workdir)

    def one(index):
        body = s3().get_object(Bucket=os.environ["LIFEBOAT_S3_BUCKET"], Key="%s/floor-%d.tar" % (prefix, index))["Body"]
        with tarfile.open(fileobj=body, mode="r|") as tar:
            tar.extractall(os.path.join(into, str(index)), filter="data")
    started = time.monotonic()
    concurrently(one, list(range(count)))
    elapsed = time.monotonic() - started
    shutil.rmtree(into)
    return elapsed


def restic_binary():
    """The restic the bed's mover image holds (build-mover.sh prints where; built already if the bed is up)."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "testbed", "build-mover.sh")
    proc = subprocess.run([script], capture_output=True, text=True, check=False)
    found = os.path.join(proc.stdout.strip().splitlines()[-1], "root", "usr", "bin", "restic") if proc.stdout else ""
    return found if os.path.isfile(found) else None


def restic_in(binary, count, prefix, workdir):
    """The same restic on the host restoring each repository restic_out made into an empty directory."""
    env = dict(os.environ, RESTIC_PASSWORD=PASSWORD)
    into = tempfile.mkdtemp(prefix="restic-in-", dir=workdir)

    def one(index):
        endpoint, bucket = os.environ["LIFEBOAT_S3_ENDPOINT"], os.environ["LIFEBOAT_S3_BUCKET"]
        argv = [binary, "-r", "s3:%s/%s/%s/restic-host-%d" % (endpoint, bucket, prefix, index), "restore", "latest",
                "--target", os.path.join(into, str(index))]
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.exit("restic restore failed: %s" % proc.stderr[-2000:])
    started = time.monotonic()
    concurrently(one, list(range(count)))
    elapsed = time.monotonic() - started
    shutil.rmtree(into)
    return elapsed


def restic_out(binary, directories, prefix):
    """The mover's own restic on the host: init and backup of each directory into a repository of its own."""
    env = dict(os.environ, RESTIC_PASSWORD=PASSWORD)

    def one(index):
        endpoint, bucket = os.environ["LIFEBOAT_S3_ENDPOINT"], os.environ["LIFEBOAT_S3_BUCKET"]
        repository = ["-r", "s3:%s/%s/%s/restic-host-%d" % (endpoint, bucket, prefix, index)]
        for argv in (["init"], ["backup", "--quiet", "--host", "bench", "."]):
            proc = subprocess.run([binary] + repository + argv, cwd=directories[index], env=env, capture_output=True,
                                  text=True, check=False)
            if proc.returncode != 0:
                sys.exit("restic %s failed: %s" % (argv[0], proc.stderr[-2000:]))
    started = time.monotonic()
    concurrently(one, list(range(len(directories))))
    return time.monotonic() - started


def velero_moves_data():
    """Whether the bed's Velero peer runs with its node-agent (`testbed velero` and `testbed velero-node-agent`)."""
    if not os.environ.get("LIFEBOAT_VELERO"):
        return False
    return subprocess.run(["kubectl", "-n", "velero", "get", "daemonset", "node-agent"], capture_output=True,
                          check=False).returncode == 0


def velero_moved(kind, label, value):
    """The bytes Velero's data mover said it moved (DataUploads or DataDownloads of one backup or restore),
    each of them Completed."""
    found = json.loads(kubectl("-n", "velero", "get", kind, "-l", "%s=%s" % (label, value), "-o", "json"))["items"]
    if not found or any(i.get("status", {}).get("phase") != "Completed" for i in found):
        sys.exit("velero's %s for %s: %s" % (kind, value, [i.get("status", {}).get("phase") for i in found]))
    return sum(i["status"].get("progress", {}).get("totalBytes", 0) for i in found)


def velero_forget(namespace):
    """The row's Velero backups and its kopia repository (one per namespace) removed: the next row needs the disk."""
    for name in kubectl("-n", "velero", "get", "backups", "-o", "name").split():
        if namespace in name:
            velero("backup", "delete", name.split("/", 1)[1], "--confirm")
    forget("%s/kopia/%s" % (os.environ.get("LIFEBOAT_VELERO_PREFIX", "velero"), namespace))


def mover(prefix):
    return {"storage": "s3://%s/%s" % (os.environ["LIFEBOAT_S3_BUCKET"], prefix),
            "endpoint_url": os.environ["LIFEBOAT_S3_ENDPOINT"], "pod_endpoint_url": os.environ["LIFEBOAT_S3_POD_ENDPOINT"],
            "access_key": os.environ["AWS_ACCESS_KEY_ID"], "secret_key": os.environ["AWS_SECRET_ACCESS_KEY"],
            "repository_password": PASSWORD, "image": os.environ["LIFEBOAT_DATA_MOVER_IMAGE"]}


def run_row(shape, volumes, total_bytes, percent, workdir, floors_first):
    stamp = "%d" % time.time()
    namespace = "lb-dm-%s-%d-%s" % (shape, volumes, stamp)
    target, prefix = namespace + "-in", "bench-dm-" + stamp
    volume_bytes = total_bytes // volumes
    directories, files = fill(namespace, volumes, shape, volume_bytes)
    mb = total_bytes / 1e6
    row = {"shape": shape, "volumes": volumes, "files_per_volume": files, "MB": round(mb, 1)}
    copy_args = {"name": "bench", "namespace": namespace, "pvc_selector": "", "volume_data": "copy",
                 "keep_snapshots": False, "data_mover": mover(prefix), "wait_timeout": 3600}

    def ours_out():
        elapsed, result = module("volume_snapshot", copy_args, workdir)
        row["records"] = result["snapshots"]
        copies = [r["data_copy"] for r in result["snapshots"]]
        row["job_MBps"] = round(mb / max(c["seconds"] for c in copies), 1)
        row["restic_in_job_MBps"] = round(mb / max(c["tool_seconds"] for c in copies), 1)
        return elapsed
    binary = restic_binary()
    with_velero = velero_moves_data()

    def velero_out():
        elapsed = velero("backup", "create", namespace, "--include-namespaces", namespace, "--snapshot-move-data",
                         "--wait")
        row["velero_moved_MB"] = round(velero_moved("datauploads", "velero.io/backup-name", namespace) / 1e6, 1)
        return elapsed
    floors = [("floor_out", lambda: floor_out(directories, prefix))]
    if binary:
        floors.append(("restic_host_out", lambda: restic_out(binary, directories, prefix)))
    steps = floors + [("ours_out", ours_out)] + ([("velero_out", velero_out)] if with_velero else [])
    for name, step in (steps if floors_first else steps[::-1]):
        row[name + "_MBps"] = round(mb / step(), 1)
    change(namespace, volumes, shape, volume_bytes, percent)
    elapsed, again = module("volume_snapshot", dict(copy_args, name="bench-again"), workdir)
    row["incremental_s"] = round(elapsed, 1)
    row["incremental_job_s"] = round(max(r["data_copy"]["seconds"] for r in again["snapshots"]), 1)
    row["incremental_restic_s"] = round(max(r["data_copy"]["tool_seconds"] for r in again["snapshots"]), 1)
    if with_velero:
        theirs = velero("backup", "create", namespace + "-again", "--include-namespaces", namespace,
                        "--snapshot-move-data", "--wait")
        row["velero_incremental_of_full"] = round(theirs / (mb / row["velero_out_MBps"]), 2)
    row["incremental_of_full"] = round(row["incremental_s"] / (mb / row["ours_out_MBps"]), 2)
    backup = {"name": "bench", "storage": "s3://%s/%s" % (os.environ["LIFEBOAT_S3_BUCKET"], prefix),
              "endpoint_url": os.environ["LIFEBOAT_S3_ENDPOINT"]}
    module("object_backup", dict(backup, namespaces=[namespace], volume_snapshots=row.pop("records")), workdir)

    def ours_in():
        elapsed, result = module("object_restore", dict(backup, namespace_mapping={namespace: target},
                                                        restore_volume_data="copy", data_mover=mover(prefix),
                                                        wait_timeout=3600), workdir)
        row["restore_job_MBps"] = round(mb / max(v["seconds"] for v in result["volumes"]), 1)
        return elapsed
    steps = [("floor_in", lambda: floor_in(prefix, volumes, workdir))]
    if binary:
        steps.append(("restic_host_in", lambda: restic_in(binary, volumes, prefix, workdir)))
    steps.append(("ours_in", ours_in))

    def velero_in():
        elapsed = velero("restore", "create", namespace, "--from-backup", namespace, "--namespace-mappings",
                         "%s:%s-v" % (namespace, namespace), "--wait")
        velero_moved("datadownloads", "velero.io/restore-name", namespace)
        return elapsed

    def ours_in_from_velero():
        """Velero's moved data restored by lifeboat: kopia in our Job, from Velero's repository."""
        storage = "s3://%s/%s" % (os.environ["LIFEBOAT_S3_BUCKET"], os.environ["LIFEBOAT_VELERO_PREFIX"])
        velero_backup = {"name": namespace, "storage": storage, "endpoint_url": os.environ["LIFEBOAT_S3_ENDPOINT"]}
        elapsed, result = module("object_restore", dict(
            velero_backup, namespace_mapping={namespace: namespace + "-k"}, wait_timeout=3600,
            data_mover={"repository_password": VELERO_PASSWORD, "image": os.environ["LIFEBOAT_DATA_MOVER_IMAGE"],
                        "pod_endpoint_url": os.environ["LIFEBOAT_S3_POD_ENDPOINT"]}), workdir)
        assert all(v["driver"] == "data_mover" for v in result["volumes"]), result["volumes"]
        return elapsed
    if with_velero:
        steps += [("velero_in", velero_in), ("ours_in_from_velero", ours_in_from_velero)]
    for name, step in (steps if floors_first else steps[::-1]):
        row[name + "_MBps"] = round(mb / step(), 1)
    row["out_of_floor"] = round(row["ours_out_MBps"] / row["floor_out_MBps"], 2)
    row["in_of_floor"] = round(row["ours_in_MBps"] / row["floor_in_MBps"], 2)
    if with_velero:
        row["velero_out_of_floor"] = round(row["velero_out_MBps"] / row["floor_out_MBps"], 2)
        row["velero_in_of_floor"] = round(row["velero_in_MBps"] / row["floor_in_MBps"], 2)
        row["ours_from_velero_of_velero_in"] = round(row["ours_in_from_velero_MBps"] / row["velero_in_MBps"], 2)
        kubectl("delete", "namespace", namespace + "-v", namespace + "-k", "--wait=true", "--timeout=600s")
        velero_forget(namespace)
    kubectl("delete", "namespace", namespace, target, "--wait=true", "--timeout=600s")
    forget(prefix)  # a 2 GB row leaves ~6 GB in the bucket: the next row needs the disk
    return row


def forget(prefix):
    client = s3()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=os.environ["LIFEBOAT_S3_BUCKET"],
                                                                 Prefix=prefix + "/"):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=os.environ["LIFEBOAT_S3_BUCKET"], Delete={"Objects": keys})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--shapes", nargs="+", default=sorted(FILE_BYTES), choices=sorted(FILE_BYTES))
    parser.add_argument("--megabytes", type=int, default=200, help="data per row (default 200)")
    parser.add_argument("--volumes", type=int, default=8, help="volumes of the concurrent row (1: that row only)")
    parser.add_argument("--change-percent", type=int, default=1, help="what the incremental copy finds changed")
    args = parser.parse_args()
    rows = [(shape, count) for shape in args.shapes for count in sorted({1, args.volumes})]
    with tempfile.TemporaryDirectory(prefix="lb-bench-dm-") as workdir:
        for i, (shape, count) in enumerate(rows):
            print(json.dumps(run_row(shape, count, args.megabytes * 10**6, args.change_percent, workdir,
                                     floors_first=i % 2 == 0)), flush=True)


if __name__ == "__main__":
    main()
