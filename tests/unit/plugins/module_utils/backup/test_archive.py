"""The archive format: round trip, layout, and refusal of unsafe entries."""

import io
import json
import tarfile

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.backup import archive


def test_round_trip_in_velero_layout(tmp_path):
    path = str(tmp_path / "b.tar.gz")
    writer = archive.ArchiveWriter(path)
    writer.add_item("configmaps", {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}})
    writer.add_item("deployments.apps", {"kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}})
    writer.add_item("namespaces", {"kind": "Namespace", "metadata": {"name": "shop"}})
    writer.close()
    with tarfile.open(path) as tar:
        names = tar.getnames()
        version = tar.extractfile("metadata/version").read()
    assert names == ["metadata/version", "resources/configmaps/namespaces/shop/c.json",
                     "resources/deployments.apps/namespaces/shop/web.json", "resources/namespaces/cluster/shop.json"]
    assert version == b"1.1.0\n"
    items = list(archive.read_items(path))
    assert [(d, ns, o["metadata"]["name"]) for d, ns, o in items] == [
        ("configmaps", "shop", "c"), ("deployments.apps", "shop", "web"), ("namespaces", None, "shop")]


def tar_with(tmp_path, name, data=b"{}", kind=tarfile.REGTYPE):
    path = str(tmp_path / "evil.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        if kind == tarfile.SYMTYPE:
            info.linkname = "/etc/passwd"
        tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return path


@pytest.mark.parametrize("name", [
    "../outside.json", "/etc/cron.d/evil.json", "resources/configmaps/../../../x.json",
    "resources/configmaps/namespaces/shop/../../../../up.json",
])
def test_escaping_entries_are_refused(tmp_path, name):
    with pytest.raises(archive.ArchiveError, match="unsafe"):
        list(archive.read_items(tar_with(tmp_path, name)))


def test_links_are_refused(tmp_path):
    with pytest.raises(archive.ArchiveError, match="link or device"):
        list(archive.read_items(tar_with(tmp_path, "resources/configmaps/namespaces/shop/c.json",
                                         kind=tarfile.SYMTYPE)))


def test_entries_outside_the_layout_are_refused(tmp_path):
    with pytest.raises(archive.ArchiveError, match="not part of the backup layout"):
        list(archive.read_items(tar_with(tmp_path, "scripts/run.sh")))


def test_damaged_archive_is_reported(tmp_path):
    path = tmp_path / "broken.tar.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(archive.ArchiveError, match="damaged"):
        list(archive.read_items(str(path)))


def test_bad_json_is_reported(tmp_path):
    with pytest.raises(archive.ArchiveError, match="damaged"):
        list(archive.read_items(tar_with(tmp_path, "resources/configmaps/namespaces/shop/c.json", b"{not json")))


def test_json_gz_round_trip(tmp_path):
    path = str(tmp_path / "x.json.gz")
    archive.write_json_gz(path, [{"a": 1}])
    assert archive.read_json_gz(path) == [{"a": 1}]
    (tmp_path / "bad.json.gz").write_bytes(b"nope")
    with pytest.raises(archive.ArchiveError, match="bad.json.gz is damaged"):
        archive.read_json_gz(str(tmp_path / "bad.json.gz"))
    assert json.loads(json.dumps(archive.FORMAT_VERSION)) == "1.1.0"
