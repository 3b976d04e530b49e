"""The ObjectStore contract, run over every store: the file store and the S3 store (moto in process). What the
services rely on: whole-object writes, conditional create, listings, sizes, bounded reads, deletes that say
whether something was there, cleanup of unfinished writes only under the prefix."""

import boto3
import pytest
from moto import mock_aws

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import ConflictError, NotFoundError
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.file import FileStore
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.s3 import S3Store


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path, monkeypatch):
    if request.param == "file":
        yield FileStore(str(tmp_path / "store"))
        return
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="bkt")
        yield S3Store("bkt", "team/prod", {"access_key": "testing", "secret_key": "testing", "region": "us-east-1"})


def test_objects_round_trip_whole(store, tmp_path):
    source = tmp_path / "archive.bin"
    source.write_bytes(b"\x1f\x8b" + b"x" * 100000)
    store.put_file("backups/a/a.tar.gz", str(source))
    store.put_bytes("backups/a/manifest.json", b"{}")
    copy = tmp_path / "copy.bin"
    store.get_file("backups/a/a.tar.gz", str(copy))
    assert copy.read_bytes() == source.read_bytes()
    assert copy.stat().st_size == 100002 and store.exists("backups/a/manifest.json")
    assert store.get_bytes("backups/a/manifest.json") == b"{}"


def test_listings_are_by_prefix_and_sorted(store):
    for key in ("backups/b/m.json", "backups/a/x/deep.json", "backups/a/m.json", "other/z"):
        store.put_bytes(key, b"1")
    assert store.list_prefixes("backups/") == ["a", "b"]
    assert store.list_objects("backups/a/") == ["backups/a/m.json", "backups/a/x/deep.json"]
    assert store.list_objects("missing/") == [] and store.list_prefixes("missing/") == []


def test_conditional_create_and_deletes(store, tmp_path):
    store.put_bytes("backups/a/lock", b"mine", if_absent=True)
    with pytest.raises(ConflictError):
        store.put_bytes("backups/a/lock", b"theirs", if_absent=True)
    assert store.get_bytes("backups/a/lock") == b"mine"
    assert store.delete("backups/a/lock") is True
    assert store.exists("backups/a/lock") is False
    with pytest.raises(NotFoundError):
        store.get_bytes("backups/a/lock")
    with pytest.raises(NotFoundError):
        store.get_file("backups/a/lock", str(tmp_path / "lock"))


def test_bounded_reads_return_at_most_one_byte_more_than_asked(store):
    # One more than max_bytes tells the caller the object is too big, without reading all of it.
    store.put_bytes("backups/a/big", b"y" * 5000)
    assert store.get_bytes("backups/a/big", max_bytes=5000) == b"y" * 5000
    assert store.get_bytes("backups/a/big", max_bytes=100) == b"y" * 101


def test_clean_partial_only_touches_unfinished_writes_under_the_prefix(store):
    store.put_bytes("backups/a/kept", b"1")
    store.clean_partial("backups/a/")
    assert store.list_objects("backups/") == ["backups/a/kept"]
