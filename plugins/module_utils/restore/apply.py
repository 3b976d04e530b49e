# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying a planned restore: objects created tier by tier, concurrently within a tier, volumes right
after their claims; only outcomes are kept, so memory does not grow with the backup."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Dict, FrozenSet, List, NamedTuple, Optional, Set, TYPE_CHECKING

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.records import claim_of
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.concurrency import (
    error_text,
    MAX_WORKERS,
    batches_concurrently,
    parallel_map,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import ApiError, ConflictError, LifeboatError
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.waiting import wait_until
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.copies import copy_identity
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.archive import split_resource_dir
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.compare import comparable, is_subset
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.listing import CLUSTER_WIDE_FROM, lists_across_cluster
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.owners import OwnerLinks
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.spill import CHUNK

if TYPE_CHECKING:  # the types only: at run time the services do not import their callers' options
    from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.registry import BlockStores
    from ansible_collections.lifeboat.k8s.plugins.module_utils.options.restore import RestoreOptions


RESTORED_BY = "lifeboat.k8s/restored-from-backup"
CRDS = "customresourcedefinitions.apiextensions.k8s.io"
OUTCOMES = ("created", "updated", "unchanged", "skipped", "failed")


@dataclass(eq=False)
class Item:
    """One backed-up object and what the restore does with it."""
    res_dir: str
    source: Dict[str, Any]
    target: Optional[Dict[str, Any]] = None
    skip: Optional[str] = None
    refused: bool = False
    record: Optional[Dict[str, Any]] = None  # the snapshot record its volume comes back from (a PVC)
    outcome: Optional[str] = None
    message: Optional[str] = None
    seq: int = 0
    tier: str = ""  # spill.tier_key: ownership depth, then restore order
    source_uid: Optional[str] = None  # the backed-up object's
    live_uid: Optional[str] = None  # the target's object's, once created or found ('' when check mode would create it)

    @property
    def namespace(self):
        return (self.target or self.source).get("metadata", {}).get("namespace")

    @property
    def name(self):
        return (self.target or self.source)["metadata"]["name"]

    def path(self, name=None):
        return self.type_path(self.namespace, name)

    def type_path(self, namespace=None, name=None):
        """Its type's path (across every namespace, unless given one)."""
        plural, _group = split_resource_dir(self.res_dir)
        # The apiVersion's own group: a conversion may move the kind to another group (extensions -> networking.k8s.io)
        group, _slash, version = (self.target or self.source)["apiVersion"].rpartition("/")
        return resource_path(group, version, plural, namespace, name)

    def report(self):
        entry = {"resource": self.res_dir, "namespace": self.namespace, "name": self.name}
        if self.message:
            entry["message"] = self.message
        return entry


class Listing(NamedTuple):
    """A LIST of what exists: one collection, or a type across the cluster kept to the target namespaces."""
    res_dir: str
    namespace: Optional[str]  # the collection's (None: cluster-scoped, or across)
    across: Optional[FrozenSet[str]]  # the target namespaces kept from a LIST across the cluster
    path: str


class Restorer:
    """Applies a planned spill: volumes right after PVs and PVCs, then every other tier in restore
    order, a chunk at a time. Only outcomes are kept (counts, and the reports of what failed or
    was skipped), so memory does not grow with the backup."""

    def __init__(self, k8s, options: RestoreOptions, blocks: BlockStores, mapping, check_mode, hooks=None, copies=None,
                 from_copy=()):
        self.k8s = k8s
        self.hooks = hooks
        self.copies = copies
        self.from_copy = set(from_copy)  # (source namespace, pvc) of the volumes restored from their copies
        self.options = options
        self.wait = options.wait if not check_mode else replace(options.wait, wait=False)
        self.mapping = mapping
        self.check_mode = check_mode
        self.existing_policy = options.existing
        self.warnings: List[str] = []
        self.volumes: List[Dict[str, Any]] = []
        self.blocks = blocks
        self.unlisted: Set[Any] = set()  # (res_dir, namespace) LIST refused: their objects are compared after a GET
        self.namespaces_in_cluster: Optional[int] = None  # when the target namespaces came from one LIST
        # Target namespaces that did not exist when the restore began: nothing of the backup's can be in them
        # yet, so they are not listed; what a controller put there meanwhile is a CREATE conflict, then compared.
        self.fresh_namespaces: Set[str] = set()
        self.counts: Dict[str, Dict[str, int]] = {}  # resource -> outcome -> count
        self.total = 0
        self.failures: List[Dict[str, Any]] = []
        self.skipped: List[Dict[str, Any]] = []
        self.refused: List[Dict[str, Any]] = []
        self.owners: Any = None  # OwnerLinks, over the spill run() is given

    def _block(self, record):
        """The block store that took a snapshot record (one per driver, shared by the restore's threads)."""
        return self.blocks.of(record)

    def run(self, spill, manifest):
        self.backup_name = manifest.name
        self.owners = OwnerLinks(spill)
        for chunk in spill.skipped(Item):
            for item in chunk:
                item.outcome, item.message = "skipped", item.skip
            self._tally(chunk)
        self.volume_items = spill.with_volumes(Item)
        self._ensure_target_namespaces(*spill.target_namespaces())
        for tier, res_dir in spill.tiers():
            self._restore_volumes(before=tier)  # right after their claims' tier, before what mounts them
            done = self._apply_tier(spill, tier)
            if res_dir == CRDS:
                self._wait_crds(done)
        self._restore_volumes()
        return self._result(manifest)

    def _apply_tier(self, spill, tier):
        """Objects that exist are compared a LIST page at a time (no GET per object, no map of the
        namespace); the rest are created a chunk at a time. Returns the CRDs' items (few), else []."""
        kept: List[Any] = []
        for listing, objects in self._existing(spill, tier):
            by_namespace: Dict[Optional[str], Dict[str, Any]] = {}
            for obj in objects:
                namespace = obj["metadata"].get("namespace")
                if listing.across is None or namespace in listing.across:
                    by_namespace.setdefault(namespace, {})[obj["metadata"]["name"]] = obj
            pairs: List[Any] = []
            for namespace, page in by_namespace.items():
                pairs.extend((item, page[item.name]) for item in spill.named(Item, listing.res_dir, namespace, page))
            self.owners.relink([item for item, _existing in pairs])
            self._apply_chunk(spill, pairs, kept)
        # The rest are created with the next chunk read while this one is applied: workers never wait
        # for a chunk's slowest object before the next begins.
        with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
            in_flight = None
            after = 0
            while True:
                items = spill.next_chunk(Item, tier, after)
                if items:
                    after = items[-1].seq
                    self.owners.relink(items)
                    started = [(item, pool.submit(self._apply, (item, None))) for item in items]
                if in_flight:
                    self._finish_chunk(spill, in_flight, kept)
                if not items:
                    return kept
                in_flight = started

    def _existing(self, spill, tier):
        """(listing, a page of what exists) for the tier's collections: one LIST per type across the cluster
        when it writes into many of the cluster's namespaces, else one per (type, namespace that existed
        before the restore). A type refused across the cluster (403) is listed per namespace; what could not
        be listed is compared after a GET."""
        listings = self._listings(spill, tier)
        while listings:
            refused, answered = [], set()
            for listing, objects, error, _last in batches_concurrently(
                    lambda listing: self.k8s.list(listing.path, page_size=CHUNK), listings, CHUNK):
                if objects:
                    answered.add(listing)
                if error is not None:
                    if not isinstance(error, LifeboatError):
                        raise error
                    if listing.across is not None and getattr(error, "status", None) == 403 and \
                            listing not in answered:
                        refused.append(listing)
                        continue
                    self.unlisted.update((listing.res_dir, ns) for ns in listing.across or [listing.namespace])
                yield listing, objects
            listings = [self._listing(spill, listing.res_dir, ns)
                        for listing in refused for ns in sorted(listing.across) if ns not in self.fresh_namespaces]

    def _listings(self, spill, tier):
        by_type: Dict[str, List[Optional[str]]] = {}
        for res_dir, namespace in spill.collections(tier):
            by_type.setdefault(res_dir, []).append(namespace)
        listings = []
        for res_dir, namespaces in by_type.items():
            if None not in namespaces and lists_across_cluster(len(namespaces), self.namespaces_in_cluster):
                any_item = spill.any_of(Item, res_dir, namespaces[0])
                listings.append(Listing(res_dir, None, frozenset(ns for ns in namespaces if ns is not None),
                                        any_item.type_path()))
            else:
                listings.extend(self._listing(spill, res_dir, ns) for ns in namespaces
                                if ns not in self.fresh_namespaces)
        return listings

    @staticmethod
    def _listing(spill, res_dir, namespace):
        return Listing(res_dir, namespace, None, spill.any_of(Item, res_dir, namespace).path())

    def _apply_chunk(self, spill, pairs, kept):
        _record_crashes((item, result, error) for (item, _existing), result, error
                        in parallel_map(self._apply, pairs))
        self._done(spill, [item for item, _existing in pairs], kept)

    def _finish_chunk(self, spill, started, kept):
        _record_crashes((item, None, future.exception()) for item, future in started)
        self._done(spill, [item for item, _future in started], kept)

    def _done(self, spill, items, kept):
        self.owners.lend(items)
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

    def _restore_volumes(self, before=None):
        """The volumes of the claims in tiers before `before` (all when None)."""
        items = [i for i in self.volume_items if before is None or i.tier < before]
        if not items:
            return
        self.volume_items = [i for i in self.volume_items if i not in items]
        self.owners.relink(items)
        _record_crashes(parallel_map(self._restore_volume, items))
        if self.wait.wait:
            pending = [i for i in items if i.outcome in ("created", "unchanged")]

            def is_bound(item):
                return (self.k8s.get_or_none(item.path(item.name)) or {}).get("status", {}).get("phase") == "Bound"
            timeout = self.wait.timeout
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
                  "annotations": item.target["metadata"].get("annotations"),
                  "owner_references": item.target["metadata"].get("ownerReferences")}
        try:
            if claim_of(record) in self.from_copy:
                self._restore_from_copy(item)
                return
            block = self._block(record)
            target["volume_options"] = self.options.volume_options.get(block.name)
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
        wanted = targets | backed_up
        listed, in_cluster = self._listed_namespaces(wanted)
        for ns in sorted(wanted):
            path = resource_path("", "v1", "namespaces", None, ns)
            current = listed.get(ns) if listed is not None else self.k8s.get_or_none(path)
            if current and current.get("status", {}).get("phase") == "Terminating":
                self._wait_terminating(ns, path, current)
                if self.check_mode:
                    continue
                current = None
            if current is None and ns not in backed_up and not self.check_mode:
                self.k8s.create(resource_path("", "v1", "namespaces"), {
                    "apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": ns, "labels": {RESTORED_BY: self.backup_name}}})
            if current is None:
                self.fresh_namespaces.add(ns)
        if listed is not None:  # and those created here, or by the Namespaces the backup holds
            self.namespaces_in_cluster = in_cluster + len(self.fresh_namespaces)

    def _listed_namespaces(self, wanted):
        """Many target namespaces: the cluster's Namespaces by one LIST rather than a GET each, keeping the
        wanted ones (name -> object) and counting all of them; (None, None) when a GET each is cheaper or LIST is
        refused."""
        if len(wanted) < CLUSTER_WIDE_FROM:
            return None, None
        listed, count = {}, 0
        try:
            for namespace in self.k8s.list(resource_path("", "v1", "namespaces"), page_size=CHUNK):
                count += 1
                if namespace["metadata"]["name"] in wanted:
                    listed[namespace["metadata"]["name"]] = namespace
        except ApiError as e:
            if e.status != 403:
                raise
            return None, None  # may get each namespace, not list them: the restore lists per namespace too
        return listed, count

    def _wait_terminating(self, ns, path, current):
        """A namespace being deleted cannot take new objects: wait until it is gone, saying why it took long."""
        why = terminating_reason(current)
        if self.check_mode:
            self.warnings.append("namespace %s is being deleted (%s): a restore waits up to %ss (wait_timeout) for "
                                 "it to be gone" % (ns, why, self.wait.timeout))
            return
        started = time.monotonic()
        try:
            wait_until(lambda: self.k8s.get_or_none(path) is None, self.wait.timeout,
                       lambda: "namespace %s to finish terminating (%s)" % (
                           ns, terminating_reason(self.k8s.get_or_none(path) or {})))
        except LifeboatError as e:
            raise LifeboatError("%s; nothing was restored" % e.message)
        self.warnings.append("namespace %s was being deleted (%s): the restore waited %.0fs for it to be gone" % (
            ns, why, time.monotonic() - started))

    def _apply(self, pair):
        item, existing = pair
        try:
            self._apply_one(item, existing)
        except LifeboatError as e:
            item.outcome, item.message = "failed", e.message

    def _apply_one(self, item, existing):
        collection = item.path()
        if existing is None and (item.res_dir, item.namespace) in self.unlisted:
            existing = self.k8s.get_or_none(item.path(item.name))
        if existing is not None:
            self._compare(item, existing, dry_run=self.check_mode)
            return
        if self.check_mode:
            item.outcome, item.live_uid = "created", ""
            return
        if item.res_dir == "namespaces":
            # Marks the namespace as this restore's, so state=absent may delete it and nothing else.
            item.target["metadata"].setdefault("labels", {})[RESTORED_BY] = self.backup_name
        try:
            created = self.k8s.create(collection, item.target)
            item.outcome, item.live_uid = "created", created["metadata"].get("uid")
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
        item.live_uid = existing["metadata"].get("uid")  # an owner that exists lends its UID, kept or not
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
        if not self.wait.wait:
            return

        def established(item):
            crd = self.k8s.get_or_none(item.path(item.name)) or {}
            conditions = dict((c["type"], c["status"]) for c in crd.get("status", {}).get("conditions") or [])
            return conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True"

        ready = [i for i in items if i.outcome in ("created", "updated", "unchanged")]
        wait_until(lambda: all(established(i) for i in ready), self.wait.timeout,
                   "CustomResourceDefinitions to be established")

    # ------------------------------------------------------------ result

    def _result(self, manifest):
        counts, failures, skipped, refused = self.counts, self.failures, self.skipped, self.refused
        if refused:
            self.warnings.append("%d cluster-scoped object(s) of the backup were not restored (see refused_objects; "
                                 "cluster_resources allows more): %s" % (len(refused), ", ".join(
                                     "%s/%s" % (r["resource"], r["name"]) for r in refused[:10])))
        self.warnings.extend(self.owners.warnings())
        totals = dict((o, sum(r[o] for r in counts.values())) for o in OUTCOMES)
        result = {
            "changed": totals["created"] + totals["updated"] > 0,
            "phase": "PartiallyFailed" if failures else "Completed",
            "backup": manifest.name, "namespace_mapping": self.mapping,
            "counts": dict(sorted(counts.items())), "totals": totals,
            "failures": failures, "skipped_objects": skipped, "refused_objects": refused, "warnings": self.warnings,
            "volumes": self.volumes, "api_warnings": self.k8s.warnings.summary(),
        }
        if result["changed"]:
            result["diff"] = {"before": {}, "after": {"created": totals["created"], "updated": totals["updated"]}}
        if failures and not self.options.ignore_partial_failure:
            raise LifeboatError("restore of %s partially failed: %d of %d objects failed; first: %s %s/%s: %s" % (
                manifest.name, len(failures), self.total, failures[0]["resource"], failures[0]["namespace"],
                failures[0]["name"], failures[0].get("message")), **result)
        return result


def terminating_reason(namespace):
    """What a Terminating namespace still waits for, from its conditions (content or finalizers remaining)."""
    reasons = ["%s: %s" % (c.get("reason") or c.get("type"), c.get("message", "")) for c in
               (namespace.get("status") or {}).get("conditions") or [] if c.get("status") == "True"]
    return "; ".join(reasons) or "its finalizers %s" % ", ".join((namespace.get("spec") or {}).get("finalizers") or [
        "have not run yet"])


def _versions(crd):
    return sorted(v.get("name") for v in (crd.get("spec") or {}).get("versions") or [] if isinstance(v, dict))


def _record_crashes(outcomes):
    """An unexpected exception in a worker fails its item with the exception's type, text and place."""
    for item, _result, error in outcomes:
        if error is not None:
            item.outcome, item.message = "failed", "unexpected error: %s" % error_text(error)
