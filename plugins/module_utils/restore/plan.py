# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deciding what a restore does with each backed-up object: the core preparation every object
gets, then the restore item actions (actions/pipeline.py), then the cluster-scoped refusals
(confine.py). Objects are planned in restore order, so an action may ask whether an object it
depends on (a PVC's PV) is restored."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.base import ItemContext
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.records import claim_of
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.archive import split_resource_dir
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube import ordering
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.selectors import resource_matches

STRIPPED_METADATA = (
    "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
    "deletionGracePeriodSeconds", "selfLink", "managedFields", "ownerReferences", "generateName",
)
SERVER_LABELS = {"namespaces": ("kubernetes.io/metadata.name",)}


def prepare_core(res_dir, obj, mapping, keep_status=False, fresh=False):
    """What every restored object gets: server-owned fields stripped, its namespace mapped.
    Changes a copy, or obj itself when the caller says it is a fresh one (fresh=True)."""
    if not fresh:
        obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    for field in STRIPPED_METADATA:
        meta.pop(field, None)
    if not keep_status:
        obj.pop("status", None)
    for label in SERVER_LABELS.get(res_dir, ()):
        (meta.get("labels") or {}).pop(label, None)
    if meta.get("namespace"):
        meta["namespace"] = mapping.get(meta["namespace"], meta["namespace"])
    if res_dir == "namespaces":
        meta["name"] = mapping.get(meta["name"], meta["name"])
    return obj


class RunFacts:
    """What planning asks about the whole selection, gathered as it is read: cluster-scoped
    objects, Services and PVCs by name (few), and owner UIDs in any container with `in` (a set,
    or a restore's spill table, which keeps memory flat however many objects there are)."""

    def __init__(self, uids=None):
        self.uids = set() if uids is None else uids
        self.services = set()
        self.backed_up = set()
        self.claims = set()
        # (what, namespace, PVC name or None for a claim template, storage class) of every PVC and claim template
        self.volume_classes = []
        self.storage_classes = {}  # name -> the backed-up StorageClass

    @classmethod
    def of(cls, entries):
        facts = cls()
        for res_dir, namespace, obj in entries:
            facts.uids.add(obj["metadata"].get("uid"))
            facts.add(res_dir, namespace, obj)
        return facts

    def add(self, res_dir, namespace, obj):
        name = obj["metadata"]["name"]
        if res_dir == "services":
            self.services.add((namespace, name))
        elif res_dir == "persistentvolumeclaims":
            self.claims.add((namespace, name))
            self.volume_classes.append(("PVC %s/%s" % (namespace, name), namespace, name,
                                        (obj.get("spec") or {}).get("storageClassName")))
        elif res_dir == "statefulsets.apps":
            for template in (obj.get("spec") or {}).get("volumeClaimTemplates") or []:
                self.volume_classes.append((
                    "StatefulSet %s/%s volumeClaimTemplate %s" % (namespace, name, template.get("metadata", {}).get(
                        "name")), namespace, None, (template.get("spec") or {}).get("storageClassName")))
        elif res_dir == "storageclasses.storage.k8s.io":
            self.storage_classes[name] = obj
        if namespace is None:
            self.backed_up.add((res_dir, name))


class CountedList(list):
    """The first `keep` of what is appended, and how many were: a warning names a few and counts them all."""

    def __init__(self, keep=10):
        super().__init__()
        self.keep = keep
        self.total = 0

    def append(self, value):
        self.total += 1
        if len(self) < self.keep:
            super().append(value)


class RestoreRun:
    """What restore item actions may ask about the run (their context.run)."""

    def __init__(self, entries, mapping, options=None, records=(), k8s=None, facts=None):
        self.mapping = mapping
        self.options = options or {}
        facts = facts or RunFacts.of(entries)
        self.uids = facts.uids
        self.services = facts.services
        self.backed_up = facts.backed_up
        self.claims = facts.claims
        self.records = dict((claim_of(r), r) for r in records if claim_of(r) in self.claims)
        self.k8s = k8s
        # holds((res_dir, source namespace, name)): is this object in the restore's selection? (the spill's, in a run)
        held = set((d, n, o["metadata"]["name"]) for d, n, o in entries or ())
        self.holds = held.__contains__
        self.planned = set()
        self.unlinked = CountedList()  # objects restored without references to owners outside the restore
        self._exists = {}
        self._served = {}  # API group -> the versions the target cluster serves

    def mapped(self, namespace):
        return self.mapping.get(namespace, namespace)

    def snapshot_record(self, pvc):
        meta = pvc.get("metadata") or {}
        return self.records.get((meta.get("namespace"), meta.get("name")))

    def claim_from_snapshot(self, namespace, name):
        return (namespace, name) in self.records

    def in_backup(self, res_dir, name):
        """Is this cluster-scoped object in the backup (whatever the restore does with it)?"""
        return (res_dir, name) in self.backed_up

    def restored(self, res_dir, name):
        """Is this cluster-scoped object restored? Known for what comes earlier in restore order."""
        return (res_dir, name) in self.planned

    def serves(self, group_version):
        """Does the target cluster serve this group/version (discovery, once per group)? Planning without a cluster
        assumes a current one, which serves no removed version."""
        if self.k8s is None:
            return False
        group, _slash, version = group_version.rpartition("/")
        if group not in self._served:
            answer = self.k8s.get_or_none("/apis/" + group if group else "/api") or {}
            versions = answer.get("versions") or []
            self._served[group] = set(v if isinstance(v, str) else v.get("version") for v in versions
                                      if isinstance(v, (str, dict)))
        return version in self._served[group]

    def exists(self, res_dir, name, version="v1"):
        """Does the target cluster hold this cluster-scoped object? (False when planning without a cluster.)"""
        if self.k8s is None:
            return False
        if (res_dir, name) not in self._exists:
            plural, group = split_resource_dir(res_dir)
            self._exists[(res_dir, name)] = self.k8s.get_or_none(
                resource_path(group, version, plural, None, name)) is not None
        return self._exists[(res_dir, name)]


class Planner:
    """Plans one entry at a time, in restore order (the caller's): plan(res_dir, namespace, obj) ->
    (target, skip, refused, record). finish(holds) -> the run's warnings, where holds(ref) says
    whether the restore holds an item an action named."""

    def __init__(self, run, pipeline, restore_status=(), refusal=None):
        self.run = run
        self.pipeline = pipeline
        self.restore_status = restore_status
        self.refusal = refusal
        self.warnings = []
        self.refusals = []  # what an action says cannot be restored at all: the restore refuses before any change
        self.needed = {}  # ItemRef -> the action that named it: at restore, items that must be restored too

    def plan(self, res_dir, namespace, obj, fresh_copy=None):
        """fresh_copy: an equal object the plan may change (else obj is copied)."""
        target = prepare_core(res_dir, obj if fresh_copy is None else fresh_copy, self.run.mapping,
                              keep_status=resource_matches(res_dir, obj.get("kind"), self.restore_status),
                              fresh=fresh_copy is not None)
        outcome = self.pipeline.run(ItemContext(res_dir, self.run, source=obj), target)
        self.warnings.extend(outcome.warnings)
        if outcome.refuse:
            # An object the restore would not take anyway (cluster_resources) is refused as such, not refused to start.
            confined = self.refusal(res_dir, obj) if self.refusal and namespace is None else None
            if not confined:
                self.refusals.append(outcome.refuse)
            return None, confined or outcome.refuse, True, None
        for action_name, ref in outcome.additional:
            self.needed.setdefault(ref, action_name)
        if outcome.skip:
            return None, outcome.skip, False, None
        refused = self.refusal(res_dir, obj) if self.refusal and namespace is None else None
        if refused:
            return None, refused, True, None
        if namespace is None:
            self.run.planned.add((res_dir, obj["metadata"]["name"]))
        return outcome.item, None, False, outcome.volume_record

    def finish(self, holds):
        if self.refusals:
            raise InvalidInputError("name: %d object(s) of the backup cannot be restored into this cluster, so nothing "
                                    "was restored (exclude_resources or disable_actions can leave them out): %s" % (
                                        len(self.refusals), "; ".join(self.refusals[:10])))
        if self.run.unlinked.total:
            self.warnings.append("%d object(s) are restored without their owner references to owners that are not in "
                                 "this restore: %s" % (self.run.unlinked.total, "; ".join(self.run.unlinked)))
        # Restore order already puts what objects need first; a needed item the restore does not hold is said.
        for ref, action_name in sorted(self.needed.items()):
            if not holds(tuple(ref)):
                self.warnings.append("%s: needs %s, which this restore does not hold (see its filters)" % (
                    action_name, ref.describe()))
        return self.warnings


def plan_items(entries, run, pipeline, make_item, restore_status=(), refusal=None):
    """Each (res_dir, namespace, obj) as make_item(res_dir, obj, target, skip, refused, record), in restore
    order. refusal(res_dir, obj) says why a cluster-scoped object may not be restored, or None."""
    planner = Planner(run, pipeline, restore_status, refusal)
    items = [make_item(res_dir, obj, *planner.plan(res_dir, namespace, obj))
             for res_dir, namespace, obj in sorted(entries, key=lambda entry: ordering.tier(entry[0]))]
    held = set((d, n, o["metadata"]["name"]) for d, n, o in entries)
    return items, planner.finish(held.__contains__)
