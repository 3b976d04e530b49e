# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a backup's files live and what they are called: names checked before they become keys
or local paths."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.format import velero
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.archive import ArchiveError
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.sealing import AGE_SUFFIX


MANIFEST = "lifeboat-backup.json"
LOCK_FILE = "lifeboat-lock.json"
SHA256 = re.compile(r"^[0-9a-f]{64}$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def check_name(name, option="name"):
    if not name or not NAME.match(name):
        raise InvalidInputError("%s: %r is not a valid backup name (lower-case letters, digits, '-' and '.')"
                                % (option, name))
    return name


def files_of(name, encrypted=False, for_velero=False):
    """The backup's files besides the manifest, as Velero names them (+ .age when encrypted);
    for_velero adds the files Velero needs to use it (never for encrypted backups: Velero cannot
    read them, and its logs and Backup object would show what the encryption hides)."""
    suffix = AGE_SUFFIX if encrypted else ""
    files = {"archive": "%s.tar.gz%s" % (name, suffix), "resource_list": "%s-resource-list.json.gz%s" % (name, suffix),
             "volume_snapshots": "%s-volumesnapshots.json.gz%s" % (name, suffix)}
    if for_velero and not encrypted:
        files.update(velero.velero_files(name))
    return files


def own_files(name):
    """Every file name lifeboat may write under a backup's name."""
    return set(files_of(name, False, True).values()) | set(files_of(name, True).values()) | set((MANIFEST, LOCK_FILE))


def key(name, filename):
    return "backups/%s/%s" % (check_name(name), filename)


def local_path(workdir, filename):
    """Where a backup file is kept during a run: always directly inside the private workdir."""
    path = os.path.realpath(os.path.join(workdir, filename))
    if "/" in filename or os.path.dirname(path) != os.path.realpath(workdir):
        raise ArchiveError("backup file name %r would leave the run's private directory: refusing it" % (filename,))
    return path
