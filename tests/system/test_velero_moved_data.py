"""What Velero copied of a namespace's volumes into the bucket, restored by lifeboat into the other cluster.

Velero v1.18 (`testbed velero` and its node-agent, `testbed velero-node-agent`) backs up a namespace on the
primary with `--snapshot-move-data` (the data mover: CSI snapshot, then kopia into its repository) for one PVC,
and its file-system backup (the kopia uploader, opted in by the pod's annotation) for the other. lifeboat restores
the backup into the DR cluster, whose storage is other (another CSI driver and class): the volumes can only come
back from Velero's kopia repository, through the data mover's Jobs with kopia, with Velero's repository password.

Oracles: the files (SHA-256 of every file, modes of a symlink and a file, an empty directory, read by `kubectl
exec` in the pods of each cluster), the DR cluster (nothing there after a check-mode run or a refused task; no Job
or Secret left), and the module's second run.
"""

import os

import pytest

from helpers import NEEDS_BED, create_namespace_with, delete_namespaces, kubectl, run_module, unique, wait_for
from test_data_mover import FILL, SUMS
from test_dr import MAPPING, dr_kubectl, ready_pod
from test_velero import store, velero, velero_phase

pytestmark = [NEEDS_BED, pytest.mark.skipif(
    "LIFEBOAT_VELERO" not in os.environ or "LIFEBOAT_DR_KUBECONFIG" not in os.environ,
    reason="needs the bed's Velero peer with its node-agent and the bed's second cluster")]
VELERO_PASSWORD = "static-passw0rd"  # Velero's default repository password (Secret velero/velero-repo-credentials)
IMAGE = "docker.io/library/busybox:1.36"
LOGS = "mkdir -p /logs/2026 && for i in 1 2 3; do head -c 40000 /dev/urandom > /logs/2026/day$i; done"
LOG_SUMS = "cd /logs && find . -type f -exec sha256sum {} + | sort"


def app():
    claim = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
             "storageClassName": "csi-hostpath"}
    container = {"name": "app", "image": IMAGE, "imagePullPolicy": "Never", "command": ["sleep", "3600"],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "logs", "mountPath": "/logs"}]}
    pod = {"terminationGracePeriodSeconds": 1, "containers": [container],
           "volumes": [{"name": n, "persistentVolumeClaim": {"claimName": n}} for n in ("data", "logs")]}
    # Velero's opt-in: this volume by its file-system backup.
    template = {"metadata": {"labels": {"app": "files"}, "annotations": {"backup.velero.io/backup-volumes": "logs"}},
                "spec": pod}
    return [
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"}, "spec": claim},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "logs"}, "spec": claim},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "files"}}, "template": template}},
    ]


def in_pod(run, namespace, script):
    pod = wait_for(lambda: ready_pod(run, namespace, "app=files"), timeout=240, interval=1,
                   what="the app's pod in %s" % namespace)
    return run("exec", "-n", namespace, pod, "--", "sh", "-c", script)


def primary(*args):
    return kubectl(*args)


def dr_namespace_objects(namespace):
    return dr_kubectl("get", "namespace", namespace, "--ignore-not-found", "-o", "name").strip()


@pytest.fixture(scope="module")
def moved():
    """The namespace on the primary, filled, and Velero's backup of it (data mover + file-system backup)."""
    namespace, name = unique("velero-moved"), unique("moved")
    create_namespace_with(namespace, app())
    in_pod(primary, namespace, FILL % {"dirs": 4, "files": 25, "size": 8000} + LOGS)
    sums = (in_pod(primary, namespace, SUMS), in_pod(primary, namespace, LOG_SUMS))
    velero("backup", "create", name, "--include-namespaces", namespace, "--snapshot-move-data", "--wait")
    assert velero_phase("backups", name) == "Completed", velero("backup", "describe", name, "--details")
    yield {"namespace": namespace, "backup": name, "sums": sums}
    dr_kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false")
    delete_namespaces(namespace)
    velero("backup", "delete", name, "--confirm", check=False)


def restore_args(moved, **mover):
    data_mover = {"repository_password": VELERO_PASSWORD, "pod_endpoint_url": os.environ["LIFEBOAT_DR_S3_POD_ENDPOINT"],
                  "image": os.environ["LIFEBOAT_DATA_MOVER_IMAGE"]}
    data_mover.update(mover)
    return dict(store(), name=moved["backup"], kubeconfig=os.environ["LIFEBOAT_DR_KUBECONFIG"],
                storage_class_mapping=MAPPING, wait_timeout=300, data_mover=data_mover)


def test_veleros_moved_data_and_file_system_backup_come_back_in_the_other_cluster(moved):
    namespace = moved["namespace"]
    checked = run_module("object_restore", restore_args(moved), check=True)
    assert not checked.get("failed") and checked["changed"], checked
    assert not dr_namespace_objects(namespace)

    restored = run_module("object_restore", restore_args(moved))
    assert not restored.get("failed"), restored.get("msg")
    volumes = dict((v["pvc"], v) for v in restored["volumes"])
    assert sorted(volumes) == ["data", "logs"], restored["volumes"]
    assert all((v["driver"], v["outcome"]) == ("data_mover", "created") for v in volumes.values()), volumes
    assert volumes["data"]["copied_files"] == 4 * 25 + 1 and volumes["logs"]["copied_files"] == 3
    assert (in_pod(dr_kubectl, namespace, SUMS), in_pod(dr_kubectl, namespace, LOG_SUMS)) == moved["sums"]
    assert not [n for n in dr_kubectl("get", "jobs,secrets", "-n", namespace, "-o", "name").split()
                if n.split("/", 1)[1].startswith("lb-")]

    again = run_module("object_restore", restore_args(moved))
    assert again["changed"] is False and all(v["outcome"] == "unchanged" for v in again["volumes"]), again


def test_a_wrong_velero_repository_password_is_named_and_kopia_makes_no_copies(moved):
    target = unique("moved-pw")
    failed = run_module("object_restore", dict(restore_args(moved, repository_password="not Velero's"),
                                               namespace_mapping={moved["namespace"]: target}))
    assert failed.get("failed") and "data_mover.repository_password: kopia cannot open the repository with this " \
                                    "password" in failed["msg"], failed.get("msg")
    try:
        assert not [n for n in dr_kubectl("get", "jobs,secrets", "-n", target, "-o", "name").split()
                    if n.split("/", 1)[1].startswith("lb-")]
        refused = run_module("volume_snapshot", {
            "name": "nightly", "namespace": moved["namespace"], "pvc": "data", "volume_data": "copy",
            "data_mover": dict(restore_args(moved)["data_mover"], tool="kopia",
                               storage=store()["storage"])})
        assert refused.get("failed") and refused["msg"].startswith("data_mover.tool: kopia only restores copies"), refused
        assert "nightly" not in primary("get", "volumesnapshots", "-n", moved["namespace"], "-o", "name")
    finally:
        dr_kubectl("delete", "namespace", target, "--ignore-not-found", "--wait=false")
