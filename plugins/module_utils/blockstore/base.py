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

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path

# Marks every driver puts on what it creates; only objects carrying them are ever deleted.
MANAGED_BY = "app.kubernetes.io/managed-by"
RESTORED_FROM = "lifeboat.k8s/restored-from"
RESTORE_DRIVER = "lifeboat.k8s/restore-driver"  # which driver restored a PVC (absent: csi, before drivers)


class BlockStore:
    """What every block store driver implements, and all that services call.

    The vocabulary of the snapshot controller's volume plugin interface and of Ark's block
    store plugins is in each docstring. Drivers are registered in registry.py; a service gets
    one with registry.block_store(name, k8s) and never imports a driver. A driver raises the
    collection's errors (InvalidInputError, NotFoundError, ConflictError...), never Ansible's.

    Plans: check_snapshot_source and plan_restore validate everything a change needs and return
    an opaque plan, so a batch is checked before its first change; create_snapshot and
    restore_volume carry that plan out (check mode uses planned_snapshot instead).
    """

    name = None
    OPTIONS = ()  # the connection options (module option names) this driver reads from its config
    # Does the target cluster provision a restored claim from its StorageClass (CSI: from a VolumeSnapshot data
    # source)? False: the driver makes the volume and a PersistentVolume bound to the claim itself, so the class
    # named in the claim need not exist in the cluster.
    claims_provisioned_by_cluster = True

    def __init__(self, k8s, config=None):
        """Ark's Init(config): the Kubernetes client (drivers on Kubernetes objects need it) and the
        driver's own options (an endpoint, credentials: the OPTIONS), already checked by the module."""
        self.k8s = k8s
        self.config = dict(config or {})

    # ------------------------------------------------------------ snapshots

    def find_snapshot(self, name, namespace):
        """FindSnapshot by identity: the snapshot with this name, or None (the idempotency key)."""
        raise NotImplementedError

    def find_snapshots(self, namespace=None, name=None, tags=None, pvc=None):
        """FindSnapshot by tags: every snapshot matching all the given filters."""
        raise NotImplementedError

    def check_snapshot_source(self, volume, snapshot_class=None):
        """Raise if a snapshot of volume ({namespace, pvc}) cannot be taken; return the plan for
        create_snapshot."""
        raise NotImplementedError

    def planned_snapshot(self, volume, name, tags, plan):
        """The record create_snapshot would return, for check mode (snapshot_id None)."""
        raise NotImplementedError

    def create_snapshot(self, volume, name, tags, plan):
        """SnapshotCreate: start a snapshot as planned and return its record."""
        raise NotImplementedError

    def describe_snapshot(self, record):
        """DescribeSnapshot: a refreshed record (ready, size, error), or None if it is gone."""
        raise NotImplementedError

    def snapshot_cut(self, record):
        """True once the storage has taken the point-in-time copy: writes after it are not in the snapshot,
        so an application a pre hook froze may resume (post hooks run then), though ready may come later."""
        return bool(record.get("ready") or record.get("created_at"))

    def snapshot_error(self, record):
        """The error of a snapshot that has failed for good, or None (still working, or ready)."""
        return None if record.get("ready") else record.get("error")

    def delete_snapshot(self, record):
        """SnapshotDelete: delete; True if something was deleted. Idempotent."""
        raise NotImplementedError

    def check_snapshot_origin(self, record):
        """Why a snapshot record read from a backup cannot be trusted, or None: where the driver
        can still see the snapshot, it must have been taken of the volume the record names (a
        forged record could otherwise restore another namespace's data). None if it cannot tell."""
        return None

    def find_copy(self, record, region):
        """The copy of a snapshot in another region, or None."""
        return None

    def copy_snapshot(self, record, region):
        """Copy a ready snapshot to another region (so the backup outlives a region); return the copy's record."""
        raise InvalidInputError("copy_to_region: the %s driver cannot copy snapshots to other regions" % self.name)

    # ------------------------------------------------------------ volumes

    def snapshot_unusable(self, record, storage_class=None):
        """Why the target cluster (this store's) cannot restore a volume from this snapshot, or None: its
        driver or snapshot API is not there, or storage_class (a target StorageClass's name and provisioner,
        {"name", "provisioner"}, or None) cannot provision from it. Asked before any change, so a restore into
        another cluster can take the volume's data copy instead, or refuse naming the volume."""
        return None

    def plan_restore(self, record, target):
        """Raise if a volume cannot be restored from this snapshot record at target ({namespace, pvc,
        storage_class, size, access_modes, labels, annotations}); return the plan for restore_volume."""
        raise NotImplementedError

    def restore_volume(self, record, target, plan):
        """SnapshotRestore: create the volume (and the PVC that claims it) as planned; return the
        volume record."""
        raise NotImplementedError

    def restore_in_place(self, record, target, check_mode=False):
        """SnapshotRestore onto the existing volume the snapshot was taken of (the PVC at target keeps its
        volume, whose data becomes the snapshot's); return (volume record, changed)."""
        raise InvalidInputError("in_place: the %s driver cannot restore onto an existing volume; restore into a new "
                                "PVC instead" % self.name)

    def find_volume(self, target):
        """The volume at target, or None."""
        raise NotImplementedError

    def describe_volume(self, volume):
        """A refreshed volume record."""
        raise NotImplementedError

    def volume_gone(self, volume):
        """True once a deleted volume and whatever the driver made for it are gone (a wait's condition)."""
        return self.find_volume(volume) is None

    def restored_volumes(self, namespace):
        """The volumes this driver restored in a namespace (for undoing a restore)."""
        raise NotImplementedError

    def volume_problem(self, volume):
        """Why a restored volume does not become usable, from what the storage reports, or None."""
        return None

    def delete_volume(self, volume):
        """VolumeDelete: delete a volume this driver restored and its helpers, never anything else;
        True if deleted."""
        raise NotImplementedError


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
