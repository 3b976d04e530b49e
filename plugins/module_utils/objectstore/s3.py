# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""s3://bucket/prefix — backups in any S3 endpoint (AWS, SeaweedFS, MinIO, ...)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ApiError,
    InvalidInputError,
    MissingLibraryError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.base import ObjectStore

try:
    import boto3
    import botocore.exceptions
    from boto3.s3.transfer import TransferConfig

    BOTO3_IMPORT_ERROR = None
except ImportError as e:
    BOTO3_IMPORT_ERROR = e

# Multipart above 16 MiB, in 16 MiB parts, 4 at a time: bounded memory for any size.
TRANSFER = dict(multipart_threshold=16 << 20, multipart_chunksize=16 << 20, max_concurrency=4)
NOT_FOUND = ("404", "NoSuchKey", "NotFound")


class S3Store(ObjectStore):
    def __init__(self, bucket, prefix, options):
        if BOTO3_IMPORT_ERROR is not None:
            raise MissingLibraryError("boto3>=1.35", BOTO3_IMPORT_ERROR)
        if not bucket:
            raise InvalidInputError("storage: s3:// URLs need a bucket, e.g. s3://backups/lifeboat")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = "s3://%s/%s" % (bucket, self.prefix) if self.prefix else "s3://" + bucket
        session = boto3.session.Session(
            aws_access_key_id=options.get("access_key"), aws_secret_access_key=options.get("secret_key"),
            aws_session_token=options.get("session_token"), profile_name=options.get("profile"),
            region_name=options.get("region"))
        verify = options.get("validate_certs", True)
        if verify and options.get("aws_ca_bundle"):
            verify = options["aws_ca_bundle"]
        self.client = session.client("s3", endpoint_url=options.get("endpoint_url"), verify=verify,
                                     config=botocore.config.Config(retries={"max_attempts": 8, "mode": "adaptive"},
                                                                   max_pool_connections=16))
        self.transfer = TransferConfig(**TRANSFER)

    def _key(self, key):
        return "%s/%s" % (self.prefix, key) if self.prefix else key

    def _call(self, what, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except botocore.exceptions.ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in NOT_FOUND:
                raise NotFoundError("%s: %s/%s does not exist" % (what, self.url, args[0] if args else ""))
            if code == "NoSuchBucket":
                raise NotFoundError("storage: bucket %r does not exist" % self.bucket)
            raise ApiError("S3 %s failed: %s: %s" % (what, code, e.response.get("Error", {}).get("Message", e)))
        except botocore.exceptions.BotoCoreError as e:
            raise ApiError("S3 %s failed: %s" % (what, e))

    def put_file(self, key, path):
        self._call("upload", self.client.upload_file, path, self.bucket, self._key(key), Config=self.transfer)

    def put_bytes(self, key, data):
        self._call("upload", self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data)

    def get_file(self, key, path):
        self._head(key)  # a clear NotFoundError instead of a bare 404 from the transfer manager
        self._call("download", self.client.download_file, self.bucket, self._key(key), path, Config=self.transfer)

    def get_bytes(self, key):
        buf = io.BytesIO()
        self._head(key)
        self._call("download", self.client.download_fileobj, self.bucket, self._key(key), buf)
        return buf.getvalue()

    def _head(self, key):
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except botocore.exceptions.ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in NOT_FOUND:
                raise NotFoundError("%s/%s does not exist" % (self.url, key))
            if code == "NoSuchBucket":
                raise NotFoundError("storage: bucket %r does not exist" % self.bucket)
            raise ApiError("S3 head %s failed: %s" % (key, code))
        except botocore.exceptions.BotoCoreError as e:
            raise ApiError("cannot reach S3 at %s: %s" % (self.client.meta.endpoint_url, e))

    def exists(self, key):
        try:
            self._head(key)
            return True
        except NotFoundError:
            return False

    def size(self, key):
        return self._head(key)["ContentLength"]

    def _pages(self, prefix, **kwargs):
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            yield from paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix), **kwargs)
        except botocore.exceptions.ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code == "NoSuchBucket":
                raise NotFoundError("storage: bucket %r does not exist" % self.bucket)
            raise ApiError("S3 list failed: %s" % code)
        except botocore.exceptions.BotoCoreError as e:
            raise ApiError("cannot reach S3 at %s: %s" % (self.client.meta.endpoint_url, e))

    def list_prefixes(self, prefix):
        full = self._key(prefix)
        names = []
        for page in self._pages(prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes") or []:
                names.append(common["Prefix"][len(full):].strip("/"))
        return sorted(names)

    def list_objects(self, prefix):
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys = []
        for page in self._pages(prefix):
            keys.extend(obj["Key"][strip:] for obj in page.get("Contents") or [])
        return sorted(keys)

    def delete(self, key):
        existed = self.exists(key)
        self._call("delete", self.client.delete_object, Bucket=self.bucket, Key=self._key(key))
        return existed

    def signed_url(self, key, expires_in=3600):
        return self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": self._key(key)},
                                                  ExpiresIn=expires_in)
