"""Velero's side of the layout (pure), and the guard that never touches another tool's backup
(on a real file:// store)."""

import gzip
import io
import json
import tarfile

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.format import velero
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.archive import ArchiveError, ArchiveWriter, read_items
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.info import describe_backup
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.stored import check_ours
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.layout import LOCK_FILE, files_of
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.manifest import Manifest
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.lock import BackupLock, is_stale, read_holder
from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.base import ItemContext
from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.pipeline import Pipeline, builtin_actions
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.plan import RestoreRun, prepare_core
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.stores import open_store

MANIFEST = {
    "name": "b1", "phase": "Completed", "started_at": "2026-11-23T10:00:00Z", "completed_at": "2026-11-23T10:00:05Z",
    "expires_at": "2026-11-24T10:00:05Z", "namespaces": ["shop"], "counts": {"configmaps": 2}, "total_items": 2,
    "volume_snapshots": 1, "warnings": ["w1"], "errors": [{"resource": "secrets", "namespace": "shop",
                                                           "message": "forbidden"}],
    "filters": {"include_resources": ["configmaps"], "include_cluster_resources": "auto"},
    "source": {"server_version": "v1.36.3"},
}
RECORD = {"driver": "csi", "snapshot_id": "handle-1", "name": "snap", "namespace": "shop", "size_bytes": 1048576,
          "source": {"namespace": "shop", "pvc": "data", "csi_driver": "hostpath.csi.k8s.io"},
          "driver_data": {"volume_snapshot_content": "snapcontent-1", "csi_driver": "hostpath.csi.k8s.io"}}
PVC = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
       "metadata": {"name": "data", "namespace": "shop", "annotations": {velero.VOLUME_SNAPSHOT_NAME: "velero-data-x"},
                    "labels": {"app": "shop", "velero.io/backup-name": "vb", "velero.io/volume-snapshot-name": "x"}},
       "spec": {"volumeMode": "Filesystem"}}


def test_the_backup_object_is_what_velero_syncs():
    backup = velero.backup_object(MANIFEST, 86400, [RECORD])
    assert (backup["apiVersion"], backup["kind"], backup["metadata"]["name"]) == ("velero.io/v1", "Backup", "b1")
    assert velero.written_by_lifeboat(backup)
    assert backup["spec"]["ttl"] == "24h0m0s"
    assert backup["spec"]["includedNamespaces"] == ["shop"] and backup["spec"]["includedResources"] == ["configmaps"]
    assert "includeClusterResources" not in backup["spec"]  # auto: Velero's nil
    status = backup["status"]
    expected = ("Completed", "1.1.0", "2026-11-24T10:00:05Z")
    assert (status["phase"], status["formatVersion"], status["expiration"]) == expected
    assert (status["warnings"], status["errors"], status["csiVolumeSnapshotsCompleted"]) == (1, 1, 1)
    assert velero.parse_backup(json.dumps(backup).encode(), "b1") == backup


def test_logs_results_and_volume_info():
    log = velero.log_lines(MANIFEST).decode()
    assert 'level=warning msg="w1" backup=velero/b1' in log and "level=error" in log
    assert velero.results(MANIFEST) == {"errors": {"namespaces": {"shop": ["secrets: forbidden"]}},
                                        "warnings": {"velero": ["w1"]}}
    infos = velero.volume_infos([RECORD], {("shop", "data"): "pv-1"})
    assert infos[0]["pvName"] == "pv-1" and infos[0]["backupMethod"] == "CSISnapshot"
    assert infos[0]["csiSnapshotInfo"] == {"snapshotHandle": "handle-1", "size": 1048576,
                                           "driver": "hostpath.csi.k8s.io", "vscName": "snapcontent-1"}
    assert velero.volume_infos([RECORD], {}) == [], "a PVC without a bound PV has nothing Velero could re-provision"
    assert velero.go_duration(5400) == "1h30m0s"


@pytest.mark.parametrize("change,problem", [
    ({"kind": "Restore"}, "not a Velero Backup"),
    ({"apiVersion": "v1"}, "not a Velero Backup"),
    ({"metadata": {"name": "other"}}, "names another backup"),
    ({"status": {"phase": "Bogus"}}, "has phase"),
    ({"status": {"phase": "Completed", "startTimestamp": "yesterday"}}, "startTimestamp"),
    ({"spec": {"includedNamespaces": "shop"}}, "includedNamespaces"),
])
def test_a_malformed_velero_backup_is_refused(change, problem):
    backup = dict(velero.backup_object(MANIFEST, None, []), **change)
    with pytest.raises(ArchiveError, match=problem):
        velero.parse_backup(json.dumps(backup).encode(), "b1")
    with pytest.raises(ArchiveError, match="damaged"):
        velero.parse_backup(b"{not json", "b1")


def test_a_velero_backup_as_a_manifest():
    backup = {"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "vb"},
              "spec": {"includedNamespaces": ["*"]}, "status": {"phase": "PartiallyFailed", "errors": 2}}
    resources = {"v1/ConfigMap": ["shop/a", "web/b"], "v1/Namespace": ["shop", "web"], "v1/PersistentVolume": ["pv"]}
    manifest = velero.as_manifest(backup, "vb", "vb.tar.gz", resources)
    assert manifest["namespaces"] == ["shop", "web"]
    assert manifest["files"] == {"vb.tar.gz": {"sha256": None, "size": None}}
    assert manifest["errors"] and manifest["written_by"] == "velero"
    with pytest.raises(ArchiveError, match="only Completed and PartiallyFailed"):
        velero.as_manifest(dict(backup, status={"phase": "InProgress"}), "vb", "vb.tar.gz", resources)
    with pytest.raises(ArchiveError, match="malformed namespaces"):
        velero.as_manifest(backup, "vb", "vb.tar.gz", {"v1/ConfigMap": ["../x/a"]})


def test_records_from_velero_volume_info():
    info = [{"pvcName": "data", "pvcNamespace": "shop", "pvName": "pv-1", "backupMethod": "CSISnapshot",
             "csiSnapshotInfo": {"snapshotHandle": "h-1", "size": 10485760, "driver": "hostpath.csi.k8s.io",
                                 "vscName": "snapcontent-9"}},
            {"pvcName": "logs", "pvcNamespace": "shop", "pvName": "pv-2", "backupMethod": "PodVolumeBackup"},
            {"pvcName": "tmp", "pvcNamespace": "shop", "skipped": True}]
    records, warnings = velero.records_from(info, {("shop", "data"): PVC})
    assert len(records) == 1
    record = records[0]
    assert (record["snapshot_id"], record["name"], record["source"]["pvc"], record["size_bytes"]) == \
        ("h-1", "velero-data-x", "data", 10485760)
    assert record["source"]["csi_driver"] == "hostpath.csi.k8s.io"
    assert len(warnings) == 1 and "PodVolumeBackup" in warnings[0] and "empty volume" in warnings[0]
    assert velero.records_from(None, {}) == ([], [])
    with pytest.raises(ArchiveError, match="no snapshot handle"):
        velero.records_from([dict(info[0], csiSnapshotInfo={"driver": "x"})], {("shop", "data"): PVC})
    with pytest.raises(ArchiveError, match="not a list"):
        velero.records_from({"a": 1}, {})


def test_velero_bookkeeping_is_not_restored():
    line = Pipeline(builtin_actions("restore"))
    run = RestoreRun([], {})
    for res_dir in ("events", "events.events.k8s.io", "nodes", "backups.velero.io"):
        obj = {"metadata": {"name": "x"}}
        assert line.run(ItemContext(res_dir, run, source=obj), obj).skip.startswith("non-restorable-kinds: ")
    outcome = line.run(ItemContext("persistentvolumeclaims", run, source=PVC),
                       prepare_core("persistentvolumeclaims", PVC, {}))
    prepared = outcome.item
    assert velero.VOLUME_SNAPSHOT_NAME not in (prepared["metadata"].get("annotations") or {})
    assert prepared["metadata"]["labels"] == {"app": "shop"}


def test_archive_items_have_velero_preferred_version_copies():
    out = io.BytesIO()
    writer = ArchiveWriter(out)
    writer.add_item("deployments.apps", {"apiVersion": "apps/v1", "kind": "Deployment",
                                         "metadata": {"name": "web", "namespace": "shop"}})
    writer.close()
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        names = tar.getnames()
    assert "resources/deployments.apps/namespaces/shop/web.json" in names
    assert "resources/deployments.apps/v1-preferredversion/namespaces/shop/web.json" in names
    assert len(list(read_items(io.BytesIO(out.getvalue())))) == 1, "the copies are not restored twice"


def test_manifests_with_and_without_velero_files_are_accepted():
    base = dict(MANIFEST, format=1, archive_format="1.1.0", errors=[], warnings=[], volume_snapshots=0)
    for for_velero in (False, True):
        files = dict((f, {"sha256": "0" * 64, "size": 1}) for f in files_of("b1", False, for_velero).values())
        Manifest.from_dict(dict(base, files=files), "b1")
    extra = dict((f, {"sha256": "0" * 64, "size": 1}) for f in files_of("b1", False, True).values())
    extra.pop("b1-logs.gz")
    with pytest.raises(ArchiveError, match="must list exactly"):
        Manifest.from_dict(dict(base, files=extra), "b1")


# ---------------------------------------------------------------- never touch another tool's backup

def put(store, name, filename, data=b"x"):
    store.put_bytes("backups/%s/%s" % (name, filename), data)


def keys(store, name):
    return store.list_objects("backups/%s/" % name)


def velero_backup_json(name, ours=False):
    backup = {"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": name},
              "spec": {"includedNamespaces": ["shop"]}, "status": {"phase": "Completed"}}
    if ours:
        backup["metadata"]["annotations"] = {velero.WRITTEN_BY: velero.WRITER}
    return json.dumps(backup).encode()


def test_a_velero_backup_is_never_replaced_or_deleted(tmp_path):
    store = open_store("file://%s" % tmp_path)
    for filename in ("vb.tar.gz", "vb-logs.gz", "vb-volumeinfo.json.gz"):
        put(store, "vb", filename)
    put(store, "vb", velero.VELERO_METADATA, velero_backup_json("vb"))
    for action in ("replace", "delete"):
        with pytest.raises(InvalidInputError, match="^name: vb holds a Velero backup"):
            check_ours(store, "vb", keys(store, "vb"), action)
    entry = describe_backup(store, "vb")
    expected = ("velero", "Completed", True, False)
    assert (entry["written_by"], entry["phase"], entry["complete"], entry["checksums"]) == expected


def test_an_unreadable_velero_backup_json_is_not_ours(tmp_path):
    store = open_store("file://%s" % tmp_path)
    put(store, "vb", velero.VELERO_METADATA, b"{broken")
    with pytest.raises(InvalidInputError, match="holds a Velero backup"):
        check_ours(store, "vb", keys(store, "vb"), "replace")


def test_an_incomplete_lifeboat_backup_is_replaced_only_with_its_mark(tmp_path):
    store = open_store("file://%s" % tmp_path)
    for filename in files_of("b1").values():
        put(store, "b1", filename)
    with pytest.raises(InvalidInputError, match="no mark of this collection"):
        check_ours(store, "b1", keys(store, "b1"), "replace")
    check_ours(store, "b1", keys(store, "b1"), "delete")  # asked for by name: only lifeboat's file names
    put(store, "b1", velero.VELERO_METADATA, velero_backup_json("b1", ours=True))
    check_ours(store, "b1", keys(store, "b1"), "replace")
    put(store, "b2", "b2.tar.gz")
    put(store, "b2", LOCK_FILE, b"{}")
    check_ours(store, "b2", keys(store, "b2"), "replace")
    put(store, "b2", "notes.txt")
    with pytest.raises(InvalidInputError, match=r"files this collection does not write \(notes.txt\)"):
        check_ours(store, "b2", keys(store, "b2"), "replace")


def test_a_failed_run_leaves_its_released_lock_as_the_mark(tmp_path):
    store = open_store("file://%s" % tmp_path)
    with pytest.raises(RuntimeError):
        with BackupLock(store, "backups/b1/", "b1") as lock:
            lock.mark_on_failure()
            raise RuntimeError("upload failed")
    holder = read_holder(store, "backups/b1/" + LOCK_FILE)
    assert holder["released"] and is_stale(holder), "stale at once: a rerun takes it over"
    with pytest.raises(RuntimeError):
        with BackupLock(store, "backups/b2/", "b2"):
            raise RuntimeError("failed before writing anything")
    assert keys(store, "b2") == []
    with BackupLock(store, "backups/b1/", "b1") as lock:
        lock.mark_on_failure()
    assert keys(store, "b1") == [], "a run that succeeds leaves no lock"


def test_velero_log_is_gzip_text():
    data = gzip.compress(velero.log_lines(MANIFEST))
    assert gzip.decompress(data).decode().count("\n") == len(MANIFEST["counts"]) + 4


def test_what_veleros_data_mover_and_kopia_file_system_backup_copied_comes_back_from_their_kopia_copies():
    """The volume information Velero 1.18.3 wrote on the bed for `--snapshot-move-data` and for a file-system backup
    (fields as written, abridged)."""
    moved = {"pvcName": "data", "pvcNamespace": "shop", "backupMethod": "CSISnapshot", "snapshotDataMoved": True,
             "csiSnapshotInfo": {"snapshotHandle": "unknown", "size": 0, "driver": "hostpath.csi.k8s.io"},
             "snapshotDataMovementInfo": {"dataMover": "velero", "uploaderType": "kopia",
                                          "snapshotHandle": "2c9c47089aa625c529bb37d3f61f063a", "size": 300003}}
    file_system = {"pvcName": "logs", "pvcNamespace": "shop", "backupMethod": "PodVolumeBackup",
                   "pvbInfo": {"snapshotHandle": "1dfe6eae4d5e790d63272924f26bfc21", "size": 0, "uploaderType": "kopia"}}
    old_restic = {"pvcName": "old", "pvcNamespace": "shop", "backupMethod": "PodVolumeBackup",
                  "pvbInfo": {"snapshotHandle": "abc", "uploaderType": "restic"}}
    raw = dict(moved, pvcName="raw")
    claims = {("shop", "data"): PVC, ("shop", "logs"): PVC, ("shop", "old"): PVC,
              ("shop", "raw"): dict(PVC, spec={"volumeMode": "Block"})}
    records, warnings = velero.records_from([moved, file_system, old_restic, raw], claims, "s3://bucket/velero/")
    assert [(r["source"]["pvc"], r["snapshot_deleted"], r["data_copy"]["tool"], r["data_copy"]["repository"],
             r["data_copy"]["snapshot_id"], r["data_copy"]["bytes"], r["data_copy"]["made_by"]) for r in records] == [
        ("data", True, "kopia", "s3://bucket/velero/kopia/shop", "2c9c47089aa625c529bb37d3f61f063a", 300003,
         "velero data mover"),
        ("logs", True, "kopia", "s3://bucket/velero/kopia/shop", "1dfe6eae4d5e790d63272924f26bfc21", 0,
         "velero file-system backup")]
    assert records[0]["source"]["csi_driver"] == "hostpath.csi.k8s.io" and records[1]["source"]["csi_driver"] is None
    assert len(warnings) == 2 and "PVC shop/old: Velero backed up its data with PodVolumeBackup" in warnings[0]
    assert "PVC shop/raw: Velero copied it as a raw block volume" in warnings[1]
    with pytest.raises(ArchiveError, match="PVC shop/data has no kopia snapshot id"):
        velero.records_from([dict(moved, snapshotDataMovementInfo={"uploaderType": "kopia"})], claims, "s3://b")
