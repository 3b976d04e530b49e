"""Every built-in backup item action alone: the additional items it names, what it changes."""

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions import backup_builtin as bb
from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.base import ItemContext, ItemRef
from ansible_collections.lifeboat.k8s.plugins.module_utils.format import velero
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.service import BackupRun


def run_action(cls, res_dir, obj, records=()):
    action = cls()
    if not action.applies_to.matches(res_dir, obj):
        return None
    return action.execute(obj, ItemContext(res_dir, BackupRun(["shop"], list(records)), source=obj))


def test_names_are_unique():
    names = [cls.name for cls in bb.BACKUP_ACTIONS]
    assert len(names) == len(set(names)) and all(cls.description for cls in bb.BACKUP_ACTIONS)


def test_pvc_brings_its_volume_and_class():
    pvc = {"metadata": {"name": "data", "namespace": "shop"}, "spec": {"volumeName": "pv-1", "storageClassName": "fast"}}
    assert run_action(bb.PvcVolumeAndClass, "persistentvolumeclaims", pvc).additional == [
        ItemRef("persistentvolumes", None, "pv-1"), ItemRef("storageclasses.storage.k8s.io", None, "fast")]
    pending = {"metadata": {"name": "new", "namespace": "shop"}, "spec": {}}
    assert run_action(bb.PvcVolumeAndClass, "persistentvolumeclaims", pending).additional == []
    assert run_action(bb.PvcVolumeAndClass, "configmaps", pvc) is None


def test_pv_brings_its_class():
    pv = {"metadata": {"name": "pv-1"}, "spec": {"storageClassName": "fast"}}
    assert run_action(bb.PvStorageClass, "persistentvolumes", pv).additional == [
        ItemRef("storageclasses.storage.k8s.io", None, "fast")]
    assert run_action(bb.PvStorageClass, "persistentvolumes", {"metadata": {"name": "p"}}).additional == []


def test_rolebinding_brings_a_cluster_role_not_a_role():
    rb = {"metadata": {"name": "b", "namespace": "shop"}, "roleRef": {"kind": "ClusterRole", "name": "shop-reader"}}
    assert run_action(bb.RoleBindingClusterRole, "rolebindings.rbac.authorization.k8s.io", rb).additional == [
        ItemRef("clusterroles.rbac.authorization.k8s.io", None, "shop-reader")]
    for everywhere in ("view", "edit", "admin", "cluster-admin", "system:aggregate-to-view"):
        bootstrap = dict(rb, roleRef={"kind": "ClusterRole", "name": everywhere})
        assert run_action(bb.RoleBindingClusterRole, "rolebindings.rbac.authorization.k8s.io",
                          bootstrap).additional == [], everywhere
    role = dict(rb, roleRef={"kind": "Role", "name": "mine"})
    assert run_action(bb.RoleBindingClusterRole, "rolebindings.rbac.authorization.k8s.io", role).additional == []


def test_custom_resources_bring_their_crd_whatever_the_group_is_called():
    route = {"metadata": {"name": "r", "namespace": "shop"}}
    assert run_action(bb.CustomResourceDefinition, "httproutes.gateway.networking.k8s.io", route).additional == [
        ItemRef("customresourcedefinitions.apiextensions.k8s.io", None, "httproutes.gateway.networking.k8s.io")]
    for builtin in ("deployments.apps", "configmaps", "networkpolicies.networking.k8s.io"):
        assert run_action(bb.CustomResourceDefinition, builtin, route).additional == []


def test_velero_csi_snapshot_name_marks_only_recorded_claims():
    record = {"driver": "csi", "name": "snap-data", "source": {"namespace": "shop", "pvc": "data"}}
    pvc = {"metadata": {"name": "data", "namespace": "shop"}}
    out = run_action(bb.VeleroCsiSnapshotName, "persistentvolumeclaims", pvc, [record]).item
    assert out["metadata"]["annotations"][velero.VOLUME_SNAPSHOT_NAME] == "snap-data"
    other = {"metadata": {"name": "logs", "namespace": "shop"}}
    assert "annotations" not in run_action(bb.VeleroCsiSnapshotName, "persistentvolumeclaims", other, [record]).item[
        "metadata"]
