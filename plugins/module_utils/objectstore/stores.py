# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The object stores, by URL scheme: the one place that knows the concrete stores."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from urllib.parse import urlparse

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.file import FileStore
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.s3 import S3Store

DEFAULT_STORAGE = "file:///var/backups/lifeboat"
STORES = dict((cls.scheme, cls) for cls in (FileStore, S3Store))


def open_store(url, options=None):
    """The object store of a storage URL (file:///path, s3://bucket/prefix); options are the S3 connection
    options (and server-side encryption, which only S3 has)."""
    parsed = urlparse(url or DEFAULT_STORAGE)
    if parsed.scheme not in STORES:
        raise InvalidInputError("storage: %r is not a storage URL; use %s" % (
            url, " or ".join(cls.EXAMPLE for cls in STORES.values())))
    return STORES[parsed.scheme].from_url(parsed, url, options or {})
