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
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup import ordering
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.archive import split_resource_dir
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.selectors import resource_matches
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path

STRIPPED_METADATA = (
    "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
    "deletionGracePeriodSeconds", "selfLink", "managedFields", "ownerReferences", "generateName",
)
SERVER_LABELS = {"namespaces": ("kubernetes.io/metadata.name",)}


def prepare_core(res_dir, obj, mapping, keep_status=False):
    """What every restored object gets: server-owned fields stripped, its namespace mapped."""
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


class RestoreRun:
    """What restore item actions may ask about the run (their context.run)."""

    def __init__(self, entries, mapping, options=None, records=(), k8s=None):
        self.mapping = mapping
        self.options = options or {}
        self.uids = set(o["metadata"].get("uid") for _d, _n, o in entries)
        self.services = set((n, o["metadata"]["name"]) for d, n, o in entries if d == "services")
        self.backed_up = set((d, o["metadata"]["name"]) for d, n, o in entries if n is None)
        self.claims = set((n, o["metadata"]["name"]) for d, n, o in entries if d == "persistentvolumeclaims")
        self.records = dict(((r["source"].get("namespace"), r["source"]["pvc"]), r) for r in records
                            if (r["source"].get("namespace"), r["source"]["pvc"]) in self.claims)
        self.k8s = k8s
        self.planned = set()
        self._exists = {}

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

    def exists(self, res_dir, name, version="v1"):
        """Does the target cluster hold this cluster-scoped object? (False when planning without a cluster.)"""
        if self.k8s is None:
            return False
        if (res_dir, name) not in self._exists:
            plural, group = split_resource_dir(res_dir)
            self._exists[(res_dir, name)] = self.k8s.get_or_none(
                resource_path(group, version, plural, None, name)) is not None
        return self._exists[(res_dir, name)]


def plan_items(entries, run, pipeline, make_item, restore_status=(), refusal=None):
    """Each (res_dir, namespace, obj) as make_item(res_dir, obj, target, skip, refused, record), in restore
    order. refusal(res_dir, obj) says why a cluster-scoped object may not be restored, or None."""
    items = []
    warnings = []
    needed = {}  # ItemRef -> the action that named it: at restore, items that must be restored too
    for res_dir, namespace, obj in sorted(entries, key=lambda entry: ordering.tier(entry[0])):
        target = prepare_core(res_dir, obj, run.mapping,
                              keep_status=resource_matches(res_dir, obj.get("kind"), restore_status))
        outcome = pipeline.run(ItemContext(res_dir, run, source=obj), target)
        warnings.extend(outcome.warnings)
        for action_name, ref in outcome.additional:
            needed.setdefault(ref, action_name)
        if outcome.skip:
            items.append(make_item(res_dir, obj, None, outcome.skip, False, None))
            continue
        refused = refusal(res_dir, obj) if refusal and namespace is None else None
        if refused:
            items.append(make_item(res_dir, obj, None, refused, True, None))
            continue
        if namespace is None:
            run.planned.add((res_dir, obj["metadata"]["name"]))
        items.append(make_item(res_dir, obj, outcome.item, None, False, outcome.volume_record))
    # Restore order already puts what objects need first; a needed item the restore does not hold is said.
    held = set((d, n, o["metadata"]["name"]) for d, n, o in entries)
    for ref, action_name in sorted(needed.items()):
        if tuple(ref) not in held:
            warnings.append("%s: needs %s, which this restore does not hold (see its filters)" % (
                action_name, ref.describe()))
    return items, warnings
