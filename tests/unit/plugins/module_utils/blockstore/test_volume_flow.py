"""Volume snapshot, listing, restore and delete services over an in-memory cluster whose snapshot controller
and provisioner act at once. (On the test bed the same flows run against the real CSI sidecars.)"""

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore import csi
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.volumes import (
    SNAPSHOT_ARG_SPEC,
    SNAPSHOT_INFO_ARG_SPEC,
    VOLUME_RESTORE_ARG_SPEC,
    SnapshotInfoOptions,
    SnapshotOptions,
    VolumeRestoreOptions,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.volumes import restore as volume_restore, snapshots as volumes
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
)

from ..fake_cluster import FakeCluster
from ..module_options import options_of

DRIVER = "hostpath.csi.lifeboat.test"


def cluster_with_volumes(*names):
    cluster = FakeCluster()
    for ns in ("shop", "copy"):
        cluster.add("", "namespaces", {"metadata": {"name": ns}})
    cluster.add("storage.k8s.io", "storageclasses", {"metadata": {"name": "fast"}, "provisioner": DRIVER})
    cluster.add("snapshot.storage.k8s.io", "volumesnapshotclasses", {
        "metadata": {"name": "snaps", "annotations": {"snapshot.storage.kubernetes.io/is-default-class": "true"}},
        "driver": DRIVER, "deletionPolicy": "Delete"})
    for name in names:
        cluster.add("", "persistentvolumes", {"metadata": {"name": "pv-" + name},
                                              "spec": {"csi": {"driver": DRIVER, "volumeHandle": "vol-" + name}}})
        cluster.add("", "persistentvolumeclaims", {
            "metadata": {"name": name, "namespace": "shop", "labels": {"app": "db"}},
            "spec": {"volumeName": "pv-" + name, "storageClassName": "fast", "accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}})
    return cluster


def snapshot_params(**overrides):
    given = dict(name="nightly", namespace="shop", tags={"reason": "test"}, wait_timeout=5)
    given.update(overrides)
    return options_of(SnapshotOptions, SNAPSHOT_ARG_SPEC, **given)


def restore_params(record, **overrides):
    given = dict(namespace="copy", pvc="data", snapshot=record, wait_timeout=5)
    given.update(overrides)
    return options_of(VolumeRestoreOptions, VOLUME_RESTORE_ARG_SPEC, **given)


def test_snapshot_every_pvc_of_a_selector_then_again_changes_nothing():
    cluster = cluster_with_volumes("data", "logs")
    planned = volumes.snapshot_volumes(cluster, snapshot_params(pvc_selector="app=db"), check_mode=True)
    assert planned["changed"] and not cluster.named("snapshot.storage.k8s.io", "volumesnapshots", "shop")
    taken = volumes.snapshot_volumes(cluster, snapshot_params(pvc_selector="app=db"))
    assert taken["changed"] and sorted(r["source"]["pvc"] for r in taken["snapshots"]) == ["data", "logs"]
    assert all(r["ready"] and r["driver"] == "csi" and r["size_bytes"] == 2 ** 30 for r in taken["snapshots"])
    again = volumes.snapshot_volumes(cluster, snapshot_params(pvc_selector="app=db"))
    assert again["changed"] is False
    listed = volumes.snapshot_info(cluster, options_of(SnapshotInfoOptions, SNAPSHOT_INFO_ARG_SPEC, namespace="shop",
                                                       tags={"reason": "test"}, pvc="logs"))
    assert [r["source"]["pvc"] for r in listed["snapshots"]] == ["logs"]


def test_snapshot_input_is_checked_before_anything_is_created():
    cluster = cluster_with_volumes("data")
    for given, error, message in [
            (dict(pvc="missing"), NotFoundError, "^pvc: PersistentVolumeClaim shop/missing does not exist"),
            (dict(pvc="data", snapshot_class="nope"), NotFoundError, "^snapshot_class: "),
            (dict(pvc="data", tags={"bad key": "x"}), InvalidInputError, "^tags: "),
            (dict(), InvalidInputError, "pvc")]:
        with pytest.raises(error, match=message):
            volumes.snapshot_volumes(cluster, snapshot_params(**given))
    assert not cluster.named("snapshot.storage.k8s.io", "volumesnapshots", "shop")


def test_restore_into_another_namespace_then_delete_only_what_was_restored():
    cluster = cluster_with_volumes("data")
    record = volumes.snapshot_volumes(cluster, snapshot_params(pvc="data"))["snapshot"]
    planned = volume_restore.restore_volume(cluster, restore_params(record), check_mode=True)
    assert planned["changed"] and not cluster.named("", "persistentvolumeclaims", "copy")
    restored = volume_restore.restore_volume(cluster, restore_params(record))
    assert restored["changed"] and restored["volume"]["phase"] == "Bound"
    assert cluster.named("", "persistentvolumeclaims", "copy") == ["data"]
    assert volume_restore.restore_volume(cluster, restore_params(record))["changed"] is False
    with pytest.raises(ConflictError, match="was not restored by lifeboat"):
        volume_restore.restore_volume(cluster, restore_params(record, namespace="shop", state="absent"))
    # A running pod that mounts the claim would keep it Terminating: refused up front, nothing deleted.
    mounts = {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]}
    cluster.add("", "pods", {"metadata": {"name": "db-0", "namespace": "copy"}, "spec": mounts,
                             "status": {"phase": "Running"}})
    cluster.add("", "pods", {"metadata": {"name": "verify-1", "namespace": "copy"}, "spec": mounts,
                             "status": {"phase": "Succeeded"}})
    with pytest.raises(ConflictError, match="^pvc: PersistentVolumeClaim copy/data is in use by pod db-0; stop"):
        volume_restore.restore_volume(cluster, restore_params(record, state="absent"))
    assert cluster.named("", "persistentvolumeclaims", "copy") == ["data"]
    cluster.objects[("", "pods", "copy", "db-0")]["status"]["phase"] = "Failed"
    removed = volume_restore.restore_volume(cluster, restore_params(record, state="absent"))
    assert removed["changed"] and cluster.named("", "persistentvolumeclaims", "copy") == []
    assert volume_restore.restore_volume(cluster, restore_params(record, state="absent"))["changed"] is False


def test_deleting_snapshots_is_idempotent_and_check_mode_keeps_them():
    cluster = cluster_with_volumes("data")
    volumes.snapshot_volumes(cluster, snapshot_params(pvc="data"))
    planned = volumes.snapshot_volumes(cluster, snapshot_params(pvc="data", state="absent"), check_mode=True)
    assert planned["changed"] and cluster.named("snapshot.storage.k8s.io", "volumesnapshots", "shop")
    deleted = volumes.snapshot_volumes(cluster, snapshot_params(pvc="data", state="absent"))
    assert deleted["changed"] and not cluster.named("snapshot.storage.k8s.io", "volumesnapshots", "shop")
    assert volumes.snapshot_volumes(cluster, snapshot_params(pvc="data", state="absent"))["changed"] is False


class SlowBinding(FakeCluster):
    """A snapshot controller that binds a pre-provisioned VolumeSnapshot only on the third look (or never)."""

    def __init__(self, looks_until_ready):
        super(SlowBinding, self).__init__()
        self.looks_until_ready = looks_until_ready
        self.looks = 0

    def _control(self, plural, obj):
        super(SlowBinding, self)._control(plural, obj)
        if plural == "volumesnapshots" and obj["spec"]["source"].get("volumeSnapshotContentName"):
            obj["status"] = {}

    def request(self, method, path, body=None, query=None, content_type="application/json", raw=False, **kwargs):
        if method == "GET" and "/volumesnapshots/lifeboat-restore-" in path:
            self.looks += 1
            if self.looks == self.looks_until_ready:
                key = ("snapshot.storage.k8s.io", "volumesnapshots", "copy", path.rsplit("/", 1)[1])
                self.objects[key]["status"] = {"readyToUse": True}
        return super(SlowBinding, self).request(method, path, body, query, content_type, raw, **kwargs)


def restore_on(cluster):
    for name, value in cluster_with_volumes("data").objects.items():
        cluster.objects[name] = value
    record = volumes.snapshot_volumes(cluster, snapshot_params(pvc="data"))["snapshot"]
    cluster.requests[:] = []
    volume_restore.restore_volume(cluster, restore_params(record))
    kinds = ("volumesnapshotcontents", "volumesnapshots", "persistentvolumeclaims")
    return [(m, next(k for k in kinds if "/%s" % k in p)) for m, p in cluster.requests
            if m == "POST" or "/volumesnapshots/lifeboat-restore-" in p]


def test_a_restore_creates_the_claim_once_its_pre_provisioned_snapshot_is_bound():
    """The provisioner refuses a claim whose snapshot is not bound and retries only after a back-off."""
    calls = restore_on(SlowBinding(looks_until_ready=3))
    assert calls == [("POST", "volumesnapshotcontents"), ("POST", "volumesnapshots")] + \
        [("GET", "volumesnapshots")] * 3 + [("POST", "persistentvolumeclaims")]


def test_a_snapshot_that_never_binds_does_not_stop_the_restore(monkeypatch):
    monkeypatch.setattr(csi, "HELPER_WAIT", 0.5)
    calls = restore_on(SlowBinding(looks_until_ready=None))
    assert calls[-1] == ("POST", "persistentvolumeclaims"), "the claim is created anyway; its own wait reports"
    assert len(calls) > 4
