"""The test bed's storage path, end to end, against the running bed.

Run with the bed's environment (`eval "$(tests/testbed/testbed env)"`); `make test` does.
"""

import hashlib
import json
import os
import subprocess
import time
import uuid

import boto3
import pytest

pytestmark = pytest.mark.skipif("KUBECONFIG" not in os.environ or "LIFEBOAT_CSI_STATE_DIR" not in os.environ,
                                reason="needs the test bed: eval \"$(tests/testbed/testbed env)\"")


def kubectl(*args, stdin=None):
    res = subprocess.run(["kubectl"] + list(args), input=stdin, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


def get(kind, name, namespace):
    return json.loads(kubectl("get", kind, name, "-n", namespace, "-o", "json"))


def wait(predicate, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail("timed out waiting for " + what)


def pvc_dir(namespace, name):
    def bound():
        pvc = get("pvc", name, namespace)
        return pvc if pvc["status"].get("phase") == "Bound" else None

    pvc = wait(bound, "pvc %s to bind" % name)
    pv = json.loads(kubectl("get", "pv", pvc["spec"]["volumeName"], "-o", "json"))
    return os.path.join(os.environ["LIFEBOAT_CSI_STATE_DIR"], pv["spec"]["csi"]["volumeHandle"])


def test_pvc_snapshot_restore_and_namespace_deletion():
    ns = "tb-" + uuid.uuid4().hex[:8]
    kubectl("create", "namespace", ns)
    kubectl("apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "src", "namespace": ns},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Mi"}}}}))
    data = os.urandom(256 * 1024)
    with open(os.path.join(pvc_dir(ns, "src"), "payload.bin"), "wb") as f:
        f.write(data)

    kubectl("apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
        "metadata": {"name": "snap", "namespace": ns},
        "spec": {"source": {"persistentVolumeClaimName": "src"}}}))
    wait(lambda: get("volumesnapshot", "snap", ns).get("status", {}).get("readyToUse"), "snapshot to be ready")

    kubectl("apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "copy", "namespace": ns},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Mi"}},
                 "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"}}}))
    with open(os.path.join(pvc_dir(ns, "copy"), "payload.bin"), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == hashlib.sha256(data).hexdigest()

    kubectl("delete", "namespace", ns, "--wait=false")
    wait(lambda: ns not in kubectl("get", "namespaces", "-o", "name"), "namespace deletion (finalizers)", 120)


def test_s3_put_and_get():
    s3 = boto3.client("s3", endpoint_url=os.environ["LIFEBOAT_S3_ENDPOINT"])
    key = "testbed/%s" % uuid.uuid4().hex
    body = os.urandom(1024 * 1024)
    s3.put_object(Bucket=os.environ["LIFEBOAT_S3_BUCKET"], Key=key, Body=body)
    assert s3.get_object(Bucket=os.environ["LIFEBOAT_S3_BUCKET"], Key=key)["Body"].read() == body
    s3.delete_object(Bucket=os.environ["LIFEBOAT_S3_BUCKET"], Key=key)


def test_ec2_volume_snapshot_and_restore():
    ec2 = boto3.client("ec2", endpoint_url=os.environ["LIFEBOAT_EC2_ENDPOINT"], region_name="us-east-1",
                       aws_access_key_id=os.environ["LIFEBOAT_EC2_ACCESS_KEY_ID"],
                       aws_secret_access_key=os.environ["LIFEBOAT_EC2_SECRET_ACCESS_KEY"])
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)
    snapshot = ec2.create_snapshot(VolumeId=volume["VolumeId"], Description="testbed")
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snapshot["SnapshotId"]])
    restored = ec2.create_volume(AvailabilityZone="us-east-1b", SnapshotId=snapshot["SnapshotId"])
    assert ec2.describe_volumes(VolumeIds=[restored["VolumeId"]])["Volumes"][0]["SnapshotId"] == snapshot["SnapshotId"]
