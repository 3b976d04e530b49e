# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A backup's manifest: the typed record of what it holds, read and checked in one place.

A backup is complete only when its manifest exists; the manifest holds the SHA-256 of every other
file. What is read from storage is data: `Manifest.from_dict` checks every field that is used later
(its format, its own name, only the backup's known file names), so nothing downstream trusts storage."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.records import SnapshotRecord
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.clock import now, parse_timestamp
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import NotFoundError
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.workdir import PrivateWorkdir
from ansible_collections.lifeboat.k8s.plugins.module_utils.format import velero
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.archive import (
    ArchiveError,
    check_version,
    sha256_file,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.layout import (
    DNS_LABEL,
    MANIFEST,
    SHA256,
    files_of,
    key,
    local_path,
)


MANIFEST_FORMAT = 1
MAX_MANIFEST_BYTES = 16 << 20
PHASES = ("Completed", "PartiallyFailed")
COPY_FIELDS = ("namespace", "pvc", "tool", "repository")


@dataclass(frozen=True)
class Manifest:
    """A backup's manifest. `stored` is the form in the bucket, field for field (signatures cover it)."""
    name: str
    phase: str
    namespaces: List[str]
    files: Dict[str, Dict[str, Any]]
    errors: List[Dict[str, Any]]
    warnings: List[str]
    written_by: str = velero.WRITER
    encryption: Optional[Dict[str, Any]] = None
    signature: Optional[Dict[str, Any]] = None
    data_copies: List[Dict[str, Any]] = field(default_factory=list)
    stored: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any, name: str) -> "Manifest":
        """The manifest `data` (parsed JSON) of backup `name`, checked; ArchiveError if it is not one this
        collection wrote in a format it knows."""
        _check(data, name)
        return cls(name=name, phase=data["phase"], namespaces=list(data["namespaces"]), files=data["files"],
                   errors=data["errors"], warnings=data["warnings"], encryption=data.get("encryption"),
                   signature=data.get("signature"), data_copies=data.get("data_copies", []), stored=data)

    @classmethod
    def of_velero(cls, data: Dict[str, Any]) -> "Manifest":
        """A Velero backup seen through a manifest's fields (velero.as_manifest checked them)."""
        return cls(name=data["name"], phase=data["phase"], namespaces=data["namespaces"], files=data["files"],
                   errors=data["errors"], warnings=data["warnings"], written_by=velero.VELERO, stored=data)

    def to_dict(self) -> Dict[str, Any]:
        return dict(self.stored)

    def encoded(self) -> bytes:
        return json.dumps(self.stored, indent=2, sort_keys=True).encode()

    @property
    def expires_at(self) -> Optional[str]:
        return self.stored.get("expires_at")

    def summary(self, store_url: str) -> Dict[str, Any]:
        """What modules return about a backup."""
        stored, expires = self.stored, self.expires_at
        return {
            "name": self.name, "phase": self.phase, "location": "%s/backups/%s" % (store_url, self.name),
            "created_at": stored["started_at"], "completed_at": stored["completed_at"], "expires_at": expires,
            "expired": bool(expires) and parse_timestamp(expires) <= now(),
            "namespaces": self.namespaces, "counts": stored["counts"], "total_items": stored["total_items"],
            # Backups written before this was recorded say nothing rather than something wrong.
            "items_per_namespace": stored.get("items_per_namespace"),
            "volume_snapshots": stored["volume_snapshots"],
            "size_bytes": sum(f["size"] for f in self.files.values()),
            "files": self.files, "source": stored["source"], "warnings": self.warnings,
            "errors": self.errors, "encrypted": bool(self.encryption),
            "encryption": self.encryption, "signed": bool(self.signature),
            "written_by": velero.WRITER, "checksums": True,
            "velero_compatible": velero.VELERO_METADATA in self.files,
            "data_copies": self.data_copies,
            # How the namespaces were chosen, when not only named (['*'], a selector, exclusions).
            "namespace_selection": (stored.get("filters") or {}).get("namespace_selection"),
        }


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _refuser(name: str):
    def refuse(problem: str):
        raise ArchiveError("backup %s: its manifest %s: refusing it" % (name, problem))
    return refuse


def _check(manifest: Any, name: str) -> None:
    refuse = _refuser(name)
    if not isinstance(manifest, dict):
        refuse("is not a JSON object")
    if manifest.get("format") != MANIFEST_FORMAT:
        refuse("is in format %r; this collection reads format %d (a newer lifeboat.k8s may read it)"
               % (manifest.get("format"), MANIFEST_FORMAT))
    check_version(str(manifest.get("archive_format")), "backup %s's archive" % name)
    if manifest.get("name") != name:
        refuse("names another backup (%r)" % (manifest.get("name"),))
    if manifest.get("phase") not in PHASES:
        refuse("has phase %r" % (manifest.get("phase"),))
    encryption = manifest.get("encryption")
    if encryption is not None and not (isinstance(encryption, dict) and isinstance(encryption.get("format"), str)):
        refuse("has a malformed encryption field")
    _check_files(manifest.get("files"), name, bool(encryption), refuse)
    namespaces = manifest.get("namespaces")
    if not isinstance(namespaces, list) or not namespaces or \
            not all(isinstance(n, str) and DNS_LABEL.match(n) for n in namespaces):
        refuse("has malformed namespaces")
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or not all(_count(v) for v in counts.values()):
        refuse("has malformed counts")
    for name_of in ("total_items", "volume_snapshots"):
        if not _count(manifest.get(name_of)):
            refuse("has a malformed %s" % name_of)
    for name_of in ("started_at", "completed_at", "expires_at"):
        value = manifest.get(name_of)
        if value is not None or name_of != "expires_at":
            try:
                parse_timestamp(value)
            except (TypeError, ValueError, AttributeError):
                refuse("has a malformed %s" % name_of)
    if not isinstance(manifest.get("source"), dict) or not isinstance(manifest.get("warnings"), list) or \
            not isinstance(manifest.get("errors"), list) or not all(isinstance(e, dict) for e in manifest["errors"]):
        refuse("has malformed source, warnings or errors")
    copies = manifest.get("data_copies", [])
    if not isinstance(copies, list) or not all(_good_copy(c, namespaces) for c in copies):
        refuse("has malformed data_copies")


def _check_files(files: Any, name: str, encrypted: bool, refuse) -> None:
    known = set(files_of(name, encrypted).values())
    with_velero = set(files_of(name, encrypted, True).values())
    if not isinstance(files, dict) or set(files) not in (known, with_velero):
        refuse("must list exactly the files %s, it lists %s" % (", ".join(sorted(with_velero)), ", ".join(
            sorted(repr(f) for f in files)) if isinstance(files, dict) else repr(files)))
    for filename, entry in files.items():
        if not isinstance(entry, dict) or not SHA256.match(str(entry.get("sha256"))) \
                or not _count(entry.get("size")):
            refuse("has a malformed entry for %s" % filename)


def _good_copy(copy: Any, namespaces: List[str]) -> bool:
    return (isinstance(copy, dict) and all(isinstance(copy.get(f), str) for f in COPY_FIELDS)
            and bool(SHA256.match(str(copy.get("snapshot_id")))
                     or (copy.get("empty") is True and copy.get("snapshot_id") is None))
            and copy["namespace"] in namespaces and str(copy["repository"]).startswith("s3://"))


def describe_error(error):
    """'resource (in namespace): message' for one recorded error."""
    where = error["resource"] + (" in namespace %s" % error["namespace"] if error.get("namespace") else "")
    return "%s: %s" % (where, error["message"])


def read_manifest(store, name: str) -> Optional[Manifest]:
    """The checked manifest, or None if the backup is missing or incomplete."""
    try:
        data = store.get_bytes(key(name, MANIFEST), max_bytes=MAX_MANIFEST_BYTES)
    except NotFoundError:
        return None
    if len(data) > MAX_MANIFEST_BYTES:
        raise ArchiveError("backup %s: its manifest is larger than %d bytes: refusing it" % (name, MAX_MANIFEST_BYTES))
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise ArchiveError("backup %s: its manifest is damaged: %s" % (name, e))
    return Manifest.from_dict(parsed, name)


def data_copies(records: List[SnapshotRecord]) -> List[Dict[str, Any]]:
    """What the manifest says of each volume data copy: enough for backup_info to find and check it."""
    return [{"namespace": r["source"]["namespace"], "pvc": r["source"]["pvc"], "tool": r["data_copy"].get("tool"),
             "repository": r["data_copy"].get("repository"), "snapshot_id": r["data_copy"].get("snapshot_id"),
             "bytes": r["data_copy"].get("bytes"), "files": r["data_copy"].get("files"),
             "empty": bool(r["data_copy"].get("empty"))}
            for r in records if isinstance(r.get("data_copy"), dict)]


def verify_copies(store, manifest: Manifest) -> Tuple[Optional[str], List[str]]:
    """(problem or None, [repositories not checked]): each volume data copy's repository config and snapshot
    are in storage (restic's layout: `config`, `snapshots/<id>`). Copies outside the backup's own storage
    cannot be reached with its store and are listed as not checked."""
    where = store.url + "/"
    elsewhere = []
    for copy in manifest.data_copies:
        if not copy["repository"].startswith(where):
            elsewhere.append(copy["repository"])
            continue
        repository = copy["repository"][len(where):]
        if copy.get("empty"):
            continue  # an empty volume's copy has nothing in the repository
        for suffix in ("config", "snapshots/" + copy["snapshot_id"]):
            if not store.exists(repository + "/" + suffix):
                return "the data copy of PVC %s/%s: %s/%s is missing" % (
                    copy["namespace"], copy["pvc"], copy["repository"], suffix), elsewhere
    return None, elsewhere


def verify(store, manifest: Manifest, workdir: Optional[str] = None) -> Optional[str]:
    """Download every file and check its SHA-256; None if all match, else the problem.
    The manifest was checked (from_dict): it lists exactly the backup's own files.
    A Velero backup's files have no checksum (None): they are only downloaded."""
    if workdir is None:
        with PrivateWorkdir("verify") as own:
            return verify(store, manifest, own)
    for filename, expected in sorted(manifest.files.items()):
        local = local_path(workdir, filename)
        try:
            store.get_file(key(manifest.name, filename), local)
        except NotFoundError:
            return "%s is missing" % filename
        if expected["sha256"] is None:
            continue
        actual = sha256_file(local)
        if actual != expected["sha256"]:
            return "%s has SHA-256 %s, the manifest says %s" % (filename, actual, expected["sha256"])
    return None
