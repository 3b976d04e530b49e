# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""restic as the data mover's tool: encryption, deduplication and integrity are restic's.

The Jobs run restic's official image by default (any image with restic 0.14 or later and a POSIX
shell works; the test bed builds restic 0.18 from its Go module). The scripts below are fixed text:
every value (repository, snapshot id, tag, tuning) comes from an environment variable, quoted, never
spliced in. They print restic's progress (JSON status lines every 5 s for a backup; the restored size
every 5 s for a restore, as restic before 0.17 prints none), then a marker line and the facts the
module reads.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.base import (
    OPTION,
    RESTORE_PROGRESS,
    RESTORED_STATS,
    RESULT_MARK,
    DataMover,
    after_mark,
    failure_message,
    parse_restored_stats,
)

_SNAPSHOT_ID = re.compile(r"^[0-9a-f]{64}$")
_SHORT_ID = re.compile(r"^[0-9a-f]{8,64}$")

# The summary names the snapshot (restic 0.14 by its short id; the module finds the whole id in the bucket).
# restic refuses to save an empty snapshot, so an empty volume (a claim provisioned and never written) is
# said to be empty instead: its copy is a record with nothing to download.
# --ignore-inode: the volume read is a clone made from a snapshot, new inodes and ctimes every time, so
# without it restic reads every file again; with it, a file whose size and mtime are the parent
# snapshot's is taken as unchanged (kopia and Velero's uploader decide the same way).
# LIFEBOAT_UPLOADS (a number the module checked), when given, sets restic's S3 connections; unset, restic's own
# default holds.
UPLOADS = """set --
if [ -n "${LIFEBOAT_UPLOADS:-}" ]; then set -- -o "s3.connections=$LIFEBOAT_UPLOADS"; fi
"""
BACKUP_SCRIPT = """set -eu
cd /data
if [ -z "$(ls -A .)" ]; then echo "%(mark)s empty"; echo '{"files": 0, "bytes": 0}'; exit 0; fi
if [ "$LIFEBOAT_INIT" = 1 ]; then restic init; fi
%(uploads)srestic backup --json --ignore-inode --host lifeboat --tag "$LIFEBOAT_TAG" "$@" .
""" % {"mark": RESULT_MARK, "uploads": UPLOADS}

RESTORE_SCRIPT = "set -eu\n" + UPLOADS + RESTORE_PROGRESS + """restic restore --verify --target /data "$@" "$LIFEBOAT_SNAPSHOT"
kill $! 2>/dev/null || true
""" + RESTORED_STATS

# `restic cat config` first: a wrong password fails here, not silently as "no such snapshot".
FORGET_SCRIPT = """set -eu
restic cat config >/dev/null
if restic snapshots --json | grep -q "\\"id\\":\\"$LIFEBOAT_SNAPSHOT\\""; then
  restic forget --prune "$LIFEBOAT_SNAPSHOT"
fi
echo "%(mark)s forgot"
echo "{}"
""" % {"mark": RESULT_MARK}

# restic's messages for the failures a user can fix, and the option that fixes them (the storage's: base.py).
KNOWN_FAILURES = (
    ("wrong password or no key found",
     OPTION + ".repository_password: restic cannot open the repository with this password (wrong password or no "
              "key found)"),
    ("Is there a repository at the following location", OPTION + ".storage: there is no restic repository there"),
)


class ResticMover(DataMover):
    name = "restic"
    password_variable = "RESTIC_PASSWORD"
    default_image = "docker.io/restic/restic:0.18.0"

    def repository_url(self, repository_key):
        endpoint = self.config.pod_endpoint_url
        if endpoint:
            return "s3:%s/%s/%s" % (endpoint.rstrip("/"), self.config.bucket, repository_key)
        return "s3:s3.%s.amazonaws.com/%s/%s" % (self.config.region, self.config.bucket, repository_key)

    def _env(self, repository_key):
        env = [{"name": "RESTIC_REPOSITORY", "value": self.repository_url(repository_key)},
               {"name": "RESTIC_CACHE_DIR", "value": "/cache"},
               {"name": "RESTIC_PROGRESS_FPS", "value": "0.2"},
               {"name": "AWS_DEFAULT_REGION", "value": self.config.region},
               {"name": "HOME", "value": "/cache"}]
        tuning = (("RESTIC_READ_CONCURRENCY", self.config.parallel_reads),
                  ("LIFEBOAT_UPLOADS", self.config.parallel_uploads),
                  ("RESTIC_COMPRESSION", self.config.compression))
        return env + [{"name": name, "value": str(value)} for name, value in tuning if value is not None]

    def backup_container(self, repository_key, initialize, tag):
        env = self._env(repository_key) + [{"name": "LIFEBOAT_INIT", "value": "1" if initialize else "0"},
                                           {"name": "LIFEBOAT_TAG", "value": tag}]
        return {"command": ["/bin/sh", "-c", BACKUP_SCRIPT], "env": env}

    def restore_container(self, repository_key, snapshot_id):
        self.check_snapshot_id(snapshot_id)
        env = self._env(repository_key) + [{"name": "LIFEBOAT_SNAPSHOT", "value": snapshot_id}]
        return {"command": ["/bin/sh", "-c", RESTORE_SCRIPT], "env": env}

    def forget_container(self, repository_key, snapshot_id):
        self.check_snapshot_id(snapshot_id)
        env = self._env(repository_key) + [{"name": "LIFEBOAT_SNAPSHOT", "value": snapshot_id}]
        return {"command": ["/bin/sh", "-c", FORGET_SCRIPT], "env": env}

    def parse_forget(self, log):
        if after_mark(log, "forgot") is None:
            raise ValueError("the Job did not say it finished")
        return {}

    def parse_backup(self, log):
        if isinstance(after_mark(log, "empty"), dict):
            return {"snapshot_id": None, "empty": True, "bytes": 0, "files": 0}
        summary = next((json.loads(line) for line in reversed(log.splitlines())
                        if line.startswith('{"message_type":"summary"')), None)
        if summary is None or not _SHORT_ID.match(str(summary.get("snapshot_id"))):
            raise ValueError("no backup summary in the Job's log")
        return {"snapshot_id": summary["snapshot_id"], "bytes": summary.get("total_bytes_processed"),
                "files": summary.get("total_files_processed"), "bytes_added": summary.get("data_added"),
                "tool_seconds": summary.get("total_duration")}

    def full_snapshot_id(self, snapshot_id, snapshot_keys):
        """The whole id of a snapshot the summary named by a prefix, from the repository's snapshot files."""
        if _SNAPSHOT_ID.match(snapshot_id):
            return snapshot_id
        found = [key.rsplit("/", 1)[-1] for key in snapshot_keys]
        matches = [i for i in found if _SNAPSHOT_ID.match(i) and i.startswith(snapshot_id)]
        if len(matches) != 1:
            raise ValueError("%d snapshots in the repository start with %s" % (len(matches), snapshot_id))
        return matches[0]

    def parse_restore(self, log):
        return parse_restored_stats(log)

    def failure(self, log):
        # restic's own error lines wherever they are in the tail (a Fatal line may be followed by a usage text or
        # a shell's).
        lines = [_said(line.strip()) for line in log.splitlines()
                 if line.strip() and not line.startswith('{"message_type":"status"')]
        return failure_message("restic", log, KNOWN_FAILURES, lines,
                               lambda line: line.startswith("Fatal") or "error" in line.lower())

    def check_snapshot_id(self, snapshot_id):
        if not isinstance(snapshot_id, str) or not _SNAPSHOT_ID.match(snapshot_id):
            raise InvalidInputError("data_copy.snapshot_id: %r is not a restic snapshot id" % (snapshot_id,))

    def snapshot_keys(self, repository_key, snapshot_id):
        self.check_snapshot_id(snapshot_id)
        return [repository_key + "/config", repository_key + "/snapshots/" + snapshot_id]


def _said(line):
    """A log line as words: restic 0.17 and later say a --json command's fatal error as an exit_error document."""
    if line.startswith('{"message_type":"exit_error"'):
        try:
            return str(json.loads(line).get("message"))
        except ValueError:
            return line
    return line
