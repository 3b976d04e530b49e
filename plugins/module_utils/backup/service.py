# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""object_backup: write a backup (every file first, the manifest last, under the backup's lock) or
delete one (the manifest first). Everything that can be refused is refused before the bucket or
the cluster is touched (the options were checked at the module boundary)."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import datetime
import gzip
import json
import os
from dataclasses import replace
from typing import Any, Dict, List, Optional, Set, TYPE_CHECKING

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.base import ItemContext, ItemRef
from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.pipeline import Pipeline, builtin_names
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.collector import (
    cleaned,
    select,
    Problems,
    discover,
    get_items,
    list_concurrently,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.lock import BackupLock
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.namespaces import (
    NamespaceChoice, appeared, chosen_namespaces, listed_again)
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.stored import (
    check_ours,
    check_same_sealing,
    delete_backup,
    read_existing,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.records import claim_of, record_driver
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.clock import now, parse_timestamp, timestamp
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.concurrency import parallel_map, raise_first
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ApiError,
    InvalidInputError,
    LifeboatError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.workdir import PrivateWorkdir
from ansible_collections.lifeboat.k8s.plugins.module_utils.format import velero
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.archive import (
    FORMAT_VERSION,
    ArchiveWriter,
    SpooledResourceList,
    sha256_file,
    write_json_gz,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.layout import MANIFEST, files_of, key, local_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.manifest import (
    MANIFEST_FORMAT,
    Manifest,
    data_copies,
    describe_error,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.selectors import parse_selector, selector_matches

if TYPE_CHECKING:  # the types only: at run time the services do not import their callers' options
    from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.base import ObjectStore
    from ansible_collections.lifeboat.k8s.plugins.module_utils.options.backup import BackupOptions


MAX_REPORTED = 100
SNAPSHOT_OBJECTS = ("volumesnapshots.snapshot.storage.k8s.io", "volumesnapshotcontents.snapshot.storage.k8s.io")


def run_backup(k8s, store: ObjectStore, options: BackupOptions, check_mode=False):
    """object_backup with BackupOptions: the backup written (or planned, or deleted) and what it holds."""
    name = options.name
    if options.state == "absent":
        return delete_backup(store, name, check_mode)
    lock_mode = _check_object_lock(store, options)
    existing = read_existing(store, name)
    if existing is not None and existing.phase == "Completed":
        check_same_sealing(existing, options.encryption, options.signer)
        return {"changed": False, "backup": existing.summary(store.url)}
    prefix = "backups/%s/" % name
    if existing is None:
        check_ours(store, name, store.list_objects(prefix), "replace")
    choice = chosen_namespaces(k8s, options)
    options = replace(options, namespaces=choice.names)
    for ns in options.namespaces if not options.selects_namespaces else ():  # listed ones exist
        _check_namespace(k8s, ns)
    if check_mode:
        with PrivateWorkdir("backup") as workdir:
            manifest = replace(_write_local(k8s, options, workdir, choice), phase="Planned")
        return _result(manifest, store, api_warnings=k8s.warnings.summary(), warnings=manifest.warnings)
    with BackupLock(store, prefix, name) as lock:
        # Another run may have completed it while this one waited: never overwrite a complete backup.
        existing = read_existing(store, name)
        if existing is not None and existing.phase == "Completed":
            check_same_sealing(existing, options.encryption, options.signer)
            return {"changed": False, "backup": existing.summary(store.url)}
        with PrivateWorkdir("backup") as workdir:
            manifest = _write_local(k8s, options, workdir, choice)
            leftovers = _clear_earlier_run(store, name, lock, existing)
            # Object Lock keeps the backup's files immutable until it expires (not the lock object).
            retention = (lock_mode, parse_timestamp(manifest.expires_at)) if lock_mode else None
            _upload(store, name, manifest, workdir, retention)
        lock.check()
        store.put_bytes(key(name, MANIFEST), manifest.encoded(), if_absent=True, retention=retention)
    result = _result(manifest, store, replaced_incomplete=bool(leftovers), api_retries=k8s.retries,
                     api_warnings=k8s.warnings.summary(), warnings=list(manifest.warnings))
    if manifest.errors:
        missing = "; ".join(describe_error(e) for e in manifest.errors)
        if not options.allow_partial:
            raise LifeboatError("backup %s is PartiallyFailed: %d resource(s) could not be backed up: %s. It is "
                                "stored as PartiallyFailed; a rerun tries again. Set allow_partial: true to accept "
                                "partial backups." % (name, len(manifest.errors), missing), **result)
        result["warnings"].append("backup %s is PartiallyFailed (allow_partial): %s" % (name, missing))
    return result


def _result(manifest, store: ObjectStore, **extra):
    return dict({"changed": True, "backup": manifest.summary(store.url), "actions": manifest.stored["actions"],
                 "skipped_objects": manifest.stored["skipped_objects"],
                 "diff": {"before": {}, "after": {"backup": manifest.name}}}, **extra)


def _check_object_lock(store: ObjectStore, options: BackupOptions):
    if not options.object_lock_mode:
        return None
    problem = store.object_lock_problem()
    if problem:
        raise InvalidInputError("object_lock_mode: %s" % problem)
    return options.object_lock_mode


def _clear_earlier_run(store: ObjectStore, name, lock, existing):
    """Remove what an earlier run of this collection left (an incomplete or partially failed backup,
    temporary files, unfinished multipart uploads); anything else was refused before. Returns its keys."""
    prefix = "backups/%s/" % name
    leftovers = [k for k in store.list_objects(prefix) if k != lock.key]
    if existing is None:
        check_ours(store, name, leftovers + [lock.key], "replace")
    lock.mark_on_failure()  # from here on a failed run leaves its lock as the mark of what it wrote
    if existing is not None:
        store.delete(key(name, MANIFEST))  # first: from here on it is not a backup
    store.clean_partial(prefix)
    raise_first(parallel_map(store.delete, leftovers))
    return leftovers


def _upload(store: ObjectStore, name, manifest, workdir, retention):
    # Velero's Backup object goes last before the manifest: Velero syncs a backup as soon as it
    # sees it, so the archive must be there by then.
    files = sorted(f for f in manifest.files if f != velero.VELERO_METADATA)
    raise_first(parallel_map(lambda f: store.put_file(key(name, f), local_path(workdir, f), retention), files))
    if velero.VELERO_METADATA in manifest.files:
        store.put_file(key(name, velero.VELERO_METADATA), local_path(workdir, velero.VELERO_METADATA), retention)


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


class BackupRun:
    """What backup item actions may ask about the run (their context.run)."""

    def __init__(self, namespaces, csi_records):
        self.namespaces = namespaces
        self.csi_records = dict((claim_of(r), r) for r in csi_records)


def _write_local(k8s, options: BackupOptions, workdir, choice: NamespaceChoice):
    """Every file of the backup written into workdir; its Manifest (signed when a signing key is given)."""
    started = now()
    writer = _LocalBackup(k8s, options, workdir, choice)
    writer.problems.warnings.extend(choice.warnings)
    writer.collect()
    stored = writer.manifest(started)
    if not options.encryption.enabled:
        _write_velero_files(stored, options.ttl_seconds, writer.csi_records, writer.volume_names, writer.names,
                            workdir)
    stored["files"] = dict((f, {"sha256": sha256_file(local_path(workdir, f)),
                                "size": os.path.getsize(local_path(workdir, f))}) for f in writer.names.values())
    if options.signer:
        stored = options.signer.sign(stored)
    return Manifest.from_dict(stored, options.name)


class _LocalBackup:
    """One backup being written into the run's private directory: objects listed, passed through the
    item actions, and appended to the archive as they stream in (memory does not grow with the backup)."""

    def __init__(self, k8s, options: BackupOptions, workdir, choice: NamespaceChoice):
        self.k8s, self.options, self.workdir = k8s, options, workdir
        self.choice = choice  # cluster_wide: list each namespaced type once across the cluster
        self.problems = Problems()
        self.names = files_of(options.name, options.encryption.enabled, for_velero=True)
        self.counts: Dict[str, int] = {}
        self.per_namespace = dict((ns, 0) for ns in options.namespaces)
        self.namespace_objects: Set[str] = set()  # the Namespace objects written: one missing was deleted meanwhile
        self.resource_list = SpooledResourceList(workdir)
        # CSI snapshots as Velero's CSI restore finds them: the PVC names its VolumeSnapshot, which is in
        # the archive with its VolumeSnapshotContent (the objects this collection's restore skips).
        self.csi_records = [r for r in options.volume_snapshots if record_driver(r) == "csi" and r.get("name")
                            and not r.get("snapshot_deleted")]
        self.run = BackupRun(options.namespaces, self.csi_records)
        self.volume_names: Dict[Any, Any] = {}  # (namespace, pvc) -> its PV
        self.emitted_snapshot_objects: Dict[Any, Any] = {}  # (dir, namespace, name) -> object: few, and read again below
        self.additional: Dict[Any, str] = {}  # ItemRef -> the action that named it first
        self.skipped: List[Dict[str, Any]] = []  # the first MAX_REPORTED items actions skipped
        self.pipeline: Any = None
        self.writer: Any = None
        self.actions: Optional[Dict[str, Any]] = None

    def collect(self):
        k8s, options, problems, encryption = self.k8s, self.options, self.problems, self.options.encryption
        resources, failed_groups = discover(k8s)
        chosen = select(resources, options.include_resources, options.exclude_resources, failed_groups, problems)
        with Pipeline.start(options.actions, problems.warnings) as self.pipeline:
            with encryption.writer(local_path(self.workdir, self.names["archive"])) as archive:
                self.writer = ArchiveWriter(archive)
                try:
                    _collect(k8s, options, chosen, resources, self.emit, self.additional, problems, self.choice)
                    _collect_snapshot_objects(k8s, resources, self.csi_records, self.emitted_snapshot_objects,
                                              self.emit, problems)
                finally:
                    self.writer.close()
            self.actions = {"run": self.pipeline.names(), "effects": self.pipeline.summary()}
        for ns in options.namespaces:
            if ns not in self.namespace_objects:
                problems.warn("namespace %s was deleted while it was backed up: what was listed of it before is "
                              "kept" % ns)
            elif not self.per_namespace.get(ns) and not options.selects_namespaces:
                # Named, so expected to hold something; among every namespace (or a selector's) empty ones are usual.
                problems.warn("namespace %s: no objects were selected besides the Namespace itself (check "
                              "include_resources, exclude_resources, label_selector and filter)" % ns)
        with encryption.writer(local_path(self.workdir, self.names["resource_list"])) as out:
            self.resource_list.write(out)
        self.resource_list.close()
        with encryption.writer(local_path(self.workdir, self.names["volume_snapshots"])) as out:
            write_json_gz(out, options.volume_snapshots)

    def emit(self, resource, obj):
        outcome = self.pipeline.run(ItemContext(resource.dir, self.run, source=obj), obj)
        for action_name, ref in outcome.additional:
            self.additional.setdefault(ref, action_name)
        for warning in outcome.warnings:
            self.problems.warn(warning)
        meta = obj["metadata"]
        if outcome.skip:
            if len(self.skipped) < MAX_REPORTED:
                self.skipped.append({"resource": resource.dir, "namespace": meta.get("namespace"),
                                     "name": meta["name"], "message": outcome.skip})
            return
        obj = outcome.item
        meta = obj["metadata"]
        if resource.dir == "persistentvolumeclaims":
            self.volume_names[(meta.get("namespace"), meta["name"])] = (obj.get("spec") or {}).get("volumeName")
        elif resource.dir in SNAPSHOT_OBJECTS:
            self.emitted_snapshot_objects[(resource.dir, meta.get("namespace"), meta["name"])] = obj
        self.writer.add_item(resource.dir, obj)
        self.counts[resource.dir] = self.counts.get(resource.dir, 0) + 1
        gvk = "%s/%s" % (resource.api_version, resource.kind)
        self.resource_list.add(gvk, "%s/%s" % (meta["namespace"], meta["name"]) if meta.get("namespace")
                               else meta["name"])
        if resource.namespaced:
            self.per_namespace[meta.get("namespace")] = self.per_namespace.get(meta.get("namespace"), 0) + 1
        elif resource.dir == "namespaces":
            self.namespace_objects.add(meta["name"])

    def manifest(self, started):
        """The manifest's stored form, less its files."""
        options, problems, ttl = self.options, self.problems, self.options.ttl_seconds
        completed = now()
        version = self.k8s.server_version()
        stored = {
            "format": MANIFEST_FORMAT, "archive_format": FORMAT_VERSION, "name": options.name,
            "phase": "PartiallyFailed" if problems.errors else "Completed",
            "started_at": timestamp(started), "completed_at": timestamp(completed), "ttl": options.ttl,
            "expires_at": timestamp(completed + datetime.timedelta(seconds=ttl)) if ttl else None,
            "source": {"host": self.k8s.host, "server_version": version.get("gitVersion"),
                       "cluster_id": _cluster_id(self.k8s, problems)},
            "namespaces": list(options.namespaces), "filters": options.filters(),
            "counts": dict(sorted(self.counts.items())), "total_items": sum(self.counts.values()),
            "items_per_namespace": {ns: self.per_namespace.get(ns, 0) for ns in options.namespaces},
            "volume_snapshots": len(options.volume_snapshots), "warnings": problems.warnings,
            "errors": problems.errors, "actions": self.actions, "skipped_objects": self.skipped,
        }
        copies = data_copies(options.volume_snapshots)
        if copies:
            stored["data_copies"] = copies
        if options.encryption.enabled:
            stored["encryption"] = options.encryption.describe()
        return stored


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


def _collect(k8s, options: BackupOptions, chosen, resources, emit, additional, problems, choice: NamespaceChoice):
    """List what the filters select, then get the additional items the actions named (and what those
    name in turn) that the listing did not already take."""
    namespaces, keep, mode = options.namespaces, options.keep, options.include_cluster_resources
    namespaced = [r for r in chosen if r.namespaced]
    if choice.cluster_wide:
        # One LIST per type across the cluster instead of one per (type, namespace); a type this identity
        # may not list cluster-wide (403) is listed per namespace.
        selected = set(namespaces)
        refused: List[Any] = []
        list_concurrently(k8s, [(r, None) for r in namespaced], options.label_selector,
                          lambda obj: obj["metadata"].get("namespace") in selected and keep(obj), emit, problems,
                          refused)
        namespaced = refused
    jobs = [(r, ns) for r in namespaced for ns in namespaces]
    list_concurrently(k8s, jobs, options.label_selector, keep, emit, problems)
    # The listing decides: a namespace that appeared meanwhile and matches the selection is taken too. The
    # run's list grows in place: the actions' view of the run, the checks below and the manifest read it.
    namespaces_now = listed_again(k8s, options)
    late = appeared(namespaces_now, options, choice, namespaces) if namespaces_now is not None else []
    if late:
        problems.warn("namespaces %s appeared during the backup and match its selection: backed up" % ", ".join(late))
        list_concurrently(k8s, [(r, ns) for r in chosen if r.namespaced for ns in late], options.label_selector,
                          keep, emit, problems)
        namespaces[:] = sorted(namespaces + late)
    if mode == "true":
        cluster_jobs = [(r, None) for r in chosen if not r.namespaced and r.dir != "namespaces"]
        list_concurrently(k8s, cluster_jobs, options.label_selector, keep, emit, problems)
    # The Namespace objects come whatever include_resources says: a restore needs their labels.
    lookup = dict((r.dir, r) for r in chosen)
    lookup.update((r.dir, r) for r in resources if r.dir == "namespaces")
    for ns in namespaces:
        additional.setdefault(ItemRef("namespaces", None, ns), "namespaces")
    builtin = set(builtin_names("backup") + ["namespaces"])
    listed = _listed_check(options)
    done = _listed_namespace_objects(lookup["namespaces"], namespaces_now, namespaces, emit)
    while True:
        wanted: Dict[Any, Any] = {}  # (resource, namespace, name) -> the ref that asked for it
        for ref in sorted(set(additional) - done):
            done.add(ref)
            job, why_not = _additional_job(ref, lookup, namespaces, mode)
            if job is None:
                if why_not and additional[ref] not in builtin:
                    problems.warn("%s: %s is not backed up: %s" % (additional[ref], ref.describe(), why_not))
            elif additional[ref] not in builtin or not listed(job[0], job[1], None):
                wanted[job] = ref  # what users name is got, so that a name that exists nowhere is said
        if not wanted:
            return
        found = get_items(k8s, sorted(wanted, key=lambda j: (j[0].dir, j[1] or "", j[2])), problems)
        for resource, obj in found:
            if not listed(resource, obj["metadata"].get("namespace"), obj):
                emit(resource, obj)
        got = set((r.dir, o["metadata"].get("namespace"), o["metadata"]["name"]) for r, o in found)
        for (resource, namespace, name), ref in wanted.items():
            if (resource.dir, namespace, name) not in got and additional[ref] not in builtin:
                problems.warn("%s: %s is not backed up: it does not exist" % (additional[ref], ref.describe()))


def _listed_namespace_objects(resource, listed, namespaces, emit) -> Set[Any]:
    """The Namespace objects of the backup's namespaces from the listing that looked for late ones, rather than a GET
    each (2,500 GETs at 2,500 namespaces). Returns the refs so taken; the others are got one by one."""
    wanted, taken = set(namespaces), set()
    for namespace in listed or ():
        name = namespace["metadata"]["name"]
        if name in wanted:
            emit(resource, cleaned(resource, namespace))
            taken.add(ItemRef("namespaces", None, name))
    return taken


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


def _listed_check(options: BackupOptions):
    """listed(resource, namespace, obj): did the listing already take this item? With obj None: could it
    have (then obj decides, once got)? Checking filters instead of remembering every item keeps memory flat."""
    namespaces, keep, mode = options.namespaces, options.keep, options.include_cluster_resources
    try:
        selector = parse_selector(options.label_selector)
    except InvalidInputError:
        selector = None  # a selector only the server understands: trust the listing
    has_filters = bool(options.label_selector or options.filter)

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
