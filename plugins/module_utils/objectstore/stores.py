# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Open an object store from a storage URL."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from urllib.parse import urlparse

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.file import FileStore
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.s3 import S3Store

DEFAULT_STORAGE = "file:///var/backups/lifeboat"


def open_store(url, options=None):
    """file:///path or s3://bucket/prefix; options are the S3 connection options."""
    parsed = urlparse(url or DEFAULT_STORAGE)
    if parsed.scheme == "file":
        if parsed.netloc:
            raise InvalidInputError("storage: write file URLs with three slashes: file:///%s%s" % (
                parsed.netloc, parsed.path))
        for option in ("encryption_mode", "encryption_kms_key_id"):
            if (options or {}).get(option):
                raise InvalidInputError("%s: server-side encryption needs s3:// storage, not %s" % (option, url))
        return FileStore(parsed.path)
    if parsed.scheme == "s3":
        return S3Store(parsed.netloc, parsed.path, options or {})
    raise InvalidInputError("storage: %r is not a storage URL; use file:///path or s3://bucket/prefix" % url)
