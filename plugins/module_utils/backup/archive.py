# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The object archive, in Velero's layout (format 1.1.0):

    metadata/version                                   "1.1.0"
    resources/<resource.group>/namespaces/<ns>/<name>.json
    resources/<resource.group>/cluster/<name>.json

Core resources have no group suffix (resources/configmaps/...). The archive
is written to and read from a local file entry by entry; entries are never all
in memory at once. Reading refuses entries that could escape a directory.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import hashlib
import io
import json
import posixpath
import tarfile
import time

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import LifeboatError

FORMAT_VERSION = "1.1.0"


class ArchiveError(LifeboatError):
    """The archive is damaged or unsafe."""


def resource_dir(plural, group):
    return "%s.%s" % (plural, group) if group else plural


def split_resource_dir(name):
    """'deployments.apps' -> ('deployments', 'apps'); 'configmaps' -> ('configmaps', '')."""
    plural, _dot, group = name.partition(".")
    return plural, group


def item_path(res_dir, namespace, name):
    if namespace:
        return "resources/%s/namespaces/%s/%s.json" % (res_dir, namespace, name)
    return "resources/%s/cluster/%s.json" % (res_dir, name)


class ArchiveWriter:
    """Appends JSON items to a tar.gz file. Not thread-safe: one writer thread."""

    def __init__(self, path):
        self.tar = tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT)
        self.mtime = int(time.time())
        self._add("metadata/version", (FORMAT_VERSION + "\n").encode())

    def _add(self, name, data):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = self.mtime
        info.mode = 0o644
        self.tar.addfile(info, io.BytesIO(data))

    def add_item(self, res_dir, obj):
        meta = obj["metadata"]
        self._add(item_path(res_dir, meta.get("namespace"), meta["name"]),
                  json.dumps(obj, sort_keys=True).encode("utf-8"))

    def close(self):
        self.tar.close()


def safe_member_name(name):
    """Refuse absolute paths, '..' and anything outside resources/ and metadata/."""
    normalized = posixpath.normpath(name)
    if name.startswith("/") or normalized.startswith("..") or "/../" in "/%s/" % name \
            or normalized != name.rstrip("/"):
        raise ArchiveError("archive entry %r is unsafe (absolute or '..' path): refusing the backup" % name)
    return normalized


def read_items(path):
    """Yield (resource_dir, namespace or None, object) for every item, streaming."""
    try:
        with tarfile.open(path, "r|gz") as tar:
            for member in tar:
                name = safe_member_name(member.name)
                if member.isdir():
                    continue
                if not member.isfile():
                    raise ArchiveError("archive entry %r is a link or device: refusing the backup" % member.name)
                parts = name.split("/")
                if parts[0] == "metadata":
                    continue
                if parts[0] != "resources" or not name.endswith(".json"):
                    raise ArchiveError("archive entry %r is not part of the backup layout" % member.name)
                if len(parts) == 5 and parts[2] == "namespaces":
                    namespace = parts[3]
                elif len(parts) == 4 and parts[2] == "cluster":
                    namespace = None
                else:
                    # Velero also writes <version>-preferredversion copies; we read the main ones.
                    continue
                obj = json.load(tar.extractfile(member))
                yield parts[1], namespace, obj
    except (tarfile.TarError, EOFError, OSError, ValueError) as e:
        if isinstance(e, LifeboatError):
            raise
        raise ArchiveError("the backup archive is damaged: %s" % e)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json_gz(path, data):
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump(data, f, sort_keys=True)


def read_json_gz(path):
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError, EOFError) as e:
        raise ArchiveError("%s is damaged: %s" % (posixpath.basename(path), e))
