# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups in an object store: write one (manifest last), delete one (manifest
first), list and verify them. A backup is complete only when its manifest
exists; the manifest holds the SHA-256 of every other file.

What is read from storage is data: a manifest is checked field by field before
anything uses it (its format, its own name, only the backup's known file
names), and every local file lives under the run's private directory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import gzip
import json
import os
import re

try:
    import durationpy
except ImportError:  # installed with the kubernetes library
    durationpy = None

from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.archive import (
    FORMAT_VERSION,
    ArchiveError,
    ArchiveWriter,
    SpooledResourceList,
    check_version,
    sha256_file,
    write_json_gz,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.base import ItemContext, ItemRef
from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.pipeline import Pipeline, builtin_names
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.collector import (
    Problems,
    describe_error,
    discover,
    get_items,
    list_concurrently,
    select,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.lock import LOCK_FILE, BackupLock, is_stale, read_holder
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.selectors import (
    compile_jmespath,
    parse_selector,
    search_jmespath,
    selector_matches,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup import velero
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.sealing import (
    AGE_SUFFIX,
    Encryption,
    SealError,
    Signer,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.clock import now, parse_timestamp, timestamp
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.concurrency import parallel_map, raise_first
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ApiError,
    InvalidInputError,
    LifeboatError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.workdir import PrivateWorkdir
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path

MANIFEST = "lifeboat-backup.json"
MANIFEST_FORMAT = 1
MAX_MANIFEST_BYTES = 16 << 20
PHASES = ("Completed", "PartiallyFailed")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
MAX_TTL_SECONDS = 100 * 365 * 86400
UNREADABLE = {"status": {"phase": "unreadable"}}
MAX_REPORTED = 100
SNAPSHOT_OBJECTS = ("volumesnapshots.snapshot.storage.k8s.io", "volumesnapshotcontents.snapshot.storage.k8s.io")


def check_name(name, option="name"):
    if not name or not NAME.match(name):
        raise InvalidInputError("%s: %r is not a valid backup name (lower-case letters, digits, '-' and '.')"
                                % (option, name))
    return name


def parse_ttl(ttl):
    """Seconds of a Go/Velero duration (720h0m0s, 1h30m) or 30d; None for no ttl."""
    if not ttl:
        return None
    try:
        seconds = durationpy.from_str(str(ttl).strip()).total_seconds()
    except (durationpy.DurationError, ValueError, OverflowError):
        raise InvalidInputError("ttl: %r is not a duration such as 720h0m0s, 720h, 30d or 1h30m" % (ttl,))
    if seconds <= 0 or seconds > MAX_TTL_SECONDS:
        raise InvalidInputError("ttl: %r must be more than 0 and at most 100 years" % (ttl,))
    return int(seconds)


def files_of(name, encrypted=False, for_velero=False):
    """The backup's files besides the manifest, as Velero names them (+ .age when encrypted);
    for_velero adds the files Velero needs to use it (never for encrypted backups: Velero cannot
    read them, and its logs and Backup object would show what the encryption hides)."""
    suffix = AGE_SUFFIX if encrypted else ""
    files = {"archive": "%s.tar.gz%s" % (name, suffix), "resource_list": "%s-resource-list.json.gz%s" % (name, suffix),
             "volume_snapshots": "%s-volumesnapshots.json.gz%s" % (name, suffix)}
    if for_velero and not encrypted:
        files.update(velero.velero_files(name))
    return files


def own_files(name):
    """Every file name lifeboat may write under a backup's name."""
    return set(files_of(name, False, True).values()) | set(files_of(name, True).values()) | set((MANIFEST, LOCK_FILE))


def key(name, filename):
    return "backups/%s/%s" % (check_name(name), filename)


def local_path(workdir, filename):
    """Where a backup file is kept during a run: always directly inside the private workdir."""
    path = os.path.realpath(os.path.join(workdir, filename))
    if "/" in filename or os.path.dirname(path) != os.path.realpath(workdir):
        raise ArchiveError("backup file name %r would leave the run's private directory: refusing it" % (filename,))
    return path


def read_manifest(store, name):
    """The checked manifest, or None if the backup is missing or incomplete."""
    try:
        data = store.get_bytes(key(name, MANIFEST), max_bytes=MAX_MANIFEST_BYTES)
    except NotFoundError:
        return None
    if len(data) > MAX_MANIFEST_BYTES:
        raise ArchiveError("backup %s: its manifest is larger than %d bytes: refusing it" % (name, MAX_MANIFEST_BYTES))
    try:
        manifest = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise ArchiveError("backup %s: its manifest is damaged: %s" % (name, e))
    check_manifest(manifest, name)
    return manifest


def check_manifest(manifest, name):
    """Refuse a manifest that is not one this collection wrote in a format it knows; every field
    that is used later is checked here, so nothing downstream trusts storage."""
    def refuse(problem):
        raise ArchiveError("backup %s: its manifest %s: refusing it" % (name, problem))

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
    files = manifest.get("files")
    known = set(files_of(name, bool(encryption)).values())
    with_velero = set(files_of(name, bool(encryption), True).values())
    if not isinstance(files, dict) or set(files) not in (known, with_velero):
        refuse("must list exactly the files %s, it lists %s" % (", ".join(sorted(with_velero)), ", ".join(
            sorted(repr(f) for f in files)) if isinstance(files, dict) else repr(files)))
    for filename, entry in files.items():
        if not isinstance(entry, dict) or not SHA256.match(str(entry.get("sha256"))) \
                or not _count(entry.get("size")):
            refuse("has a malformed entry for %s" % filename)
    namespaces = manifest.get("namespaces")
    if not isinstance(namespaces, list) or not namespaces or \
            not all(isinstance(n, str) and DNS_LABEL.match(n) for n in namespaces):
        refuse("has malformed namespaces")
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or not all(_count(v) for v in counts.values()):
        refuse("has malformed counts")
    for field in ("total_items", "volume_snapshots"):
        if not _count(manifest.get(field)):
            refuse("has a malformed %s" % field)
    for field in ("started_at", "completed_at", "expires_at"):
        value = manifest.get(field)
        if value is not None or field != "expires_at":
            try:
                parse_timestamp(value)
            except (TypeError, ValueError, AttributeError):
                refuse("has a malformed %s" % field)
    if not isinstance(manifest.get("source"), dict) or not isinstance(manifest.get("warnings"), list) or \
            not isinstance(manifest.get("errors"), list) or not all(isinstance(e, dict) for e in manifest["errors"]):
        refuse("has malformed source, warnings or errors")
    copies = manifest.get("data_copies", [])
    if not isinstance(copies, list) or not all(
            isinstance(c, dict) and all(isinstance(c.get(f), str) for f in ("namespace", "pvc", "tool", "repository"))
            and (SHA256.match(str(c.get("snapshot_id"))) or (c.get("empty") is True and c.get("snapshot_id") is None))
            and c["namespace"] in namespaces
            and str(c["repository"]).startswith("s3://") for c in copies):
        refuse("has malformed data_copies")
    return manifest


def _count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def summary(manifest, store):
    """What modules return about a backup."""
    expires = manifest.get("expires_at")
    return {
        "name": manifest["name"], "phase": manifest["phase"], "location": "%s/backups/%s" % (store.url, manifest["name"]),
        "created_at": manifest["started_at"], "completed_at": manifest["completed_at"], "expires_at": expires,
        "expired": bool(expires) and parse_timestamp(expires) <= now(),
        "namespaces": manifest["namespaces"], "counts": manifest["counts"], "total_items": manifest["total_items"],
        "volume_snapshots": manifest["volume_snapshots"], "size_bytes": sum(f["size"] for f in manifest["files"].values()),
        "files": manifest["files"], "source": manifest["source"], "warnings": manifest["warnings"],
        "errors": manifest["errors"], "encrypted": bool(manifest.get("encryption")),
        "encryption": manifest.get("encryption"), "signed": bool(manifest.get("signature")),
        "written_by": velero.WRITER, "checksums": True,
        "velero_compatible": velero.VELERO_METADATA in manifest["files"],
        "data_copies": manifest.get("data_copies", []),
    }


# ---------------------------------------------------------------- object_backup

def run_backup(k8s, store, params, check_mode=False):
    name = check_name(params["name"])
    if params["state"] == "absent":
        return delete_backup(store, name, check_mode)
    # Everything that can be refused is refused here, before the bucket or the cluster is touched.
    namespaces = params.get("namespaces") or []
    if not namespaces:
        raise InvalidInputError("namespaces: give at least one namespace to back up")
    keep = _keeper(params)
    Pipeline.check("backup", params)
    ttl = parse_ttl(params.get("ttl"))
    _check_snapshot_records(params.get("volume_snapshots") or [])
    sealing = Encryption.from_params(params), Signer.from_params(params)
    lock_mode = _check_object_lock(store, params, ttl, check_mode)
    existing = _read_existing(store, name)
    if existing is not None and existing.get("phase") == "Completed":
        _check_same_sealing(existing, *sealing)
        return {"changed": False, "backup": summary(existing, store)}
    prefix = "backups/%s/" % name
    if existing is None:
        check_ours(store, name, store.list_objects(prefix), "replace")
    for ns in namespaces:
        _check_namespace(k8s, ns)
    if check_mode:
        with PrivateWorkdir("backup") as workdir:
            manifest = _write_local(k8s, params, namespaces, keep, ttl, workdir, *sealing)
        manifest["phase"] = "Planned"
        return {"changed": True, "backup": summary(manifest, store), "warnings": manifest["warnings"],
                "actions": manifest["actions"], "skipped_objects": manifest["skipped_objects"],
                "diff": {"before": {}, "after": {"backup": name}}}
    with BackupLock(store, prefix, name) as lock:
        # Another run may have completed it while this one waited: never overwrite a complete backup.
        existing = _read_existing(store, name)
        if existing is not None and existing.get("phase") == "Completed":
            _check_same_sealing(existing, *sealing)
            return {"changed": False, "backup": summary(existing, store)}
        with PrivateWorkdir("backup") as workdir:
            manifest = _write_local(k8s, params, namespaces, keep, ttl, workdir, *sealing)
            # What an earlier run of this collection left (an incomplete or partially failed backup,
            # temporary files, unfinished multipart uploads) is replaced; anything else was refused above.
            leftovers = [k for k in store.list_objects(prefix) if k != lock.key]
            if existing is None:
                check_ours(store, name, leftovers + [lock.key], "replace")
            lock.mark_on_failure()  # from here on a failed run leaves its lock as the mark of what it wrote
            if existing is not None:
                store.delete(key(name, MANIFEST))  # first: from here on it is not a backup
            store.clean_partial(prefix)
            raise_first(parallel_map(store.delete, leftovers))
            # Object Lock keeps the backup's files immutable until it expires (not the lock object).
            retention = (lock_mode, parse_timestamp(manifest["expires_at"])) if lock_mode else None
            # Velero's Backup object goes last before the manifest: Velero syncs a backup as soon as it
            # sees it, so the archive must be there by then.
            files = sorted(f for f in manifest["files"] if f != velero.VELERO_METADATA)
            raise_first(parallel_map(lambda f: store.put_file(key(name, f), local_path(workdir, f), retention), files))
            if velero.VELERO_METADATA in manifest["files"]:
                store.put_file(key(name, velero.VELERO_METADATA), local_path(workdir, velero.VELERO_METADATA),
                               retention)
        lock.check()
        store.put_bytes(key(name, MANIFEST), json.dumps(manifest, indent=2, sort_keys=True).encode(), if_absent=True,
                        retention=retention)
    result = {"changed": True, "backup": summary(manifest, store), "replaced_incomplete": bool(leftovers),
              "api_retries": k8s.retries, "warnings": list(manifest["warnings"]),
              "actions": manifest["actions"], "skipped_objects": manifest["skipped_objects"],
              "diff": {"before": {}, "after": {"backup": name}}}
    if manifest["errors"]:
        missing = "; ".join(describe_error(e) for e in manifest["errors"])
        if not params.get("allow_partial"):
            raise LifeboatError("backup %s is PartiallyFailed: %d resource(s) could not be backed up: %s. It is "
                                "stored as PartiallyFailed; a rerun tries again. Set allow_partial: true to accept "
                                "partial backups." % (name, len(manifest["errors"]), missing), **result)
        result["warnings"].append("backup %s is PartiallyFailed (allow_partial): %s" % (name, missing))
    return result


def _check_object_lock(store, params, ttl, check_mode):
    mode = params.get("object_lock_mode")
    if not mode:
        return None
    if not ttl:
        raise InvalidInputError("object_lock_mode: needs ttl: the backup is kept immutable until it expires")
    problem = store.object_lock_problem()
    if problem:
        raise InvalidInputError("object_lock_mode: %s" % problem)
    return mode


def _read_existing(store, name):
    """An earlier backup's manifest, or None. One this collection cannot read (damaged, or written
    by a newer version) is neither trusted nor replaced."""
    try:
        return read_manifest(store, name)
    except ArchiveError as e:
        raise InvalidInputError("name: %s; this run does not replace what it cannot read: choose another name, or "
                                "delete it with state=absent" % e.message)


def check_ours(store, name, keys, action):
    """Refuse, touching nothing, unless everything stored under the name is an incomplete backup this
    collection wrote: its own file names, and its mark (its lock, or a Velero Backup object it wrote).
    A Velero backup, or files of any other tool, are never replaced or deleted."""
    if not keys:
        return
    backup = _velero_backup(store, name, keys)
    if backup is not None and not velero.written_by_lifeboat(backup):
        raise InvalidInputError("name: %s holds a Velero backup (phase %s), not one of this collection's; refusing "
                                "to %s it: choose another name%s" % (
                                    name, (backup.get("status") or {}).get("phase"), action,
                                    ", or delete it with velero backup delete" if action == "delete" else ""))
    prefix = "backups/%s/" % name
    foreign = sorted(k[len(prefix):] for k in keys if k[len(prefix):] not in own_files(name))
    if foreign:
        raise InvalidInputError("name: %s holds files this collection does not write (%s); refusing to %s them: "
                                "choose another name" % (name, ", ".join(foreign[:5]), action))
    marked = backup is not None or key(name, LOCK_FILE) in keys or key(name, MANIFEST) in keys
    if action == "replace" and not marked:
        raise InvalidInputError("name: %s holds an incomplete backup with no mark of this collection (no %s, no %s "
                                "written by it); refusing to replace it: choose another name, or delete it with "
                                "state=absent if it is yours" % (name, LOCK_FILE, velero.VELERO_METADATA))


def _velero_backup(store, name, keys=None, strict=False):
    """The Velero Backup object stored under the name, or None (keys: the name's listing, if at hand).
    One that cannot be read is not provably ours: UNREADABLE, treated as another tool's (strict: raised)."""
    if keys is not None and key(name, velero.VELERO_METADATA) not in keys:
        return None
    try:
        data = store.get_bytes(key(name, velero.VELERO_METADATA), max_bytes=velero.MAX_METADATA_BYTES)
    except NotFoundError:
        return None
    try:
        return velero.parse_backup(data, name)
    except ArchiveError:
        if strict:
            raise
        return UNREADABLE


def _check_same_sealing(existing, encryption, signer):
    """A complete backup of this name counts as done only if it is what this run would write."""
    name = existing["name"]
    if encryption.enabled and not existing.get("encryption"):
        raise InvalidInputError("name: backup %s exists unencrypted; this run asks for encryption: choose another "
                                "name or delete it first" % name)
    if signer is not None:
        try:
            signer.check(existing)
        except SealError as e:
            raise InvalidInputError("name: backup %s exists and %s" % (name, e.message.split(": ", 1)[1]))


def _check_namespace(k8s, namespace):
    try:
        found = k8s.get_or_none(resource_path("", "v1", "namespaces", None, namespace))
    except ApiError as e:
        if e.status == 403:
            raise ApiError("namespaces: cannot read Namespace %s: %s; a backup needs get on its Namespace object "
                           "(see the collection's minimal Roles in docs/rbac/)" % (namespace, e.message),
                           status=e.status)
        raise
    if found is None:
        raise NotFoundError("namespaces: namespace %r does not exist" % namespace)


def _keeper(params):
    expression = compile_jmespath(params.get("filter"), "filter")
    if expression is None:
        return lambda obj: True

    def keep(obj):
        return bool(search_jmespath(expression, obj, "filter"))
    return keep


class BackupRun:
    """What backup item actions may ask about the run (their context.run)."""

    def __init__(self, namespaces, csi_records):
        self.namespaces = namespaces
        self.csi_records = dict(((r["source"].get("namespace"), r["source"]["pvc"]), r) for r in csi_records)


def _write_local(k8s, params, namespaces, keep, ttl, workdir, encryption, signer):
    started = now()
    name = params["name"]
    problems = Problems()
    resources, failed_groups = discover(k8s)
    chosen = select(resources, params.get("include_resources"), params.get("exclude_resources"), failed_groups,
                    problems)
    names = files_of(name, encryption.enabled, for_velero=True)
    counts = {}
    per_namespace = dict((ns, 0) for ns in namespaces)
    resource_list = SpooledResourceList(workdir)
    snapshots = params.get("volume_snapshots") or []
    # CSI snapshots as Velero's CSI restore finds them: the PVC names its VolumeSnapshot, which is in
    # the archive with its VolumeSnapshotContent (the objects this collection's restore skips).
    csi_records = [r for r in snapshots if r.get("driver", "csi") == "csi" and r.get("name")
                   and not r.get("snapshot_deleted")]
    run = BackupRun(namespaces, csi_records)
    volume_names = {}  # (namespace, pvc) -> its PV
    emitted_snapshot_objects = {}  # (dir, namespace, name) -> object: few, and read again below
    additional = {}  # ItemRef -> the action that named it first
    skipped = []  # the first MAX_REPORTED items actions skipped

    def emit(resource, obj):
        outcome = pipeline.run(ItemContext(resource.dir, run, source=obj), obj)
        for action_name, ref in outcome.additional:
            additional.setdefault(ref, action_name)
        for warning in outcome.warnings:
            problems.warn(warning)
        meta = obj["metadata"]
        if outcome.skip:
            if len(skipped) < MAX_REPORTED:
                skipped.append({"resource": resource.dir, "namespace": meta.get("namespace"), "name": meta["name"],
                                "message": outcome.skip})
            return
        obj = outcome.item
        meta = obj["metadata"]
        if resource.dir == "persistentvolumeclaims":
            volume_names[(meta.get("namespace"), meta["name"])] = (obj.get("spec") or {}).get("volumeName")
        elif resource.dir in SNAPSHOT_OBJECTS:
            emitted_snapshot_objects[(resource.dir, meta.get("namespace"), meta["name"])] = obj
        writer.add_item(resource.dir, obj)
        counts[resource.dir] = counts.get(resource.dir, 0) + 1
        gvk = "%s/%s" % (resource.api_version, resource.kind)
        resource_list.add(gvk, "%s/%s" % (meta["namespace"], meta["name"]) if meta.get("namespace") else meta["name"])
        if resource.namespaced:
            per_namespace[meta.get("namespace")] = per_namespace.get(meta.get("namespace"), 0) + 1

    with Pipeline.from_params("backup", params, problems.warnings) as pipeline:
        with encryption.writer(local_path(workdir, names["archive"])) as archive:
            writer = ArchiveWriter(archive)
            try:
                _collect(k8s, params, namespaces, keep, chosen, resources, emit, additional, problems)
                _collect_snapshot_objects(k8s, resources, csi_records, emitted_snapshot_objects, emit, problems)
            finally:
                writer.close()
        actions = {"run": pipeline.names(), "effects": pipeline.summary()}
    for ns in namespaces:
        if not per_namespace.get(ns):
            problems.warn("namespace %s: no objects were selected besides the Namespace itself (check "
                          "include_resources, exclude_resources, label_selector and filter)" % ns)
    with encryption.writer(local_path(workdir, names["resource_list"])) as out:
        resource_list.write(out)
    resource_list.close()
    with encryption.writer(local_path(workdir, names["volume_snapshots"])) as out:
        write_json_gz(out, snapshots)
    completed = now()
    version = k8s.server_version()
    manifest = {
        "format": MANIFEST_FORMAT, "archive_format": FORMAT_VERSION, "name": name,
        "phase": "PartiallyFailed" if problems.errors else "Completed",
        "started_at": timestamp(started), "completed_at": timestamp(completed), "ttl": params.get("ttl"),
        "expires_at": timestamp(completed + datetime.timedelta(seconds=ttl)) if ttl else None,
        "source": {"host": k8s.host, "server_version": version.get("gitVersion"),
                   "cluster_id": _cluster_id(k8s, problems)},
        "namespaces": list(namespaces),
        "filters": dict((k, params.get(k)) for k in ("include_resources", "exclude_resources", "label_selector",
                                                     "include_cluster_resources", "filter")),
        "counts": dict(sorted(counts.items())), "total_items": sum(counts.values()),
        "volume_snapshots": len(snapshots), "warnings": problems.warnings, "errors": problems.errors,
        "actions": actions, "skipped_objects": skipped,
    }
    copies = data_copies(snapshots)
    if copies:
        manifest["data_copies"] = copies
    if encryption.enabled:
        manifest["encryption"] = encryption.describe()
    else:
        _write_velero_files(manifest, ttl, csi_records, volume_names, names, workdir)
    manifest["files"] = dict((f, {"sha256": sha256_file(local_path(workdir, f)),
                                  "size": os.path.getsize(local_path(workdir, f))}) for f in names.values())
    return signer.sign(manifest) if signer else manifest


def _write_velero_files(manifest, ttl, csi_records, volume_names, names, workdir):
    """What Velero needs to list, describe and restore the backup (its Backup object, logs,
    results, volume information)."""
    with open(local_path(workdir, names["velero_backup"]), "wb") as out:
        out.write(json.dumps(velero.backup_object(manifest, ttl, csi_records), indent=2, sort_keys=True).encode())
    with open(local_path(workdir, names["logs"]), "wb") as out:
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as log:
            log.write(velero.log_lines(manifest))
    for option, data in (("results", velero.results(manifest)),
                         ("volume_info", velero.volume_infos(csi_records, volume_names))):
        with open(local_path(workdir, names[option]), "wb") as out:
            write_json_gz(out, data)


def _collect_snapshot_objects(k8s, resources, csi_records, emitted, emit, problems):
    """The VolumeSnapshot of each CSI record and its VolumeSnapshotContent, unless already in the archive."""
    by_dir = dict((r.dir, r) for r in resources)
    snapshots, contents = by_dir.get(SNAPSHOT_OBJECTS[0]), by_dir.get(SNAPSHOT_OBJECTS[1])
    if not csi_records or snapshots is None or contents is None:
        return
    for record in csi_records:
        vs = emitted.get((snapshots.dir, record["namespace"], record["name"]))
        if vs is None:
            vs = k8s.get_or_none(snapshots.path(record["namespace"], record["name"]))
            if vs is None:
                problems.warn("volume snapshot %s/%s is gone: Velero cannot restore PVC %s from this backup" % (
                    record["namespace"], record["name"], record["source"]["pvc"]))
                continue
            emit(snapshots, vs)
        content_name = (vs.get("status") or {}).get("boundVolumeSnapshotContentName")
        if content_name and (contents.dir, None, content_name) not in emitted:
            content = k8s.get_or_none(contents.path(None, content_name))
            if content is not None:
                emit(contents, content)


def _collect(k8s, params, namespaces, keep, chosen, resources, emit, additional, problems):
    """List what the filters select, then get the additional items the actions named (and what those
    name in turn) that the listing did not already take."""
    jobs = [(r, ns) for r in chosen if r.namespaced for ns in namespaces]
    list_concurrently(k8s, jobs, params.get("label_selector"), keep, emit, problems)
    mode = params.get("include_cluster_resources", "auto")
    if mode == "true":
        cluster_jobs = [(r, None) for r in chosen if not r.namespaced and r.dir != "namespaces"]
        list_concurrently(k8s, cluster_jobs, params.get("label_selector"), keep, emit, problems)
    # The Namespace objects come whatever include_resources says: a restore needs their labels.
    lookup = dict((r.dir, r) for r in chosen)
    lookup.update((r.dir, r) for r in resources if r.dir == "namespaces")
    for ns in namespaces:
        additional.setdefault(ItemRef("namespaces", None, ns), "namespaces")
    builtin = set(builtin_names("backup") + ["namespaces"])
    listed = _listed_check(params, keep, mode, namespaces)
    done = set()
    while True:
        jobs = {}  # (resource, namespace, name) -> the ref that asked for it
        for ref in sorted(set(additional) - done):
            done.add(ref)
            job, why_not = _additional_job(ref, lookup, namespaces, mode)
            if job is None:
                if why_not and additional[ref] not in builtin:
                    problems.warn("%s: %s is not backed up: %s" % (additional[ref], ref.describe(), why_not))
            elif additional[ref] not in builtin or not listed(job[0], job[1], None):
                jobs[job] = ref  # what users name is got, so that a name that exists nowhere is said
        if not jobs:
            return
        found = get_items(k8s, sorted(jobs, key=lambda j: (j[0].dir, j[1] or "", j[2])), problems)
        for resource, obj in found:
            if not listed(resource, obj["metadata"].get("namespace"), obj):
                emit(resource, obj)
        got = set((r.dir, o["metadata"].get("namespace"), o["metadata"]["name"]) for r, o in found)
        for (resource, namespace, name), ref in jobs.items():
            if (resource.dir, namespace, name) not in got and additional[ref] not in builtin:
                problems.warn("%s: %s is not backed up: it does not exist" % (additional[ref], ref.describe()))


def _additional_job(ref, lookup, namespaces, mode):
    """(resource, namespace, name) to get for an additional item, or (None, why not)."""
    resource = lookup.get(ref.resource)
    if resource is None:
        return None, "not a resource type this backup selects (see include_resources, exclude_resources)"
    if not resource.namespaced:
        if mode == "false" and resource.dir != "namespaces":
            return None, "include_cluster_resources is false"
        return (resource, None, ref.name), None
    if ref.namespace not in namespaces:
        return None, "namespace %s is not one of the backup's namespaces" % ref.namespace
    return (resource, ref.namespace, ref.name), None


def _listed_check(params, keep, mode, namespaces):
    """listed(resource, namespace, obj): did the listing already take this item? With obj None: could it
    have (then obj decides, once got)? Checking filters instead of remembering every item keeps memory flat."""
    try:
        selector = parse_selector(params.get("label_selector"))
    except InvalidInputError:
        selector = None  # a selector only the server understands: trust the listing
    has_filters = bool(params.get("label_selector") or params.get("filter"))

    def listed(resource, namespace, obj):
        if resource.namespaced:
            could = namespace in namespaces
        else:
            could = mode == "true" and resource.dir != "namespaces"
        if not could:
            return False
        if obj is None:
            return not has_filters  # without filters the listing took everything of its type
        if selector is None:
            return True
        return selector_matches(selector, obj["metadata"].get("labels")) and keep(obj)
    return listed


def _cluster_id(k8s, problems):
    """The kube-system namespace's UID identifies the source cluster; an identity limited to its
    own namespaces may not read it, and the backup does not need it."""
    try:
        kube_system = k8s.get_or_none(resource_path("", "v1", "namespaces", None, "kube-system")) or {}
    except ApiError as e:
        if e.status != 403:
            raise
        problems.warn("the source cluster's id is recorded as unknown: this identity may not get namespace "
                      "kube-system (only backup_info's source.cluster_id uses it)")
        return None
    return (kube_system.get("metadata") or {}).get("uid")


def data_copies(records):
    """What the manifest says of each volume data copy: enough for backup_info to find and check it."""
    return [{"namespace": r["source"]["namespace"], "pvc": r["source"]["pvc"], "tool": r["data_copy"].get("tool"),
             "repository": r["data_copy"].get("repository"), "snapshot_id": r["data_copy"].get("snapshot_id"),
             "bytes": r["data_copy"].get("bytes"), "files": r["data_copy"].get("files"),
             "empty": bool(r["data_copy"].get("empty"))}
            for r in records if isinstance(r.get("data_copy"), dict)]


def _check_snapshot_records(records):
    for i, record in enumerate(records):
        if not isinstance(record, dict) or not record.get("snapshot_id") or not (record.get("source") or {}).get("pvc"):
            raise InvalidInputError("volume_snapshots[%d]: expected a ready snapshot record from volume_snapshot "
                                    "(with snapshot_id and source.pvc)" % i)


def delete_backup(store, name, check_mode=False):
    prefix = "backups/%s/" % name
    keys = store.list_objects(prefix)
    if not keys:
        if not check_mode:
            store.clean_partial(prefix)
        return {"changed": False, "backup": {}}
    try:
        manifest = read_manifest(store, name)
    except ArchiveError:
        manifest = None  # deleting a damaged backup is what the user asks for
    if manifest is None:
        check_ours(store, name, keys, "delete")
    _check_not_locked(store, name, keys)
    if check_mode:
        return {"changed": True, "backup": summary(manifest, store) if manifest else {"name": name,
                                                                                      "phase": "Incomplete"},
                "diff": {"before": {"backup": name}, "after": {}}}
    with BackupLock(store, prefix, name) as lock:
        # Manifest first: the backup stops being a backup at once, even if the rest fails.
        manifest_key = key(name, MANIFEST)
        if manifest_key in keys:
            store.delete(manifest_key)
        store.clean_partial(prefix)
        raise_first(parallel_map(store.delete, [k for k in keys if k not in (manifest_key, lock.key)]))
    return {"changed": True, "backup": summary(manifest, store) if manifest else {"name": name, "phase": "Incomplete"},
            "diff": {"before": {"backup": name}, "after": {}}}


def _check_not_locked(store, name, keys):
    """Refuse before deleting anything: on a versioned bucket a delete would only hide a locked
    backup behind delete markers, and a half-deleted backup helps no one."""
    for _key, found, error in parallel_map(store.retention, [k for k in keys if not k.endswith("/" + LOCK_FILE)]):
        if error is not None:
            raise error
        if found and found[1] > now():
            raise InvalidInputError("state: backup %s is under S3 Object Lock (%s) until %s and cannot be deleted "
                                    "before then" % (name, found[0], timestamp(found[1].astimezone(datetime.timezone.utc))))


# ---------------------------------------------------------------- backup_info

def backup_info(store, params):
    check_verify = params.get("verify")
    signer = Signer.from_params(params)
    if params.get("name"):
        name = check_name(params["name"])
        info = describe_backup(store, name, check_verify, signer, with_manifest=True)
        if info is None:
            raise NotFoundError("name: backup %r does not exist in %s" % (name, store.url))
        return {"changed": False, "backups": [info]}
    backups = []
    for name, info, error in parallel_map(lambda n: describe_backup(store, n, check_verify, signer),
                                          store.list_prefixes("backups/")):
        if error is not None:
            backups.append({"name": name, "phase": "Damaged", "complete": False,
                            "problem": getattr(error, "message", str(error))})
        elif info is not None:
            backups.append(info)
    return {"changed": False, "backups": backups}


def describe_backup(store, name, check_verify=False, signer=None, with_manifest=False):
    """backup_info's entry for one backup, or None when nothing of it is stored."""
    if not NAME.match(name):  # a directory someone else put there: shown, never used as a path
        return {"name": name, "phase": "Damaged", "complete": False, "problem": "not a valid backup name"}
    try:
        manifest = read_manifest(store, name)
    except ArchiveError as e:
        return {"name": name, "phase": "Damaged", "complete": False, "problem": e.message}
    if manifest is None:
        keys = store.list_objects("backups/%s/" % name)
        # Some S3 servers (SeaweedFS) keep an empty "directory" after its files are deleted: not a backup.
        if not keys:
            return None
        backup = _velero_backup(store, name, keys)
        if backup is not None and not velero.written_by_lifeboat(backup):
            return _describe_velero(store, name, backup)
        phase = "Incomplete"
        lock_key = key(name, LOCK_FILE)
        if lock_key in keys and not is_stale(read_holder(store, lock_key) or {}):
            phase = "InProgress"
        return {"name": name, "phase": phase, "complete": False}
    info = dict(summary(manifest, store), complete=manifest.get("phase") == "Completed")
    if with_manifest:
        info["manifest"] = manifest
    if signer is not None:
        try:
            signer.check(manifest)
            info["signature_valid"] = True
        except SealError as e:
            info["signature_valid"] = False
            info["problem"] = e.message
    if check_verify:
        problem, elsewhere = verify_copies(store, manifest)
        problem = verify(store, manifest) or problem
        if elsewhere:
            info["copies_not_checked"] = elsewhere
        info["verified"] = problem is None
        if problem:
            info["problem"] = problem
    return info


def _describe_velero(store, name, backup):
    if backup is UNREADABLE:
        return {"name": name, "phase": "Damaged", "complete": False, "written_by": velero.VELERO,
                "problem": "its velero-backup.json cannot be read"}
    expires = (backup.get("status") or {}).get("expiration")
    return velero.describe(backup, name, "%s/backups/%s" % (store.url, name),
                           bool(expires) and parse_timestamp(expires) <= now())


def read_velero_backup(store, name):
    """The Backup object of a backup Velero wrote, or None; one that cannot be read is refused."""
    backup = _velero_backup(store, name, strict=True)
    return None if backup is None or velero.written_by_lifeboat(backup) else backup


def verify_copies(store, manifest):
    """(problem or None, [repositories not checked]): each volume data copy's repository config and snapshot
    are in storage (restic's layout: `config`, `snapshots/<id>`). Copies outside the backup's own storage
    cannot be reached with its store and are listed as not checked."""
    where = store.url + "/"
    elsewhere = []
    for copy in manifest.get("data_copies", []):
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


def verify(store, manifest, workdir=None):
    """Download every file and check its SHA-256; None if all match, else the problem.
    The manifest was checked (check_manifest): it lists exactly the backup's own files.
    A Velero backup's files have no checksum (None): they are only downloaded."""
    if workdir is None:
        with PrivateWorkdir("verify") as own:
            return verify(store, manifest, own)
    for filename, expected in sorted(manifest["files"].items()):
        local = local_path(workdir, filename)
        try:
            store.get_file(key(manifest["name"], filename), local)
        except NotFoundError:
            return "%s is missing" % filename
        if expected["sha256"] is None:
            continue
        actual = sha256_file(local)
        if actual != expected["sha256"]:
            return "%s has SHA-256 %s, the manifest says %s" % (filename, actual, expected["sha256"])
    return None
