# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The object archive, in Velero's layout (format 1.1.0):

    metadata/version                                   "1.1.0"
    resources/<resource.group>/namespaces/<ns>/<name>.json
    resources/<resource.group>/cluster/<name>.json
    resources/<resource.group>/<version>-preferredversion/...   the same items again, as Velero writes

Core resources have no group suffix (resources/configmaps/...). The archive
is written and read as a stream, entry by entry; entries are never all in
memory at once.

Whoever can write the bucket can write the archive, so reading treats it as
hostile: entries that could escape a directory are refused, and so is anything
above the limits (decompressed size per entry and in total, entry count, side
file size) or in a format this code does not understand.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import hashlib
import io
import json
import posixpath
import tarfile
import tempfile
import time
from typing import Any, Dict

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError, LifeboatError
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.quantity import quantity_bytes


FORMAT_VERSION = "1.1.0"
# Velero's archive versions are 1.x.y; a new major version may mean anything.
READABLE_MAJOR = "1"
# Velero also stores every item under resources/<resource.group>/<version>-preferredversion/.
PREFERRED_VERSION_SUFFIX = "-preferredversion"
# A header (PAX, GNU long name) bigger than this past the entry limit is not one any tool wrote.
HEADER_SLACK = 1 << 20


class ArchiveError(LifeboatError):
    """The archive is damaged or unsafe."""


class Limits:
    """What reading one backup may cost. The defaults fit a 300,000-object backup with room
    to spare; a Kubernetes object is at most about 1.5 MiB (etcd's request limit)."""

    # The limits option's defaults, as object_restore's argument spec and docs give them.
    OPTION_DEFAULTS: Dict[str, Any] = {"entry_size": "32Mi", "total_size": "16Gi", "entries": 2000000, "side_file_size": "512Mi"}
    DEFAULTS = dict((k, v if isinstance(v, int) else int(v[:-2]) << {"Mi": 20, "Gi": 30}[v[-2:]])
                    for k, v in OPTION_DEFAULTS.items())
    SIZES = ("entry_size", "total_size", "side_file_size")

    def __init__(self, **values):
        for field, default in self.DEFAULTS.items():
            setattr(self, field, values.get(field) or default)

    @classmethod
    def from_option(cls, option, name="limits"):
        """limits: {entry_size: 64Mi, total_size: 32Gi, entries: 3000000, side_file_size: 1Gi}"""
        values = {}
        for field, value in (option or {}).items():
            if field not in cls.DEFAULTS:
                raise InvalidInputError("%s: unknown limit %r (known: %s)" % (
                    name, field, ", ".join(sorted(cls.DEFAULTS))))
            if value is None:
                continue
            if field in cls.SIZES:
                number = quantity_bytes(value, "%s.%s" % (name, field))
            else:
                try:
                    number = int(value)
                except (ValueError, TypeError):
                    raise InvalidInputError("%s.%s: %r is not a whole number" % (name, field, value))
            if number <= 0:
                raise InvalidInputError("%s.%s: must be more than 0, got %r" % (name, field, value))
            values[field] = number
        return cls(**values)

    def refuse(self, field, what, amount=None):
        unit = "" if field == "entries" else " bytes"
        return ArchiveError("%s%s exceeds limits.%s (%d%s): refusing the backup; raise limits.%s only for a backup "
                            "you trust" % (what, " (%d%s)" % (amount, unit) if amount else "", field,
                                           getattr(self, field), unit, field))


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
    """Appends JSON items to a tar.gz stream. Not thread-safe: one writer thread."""

    def __init__(self, fileobj):
        # gzip's default level, as Go's (and so Velero's) writer uses: level 9 (tarfile's "w|gz") costs a third
        # more time for a few percent less. The gzip stream is closed after the tar stream.
        self.gzip = gzip.GzipFile(fileobj=fileobj, mode="wb", compresslevel=6)
        self.tar = tarfile.open(fileobj=self.gzip, mode="w|", format=tarfile.PAX_FORMAT)
        self.mtime = int(time.time())
        self._add("metadata/version", (FORMAT_VERSION + "\n").encode())

    def _add(self, name, data):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = self.mtime
        info.mode = 0o644
        self.tar.addfile(info, io.BytesIO(data))
        self.tar.members = []  # type: ignore[attr-defined]  # tarfile keeps every member's header otherwise: memory grows with the backup

    def add_item(self, res_dir, obj):
        """The item, and right after it the copy Velero keeps under <version>-preferredversion (the
        version backed up is the preferred one); adjacent, the copy costs gzip almost nothing."""
        meta = obj["metadata"]
        data = json.dumps(obj, sort_keys=True).encode("utf-8")
        path = item_path(res_dir, meta.get("namespace"), meta["name"])
        self._add(path, data)
        version = str(obj.get("apiVersion", "")).rpartition("/")[2]
        if version:
            self._add(path.replace("resources/%s/" % res_dir, "resources/%s/%s%s/" % (
                res_dir, version, PREFERRED_VERSION_SUFFIX), 1), data)

    def close(self):
        self.tar.close()
        self.gzip.close()


def safe_member_name(name):
    """Refuse absolute paths, '..' and anything outside resources/ and metadata/."""
    normalized = posixpath.normpath(name)
    if name.startswith("/") or normalized.startswith("..") or "/../" in "/%s/" % name \
            or normalized != name.rstrip("/"):
        raise ArchiveError("archive entry %r is unsafe (absolute or '..' path): refusing the backup" % name)
    return normalized


class _CountingReader:
    """The decompressed archive, counted as tarfile reads it: in total, and since the last
    entry was handed out (tarfile reads a PAX header whole into memory before it yields)."""

    def __init__(self, fileobj, limits):
        self.fileobj = fileobj
        self.limits = limits
        self.total = 0
        self.since_entry = 0

    def read(self, size=-1):
        data = self.fileobj.read(size if size is not None and size >= 0 else 1 << 20)
        self.total += len(data)
        self.since_entry += len(data)
        if self.total > self.limits.total_size:
            raise self.limits.refuse("total_size", "the archive's decompressed size", self.total)
        if self.since_entry > self.limits.entry_size + HEADER_SLACK:
            raise self.limits.refuse("entry_size", "an archive entry's header", self.since_entry)
        return data


def check_version(text, what):
    """Refuse a format whose major version this code does not know."""
    version = text.strip()
    if version.split(".")[0] != READABLE_MAJOR:
        raise ArchiveError("%s is in format %s; this collection reads format %s.x (its own and Velero's %s): "
                           "refusing the backup" % (what, version[:40] or "(empty)", READABLE_MAJOR, FORMAT_VERSION))
    return version


def read_items(fileobj, limits=None):
    """Yield (resource_dir, namespace or None, name, object) for every item of a tar.gz stream."""
    limits = limits or Limits()
    entries = 0
    try:
        counted = _CountingReader(gzip.GzipFile(fileobj=fileobj, mode="rb"), limits)
        with tarfile.open(fileobj=counted, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                entries += 1
                if entries > limits.entries:
                    raise limits.refuse("entries", "the archive's entry count", entries)
                item = _read_member(tar, member, limits)
                tar.members = []  # as in ArchiveWriter: a stream needs no list of what went by
                counted.since_entry = 0
                if item is not None:
                    yield item
    except (tarfile.TarError, EOFError, OSError, ValueError, RecursionError) as e:
        if isinstance(e, LifeboatError):
            raise
        raise ArchiveError("the backup archive is damaged: %s" % (
            "an entry is nested too deeply" if isinstance(e, RecursionError) else e))


def _read_member(tar, member, limits):
    name = safe_member_name(member.name)
    if member.isdir():
        return None
    if not member.isfile():
        raise ArchiveError("archive entry %r is a link or device: refusing the backup" % member.name)
    if member.size > limits.entry_size:
        raise limits.refuse("entry_size", "archive entry %s" % name, member.size)
    parts = name.split("/")
    if name == "metadata/version":
        check_version(tar.extractfile(member).read().decode("utf-8", "replace"), "the archive")
        return None
    if parts[0] == "metadata":
        return None
    if parts[0] != "resources" or not name.endswith(".json"):
        raise ArchiveError("archive entry %r is not part of the backup layout" % member.name)
    if len(parts) == 5 and parts[2] == "namespaces":
        namespace = parts[3]
    elif len(parts) == 4 and parts[2] == "cluster":
        namespace = None
    else:
        return None  # Velero also writes <version>-preferredversion copies; we read the main ones.
    return parts[1], namespace, parts[-1][:-len(".json")], json.load(tar.extractfile(member))


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json_gz(fileobj, data):
    with gzip.GzipFile(fileobj=fileobj, mode="wb", mtime=0) as f:
        f.write(json.dumps(data, sort_keys=True).encode("utf-8"))


class SpooledResourceList:
    """Velero's resource list side file ({"<apiVersion>/<Kind>": ["<ns>/<name>", ...]}), gathered in
    files of the run's private directory: a name per object would otherwise stay in memory until
    the backup ends. write() gives the same bytes write_json_gz gives for the dict."""

    def __init__(self, directory):
        self.directory = directory
        self.files = {}

    def add(self, gvk, name):
        spool = self.files.get(gvk)
        if spool is None:
            spool = self.files[gvk] = tempfile.TemporaryFile(mode="w+", dir=self.directory, encoding="utf-8")
        spool.write(json.dumps(name) + "\n")

    def write(self, fileobj):
        with gzip.GzipFile(fileobj=fileobj, mode="wb", mtime=0) as out:
            out.write(b"{")
            for index, gvk in enumerate(sorted(self.files)):
                spool = self.files[gvk]
                spool.seek(0)
                out.write(("%s%s: [" % (", " if index else "", json.dumps(gvk))).encode("utf-8"))
                for count, line in enumerate(spool):
                    out.write(((", " if count else "") + line.rstrip("\n")).encode("utf-8"))
                out.write(b"]")
            out.write(b"}")

    def close(self):
        for spool in self.files.values():
            spool.close()


def read_json_gz(fileobj, what, limits=None):
    """A gzipped JSON side file, refused above limits.side_file_size decompressed."""
    limits = limits or Limits()
    try:
        with gzip.GzipFile(fileobj=fileobj, mode="rb") as f:
            data = f.read(limits.side_file_size + 1)
        if len(data) > limits.side_file_size:
            raise limits.refuse("side_file_size", "%s decompressed" % what)
        return json.loads(data.decode("utf-8"))
    except (OSError, ValueError, EOFError, RecursionError) as e:
        if isinstance(e, LifeboatError):
            raise
        raise ArchiveError("%s is damaged: %s" % (what, "it is nested too deeply" if isinstance(e, RecursionError)
                                                  else e))
