"""Restores into a cluster with other storage: storage_class_mapping, the checks made before any change, and where
each volume's data comes from. Pure logic against the in-memory cluster; the bed's two clusters test the real thing
(tests/system/test_dr.py)."""

import json

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.backup import service as backups
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore import service as restore
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.common import check_mapping
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.file import FileStore

from ..fake_cluster import CATALOG, FakeCluster
from .test_backup_restore_flow import backup_params, ns_options, restore_params

WITH_DRIVERS = CATALOG + (("storage.k8s.io", "v1", "csidrivers", "CSIDriver", False),
                          ("apps", "v1", "statefulsets", "StatefulSet", True))
SOURCE_DRIVER, TARGET_DRIVER = "hostpath.csi.k8s.io", "hostpath-dr.csi.k8s.io"


def source_cluster():
    cluster = FakeCluster(WITH_DRIVERS)
    cluster.add("", "namespaces", {"metadata": {"name": "shop"}})
    cluster.add("storage.k8s.io", "storageclasses", {"metadata": {"name": "csi-hostpath"}, "provisioner": SOURCE_DRIVER})
    cluster.add("", "persistentvolumeclaims", {
        "metadata": {"name": "data", "namespace": "shop"},
        "spec": {"storageClassName": "csi-hostpath", "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}}})
    cluster.add("", "persistentvolumeclaims", {
        "metadata": {"name": "scratch", "namespace": "shop"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    cluster.add("apps", "statefulsets", {"metadata": {"name": "db", "namespace": "shop"}, "spec": {
        "volumeClaimTemplates": [{"metadata": {"name": "wal"}, "spec": {"storageClassName": "csi-hostpath"}}]}})
    return cluster


def target_cluster(serves_snapshots=True):
    catalog = WITH_DRIVERS if serves_snapshots else tuple(c for c in WITH_DRIVERS if c[0] != "snapshot.storage.k8s.io")
    cluster = FakeCluster(catalog)
    cluster.add("storage.k8s.io", "storageclasses", {"metadata": {"name": "standard"}, "provisioner": TARGET_DRIVER})
    cluster.add("storage.k8s.io", "csidrivers", {"metadata": {"name": TARGET_DRIVER}})
    return cluster


RECORD = {"driver": "csi", "snapshot_id": "snap-handle-1", "name": "data-nightly", "namespace": "shop",
          "source": {"namespace": "shop", "pvc": "data", "csi_driver": SOURCE_DRIVER, "storage_class": "csi-hostpath",
                     "size": "1Gi"},
          "ready": True, "size_bytes": 1 << 30, "tags": {}, "driver_data": {}}


@pytest.fixture
def store(tmp_path):
    store = FileStore(str(tmp_path / "store"))
    backups.run_backup(source_cluster(), store, backup_params(volume_snapshots=[RECORD]))
    return store


def writes(cluster):
    return [(m, p) for m, p in cluster.requests if m in ("POST", "PUT", "PATCH", "DELETE")]


def test_mapping_renames_classes_in_claims_templates_and_drops_the_mapped_class(store):
    target = target_cluster()
    result = restore.run_restore(target, store, restore_params(
        namespace_mapping=None, restore_volumes=False, storage_class_mapping={"csi-hostpath": "standard"}))
    assert result["phase"] == "Completed"
    claim = target.objects[("", "persistentvolumeclaims", "shop", "data")]
    assert claim["spec"]["storageClassName"] == "standard"
    assert "storageClassName" not in target.objects[("", "persistentvolumeclaims", "shop", "scratch")]["spec"]
    template = target.objects[("apps", "statefulsets", "shop", "db")]["spec"]["volumeClaimTemplates"][0]
    assert template["spec"]["storageClassName"] == "standard"
    assert target.named("storage.k8s.io", "storageclasses") == ["standard"], "the mapped-away class is not restored"
    assert any(s["name"] == "csi-hostpath" and "storage_class_mapping" in s["message"]
               for s in result["skipped_objects"])


def test_an_unmapped_class_the_target_lacks_is_refused_naming_each_user_and_the_classes_it_has(store):
    target = target_cluster()
    for check_mode in (True, False):
        with pytest.raises(InvalidInputError) as e:
            restore.run_restore(target, store, restore_params(namespace_mapping=None, restore_volumes=False),
                                check_mode=check_mode)
        message = e.value.message
        assert message.startswith("storage_class_mapping: ")
        assert "PVC shop/data uses StorageClass csi-hostpath" in message
        assert "StatefulSet shop/db volumeClaimTemplate wal" in message
        assert "does not run in the target cluster" in message and "it has: standard" in message
    assert writes(target) == []


def test_a_mapping_onto_a_class_the_target_lacks_is_refused(store):
    target = target_cluster()
    with pytest.raises(InvalidInputError) as e:
        restore.run_restore(target, store, restore_params(namespace_mapping=None, restore_volumes=False,
                                                          storage_class_mapping={"csi-hostpath": "gold"}))
    assert e.value.message.startswith("storage_class_mapping: StorageClass gold does not exist in the target cluster")
    assert writes(target) == []


def test_the_backups_class_comes_back_when_the_target_runs_its_provisioner(store):
    target = target_cluster()
    target.add("storage.k8s.io", "csidrivers", {"metadata": {"name": SOURCE_DRIVER}})
    restore.run_restore(target, store, restore_params(namespace_mapping=None, restore_volumes=False))
    assert target.named("storage.k8s.io", "storageclasses") == ["csi-hostpath", "standard"]


@pytest.mark.parametrize("value", [{"a": 3}, {"A_B": "x"}, {"x": ""}])
def test_a_malformed_mapping_names_the_option(value):
    with pytest.raises(InvalidInputError) as e:
        check_mapping(value)
    assert e.value.message.startswith("storage_class_mapping: ")


@pytest.mark.parametrize("serves_snapshots,why", [(True, "CSI driver %s is not installed" % SOURCE_DRIVER),
                                                  (False, "does not serve snapshot.storage.k8s.io/v1")])
def test_a_volume_whose_snapshot_the_target_cannot_use_and_that_has_no_copy_is_refused(store, serves_snapshots, why):
    target = target_cluster(serves_snapshots)
    with pytest.raises(InvalidInputError) as e:
        restore.run_restore(target, store, restore_params(namespace_mapping=None,
                                                          storage_class_mapping={"csi-hostpath": "standard"}))
    assert e.value.message.startswith("restore_volume_data: ")
    assert "PVC shop/data: " in e.value.message and why in e.value.message and "no data copy" in e.value.message
    assert writes(target) == []


def test_a_mapped_class_of_another_driver_makes_the_snapshot_unusable_even_with_the_driver_installed(store):
    target = target_cluster()
    target.add("storage.k8s.io", "csidrivers", {"metadata": {"name": SOURCE_DRIVER}})
    with pytest.raises(InvalidInputError) as e:
        restore.run_restore(target, store, restore_params(namespace_mapping=None,
                                                          storage_class_mapping={"csi-hostpath": "standard"}))
    assert "StorageClass standard provisions with %s" % TARGET_DRIVER in e.value.message


def test_restore_volumes_false_restores_into_a_cluster_without_snapshot_crds_and_never_asks_for_the_data_mover(store):
    target = target_cluster(serves_snapshots=False)
    result = restore.run_restore(target, store, restore_params(
        namespace_mapping=None, restore_volumes=False, storage_class_mapping={"csi-hostpath": "standard"}))
    assert result["phase"] == "Completed" and result["volumes"] == []
    assert target.named("", "persistentvolumeclaims", "shop") == ["data", "scratch"]
    assert not [p for _m, p in target.requests if "snapshot.storage.k8s.io" in p]


def test_the_originals_digests_from_its_backup_or_its_cluster_match_the_mapped_copy(store):
    from ansible_collections.lifeboat.k8s.plugins.module_utils.verify import namespace as namespace_info
    target = target_cluster()
    restore.run_restore(target, store, restore_params(
        namespace_mapping=None, restore_volumes=False, storage_class_mapping={"csi-hostpath": "standard"}))
    copy = namespace_info.namespace_info(target, ns_options(namespace="shop"))
    mapped = {"storage_class_mapping": {"csi-hostpath": "standard"}}
    live = namespace_info.namespace_info(source_cluster(), ns_options(namespace="shop", **mapped))
    held = namespace_info.describe_backup(store, ns_options(namespace="shop", backup="nightly", **mapped))
    unmapped = namespace_info.describe_backup(store, ns_options(namespace="shop", backup="nightly"))
    assert live["digests"] == copy["digests"] == held["digests"]
    assert unmapped["digests"]["persistentvolumeclaims"]["data"] != copy["digests"]["persistentvolumeclaims"]["data"]
    assert unmapped["digests"]["persistentvolumeclaims"]["scratch"] == copy["digests"]["persistentvolumeclaims"]["scratch"]
    with pytest.raises(InvalidInputError, match="^namespace: backup nightly does not hold namespace bank"):
        namespace_info.describe_backup(store, ns_options(namespace="bank", backup="nightly"))


def test_a_crd_the_target_serves_with_other_versions_is_reported_and_never_overwritten(tmp_path):
    store = FileStore(str(tmp_path / "crd-store"))
    source = source_cluster()
    definition = {"metadata": {"name": "widgets.example.com"}, "spec": {
        "group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
        "versions": [{"name": "v1", "served": True, "storage": True}]}}
    source.add("apiextensions.k8s.io", "customresourcedefinitions", json.loads(json.dumps(definition)))
    source.add("example.com", "widgets", {"metadata": {"name": "w", "namespace": "shop"}, "spec": {"size": 3}})
    backups.run_backup(source, store, backup_params(namespaces=["shop"]))
    target = target_cluster()
    theirs = json.loads(json.dumps(definition))
    theirs["spec"]["versions"] = [{"name": "v2", "served": True, "storage": True}]
    target.add("apiextensions.k8s.io", "customresourcedefinitions", theirs)
    result = restore.run_restore(target, store, restore_params(
        namespace_mapping=None, restore_volumes=False, existing="update", ignore_partial_failure=True,
        storage_class_mapping={"csi-hostpath": "standard"}, include_resources=["customresourcedefinitions"]))
    kept = target.objects[("apiextensions.k8s.io", "customresourcedefinitions", None, "widgets.example.com")]
    assert [v["name"] for v in kept["spec"]["versions"]] == ["v2"]
    assert any(s["name"] == "widgets.example.com" and "versions v2, the backup's has v1" in s["message"]
               for s in result["skipped_objects"]), result["skipped_objects"]


def test_a_claim_a_native_driver_binds_to_its_own_volume_needs_no_class_in_the_target():
    from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.plan import RunFacts
    from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.storage import TargetStorage
    facts = RunFacts()
    facts.add("persistentvolumeclaims", "shop", {"metadata": {"name": "px"}, "spec": {"storageClassName": "portworx"}})
    storage = TargetStorage(target_cluster(), {})
    assert storage.check(facts, lambda obj: True, static={("shop", "px")}) == []
    with pytest.raises(InvalidInputError, match="PVC shop/px uses StorageClass portworx"):
        storage.check(facts, lambda obj: True)
