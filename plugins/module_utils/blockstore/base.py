# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The block store driver interface (Ark's block store plugin kind).

Modelled on the Kubernetes snapshot controller's volume plugin interface and
on Ark's block store plugins. Records are plain dicts that round-trip through
JSON (they are returned to playbooks and stored in backups):

    snapshot: {driver, snapshot_id, name, namespace, source: {...}, tags, ready,
               size_bytes, created_at, error, driver_data: {...}}
    volume:   {driver, namespace, pvc, phase, restored_from, volume_name, driver_data: {...}}
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from typing import Any, Dict, List, Optional, Protocol, Tuple

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.records import SnapshotRecord
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path

# Marks every driver puts on what it creates; only objects carrying them are ever deleted.
MANAGED_BY = "app.kubernetes.io/managed-by"
RESTORED_FROM = "lifeboat.k8s/restored-from"
RESTORE_DRIVER = "lifeboat.k8s/restore-driver"  # which driver restored a PVC (absent: csi, before drivers)


Record = SnapshotRecord  # JSON: returned to playbooks and stored in backups (records.py)
Volume = Dict[str, Any]  # a volume record


class BlockStore(Protocol):
    """What every block store driver implements, and all that services call: the type checker holds both
    sides to it (registry.DRIVERS must conform; services only see this type).

    The vocabulary of the snapshot controller's volume plugin interface and of Ark's block
    store plugins is in each docstring. Drivers are registered in registry.py; a service gets
    one from registry.BlockStores (one per driver and run) and never imports a driver. A driver raises the
    collection's errors (InvalidInputError, NotFoundError, ConflictError...), never Ansible's.

    Plans: check_snapshot_source and plan_restore validate everything a change needs and return
    an opaque plan, so a batch is checked before its first change; create_snapshot and
    restore_volume carry that plan out (check mode uses planned_snapshot instead).
    """

    name: str
    OPTIONS: Tuple[str, ...]  # the connection options (module option names) this driver reads from its config
    # Does the target cluster provision a restored claim from its StorageClass (CSI: from a VolumeSnapshot data
    # source)? False: the driver makes the volume and a PersistentVolume bound to the claim itself, so the class
    # named in the claim need not exist in the cluster.
    claims_provisioned_by_cluster: bool

    # ------------------------------------------------------------ snapshots

    def find_snapshot(self, name: str, namespace: Optional[str]) -> Optional[Record]:
        """FindSnapshot by identity: the snapshot with this name, or None (the idempotency key)."""

    def find_snapshots(self, namespace: Optional[str] = None, name: Optional[str] = None,
                       tags: Optional[Dict[str, str]] = None, pvc: Optional[str] = None) -> List[Record]:
        """FindSnapshot by tags: every snapshot matching all the given filters."""

    def check_snapshot_source(self, volume: Dict[str, Any], snapshot_class: Optional[str] = None) -> Any:
        """Raise if a snapshot of volume ({namespace, pvc}) cannot be taken; return the plan for
        create_snapshot."""

    def planned_snapshot(self, volume: Dict[str, Any], name: str, tags: Dict[str, str], plan: Any) -> Record:
        """The record create_snapshot would return, for check mode (snapshot_id None)."""

    def create_snapshot(self, volume: Dict[str, Any], name: str, tags: Dict[str, str], plan: Any) -> Record:
        """SnapshotCreate: start a snapshot as planned and return its record."""

    def describe_snapshot(self, record: Record) -> Optional[Record]:
        """DescribeSnapshot: a refreshed record (ready, size, error), or None if it is gone."""

    def snapshot_cut(self, record: Record) -> bool:
        """True once the storage has taken the point-in-time copy: writes after it are not in the snapshot,
        so an application a pre hook froze may resume (post hooks run then), though ready may come later."""

    def snapshot_error(self, record: Record) -> Optional[str]:
        """The error of a snapshot that has failed for good, or None (still working, or ready)."""

    def delete_snapshot(self, record: Record) -> bool:
        """SnapshotDelete: delete; True if something was deleted. Idempotent."""

    def check_snapshot_origin(self, record: Record) -> Optional[str]:
        """Why a snapshot record read from a backup cannot be trusted, or None: where the driver
        can still see the snapshot, it must have been taken of the volume the record names (a
        forged record could otherwise restore another namespace's data). None if it cannot tell."""

    def find_copy(self, record: Record, region: str) -> Optional[Record]:
        """The copy of a snapshot in another region, or None."""

    def copy_snapshot(self, record: Record, region: str) -> Record:
        """Copy a ready snapshot to another region (so the backup outlives a region); return the copy's record."""

    # ------------------------------------------------------------ volumes

    def snapshot_unusable(self, record: Record, storage_class: Optional[Dict[str, Any]] = None) -> Optional[str]:
        """Why the target cluster (this store's) cannot restore a volume from this snapshot, or None: its
        driver or snapshot API is not there, or storage_class (a target StorageClass's name and provisioner,
        {"name", "provisioner"}, or None) cannot provision from it. Asked before any change, so a restore into
        another cluster can take the volume's data copy instead, or refuse naming the volume."""

    def plan_restore(self, record: Record, target: Dict[str, Any]) -> Any:
        """Raise if a volume cannot be restored from this snapshot record at target ({namespace, pvc,
        storage_class, size, access_modes, labels, annotations, owner_references}); return the plan for restore_volume."""

    def restore_volume(self, record: Record, target: Dict[str, Any], plan: Any) -> Volume:
        """SnapshotRestore: create the volume (and the PVC that claims it) as planned; return the
        volume record."""

    def restore_in_place(self, record: Record, target: Dict[str, Any], check_mode: bool = False) -> Tuple[Volume, bool]:
        """SnapshotRestore onto the existing volume the snapshot was taken of (the PVC at target keeps its
        volume, whose data becomes the snapshot's); return (volume record, changed)."""

    def find_volume(self, target: Dict[str, Any]) -> Optional[Volume]:
        """The volume at target, or None."""

    def describe_volume(self, volume: Volume) -> Volume:
        """A refreshed volume record."""

    def volume_gone(self, volume: Volume) -> bool:
        """True once a deleted volume and whatever the driver made for it are gone (a wait's condition)."""

    def restored_volumes(self, namespace: str) -> List[Volume]:
        """The volumes this driver restored in a namespace (for undoing a restore)."""

    def volume_problem(self, volume: Volume) -> Optional[str]:
        """Why a restored volume does not become usable, from what the storage reports, or None."""

    def delete_volume(self, volume: Volume) -> bool:
        """VolumeDelete: delete a volume this driver restored and its helpers, never anything else;
        True if deleted."""


class DriverBase:
    """What drivers share: Ark's Init(config), and the defaults of the interface's optional parts."""

    name = ""
    OPTIONS: Tuple[str, ...] = ()
    claims_provisioned_by_cluster = True

    def __init__(self, k8s, config=None):
        """The Kubernetes client (drivers on Kubernetes objects need it) and the driver's own options (an
        endpoint, credentials: the OPTIONS), already checked by the module."""
        self.k8s = k8s
        self.config = dict(config or {})

    def snapshot_cut(self, record):
        return bool(record.get("ready") or record.get("created_at"))

    def snapshot_error(self, record):
        return None if record.get("ready") else record.get("error")

    def check_snapshot_origin(self, record):
        return None

    def find_copy(self, record, region):
        return None

    def copy_snapshot(self, record, region):
        raise InvalidInputError("copy_to_region: the %s driver cannot copy snapshots to other regions" % self.name)

    def snapshot_unusable(self, record, storage_class=None):
        return None

    def restore_in_place(self, record, target, check_mode=False):
        raise InvalidInputError("in_place: the %s driver cannot restore onto an existing volume; restore into a new "
                                "PVC instead" % self.name)

    def volume_gone(self, volume):
        return self.find_volume(volume) is None

    def find_volume(self, target):
        raise NotImplementedError

    def volume_problem(self, volume):
        return None


_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def check_tags(tags, option="tags"):
    """Tags become labels: keys and values must be valid label keys and values."""
    for key, value in (tags or {}).items():
        prefix, name = key.rpartition("/")[::2]
        if not name or not _LABEL_NAME.match(name) or (prefix and not _LABEL_PREFIX.match(prefix)):
            raise InvalidInputError("%s: key %r is not a valid Kubernetes label key" % (option, key))
        if not isinstance(value, str) or not _LABEL_NAME.match(value):
            raise InvalidInputError("%s: value %r of %r is not a valid Kubernetes label value "
                                    "(63 characters at most: letters, digits, '-', '_', '.')" % (option, value, key))
    return dict(tags or {})


def owned_by(target):
    """The restored claim's metadata part that names its owners (target["owner_references"], already relinked)."""
    references = target.get("owner_references")
    return {"ownerReferences": references} if references else {}


def pvc_path(namespace, name=None):
    return resource_path("", "v1", "persistentvolumeclaims", namespace, name)


def pvc_warning(k8s, namespace, pvc):
    """The latest warning event of a PVC, as "reason: message", or None."""
    selector = "involvedObject.kind=PersistentVolumeClaim,involvedObject.name=%s" % pvc
    path = resource_path("", "v1", "events", namespace)
    warnings = [e for e in k8s.list(path, field_selector=selector) if e.get("type") == "Warning"]
    if not warnings:
        return None
    latest = max(warnings, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return "%s: %s" % (latest.get("reason"), latest.get("message"))
