"""Disaster recovery into another cluster: the bed's second cluster `dr` (its own control plane one minor newer, its
own node, other storage: CSI driver hostpath-dr.csi.k8s.io and StorageClass `standard`; the same S3 server).

An application on the primary (a StatefulSet with two claims, a Deployment with a filled volume, an empty claim, a
custom resource of its own CRD, a Secret, a ConfigMap, a headless Service) is backed up with its volumes' files
copied to S3; the primary is stopped (`testbed stop-cluster primary`: its apiserver unreachable), and the backup is
restored into `dr` from the bucket alone.

Oracles: the files themselves (SHA-256 of every file, read in the pods of each cluster with kubectl exec), the
objects read back with kubectl from each cluster, and the primary after it is started again.
"""

import json
import os
import socket
import subprocess
import time

import pytest

from helpers import NEEDS_BED, create_namespace_with, kubectl, kubectl_json, run_module, unique, wait_for

pytestmark = [NEEDS_BED, pytest.mark.skipif("LIFEBOAT_DR_KUBECONFIG" not in os.environ,
                                            reason="needs the bed's second cluster (testbed up starts it)")]
TESTBED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "testbed", "testbed")
IMAGE = "docker.io/library/busybox:1.36"
PASSWORD = "dr site password 7c1e"
GROUP = unique("drills") + ".lifeboat.test"  # cluster-scoped: a group of this run's own
FILL = """set -e
for d in 1 2 3; do mkdir -p /data/d$d; for f in $(seq 1 20); do head -c 3000 /dev/urandom > /data/d$d/f$f; done; done
ln -sf d1/f1 /data/link; echo %s > /data/who
"""
SUMS = "cd /data && find . -type f -exec sha256sum {} + | sort"
MAPPING = {"csi-hostpath": "standard"}


def dr_kubectl(*args, check=True):
    res = subprocess.run(["kubectl", "--kubeconfig", os.environ["LIFEBOAT_DR_KUBECONFIG"]] + list(args),
                         capture_output=True, text=True, timeout=300, check=False)
    if check:
        assert res.returncode == 0, res.stderr
    return res.stdout


def dr_json(*args):
    return json.loads(dr_kubectl(*(list(args) + ["-o", "json"])))


def bed(*args):
    res = subprocess.run([TESTBED] + list(args), capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr[-3000:]


def crd():
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets." + GROUP},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                         "type": "object", "properties": {"spec": {"type": "object",
                                                                   "x-kubernetes-preserve-unknown-fields": True}}}}}]}}


def container(name, mounts):
    return {"name": name, "image": IMAGE, "imagePullPolicy": "Never", "command": ["sleep", "3600"],
            "volumeMounts": [{"name": m, "mountPath": "/data"} for m in mounts]}


def app():
    claim = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    return [
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "files"},
         "spec": dict(claim, storageClassName="csi-hostpath")},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "scratch"},
         "spec": dict(claim, storageClassName="csi-hostpath")},  # provisioned, never written: empty
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "files"}},
                  "template": {"metadata": {"labels": {"app": "files"}}, "spec": {
                      "terminationGracePeriodSeconds": 1, "containers": [container("app", ["files"])],
                      "volumes": [{"name": "files", "persistentVolumeClaim": {"claimName": "files"}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
         "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
         "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                  "template": {"metadata": {"labels": {"app": "db"}}, "spec": {
                      "terminationGracePeriodSeconds": 1, "containers": [container("db", ["data"])]}},
                  "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                            "spec": dict(claim, storageClassName="csi-hostpath")}]}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-password"},
         "stringData": {"password": "s3cr3t-of-the-primary"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "primary"}},
        {"apiVersion": GROUP + "/v1", "kind": "Widget", "metadata": {"name": "blue"}, "spec": {"size": 3}},
    ]


def ready_pod(run, namespace, selector):
    for pod in json.loads(run("get", "pods", "-n", namespace, "-l", selector, "-o", "json"))["items"]:
        if not pod["metadata"].get("deletionTimestamp") and any(
                c.get("ready") for c in (pod.get("status") or {}).get("containerStatuses") or []):
            return pod["metadata"]["name"]
    return None


def sums(run, namespace):
    """SHA-256 of every file of each volume, read in the pods that mount them."""
    found = {}
    for selector, count in (("app=files", 1), ("app=db", 2)):
        wait_for(lambda: len([p for p in json.loads(run("get", "pods", "-n", namespace, "-l", selector, "-o",
                                                        "json"))["items"]
                              if any(c.get("ready") for c in (p.get("status") or {}).get("containerStatuses") or [])])
                 == count, timeout=240, interval=1, what="%s pods in %s" % (selector, namespace))
        for pod in json.loads(run("get", "pods", "-n", namespace, "-l", selector, "-o", "json"))["items"]:
            found[pod["metadata"]["name"].rsplit("-", 2)[0] if selector == "app=files" else pod["metadata"]["name"]] = \
                wait_for(lambda p=pod: _exec(run, namespace, p["metadata"]["name"]), timeout=120, interval=1,
                         what="exec in %s/%s" % (namespace, pod["metadata"]["name"]))
    return found


def _exec(run, namespace, pod):
    """The sums, or None while the pod's kubelet does not know it yet (a kubelet just started again says "pod does
    not exist" for pods the apiserver still shows ready)."""
    try:
        return run("exec", "-n", namespace, pod, "--", "sh", "-c", SUMS)
    except AssertionError as e:
        if "pod does not exist" in str(e) or "container not found" in str(e):
            return None
        raise


def s3(prefix):
    return {"storage": "s3://%s/%s" % (os.environ["LIFEBOAT_S3_BUCKET"], prefix),
            "endpoint_url": os.environ["LIFEBOAT_S3_ENDPOINT"], "access_key": os.environ["AWS_ACCESS_KEY_ID"],
            "secret_key": os.environ["AWS_SECRET_ACCESS_KEY"], "region": os.environ["AWS_DEFAULT_REGION"]}


def mover(prefix, pod_endpoint):
    return dict(s3(prefix), pod_endpoint_url=pod_endpoint, repository_password=PASSWORD,
                image=os.environ["LIFEBOAT_DATA_MOVER_IMAGE"])


@pytest.fixture(scope="module")
def backed_up():
    """The app on the primary, its volumes filled, snapshotted with their files copied, backed up to S3."""
    namespace, prefix = unique("dr-app"), unique("dr-store")
    kubectl("apply", "-f", "-", stdin=json.dumps(crd()))
    kubectl("wait", "--for", "condition=established", "crd/widgets." + GROUP, "--timeout=60s")
    create_namespace_with(namespace, app())

    def run(*args):
        return kubectl(*args)
    for selector, count in (("app=files", 1), ("app=db", 2)):
        wait_for(lambda: len(kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "name").split()) == count
                 and ready_pod(run, namespace, selector), timeout=180, interval=0.5, what=selector)
    for pod in kubectl("get", "pods", "-n", namespace, "-o", "name").split():
        kubectl("wait", "-n", namespace, pod, "--for=condition=Ready", "--timeout=120s")
        kubectl("exec", "-n", namespace, pod, "--", "sh", "-c", FILL % pod.split("/")[1])
    source_sums = sums(run, namespace)
    snaps = run_module("volume_snapshot", {
        "name": "dr", "namespace": namespace, "pvc_selector": "", "volume_data": "copy", "keep_snapshots": True,
        "data_mover": mover(prefix, os.environ["LIFEBOAT_S3_POD_ENDPOINT"]), "hook_annotations": False})
    assert not snaps.get("failed"), snaps.get("msg")
    assert sorted(s["source"]["pvc"] for s in snaps["snapshots"]) == ["data-db-0", "data-db-1", "files", "scratch"]
    empty = [s for s in snaps["snapshots"] if s["source"]["pvc"] == "scratch"][0]
    assert empty["data_copy"]["empty"] is True and empty["data_copy"]["files"] == 0
    backup = run_module("object_backup", dict(s3(prefix), name="dr-" + namespace, namespaces=[namespace],
                                              volume_snapshots=snaps["snapshots"]))
    assert backup.get("backup", {}).get("phase") == "Completed", backup.get("msg")
    yield {"namespace": namespace, "prefix": prefix, "backup": "dr-" + namespace, "sums": source_sums,
           "secret": kubectl_json("get", "secret", "-n", namespace, "db-password")["data"],
           "widget": kubectl_json("get", "widgets." + GROUP, "-n", namespace, "blue")["spec"]}
    subprocess.run([TESTBED, "start-cluster", "primary"], capture_output=True, timeout=300, check=False)
    kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false")
    dr_kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false", check=False)
    for run in (kubectl, dr_kubectl):
        run("delete", "crd", "widgets." + GROUP, "--ignore-not-found", "--wait=false", check=False)


@pytest.fixture
def primary_stopped():
    bed("stop-cluster", "primary")
    try:
        yield
    finally:
        bed("start-cluster", "primary")


def restore_args(backed_up, **extra):
    args = dict(s3(backed_up["prefix"]), name=backed_up["backup"], kubeconfig=os.environ["LIFEBOAT_DR_KUBECONFIG"],
                storage_class_mapping=MAPPING, wait_timeout=300,
                data_mover=mover(backed_up["prefix"], os.environ["LIFEBOAT_DR_S3_POD_ENDPOINT"]))
    args.update(extra)
    return args


def test_bad_input_is_refused_before_anything_changes_in_the_dr_cluster(backed_up, tmp_path):
    namespace = backed_up["namespace"]
    with open(os.environ["LIFEBOAT_DR_KUBECONFIG"]) as f:
        config = json.load(f)  # the bed writes kubeconfigs as JSON
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:%d" % s.getsockname()[1]
    (tmp_path / "nowhere").write_text(json.dumps(config))
    nowhere = run_module("object_restore", restore_args(backed_up, kubeconfig=str(tmp_path / "nowhere")))
    assert nowhere.get("failed") and nowhere["msg"].startswith(
        "kubeconfig, context or host: the target cluster at https://127.0.0.1:"), nowhere
    missing = run_module("object_restore", restore_args(backed_up, storage_class_mapping={"csi-hostpath": "gold"}))
    assert missing.get("failed") and missing["msg"].startswith(
        "storage_class_mapping: StorageClass gold does not exist in the target cluster (it has: standard)"), missing
    unmapped = run_module("object_restore", restore_args(backed_up, storage_class_mapping={}))
    assert unmapped.get("failed") and "PVC %s/files uses StorageClass csi-hostpath" % namespace in unmapped["msg"]
    assert "StatefulSet %s/db volumeClaimTemplate data" % namespace in unmapped["msg"]
    assert "it has: standard" in unmapped["msg"]
    assert dr_kubectl("get", "namespace", namespace, "--ignore-not-found", "-o", "name") == ""
    assert dr_kubectl("get", "crd", "widgets." + GROUP, "--ignore-not-found", "-o", "name") == ""


def test_the_app_comes_back_in_the_dr_cluster_with_the_primary_stopped(backed_up, primary_stopped):
    namespace = backed_up["namespace"]
    assert subprocess.run(["kubectl", "get", "ns", "--request-timeout=3s"], capture_output=True,
                          check=False).returncode != 0, "the primary must be unreachable"
    planned = run_module("object_restore", restore_args(backed_up), check=True)
    assert planned.get("changed") and not planned.get("failed"), planned.get("msg")
    assert dr_kubectl("get", "namespace", namespace, "--ignore-not-found", "-o", "name") == "", "check mode created"
    t0 = time.monotonic()
    restored = run_module("object_restore", restore_args(backed_up))
    seconds = time.monotonic() - t0
    assert restored.get("phase") == "Completed", restored.get("msg")
    volumes = dict((v["pvc"], v) for v in restored["volumes"])
    assert sorted(volumes) == ["data-db-0", "data-db-1", "files", "scratch"]
    assert all(v["storage_class"] == "standard" for v in volumes.values()), volumes
    assert any("comes back from its data copy" in w and "hostpath.csi.k8s.io is not installed" in w
               for w in restored["warnings"]), restored["warnings"]
    again = run_module("object_restore", restore_args(backed_up))
    assert again.get("changed") is False and again.get("phase") == "Completed", again.get("msg")

    def run(*args):
        return dr_kubectl(*args)
    assert sums(run, namespace) == backed_up["sums"]
    assert dr_json("get", "secret", "-n", namespace, "db-password")["data"] == backed_up["secret"]
    assert dr_json("get", "widgets." + GROUP, "-n", namespace, "blue")["spec"] == backed_up["widget"]
    claims = dict((c["metadata"]["name"], c) for c in dr_json("get", "pvc", "-n", namespace)["items"])
    assert all(c["spec"]["storageClassName"] == "standard" and c["status"]["phase"] == "Bound" for c in claims.values())
    template = dr_json("get", "statefulset", "-n", namespace, "db")["spec"]["volumeClaimTemplates"][0]
    assert template["spec"]["storageClassName"] == "standard"
    assert dr_kubectl("get", "storageclass", "csi-hostpath", "--ignore-not-found", "-o", "name") == "", \
        "the mapped-away class is not restored"
    assert dr_json("get", "service", "-n", namespace, "db")["spec"]["clusterIP"] == "None"
    print("restore into dr with the primary stopped: %.1f s" % seconds)


def test_the_primary_comes_back_untouched(backed_up):
    namespace = backed_up["namespace"]

    def run(*args):
        return kubectl(*args)
    assert sums(run, namespace) == backed_up["sums"]
    assert kubectl_json("get", "configmap", "-n", namespace, "settings")["data"] == {"mode": "primary"}
    assert "lifeboat.k8s/restored-from-backup" not in (
        kubectl_json("get", "namespace", namespace)["metadata"].get("labels") or {})


def test_a_cluster_without_snapshot_crds_gets_objects_and_volumes_from_their_copies(backed_up):
    """Many fresh clusters have no snapshot CRDs. The DR cluster's are deleted for this case and put back after."""
    namespace, target = backed_up["namespace"], backed_up["namespace"] + "-nocrd"
    crds = ["volumesnapshots.snapshot.storage.k8s.io", "volumesnapshotcontents.snapshot.storage.k8s.io",
            "volumesnapshotclasses.snapshot.storage.k8s.io"]
    saved = [dict((k, v) for k, v in c.items() if k != "status") for c in
             [dr_json("get", "crd", name) for name in crds]]
    for c in saved:
        for field in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"):
            c["metadata"].pop(field, None)
    dr_kubectl("delete", "crd", *crds)
    try:
        wait_for(lambda: subprocess.run(["kubectl", "--kubeconfig", os.environ["LIFEBOAT_DR_KUBECONFIG"], "get",
                                         "--raw", "/apis/snapshot.storage.k8s.io/v1"], capture_output=True,
                                        check=False).returncode != 0, timeout=60, interval=0.5,
                 what="the snapshot API to go")
        plain = run_module("object_restore", restore_args(backed_up, namespace_mapping={namespace: target + "-empty"},
                                                          restore_volumes=False, data_mover=None))
        assert plain.get("phase") == "Completed", plain.get("msg")
        assert plain["volumes"] == []
        restored = run_module("object_restore", restore_args(backed_up, namespace_mapping={namespace: target}))
        assert restored.get("phase") == "Completed", restored.get("msg")
        assert any("does not serve snapshot.storage.k8s.io/v1" in w for w in restored["warnings"])

        def run(*args):
            return dr_kubectl(*args)
        assert sums(run, target) == backed_up["sums"]
    finally:
        subprocess.run(["kubectl", "--kubeconfig", os.environ["LIFEBOAT_DR_KUBECONFIG"], "apply", "-f", "-"],
                       input=json.dumps({"apiVersion": "v1", "kind": "List", "items": saved}), text=True,
                       capture_output=True, check=False)
        dr_kubectl("delete", "namespace", target, target + "-empty", "--ignore-not-found", "--wait=false", check=False)
