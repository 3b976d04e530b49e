"""Confinement of restores: entries that disagree with the manifest, the cluster-scoped allow-list,
protected namespaces and snapshot records (pure logic; the system suite forges whole backups)."""

from types import SimpleNamespace

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.format.archive import ArchiveError
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.confine import DEFAULT_CLUSTER_RESOURCES, Confinement
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError

MANIFEST = {"name": "b", "namespaces": ["shop"]}


def cm(name="c", namespace="shop"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}}


def confine(manifest, params, mapping):
    """A Confinement as the restore makes one: the manifest's fields, cluster_resources and namespaces."""
    return Confinement(SimpleNamespace(**dict({"written_by": "lifeboat.k8s"}, **manifest)),
                       params.get("cluster_resources", DEFAULT_CLUSTER_RESOURCES),
                       params.get("namespaces"), mapping)


@pytest.mark.parametrize("res_dir, path_ns, path_name, obj, problem", [
    ("configmaps", "shop", "c", cm(namespace="kube-system"), "does not match the archive path"),
    ("configmaps", "other", "c", cm(namespace="other"), "not one of the backup's namespaces"),
    ("configmaps", "shop", "d", cm(), "does not match the file name"),
    ("configmaps", None, "c", cm(), "a cluster-scoped entry says metadata.namespace"),
    ("deployments.apps", "shop", "c", cm(), "apiVersion v1 does not belong to deployments.apps"),
    ("configmaps", "shop", "c", {"metadata": "x"}, "not a Kubernetes object"),
    ("Config%2fmaps", "shop", "c", cm(), "not a resource name"),
])
def test_entries_that_disagree_refuse_the_restore(res_dir, path_ns, path_name, obj, problem):
    confinement = confine(MANIFEST, {}, {})
    assert confinement.check_entry("configmaps", "shop", "ok", cm("ok"))
    assert not confinement.check_entry(res_dir, path_ns, path_name, obj)
    with pytest.raises(ArchiveError, match=problem):
        confinement.raise_problems()


def test_veleros_data_upload_records_in_its_own_namespace_are_skipped_only_in_veleros_backups():
    """Velero's data mover puts each volume's DataUpload, in namespace velero, into the backup."""
    upload = {"apiVersion": "velero.io/v2alpha1", "kind": "DataUpload", "metadata": {"name": "b-9z9cb", "namespace": "velero"}}
    velero = confine(dict(MANIFEST, written_by="velero"), {}, {})
    assert not velero.check_entry("datauploads.velero.io", "velero", "b-9z9cb", upload)
    velero.raise_problems()  # skipped, not a problem
    assert velero.check_entry("configmaps", "shop", "c", cm())
    ours = confine(MANIFEST, {}, {})
    assert not ours.check_entry("datauploads.velero.io", "velero", "b-9z9cb", upload)
    with pytest.raises(ArchiveError, match="namespace velero is not one of the backup's namespaces"):
        ours.raise_problems()


def test_cluster_scoped_allow_list():
    confinement = confine(MANIFEST, {}, {"shop": "copy"})
    crb = {"kind": "ClusterRoleBinding", "metadata": {"name": "x"}}
    claim = {"namespace": "shop", "name": "data"}
    pv = {"kind": "PersistentVolume", "metadata": {"name": "pv"}, "spec": {"claimRef": claim}}
    assert "not in cluster_resources" in confinement.cluster_refusal(
        "clusterrolebindings.rbac.authorization.k8s.io", crb, set())
    assert confinement.cluster_refusal("namespaces", {"metadata": {"name": "shop"}}, set()) is None
    assert "not one of the backup's namespaces" in confinement.cluster_refusal(
        "namespaces", {"metadata": {"name": "evil"}}, set())
    assert confinement.cluster_refusal("persistentvolumes", pv, {("shop", "data")}) is None
    assert "its claim is not" in confinement.cluster_refusal("persistentvolumes", pv, set())
    assert confinement.cluster_refusal("storageclasses.storage.k8s.io", {"metadata": {"name": "s"}}, set()) is None
    everything = confine(MANIFEST, {"cluster_resources": ["*"]}, {})
    assert everything.cluster_refusal("clusterrolebindings.rbac.authorization.k8s.io", crb, set()) is None


def test_protected_namespaces_only_when_named():
    manifest = {"name": "b", "namespaces": ["shop", "kube-system"]}
    with pytest.raises(InvalidInputError, match="namespaces: backup b holds namespace kube-system"):
        confine(manifest, {}, {"shop": "copy"})
    confine(manifest, {"namespaces": ["kube-system"]}, {})  # named: allowed
    confine({"name": "b", "namespaces": ["team"]}, {}, {"team": "kube-public"})  # an explicit mapping


def record(pvc="data", namespace="shop", **extra):
    return dict({"driver": "csi", "snapshot_id": "h1", "namespace": namespace,
                 "source": {"namespace": namespace, "pvc": pvc}}, **extra)


@pytest.mark.parametrize("records, problem", [
    ("nope", "not a list"),
    ([{"snapshot_id": "h1"}], "malformed"),
    ([record(driver="ebs")], "unknown driver 'ebs'"),
    ([record(namespace="victim")], "namespace 'victim', not one of the backup's namespaces"),
    ([record(pvc="other")], "PVC shop/other is not in the backup"),
    ([record(), record()], "a second record for PVC shop/data"),
])
def test_snapshot_records_must_belong_to_the_backup(records, problem):
    confinement = confine(MANIFEST, {}, {})
    confinement.check_entry("persistentvolumeclaims", "shop", "data", {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "shop"}})
    with pytest.raises(ArchiveError, match=problem):
        confinement.check_records(records, ["csi"])
    assert confine(MANIFEST, {}, {}).check_records(None, ["csi"]) == []
