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


def cluster_of(kubeconfig):
    with open(kubeconfig) as f:
        entry = json.load(f)["clusters"][0]["cluster"]
    return entry["server"], entry["certificate-authority"]


@pytest.mark.parametrize("variable", ["KUBECONFIG", "LIFEBOAT_DR_KUBECONFIG"])
def test_each_clusters_ca_is_made_as_kubeadm_makes_it_and_strict_verification_accepts_it(variable):
    """Real clusters' CAs carry critical basicConstraints and keyUsage; Python 3.13 refuses a CA without them
    (VERIFY_X509_STRICT), so the bed's must carry them too, or the strict path would go untested."""
    if variable not in os.environ:
        pytest.skip("no %s" % variable)
    server, ca = cluster_of(os.environ[variable])
    text = subprocess.run(["openssl", "x509", "-in", ca, "-noout", "-text"], capture_output=True, text=True,
                          check=True).stdout
    assert "X509v3 Basic Constraints: critical\n                CA:TRUE" in text, text
    assert "X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment, Certificate Sign" in text
    assert "X509v3 Subject Key Identifier" in text
    python = subprocess.run([os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "hack", "python.sh"),
                             "3.13"], capture_output=True, text=True, check=False).stdout.strip()
    if not python:
        pytest.skip("no Python 3.13 here (hack/python.sh)")
    host, port = server.rsplit("//", 1)[1].rsplit(":", 1)
    handshake = ("import ssl, socket\n"
                 "context = ssl.create_default_context(cafile=%r)\n"
                 "assert context.verify_flags & ssl.VERIFY_X509_STRICT\n"
                 "with socket.create_connection((%r, %s)) as s:\n"
                 "    with context.wrap_socket(s, server_hostname=%r) as t:\n"
                 "        print(t.version())\n" % (ca, host, port, host))
    res = subprocess.run([python, "-c", handshake], capture_output=True, text=True, timeout=30, check=False)
    assert res.returncode == 0 and res.stdout.startswith("TLS"), res.stderr[-1000:]


def test_no_bed_process_takes_its_cluster_from_the_callers_kubeconfig():
    """client-go's sidecars prefer $KUBECONFIG to their --kubeconfig: a bed started from a shell pointed at the primary
    cluster once had the DR cluster's provisioner watching the primary's claims. The bed's processes never inherit
    it, and a claim in the DR cluster binds."""
    pids = os.path.join(os.environ["LIFEBOAT_TESTBED_DIR"], "pids")
    checked = 0
    for name in sorted(os.listdir(pids)):
        with open(os.path.join(pids, name)) as f:
            pid = json.load(f)["pid"]
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                environ = f.read().split(b"\0")
        except FileNotFoundError:
            continue
        assert not [v for v in environ if v.startswith(b"KUBECONFIG=")], "%s inherited KUBECONFIG" % name
        checked += 1
    assert checked >= 10
    dr = dict(os.environ, KUBECONFIG=os.environ["LIFEBOAT_DR_KUBECONFIG"])
    namespace = "bed-dr-" + uuid.uuid4().hex[:6]

    def dr_kubectl(*args, stdin=None):
        res = subprocess.run(["kubectl"] + list(args), input=stdin, capture_output=True, text=True, timeout=120,
                             env=dr, check=False)
        assert res.returncode == 0, res.stderr
        return res.stdout
    dr_kubectl("create", "namespace", namespace)
    try:
        dr_kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "claim"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}}))
        wait(lambda: json.loads(dr_kubectl("get", "pvc", "claim", "-n", namespace, "-o", "json"))["status"].get(
            "phase") == "Bound", "a claim in the DR cluster to bind")
    finally:
        dr_kubectl("delete", "namespace", namespace, "--wait=false")
