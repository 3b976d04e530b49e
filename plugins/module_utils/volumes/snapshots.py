# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""volume_snapshot and volume_snapshot_info, independent of Ansible: snapshot PVCs (or storage volumes)
and list snapshots, through the block store interface. Each entry point takes the module's typed
options (options/volumes.py) and returns the module's result dict.

Everything is validated before anything is created, so bad input changes
nothing; batches are created concurrently and waited for together.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from typing import Any, Dict, TYPE_CHECKING

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.base import pvc_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.registry import BlockStores, block_store
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.concurrency import parallel_map, raise_first
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ConflictError,
    InvalidInputError,
    LifeboatError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.waiting import wait_until
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.copies import VolumeCopies
from ansible_collections.lifeboat.k8s.plugins.module_utils.hooks.backup import BackupHooks
from ansible_collections.lifeboat.k8s.plugins.module_utils.hooks.running import HookReport, summary

if TYPE_CHECKING:  # the types only: at run time the services do not import their callers' options
    from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.base import BlockStore
    from ansible_collections.lifeboat.k8s.plugins.module_utils.options.volumes import SnapshotOptions


# In-tree volume sources and the CSI drivers Kubernetes migrates them to: csi_driver_map keys cover both.
IN_TREE_CSI = {"awsElasticBlockStore": "ebs.csi.aws.com", "portworxVolume": "pxd.portworx.com"}


def require_namespace(k8s, namespace, option="namespace"):
    if k8s.get_or_none(resource_path("", "v1", "namespaces", None, namespace)) is None:
        raise NotFoundError("%s: namespace %r does not exist" % (option, namespace))


# ---------------------------------------------------------------- volume_snapshot


def _snapshot_targets(k8s, options: SnapshotOptions):
    """[(pvc or volume id, snapshot name)] this task is about, and whether it is a batch."""
    name, namespace = options.name, options.namespace
    if options.pvc_selector is not None:
        # An empty selector selects every PVC of the namespace, as in Kubernetes.
        claims = sorted(c["metadata"]["name"] for c in
                        k8s.list(pvc_path(namespace), label_selector=options.pvc_selector or None))
        return [(claim, ("%s-%s" % (name, claim))[:253]) for claim in claims], True
    return [(options.pvc or options.volume_id, name)], False


def _volume(options: SnapshotOptions, what):
    if options.volume_id:
        return {"namespace": options.namespace, "pvc": None, "volume_id": what}
    return {"namespace": options.namespace, "pvc": what}


def _drivers(k8s, options: SnapshotOptions, targets):
    """{snapshot name: driver}: options' driver, or for a PVC whose PersistentVolume's CSI driver (or the
    in-tree source migrated to it) is in csi_driver_map, the block store driver it maps to."""
    mapping = options.csi_driver_map
    if not mapping or options.volume_id:
        return dict((snap, options.driver) for _what, snap in targets)

    def csi_driver(pvc_name):
        pvc = k8s.get_or_none(pvc_path(options.namespace, pvc_name)) or {}
        pv_name = (pvc.get("spec") or {}).get("volumeName")
        pv = k8s.get_or_none(resource_path("", "v1", "persistentvolumes", None, pv_name)) if pv_name else None
        spec = (pv or {}).get("spec") or {}
        return (spec.get("csi") or {}).get("driver") or next(
            (name for key, name in IN_TREE_CSI.items() if spec.get(key)), None)
    found = raise_first(parallel_map(lambda t: csi_driver(t[0]), targets))
    return dict((snap, mapping.get(csi, options.driver)) for (_what, snap), csi in zip(targets, found))


def snapshot_volumes(k8s, options: SnapshotOptions, check_mode=False):
    tags = options.tags
    regions = options.copy_to_region or []
    if options.state == "absent":
        # A namespace that is gone has no snapshots left to delete.
        targets, batch = _snapshot_targets(k8s, options)
        stores = _stores(k8s, options, _drivers(k8s, options, targets))
        copies = _volume_copies(k8s, options)
        removed = _delete_copies(copies, options, targets, check_mode) if copies else False
        result = _delete_snapshots(stores, options, targets, batch, regions, check_mode)
        return dict(result, changed=result["changed"] or removed)
    require_namespace(k8s, options.namespace)
    targets, batch = _snapshot_targets(k8s, options)
    if not batch and not targets[0][0]:
        raise InvalidInputError("pvc: required with state=present (or give pvc_selector or volume_id)")
    if regions and not options.wait:
        raise InvalidInputError("copy_to_region: copies are made of completed snapshots; it needs wait: true")
    stores = _stores(k8s, options, _drivers(k8s, options, targets))
    hooks = _backup_hooks(k8s, options)
    copies = _volume_copies(k8s, options)

    existing, copied = _existing(stores, copies, options, targets)
    missing = [(what, snap) for what, snap in targets if existing[snap] is None and snap not in copied]

    # Validate every missing one before creating any, so bad input changes nothing.
    checks = dict(zip([m[1] for m in missing], raise_first(parallel_map(
        lambda m: stores[m[1]].check_snapshot_source(_volume(options, m[0]), options.snapshot_class),
        missing))))
    records = dict((snap, rec) for snap, rec in existing.items() if rec)
    hook_report = HookReport()
    if check_mode:
        for what, snap in missing:
            records[snap] = stores[snap].planned_snapshot(_volume(options, what), snap, tags, checks[snap])
    else:
        created = _create_snapshots(stores, options, missing, tags, checks, hooks, hook_report)
        for (what, snap), record, _err in created:
            if record:
                records[snap] = record
        raise_first(created)
        if options.wait:
            records.update(_wait_ready(stores, [(snap, records[snap]) for what, snap in targets if snap in records],
                                       options.wait_timeout))
    moved = _copy_volume_data(copies, stores, options, targets, records, copied, check_mode) if copies else False
    copied_to_regions = _copy_to_regions(stores, records, regions, options, check_mode) if regions else False
    ordered = [hook_report.attach(snap, records[snap]) for _what, snap in targets]
    result = dict(hook_report.result(), changed=bool(missing) or copied_to_regions or moved)
    if result["changed"]:
        result["diff"] = {"before": {}, "after": {"snapshots": [r["name"] for r in ordered], "regions": regions}}
    if batch:
        result["snapshots"] = ordered
    else:
        result["snapshot"] = ordered[0]
    return result


def _existing(stores: Dict[str, BlockStore], copies, options: SnapshotOptions, targets):
    """({snapshot name: its record or None}, {snapshot name: its copy record}) of the targets, checked: a name
    taken by a snapshot of another volume is refused. A volume whose data was copied is done, whether or not
    its snapshot was kept."""
    existing = dict(zip([t[1] for t in targets], raise_first(parallel_map(
        lambda t: stores[t[1]].find_snapshot(t[1], options.namespace), targets))))
    copied = dict((snap, rec) for snap, rec in zip([t[1] for t in targets], raise_first(parallel_map(
        lambda t: copies.find_copy(options.namespace, t[1], t[0]), targets)) if copies else []) if rec)
    key = "volume_id" if options.volume_id else "pvc"
    for what, snap in targets:
        found = existing[snap]
        if found and found["source"].get(key) != what:
            raise ConflictError("name: snapshot %s/%s already exists for %s %r, not %r" % (
                options.namespace, snap, "PVC" if key == "pvc" else "volume", found["source"].get(key), what))
    return existing, copied


def _backup_hooks(k8s, options: SnapshotOptions):
    """The hooks to run around this task's snapshots (validated now, before any change), or None."""
    if options.volume_id:
        return None
    return BackupHooks(k8s, options.namespace, options.hooks, options.hook_annotations)


def _volume_copies(k8s, options: SnapshotOptions):
    """The data mover service when volume_data is copy, or None."""
    if not options.mover:
        return None
    copies = VolumeCopies(k8s, options.mover, options.wait_timeout)
    copies.require_copying()
    return copies


def _delete_copies(copies, options: SnapshotOptions, targets, check_mode):
    """With state=absent and volume_data=copy: remove each snapshot's data copy. True if there was one."""
    found = [rec for rec in raise_first(parallel_map(
        lambda t: copies.find_copy(options.namespace, t[1], t[0]), targets)) if rec]
    if found and not check_mode:
        raise_first(parallel_map(copies.delete_copy, found))
    return bool(found)


def _copy_volume_data(copies, stores: Dict[str, BlockStore], options: SnapshotOptions, targets, records, copied, check_mode):
    """Copy each ready snapshot's files into the data mover's repository (those not copied yet), then delete
    the snapshots unless keep_snapshots. The records become the copy records. True if anything changed."""
    todo = [snap for _what, snap in targets if snap not in copied]
    if check_mode:
        for snap in todo:
            records[snap] = dict(records[snap], data_copy={"tool": copies.mover.name, "planned": True})
    else:
        made = parallel_map(lambda snap: copies.copy_out(stores[snap], records[snap]), todo)
        for snap, record, _err in made:
            if record:
                copied[snap] = record
        raise_first(made)
    # records holds the snapshots that exist (found or taken by this run).
    gone = [] if options.keep_snapshots else [snap for snap in copied if snap in records]
    if gone and not check_mode:
        raise_first(parallel_map(lambda snap: stores[snap].delete_snapshot(records[snap]), gone))
    for snap in copied:
        records[snap] = dict(copied[snap], snapshot_deleted=snap not in records or snap in gone)
    return bool(todo) or bool(gone)


def _create_snapshots(stores: Dict[str, BlockStore], options: SnapshotOptions, missing, tags, checks, hooks, report):
    """Create the missing snapshots: [((pvc, snapshot name), record, error)]. Those of PVCs that pods with
    hooks mount are cut between the pods' pre and post hooks. A failed Fail hook deletes every snapshot this
    run created (none may pass for a consistent one) and fails the task with the hooks' outcomes."""
    def create(pair):
        return stores[pair[1]].create_snapshot(_volume(options, pair[0]), pair[1], tags, checks[pair[1]])

    groups = hooks.groups([what for what, _snap in missing]) if hooks else []
    grouped = set(claim for group in groups for claim in group.claims)
    created = parallel_map(create, [pair for pair in missing if pair[0] not in grouped])
    snapshot_of = dict(missing)

    def take(claims):
        made = parallel_map(create, [(claim, snapshot_of[claim]) for claim in claims])
        created.extend(made)  # before waiting: what was made is known even if the wait fails
        raise_first(made)
        _wait_cut(stores, [(snap, record) for (_claim, snap), record, _err in made], options.wait_timeout)

    failures = []
    for group, (outcomes, _taken, error) in hooks.around_all(groups, take) if groups else []:
        report.add([snapshot_of[claim] for claim in group.claims], outcomes)
        if error is not None:
            failures.append(error)
    if report.blocking:
        made = [(pair[1], record) for pair, record, _err in created if record]
        parallel_map(lambda p: stores[p[0]].delete_snapshot(p[1]), made)
        taken = ("the %d snapshot%s this run took %s deleted" % (
            len(made), "" if len(made) == 1 else "s", "was" if len(made) == 1 else "were")) if made else \
            "this run took no snapshot"
        raise LifeboatError("hooks: %s; %s, so no backup passes for a consistent one" % (
            "; ".join(summary(o) for o in report.blocking), taken), hooks=report.outcomes)
    if failures:
        raise failures[0]
    return created


def _wait_cut(stores: Dict[str, BlockStore], pairs, timeout):
    """Wait until each snapshot ([(name, record)]) has been cut by its storage (or has failed)."""
    latest = dict(pairs)

    def cut():
        for snap, fresh, _err in parallel_map(lambda n: stores[n].describe_snapshot(latest[n]), list(latest)):
            latest[snap] = fresh or latest[snap]
        failed = [snap for snap, r in latest.items() if stores[snap].snapshot_error(r)]
        if failed:
            raise LifeboatError("snapshot failed: " + "; ".join(
                "%s/%s: %s" % (latest[n]["namespace"], n, stores[n].snapshot_error(latest[n])) for n in failed))
        return all(stores[snap].snapshot_cut(r) for snap, r in latest.items())
    wait_until(cut, timeout, "snapshots to be cut before the post hooks run: " + ", ".join(sorted(latest)))


def _stores(k8s, options: SnapshotOptions, drivers) -> Dict[str, BlockStore]:
    """{snapshot name: block store}, one store per driver (the run's BlockStores)."""
    blocks = BlockStores(k8s, options.block_store)
    blocks.get(options.driver)  # made, and so its connection options checked, even when no target uses it
    return dict((snap, blocks.get(driver)) for snap, driver in drivers.items())


def _copy_to_regions(stores: Dict[str, BlockStore], records, regions, options: SnapshotOptions, check_mode):
    """Copy every ready snapshot to each region (once: a copy is found again); the copies' records go
    into each record's `copies`. True if a copy was made."""
    todo = [(snap, region) for snap in records for region in regions]
    found = dict(zip(todo, raise_first(parallel_map(
        lambda t: stores[t[0]].find_copy(records[t[0]], t[1]), todo))))
    missing = [t for t in todo if found[t] is None]
    if missing and not check_mode:
        made = parallel_map(lambda t: stores[t[0]].copy_snapshot(records[t[0]], t[1]), missing)
        for t, copy, _err in made:
            if copy:
                found[t] = copy
        raise_first(made)

        def ready():
            for t in missing:
                if not found[t]["ready"]:
                    found[t] = stores[t[0]].describe_snapshot(found[t]) or found[t]
                    if stores[t[0]].snapshot_error(found[t]):
                        raise LifeboatError("copy_to_region: copy of %s to %s failed: %s" % (
                            records[t[0]]["snapshot_id"], t[1], stores[t[0]].snapshot_error(found[t])))
            return all(found[t]["ready"] for t in missing)
        wait_until(ready, options.wait_timeout, "snapshot copies to complete in " + ", ".join(regions))
    for snap in records:
        records[snap] = dict(records[snap], copies=[found[(snap, region)] for region in regions
                                                    if found[(snap, region)]])
    return bool(missing)


def _wait_ready(stores: Dict[str, BlockStore], pairs, timeout):
    """Wait until every snapshot ([(snapshot name, record)]) is ready; delete and report those that fail."""
    latest = dict(pairs)

    def check():
        pending = [snap for snap, r in latest.items() if not r["ready"]]
        for snap, fresh, _err in parallel_map(lambda n: stores[n].describe_snapshot(latest[n]), pending):
            if fresh is None:
                raise NotFoundError("snapshot %s/%s disappeared while waiting for it" % (
                    latest[snap]["namespace"], snap))
            latest[snap] = fresh
        failed = [snap for snap, r in latest.items() if stores[snap].snapshot_error(r)]
        if failed:
            # A failed snapshot is unusable; remove it so a rerun tries again.
            parallel_map(lambda n: stores[n].delete_snapshot(latest[n]), failed)
            raise LifeboatError("snapshot failed: " + "; ".join(
                "%s/%s: %s" % (latest[n]["namespace"], n, stores[n].snapshot_error(latest[n])) for n in failed),
                snapshots=[latest[n] for n in failed])
        return all(r["ready"] for r in latest.values())

    def pending():
        return "snapshots to become ready: " + ", ".join(
            "%s/%s" % (r["namespace"], snap) for snap, r in latest.items() if not r["ready"])

    wait_until(check, timeout, pending)
    return latest


def _delete_snapshots(stores: Dict[str, BlockStore], options: SnapshotOptions, targets, batch, regions, check_mode):
    names = [snap for _what, snap in targets]
    found = dict((n, r) for n, r in zip(names, raise_first(parallel_map(
        lambda n: stores[n].find_snapshot(n, options.namespace), names))) if r)
    pairs = [(n, region) for n in found for region in regions]
    copies = [(t[0], copy) for t, copy in zip(pairs, raise_first(parallel_map(
        lambda t: stores[t[0]].find_copy(found[t[0]], t[1]), pairs))) if copy]
    gone = copies + list(found.items())
    if gone and not check_mode:
        # Copies first: they are found through their source, so a rerun after an interruption finds them.
        for group in (copies, list(found.items())):
            raise_first(parallel_map(lambda p: stores[p[0]].delete_snapshot(p[1]), group))
        if options.wait:
            wait_until(lambda: all(stores[n].describe_snapshot(r) is None for n, r in gone), options.wait_timeout,
                       "snapshots to be deleted: " + ", ".join(sorted(set(n for n, _r in gone))))
    listed = [dict(r, copies=[copy for c, copy in copies if c == n]) if regions else r for n, r in found.items()]
    result: Dict[str, Any] = {"changed": bool(gone)}
    if gone:
        result["diff"] = {"before": {"snapshots": [r["name"] for r in listed], "copies": len(copies)}, "after": {}}
    if batch:
        result["snapshots"] = listed
    else:
        result["snapshot"] = listed[0] if listed else {}
    return result


# ---------------------------------------------------------------- volume_snapshot_info


def snapshot_info(k8s, options: SnapshotOptions):
    store = block_store(options.driver, k8s, options.block_store)
    snapshots = store.find_snapshots(namespace=options.namespace, name=options.name,
                                     tags=options.tags, pvc=options.pvc)
    return {"changed": False, "snapshots": sorted(snapshots, key=lambda r: (r["namespace"], r["name"]))}
