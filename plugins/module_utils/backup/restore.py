# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restoring a backup into a cluster.

Nothing in the cluster is touched until the manifest's checksums (and, with a
signing key, its signature) are verified, the user's actions are checked (and
their commands started), the whole archive has been read and checked against
the manifest (confine.py), the snapshot records have been checked against the
archive and, where the driver can, the snapshots' real sources, and every
object has been planned (restore_plan.py: the restore item actions). Objects
are then created tier by tier (ordering.tier), concurrently within a tier. One bad object does not
stop the rest: each failure is reported with the object and the API's message.

The selected objects and their plans wait in a spill (spill.py: encrypted, on disk), and are
read back a chunk at a time, so memory stays flat however large the backup.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.pipeline import Pipeline
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup import restore_plan
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.archive import (
    ArchiveError,
    Limits,
    read_items,
    read_json_gz,
    split_resource_dir,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.backups import (
    DNS_LABEL,
    check_name,
    files_of,
    key,
    local_path,
    read_manifest,
    read_velero_backup,
    verify,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup import velero
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.confine import Confinement
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.restore_storage import (
    STORAGE_CLASSES,
    TargetStorage,
    check_mapping,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.sealing import Encryption, Signer, open_sealed
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.spill import CHUNK, Spill, tier_key
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.collector import describe_error
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.compare import comparable, is_subset
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.selectors import (
    parse_selector,
    resource_matches,
    selector_matches,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.registry import block_store, driver_names
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.concurrency import (
    MAX_WORKERS,
    batches_concurrently,
    error_text,
    parallel_map,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ConflictError,
    InvalidInputError,
    LifeboatError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.waiting import wait_timeout, wait_until
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.workdir import PrivateWorkdir
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.base import MoverConfig
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.copies import VolumeCopies, copy_identity
from ansible_collections.lifeboat.k8s.plugins.module_utils.hooks.restore import RestoreHooks
from ansible_collections.lifeboat.k8s.plugins.module_utils.hooks.running import blocking, hook_warnings, summary

RESTORED_BY = "lifeboat.k8s/restored-from-backup"
CRDS = "customresourcedefinitions.apiextensions.k8s.io"
OUTCOMES = ("created", "updated", "unchanged", "skipped", "failed")


class Item:
    """One backed-up object and what the restore does with it."""

    def __init__(self, res_dir, source, target=None, skip=None, refused=False, record=None):
        self.res_dir = res_dir
        self.source = source
        self.target = target
        self.skip = skip
        self.refused = refused
        self.record = record  # the snapshot record its volume comes back from (a PVC)
        self.outcome = None
        self.message = None

    @property
    def namespace(self):
        return (self.target or self.source).get("metadata", {}).get("namespace")

    @property
    def name(self):
        return (self.target or self.source)["metadata"]["name"]

    def path(self, name=None):
        plural, group = split_resource_dir(self.res_dir)
        version = (self.target or self.source)["apiVersion"].rpartition("/")[2]  # actions keep apiVersion
        return resource_path(group, version, plural, self.namespace, name)

    def report(self):
        entry = {"resource": self.res_dir, "namespace": self.namespace, "name": self.name}
        if self.message:
            entry["message"] = self.message
        return entry


def run_restore(k8s, store, params, check_mode=False):
    name = check_name(params["name"])
    k8s.check_reachable("the target cluster")
    if params.get("state") == "absent":
        return remove_restore(k8s, store, params, check_mode)
    limits = Limits.from_option(params.get("limits"))
    manifest = read_manifest(store, name) or _velero_manifest(store, name, limits)
    signer, encryption = Signer.from_params(params), Encryption.from_params(params)
    warnings = []
    by_velero = manifest.get("written_by") == velero.VELERO
    if by_velero:
        warnings.append("backup %s was written by Velero: it carries no checksums, so what it holds was checked "
                        "for consistency but could not be verified" % name)
    if signer is not None:
        signer.check(manifest)
    elif manifest.get("signature"):
        warnings.append("backup %s is signed, but its signature was not checked (no signing_key given)" % name)
    mapping = check_namespaces(manifest, params)
    storage = TargetStorage(k8s, check_mapping(params.get("storage_class_mapping")))
    confinement = Confinement(manifest, params, mapping)
    selector = parse_selector(params.get("label_selector"))
    hooks = RestoreHooks(k8s, params.get("restore_hooks"), params.get("hook_annotations", False),
                         wait_timeout(params))
    sealed = manifest.get("encryption")
    with PrivateWorkdir("restore") as workdir:
        with Spill(workdir) as spill:
            with Pipeline.from_params("restore", params, warnings) as pipeline:
                problem = verify(store, manifest, workdir)
                if problem:
                    raise ArchiveError("backup %s failed its checksum check: %s; nothing was restored" % (
                        name, problem))
                files = files_of(name, bool(sealed))
                with open_sealed(local_path(workdir, files["archive"]), sealed, encryption.identities,
                                 files["archive"]) as archive:
                    facts = select(read_items(archive, limits), params, selector, confinement, spill)
                if by_velero:
                    records = _velero_records(store, name, limits, spill, warnings)
                else:
                    with open_sealed(local_path(workdir, files["volume_snapshots"]), sealed, encryption.identities,
                                     files["volume_snapshots"]) as side_file:
                        records = read_json_gz(side_file, files["volume_snapshots"], limits)
                snapshots = confinement.check_records(records, driver_names())
                if not params.get("restore_volumes", True):
                    snapshots = []  # the claims come back empty; no snapshot or data copy is looked at
                _check_snapshot_origins(k8s, snapshots, confinement, params.get("block_store_options"))
                sources = VolumeSources(k8s, params, storage, facts, snapshots)
                warnings.extend(storage.check(facts, lambda obj: confinement.cluster_refusal(
                    STORAGE_CLASSES, obj, facts.claims) is None, static=sources.statically_bound))
                warnings.extend(sources.warnings)
                copies, from_copy = sources.copies()
                warnings.extend(plan(k8s, spill, facts, params, mapping, snapshots, pipeline, confinement,
                                     storage.mapping))
                actions = pipeline.summary()
            restorer = Restorer(k8s, params, mapping, check_mode, hooks, copies, from_copy)
            restorer.warnings.extend(warnings)
            if manifest.get("phase") != "Completed":
                restorer.warnings.append("backup %s is %s: it lacks %s" % (
                    name, manifest.get("phase"), "; ".join(describe_error(e) for e in manifest.get("errors") or [])
                    or "what its errors say"))
            result = restorer.run(spill, manifest)
    if not check_mode:
        _run_hooks(hooks, result)
    result["api_retries"] = k8s.retries
    result["actions"] = actions
    return result


def _run_hooks(hooks, result):
    """Run the post-restore hooks of the pods of what the restore created; a failed Fail hook fails the task."""
    outcomes = hooks.run()
    if not outcomes:
        return
    result["hooks"] = outcomes
    result["warnings"].extend(hook_warnings(outcomes))
    failed = [o for o in outcomes if blocking(o)]
    if failed:
        raise LifeboatError("restore_hooks: %d post-restore hook(s) failed; the objects are restored; first: %s" % (
            len(failed), summary(failed[0])), **result)


def _versions(crd):
    return sorted(v.get("name") for v in (crd.get("spec") or {}).get("versions") or [] if isinstance(v, dict))


def _record_crashes(outcomes):
    """An unexpected exception in a worker fails its item with the exception's type, text and place."""
    for item, _result, error in outcomes:
        if error is not None:
            item.outcome, item.message = "failed", "unexpected error: %s" % error_text(error)


def _velero_manifest(store, name, limits):
    """A backup Velero wrote, seen through a manifest's fields; refuses what is not a backup."""
    backup = read_velero_backup(store, name)
    if backup is None:
        if store.list_objects("backups/%s/" % name):
            raise InvalidInputError("name: backup %r is incomplete (it has no manifest); refusing to restore "
                                    "from it" % name)
        raise NotFoundError("name: backup %r does not exist in %s" % (name, store.url))
    files = files_of(name)
    resource_list = _side_file(store, name, files["resource_list"], limits)
    return velero.as_manifest(backup, name, files["archive"], resource_list)


def _side_file(store, name, filename, limits):
    """A gzipped JSON file of the backup, or None if it is not there (Velero writes some only when needed)."""
    try:
        data = store.get_bytes(key(name, filename), max_bytes=limits.side_file_size + 1)
    except NotFoundError:
        return None
    if len(data) > limits.side_file_size:
        raise limits.refuse("side_file_size", filename)
    return read_json_gz(io.BytesIO(data), filename, limits)


def _velero_records(store, name, limits, spill, warnings):
    """Snapshot records of a Velero backup's CSI snapshots, from its volume information."""
    claims = dict(((n, o["metadata"]["name"]), o) for n, o in spill.sources("persistentvolumeclaims"))
    try:
        records, problems = velero.records_from(
            _side_file(store, name, velero.velero_files(name)["volume_info"], limits), claims)
    except ArchiveError as e:
        raise ArchiveError("backup %s: %s: refusing it" % (name, e.message))
    warnings.extend(problems)
    warnings.extend(velero.native_snapshot_warnings(
        _side_file(store, name, files_of(name)["volume_snapshots"], limits)))
    return records


def remove_restore(k8s, store, params, check_mode=False):
    """Undo a restore into new namespaces: delete the target namespaces this backup's restore
    created (they carry its label) with their restored volumes; leave every other namespace alone."""
    name = params["name"]
    mapping = dict(params.get("namespace_mapping") or {})
    manifest = read_manifest(store, name)
    sources = (manifest or {}).get("namespaces") or list(mapping)
    targets = sorted(set(mapping.get(ns, ns) for ns in sources))
    deleted, left_alone = [], []
    blocks = [block_store(driver, k8s, params.get("block_store_options")) for driver in driver_names()]
    for ns in targets:
        path = resource_path("", "v1", "namespaces", None, ns)
        current = k8s.get_or_none(path)
        if current is None:
            continue
        if (current["metadata"].get("labels") or {}).get(RESTORED_BY) != name:
            left_alone.append("namespace %s was not created by a restore of %s; left alone" % (ns, name))
            continue
        deleted.append(ns)
        if check_mode:
            continue
        # Restored volumes may own cluster-scoped helpers (CSI snapshot contents, PVs): each driver
        # deletes what it restored, before the namespace goes.
        for block in blocks:
            for volume in block.restored_volumes(ns):
                block.delete_volume(volume)
        k8s.delete(path)
    if deleted and not check_mode and params.get("wait", True):
        wait_until(lambda: all(k8s.get_or_none(resource_path("", "v1", "namespaces", None, ns)) is None
                               for ns in deleted), wait_timeout(params),
                   "namespaces %s to be deleted" % ", ".join(deleted))
    result = {"changed": bool(deleted), "deleted_namespaces": deleted, "warnings": left_alone}
    if deleted:
        result["diff"] = {"before": {"namespaces": deleted}, "after": {"namespaces": []}}
    return result


class VolumeSources:
    """Where each selected volume's data comes from, decided before any change. restore_volume_data: copy takes
    every copy; snapshot every snapshot; auto the snapshot where the target cluster can use it and it still exists,
    else the copy. A volume with neither is refused (copies() raises), naming it."""

    def __init__(self, k8s, params, storage, facts, records):
        self.k8s, self.params = k8s, params
        self.mode = params.get("restore_volume_data") or "auto"
        self.records = [r for r in records if _key(r) in facts.claims]
        self.warnings, self.refused, self.used = [], [], []
        self._blocks = {}
        if self.mode == "copy":
            lacking = ["%s/%s" % _key(r) for r in self.records if not r.get("data_copy")]
            if lacking:
                raise InvalidInputError("restore_volume_data: copy, but the backup holds no data copy of PVC %s" % (
                    ", ".join(lacking[:10])))
        claim_classes = dict(((namespace, claim), cls) for _what, namespace, claim, cls in facts.volume_classes
                             if claim is not None)
        for record in self.records:
            self._decide(record, storage.describe(storage.target_class(claim_classes.get(_key(record)))))

    def block(self, record):
        driver = record.get("driver", "csi")
        if driver not in self._blocks:
            self._blocks[driver] = block_store(driver, self.k8s, self.params.get("block_store_options"))
        return self._blocks[driver]

    def _decide(self, record, target_class):
        if self.mode == "copy":
            self.used.append(record)
            return
        unusable = self.block(record).snapshot_unusable(record, target_class)
        if self.mode == "auto" and record.get("data_copy") and (
                unusable or record.get("snapshot_deleted") or self.block(record).describe_snapshot(record) is None):
            self.used.append(record)
            if unusable:
                self.warnings.append("PVC %s/%s comes back from its data copy: its snapshot cannot be used in the "
                                     "target cluster (%s)" % (_key(record) + (unusable,)))
        elif unusable:
            why = unusable if self.mode == "snapshot" else unusable + ", and the backup holds no data copy of it"
            self.refused.append("PVC %s/%s: %s" % (_key(record) + (why,)))

    @property
    def statically_bound(self):
        """(namespace, pvc) of the claims a driver binds to a PersistentVolume it makes itself (their class need
        not exist in the target cluster)."""
        used = set(_key(r) for r in self.used)
        return set(_key(r) for r in self.records if _key(r) not in used
                   and not self.block(r).claims_provisioned_by_cluster)

    def copies(self):
        """(the data mover service, {(namespace, pvc)} of the volumes restored from their data copies), or (None,
        empty); raises for the volumes that can come back from neither. Each copy used is checked now (it must lie
        where the mover keeps that PVC's copies). The mover's storage and S3 options default to the restore's."""
        if self.refused:
            raise InvalidInputError(
                "restore_volume_data: the target cluster cannot restore %d volume(s) from this backup: %s; nothing "
                "was restored (restore_volumes: false restores the objects with empty volumes)" % (
                    len(self.refused), "; ".join(self.refused[:10])))
        if not self.used:
            return None, set()
        params = self.params
        defaults = dict((k, params.get(k)) for k in ("endpoint_url", "region", "access_key", "secret_key"))
        if str(params.get("storage", "")).startswith("s3://"):
            defaults["storage"] = params["storage"]
        copies = VolumeCopies(self.k8s, MoverConfig(params.get("data_mover"), defaults), wait_timeout(params))
        for record in self.used:
            copies.check_copy(record)
        return copies, set(_key(r) for r in self.used)


def _key(record):
    return (record["source"]["namespace"], record["source"]["pvc"])


def _check_snapshot_origins(k8s, records, confinement, config=None):
    """A record may name another namespace's snapshot (the bucket is not the cluster): ask each
    driver where the snapshot really came from, where it can tell."""
    drivers = {}
    for record in records:
        driver = record.get("driver", "csi")
        if driver not in drivers:
            drivers[driver] = block_store(driver, k8s, config)
        problem = drivers[driver].check_snapshot_origin(record)
        if problem:
            source = record["source"]
            confinement.problems.append("snapshot record of PVC %s/%s: %s" % (source["namespace"], source["pvc"],
                                                                              problem))
    confinement.raise_problems()


def check_namespaces(manifest, params):
    """The namespace mapping, checked against what the backup holds (a typo must not restore in place)."""
    backed_up = manifest.get("namespaces") or []
    mapping = dict(params.get("namespace_mapping") or {})
    for option, names in (("namespace_mapping", list(mapping)), ("namespaces", params.get("namespaces") or [])):
        unknown = [n for n in names if n not in backed_up]
        if unknown:
            raise InvalidInputError("%s: %s %s not in backup %s (it holds: %s)" % (
                option, ", ".join(repr(n) for n in unknown), "is" if len(unknown) == 1 else "are",
                manifest["name"], ", ".join(backed_up)))
    for source, target in mapping.items():
        if not isinstance(target, str) or not DNS_LABEL.match(target):
            raise InvalidInputError("namespace_mapping: %r -> %r: the target is not a valid namespace name"
                                    % (source, target))
    return mapping


def select(entries, params, selector, confinement, spill):
    """Read every archive entry, check it (confinement) and spill what the filters select (no cluster
    access). Returns what planning needs to know about the whole selection (restore_plan.RunFacts)."""
    include = params.get("include_resources")
    exclude = params.get("exclude_resources")
    namespaces = params.get("namespaces")
    facts = restore_plan.RunFacts(uids=spill.uids)
    for res_dir, namespace, name, obj in entries:
        if not confinement.check_entry(res_dir, namespace, name, obj) or confinement.problems:
            continue  # read on: the refusal lists every problem, then nothing is restored
        if include and not resource_matches(res_dir, obj.get("kind"), include):
            continue
        if exclude and resource_matches(res_dir, obj.get("kind"), exclude):
            continue
        meta = obj["metadata"]
        scope = namespace or (meta["name"] if res_dir == "namespaces" else None)
        if namespaces and scope is not None and scope not in namespaces:
            continue
        if selector and res_dir != "namespaces" and not selector_matches(selector, meta.get("labels")):
            continue
        spill.add(res_dir, namespace, obj)
        facts.add(res_dir, namespace, obj)
    spill.finish_reading()
    confinement.raise_problems()
    return facts


def plan(k8s, spill, facts, params, mapping, records, pipeline, confinement, class_mapping=None):
    """Plan every selected entry in restore order: prepared and passed through the restore item actions,
    or skipped (naming the action) or refused; the plans go back into the spill. Reads the target cluster
    only (whether a PV exists). Returns the planning's warnings."""
    run = restore_plan.RestoreRun(None, mapping, {"preserve_node_ports": params.get("preserve_node_ports"),
                                                  "storage_class_mapping": class_mapping},
                                  records if params.get("restore_volumes", True) else (), k8s, facts=facts)
    planner = restore_plan.Planner(
        run, pipeline, restore_status=params.get("restore_status") or [],
        refusal=lambda res_dir, obj: confinement.cluster_refusal(res_dir, obj, run.claims))
    plans = []
    for seq, res_dir, namespace, obj, fresh_copy in spill.unplanned():
        plans.append((seq, res_dir) + planner.plan(res_dir, namespace, obj, fresh_copy))
        if len(plans) >= CHUNK:
            spill.add_plans(plans)
            plans = []
    spill.add_plans(plans)
    spill.finish_planning()
    return planner.finish(spill.holds)


class Restorer:
    """Applies a planned spill: volumes right after PVs and PVCs, then every other tier in restore
    order, a chunk at a time. Only outcomes are kept (counts, and the reports of what failed or
    was skipped), so memory does not grow with the backup."""

    def __init__(self, k8s, params, mapping, check_mode, hooks=None, copies=None, from_copy=()):
        self.k8s = k8s
        self.hooks = hooks
        self.copies = copies
        self.from_copy = set(from_copy)  # (source namespace, pvc) of the volumes restored from their copies
        self.params = params
        self.mapping = mapping
        self.check_mode = check_mode
        self.existing_policy = params.get("existing") or "keep"
        self.warnings = []
        self.volumes = []
        self.blocks = {}
        self.unlisted = set()  # collections LIST refused: their objects are compared after a GET
        self.counts = {}
        self.total = 0
        self.failures, self.skipped, self.refused = [], [], []

    def _block(self, record):
        """The block store that took a snapshot record (one per driver, shared by the restore's threads)."""
        driver = record.get("driver", "csi")
        if driver not in self.blocks:
            self.blocks[driver] = block_store(driver, self.k8s, self.params.get("block_store_options"))
        return self.blocks[driver]

    def run(self, spill, manifest):
        self.backup_name = manifest["name"]
        for chunk in spill.skipped(Item):
            for item in chunk:
                item.outcome, item.message = "skipped", item.skip
            self._tally(chunk)
        self.volume_items = spill.with_volumes(Item)
        self._ensure_target_namespaces(*spill.target_namespaces())
        pvc_rank = tier_key("persistentvolumeclaims")
        for tier, res_dir in spill.tiers():
            if tier > pvc_rank:
                self._restore_volumes()  # right after PVs and PVCs, before what mounts them
            done = self._apply_tier(spill, tier)
            if res_dir == CRDS:
                self._wait_crds(done)
        self._restore_volumes()
        return self._result(manifest)

    def _apply_tier(self, spill, tier):
        """Objects that exist are compared a LIST page at a time (no GET per object, no map of the
        namespace); the rest are created a chunk at a time. Returns the CRDs' items (few), else []."""
        kept = []
        collections = [(res_dir, namespace, spill.any_of(Item, res_dir, namespace).path())
                       for res_dir, namespace in spill.collections(tier)]
        for (res_dir, namespace, path), objects, error, _last in batches_concurrently(
                lambda collection: self.k8s.list(collection[2], page_size=CHUNK), collections, CHUNK):
            if error is not None:
                if not isinstance(error, LifeboatError):
                    raise error
                self.unlisted.add(path)  # what was not listed is compared after a GET
            page = dict((obj["metadata"]["name"], obj) for obj in objects)
            items = spill.named(Item, res_dir, namespace, page)
            self._apply_chunk(spill, [(item, page[item.name]) for item in items], kept)
        # The rest are created with the next chunk read while this one is applied: workers never wait
        # for a chunk's slowest object before the next begins.
        with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
            in_flight = None
            after = 0
            while True:
                items = spill.next_chunk(Item, tier, after)
                if items:
                    after = items[-1].seq
                    started = [(item, pool.submit(self._apply, (item, None))) for item in items]
                if in_flight:
                    self._finish_chunk(spill, in_flight, kept)
                if not items:
                    return kept
                in_flight = started

    def _apply_chunk(self, spill, pairs, kept):
        _record_crashes((item, result, error) for (item, _existing), result, error
                        in parallel_map(self._apply, pairs))
        self._done(spill, [item for item, _existing in pairs], kept)

    def _finish_chunk(self, spill, started, kept):
        _record_crashes((item, None, future.exception()) for item, future in started)
        self._done(spill, [item for item, _future in started], kept)

    def _done(self, spill, items, kept):
        spill.mark_done(items)
        self._tally(items)
        kept.extend(i for i in items if i.res_dir == CRDS)

    def _tally(self, items):
        for item in items:
            outcome = item.outcome if item.outcome in OUTCOMES else "failed"
            row = self.counts.setdefault(item.res_dir, dict((o, 0) for o in OUTCOMES))
            row[outcome] += 1
            self.total += 1
            if outcome == "failed":
                self.failures.append(item.report())
            elif item.refused:
                self.refused.append(item.report())
            elif outcome == "skipped":
                self.skipped.append(item.report())

    # ------------------------------------------------------------ volumes

    def _restore_volumes(self):
        if not self.volume_items:
            return
        items, self.volume_items = self.volume_items, []
        _record_crashes(parallel_map(self._restore_volume, items))
        if self.params.get("wait", True) and not self.check_mode:
            pending = [i for i in items if i.outcome in ("created", "unchanged")]

            def is_bound(item):
                return (self.k8s.get_or_none(item.path(item.name)) or {}).get("status", {}).get("phase") == "Bound"
            timeout = wait_timeout(self.params)
            try:
                wait_until(lambda: all(is_bound(i) for i in pending), timeout, "restored PVCs to be Bound")
            except LifeboatError:
                # A volume that does not come back is a failed restore, with the driver's reason.
                for item in pending:
                    if not is_bound(item):
                        problem = self._block(item.record).volume_problem(
                            {"namespace": item.namespace, "pvc": item.name})
                        item.outcome = "failed"
                        item.message = "not Bound after %ss (wait_timeout)%s" % (
                            timeout, ": " + problem if problem else "")
        self._tally(items)

    def _restore_volume(self, item):
        record = item.record
        spec = item.target.get("spec") or {}
        target = {"namespace": item.namespace, "pvc": item.name, "storage_class": spec.get("storageClassName"),
                  "size": ((spec.get("resources") or {}).get("requests") or {}).get("storage"),
                  "access_modes": spec.get("accessModes"), "labels": item.target["metadata"].get("labels"),
                  "annotations": item.target["metadata"].get("annotations")}
        try:
            if (record["source"]["namespace"], record["source"]["pvc"]) in self.from_copy:
                self._restore_from_copy(item)
                return
            block = self._block(record)
            target["volume_options"] = (self.params.get("volume_options") or {}).get(block.name)
            existing = block.find_volume(target)
            if existing:
                if existing["restored_from"] == record["snapshot_id"]:
                    item.outcome = "unchanged"
                else:
                    item.outcome = "skipped" if self.existing_policy == "keep" else "failed"
                    item.message = "exists and was not restored from snapshot %s; its data is left alone" % (
                        record["snapshot_id"])
                self.volumes.append(dict(existing, outcome=item.outcome))
                return
            restore_plan = block.plan_restore(record, target)
            if self.check_mode:
                item.outcome = "created"
                return
            volume = block.restore_volume(record, target, restore_plan)
            item.outcome = "created"
            self.volumes.append(dict(volume, outcome="created"))
        except LifeboatError as e:
            item.outcome, item.message = "failed", e.message

    def _restore_from_copy(self, item):
        body = dict(item.target, metadata=dict(item.target["metadata"], namespace=item.namespace, name=item.name))
        volume, created = self.copies.copy_in(item.record, body, self.check_mode)
        if created is None:
            item.outcome = "skipped" if self.existing_policy == "keep" else "failed"
            item.message = "exists and was not restored from copy %s; its data is left alone" % (
                copy_identity(item.record)[:8])
        else:
            item.outcome = "created" if created else "unchanged"
        self.volumes.append(dict(volume, outcome=item.outcome))

    # ------------------------------------------------------------ objects

    def _ensure_target_namespaces(self, targets, backed_up):
        """Wait out Terminating namespaces; create target namespaces the backup has no object for."""
        for ns in sorted(targets | backed_up):
            path = resource_path("", "v1", "namespaces", None, ns)
            current = self.k8s.get_or_none(path)
            if current and current.get("status", {}).get("phase") == "Terminating":
                if self.check_mode:
                    continue
                wait_until(lambda p=path: self.k8s.get_or_none(p) is None, wait_timeout(self.params),
                           "namespace %s to finish terminating" % ns)
                current = None
            if current is None and ns not in backed_up and not self.check_mode:
                self.k8s.create(resource_path("", "v1", "namespaces"), {
                    "apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": ns, "labels": {RESTORED_BY: self.backup_name}}})

    def _apply(self, pair):
        item, existing = pair
        try:
            self._apply_one(item, existing)
        except LifeboatError as e:
            item.outcome, item.message = "failed", e.message

    def _apply_one(self, item, existing):
        collection = item.path()
        if existing is None and collection in self.unlisted:
            existing = self.k8s.get_or_none(item.path(item.name))
        if existing is not None:
            self._compare(item, existing, dry_run=self.check_mode)
            return
        if self.check_mode:
            item.outcome = "created"
            return
        if item.res_dir == "namespaces":
            # Marks the namespace as this restore's, so state=absent may delete it and nothing else.
            item.target["metadata"].setdefault("labels", {})[RESTORED_BY] = self.backup_name
        try:
            created = self.k8s.create(collection, item.target)
            item.outcome = "created"
            if self.hooks is not None:
                self.hooks.watch(item.res_dir, created)
        except ConflictError as e:
            existing = self.k8s.get(item.path(item.name))
            self._compare(item, existing)
            if e.retried and item.outcome == "unchanged":
                item.outcome = "created"  # our own first attempt made it; its answer was lost
            return
        status = item.target.get("status")
        if status:
            body = dict(created, status=status)
            self.k8s.request("PUT", item.path(item.name) + "/status", body)

    def _compare(self, item, existing, dry_run=False):
        desired = comparable(item.target)
        desired["metadata"]["labels"].pop(RESTORED_BY, None)
        if is_subset(desired, existing):
            item.outcome = "unchanged"
        elif item.res_dir == CRDS and _versions(existing) != _versions(item.target):
            # Another cluster's CRD of the same name serves other versions: its custom resources (and whoever
            # installed it) depend on them; never rewritten, whatever `existing` says.
            item.outcome, item.message = "skipped", (
                "exists in the target cluster with versions %s, the backup's has %s; not overwritten" % (
                    ", ".join(_versions(existing)) or "none", ", ".join(_versions(item.target)) or "none"))
        elif self.existing_policy == "keep":
            item.outcome, item.message = "skipped", "exists and differs from the backup (existing: keep)"
        elif dry_run:
            item.outcome = "updated"
        else:
            self.k8s.merge_patch(item.path(item.name), desired)
            item.outcome = "updated"

    def _wait_crds(self, items):
        if self.check_mode or not self.params.get("wait", True):
            return

        def established(item):
            crd = self.k8s.get_or_none(item.path(item.name)) or {}
            conditions = dict((c["type"], c["status"]) for c in crd.get("status", {}).get("conditions") or [])
            return conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True"

        ready = [i for i in items if i.outcome in ("created", "updated", "unchanged")]
        wait_until(lambda: all(established(i) for i in ready), wait_timeout(self.params),
                   "CustomResourceDefinitions to be established")

    # ------------------------------------------------------------ result

    def _result(self, manifest):
        counts, failures, skipped, refused = self.counts, self.failures, self.skipped, self.refused
        if refused:
            self.warnings.append("%d cluster-scoped object(s) of the backup were not restored (see refused_objects; "
                                 "cluster_resources allows more): %s" % (len(refused), ", ".join(
                                     "%s/%s" % (r["resource"], r["name"]) for r in refused[:10])))
        totals = dict((o, sum(r[o] for r in counts.values())) for o in OUTCOMES)
        result = {
            "changed": totals["created"] + totals["updated"] > 0,
            "phase": "PartiallyFailed" if failures else "Completed",
            "backup": manifest["name"], "namespace_mapping": self.mapping,
            "counts": dict(sorted(counts.items())), "totals": totals,
            "failures": failures, "skipped_objects": skipped, "refused_objects": refused, "warnings": self.warnings,
            "volumes": self.volumes,
        }
        if result["changed"]:
            result["diff"] = {"before": {}, "after": {"created": totals["created"], "updated": totals["updated"]}}
        if failures and not self.params.get("ignore_partial_failure"):
            raise LifeboatError("restore of %s partially failed: %d of %d objects failed; first: %s %s/%s: %s" % (
                manifest["name"], len(failures), self.total, failures[0]["resource"], failures[0]["namespace"],
                failures[0]["name"], failures[0].get("message")), **result)
        return result
