"""The bed's node: pods run with the bed's images, mount CSI volumes (read-only when asked), and the
apiserver reaches the kubelet for exec and logs with its own client certificate. Also: the host
checks of `testbed down` (node.py) and of the independent oracle (hoststate.py) can fail."""

import json
import os
import subprocess
import sys
import uuid

import pytest

from helpers import NEEDS_BED, kubectl, kubectl_json

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "testbed"))

import hoststate  # noqa: E402
import node  # noqa: E402

pytestmark = NEEDS_BED
BUSYBOX = "docker.io/library/busybox:1.36"


def pod(name, pvc, read_only, command):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "main", "image": BUSYBOX, "command": ["sh", "-c", command],
                        "volumeMounts": [{"name": "v", "mountPath": "/v", "readOnly": read_only}]}],
        "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": pvc, "readOnly": read_only}}]}}


def test_pods_mount_csi_volumes_and_exec_and_logs_reach_the_kubelet():
    ns = "node-" + uuid.uuid4().hex[:6]
    kubectl("create", "namespace", ns)
    try:
        kubectl("apply", "-n", ns, "-f", "-", stdin=json.dumps({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Mi"}}}}))
        writer = pod("writer", "data", False, "echo written-in-a-pod > /v/f && sleep 3600")
        kubectl("apply", "-n", ns, "-f", "-", stdin=json.dumps(writer))
        kubectl("wait", "-n", ns, "pod/writer", "--for=condition=Ready", "--timeout=60s")
        # exec and logs go apiserver -> kubelet, authenticated by the apiserver's kubelet client certificate.
        assert kubectl("exec", "-n", ns, "writer", "--", "cat", "/v/f").strip() == "written-in-a-pod"
        kubectl("delete", "-n", ns, "pod/writer", "--wait=true")

        kubectl("apply", "-n", ns, "-f", "-", stdin=json.dumps(pod(
            "reader", "data", True, "cat /v/f; if touch /v/g 2>/dev/null; then echo WRITABLE; else echo READ-ONLY; fi")))
        kubectl("wait", "-n", ns, "pod/reader", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=60s")
        assert kubectl("logs", "-n", ns, "reader").split() == ["written-in-a-pod", "READ-ONLY"]
        # The node runs pods on the bed's private bridge range, nowhere else.
        ip = kubectl_json("get", "pod", "reader", "-n", ns)["status"]["podIP"]
        assert ip.startswith(node.POD_CIDR.rsplit(".", 1)[0] + ".")
    finally:
        kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_an_image_the_node_lacks_is_reported_with_the_kubelets_reason():
    ns = "node-" + uuid.uuid4().hex[:6]
    kubectl("create", "namespace", ns)
    try:
        spec = pod("missing", "none", False, "true")
        spec["spec"]["volumes"], spec["spec"]["containers"][0]["volumeMounts"] = [], []
        spec["spec"]["containers"][0].update(image="lifeboat.local/missing:1", imagePullPolicy="Never")
        kubectl("apply", "-n", ns, "-f", "-", stdin=json.dumps(spec))
        kubectl("wait", "-n", ns, "pod/missing", "--timeout=60s",
                "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=ErrImageNeverPull")
    finally:
        kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_the_host_checks_see_a_leftover_interface_and_a_changed_sysctl():
    """Both checks of `down` must be able to fail: an interface made after the record is named by
    both, and a recorded sysctl value that differs from the host's is named by node.leftovers."""
    name = "lbchk" + uuid.uuid4().hex[:4]
    before_oracle = hoststate.snapshot()
    before_node = node.host_record()
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)  # this kernel has no dummy driver
    try:
        assert "links: %s appeared" % name in hoststate.differences(before_oracle, hoststate.snapshot())
        assert "interface %s still present" % name in node.leftovers(before_node, "/nonexistent", None)
    finally:
        subprocess.run(["ip", "link", "delete", name], check=True)
    assert not [d for d in hoststate.differences(before_oracle, hoststate.snapshot()) if name in d]
    tampered = dict(before_node, sysctls=dict(before_node["sysctls"], **{"net/ipv4/ip_forward": "7"}))
    assert any(line.startswith("sysctl net/ipv4/ip_forward is ") and line.endswith("was 7")
               for line in node.leftovers(tampered, "/nonexistent", None))


@pytest.mark.parametrize("key", sorted(node.KUBELET_SYSCTLS))
def test_kubelet_left_the_hosts_kernel_tunables_alone(key):
    """kubelet wants these values; the host keeps its own (node.py shows kubelet its private copies)."""
    with open(os.path.join(os.environ["LIFEBOAT_TESTBED_DIR"], "node", "host-before.json")) as f:
        before = json.load(f)["sysctls"]
    with open("/proc/sys/" + key) as f:
        assert f.read().strip() == before[key]


@pytest.mark.skipif("LIFEBOAT_DR_KUBECONFIG" not in os.environ, reason="needs the bed's second cluster")
def test_the_dr_clusters_node_keeps_apart_from_the_primarys():
    """Two nodes on one host: the DR node's pods get its own range and live under its own cgroup parent (two
    kubelets cleaning one /kubepods would remove each other's pods), its CSI driver is another one."""
    def dr(*args):
        res = subprocess.run(["kubectl", "--kubeconfig", os.environ["LIFEBOAT_DR_KUBECONFIG"]] + list(args),
                             capture_output=True, text=True, timeout=120, check=False)
        assert res.returncode == 0, res.stderr
        return res.stdout
    ns = "node-dr-" + uuid.uuid4().hex[:6]
    dr("create", "namespace", ns)
    try:
        spec = pod("dr", "data", False, "cat /proc/self/cgroup; sleep 3600")
        claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                 "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Mi"}}}}
        subprocess.run(["kubectl", "--kubeconfig", os.environ["LIFEBOAT_DR_KUBECONFIG"], "apply", "-n", ns, "-f", "-"],
                       input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [claim, spec]}), text=True,
                       capture_output=True, check=True)
        dr("wait", "-n", ns, "pod/dr", "--for=condition=Ready", "--timeout=90s")
        status = json.loads(dr("get", "pod", "dr", "-n", ns, "-o", "json"))["status"]
        assert status["podIP"].startswith(node.DR.pod_cidr.rsplit(".", 1)[0] + ".")
        assert node.DR.pod_cgroup in dr("logs", "-n", ns, "dr")
        pvc = json.loads(dr("get", "pvc", "data", "-n", ns, "-o", "json"))
        assert pvc["spec"]["storageClassName"] == os.environ["LIFEBOAT_DR_STORAGE_CLASS"]
        assert json.loads(dr("get", "pv", pvc["spec"]["volumeName"], "-o", "json"))["spec"]["csi"]["driver"] == \
            os.environ["LIFEBOAT_DR_CSI_DRIVER"]
        assert json.loads(dr("version", "-o", "json"))["serverVersion"]["minor"] == "37"
    finally:
        dr("delete", "namespace", ns, "--wait=false")
