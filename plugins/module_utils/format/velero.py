# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Velero's side of the shared layout (Velero v1.x, backup format 1.1.0).

Writing: the files Velero needs to sync, describe and restore a lifeboat backup
(its Backup object `velero-backup.json`, logs, results and volume information in
the form its CSI restore uses). The Backup object carries the annotation
WRITTEN_BY, which is how lifeboat later tells its own backups from Velero's.

Reading: a Velero backup seen as a lifeboat one. Velero writes no checksums, so
nothing of it can be verified; its Backup object and side files are data,
checked field by field like a manifest. Pure functions: no storage or cluster
access here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
from typing import Any, Dict, List

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.clock import parse_timestamp
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.archive import FORMAT_VERSION, ArchiveError

VELERO_METADATA = "velero-backup.json"
WRITTEN_BY = "lifeboat.k8s/written-by"
WRITER = "lifeboat.k8s"
VELERO = "velero"
# Velero's PVC annotation naming the CSI VolumeSnapshot its restore brings the data back from.
VOLUME_SNAPSHOT_NAME = "velero.io/volume-snapshot-name"
MAX_METADATA_BYTES = 4 << 20
VELERO_PHASES = ("New", "Queued", "ReadyToStart", "InProgress", "WaitingForPluginOperations",
                 "WaitingForPluginOperationsPartiallyFailed", "Finalizing", "FinalizingPartiallyFailed", "Completed",
                 "PartiallyFailed", "Failed", "FailedValidation", "Deleting")
RESTORABLE_PHASES = ("Completed", "PartiallyFailed")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
MAX_LOG_LINES = 10000


def velero_files(name):
    """The files lifeboat writes for Velero besides the archive and side files they share."""
    return {"velero_backup": VELERO_METADATA, "logs": "%s-logs.gz" % name, "results": "%s-results.gz" % name,
            "volume_info": "%s-volumeinfo.json.gz" % name}


def go_duration(seconds):
    """Velero's ttl is a Go duration: 720h0m0s."""
    return "%dh%dm%ds" % (seconds // 3600, seconds % 3600 // 60, seconds % 60)


# ---------------------------------------------------------------- writing

def backup_object(manifest, ttl_seconds, csi_records):
    """The Backup object Velero syncs from velero-backup.json (status as its backup controller writes it)."""
    filters = manifest.get("filters") or {}
    status = {
        "version": 1, "formatVersion": FORMAT_VERSION, "phase": manifest["phase"],
        "startTimestamp": manifest["started_at"], "completionTimestamp": manifest["completed_at"],
        "progress": {"totalItems": manifest["total_items"], "itemsBackedUp": manifest["total_items"]},
        "warnings": len(manifest["warnings"]), "errors": len(manifest["errors"]),
        "csiVolumeSnapshotsAttempted": len(csi_records), "csiVolumeSnapshotsCompleted": len(csi_records),
    }
    if manifest.get("expires_at"):
        status["expiration"] = manifest["expires_at"]
    spec = {
        "includedNamespaces": list(manifest["namespaces"]),
        "snapshotVolumes": bool(csi_records), "snapshotMoveData": False, "defaultVolumesToFsBackup": False,
        "includeClusterResources": {"true": True, "false": False}.get(str(filters.get("include_cluster_resources"))),
    }
    if ttl_seconds:
        spec["ttl"] = go_duration(ttl_seconds)
    for option, field in (("include_resources", "includedResources"), ("exclude_resources", "excludedResources")):
        if filters.get(option):
            spec[field] = list(filters[option])
    annotations = {WRITTEN_BY: WRITER}
    if (manifest.get("source") or {}).get("server_version"):
        annotations["velero.io/source-cluster-k8s-gitversion"] = manifest["source"]["server_version"]
    return {"apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": manifest["name"], "namespace": VELERO, "annotations": annotations},
            "spec": dict((k, v) for k, v in spec.items() if v is not None), "status": status}


def log_lines(manifest):
    """The run's log as `velero backup logs` prints it (logrus text format)."""
    name = manifest["name"]

    def line(moment, level, message):
        return 'time="%s" level=%s msg=%s backup=%s/%s logSource=%s' % (
            moment, level, json.dumps(message), VELERO, name, WRITER)

    lines = [line(manifest["started_at"], "info", "Backing up namespaces %s" % ", ".join(manifest["namespaces"]))]
    for res_dir, count in sorted(manifest["counts"].items()):
        lines.append(line(manifest["completed_at"], "info", "Backed up %d items of %s" % (count, res_dir)))
    for warning in manifest["warnings"]:
        lines.append(line(manifest["completed_at"], "warning", warning))
    for error in manifest["errors"]:
        lines.append(line(manifest["completed_at"], "error", "%s%s: %s" % (
            error.get("resource"), " in namespace %s" % error["namespace"] if error.get("namespace") else "",
            error.get("message"))))
    lines.append(line(manifest["completed_at"], "info", "Backup %s: %d items, %d volume snapshots" % (
        manifest["phase"], manifest["total_items"], manifest["volume_snapshots"])))
    return ("\n".join(lines[:MAX_LOG_LINES]) + "\n").encode("utf-8")


def results(manifest):
    """<name>-results.gz: warnings and errors, per namespace where they belong to one."""
    errors: Dict[str, Any] = {}
    for error in manifest["errors"]:
        text = "%s: %s" % (error.get("resource"), error.get("message"))
        if error.get("namespace"):
            errors.setdefault("namespaces", {}).setdefault(error["namespace"], []).append(text)
        else:
            errors.setdefault("velero", []).append(text)
    warnings = {"velero": list(manifest["warnings"])} if manifest["warnings"] else {}
    return {"errors": errors, "warnings": warnings}


def volume_infos(csi_records, volume_names):
    """<name>-volumeinfo.json.gz: one CSISnapshot entry per PVC restored from a CSI snapshot, so that
    Velero provisions a new volume for it instead of restoring the source cluster's PV.
    volume_names maps (namespace, pvc) to the PV it was bound to when backed up."""
    infos = []
    for record in csi_records:
        source = record["source"]
        pv = volume_names.get((source["namespace"], source["pvc"]))
        if not pv:
            continue
        data = record.get("driver_data") or {}
        infos.append({
            "pvcName": source["pvc"], "pvcNamespace": source["namespace"], "pvName": pv,
            "backupMethod": "CSISnapshot", "snapshotDataMoved": False, "preserveLocalSnapshot": True,
            "skipped": False, "result": "succeeded", "startTimestamp": record.get("created_at"),
            "csiSnapshotInfo": {"snapshotHandle": record["snapshot_id"], "size": record.get("size_bytes") or 0,
                                "driver": source.get("csi_driver") or data.get("csi_driver") or "",
                                "vscName": data.get("volume_snapshot_content") or ""},
        })
    return infos


def mark_claim(pvc, record):
    """The PVC as Velero's CSI restore expects it: annotated with its VolumeSnapshot's name."""
    annotations = pvc["metadata"].setdefault("annotations", {})
    annotations[VOLUME_SNAPSHOT_NAME] = record["name"]
    return pvc


# ---------------------------------------------------------------- reading

def parse_backup(data, name):
    """A velero-backup.json, checked: the fields lifeboat uses must be what Velero writes."""
    def refuse(problem):
        raise ArchiveError("backup %s: its velero-backup.json %s: refusing it" % (name, problem))

    if len(data) > MAX_METADATA_BYTES:
        refuse("is larger than %d bytes" % MAX_METADATA_BYTES)
    try:
        backup = json.loads(data)
    except (ValueError, RecursionError) as e:
        refuse("is damaged: %s" % e)
    if not isinstance(backup, dict) or backup.get("kind") != "Backup" or \
            not str(backup.get("apiVersion", "")).startswith("velero.io/"):
        refuse("is not a Velero Backup object")
    for field in ("metadata", "spec", "status"):
        if not isinstance(backup.get(field) or {}, dict):
            refuse("has a malformed %s" % field)
    if (backup.get("metadata") or {}).get("name") != name:
        refuse("names another backup (%r)" % ((backup.get("metadata") or {}).get("name"),))
    status = backup.get("status") or {}
    if status.get("phase") not in VELERO_PHASES:
        refuse("has phase %r" % (status.get("phase"),))
    for field in ("startTimestamp", "completionTimestamp", "expiration"):
        if status.get(field) is not None:
            try:
                parse_timestamp(status[field])
            except (TypeError, ValueError):
                refuse("has a malformed status.%s" % field)
    included = (backup.get("spec") or {}).get("includedNamespaces")
    if included is not None and not (isinstance(included, list) and all(isinstance(n, str) for n in included)):
        refuse("has malformed spec.includedNamespaces")
    return backup


def written_by_lifeboat(backup):
    return ((backup.get("metadata") or {}).get("annotations") or {}).get(WRITTEN_BY) == WRITER


def describe(backup, name, location, expired):
    """backup_info's entry for a Velero backup."""
    status = backup.get("status") or {}
    phase = status["phase"]
    included = (backup.get("spec") or {}).get("includedNamespaces") or ["*"]
    return {
        "name": name, "phase": phase, "complete": phase == "Completed", "written_by": VELERO,
        "checksums": False, "location": location, "format_version": status.get("formatVersion"),
        "created_at": status.get("startTimestamp"), "completed_at": status.get("completionTimestamp"),
        "expires_at": status.get("expiration"), "expired": expired, "namespaces": included,
        "total_items": (status.get("progress") or {}).get("itemsBackedUp"),
        "warnings": _count_note(status.get("warnings"), "warning", name),
        "errors": _count_note(status.get("errors"), "error", name),
        "problem": "written by Velero: it carries no checksums, so it cannot be verified",
    }


def _count_note(number, what, name):
    """Velero keeps only counts in its Backup object; the messages are in its results file."""
    if not isinstance(number, int) or number <= 0:
        return []
    return ["Velero recorded %d %s(s): velero backup describe %s --details" % (number, what, name)]


def namespaces_in(resource_list):
    """The namespaces a Velero resource list names ({"v1/ConfigMap": ["ns/name", ...]})."""
    found = set()
    for names in (resource_list or {}).values() if isinstance(resource_list, dict) else ():
        for entry in names if isinstance(names, list) else ():
            if isinstance(entry, str) and "/" in entry:
                found.add(entry.split("/", 1)[0])
    return found


def as_manifest(backup, name, archive_file, resource_list):
    """A Velero backup seen through a manifest's fields: its namespaces (the resource list's when it
    was of all namespaces) and its one archive, which has no checksum."""
    status = backup.get("status") or {}
    if status["phase"] not in RESTORABLE_PHASES:
        raise ArchiveError("backup %s: Velero backup is %s; only Completed and PartiallyFailed Velero backups "
                           "are restored" % (name, status["phase"]))
    included = (backup.get("spec") or {}).get("includedNamespaces") or ["*"]
    if "*" in included:
        included = sorted(namespaces_in(resource_list))
    bad = [n for n in included if not DNS_LABEL.match(n)]
    if bad or not included:
        raise ArchiveError("backup %s: Velero backup names %s: refusing it" % (
            name, "malformed namespaces %s" % ", ".join(repr(n) for n in bad[:5]) if bad else "no namespaces"))
    errors = []
    if status["phase"] != "Completed":
        errors.append({"resource": "*", "namespace": None,
                       "message": "Velero recorded %s error(s); see velero backup logs %s" % (status.get("errors"), name)})
    return {"name": name, "phase": status["phase"], "namespaces": included, "written_by": VELERO,
            "files": {archive_file: {"sha256": None, "size": None}}, "errors": errors, "warnings": []}


def records_from(volume_info, claims, storage=None):
    """lifeboat snapshot records for the volumes a Velero backup took, from its volume information: its CSI
    snapshots, and the kopia snapshots of what its data mover or file-system backup copied (restored by the data
    mover's kopia tool from Velero's repositories under `storage`, the backup's own location). claims maps
    (namespace, pvc) to the backed-up PVC. Returns (records, warnings)."""
    records: List[Dict[str, Any]] = []
    warnings: List[str] = []
    if volume_info is None:
        return records, warnings
    if not isinstance(volume_info, list):
        raise ArchiveError("its volume information is not a list")
    for i, info in enumerate(volume_info):
        if not isinstance(info, dict):
            raise ArchiveError("volume information entry %d is not an object" % i)
        key = (info.get("pvcNamespace"), info.get("pvcName"))
        method = info.get("backupMethod")
        if info.get("skipped") or not method:
            continue
        where = "PVC %s/%s" % key
        pvc = claims.get(key)
        copied = _kopia_copy(info, method)
        if copied is not None:
            if pvc is None:
                continue
            if ((pvc.get("spec") or {}).get("volumeMode") or "Filesystem") != "Filesystem":
                warnings.append("%s: Velero copied it as a raw block volume, which this collection cannot restore: "
                                "it gets a new, empty volume" % where)
                continue
            records.append(_copy_record(key, copied, storage, info, where))
            continue
        csi = info.get("csiSnapshotInfo")
        if method != "CSISnapshot" or info.get("snapshotDataMoved") or not isinstance(csi, dict):
            warnings.append("%s: Velero backed up its data with %s%s, which this collection cannot restore: it "
                            "gets a new, empty volume" % (where, method, " (data mover)"
                                                          if info.get("snapshotDataMoved") else ""))
            continue
        handle, driver = csi.get("snapshotHandle"), csi.get("driver")
        if not isinstance(handle, str) or not handle or not isinstance(driver, str) or not driver:
            raise ArchiveError("volume information of %s has no snapshot handle or driver" % where)
        if pvc is None:
            continue  # not restored (filtered out); check_records refuses records of PVCs not in the backup
        annotations = pvc["metadata"].get("annotations") or {}
        size = csi.get("size") if isinstance(csi.get("size"), int) and csi["size"] > 0 else None
        records.append({
            "driver": "csi", "snapshot_id": handle, "name": annotations.get(VOLUME_SNAPSHOT_NAME) or "",
            "namespace": key[0], "ready": True, "size_bytes": size, "written_by": VELERO,
            "source": {"namespace": key[0], "pvc": key[1], "csi_driver": driver,
                       "volume_mode": (pvc.get("spec") or {}).get("volumeMode") or "Filesystem"},
            "driver_data": {"csi_driver": driver, "volume_snapshot_content": csi.get("vscName"),
                            "snapshot_class": None},
        })
    return records, warnings


def _kopia_copy(info, method):
    """The part of a volume's information that names a kopia snapshot Velero made of its files (its data mover's
    or its file-system backup's), or None."""
    if method == "CSISnapshot" and info.get("snapshotDataMoved"):
        copied = info.get("snapshotDataMovementInfo")
        if isinstance(copied, dict) and copied.get("dataMover") in ("velero", "", None):
            return copied if copied.get("uploaderType") == "kopia" else None
    if method == "PodVolumeBackup":
        copied = info.get("pvbInfo")
        return copied if isinstance(copied, dict) and copied.get("uploaderType") == "kopia" else None
    return None


def _copy_record(key, copied, storage, info, where):
    """The record of a volume Velero copied into its kopia repository of the PVC's namespace. The snapshot it came
    from is gone (Velero deletes it after the copy, and a file-system backup takes none): only the copy restores."""
    handle = copied.get("snapshotHandle")
    if not isinstance(handle, str) or not handle:
        raise ArchiveError("volume information of %s has no kopia snapshot id" % where)
    if not isinstance(storage, str) or not storage:
        raise ArchiveError("volume information of %s names a copy, but not where its repository is" % where)
    size = copied.get("size") if isinstance(copied.get("size"), int) and copied["size"] >= 0 else None
    csi = info.get("csiSnapshotInfo") if isinstance(info.get("csiSnapshotInfo"), dict) else {}
    driver = csi.get("driver") if isinstance(csi.get("driver"), str) else None
    return {
        "driver": "csi", "snapshot_id": handle, "name": "", "namespace": key[0], "ready": True, "size_bytes": size,
        "written_by": VELERO, "snapshot_deleted": True,
        "source": {"namespace": key[0], "pvc": key[1], "csi_driver": driver, "volume_mode": "Filesystem"},
        "driver_data": {"csi_driver": driver, "volume_snapshot_content": None, "snapshot_class": None},
        "data_copy": {"tool": "kopia", "repository": "%s/kopia/%s" % (storage.rstrip("/"), key[0]),
                      "snapshot_id": handle, "bytes": size, "files": None,
                      "made_by": "velero " + ("data mover" if info.get("snapshotDataMoved") else "file-system backup")},
    }


def native_snapshot_warnings(volume_snapshots):
    """Velero's native (block store plugin) snapshots: listed, not restored."""
    if not isinstance(volume_snapshots, list):
        return []
    warnings = []
    for snapshot in volume_snapshots:
        spec = (snapshot or {}).get("spec") if isinstance(snapshot, dict) else None
        if isinstance(spec, dict):
            warnings.append("PV %s: Velero took a native %s snapshot of it, which this collection does not "
                            "restore" % (spec.get("persistentVolumeName"), spec.get("providerName") or "plugin"))
    return warnings
