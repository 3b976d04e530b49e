# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""file:///path — backups in a local (or mounted) directory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ApiError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.base import ObjectStore


TMP_PREFIX = ".tmp-"


def _no_retention(retention):
    if retention:
        raise InvalidInputError("object_lock_mode: file:// storage cannot keep objects immutable; use s3:// storage "
                                "on a bucket with Object Lock enabled")


class FileStore(ObjectStore):
    scheme = "file"
    EXAMPLE = "file:///path"

    @classmethod
    def from_url(cls, parsed, url, options):
        if parsed.netloc:
            raise InvalidInputError("storage: write file URLs with three slashes: file:///%s%s" % (
                parsed.netloc, parsed.path))
        for option in ("encryption_mode", "encryption_kms_key_id"):
            if options.get(option):
                raise InvalidInputError("%s: server-side encryption needs s3:// storage, not %s" % (option, url))
        return cls(parsed.path)

    def __init__(self, root):
        if not os.path.isabs(root):
            raise InvalidInputError("storage: file:// URLs need an absolute path, got %r" % root)
        self.root = os.path.normpath(root)
        self.url = "file://" + self.root

    def _path(self, key):
        path = os.path.normpath(os.path.join(self.root, key))
        if not path.startswith(self.root + os.sep):
            raise InvalidInputError("object key %r leaves the storage location" % key)
        return path

    def _write(self, key, writer, if_absent=False):
        # Write to a temporary file in the same directory, then rename: readers
        # never see half an object. link() instead of rename() creates only if absent.
        path = self._path(key)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=TMP_PREFIX)
        except OSError as e:
            raise self._os_error("write", key, e)
        try:
            with os.fdopen(fd, "wb") as out:
                writer(out)
            if if_absent:
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    raise ConflictError("%s/%s already exists" % (self.url, key))
                finally:
                    os.unlink(tmp)
            else:
                os.rename(tmp, path)
        except BaseException as e:
            if os.path.exists(tmp):
                os.unlink(tmp)
            if isinstance(e, OSError):
                raise self._os_error("write", key, e)
            raise

    def put_file(self, key, path, retention=None):
        _no_retention(retention)

        def copy(out):
            with open(path, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
        self._write(key, copy)

    def put_bytes(self, key, data, if_absent=False, retention=None):
        _no_retention(retention)
        self._write(key, lambda out: out.write(data), if_absent)

    def get_file(self, key, path):
        try:
            shutil.copyfile(self._path(key), path)
        except FileNotFoundError:
            raise NotFoundError("%s/%s does not exist" % (self.url, key))
        except OSError as e:
            raise self._os_error("read", key, e)

    def get_bytes(self, key, max_bytes=None):
        try:
            with open(self._path(key), "rb") as f:
                return f.read(-1 if max_bytes is None else max_bytes + 1)
        except FileNotFoundError:
            raise NotFoundError("%s/%s does not exist" % (self.url, key))
        except OSError as e:
            raise self._os_error("read", key, e)

    def exists(self, key):
        return os.path.isfile(self._path(key))

    def _os_error(self, what, key, error):
        return ApiError("storage: cannot %s %s/%s: %s" % (what, self.url, key, error.strerror or error))

    def _walk(self, prefix):
        """(directory, files) under prefix; a missing prefix is empty, an unreadable one an error (os.walk
        would skip it silently, and a backup would look empty)."""
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if not os.path.lexists(base):
            return

        def fail(error):
            raise self._os_error("list", os.path.relpath(error.filename or base, self.root), error)
        for directory, _dirs, files in os.walk(base, onerror=fail):
            yield directory, files

    def list_prefixes(self, prefix):
        directory = self._path(prefix.rstrip("/") or ".") if prefix.strip("/") else self.root
        try:
            return sorted(e.name for e in os.scandir(directory) if e.is_dir())
        except FileNotFoundError:
            return []
        except OSError as e:
            raise self._os_error("list", prefix, e)

    def list_objects(self, prefix):
        keys = []
        for directory, files in self._walk(prefix):
            for name in files:
                if not name.startswith(TMP_PREFIX):
                    keys.append(os.path.relpath(os.path.join(directory, name), self.root).replace(os.sep, "/"))
        return sorted(keys)

    def delete(self, key):
        path = self._path(key)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        except OSError as e:
            raise self._os_error("delete", key, e)
        # Remove directories the delete emptied, up to the root.
        directory = os.path.dirname(path)
        while directory != self.root:
            try:
                os.rmdir(directory)
            except OSError:
                break
            directory = os.path.dirname(directory)
        return True

    def clean_partial(self, prefix):
        removed = 0
        for directory, files in self._walk(prefix):
            for name in files:
                if name.startswith(TMP_PREFIX):
                    path = os.path.join(directory, name)
                    try:
                        os.unlink(path)
                    except OSError as e:
                        raise self._os_error("delete", os.path.relpath(path, self.root), e)
                    removed += 1
        return removed
