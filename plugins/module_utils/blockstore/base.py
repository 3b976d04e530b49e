# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The block store driver interface.

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


class BlockStore:
    """What every block store driver implements."""

    name = None

    def find_snapshot(self, name, namespace):
        """The snapshot with this identity, or None: the idempotency key."""
        raise NotImplementedError

    def find_snapshots(self, namespace=None, name=None, tags=None, pvc=None):
        """Every snapshot matching all the given filters."""
        raise NotImplementedError

    def check_snapshot_source(self, volume, snapshot_class=None):
        """Raise if a snapshot of volume cannot be taken; return what create needs."""
        raise NotImplementedError

    def create_snapshot(self, volume, name, tags, snapshot_class=None):
        """Start a snapshot and return its record."""
        raise NotImplementedError

    def describe_snapshot(self, record):
        """A refreshed record (ready, size, error), or None if it is gone."""
        raise NotImplementedError

    def delete_snapshot(self, record):
        """Delete; True if something was deleted. Idempotent."""
        raise NotImplementedError

    def check_snapshot_origin(self, record):
        """Why a snapshot record read from a backup cannot be trusted, or None: where the driver
        can still see the snapshot, it must have been taken of the volume the record names (a
        forged record could otherwise restore another namespace's data). None if it cannot tell."""
        return None

    def restore_volume(self, record, target):
        """Create a volume from a snapshot; return the volume record."""
        raise NotImplementedError

    def find_volume(self, target):
        """The volume at target, or None."""
        raise NotImplementedError

    def describe_volume(self, volume):
        """A refreshed volume record."""
        raise NotImplementedError

    def delete_volume(self, volume):
        """Delete a volume this driver restored and its helpers; True if deleted."""
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
