# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is stored under a backup's name, and whose it is: this collection's (complete or not), a
Velero backup, or another tool's files. Nothing is replaced or deleted that is not provably ours."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import datetime
from typing import TYPE_CHECKING

from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.lock import BackupLock
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.clock import now, timestamp
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.concurrency import parallel_map, raise_first
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError, NotFoundError
from ansible_collections.lifeboat.k8s.plugins.module_utils.format import velero
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.archive import ArchiveError
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.layout import LOCK_FILE, MANIFEST, key, own_files
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.manifest import read_manifest
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.sealing import SealError

if TYPE_CHECKING:  # the types only: at run time the services do not import their callers' options
    from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.base import ObjectStore


UNREADABLE = {"status": {"phase": "unreadable"}}


def read_existing(store: ObjectStore, name):
    """An earlier backup's manifest, or None. One this collection cannot read (damaged, or written
    by a newer version) is neither trusted nor replaced."""
    try:
        return read_manifest(store, name)
    except ArchiveError as e:
        raise InvalidInputError("name: %s; this run does not replace what it cannot read: choose another name, or "
                                "delete it with state=absent" % e.message)


def check_ours(store: ObjectStore, name, keys, action):
    """Refuse, touching nothing, unless everything stored under the name is an incomplete backup this
    collection wrote: its own file names, and its mark (its lock, or a Velero Backup object it wrote).
    A Velero backup, or files of any other tool, are never replaced or deleted."""
    if not keys:
        return
    backup = velero_backup(store, name, keys)
    if backup is not None and not velero.written_by_lifeboat(backup):
        raise InvalidInputError("name: %s holds a Velero backup (phase %s), not one of this collection's; refusing "
                                "to %s it: choose another name%s" % (
                                    name, (backup.get("status") or {}).get("phase"), action,
                                    ", or delete it with velero backup delete" if action == "delete" else ""))
    prefix = "backups/%s/" % name
    foreign = sorted(k[len(prefix):] for k in keys if k[len(prefix):] not in own_files(name))
    if foreign:
        raise InvalidInputError("name: %s holds files this collection does not write (%s); refusing to %s them: "
                                "choose another name" % (name, ", ".join(foreign[:5]), action))
    marked = backup is not None or key(name, LOCK_FILE) in keys or key(name, MANIFEST) in keys
    if action == "replace" and not marked:
        raise InvalidInputError("name: %s holds an incomplete backup with no mark of this collection (no %s, no %s "
                                "written by it); refusing to replace it: choose another name, or delete it with "
                                "state=absent if it is yours" % (name, LOCK_FILE, velero.VELERO_METADATA))


def velero_backup(store: ObjectStore, name, keys=None, strict=False):
    """The Velero Backup object stored under the name, or None (keys: the name's listing, if at hand).
    One that cannot be read is not provably ours: UNREADABLE, treated as another tool's (strict: raised)."""
    if keys is not None and key(name, velero.VELERO_METADATA) not in keys:
        return None
    try:
        data = store.get_bytes(key(name, velero.VELERO_METADATA), max_bytes=velero.MAX_METADATA_BYTES)
    except NotFoundError:
        return None
    try:
        return velero.parse_backup(data, name)
    except ArchiveError:
        if strict:
            raise
        return UNREADABLE


def check_same_sealing(existing, encryption, signer):
    """A complete backup of this name counts as done only if it is what this run would write."""
    name = existing.name
    if encryption.enabled and not existing.encryption:
        raise InvalidInputError("name: backup %s exists unencrypted; this run asks for encryption: choose another "
                                "name or delete it first" % name)
    if signer is not None:
        try:
            signer.check(existing.to_dict())
        except SealError as e:
            raise InvalidInputError("name: backup %s exists and %s" % (name, e.message.split(": ", 1)[1]))


def delete_backup(store: ObjectStore, name, check_mode=False):
    prefix = "backups/%s/" % name
    keys = store.list_objects(prefix)
    if not keys:
        if not check_mode:
            store.clean_partial(prefix)
        return {"changed": False, "backup": {}}
    try:
        manifest = read_manifest(store, name)
    except ArchiveError:
        manifest = None  # deleting a damaged backup is what the user asks for
    if manifest is None:
        check_ours(store, name, keys, "delete")
    check_not_locked(store, name, keys)
    if check_mode:
        return {"changed": True,
                "backup": manifest.summary(store.url) if manifest else {"name": name, "phase": "Incomplete"},
                "diff": {"before": {"backup": name}, "after": {}}}
    with BackupLock(store, prefix, name) as lock:
        # Manifest first: the backup stops being a backup at once, even if the rest fails.
        manifest_key = key(name, MANIFEST)
        if manifest_key in keys:
            store.delete(manifest_key)
        store.clean_partial(prefix)
        raise_first(parallel_map(store.delete, [k for k in keys if k not in (manifest_key, lock.key)]))
    return {"changed": True, "backup": manifest.summary(store.url) if manifest else {"name": name, "phase": "Incomplete"},
            "diff": {"before": {"backup": name}, "after": {}}}


def check_not_locked(store: ObjectStore, name, keys):
    """Refuse before deleting anything: on a versioned bucket a delete would only hide a locked
    backup behind delete markers, and a half-deleted backup helps no one."""
    for _key, found, error in parallel_map(store.retention, [k for k in keys if not k.endswith("/" + LOCK_FILE)]):
        if error is not None:
            raise error
        if found and found[1] > now():
            raise InvalidInputError("state: backup %s is under S3 Object Lock (%s) until %s and cannot be deleted "
                                    "before then" % (name, found[0], timestamp(found[1].astimezone(datetime.timezone.utc))))


def read_velero_backup(store: ObjectStore, name):
    """The Backup object of a backup Velero wrote, or None; one that cannot be read is refused."""
    backup = velero_backup(store, name, strict=True)
    return None if backup is None or velero.written_by_lifeboat(backup) else backup
