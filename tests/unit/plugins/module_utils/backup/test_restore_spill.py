"""The restore's spill: objects on disk (encrypted) between reading, planning and applying, handed out a chunk
at a time. With chunks of two, a restore still creates, compares, updates and plans everything, in order."""

import base64
import os

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.backup import service as backups
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore import service as restore, spill
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.file import FileStore

from ..fake_cluster import FakeCluster
from .test_backup_restore_flow import SOURCE, backup_params, restore_params, shop

MARKER = "do-not-leave-me-on-disk"


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(spill, "CHUNK", 2)
    monkeypatch.setattr(restore, "CHUNK", 2)


def crowded():
    cluster = shop()
    for i in range(9):
        cluster.add("", "configmaps", {"metadata": {"name": "cm-%d" % i, "namespace": SOURCE}, "data": {"i": str(i)}})
    for i in range(4):
        cluster.add("", "secrets", {"metadata": {"name": "s-%d" % i, "namespace": SOURCE},
                                    "data": {"v": base64.b64encode(MARKER.encode()).decode()}})
    return cluster


def test_objects_are_spilled_encrypted_and_read_back_whole(tmp_path):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop", "uid": "u-1"},
              "stringData": {"password": MARKER}}
    with spill.Spill(str(tmp_path)) as store:
        store.add("secrets", "shop", secret)
        store.finish_reading()
        on_disk = open(store.path, "rb").read()
        assert MARKER.encode() not in on_disk and b"stringData" not in on_disk
        assert list(store.sources("secrets")) == [("shop", secret)]
        assert "u-1" in store.uids and "u-2" not in store.uids and None not in store.uids
    assert os.listdir(str(tmp_path)) == [], "the spill removes its file"


def test_planning_reads_in_restore_order_across_chunks(tmp_path, small_chunks):
    entries = [("pods", "a", "p"), ("configmaps", "a", "c1"), ("namespaces", None, "a"), ("configmaps", "a", "c2"),
               ("widgets.example.com", "a", "w"), ("persistentvolumeclaims", "a", "claim")]
    with spill.Spill(str(tmp_path)) as store:
        for res_dir, namespace, name in entries:
            store.add(res_dir, namespace, {"metadata": {"name": name, "namespace": namespace}})
        store.finish_reading()
        order = [(res_dir, obj["metadata"]["name"]) for _seq, res_dir, _ns, obj, _copy in store.unplanned()]
    assert order == [("namespaces", "a"), ("persistentvolumeclaims", "claim"), ("configmaps", "c1"),
                     ("configmaps", "c2"), ("widgets.example.com", "w"), ("pods", "p")]


def test_a_restore_in_chunks_creates_everything_and_a_rerun_compares_by_list_pages(tmp_path, small_chunks):
    store = FileStore(str(tmp_path / "store"))
    backups.run_backup(crowded(), store, backup_params())
    target = FakeCluster()
    first = restore.run_restore(target, store, restore_params())
    assert first["counts"]["configmaps"]["created"] == 10 and first["counts"]["secrets"]["created"] == 5
    assert len(target.named("", "configmaps", "copy")) == 10
    target.requests[:] = []
    again = restore.run_restore(target, store, restore_params())
    assert again["changed"] is False and again["totals"]["unchanged"] == first["totals"]["created"]
    gets = [p for m, p in target.requests if m == "GET" and "/configmaps/" in p]
    assert gets == [], "a rerun compares against LIST pages, not a GET per object"
    for i in (0, 4, 8):
        target.objects[("", "configmaps", "copy", "cm-%d" % i)]["data"]["i"] = "changed"
    updated = restore.run_restore(target, store, restore_params(existing="update"))
    assert updated["counts"]["configmaps"]["updated"] == 3 and updated["counts"]["configmaps"]["unchanged"] == 7
    assert target.objects[("", "configmaps", "copy", "cm-4")]["data"]["i"] == "4"
    empty = FakeCluster()
    planned = restore.run_restore(empty, store, restore_params(), check_mode=True)
    assert planned["totals"] == first["totals"] and empty.objects == {}


def test_an_unlistable_collection_is_compared_after_a_get(tmp_path, small_chunks):
    store = FileStore(str(tmp_path / "store"))
    backups.run_backup(crowded(), store, backup_params())
    target = FakeCluster()
    restore.run_restore(target, store, restore_params())
    target.forbidden = {"secrets"}
    target.requests[:] = []
    again = restore.run_restore(target, store, restore_params())
    assert again["changed"] is False and again["counts"]["secrets"]["unchanged"] == 5
    assert len([p for m, p in target.requests if m == "GET" and "/secrets/" in p]) == 5


def test_the_spooled_resource_list_writes_the_same_bytes_as_the_dict_would(tmp_path):
    import gzip
    import io
    from ansible_collections.lifeboat.k8s.plugins.module_utils.format.archive import SpooledResourceList, write_json_gz
    data = {"v1/Secret": ["shop/db", "shop/tls"], "apps/v1/Deployment": ["shop/web"], "v1/Namespace": ["shop"],
            "example.com/v1/Widget": ["shop/\u00e9t\u00e9 \"quoted\""]}
    spooled = SpooledResourceList(str(tmp_path))
    for gvk in ("v1/Secret", "v1/Namespace", "apps/v1/Deployment", "example.com/v1/Widget"):
        for name in data[gvk]:
            spooled.add(gvk, name)
    ours, reference = io.BytesIO(), io.BytesIO()
    spooled.write(ours)
    spooled.close()
    write_json_gz(reference, data)
    assert gzip.decompress(ours.getvalue()) == gzip.decompress(reference.getvalue())


def test_a_crash_in_a_worker_fails_its_object_whether_it_was_listed_or_created(tmp_path, small_chunks, monkeypatch):
    store = FileStore(str(tmp_path / "store"))
    backups.run_backup(crowded(), store, backup_params())
    target = FakeCluster()
    restore.run_restore(target, store, restore_params())

    def crash(self, item, existing):
        if item.name == "cm-3":
            raise RuntimeError("boom")
        return original(self, item, existing)

    original = restore.Restorer._apply_one
    monkeypatch.setattr(restore.Restorer, "_apply_one", crash)
    for cluster in (target, FakeCluster()):  # compared against a LIST page; created
        result = restore.run_restore(cluster, store, restore_params(ignore_partial_failure=True))
        (failure,) = result["failures"]
        assert failure["name"] == "cm-3" and failure["message"].startswith("unexpected error: RuntimeError: boom")
