"""The file:// object store (pure local I/O) and storage URL parsing."""

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import ApiError, InvalidInputError, NotFoundError
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.file import FileStore
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.stores import open_store


def test_put_get_list_delete(tmp_path):
    store = open_store("file://%s" % tmp_path)
    store.put_bytes("backups/a/manifest.json", b"{}")
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 3000000)
    store.put_file("backups/a/a.tar.gz", str(src))
    store.put_bytes("backups/b/other", b"1")
    assert store.exists("backups/a/manifest.json")
    assert store.get_bytes("backups/a/manifest.json") == b"{}"
    assert sorted(store.list_prefixes("backups/")) == ["a", "b"]
    assert sorted(store.list_objects("backups/a/")) == ["backups/a/a.tar.gz", "backups/a/manifest.json"]
    out = tmp_path / "out.bin"
    store.get_file("backups/a/a.tar.gz", str(out))
    assert out.read_bytes() == src.read_bytes()
    store.delete("backups/a/manifest.json")
    assert not store.exists("backups/a/manifest.json")
    with pytest.raises(NotFoundError):
        store.get_bytes("backups/a/manifest.json")
    assert not list((tmp_path / "backups").rglob(".tmp-*")), "no temporary files are left behind"


def test_keys_cannot_leave_the_location(tmp_path):
    store = open_store("file://%s/store" % tmp_path)
    with pytest.raises(InvalidInputError, match="leaves the storage location"):
        store.put_bytes("../escape", b"x")


@pytest.mark.parametrize("url,message", [
    ("gopher://x", "not a storage URL"),
    ("file://relative/path", "three slashes"),
])
def test_bad_urls_name_the_option(url, message):
    with pytest.raises(InvalidInputError, match="storage: .*" + message):
        open_store(url)


def test_os_errors_name_the_storage_and_what_failed(tmp_path):
    (tmp_path / "afile").write_text("not a directory")
    store = FileStore(str(tmp_path / "afile"))
    for call in (lambda: store.list_prefixes(""), lambda: store.put_bytes("b/x", b"1"),
                 lambda: store.get_bytes("b/x"), lambda: store.get_file("b/x", str(tmp_path / "x"))):
        with pytest.raises(ApiError, match=r"^storage: cannot (list|write|read) file://.*afile.*Not a directory"):
            call()


def test_an_unreadable_listing_fails_instead_of_looking_empty(tmp_path):
    store = FileStore(str(tmp_path))
    (tmp_path / "backup").write_text("a file where a directory should be")
    with pytest.raises(ApiError, match="^storage: cannot list .*Not a directory"):
        store.list_objects("backup/")
    with pytest.raises(ApiError, match="^storage: cannot list"):
        store.clean_partial("backup/")
    assert store.list_objects("missing/") == []
