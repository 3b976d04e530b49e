# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What block store drivers on a storage system's own API (OpenStorage, EBS) share: the Kubernetes side.

A snapshot lives in the storage system, found by labels (tags) that say which name and
namespace it has; what a restore needs of the PVC (storage class, size, access modes) is kept
in labels too, so the record can be rebuilt from the storage system alone. A PVC is snapshotted
by the id of the volume its PersistentVolume names (CSI volumeHandle, or the in-tree source).

A restore creates a volume from the snapshot in the storage system (labelled with a key derived
from the snapshot and the target, so a rerun finds it), then a PersistentVolume bound by claimRef
and the PVC naming it. Every object carries RESTORED_FROM and RESTORE_DRIVER; only such objects,
and only a storage volume labelled with the same key, are ever deleted.

Subclasses implement the storage calls (the methods starting with storage_) and say which
PersistentVolumes are theirs (CSI_DRIVERS, IN_TREE).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
from typing import Optional, Tuple

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.base import (
    MANAGED_BY,
    RESTORE_DRIVER,
    RESTORED_FROM,
    DriverBase,
    owned_by,
    pvc_path,
    pvc_warning,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.quantity import quantity_bytes

SNAPSHOT_NAME = "lifeboat.k8s/snapshot-name"
SNAPSHOT_NAMESPACE = "lifeboat.k8s/snapshot-namespace"
RESTORE_KEY = "lifeboat.k8s/restore-key"
SOURCE_PREFIX = "lifeboat.k8s/source."
RESTORE_PV = "lifeboat.k8s/restore-pv"
RESTORE_VOLUME_ID = "lifeboat.k8s/restore-volume-id"
RESTORE_REGION = "lifeboat.k8s/restore-region"
RESTORED_IN_PLACE = "lifeboat.k8s/restored-in-place"  # the snapshot last restored onto a PVC's own volume
COPIED_FROM = "lifeboat.k8s/copied-from"  # on a copy in another region: its source snapshot
# A snapshot's labels that are the driver's own bookkeeping, not the user's tags (EBS's Name tag too).
INTERNAL_LABELS = (MANAGED_BY, SNAPSHOT_NAME, SNAPSHOT_NAMESPACE, COPIED_FROM, "Name")
# What a restore needs of the source PVC, kept as labels on the snapshot.
SOURCE_KEYS = ("pvc", "storage_class", "size", "access_modes", "volume_mode", "volume_id", "csi_driver", "zone")


def pv_path(name=None):
    return resource_path("", "v1", "persistentvolumes", None, name)


def source_labels(source):
    labels = {}
    for key in SOURCE_KEYS:
        value = source.get(key)
        if value:
            labels[SOURCE_PREFIX + key] = ",".join(value) if isinstance(value, list) else str(value)
    return labels


def labels_source(labels, namespace):
    source = {"namespace": namespace}
    for key in SOURCE_KEYS:
        value = labels.get(SOURCE_PREFIX + key)
        source[key] = value.split(",") if value and key == "access_modes" else value
    return source


def user_tags(labels):
    """The tags the user gave (lifeboat.k8s/backup from the roles among them), without the driver's own."""
    return dict((k, v) for k, v in labels.items() if k not in INTERNAL_LABELS and not k.startswith(SOURCE_PREFIX))


class NativeBlockStore(DriverBase):
    claims_provisioned_by_cluster = False  # a PersistentVolume of our own, bound by claimRef
    """The Kubernetes side of a storage system's snapshots; see the module docstring."""

    CSI_DRIVERS: Tuple[str, ...] = ()
    IN_TREE: Tuple[str, str] = ("", "")  # (PersistentVolume spec key, field holding the volume id)
    STORAGE: Optional[str] = None  # what the storage system is called in messages

    # ------------------------------------------------------------ storage calls (subclasses)

    def storage_volume(self, volume_id, region=None):
        """The storage volume ({id, size_bytes, zone}) or None."""
        raise NotImplementedError

    def storage_snapshot(self, volume_id, name, labels, source):
        """Take a snapshot of a storage volume, labelled; return its record."""
        raise NotImplementedError

    def storage_snapshots(self, labels):
        """Records of the snapshots carrying all these labels."""
        raise NotImplementedError

    def storage_describe(self, record):
        """A refreshed record of the snapshot, or None if it is gone."""
        raise NotImplementedError

    def storage_delete_snapshot(self, record):
        raise NotImplementedError

    def storage_plan_volume(self, record, target):
        """Check the options of a volume made from the snapshot; return what storage_create_volume needs
        (with "region" where the storage system has regions)."""
        raise NotImplementedError

    def storage_pv_source(self, volume_id, plan):
        """The PersistentVolume's volume source fields and node affinity (or None) for a restored volume."""
        raise NotImplementedError

    def storage_restore_in_place(self, volume_id, record):
        """Overwrite a volume with the data of a snapshot taken of it."""
        raise InvalidInputError("in_place: %s cannot restore a snapshot onto an existing volume; restore into a "
                                "new PVC instead" % self.STORAGE)

    def storage_find_volume(self, key, region=None):
        """The id of the volume restored under this key, or None."""
        raise NotImplementedError

    def storage_create_volume(self, record, plan, labels):
        """Create a volume from the snapshot as planned, labelled; return its id."""
        raise NotImplementedError

    def storage_delete_volume(self, volume_id, key, region=None):
        """Delete a volume if it carries the restore key; True if deleted."""
        raise NotImplementedError

    # ------------------------------------------------------------ snapshots

    def find_snapshot(self, name, namespace):
        found = self.storage_snapshots({MANAGED_BY: "lifeboat", SNAPSHOT_NAME: name, SNAPSHOT_NAMESPACE: namespace})
        return found[0] if found else None

    def find_snapshots(self, namespace=None, name=None, tags=None, pvc=None):
        labels = dict(tags or {})
        labels[MANAGED_BY] = "lifeboat"
        if namespace:
            labels[SNAPSHOT_NAMESPACE] = namespace
        if name:
            labels[SNAPSHOT_NAME] = name
        if pvc:
            labels[SOURCE_PREFIX + "pvc"] = pvc
        return self.storage_snapshots(labels)

    def check_snapshot_source(self, volume, snapshot_class=None):
        if snapshot_class:
            raise InvalidInputError("snapshot_class: only the csi driver uses VolumeSnapshotClasses; the %s driver "
                                    "snapshots %s volumes directly" % (self.name, self.STORAGE))
        if volume.get("volume_id"):
            source = {"namespace": volume["namespace"], "pvc": None, "volume_id": volume["volume_id"]}
            where = "volume_id: %s volume %s" % (self.STORAGE, volume["volume_id"])
        else:
            source = self._pvc_source(volume["namespace"], volume["pvc"])
            where = "pvc: PersistentVolumeClaim %s/%s: its %s volume %s" % (
                volume["namespace"], volume["pvc"], self.STORAGE, source["volume_id"])
        found = self.storage_volume(source["volume_id"])
        if found is None:
            raise NotFoundError("%s does not exist" % where)
        source.setdefault("size", found.get("size_bytes") and str(found["size_bytes"]))
        if found.get("zone"):
            source["zone"] = found["zone"]
        return {"source": source}

    def _pvc_source(self, namespace, name):
        pvc = self.k8s.get_or_none(pvc_path(namespace, name))
        if pvc is None:
            raise NotFoundError("pvc: PersistentVolumeClaim %s/%s does not exist" % (namespace, name))
        spec = pvc.get("spec") or {}
        if (pvc.get("status") or {}).get("phase") != "Bound" or not spec.get("volumeName"):
            raise InvalidInputError("pvc: PersistentVolumeClaim %s/%s is not Bound: there is no volume to snapshot "
                                    "yet" % (namespace, name))
        pv = self.k8s.get_or_none(pv_path(spec["volumeName"])) or {}
        volume_id, csi_driver = self.volume_handle(pv)
        if not volume_id:
            raise InvalidInputError("pvc: PersistentVolumeClaim %s/%s is not on %s (its PersistentVolume %s is %s); "
                                    "the %s driver snapshots %s volumes" % (
                                        namespace, name, self.STORAGE, spec["volumeName"], describe_pv_source(pv),
                                        self.name, " or ".join(self.CSI_DRIVERS + (self.IN_TREE[0],))))
        return {
            "namespace": namespace, "pvc": name, "storage_class": spec.get("storageClassName"),
            "size": ((pvc.get("status") or {}).get("capacity") or {}).get("storage")
            or ((spec.get("resources") or {}).get("requests") or {}).get("storage"),
            "access_modes": spec.get("accessModes") or ["ReadWriteOnce"],
            "volume_mode": spec.get("volumeMode") or "Filesystem",
            "volume_id": volume_id, "csi_driver": csi_driver,
        }

    def volume_handle(self, pv):
        """(storage volume id, CSI driver name) of a PersistentVolume, or (None, None) if it is not ours."""
        spec = pv.get("spec") or {}
        csi = spec.get("csi") or {}
        if csi.get("driver") in self.CSI_DRIVERS:
            return csi.get("volumeHandle"), csi["driver"]
        key, field = self.IN_TREE
        if spec.get(key):
            return spec[key].get(field), self.CSI_DRIVERS[0]
        return None, None

    def planned_snapshot(self, volume, name, tags, plan):
        return {
            "driver": self.name, "snapshot_id": None, "name": name, "namespace": volume["namespace"],
            "source": plan["source"], "tags": dict(tags or {}), "ready": False, "size_bytes": None,
            "created_at": None, "error": None, "driver_data": {},
        }

    def create_snapshot(self, volume, name, tags, plan):
        labels = dict(tags or {})
        labels.update(source_labels(plan["source"]))
        labels.update({MANAGED_BY: "lifeboat", SNAPSHOT_NAME: name, SNAPSHOT_NAMESPACE: volume["namespace"]})
        return self.storage_snapshot(plan["source"]["volume_id"], name, labels, plan["source"])

    def describe_snapshot(self, record):
        if not record.get("snapshot_id"):
            return self.find_snapshot(record["name"], record["namespace"])
        return self.storage_describe(record)

    def delete_snapshot(self, record):
        current = self.describe_snapshot(record)
        if current is None:
            return False
        if (current["namespace"], current["name"]) != (record["namespace"], record["name"]):
            raise ConflictError("snapshot %s is %s/%s in %s, not %s/%s; refusing to delete it" % (
                record["snapshot_id"], current["namespace"], current["name"], self.STORAGE, record["namespace"],
                record["name"]))
        return self.storage_delete_snapshot(current)

    def check_snapshot_origin(self, record):
        """A snapshot the storage system still has must carry the name, namespace and source volume the
        record says (a forged record could otherwise restore another namespace's data)."""
        current = self.storage_describe(record) if record.get("snapshot_id") else None
        if current is None:
            return None
        said = (record.get("namespace"), record.get("name"), (record.get("source") or {}).get("volume_id"))
        real = (current["namespace"], current["name"], current["source"].get("volume_id"))
        if said != real:
            return "snapshot %s was taken as %s/%s of volume %s, not %s/%s of volume %s as the record says" % (
                record["snapshot_id"], real[0], real[1], real[2], said[0], said[1], said[2])
        return None

    # ------------------------------------------------------------ volumes

    def plan_restore(self, record, target):
        if record.get("driver") != self.name:
            raise InvalidInputError("snapshot: the record was made by driver %r, not %r" % (
                record.get("driver"), self.name))
        if not record.get("snapshot_id"):
            raise InvalidInputError("snapshot: the record has no snapshot_id (was the snapshot ready when it was "
                                    "recorded?)")
        current = self.storage_describe(record)
        if current is None:
            raise NotFoundError("snapshot: snapshot %s (%s/%s) does not exist in %s" % (
                record["snapshot_id"], record.get("namespace"), record.get("name"), self.STORAGE))
        if not current["ready"]:
            raise InvalidInputError("snapshot: snapshot %s is not ready to use%s" % (
                record["snapshot_id"], ": " + current["error"] if current.get("error") else ""))
        source = record.get("source") or {}
        size = target.get("size") or source.get("size") or current.get("size_bytes")
        if size is None:
            raise InvalidInputError("size: the snapshot record has no size; give size")
        if current.get("size_bytes") and quantity_bytes(size) < current["size_bytes"]:
            raise InvalidInputError("size: %s is smaller than the snapshot (%d bytes)" % (size, current["size_bytes"]))
        namespace, pvc = target["namespace"], target["pvc"]
        key = hashlib.sha256(("%s/%s/%s/%s" % (self.name, record["snapshot_id"], namespace, pvc)).encode()).hexdigest()
        storage_plan = self.storage_plan_volume(dict(record, size_bytes=current.get("size_bytes")),
                                                dict(target, size=size))
        pv_name = "lifeboat-" + key[:40]
        existing = self.k8s.get_or_none(pv_path(pv_name))
        if existing and (existing["metadata"].get("annotations") or {}).get(RESTORED_FROM) != record["snapshot_id"]:
            raise ConflictError("pvc: PersistentVolume %s already exists and was not restored from snapshot %s" % (
                pv_name, record["snapshot_id"]))
        return {
            "key": key[:40], "pv_name": pv_name, "size": str(size), "storage": storage_plan,
            "storage_class": target.get("storage_class") or source.get("storage_class") or "",
            "access_modes": target.get("access_modes") or source.get("access_modes") or ["ReadWriteOnce"],
            "volume_mode": source.get("volume_mode") or "Filesystem",
        }

    def restore_volume(self, record, target, plan):
        marks = {RESTORED_FROM: record["snapshot_id"], RESTORE_DRIVER: self.name}
        region = plan["storage"].get("region")
        volume_id = self.storage_find_volume(plan["key"], region) or self.storage_create_volume(
            record, plan["storage"], {MANAGED_BY: "lifeboat", RESTORE_KEY: plan["key"],
                                      RESTORED_FROM: record["snapshot_id"]})
        namespace, pvc_name = target["namespace"], target["pvc"]
        source, affinity = self.storage_pv_source(volume_id, plan["storage"])
        pv_spec = {
            "capacity": {"storage": plan["size"]}, "accessModes": plan["access_modes"],
            "volumeMode": plan["volume_mode"], "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": plan["storage_class"],
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": namespace,
                         "name": pvc_name},
        }
        pv_spec.update(source)
        if affinity:
            pv_spec["nodeAffinity"] = affinity
        self._create_owned(pv_path(), {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": plan["pv_name"], "labels": {MANAGED_BY: "lifeboat"},
                         "annotations": dict(marks, **{RESTORE_KEY: plan["key"]})},
            "spec": pv_spec}, record)
        labels = dict(target.get("labels") or {})
        labels[MANAGED_BY] = "lifeboat"
        annotations = dict(target.get("annotations") or {})
        annotations.update(marks)
        annotations.update({RESTORE_PV: plan["pv_name"], RESTORE_VOLUME_ID: volume_id, RESTORE_KEY: plan["key"]})
        if region:
            annotations[RESTORE_REGION] = region
        pvc = self._create_owned(pvc_path(namespace), {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": pvc_name, "namespace": namespace, "labels": labels, "annotations": annotations,
                         **owned_by(target)},
            "spec": {"accessModes": plan["access_modes"], "resources": {"requests": {"storage": plan["size"]}},
                     "volumeMode": plan["volume_mode"], "storageClassName": plan["storage_class"],
                     "volumeName": plan["pv_name"]}}, record)
        return self._volume(pvc)

    def _create_owned(self, path, body, record):
        try:
            return self.k8s.create(path, body)
        except ConflictError:
            # Left by an interrupted run? Reuse it only if it is ours for this snapshot.
            meta = body["metadata"]
            existing = self.k8s.get(path + "/" + meta["name"])
            if (existing["metadata"].get("annotations") or {}).get(RESTORED_FROM) != record["snapshot_id"]:
                raise ConflictError("%s %s already exists and was not restored from snapshot %s" % (
                    body["kind"], meta["name"], record["snapshot_id"]))
            return existing

    def restore_in_place(self, record, target, check_mode=False):
        """Once per snapshot: the PVC remembers which snapshot was last restored onto its volume."""
        namespace, name = target["namespace"], target["pvc"]
        pvc = self.k8s.get_or_none(pvc_path(namespace, name))
        if pvc is None:
            raise NotFoundError("pvc: PersistentVolumeClaim %s/%s does not exist; in_place restores onto an existing "
                                "PVC's volume" % (namespace, name))
        pv_name = (pvc.get("spec") or {}).get("volumeName")
        pv = (self.k8s.get_or_none(pv_path(pv_name)) if pv_name else None) or {}
        volume_id, _driver = self.volume_handle(pv)
        taken_of = (record.get("source") or {}).get("volume_id")
        if not volume_id or volume_id != taken_of:
            raise InvalidInputError("in_place: PersistentVolumeClaim %s/%s is %s, but snapshot %s was taken of %s "
                                    "volume %s; in_place restores a snapshot onto the volume it was taken of" % (
                                        namespace, name,
                                        "on volume %s" % volume_id if volume_id else describe_pv_source(pv),
                                        record.get("snapshot_id"), self.STORAGE, taken_of))
        current = self.storage_describe(record) if record.get("snapshot_id") else None
        if current is None or not current["ready"]:
            raise NotFoundError("snapshot: snapshot %s does not exist in %s or is not ready" % (
                record.get("snapshot_id"), self.STORAGE))
        volume = self._volume(pvc)
        if (pvc["metadata"].get("annotations") or {}).get(RESTORED_IN_PLACE) == record["snapshot_id"]:
            return volume, False
        if not check_mode:
            self.storage_restore_in_place(volume_id, record)
            self.k8s.merge_patch(pvc_path(namespace, name),
                                 {"metadata": {"annotations": {RESTORED_IN_PLACE: record["snapshot_id"]}}})
        return volume, True

    def find_volume(self, target):
        pvc = self.k8s.get_or_none(pvc_path(target["namespace"], target["pvc"]))
        return self._volume(pvc) if pvc else None

    def describe_volume(self, volume):
        return self.find_volume(volume)

    def restored_volumes(self, namespace):
        return [self._volume(pvc) for pvc in self.k8s.list(pvc_path(namespace))
                if (pvc["metadata"].get("annotations") or {}).get(RESTORE_DRIVER) == self.name]

    def volume_problem(self, volume):
        return pvc_warning(self.k8s, volume["namespace"], volume["pvc"])

    def delete_volume(self, volume):
        """The PersistentVolume first (it waits for the claim), then the storage volume, the claim last,
        so a rerun after an interruption still finds the claim and finishes."""
        pvc = self.k8s.get_or_none(pvc_path(volume["namespace"], volume["pvc"]))
        if pvc is None:
            return False
        annotations = pvc["metadata"].get("annotations") or {}
        if annotations.get(RESTORE_DRIVER) != self.name or not annotations.get(RESTORED_FROM):
            raise ConflictError("PersistentVolumeClaim %s/%s was not restored by lifeboat's %s driver; refusing to "
                                "delete it" % (volume["namespace"], volume["pvc"], self.name))
        pv_name, key = annotations.get(RESTORE_PV), annotations.get(RESTORE_KEY)
        pv = self.k8s.get_or_none(pv_path(pv_name)) if pv_name else None
        if pv and (pv["metadata"].get("annotations") or {}).get(RESTORE_KEY) == key:
            self.k8s.delete(pv_path(pv_name))
        if annotations.get(RESTORE_VOLUME_ID) and key:
            self.storage_delete_volume(annotations[RESTORE_VOLUME_ID], key, annotations.get(RESTORE_REGION))
        self.k8s.delete(pvc_path(volume["namespace"], volume["pvc"]))
        return True

    def _volume(self, pvc):
        meta = pvc["metadata"]
        annotations = meta.get("annotations") or {}
        spec = pvc.get("spec") or {}
        ours = annotations.get(RESTORE_DRIVER) == self.name
        return {
            "driver": self.name,
            "namespace": meta["namespace"],
            "pvc": meta["name"],
            "phase": (pvc.get("status") or {}).get("phase"),
            "restored_from": annotations.get(RESTORED_FROM) if ours else None,
            "volume_name": spec.get("volumeName"),
            "storage_class": spec.get("storageClassName"),
            "size": ((spec.get("resources") or {}).get("requests") or {}).get("storage"),
            "driver_data": {"volume_id": annotations.get(RESTORE_VOLUME_ID) if ours else None},
        }


def describe_pv_source(pv):
    spec = pv.get("spec") or {}
    if spec.get("csi"):
        return "on CSI driver %s" % spec["csi"].get("driver")
    for key in spec:
        if key not in ("capacity", "accessModes", "claimRef", "persistentVolumeReclaimPolicy", "storageClassName",
                       "mountOptions", "volumeMode", "nodeAffinity", "volumeAttributesClassName"):
            return "a %s volume" % key
    return "of an unknown kind"
