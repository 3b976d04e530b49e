# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restoring a backup into a cluster.

Nothing in the cluster is touched until the manifest's checksums (and, with a
signing key, its signature) are verified, the user's actions are checked (and
their commands started), the whole archive has been read and checked against
the manifest (confine.py), the snapshot records have been checked against the
archive and, where the driver can, the snapshots' real sources, and every
object has been planned (plan.py: the restore item actions). Objects
are then created tier by tier (ordering.tier), concurrently within a tier. One bad object does not
stop the rest: each failure is reported with the object and the API's message.

The selected objects and their plans wait in a spill (spill.py: encrypted, on disk), and are
read back a chunk at a time, so memory stays flat however large the backup.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import io
from dataclasses import replace
from typing import TYPE_CHECKING

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.pipeline import Pipeline
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.stored import read_velero_backup
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.registry import BlockStores, driver_names
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    InvalidInputError,
    LifeboatError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.waiting import wait_until
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.workdir import PrivateWorkdir
from ansible_collections.lifeboat.k8s.plugins.module_utils.format import velero
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.archive import ArchiveError, read_items, read_json_gz
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.layout import DNS_LABEL
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.layout import files_of, key, local_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.manifest import (
    Manifest,
    describe_error,
    read_manifest,
    verify,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.sealing import open_sealed
from ansible_collections.lifeboat.k8s.plugins.module_utils.hooks.restore import RestoreHooks
from ansible_collections.lifeboat.k8s.plugins.module_utils.hooks.running import blocking, hook_warnings, summary
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.selectors import resource_matches
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.selectors import name_matches, selector_matches
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore import plan as restore_plan
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.apply import RESTORED_BY, Restorer
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.confine import Confinement
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.sources import VolumeSources
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.spill import CHUNK, Spill
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.storage import STORAGE_CLASSES
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.storage import TargetStorage

if TYPE_CHECKING:  # the types only: at run time the services do not import their callers' options
    from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.base import ObjectStore
    from ansible_collections.lifeboat.k8s.plugins.module_utils.options.restore import RestoreOptions


def run_restore(k8s, store: ObjectStore, options: RestoreOptions, check_mode=False):
    """object_restore with RestoreOptions: nothing changes until everything is read, checked and planned."""
    name = options.name
    k8s.check_reachable("the target cluster")
    if options.state == "absent":
        return remove_restore(k8s, store, options, check_mode)
    manifest = read_manifest(store, name) or _velero_manifest(store, name, options.limits)
    warnings = _check_sealing(manifest, options.signer)
    mapping = check_namespaces(manifest, options)
    options = replace(options, namespaces=restored_namespaces(manifest, options))
    storage = TargetStorage(k8s, options.storage_class_mapping)
    confinement = Confinement(manifest, options.cluster_resources, options.namespaces, mapping)
    hooks = RestoreHooks(k8s, options.restore_hooks, options.hook_annotations, options.wait.timeout)
    blocks = BlockStores(k8s, options.block_store)
    with PrivateWorkdir("restore") as workdir:
        with Spill(workdir) as spill:
            with Pipeline.start(options.actions, warnings) as pipeline:
                problem = verify(store, manifest, workdir)
                if problem:
                    raise ArchiveError("backup %s failed its checksum check: %s; nothing was restored" % (
                        name, problem))
                facts, records = _read(store, manifest, options, workdir, confinement, spill, warnings)
                snapshots = confinement.check_records(records, driver_names())
                if not options.restore_volumes:
                    snapshots = []  # the claims come back empty; no snapshot or data copy is looked at
                _check_snapshot_origins(blocks, snapshots, confinement)
                sources = VolumeSources(k8s, options, blocks, storage, facts, snapshots)
                warnings.extend(storage.check(facts, lambda obj: confinement.cluster_refusal(
                    STORAGE_CLASSES, obj, facts.claims) is None, static=sources.statically_bound))
                warnings.extend(sources.warnings)
                copies, from_copy = sources.copies()
                warnings.extend(plan(k8s, spill, facts, options, mapping, snapshots, pipeline, confinement))
                actions = pipeline.summary()
            restorer = Restorer(k8s, options, blocks, mapping, check_mode, hooks, copies, from_copy)
            restorer.warnings.extend(warnings)
            if manifest.phase != "Completed":
                restorer.warnings.append("backup %s is %s: it lacks %s" % (
                    name, manifest.phase, "; ".join(describe_error(e) for e in manifest.errors)
                    or "what its errors say"))
            result = restorer.run(spill, manifest)
    if not check_mode:
        _run_hooks(hooks, result)
    result["api_retries"] = k8s.retries
    result["api_warnings"] = k8s.warnings.summary()  # the hooks' requests too
    result["actions"] = actions
    return result


def _check_sealing(manifest, signer):
    """The warnings a restore starts with; raises when a signing key is given and the signature does not hold."""
    warnings = []
    if manifest.written_by == velero.VELERO:
        warnings.append("backup %s was written by Velero: it carries no checksums, so what it holds was checked "
                        "for consistency but could not be verified" % manifest.name)
    if signer is not None:
        signer.check(manifest.to_dict())
    elif manifest.signature:
        warnings.append("backup %s is signed, but its signature was not checked (no signing_key given)"
                        % manifest.name)
    return warnings


def _read(store: ObjectStore, manifest, options: RestoreOptions, workdir, confinement, spill, warnings):
    """(RunFacts, snapshot records): the verified archive read, checked and spilled; the records as stored."""
    name, sealed, limits, identities = manifest.name, manifest.encryption, options.limits, options.encryption.identities
    files = files_of(name, bool(sealed))
    with open_sealed(local_path(workdir, files["archive"]), sealed, identities, files["archive"]) as archive:
        facts = select(read_items(archive, limits), options, confinement, spill)
    if manifest.written_by == velero.VELERO:
        return facts, _velero_records(store, name, limits, spill, warnings)
    with open_sealed(local_path(workdir, files["volume_snapshots"]), sealed, identities,
                     files["volume_snapshots"]) as side_file:
        return facts, read_json_gz(side_file, files["volume_snapshots"], limits)


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


def _velero_manifest(store: ObjectStore, name, limits):
    """A backup Velero wrote, seen through a manifest's fields; refuses what is not a backup."""
    backup = read_velero_backup(store, name)
    if backup is None:
        if store.list_objects("backups/%s/" % name):
            raise InvalidInputError("name: backup %r is incomplete (it has no manifest); refusing to restore "
                                    "from it" % name)
        raise NotFoundError("name: backup %r does not exist in %s" % (name, store.url))
    files = files_of(name)
    resource_list = _side_file(store, name, files["resource_list"], limits)
    return Manifest.of_velero(velero.as_manifest(backup, name, files["archive"], resource_list))


def _side_file(store: ObjectStore, name, filename, limits):
    """A gzipped JSON file of the backup, or None if it is not there (Velero writes some only when needed)."""
    try:
        data = store.get_bytes(key(name, filename), max_bytes=limits.side_file_size + 1)
    except NotFoundError:
        return None
    if len(data) > limits.side_file_size:
        raise limits.refuse("side_file_size", filename)
    return read_json_gz(io.BytesIO(data), filename, limits)


def _velero_records(store: ObjectStore, name, limits, spill, warnings):
    """Snapshot records of a Velero backup's CSI snapshots, from its volume information."""
    claims = dict(((n, o["metadata"]["name"]), o) for n, o in spill.sources("persistentvolumeclaims"))
    try:
        records, problems = velero.records_from(
            _side_file(store, name, velero.velero_files(name)["volume_info"], limits), claims, store.url)
    except ArchiveError as e:
        raise ArchiveError("backup %s: %s: refusing it" % (name, e.message))
    warnings.extend(problems)
    warnings.extend(velero.native_snapshot_warnings(
        _side_file(store, name, files_of(name)["volume_snapshots"], limits)))
    return records


def remove_restore(k8s, store: ObjectStore, options: RestoreOptions, check_mode=False):
    """Undo a restore into new namespaces: delete the target namespaces this backup's restore
    created (they carry its label) with their restored volumes; leave every other namespace alone."""
    name, mapping = options.name, options.namespace_mapping
    manifest = read_manifest(store, name)
    sources = (manifest.namespaces if manifest else None) or list(mapping)
    targets = sorted(set(mapping.get(ns, ns) for ns in sources))
    deleted, left_alone = [], []
    blocks = BlockStores(k8s, options.block_store).every()
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
    if deleted and not check_mode and options.wait.wait:
        wait_until(lambda: all(k8s.get_or_none(resource_path("", "v1", "namespaces", None, ns)) is None
                               for ns in deleted), options.wait.timeout,
                   "namespaces %s to be deleted" % ", ".join(deleted))
    result = {"changed": bool(deleted), "deleted_namespaces": deleted, "warnings": left_alone}
    if deleted:
        result["diff"] = {"before": {"namespaces": deleted}, "after": {"namespaces": []}}
    return result


def _check_snapshot_origins(blocks: BlockStores, records, confinement):
    """A record may name another namespace's snapshot (the bucket is not the cluster): ask each
    driver where the snapshot really came from, where it can tell."""
    for record in records:
        problem = blocks.of(record).check_snapshot_origin(record)
        if problem:
            source = record["source"]
            confinement.problems.append("snapshot record of PVC %s/%s: %s" % (source["namespace"], source["pvc"],
                                                                              problem))
    confinement.raise_problems()


def check_namespaces(manifest, options: RestoreOptions):
    """The namespace mapping, checked against what the backup holds (a typo must not restore in place)."""
    backed_up = manifest.namespaces
    mapping = dict(options.namespace_mapping)
    for option, names in (("namespace_mapping", list(mapping)), ("namespaces", options.namespaces)):
        unknown = [n for n in names if n not in backed_up]
        if unknown:
            raise InvalidInputError("%s: %s %s not in backup %s (it holds: %s)" % (
                option, ", ".join(repr(n) for n in unknown), "is" if len(unknown) == 1 else "are",
                manifest.name, ", ".join(backed_up)))
    for source, target in mapping.items():
        if not isinstance(target, str) or not DNS_LABEL.match(target):
            raise InvalidInputError("namespace_mapping: %r -> %r: the target is not a valid namespace name"
                                    % (source, target))
    return mapping


def restored_namespaces(manifest, options: RestoreOptions):
    """The backup's namespaces the restore takes: `namespaces` (or all of them) less exclude_namespaces; [] when
    nothing is excluded from all of them (every namespace, as the backup holds them)."""
    if not options.exclude_namespaces:
        return options.namespaces
    candidates = options.namespaces or manifest.namespaces
    kept = [n for n in candidates if not name_matches(n, options.exclude_namespaces)]
    if not kept:
        raise InvalidInputError("exclude_namespaces: excludes every namespace %s (%s); nothing would be restored" % (
            "given in namespaces" if options.namespaces else "of backup %s" % manifest.name, ", ".join(candidates)))
    mapped_away = [n for n in options.namespace_mapping if n not in kept]
    if mapped_away:
        raise InvalidInputError("namespace_mapping: %s %s excluded by exclude_namespaces" % (
            ", ".join(repr(n) for n in mapped_away), "is" if len(mapped_away) == 1 else "are"))
    return kept


def select(entries, options: RestoreOptions, confinement, spill):
    """Read every archive entry, check it (confinement) and spill what the filters select (no cluster
    access). Returns what planning needs to know about the whole selection (restore_plan.RunFacts)."""
    include, exclude, namespaces = options.include_resources, options.exclude_resources, options.namespaces
    selector = options.selector
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


def plan(k8s, spill, facts, options: RestoreOptions, mapping, records, pipeline, confinement):
    """Plan every selected entry in restore order: prepared and passed through the restore item actions,
    or skipped (naming the action) or refused; the plans go back into the spill. Reads the target cluster
    only (whether a PV exists). Returns the planning's warnings."""
    run = restore_plan.RestoreRun(None, mapping, {"preserve_node_ports": options.preserve_node_ports,
                                                  "storage_class_mapping": options.storage_class_mapping},
                                  records if options.restore_volumes else (), k8s, facts=facts)
    run.holds = spill.holds
    planner = restore_plan.Planner(
        run, pipeline, restore_status=options.restore_status,
        refusal=lambda res_dir, obj: confinement.cluster_refusal(res_dir, obj, run.claims))
    plans = []
    for seq, res_dir, namespace, obj, fresh_copy in spill.unplanned():
        plans.append((seq, res_dir) + planner.plan(res_dir, namespace, obj, fresh_copy) + (obj["metadata"].get("uid"),))
        if len(plans) >= CHUNK:
            spill.add_plans(plans)
            plans = []
    spill.add_plans(plans)
    spill.finish_planning()
    return planner.finish(spill.holds)
