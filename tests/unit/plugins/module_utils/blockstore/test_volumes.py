"""Pure logic of the block store layer: quantities, tags, waiting, restore planning."""

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.volumes import restore as volume_restore, snapshots as volumes
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.volumes import VOLUME_RESTORE_ARG_SPEC, VolumeRestoreOptions
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.base import check_tags
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.base import RESTORED_FROM
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.csi import CsiBlockStore
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.csi_api import HELPER_CONTENT
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ConflictError,
    InvalidInputError,
    LifeboatError,
    NotFoundError,
    WaitTimeoutError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.quantity import quantity_bytes
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.waiting import wait_until

from ..module_options import options_of


@pytest.mark.parametrize("value,expected", [
    ("10Mi", 10 * 2 ** 20), ("1Gi", 2 ** 30), ("500M", 500 * 10 ** 6), ("1.5Gi", 3 * 2 ** 29), (42, 42),
    (None, None), ("7", 7), ("1e3", 1000), ("+1Gi", 2 ** 30), ("500m", 1), ("0.5", 1), ("1500m", 2), (0, 0),
])
def test_quantity_bytes_parses_what_the_apiserver_accepts_rounding_up(value, expected):
    assert quantity_bytes(value) == expected


@pytest.mark.parametrize("value", ["ten", "10XB", "", "-1Gi", -1, True, "1Gi ", [1]])
def test_quantity_bytes_rejects_garbage_naming_the_option(value):
    with pytest.raises(InvalidInputError, match="^restore_size:"):
        quantity_bytes(value, "restore_size")


def test_tags_must_be_labels():
    assert check_tags({"reason": "nightly", "example.com/team": "db"}) == {
        "reason": "nightly", "example.com/team": "db"}
    with pytest.raises(InvalidInputError, match="^tags: key 'bad key'"):
        check_tags({"bad key": "x"})
    with pytest.raises(InvalidInputError, match="^labels: value"):
        check_tags({"ok": "x" * 64}, "labels")


def test_wait_until_returns_the_first_truthy_value_and_times_out_naming_what():
    calls = iter([None, 0, "done"])
    assert wait_until(lambda: next(calls), 5, "x", interval=0.01) == "done"
    with pytest.raises(WaitTimeoutError, match=r"timed out after 0.05s .* waiting for the thing"):
        wait_until(lambda: False, 0.05, lambda: "the thing", interval=0.01)


class FakeStore:
    """A block store whose snapshots go through scripted states."""

    def __init__(self, script):
        self.script = script  # name -> list of (ready, error) states
        self.deleted = []

    def describe_snapshot(self, record):
        states = self.script[record["name"]]
        ready, error = states.pop(0) if len(states) > 1 else states[0]
        return dict(record, ready=ready, error=error)

    def snapshot_error(self, record):
        return CsiBlockStore.snapshot_error(None, record)

    def delete_snapshot(self, record):
        self.deleted.append(record["name"])
        return True


def rec(name):
    return {"name": name, "namespace": "ns", "ready": False, "error": None}


def wait_ready(store, names, timeout):
    return volumes._wait_ready(dict((n, store) for n in names), [(n, rec(n)) for n in names], timeout)


def test_wait_ready_waits_for_every_snapshot():
    store = FakeStore({"a": [(False, None), (True, None)], "b": [(False, None), (False, None), (True, None)]})
    done = wait_ready(store, ["a", "b"], timeout=5)
    assert all(r["ready"] for r in done.values())
    assert store.deleted == []


def test_wait_ready_deletes_failed_snapshots_and_names_the_error():
    store = FakeStore({"a": [(True, None)], "b": [(False, "disk on fire")]})
    with pytest.raises(LifeboatError, match="ns/b: disk on fire"):
        wait_ready(store, ["a", "b"], timeout=5)
    assert store.deleted == ["b"]


def test_wait_ready_ignores_transient_conflicts_and_times_out_naming_pending():
    store = FakeStore({"a": [(False, "the object has been modified; please apply your changes")]})
    with pytest.raises(WaitTimeoutError, match="snapshots to become ready: ns/a"):
        wait_ready(store, ["a"], timeout=0.05)
    assert store.deleted == []


class FakeK8s:
    """Objects by REST path; enough for restore planning."""

    def __init__(self, objects):
        self.objects = objects

    def get_or_none(self, path):
        return self.objects.get(path)

    def get(self, path):
        if path not in self.objects:
            raise NotFoundError(path)
        return self.objects[path]


RECORD = {
    "driver": "csi", "snapshot_id": "handle-1", "name": "snap", "namespace": "shop",
    "source": {"namespace": "shop", "pvc": "data", "storage_class": "fast", "size": "10Gi",
               "access_modes": ["ReadWriteOnce"], "volume_mode": "Filesystem", "csi_driver": "hostpath.csi.k8s.io"},
    "size_bytes": 10 * 2 ** 30, "ready": True,
    "driver_data": {"snapshot_class": "snapclass"},
}
CLUSTER = {
    "/apis/storage.k8s.io/v1/storageclasses/fast": {"provisioner": "hostpath.csi.k8s.io"},
    "/apis/storage.k8s.io/v1/storageclasses/other": {"provisioner": "ebs.csi.aws.com"},
    "/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses/snapclass": {"driver": "hostpath.csi.k8s.io"},
}


def test_restore_into_another_namespace_preprovisions_content_and_snapshot():
    plan = CsiBlockStore(FakeK8s(dict(CLUSTER))).plan_restore(RECORD, {"namespace": "copy", "pvc": "data"})
    kinds = [body["kind"] for _path, body in plan]
    assert kinds == ["VolumeSnapshotContent", "VolumeSnapshot", "PersistentVolumeClaim"]
    content, snapshot, pvc = [body for _path, body in plan]
    assert content["spec"]["deletionPolicy"] == "Retain"
    assert content["spec"]["source"] == {"snapshotHandle": "handle-1"}
    assert content["spec"]["volumeSnapshotRef"] == {"namespace": "copy", "name": snapshot["metadata"]["name"]}
    assert snapshot["spec"]["source"] == {"volumeSnapshotContentName": content["metadata"]["name"]}
    assert pvc["spec"]["dataSource"]["name"] == snapshot["metadata"]["name"]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert pvc["metadata"]["annotations"][RESTORED_FROM] == "handle-1"
    assert pvc["metadata"]["annotations"][HELPER_CONTENT] == content["metadata"]["name"]


def test_restore_plan_is_deterministic_so_a_rerun_finds_its_helpers():
    store = CsiBlockStore(FakeK8s(dict(CLUSTER)))
    target = {"namespace": "copy", "pvc": "data"}
    assert store.plan_restore(RECORD, target) == store.plan_restore(RECORD, target)


@pytest.mark.parametrize("change,target,message", [
    ({"snapshot_id": None}, {}, "^snapshot: the record has no snapshot_id"),
    ({}, {"storage_class": "missing"}, "^storage_class: StorageClass 'missing' does not exist"),
    ({}, {"storage_class": "other"}, "^storage_class: .* provisions with ebs.csi.aws.com"),
    ({}, {"size": "1Gi"}, "^size: 1Gi is smaller than the snapshot"),
])
def test_restore_plan_rejects_bad_input(change, target, message):
    store = CsiBlockStore(FakeK8s(dict(CLUSTER)))
    with pytest.raises((InvalidInputError, NotFoundError), match=message):
        store.plan_restore(dict(RECORD, **change), dict({"namespace": "copy", "pvc": "data"}, **target))


def test_restore_refuses_a_foreign_record():
    options = options_of(VolumeRestoreOptions, VOLUME_RESTORE_ARG_SPEC, namespace="copy", pvc="data",
                         snapshot={"source": {"namespace": "shop", "pvc": "data"}, "snapshot_id": "snap-1",
                                   "driver": "aws_ebs"})
    with pytest.raises(InvalidInputError, match="^snapshot: the record was made by driver 'aws_ebs'"):
        volume_restore._snapshot_record(None, options)


def test_delete_refuses_a_pvc_restored_from_another_snapshot():
    existing = {"namespace": "ns", "pvc": "data", "restored_from": "other-handle"}
    with pytest.raises(ConflictError, match="restored from snapshot other-handle, not handle-1"):
        volume_restore._delete_restored(None, None, options_of(
            VolumeRestoreOptions, VOLUME_RESTORE_ARG_SPEC, namespace="ns", pvc="data", snapshot=RECORD),
            existing, check_mode=False)
