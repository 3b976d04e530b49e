# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data mover interface: a volume's files into object storage and back, with no agent in the
cluster. A mover runs short-lived Jobs (datamover/jobs.py) with a well-kept tool in them; it never
sees a shell string built from data: everything a Job needs reaches it in environment variables.

Where the copies go: one repository per PVC under the mover's storage,
`<storage prefix>/volumes/<tool>/<namespace>/<pvc>`, so repeated backups of a volume deduplicate
against each other (a mover that reads another product's copies, kopia for Velero's, says where that product keeps
them). A `copy record` (what a restore needs: tool, repository, snapshot id, bytes,
files) is stored next to them, `<prefix>/volumes/copies/<namespace>/<snapshot name>.json`, so a rerun
knows the copy is done even after the snapshot it came from is deleted.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
from typing import Optional
from urllib.parse import urlparse

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.quantity import quantity


OPTION = "data_mover"
DEFAULT_TOOL = "restic"
RESULT_MARK = "lifeboat-result:"
# The end of a restore Job's script: the files on the volume counted and summed (metadata only), for the module to
# compare with what the copy recorded.
RESTORED_STATS = """echo "%(mark)s stats"
find /data -type f -exec stat -c %%s {} + | awk '{s += $1; n++} END {printf "{\\"bytes\\": %%.0f, \\"files\\": %%.0f}\\n", s, n}'
""" % {"mark": RESULT_MARK}
# Progress while a restore runs (restic before 0.17 prints none, kopia none without a terminal).
RESTORE_PROGRESS = """( while sleep 5; do echo "progress: $(du -sk /data | cut -f1) KiB restored"; done ) &
"""
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")
COMPRESSIONS = ("auto", "off", "max")
MAX_PARALLEL = 64


def parallelism(value, name):
    """A concurrency option: None (the tool's default) or a whole number from 1 to MAX_PARALLEL."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PARALLEL:
        raise InvalidInputError("%s.%s: %r is not a whole number from 1 to %d" % (OPTION, name, value, MAX_PARALLEL))
    return value


def job_resources(option):
    """data_mover.resources, checked as the apiserver would (names, quantities, each request within its limit):
    the Jobs' container resources, so they pass a namespace's ResourceQuota and LimitRange."""
    resources = {}
    for part in ("requests", "limits"):
        given = (option or {}).get(part) or {}
        unknown = sorted(set(given) - set(RESOURCE_NAMES))
        if unknown:
            raise InvalidInputError("%s.resources.%s: %s %s not a resource the Jobs can ask for (%s)" % (
                OPTION, part, ", ".join(repr(u) for u in unknown), "is" if len(unknown) == 1 else "are",
                ", ".join(RESOURCE_NAMES)))
        for name, value in given.items():
            quantity(value, "%s.resources.%s.%s" % (OPTION, part, name))
        if given:
            resources[part] = dict((name, str(value)) for name, value in sorted(given.items()))
    for name, request in (resources.get("requests") or {}).items():
        limit = (resources.get("limits") or {}).get(name)
        if limit is not None and quantity(request, name) > quantity(limit, name):
            raise InvalidInputError("%s.resources.requests.%s: %s is more than its limit %s" % (
                OPTION, name, request, limit))
    return resources


def environment_defaults():
    """The S3 connection from the environment, as the storage options read it (AWS_* variables)."""
    env = os.environ
    found = {"endpoint_url": env.get("AWS_URL") or env.get("AWS_ENDPOINT_URL"),
             "access_key": env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_ACCESS_KEY"),
             "secret_key": env.get("AWS_SECRET_ACCESS_KEY") or env.get("AWS_SECRET_KEY"),
             "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")}
    return dict((k, v) for k, v in found.items() if v)


class MoverConfig:
    """The data_mover option, checked: where repositories live and how Jobs reach them."""

    def __init__(self, option, defaults=None):
        given = dict(option or {})
        for key, value in (defaults or {}).items():
            if given.get(key) in (None, ""):
                given[key] = value
        self.tool = given.get("tool") or DEFAULT_TOOL
        storage = given.get("storage") or ""
        parsed = urlparse(storage)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise InvalidInputError("%s.storage: the copies go to S3; give s3://bucket/prefix, not %r" % (
                OPTION, storage))
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.endpoint_url = given.get("endpoint_url") or None
        self.pod_endpoint_url = given.get("pod_endpoint_url") or self.endpoint_url
        self.region = given.get("region") or "us-east-1"
        self.access_key = given.get("access_key")
        self.secret_key = given.get("secret_key")
        if bool(self.access_key) != bool(self.secret_key):
            raise InvalidInputError("%s.access_key and %s.secret_key: give both or neither" % (OPTION, OPTION))
        self.password = given.get("repository_password")
        secret = given.get("repository_password_secret")
        self.password_secret = None
        if secret:
            name, _slash, key = str(secret).partition("/")
            if not _NAME.match(name) or not key:
                raise InvalidInputError("%s.repository_password_secret: %r is not <secret name>/<key>" % (
                    OPTION, secret))
            self.password_secret = (name, key)
        if bool(self.password) == bool(self.password_secret):
            raise InvalidInputError("%s.repository_password or %s.repository_password_secret: give exactly one; "
                                    "the repository is encrypted with it" % (OPTION, OPTION))
        self.image = given.get("image") or None  # None: the tool's own image
        self.resources = job_resources(given.get("resources"))
        self.parallel_reads = parallelism(given.get("parallel_reads"), "parallel_reads")
        self.parallel_uploads = parallelism(given.get("parallel_uploads"), "parallel_uploads")
        self.compression = given.get("compression") or None
        if self.compression not in (None,) + COMPRESSIONS:
            raise InvalidInputError("%s.compression: %r is not one of %s" % (
                OPTION, self.compression, ", ".join(COMPRESSIONS)))
        self.storage_options = {"endpoint_url": self.endpoint_url, "region": self.region,
                                "access_key": self.access_key, "secret_key": self.secret_key}

    @property
    def storage(self):
        return "s3://%s/%s" % (self.bucket, self.prefix) if self.prefix else "s3://" + self.bucket

    def repository_key(self, namespace, pvc):
        """The repository's key prefix in the bucket (no trailing slash)."""
        return "/".join(p for p in (self.prefix, "volumes", self.tool, namespace, pvc) if p)

    def copy_record_key(self, namespace, snapshot):
        return "/".join(p for p in (self.prefix, "volumes", "copies", namespace, snapshot + ".json") if p)


class DataMover:
    """One tool's Jobs. `copy_out` and `copy_in` return the Job's result; the services (datamover/copies.py)
    make the volumes, wait and clean up."""

    name: Optional[str] = None
    password_variable: Optional[str] = None  # the environment variable the tool reads the repository password from
    default_image: Optional[str] = None
    makes_copies = True  # False: this tool only restores copies another product made
    made_by = "lifeboat"  # whose copies this tool restores

    def __init__(self, config):
        self.config = config

    @property
    def image(self):
        return self.config.image or self.default_image

    def repository_key(self, namespace, pvc):
        """The key prefix (no trailing slash) of the repository that holds the PVC's copies."""
        return self.config.repository_key(namespace, pvc)

    def repository_url(self, repository_key):
        """The tool's repository address, as the Job reaches the storage."""
        raise NotImplementedError

    def backup_container(self, repository_key, initialize, tag):
        """The container spec of a Job that copies /data (mounted read-only) into the repository."""
        raise NotImplementedError

    def restore_container(self, repository_key, snapshot_id):
        """The container spec of a Job that restores the snapshot into /data (mounted read-write)."""
        raise NotImplementedError

    def forget_container(self, repository_key, snapshot_id):
        """The container spec of a Job that removes the snapshot from the repository (and its unused data)."""
        raise NotImplementedError

    def parse_forget(self, log):
        """{} once a forget Job's log says it finished; ValueError if it does not."""
        raise NotImplementedError

    def parse_backup(self, log):
        """{snapshot_id (maybe a prefix), bytes, files} from a finished backup Job's log; ValueError if it is
        not there."""
        raise NotImplementedError

    def full_snapshot_id(self, snapshot_id, snapshot_keys):
        """The snapshot's whole id, given what parse_backup said and the keys under the repository's
        `snapshots/`; ValueError if it cannot be told."""
        raise NotImplementedError

    def parse_restore(self, log):
        """{bytes, files} from a finished restore Job's log; ValueError if it is not there."""
        raise NotImplementedError

    def failure(self, log):
        """The user-facing reason a Job failed, from its log (naming the option to fix when it can)."""
        raise NotImplementedError

    def check_snapshot_id(self, snapshot_id):
        """Raise if a snapshot id read from a backup is not one this tool makes."""
        raise NotImplementedError

    def snapshot_keys(self, repository_key, snapshot_id):
        """Keys in the bucket that must exist for the snapshot to be restorable (a shallow check)."""
        raise NotImplementedError


def after_mark(log, what):
    """The JSON document on the line after `lifeboat-result: <what>` in a Job's log, or None."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "%s %s" % (RESULT_MARK, what) and i + 1 < len(lines):
            try:
                return json.loads(lines[i + 1])
            except ValueError:
                return None
    return None


def parse_restored_stats(log):
    """{bytes, files} a restore Job's RESTORED_STATS printed; ValueError if it is not there."""
    stats = after_mark(log, "stats")
    if not isinstance(stats, dict):
        raise ValueError("no restore statistics in the Job's log")
    return {"bytes": stats.get("bytes"), "files": stats.get("files")}


# The storage's messages for failures a user can fix, and the option that fixes them (any tool over S3).
STORAGE_FAILURES = (
    ("Access Key Id you provided does not exist", OPTION + ".access_key: the storage does not know this key"),
    ("SignatureDoesNotMatch", OPTION + ".secret_key: the storage refused the signature (wrong secret key)"),
    ("Access Denied", OPTION + ".access_key: the storage denied this key access"),
    ("no such host", OPTION + ".pod_endpoint_url: the Job cannot resolve the storage's host name"),
    ("connection refused", OPTION + ".pod_endpoint_url: the Job cannot connect to the storage"),
    ("i/o timeout", OPTION + ".pod_endpoint_url: the Job's connection to the storage timed out"),
)


def failure_message(tool, log, known, lines, is_error):
    """Why a Job failed: the option to fix when the log says a known failure (the tool's own, then the storage's),
    else the tool's error lines wherever they are in the tail (or its last lines)."""
    for needle, message in tuple(known) + STORAGE_FAILURES:
        if needle in log:
            return message
    errors = [line for line in lines if is_error(line)]
    told = errors[-8:] if errors else lines[-5:]
    return "%s failed: %s" % (tool, " / ".join(told)[-1200:] or "no output")
