# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""s3://bucket/prefix — backups in any S3 endpoint (AWS, SeaweedFS, MinIO, ...)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
from typing import List

try:
    import boto3
    import botocore.exceptions
    from boto3.s3.transfer import TransferConfig, create_transfer_manager
    from s3transfer.subscribers import BaseSubscriber

    BOTO3_IMPORT_ERROR = None
except ImportError as e:
    BaseSubscriber = object  # boto3 is missing: said when a store is opened
    BOTO3_IMPORT_ERROR = e

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ApiError,
    ConflictError,
    InvalidInputError,
    MissingLibraryError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.base import ObjectStore

# Multipart above 16 MiB, in 16 MiB parts, 4 at a time: bounded memory for any size.
TRANSFER = dict(multipart_threshold=16 << 20, multipart_chunksize=16 << 20, max_concurrency=4)
NOT_FOUND = ("404", "NoSuchKey", "NotFound")
EXISTS = ("PreconditionFailed", "412", "ConditionalRequestConflict")
CREDENTIALS = {
    "InvalidAccessKeyId": "access_key: the S3 server does not know this access key",
    "SignatureDoesNotMatch": "secret_key: the S3 server refused the signature; the secret key does not match "
                             "the access key",
    "AccessDenied": "access_key: these credentials may not do this on the bucket (AccessDenied)",
    "InvalidToken": "session_token: the S3 server refused the session token",
    "ExpiredToken": "session_token: the session token has expired",
}
DEFAULT_TIMEOUT = 600


class _Done(BaseSubscriber):
    """Told by s3transfer when a transfer is done, whether it succeeded or not."""

    def __init__(self):
        self.finished = threading.Event()

    def on_done(self, future, **kwargs):
        self.finished.set()


class S3Store(ObjectStore):
    scheme = "s3"
    EXAMPLE = "s3://bucket/prefix"

    @classmethod
    def from_url(cls, parsed, url, options):
        return cls(parsed.netloc, parsed.path, options)

    def __init__(self, bucket, prefix, options):
        if BOTO3_IMPORT_ERROR is not None:
            raise MissingLibraryError("boto3>=1.35", BOTO3_IMPORT_ERROR)
        if not bucket:
            raise InvalidInputError("storage: s3:// URLs need a bucket, e.g. s3://backups/lifeboat")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = "s3://%s/%s" % (bucket, self.prefix) if self.prefix else "s3://" + bucket
        if options.get("profile") and (options.get("access_key") or options.get("secret_key")):
            raise InvalidInputError("profile: give either profile or access_key/secret_key, not both")
        # A stalled server must fail the task, not hang it: per-attempt timeouts, few attempts, and a
        # deadline on every transfer (timeout).
        self.timeout = DEFAULT_TIMEOUT if options.get("timeout") is None else options["timeout"]
        if self.timeout <= 0:
            raise InvalidInputError("storage_timeout: must be more than 0 seconds, got %s" % self.timeout)
        config = botocore.config.Config(connect_timeout=10, read_timeout=min(60, self.timeout),
                                        retries={"total_max_attempts": 4, "mode": "standard"},
                                        max_pool_connections=16)
        try:
            session = boto3.session.Session(
                aws_access_key_id=options.get("access_key"), aws_secret_access_key=options.get("secret_key"),
                aws_session_token=options.get("session_token"), profile_name=options.get("profile"),
                region_name=options.get("region"))
            verify = options.get("validate_certs", True)
            if verify and options.get("aws_ca_bundle"):
                verify = options["aws_ca_bundle"]
            self.client = session.client("s3", endpoint_url=options.get("endpoint_url"), verify=verify, config=config)
        except botocore.exceptions.ProfileNotFound as e:
            raise InvalidInputError("profile: %s" % e)
        except ValueError as e:
            raise InvalidInputError("endpoint_url: %r is not usable: %s" % (options.get("endpoint_url"), e))
        except botocore.exceptions.BotoCoreError as e:
            raise InvalidInputError("storage: cannot set up the S3 client: %s" % e)
        self.transfer = TransferConfig(**TRANSFER)
        self.encryption = {}
        if options.get("encryption_kms_key_id") and options.get("encryption_mode") != "aws:kms":
            raise InvalidInputError("encryption_kms_key_id: needs encryption_mode: aws:kms")
        if options.get("encryption_mode"):
            self.encryption["ServerSideEncryption"] = options["encryption_mode"]
        if options.get("encryption_kms_key_id"):
            self.encryption["SSEKMSKeyId"] = options["encryption_kms_key_id"]

    supports_retention = True

    def _write_args(self, retention):
        extra = dict(self.encryption)
        if retention:
            extra["ObjectLockMode"], extra["ObjectLockRetainUntilDate"] = retention
        return extra

    def _key(self, key):
        return "%s/%s" % (self.prefix, key) if self.prefix else key

    def _error(self, what, key, e):
        """The collection's error for a boto error."""
        if isinstance(e, botocore.exceptions.ClientError):
            error = e.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code in NOT_FOUND:
                return NotFoundError("%s/%s does not exist" % (self.url, key))
            if code == "NoSuchBucket":
                return NotFoundError("storage: bucket %r does not exist" % self.bucket)
            if code in EXISTS:
                return ConflictError("%s/%s already exists" % (self.url, key))
            if code in CREDENTIALS:
                return ApiError("%s (S3 %s of %s: %s)" % (CREDENTIALS[code], what, key, code))
            if code == "403":
                return ApiError("access_key/secret_key: the S3 server refused the %s of %s (403 Forbidden): check "
                                "the credentials and the bucket policy" % (what, key))
            return ApiError("S3 %s of %s failed: %s: %s" % (what, key, code, error.get("Message", e)))
        return ApiError("S3 %s of %s failed (%s): %s" % (what, key, self.client.meta.endpoint_url, e))

    def _call(self, what, key, fn, **kwargs):
        try:
            return fn(**kwargs)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            raise self._error(what, key, e)

    def _transfer(self, what, key, start):
        """Run one managed transfer (multipart, concurrent) and wait for it until the deadline. The wait ends when
        s3transfer says the transfer is done (a small file's upload takes milliseconds: no polling interval)."""
        manager = create_transfer_manager(self.client, self.transfer)
        done = _Done()
        future = None
        try:
            future = start(manager, [done])
            if not done.finished.wait(self.timeout):
                future.cancel()  # s3transfer aborts the multipart upload it started
                raise ApiError("S3 %s of %s did not finish within %ss (storage_timeout): the server at %s is "
                               "not answering" % (what, key, self.timeout, self.client.meta.endpoint_url))
            future.result()
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            raise self._error(what, key, e)
        finally:
            manager.shutdown(cancel=future is not None and not future.done())

    def put_file(self, key, path, retention=None):
        extra = self._write_args(retention)
        self._transfer("upload", key, lambda m, subscribers: m.upload(
            path, self.bucket, self._key(key), extra_args=extra, subscribers=subscribers))

    def put_bytes(self, key, data, if_absent=False, retention=None):
        extra = self._write_args(retention)
        if if_absent:
            extra["IfNoneMatch"] = "*"
        self._call("upload", key, self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data, **extra)

    def object_lock_problem(self):
        """Why objects cannot be locked in this bucket, or None (also None if we may not ask)."""
        try:
            found = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except botocore.exceptions.ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            if code in ("AccessDenied", "403"):
                return None
            if code in ("ObjectLockConfigurationNotFoundError", "InvalidRequest", "404"):
                return "bucket %s does not have Object Lock enabled (it can only be enabled when the bucket is " \
                       "created, with versioning)" % self.bucket
            raise self._error("read of the Object Lock configuration", self.bucket, e)
        except botocore.exceptions.BotoCoreError as e:
            raise self._error("read of the Object Lock configuration", self.bucket, e)
        if (found.get("ObjectLockConfiguration") or {}).get("ObjectLockEnabled") != "Enabled":
            return "bucket %s does not have Object Lock enabled" % self.bucket
        return None

    def retention(self, key):
        try:
            found = self.client.get_object_retention(Bucket=self.bucket, Key=self._key(key)).get("Retention") or {}
        except botocore.exceptions.ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            if code in ("InvalidRequest", "NoSuchObjectLockConfiguration", "ObjectLockConfigurationNotFoundError") \
                    or code in NOT_FOUND:
                return None  # a bucket without Object Lock, an object without retention, or gone
            raise self._error("read of the retention", key, e)
        except botocore.exceptions.BotoCoreError as e:
            raise self._error("read of the retention", key, e)
        if not found.get("RetainUntilDate"):
            return None
        return found.get("Mode"), found["RetainUntilDate"]

    def get_file(self, key, path):
        self._head(key)  # a clear NotFoundError instead of a bare 404 from the transfer manager
        self._transfer("download", key, lambda m, subscribers: m.download(
            self.bucket, self._key(key), path, subscribers=subscribers))

    def get_bytes(self, key, max_bytes=None):
        extra = {"Range": "bytes=0-%d" % max_bytes} if max_bytes is not None else {}
        response = self._call("download", key, self.client.get_object, Bucket=self.bucket, Key=self._key(key),
                              **extra)
        try:
            return response["Body"].read() if max_bytes is None else response["Body"].read(max_bytes + 1)
        except (botocore.exceptions.BotoCoreError, OSError) as e:
            raise ApiError("S3 download of %s failed: %s" % (key, e))

    def _head(self, key):
        return self._call("head", key, self.client.head_object, Bucket=self.bucket, Key=self._key(key))

    def exists(self, key):
        try:
            self._head(key)
            return True
        except NotFoundError:
            return False

    def _pages(self, prefix, **kwargs):
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            yield from paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix), **kwargs)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            raise self._error("list", prefix, e)

    def list_prefixes(self, prefix):
        full = self._key(prefix)
        names = []
        for page in self._pages(prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes") or []:
                names.append(common["Prefix"][len(full):].strip("/"))
        return sorted(names)

    def list_objects(self, prefix):
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: List[str] = []
        for page in self._pages(prefix):
            keys.extend(obj["Key"][strip:] for obj in page.get("Contents") or [])
        return sorted(keys)

    def delete(self, key):
        existed = self.exists(key)
        self._call("delete", key, self.client.delete_object, Bucket=self.bucket, Key=self._key(key))
        return existed

    def clean_partial(self, prefix):
        aborted = 0
        paginator = self.client.get_paginator("list_multipart_uploads")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for upload in page.get("Uploads") or []:
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"],
                                                       UploadId=upload["UploadId"])
                    aborted += 1
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            raise self._error("cleanup of unfinished uploads", prefix, e)
        return aborted
