# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The csi block store driver: VolumeSnapshot / VolumeSnapshotContent
(snapshot.storage.k8s.io/v1).

A snapshot is a VolumeSnapshot in the PVC's namespace; its identity is its
name. What a restore needs later (the PVC's storage class, size, access modes)
is recorded on it at creation, because the PVC may be gone by then.

Restoring into the snapshot's own namespace uses the VolumeSnapshot as the
new PVC's dataSource. Restoring anywhere else (another namespace, another
cluster with the same storage backend) pre-provisions a VolumeSnapshotContent
with the recorded snapshot handle and deletionPolicy Retain, a VolumeSnapshot
bound to it in the target namespace, then the PVC. Every object this driver
restores carries the annotation RESTORED_FROM, and only such objects are ever
deleted by delete_volume.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.base import (
    MANAGED_BY,
    RESTORE_DRIVER,
    RESTORED_FROM,
    DriverBase,
    owned_by,
    pvc_path,
    pvc_warning,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.csi_api import (
    DEFAULT_CLASS,
    GROUP,
    HELPER_CONTENT,
    HELPER_SNAPSHOT,
    HELPER_WAIT,
    SOURCE,
    TRANSIENT,
    VERSION,
    sc_path,
    vs_path,
    vsc_path,
    vsclass_path,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ApiError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    WaitTimeoutError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.quantity import quantity_bytes
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.waiting import wait_until


class CsiBlockStore(DriverBase):
    name = "csi"

    def __init__(self, k8s, config=None):
        super(CsiBlockStore, self).__init__(k8s, config)
        self._contents = None  # VolumeSnapshotContents, listed once for check_snapshot_origin
        self._serves = None  # does the cluster serve the snapshot API?
        self._drivers = {}  # CSI driver name -> installed in the cluster?

    # ------------------------------------------------------------ snapshots

    def find_snapshot(self, name, namespace):
        vs = self.k8s.get_or_none(vs_path(namespace, name))
        return self._record(vs) if vs else None

    def find_snapshots(self, namespace=None, name=None, tags=None, pvc=None):
        selector = ",".join("%s=%s" % kv for kv in sorted((tags or {}).items())) or None
        path = vs_path(namespace) if namespace else resource_path(GROUP, VERSION, "volumesnapshots")
        records = []
        for vs in self.k8s.list(path, label_selector=selector):
            if name and vs["metadata"]["name"] != name:
                continue
            if pvc and (vs.get("spec", {}).get("source") or {}).get("persistentVolumeClaimName") != pvc:
                continue
            records.append(self._record(vs))
        return records

    def check_snapshot_source(self, volume, snapshot_class=None):
        """Validate the PVC and the snapshot class before anything is created."""
        namespace, pvc_name = volume["namespace"], volume["pvc"]
        pvc = self.k8s.get_or_none(pvc_path(namespace, pvc_name))
        if pvc is None:
            raise NotFoundError("pvc: PersistentVolumeClaim %s/%s does not exist" % (namespace, pvc_name))
        phase = (pvc.get("status") or {}).get("phase")
        if phase != "Bound":
            raise InvalidInputError("pvc: PersistentVolumeClaim %s/%s is %s, not Bound: there is no volume "
                                    "to snapshot yet" % (namespace, pvc_name, phase or "not bound"))
        driver = self._pvc_driver(pvc)
        snapshot_class = self._snapshot_class(snapshot_class, driver)
        spec = pvc.get("spec") or {}
        source = {
            "namespace": namespace,
            "pvc": pvc_name,
            "storage_class": spec.get("storageClassName"),
            "size": ((pvc.get("status") or {}).get("capacity") or {}).get("storage")
            or ((spec.get("resources") or {}).get("requests") or {}).get("storage"),
            "access_modes": spec.get("accessModes") or ["ReadWriteOnce"],
            "volume_mode": spec.get("volumeMode") or "Filesystem",
            "csi_driver": driver,
        }
        return {"source": source, "snapshot_class": snapshot_class}

    def _pvc_driver(self, pvc):
        pv_name = (pvc.get("spec") or {}).get("volumeName")
        pv = self.k8s.get_or_none(resource_path("", "v1", "persistentvolumes", None, pv_name)) if pv_name else None
        csi = ((pv or {}).get("spec") or {}).get("csi")
        if not csi:
            raise InvalidInputError("pvc: PersistentVolumeClaim %s/%s is not backed by a CSI volume; the csi "
                                    "driver can only snapshot CSI volumes" % (
                                        pvc["metadata"]["namespace"], pvc["metadata"]["name"]))
        return csi["driver"]

    def _snapshot_class(self, name, driver):
        if name:
            cls = self.k8s.get_or_none(vsclass_path(name))
            if cls is None:
                raise NotFoundError("snapshot_class: VolumeSnapshotClass %r does not exist" % name)
            if cls.get("driver") != driver:
                raise InvalidInputError("snapshot_class: VolumeSnapshotClass %r is for driver %s, but the volume "
                                        "belongs to %s" % (name, cls.get("driver"), driver))
            return name
        for cls in self.k8s.list(vsclass_path()):
            annotations = cls["metadata"].get("annotations") or {}
            if cls.get("driver") == driver and annotations.get(DEFAULT_CLASS) == "true":
                return cls["metadata"]["name"]
        raise InvalidInputError("snapshot_class: not given, and there is no default VolumeSnapshotClass for "
                                "driver %s" % driver)

    def create_snapshot(self, volume, name, tags, plan):
        checked = plan
        labels = dict(tags or {})
        labels[MANAGED_BY] = "lifeboat"
        body = {
            "apiVersion": "%s/%s" % (GROUP, VERSION),
            "kind": "VolumeSnapshot",
            "metadata": {"name": name, "namespace": volume["namespace"], "labels": labels,
                         "annotations": {SOURCE: json.dumps(checked["source"], sort_keys=True)}},
            "spec": {"volumeSnapshotClassName": checked["snapshot_class"],
                     "source": {"persistentVolumeClaimName": volume["pvc"]}},
        }
        return self._record(self.k8s.create(vs_path(volume["namespace"]), body))

    def planned_snapshot(self, volume, name, tags, plan):
        checked = plan
        return {
            "driver": self.name, "snapshot_id": None, "name": name, "namespace": volume["namespace"],
            "source": checked["source"], "tags": dict(tags or {}), "ready": False, "size_bytes": None,
            "created_at": None, "error": None,
            "driver_data": {"snapshot_class": checked["snapshot_class"], "volume_snapshot_content": None,
                            "csi_driver": checked["source"]["csi_driver"], "uid": None},
        }

    def describe_snapshot(self, record):
        vs = self.k8s.get_or_none(vs_path(record["namespace"], record["name"]))
        return self._record(vs) if vs else None

    def delete_snapshot(self, record):
        return self.k8s.delete(vs_path(record["namespace"], record["name"]))

    def snapshot_error(self, record):
        """The snapshot controller retries some errors (TRANSIENT): those are not failures yet."""
        message = record.get("error")
        if not message or record.get("ready"):
            return None
        if any(t in message for t in TRANSIENT):
            return None
        return message

    def _record(self, vs):
        meta = vs["metadata"]
        spec = vs.get("spec") or {}
        status = vs.get("status") or {}
        annotations = meta.get("annotations") or {}
        try:
            source = json.loads(annotations.get(SOURCE, "{}"))
        except ValueError:
            source = {}
        source.setdefault("namespace", meta["namespace"])
        source.setdefault("pvc", (spec.get("source") or {}).get("persistentVolumeClaimName"))
        content_name = status.get("boundVolumeSnapshotContentName")
        handle = None
        if content_name and status.get("readyToUse"):
            content = self.k8s.get_or_none(vsc_path(content_name)) or {}
            handle = (content.get("status") or {}).get("snapshotHandle") or \
                ((content.get("spec") or {}).get("source") or {}).get("snapshotHandle")
        labels = dict(meta.get("labels") or {})
        labels.pop(MANAGED_BY, None)
        return {
            "driver": self.name,
            "snapshot_id": handle,
            "name": meta["name"],
            "namespace": meta["namespace"],
            "source": source,
            "tags": labels,
            "ready": bool(status.get("readyToUse")),
            "size_bytes": quantity_bytes(status.get("restoreSize"), "restoreSize"),
            "created_at": status.get("creationTime") or meta.get("creationTimestamp"),
            "error": (status.get("error") or {}).get("message"),
            "driver_data": {
                "volume_snapshot_content": content_name,
                "snapshot_class": spec.get("volumeSnapshotClassName"),
                "csi_driver": source.get("csi_driver"),
                "uid": meta.get("uid"),
                "cut_at": status.get("creationTime"),
            },
        }

    def snapshot_cut(self, record):
        # created_at falls back to the object's creation; the cut is the content's creationTime.
        return bool(record.get("ready") or record.get("driver_data", {}).get("cut_at"))

    # ------------------------------------------------------------ restores

    def find_volume(self, target):
        pvc = self.k8s.get_or_none(pvc_path(target["namespace"], target["pvc"]))
        return self._volume(pvc) if pvc else None

    def describe_volume(self, volume):
        return self.find_volume(volume)

    def plan_restore(self, record, target):
        """Validate a restore and return the objects it will create, in order."""
        driver, storage_class, size = self._check_restore(record, target)
        source = record.get("source") or {}
        namespace, pvc_name = target["namespace"], target["pvc"]
        # The claim's own annotations come along (object_restore passes the backed-up ones).
        annotations = dict(target.get("annotations") or {})
        annotations[RESTORED_FROM] = record["snapshot_id"]
        annotations[RESTORE_DRIVER] = self.name
        objects = []
        if record.get("namespace") == namespace and self._same_snapshot(record):
            data_source = record["name"]
        else:
            digest = hashlib.sha256(("%s/%s/%s" % (record["snapshot_id"], namespace, pvc_name)).encode()).hexdigest()
            content_name = "lifeboat-restore-" + digest[:40]
            data_source = ("lifeboat-restore-" + pvc_name)[:253]
            annotations.update({HELPER_SNAPSHOT: data_source, HELPER_CONTENT: content_name})
            objects += self._helper_objects(record, driver, namespace, data_source, content_name)
        labels = dict(target.get("labels") or {})
        labels[MANAGED_BY] = "lifeboat"
        pvc_spec = {
            "accessModes": target.get("access_modes") or source.get("access_modes") or ["ReadWriteOnce"],
            "resources": {"requests": {"storage": str(size)}},
            "volumeMode": source.get("volume_mode") or "Filesystem",
            "dataSource": {"apiGroup": GROUP, "kind": "VolumeSnapshot", "name": data_source},
        }
        if storage_class:
            pvc_spec["storageClassName"] = storage_class
        objects.append((pvc_path(namespace), {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": pvc_name, "namespace": namespace, "labels": labels, "annotations": annotations,
                         **owned_by(target)},
            "spec": pvc_spec}))
        return objects

    def _check_restore(self, record, target):
        """(CSI driver, storage class, size) of a restore, checked against the record and the target cluster."""
        if record.get("driver", self.name) != self.name:
            raise InvalidInputError("snapshot: the record was made by driver %r, not %r" % (
                record.get("driver"), self.name))
        if not record.get("snapshot_id"):
            raise InvalidInputError("snapshot: the record has no snapshot_id (was the snapshot ready when it was "
                                    "recorded?)")
        source = record.get("source") or {}
        driver = _csi_driver(record)
        if not driver:
            raise InvalidInputError("snapshot: the record does not say which CSI driver took it (source.csi_driver)")
        storage_class = target.get("storage_class") or source.get("storage_class")
        if storage_class:
            sc = self.k8s.get_or_none(sc_path(storage_class))
            if sc is None:
                raise NotFoundError("storage_class: StorageClass %r does not exist in the target cluster" % storage_class)
            if sc.get("provisioner") != driver:
                raise InvalidInputError("storage_class: StorageClass %r provisions with %s, but the snapshot was "
                                        "taken by %s" % (storage_class, sc.get("provisioner"), driver))
        size = target.get("size") or source.get("size") or record.get("size_bytes")
        if size is None:
            raise InvalidInputError("size: the snapshot record has no size; give size")
        if record.get("size_bytes") and quantity_bytes(size) < record["size_bytes"]:
            raise InvalidInputError("size: %s is smaller than the snapshot (%d bytes)" % (size, record["size_bytes"]))
        return driver, storage_class, size

    def _helper_objects(self, record, driver, namespace, data_source, content_name):
        """A VolumeSnapshotContent pre-provisioned with the record's handle and a VolumeSnapshot bound to it: how
        a snapshot reaches another namespace or cluster."""
        source = record.get("source") or {}
        helper_meta = {"labels": {MANAGED_BY: "lifeboat"}, "annotations": {RESTORED_FROM: record["snapshot_id"]}}
        content_spec = {
            "deletionPolicy": "Retain",
            "driver": driver,
            "source": {"snapshotHandle": record["snapshot_id"]},
            "volumeSnapshotRef": {"namespace": namespace, "name": data_source},
            "sourceVolumeMode": source.get("volume_mode") or "Filesystem",
        }
        snapshot_class = self._existing_class((record.get("driver_data") or {}).get("snapshot_class"), driver)
        if snapshot_class:
            content_spec["volumeSnapshotClassName"] = snapshot_class
        vs_spec = {"source": {"volumeSnapshotContentName": content_name}}
        if snapshot_class:
            vs_spec["volumeSnapshotClassName"] = snapshot_class
        return [(vsc_path(), {"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "VolumeSnapshotContent",
                              "metadata": dict(helper_meta, name=content_name), "spec": content_spec}),
                (vs_path(namespace), {"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "VolumeSnapshot",
                                      "metadata": dict(helper_meta, name=data_source, namespace=namespace),
                                      "spec": vs_spec})]

    def snapshot_unusable(self, record, storage_class=None):
        """A cluster can restore a CSI snapshot when it serves the snapshot API, runs the CSI driver that took
        it (a CSIDriver object, or a VolumeSnapshotClass of that driver) and the claim's class provisions with
        that driver. A handle the driver does not know (the same driver name over other storage) cannot be
        told apart from here; the claim's wait reports it."""
        driver = _csi_driver(record)
        if not self._serves_snapshots():
            return "the cluster does not serve %s/%s (no VolumeSnapshot CRDs)" % (GROUP, VERSION)
        if not driver:
            return "the record does not say which CSI driver took it"
        if not self._driver_installed(driver):
            return "CSI driver %s is not installed in the cluster" % driver
        if storage_class and storage_class.get("provisioner") != driver:
            return "StorageClass %s provisions with %s, but the snapshot was taken by %s" % (
                storage_class.get("name"), storage_class.get("provisioner"), driver)
        return None

    def _serves_snapshots(self):
        if self._serves is None:
            try:
                self._serves = any(r.get("name") == "volumesnapshotcontents" for r in
                                   self.k8s.get("/apis/%s/%s" % (GROUP, VERSION)).get("resources") or [])
            except NotFoundError:
                self._serves = False
        return self._serves

    def _driver_installed(self, driver):
        if driver not in self._drivers:
            found = self.k8s.get_or_none(resource_path("storage.k8s.io", "v1", "csidrivers", None, driver))
            if found is None and self._serves_snapshots():
                found = next((c for c in self.k8s.list(vsclass_path()) if c.get("driver") == driver), None)
            self._drivers[driver] = found is not None
        return self._drivers[driver]

    def check_snapshot_origin(self, record):
        """The VolumeSnapshotContent that took this handle from a volume (not a pre-provisioned one,
        such as a restore's helper) must be bound to the record's VolumeSnapshot."""
        if self._contents is None:
            try:
                # list() returns a generator: keep the items, every record of the restore is checked against them.
                self._contents = list(self.k8s.list(vsc_path()))
            except NotFoundError:
                self._contents = []  # no snapshot CRDs in this cluster: nothing to check against
            except ApiError as e:
                if e.status != 403:
                    raise
                self._contents = []  # may not list them: cannot tell
        for content in self._contents:
            spec = content.get("spec") or {}
            source = spec.get("source") or {}
            handle = (content.get("status") or {}).get("snapshotHandle") or source.get("snapshotHandle")
            if handle != record["snapshot_id"] or not source.get("volumeHandle"):
                continue
            ref = spec.get("volumeSnapshotRef") or {}
            if (ref.get("namespace"), ref.get("name")) != (record.get("namespace"), record.get("name")):
                return "snapshot %s was taken for VolumeSnapshot %s/%s, not %s/%s as the record says" % (
                    record["snapshot_id"], ref.get("namespace"), ref.get("name"), record.get("namespace"),
                    record.get("name"))
        return None

    def _same_snapshot(self, record):
        vs = self.k8s.get_or_none(vs_path(record["namespace"], record["name"]))
        if not vs:
            return False
        return self._record(vs).get("snapshot_id") == record["snapshot_id"]

    def _existing_class(self, name, driver):
        if not name:
            return None
        cls = self.k8s.get_or_none(vsclass_path(name))
        return name if cls and cls.get("driver") == driver else None

    def restore_volume(self, record, target, plan):
        created = None
        for path, body in plan:
            if body["kind"] == "PersistentVolumeClaim" and created is not None:
                self._await_helper_snapshot(created)
            try:
                created = self.k8s.create(path, body)
            except ConflictError:
                # Left by an interrupted run? Only reuse it if it is ours for this snapshot.
                meta = body["metadata"]
                existing = self.k8s.get(path + "/" + meta["name"])
                owner = (existing["metadata"].get("annotations") or {}).get(RESTORED_FROM)
                if owner != record["snapshot_id"]:
                    raise ConflictError("%s %s already exists and was not restored from snapshot %s" % (
                        body["kind"], _display(meta), record["snapshot_id"]))
                created = existing
        return self._volume(created)

    def _await_helper_snapshot(self, vs):
        """The provisioner refuses a claim whose VolumeSnapshot is not bound yet and retries it only after
        a growing back-off (1 s, 2 s, 4 s...): with the claim created first, one restored volume took two
        seconds and fifty took 20 % longer than they need. So wait (a little) for the snapshot controller
        to bind the pre-provisioned snapshot. Never fails: a snapshot that does not become ready is the
        claim's problem, reported by its own wait."""
        path = vs_path(vs["metadata"]["namespace"], vs["metadata"]["name"])

        def settled():
            status = (self.k8s.get_or_none(path) or {}).get("status") or {}
            message = (status.get("error") or {}).get("message") or ""
            return status.get("readyToUse") or (message and not any(t in message for t in TRANSIENT))

        try:
            wait_until(settled, HELPER_WAIT, "VolumeSnapshot %s to be ready" % _display(vs["metadata"]))
        except WaitTimeoutError:
            pass

    def restored_volumes(self, namespace):
        """PVCs of the namespace that carry RESTORED_FROM and no other driver's RESTORE_DRIVER."""
        return [self._volume(pvc) for pvc in self.k8s.list(pvc_path(namespace))
                if (pvc["metadata"].get("annotations") or {}).get(RESTORED_FROM)
                and (pvc["metadata"].get("annotations") or {}).get(RESTORE_DRIVER, self.name) == self.name]

    def delete_volume(self, volume):
        """Delete a restored PVC and its helper snapshot objects; never anything else."""
        pvc = self.k8s.get_or_none(pvc_path(volume["namespace"], volume["pvc"]))
        if pvc is None:
            return False
        annotations = pvc["metadata"].get("annotations") or {}
        if RESTORED_FROM not in annotations or annotations.get(RESTORE_DRIVER, self.name) != self.name:
            raise ConflictError("PersistentVolumeClaim %s/%s was not restored by lifeboat; refusing to delete it" % (
                volume["namespace"], volume["pvc"]))
        self.k8s.delete(pvc_path(volume["namespace"], volume["pvc"]))
        self._delete_helpers(volume["namespace"], annotations)
        return True

    def volume_gone(self, volume):
        """The claim, and the helper content a restore into another namespace made (its finalizer keeps it a
        moment after the delete), are gone."""
        content = (volume.get("driver_data") or {}).get("volume_snapshot_content")
        return self.find_volume(volume) is None and (not content or self.k8s.get_or_none(vsc_path(content)) is None)

    def _delete_helpers(self, namespace, annotations):
        for name, path in ((annotations.get(HELPER_SNAPSHOT), vs_path(namespace, annotations.get(HELPER_SNAPSHOT))),
                           (annotations.get(HELPER_CONTENT), vsc_path(annotations.get(HELPER_CONTENT)))):
            if not name:
                continue
            obj = self.k8s.get_or_none(path)
            if obj and (obj["metadata"].get("annotations") or {}).get(RESTORED_FROM) == annotations[RESTORED_FROM]:
                self.k8s.delete(path)

    def volume_problem(self, volume):
        """Why a PVC does not bind: its source VolumeSnapshot's error, else its latest warning event, or None."""
        pvc = self.k8s.get_or_none(pvc_path(volume["namespace"], volume["pvc"])) or {}
        source = (pvc.get("spec") or {}).get("dataSource") or {}
        if source.get("kind") == "VolumeSnapshot":
            snapshot = self.k8s.get_or_none(vs_path(volume["namespace"], source.get("name"))) or {}
            error = ((snapshot.get("status") or {}).get("error") or {}).get("message")
            if error:
                return "VolumeSnapshot %s: %s" % (source.get("name"), error)
        return pvc_warning(self.k8s, volume["namespace"], volume["pvc"])

    def _volume(self, pvc):
        meta = pvc["metadata"]
        annotations = meta.get("annotations") or {}
        spec = pvc.get("spec") or {}
        return {
            "driver": self.name,
            "namespace": meta["namespace"],
            "pvc": meta["name"],
            "phase": (pvc.get("status") or {}).get("phase"),
            "restored_from": annotations.get(RESTORED_FROM),
            "volume_name": spec.get("volumeName"),
            "storage_class": spec.get("storageClassName"),
            "size": ((spec.get("resources") or {}).get("requests") or {}).get("storage"),
            "driver_data": {"volume_snapshot": annotations.get(HELPER_SNAPSHOT)
                            or (spec.get("dataSource") or {}).get("name"),
                            "volume_snapshot_content": annotations.get(HELPER_CONTENT)},
        }


def _display(meta):
    return "%s/%s" % (meta["namespace"], meta["name"]) if meta.get("namespace") else meta["name"]


def _csi_driver(record):
    """The CSI driver that took a snapshot record's snapshot (source.csi_driver; older records: driver_data)."""
    return (record.get("source") or {}).get("csi_driver") or (record.get("driver_data") or {}).get("csi_driver")
