"""The S3 store against moto's in-process S3: conditional writes, cleanup of unfinished
multipart uploads, and errors that name the option to fix."""

import boto3
import pytest
from moto import mock_aws

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import ConflictError, InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.s3 import S3Store

OPTIONS = {"access_key": "testing", "secret_key": "testing", "region": "us-east-1"}


@pytest.fixture
def store(monkeypatch):
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="bkt")
        yield S3Store("bkt", "prefix", OPTIONS)


def test_conditional_put_refuses_an_existing_key(store):
    store.put_bytes("backups/x/m.json", b"1", if_absent=True)
    with pytest.raises(ConflictError):
        store.put_bytes("backups/x/m.json", b"2", if_absent=True)
    assert store.get_bytes("backups/x/m.json") == b"1"


def test_clean_partial_aborts_unfinished_multipart_uploads(store):
    client = store.client
    client.create_multipart_upload(Bucket="bkt", Key="prefix/backups/x/x.tar.gz")
    client.create_multipart_upload(Bucket="bkt", Key="prefix/backups/other/o.tar.gz")
    assert store.clean_partial("backups/x/") == 1
    left = client.list_multipart_uploads(Bucket="bkt").get("Uploads") or []
    assert [u["Key"] for u in left] == ["prefix/backups/other/o.tar.gz"]


def test_profile_and_keys_together_are_refused():
    with pytest.raises(InvalidInputError, match="^profile: give either profile or access_key"):
        S3Store("b", "", dict(OPTIONS, profile="nightly"))


def test_bad_endpoint_and_timeout_name_their_option():
    with pytest.raises(InvalidInputError, match="^endpoint_url:"):
        S3Store("b", "", dict(OPTIONS, endpoint_url="not a url"))
    with pytest.raises(InvalidInputError, match="^storage_timeout:"):
        S3Store("b", "", dict(OPTIONS, timeout=0))


def test_server_side_encryption_applies_to_every_write(store, tmp_path):
    kms = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
    sealed = S3Store("bkt", "prefix", dict(OPTIONS, encryption_mode="aws:kms", encryption_kms_key_id=kms))
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    sealed.put_file("backups/x/f", str(path))
    sealed.put_bytes("backups/x/m", b"1")
    for key in ("prefix/backups/x/f", "prefix/backups/x/m"):
        head = store.client.head_object(Bucket="bkt", Key=key)
        assert head["ServerSideEncryption"] == "aws:kms" and kms in head["SSEKMSKeyId"]
    with pytest.raises(InvalidInputError, match="^encryption_kms_key_id: needs encryption_mode: aws:kms"):
        S3Store("bkt", "", dict(OPTIONS, encryption_mode="AES256", encryption_kms_key_id=kms))


def test_get_bytes_reads_at_most_what_it_may(store):
    store.put_bytes("backups/x/big", b"y" * 10000)
    assert len(store.get_bytes("backups/x/big", max_bytes=100)) == 101


def test_object_lock_needs_a_bucket_with_object_lock(store):
    # Retention itself is tested on the bed's SeaweedFS (tests/system/test_hostile.py): moto answers
    # GetObjectRetention with 500.
    assert "does not have Object Lock enabled" in store.object_lock_problem()
    store.client.create_bucket(Bucket="locked", ObjectLockEnabledForBucket=True)
    assert S3Store("locked", "", OPTIONS).object_lock_problem() is None
