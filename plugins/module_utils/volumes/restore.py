# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""volume_restore: one PVC made from a snapshot (or a snapshot written back into its PVC), through the
block store interface."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from typing import TYPE_CHECKING

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.registry import block_store
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.waiting import wait_until
from ansible_collections.lifeboat.k8s.plugins.module_utils.volumes.snapshots import require_namespace

if TYPE_CHECKING:  # the types only: at run time the services do not import their callers' options
    from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.base import BlockStore
    from ansible_collections.lifeboat.k8s.plugins.module_utils.options.volumes import VolumeRestoreOptions


# In-tree volume sources and the CSI drivers Kubernetes migrates them to: csi_driver_map keys cover both.


def _snapshot_record(store: BlockStore, options: VolumeRestoreOptions):
    if options.snapshot:
        record = options.snapshot
        if record.get("driver", options.driver) != options.driver:
            raise InvalidInputError("snapshot: the record was made by driver %r, not %r" % (
                record.get("driver"), options.driver))
        return record
    name, namespace = options.snapshot_name, options.snapshot_namespace or options.namespace
    if not name:
        raise InvalidInputError("snapshot or snapshot_name: one is required with state=present")
    found = store.find_snapshot(name, namespace)
    if found is None:
        raise NotFoundError("snapshot_name: snapshot %s/%s does not exist" % (namespace, name))
    if not found["ready"]:
        raise InvalidInputError("snapshot_name: snapshot %s/%s is not ready to use%s" % (
            namespace, name, ": %s" % found["error"] if found.get("error") else ""))
    return found


def restore_volume(k8s, options: VolumeRestoreOptions, check_mode=False):
    store = block_store(options.driver, k8s, options.block_store)
    target = options.target()
    if options.in_place:
        return _restore_in_place(k8s, store, options, target, check_mode)
    existing = store.find_volume(target)
    if options.state == "absent":
        return _delete_restored(k8s, store, options, existing, check_mode)
    record = _snapshot_record(store, options)
    require_namespace(k8s, options.namespace)
    if existing:
        if existing["restored_from"] != record["snapshot_id"]:
            raise ConflictError("pvc: PersistentVolumeClaim %s/%s already exists and was not restored from snapshot "
                                "%s (restored from: %s)" % (options.namespace, options.pvc, record["snapshot_id"],
                                                            existing["restored_from"] or "nothing"))
        volume, changed = existing, False
    else:
        plan = store.plan_restore(record, target)
        if check_mode:
            return {"changed": True, "volume": dict(target, phase=None, restored_from=record["snapshot_id"]),
                    "diff": {"before": {}, "after": {"pvc": "%s/%s" % (options.namespace, options.pvc)}}}
        volume, changed = store.restore_volume(record, target, plan), True
    if options.wait and volume["phase"] != "Bound":
        volume = _wait_bound(store, volume, options.wait_timeout)
    result = {"changed": changed, "volume": volume}
    if changed:
        result["diff"] = {"before": {}, "after": {"pvc": "%s/%s" % (options.namespace, options.pvc)}}
    return result


def _restore_in_place(k8s, store: BlockStore, options: VolumeRestoreOptions, target, check_mode):
    """Overwrite the PVC's own volume with the snapshot: refused while a pod mounts it (the data would change
    under a running application) and with state=absent (there is nothing of ours to delete)."""
    if options.state == "absent":
        raise InvalidInputError("in_place: only with state=present (an in-place restore creates nothing to delete)")
    record = _snapshot_record(store, options)
    require_namespace(k8s, options.namespace)
    users = pods_using(k8s, options.namespace, options.pvc)
    if users:
        raise ConflictError("pvc: PersistentVolumeClaim %s/%s is in use by %s; stop the workloads that mount it "
                            "before restoring its volume in place" % (options.namespace, options.pvc,
                                                                      ", ".join(users[:10])))
    volume, changed = store.restore_in_place(record, target, check_mode)
    result = {"changed": changed, "volume": volume}
    if changed:
        result["diff"] = {"before": {"restored_in_place": None},
                          "after": {"restored_in_place": record["snapshot_id"]}}
    return result


def _wait_bound(store: BlockStore, volume, timeout):
    state = {"volume": volume}

    def check():
        state["volume"] = store.describe_volume(volume)
        if state["volume"] is None:
            raise NotFoundError("PersistentVolumeClaim %s/%s disappeared while waiting for it to bind" % (
                volume["namespace"], volume["pvc"]))
        return state["volume"]["phase"] == "Bound"

    def pending():
        problem = store.volume_problem(volume)
        return "PersistentVolumeClaim %s/%s to be Bound (phase %s)%s" % (
            volume["namespace"], volume["pvc"], state["volume"]["phase"], "; last warning: " + problem if problem else "")

    wait_until(check, timeout, pending)
    return state["volume"]


def pods_using(k8s, namespace, pvc):
    """Pods not yet finished that mount the claim: Kubernetes keeps a claim until none does."""
    return sorted(pod["metadata"]["name"] for pod in k8s.list(resource_path("", "v1", "pods", namespace))
                  if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                  and any((volume.get("persistentVolumeClaim") or {}).get("claimName") == pvc
                          for volume in (pod.get("spec") or {}).get("volumes") or []))


def _delete_restored(k8s, store: BlockStore, options: VolumeRestoreOptions, existing, check_mode):
    if existing is None:
        return {"changed": False, "volume": {}}
    if not existing["restored_from"]:
        raise ConflictError("pvc: PersistentVolumeClaim %s/%s was not restored by lifeboat; refusing to delete it" % (
            existing["namespace"], existing["pvc"]))
    record = options.snapshot
    if record and record.get("snapshot_id") and record["snapshot_id"] != existing["restored_from"]:
        raise ConflictError("pvc: PersistentVolumeClaim %s/%s was restored from snapshot %s, not %s; refusing to "
                            "delete it" % (existing["namespace"], existing["pvc"], existing["restored_from"],
                                           record["snapshot_id"]))
    users = pods_using(k8s, existing["namespace"], existing["pvc"])
    if users:
        # The delete would only mark it Terminating and wait for them (pvc-protection): say so up front.
        raise ConflictError("pvc: PersistentVolumeClaim %s/%s is in use by pod%s %s; stop the workloads that mount "
                            "it first (Kubernetes keeps a claim until no pod uses it)" % (
                                existing["namespace"], existing["pvc"], "s" if len(users) > 1 else "",
                                ", ".join(users[:10])))
    if not check_mode:
        store.delete_volume(existing)
        if options.wait:
            wait_until(lambda: store.volume_gone(existing), options.wait_timeout,
                       "PersistentVolumeClaim %s/%s to be deleted" % (existing["namespace"], existing["pvc"]))
    return {"changed": True, "volume": existing,
            "diff": {"before": {"pvc": "%s/%s" % (existing["namespace"], existing["pvc"])}, "after": {}}}
