# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kopia as the data mover's tool, to restore what Velero's data mover (and its file-system backup with the kopia
uploader) copied: Velero keeps one kopia repository per source namespace, `<storage prefix>/kopia/<namespace>/`,
encrypted with the password in Secret velero/velero-repo-credentials (key repository-password; Velero's default is
`static-passw0rd`). Velero's volume information names each volume's kopia snapshot; kopia reads the repository's
format from the repository itself, so stock kopia restores it. This tool only restores: lifeboat's own copies are
made with restic.

The Jobs run kopia's official image by default (Ubuntu with kopia; any image with kopia 0.10 or later and a POSIX
shell with find, stat, du and awk works). The script is fixed text; every value reaches it in an environment
variable, quoted, never spliced in. The connection is read-only and is not kept: kopia's configuration and cache
live in the Job's scratch directory.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from urllib.parse import urlparse

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.base import (
    OPTION,
    RESTORE_PROGRESS,
    RESTORED_STATS,
    DataMover,
    failure_message,
    parse_restored_stats,
)

_SNAPSHOT_ID = re.compile(r"^[0-9a-f]{32}$")  # a kopia snapshot manifest's id

# --parallel: kopia's restore parallelism (its default 8) from data_mover.parallel_uploads.
RESTORE_SCRIPT = "set -eu\n" + """set -- --bucket "$LIFEBOAT_BUCKET" --prefix "$LIFEBOAT_PREFIX" --region "$LIFEBOAT_REGION"
if [ -n "${LIFEBOAT_ENDPOINT:-}" ]; then set -- "$@" --endpoint "$LIFEBOAT_ENDPOINT"; fi
if [ "${LIFEBOAT_TLS:-on}" = off ]; then set -- "$@" --disable-tls; fi
kopia repository connect s3 --readonly --no-persist-credentials "$@"
""" + RESTORE_PROGRESS + """kopia snapshot restore --parallel "${LIFEBOAT_PARALLEL:-8}" "$LIFEBOAT_SNAPSHOT" /data
kill $! 2>/dev/null || true
""" + RESTORED_STATS

# kopia's messages for the failures a user can fix, and the option that fixes them (the storage's: base.py).
KNOWN_FAILURES = (
    ("invalid repository password",
     OPTION + ".repository_password: kopia cannot open the repository with this password (Velero's is in Secret "
              "velero/velero-repo-credentials, key repository-password, in the cluster it backed up)"),
    ("repository not initialized", OPTION + ".storage: there is no kopia repository there"),
)


class KopiaMover(DataMover):
    name = "kopia"
    made_by = "Velero (its data mover, or its file-system backup with the kopia uploader)"
    password_variable = "KOPIA_PASSWORD"
    default_image = "docker.io/kopia/kopia:0.22.3"
    makes_copies = False

    def repository_key(self, namespace, pvc):
        """Velero's layout: one repository per source namespace, whatever the PVC."""
        return "/".join(p for p in (self.config.prefix, "kopia", namespace) if p)

    def _endpoint(self):
        """(host[:port], "on"/"off" for TLS) of the endpoint the Jobs reach, ("", "on") for AWS S3."""
        endpoint = self.config.pod_endpoint_url
        if not endpoint:
            return "", "on"
        parsed = urlparse(endpoint)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path.strip("/"):
            raise InvalidInputError("%s.pod_endpoint_url: kopia reaches S3 at http(s)://host[:port] with no path, "
                                    "not %r" % (OPTION, endpoint))
        return parsed.netloc, "off" if parsed.scheme == "http" else "on"

    def restore_container(self, repository_key, snapshot_id):
        self.check_snapshot_id(snapshot_id)
        endpoint, tls = self._endpoint()
        env = [{"name": "LIFEBOAT_BUCKET", "value": self.config.bucket},
               {"name": "LIFEBOAT_PREFIX", "value": repository_key + "/"},
               {"name": "LIFEBOAT_REGION", "value": self.config.region},
               {"name": "LIFEBOAT_ENDPOINT", "value": endpoint},
               {"name": "LIFEBOAT_TLS", "value": tls},
               {"name": "LIFEBOAT_SNAPSHOT", "value": snapshot_id},
               {"name": "KOPIA_CONFIG_PATH", "value": "/cache/kopia/repository.config"},
               {"name": "KOPIA_CACHE_DIRECTORY", "value": "/cache/kopia/cache"},
               {"name": "KOPIA_LOG_DIR", "value": "/cache/kopia/logs"},
               {"name": "KOPIA_CHECK_FOR_UPDATES", "value": "false"},
               {"name": "HOME", "value": "/cache"}]
        if self.config.parallel_uploads is not None:
            env.append({"name": "LIFEBOAT_PARALLEL", "value": str(self.config.parallel_uploads)})
        return {"command": ["/bin/sh", "-c", RESTORE_SCRIPT], "env": env}

    def parse_restore(self, log):
        return parse_restored_stats(log)

    def failure(self, log):
        lines = [line.strip() for line in log.splitlines() if line.strip() and not line.startswith("progress:")]
        return failure_message("kopia", log, KNOWN_FAILURES, lines, lambda line: "error" in line.lower())

    def check_snapshot_id(self, snapshot_id):
        if not isinstance(snapshot_id, str) or not _SNAPSHOT_ID.match(snapshot_id):
            raise InvalidInputError("data_copy.snapshot_id: %r is not a kopia snapshot id" % (snapshot_id,))

    def snapshot_keys(self, repository_key, snapshot_id):
        self.check_snapshot_id(snapshot_id)
        return [repository_key + "/kopia.repository"]

    # What only a tool that makes copies does: refused before any change (VolumeCopies.require_copying).
    def _only_restores(self, *_args):
        raise InvalidInputError("%s.tool: kopia only restores copies %s made" % (OPTION, self.made_by))

    backup_container = forget_container = parse_backup = parse_forget = full_snapshot_id = _only_restores
