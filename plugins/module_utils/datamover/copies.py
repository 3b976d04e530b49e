# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Volume data into object storage and back, agentless (what Velero's node-agent data mover does).

Copy out (after a snapshot is ready): a temporary PVC from the snapshot, through the block store that
took it; a Job mounts it read-only and uploads its files; the PVC, Job and Secret are deleted; the copy
record is written last, so a copy is done exactly when its record exists.
Copy in (a restore): the PVC is created empty, from the target's StorageClass (any driver); a Job
mounts it and downloads into it, and checks the restored size and file count against the record; the
PVC is marked done only then. The workloads that mount it are created after.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
from typing import Any, Dict

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.base import pvc_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ConflictError,
    InvalidInputError,
    LifeboatError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.waiting import wait_until
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.base import DEFAULT_TOOL
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.jobs import MANAGED_BY, MANAGER, MoverJob, object_name
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.registry import data_mover
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.stores import open_store

COPY_OF = "lifeboat.k8s/restored-from-copy"  # on a PVC restored from a copy: the snapshot id
COPY_DONE = "lifeboat.k8s/copy-restored"  # set when the download finished and checked out
MAX_RECORD = 1 << 20


class VolumeCopies:
    def __init__(self, k8s, config, timeout, store=None):
        self.k8s = k8s
        self.config = config
        self.mover = data_mover(config)
        self.store = store or open_store(config.storage, config.storage_options)
        self.timeout = timeout

    # ------------------------------------------------------------ records

    def repository(self, namespace, pvc):
        return "s3://%s/%s" % (self.config.bucket, self.mover.repository_key(namespace, pvc))

    def require_copying(self):
        """Raise unless this mover makes copies (checked before a task changes anything)."""
        if not self.mover.makes_copies:
            raise InvalidInputError("data_mover.tool: %s only restores copies %s made; lifeboat makes its copies "
                                    "with %s" % (self.mover.name, self.mover.made_by, DEFAULT_TOOL))

    def _relative(self, key):
        return key[len(self.config.prefix) + 1:] if self.config.prefix else key

    def find_copy(self, namespace, snapshot, pvc=None):
        """The record of a finished copy of this snapshot (of this PVC, when given), or None. The bucket is data:
        a record that does not hold together, or names another snapshot or PVC, is no copy (a new copy
        overwrites it; a state=absent run refuses it)."""
        try:
            data = self.store.get_bytes(self._relative(self.config.copy_record_key(namespace, snapshot)), MAX_RECORD)
        except NotFoundError:
            return None
        try:
            record = json.loads(data)
            if record["namespace"] != namespace or record["name"] != snapshot or \
                    (pvc is not None and record["source"]["pvc"] != pvc):
                return None
            self.check_copy(record)
        except (ValueError, KeyError, TypeError, AttributeError, InvalidInputError):
            return None
        return record

    def check_copy(self, record):
        """Raise unless the record's data copy is where this mover keeps copies of its own PVC: a record read
        from a backup is data, and must not point a restore at another volume's repository."""
        copy = record.get("data_copy") if isinstance(record.get("data_copy"), dict) else {}
        source = record.get("source") if isinstance(record.get("source"), dict) else {}
        expected = self.repository(source.get("namespace"), source.get("pvc"))
        if copy.get("tool") != self.mover.name:
            raise InvalidInputError("data_mover.tool: the copy of %s/%s was made with %r, not %r" % (
                source.get("namespace"), source.get("pvc"), copy.get("tool"), self.mover.name))
        if copy.get("repository") != expected:
            raise InvalidInputError("data_mover.storage: the copy of PVC %s/%s is recorded at %r, not where this "
                                    "mover keeps it (%s); refusing to read another location" % (
                                        source.get("namespace"), source.get("pvc"), copy.get("repository"), expected))
        if copy.get("empty"):
            if copy.get("snapshot_id") is not None or copy.get("files") or copy.get("bytes"):
                raise InvalidInputError("data_copy: the copy of PVC %s/%s says it is empty but names data" % (
                    source.get("namespace"), source.get("pvc")))
        else:
            self.mover.check_snapshot_id(copy.get("snapshot_id"))

    # ------------------------------------------------------------ copy out

    def copy_out(self, block_store, record):
        """Copy a ready snapshot's files; the record with `data_copy`, also written as the copy record."""
        namespace, pvc = record["source"]["namespace"], record["source"]["pvc"]
        owner = "copy %s/%s" % (record["namespace"], record["name"])
        temp = {"namespace": record["namespace"], "pvc": object_name("copy", record["namespace"], record["name"]),
                "storage_class": None, "size": None, "access_modes": None,
                "labels": {MANAGED_BY: MANAGER}, "volume_options": None}
        volume = block_store.find_volume(temp)
        if volume is None:
            volume = block_store.restore_volume(record, temp, block_store.plan_restore(record, temp))
        elif volume.get("restored_from") != record["snapshot_id"]:
            raise ConflictError("PersistentVolumeClaim %s/%s exists and is not the copy of snapshot %s" % (
                temp["namespace"], temp["pvc"], record["snapshot_id"]))
        repository_key = self.mover.repository_key(namespace, pvc)
        initialize = not self.store.exists(self._relative(repository_key + "/config"))
        job = self._job(record["namespace"], object_name("copy", record["namespace"], record["name"]), owner,
                        self.mover.backup_container(repository_key, initialize, "lifeboat.k8s/snapshot=" +
                                                    record["name"]), temp["pvc"], read_only=True)
        try:
            result = self._run(job, self.mover.parse_backup, "copy of PVC %s/%s" % (namespace, pvc))
            try:
                if not result.get("empty"):
                    result["snapshot_id"] = self.mover.full_snapshot_id(result["snapshot_id"], self.store.list_objects(
                        self._relative(repository_key + "/snapshots/")))
            except ValueError as e:
                raise LifeboatError("copy of PVC %s/%s: cannot tell which snapshot the Job made: %s" % (
                    namespace, pvc, e))
        finally:
            job.cleanup()
            block_store.delete_volume(volume)
            # Gone before this returns, so the backup that follows does not take it for the application's.
            wait_until(lambda: block_store.find_volume(temp) is None, self.timeout,
                       "temporary PersistentVolumeClaim %s/%s to be deleted" % (temp["namespace"], temp["pvc"]))
        copied = dict(record, data_copy=dict(
            tool=self.mover.name, repository=self.repository(namespace, pvc), image=self.mover.image,
            seconds=job.seconds(), **result))
        self.store.put_bytes(self._relative(self.config.copy_record_key(record["namespace"], record["name"])),
                             json.dumps(copied, sort_keys=True).encode("utf-8"))
        return copied

    def delete_copy(self, record):
        """Remove a copy (a copy record as find_copy returns it) from its repository, then its record, so a
        rerun after an interruption finds the record and removes the rest."""
        self.check_copy(record)
        copy, source = record["data_copy"], record["source"]
        if copy.get("empty"):  # nothing in the repository: only the record
            self.store.delete(self._relative(self.config.copy_record_key(record["namespace"], record["name"])))
            return
        job = self._job(record["namespace"], object_name("forget", record["namespace"], record["name"]),
                        "forget %s/%s" % (record["namespace"], record["name"]),
                        self.mover.forget_container(self.mover.repository_key(source["namespace"], source["pvc"]),
                                                    copy["snapshot_id"]), None, read_only=True)
        try:
            self._run(job, self.mover.parse_forget, "removal of the copy of PVC %s/%s" % (
                source["namespace"], source["pvc"]))
        finally:
            job.cleanup()
        self.store.delete(self._relative(self.config.copy_record_key(record["namespace"], record["name"])))

    # ------------------------------------------------------------ copy in

    def copy_in(self, record, target_pvc, check_mode=False):
        """Create the PVC (target_pvc: the claim's body, already mapped) empty and download the copy into it.
        Returns (volume, True if this run restored it, False if an earlier run did, None if the PVC is not
        one restored from this copy)."""
        self.check_copy(record)
        copy = record["data_copy"]
        copy_id = copy_identity(record)
        meta = target_pvc["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        existing = self.k8s.get_or_none(pvc_path(namespace, name))
        if existing is not None:
            annotations = existing["metadata"].get("annotations") or {}
            if annotations.get(COPY_OF) != copy_id:
                return _volume(existing), None  # not ours: the caller reports it per `existing`
            if annotations.get(COPY_DONE) == "true":
                return _volume(existing), False
            if check_mode:
                return _volume(existing), True
        elif check_mode:
            return _volume(_empty_claim(target_pvc, copy_id)), True
        else:
            body = _empty_claim(target_pvc, copy_id)
            existing = self.k8s.create(pvc_path(namespace), body)
        if copy.get("empty"):  # a new claim is empty: nothing to download
            done = self.k8s.merge_patch(pvc_path(namespace, name), {"metadata": {"annotations": {COPY_DONE: "true"}}})
            return dict(_volume(done), copied_bytes=0, copied_files=0, seconds=0), True
        owner = "restore %s/%s" % (namespace, name)
        repository_key = self.mover.repository_key(record["source"]["namespace"], record["source"]["pvc"])
        job = self._job(namespace, object_name("restore", namespace, name), owner,
                        self.mover.restore_container(repository_key, copy["snapshot_id"]), name, read_only=False)
        try:
            result = self._run(job, self.mover.parse_restore, "restore of PVC %s/%s" % (namespace, name))
        finally:
            job.cleanup()
        for field in ("files", "bytes"):
            if copy.get(field) is not None and result.get(field) is not None and result[field] != copy[field]:
                raise LifeboatError("restore of PVC %s/%s from copy %s: restored %s %s, the backup recorded %s" % (
                    namespace, name, copy_id[:8], result[field], field, copy[field]))
        done = self.k8s.merge_patch(pvc_path(namespace, name), {"metadata": {"annotations": {COPY_DONE: "true"}}})
        return dict(_volume(done), copied_bytes=result.get("bytes"), copied_files=result.get("files"),
                    seconds=job.seconds()), True

    # ------------------------------------------------------------ jobs

    def _job(self, namespace, name, owner, container, claim, read_only):
        """The Job; its Secret holds the storage key and the password (or the container reads the password from
        the user's Secret)."""
        secret: Dict[str, Any] = {}
        if self.config.access_key:
            secret.update(AWS_ACCESS_KEY_ID=self.config.access_key, AWS_SECRET_ACCESS_KEY=self.config.secret_key)
        if self.config.password:
            secret[self.mover.password_variable] = self.config.password
        else:
            secret_name, secret_key = self.config.password_secret
            container = dict(container, env=list(container.get("env") or []) + [{
                "name": self.mover.password_variable,
                "valueFrom": {"secretKeyRef": {"name": secret_name, "key": secret_key}}}])
        if self.config.resources:
            container = dict(container, resources=self.config.resources)
        return MoverJob(self.k8s, namespace, name, owner, container, secret, claim, read_only, self.mover.image,
                        timeout=self.timeout)

    def _run(self, job, parse, what):
        try:
            log = job.run()
        except LifeboatError as e:
            log = getattr(e, "log", None)
            if log is None:
                raise
            if not log.strip():  # it never ran, or said nothing: the Job's own story (events, termination) is all
                raise LifeboatError("%s failed: %s" % (what, e.message), **e.details)
            raise LifeboatError("%s failed: %s (%s)" % (what, self.mover.failure(log), e.message), **e.details)
        try:
            return parse(log)
        except (ValueError, KeyError, TypeError) as e:
            raise LifeboatError("%s: the Job finished but its log does not say what it did (%s): %s" % (
                what, e, log[-500:]))


def copy_identity(record):
    """What a PVC restored from a record's copy is marked with: the copy's snapshot id, or, for the copy of an
    empty volume (no snapshot in the repository), "empty-" and the storage snapshot's id."""
    copy = record["data_copy"]
    return copy["snapshot_id"] if not copy.get("empty") else ("empty-" + str(record.get("snapshot_id")))[:63]


def _empty_claim(pvc, snapshot_id):
    """The backed-up claim without anything that binds it to a volume or a data source."""
    meta = pvc["metadata"]
    spec = dict(pvc.get("spec") or {})
    for field in ("volumeName", "dataSource", "dataSourceRef"):
        spec.pop(field, None)
    annotations = dict((k, v) for k, v in (meta.get("annotations") or {}).items()
                       if not k.startswith(("pv.kubernetes.io/", "volume.kubernetes.io/", "volume.beta.kubernetes.io/")))
    annotations[COPY_OF] = snapshot_id
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "spec": spec,
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "labels": meta.get("labels") or {},
                         "annotations": annotations}}


def _volume(pvc):
    meta = pvc["metadata"]
    spec = pvc.get("spec") or {}
    return {"driver": "data_mover", "namespace": meta["namespace"], "pvc": meta["name"],
            "phase": (pvc.get("status") or {}).get("phase"),
            "restored_from": (meta.get("annotations") or {}).get(COPY_OF),
            "volume_name": spec.get("volumeName"), "storage_class": spec.get("storageClassName"),
            "size": ((spec.get("resources") or {}).get("requests") or {}).get("storage")}
