# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The object store interface (Ark's): where backups live.

Keys are relative to the store's prefix and always use '/'. Uploads and
downloads stream between local files and the store; nothing holds a whole
object in memory.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ObjectStore:
    url: str = ""

    supports_retention = False

    def put_file(self, key, path, retention=None):
        """Upload a local file (multipart for large ones). retention: (mode, until) where the store
        can keep the object immutable until then (S3 Object Lock: GOVERNANCE or COMPLIANCE)."""
        raise NotImplementedError

    def put_bytes(self, key, data, if_absent=False, retention=None):
        """Upload a small object. With if_absent, only if the key does not exist yet (an atomic
        create: S3 If-None-Match, O_EXCL-like link for files); ConflictError if it does."""
        raise NotImplementedError

    def object_lock_problem(self):
        """Why this store cannot keep objects immutable, or None."""
        return "%s cannot keep objects immutable; use s3:// storage on a bucket with Object Lock" % self.url

    def retention(self, key):
        """(mode, until) if the object is kept immutable, else None."""
        return None

    def get_file(self, key, path):
        """Download into a local file; NotFoundError if missing."""
        raise NotImplementedError

    def get_bytes(self, key, max_bytes=None):
        """A small object's content; NotFoundError if missing. With max_bytes, at most
        max_bytes + 1 bytes are read (storage may hold anything under any key)."""
        raise NotImplementedError

    def exists(self, key):
        raise NotImplementedError

    def list_prefixes(self, prefix):
        """The 'directories' directly under prefix (which ends with '/'), without it."""
        raise NotImplementedError

    def list_objects(self, prefix):
        """Every key under prefix."""
        raise NotImplementedError

    def delete(self, key):
        """Idempotent."""
        raise NotImplementedError

    def clean_partial(self, prefix):
        """Remove what interrupted writes left under prefix (temporary files, unfinished
        multipart uploads); return how many. Only for prefixes the caller owns."""
        raise NotImplementedError
