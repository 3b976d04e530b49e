# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""backup_info: what the store holds, each backup described (and, asked to, verified) from its own
files: a manifest this collection wrote, a Velero backup, or something incomplete or damaged."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from typing import TYPE_CHECKING

from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.lock import is_stale, read_holder
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.stored import UNREADABLE, velero_backup
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.clock import now, parse_timestamp
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.concurrency import parallel_map
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import NotFoundError
from ansible_collections.lifeboat.k8s.plugins.module_utils.format import velero
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.archive import ArchiveError
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.layout import LOCK_FILE, NAME, key
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.manifest import read_manifest, verify, verify_copies
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.sealing import SealError

if TYPE_CHECKING:  # the types only: at run time the services do not import their callers' options
    from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.base import ObjectStore
    from ansible_collections.lifeboat.k8s.plugins.module_utils.options.backup import BackupInfoOptions


def backup_info(store: ObjectStore, options: BackupInfoOptions):
    """backup_info with BackupInfoOptions: one backup, or every backup in the store."""
    check_verify, signer = options.verify, options.signer
    if options.name:
        name = options.name
        info = describe_backup(store, name, check_verify, signer, with_manifest=True)
        if info is None:
            raise NotFoundError("name: backup %r does not exist in %s" % (name, store.url))
        return {"changed": False, "backups": [info]}
    backups = []
    for name, info, error in parallel_map(lambda n: describe_backup(store, n, check_verify, signer),
                                          store.list_prefixes("backups/")):
        if error is not None:
            backups.append({"name": name, "phase": "Damaged", "complete": False,
                            "problem": getattr(error, "message", str(error))})
        elif info is not None:
            backups.append(info)
    return {"changed": False, "backups": backups}


def describe_backup(store: ObjectStore, name, check_verify=False, signer=None, with_manifest=False):
    """backup_info's entry for one backup, or None when nothing of it is stored."""
    if not NAME.match(name):  # a directory someone else put there: shown, never used as a path
        return {"name": name, "phase": "Damaged", "complete": False, "problem": "not a valid backup name"}
    try:
        manifest = read_manifest(store, name)
    except ArchiveError as e:
        return {"name": name, "phase": "Damaged", "complete": False, "problem": e.message}
    if manifest is None:
        keys = store.list_objects("backups/%s/" % name)
        # Some S3 servers (SeaweedFS) keep an empty "directory" after its files are deleted: not a backup.
        if not keys:
            return None
        backup = velero_backup(store, name, keys)
        if backup is not None and not velero.written_by_lifeboat(backup):
            return _describe_velero(store, name, backup)
        phase = "Incomplete"
        lock_key = key(name, LOCK_FILE)
        if lock_key in keys and not is_stale(read_holder(store, lock_key) or {}):
            phase = "InProgress"
        return {"name": name, "phase": phase, "complete": False}
    info = dict(manifest.summary(store.url), complete=manifest.phase == "Completed")
    if with_manifest:
        info["manifest"] = manifest.to_dict()
    if signer is not None:
        try:
            signer.check(manifest.to_dict())
            info["signature_valid"] = True
        except SealError as e:
            info["signature_valid"] = False
            info["problem"] = e.message
    if check_verify:
        problem, elsewhere = verify_copies(store, manifest)
        problem = verify(store, manifest) or problem
        if elsewhere:
            info["copies_not_checked"] = elsewhere
        info["verified"] = problem is None
        if problem:
            info["problem"] = problem
    return info


def _describe_velero(store: ObjectStore, name, backup):
    if backup is UNREADABLE:
        return {"name": name, "phase": "Damaged", "complete": False, "written_by": velero.VELERO,
                "problem": "its velero-backup.json cannot be read"}
    expires = (backup.get("status") or {}).get("expiration")
    return velero.describe(backup, name, "%s/backups/%s" % (store.url, name),
                           bool(expires) and parse_timestamp(expires) <= now())
