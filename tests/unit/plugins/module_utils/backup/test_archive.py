"""The archive format: round trip, layout, refusal of unsafe entries, limits and versions."""

import gzip
import io
import tarfile

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.format import archive
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError


def read_all(path, limits=None):
    with open(path, "rb") as f:
        return list(archive.read_items(f, limits))


def test_round_trip_in_velero_layout(tmp_path):
    path = str(tmp_path / "b.tar.gz")
    with open(path, "wb") as out:
        writer = archive.ArchiveWriter(out)
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
    assert [(d, ns, n, o["metadata"]["name"]) for d, ns, n, o in read_all(path)] == [
        ("configmaps", "shop", "c", "c"), ("deployments.apps", "shop", "web", "web"),
        ("namespaces", None, "shop", "shop")]


def tar_with(tmp_path, name, data=b"{}", kind=tarfile.REGTYPE, extra=(), pax=None):
    path = str(tmp_path / "evil.tar.gz")
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for entry_name, entry_data in list(extra) + [(name, data)]:
            info = tarfile.TarInfo(entry_name)
            info.type = kind if entry_name == name else tarfile.REGTYPE
            info.size = len(entry_data) if info.type == tarfile.REGTYPE else 0
            if info.type == tarfile.SYMTYPE:
                info.linkname = "/etc/passwd"
            if pax and entry_name == name:
                info.pax_headers = pax
            tar.addfile(info, io.BytesIO(entry_data) if info.type == tarfile.REGTYPE else None)
    return path


@pytest.mark.parametrize("name", [
    "../outside.json", "/etc/cron.d/evil.json", "resources/configmaps/../../../x.json",
    "resources/configmaps/namespaces/shop/../../../../up.json",
])
def test_escaping_entries_are_refused(tmp_path, name):
    with pytest.raises(archive.ArchiveError, match="unsafe"):
        read_all(tar_with(tmp_path, name))


def test_links_are_refused(tmp_path):
    with pytest.raises(archive.ArchiveError, match="link or device"):
        read_all(tar_with(tmp_path, "resources/configmaps/namespaces/shop/c.json", kind=tarfile.SYMTYPE))


def test_entries_outside_the_layout_are_refused(tmp_path):
    with pytest.raises(archive.ArchiveError, match="not part of the backup layout"):
        read_all(tar_with(tmp_path, "scripts/run.sh"))


def test_damaged_archive_is_reported(tmp_path):
    path = tmp_path / "broken.tar.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(archive.ArchiveError, match="damaged"):
        read_all(str(path))


def test_bad_json_and_deep_nesting_are_reported(tmp_path):
    with pytest.raises(archive.ArchiveError, match="damaged"):
        read_all(tar_with(tmp_path, "resources/configmaps/namespaces/shop/c.json", b"{not json"))
    with pytest.raises(archive.ArchiveError, match="nested too deeply"):
        read_all(tar_with(tmp_path, "resources/configmaps/namespaces/shop/c.json", b"[" * 200000))


def test_entry_over_the_limit_is_refused_before_it_is_read(tmp_path):
    path = tar_with(tmp_path, "resources/configmaps/namespaces/shop/c.json", b" " * 5000 + b"{}")
    assert len(read_all(path, archive.Limits(entry_size=6000))) == 1
    with pytest.raises(archive.ArchiveError, match=r"archive entry .*c.json \(5002 bytes\) exceeds "
                                                   r"limits.entry_size \(4096 bytes\)"):
        read_all(path, archive.Limits(entry_size=4096))


def test_metadata_entries_count_against_the_limits_too(tmp_path):
    path = tar_with(tmp_path, "metadata/notes", b"\0" * 50000)
    with pytest.raises(archive.ArchiveError, match="limits.entry_size"):
        read_all(path, archive.Limits(entry_size=4096))


def test_huge_pax_header_is_refused_while_it_is_read(tmp_path):
    # tarfile reads a PAX header whole into memory: the counting reader stops it first.
    path = tar_with(tmp_path, "resources/configmaps/namespaces/shop/c.json", pax={"comment": "x" * (3 << 20)})
    with pytest.raises(archive.ArchiveError, match="an archive entry's header .* exceeds limits.entry_size"):
        read_all(path, archive.Limits(entry_size=1 << 20))


def test_total_size_and_entry_count_limits(tmp_path):
    extra = [("resources/configmaps/namespaces/shop/c%d.json" % i, b"{}" + b" " * 3000) for i in range(5)]
    path = tar_with(tmp_path, "resources/configmaps/namespaces/shop/last.json", extra=extra)
    assert len(read_all(path)) == 6
    with pytest.raises(archive.ArchiveError, match="limits.total_size"):
        read_all(path, archive.Limits(total_size=10000))
    with pytest.raises(archive.ArchiveError, match="the archive's entry count \\(4\\) exceeds limits.entries \\(3\\)"):
        read_all(path, archive.Limits(entries=3))


def test_unknown_archive_version_is_refused(tmp_path):
    path = tar_with(tmp_path, "metadata/version", b"9.9.9\n")
    with pytest.raises(archive.ArchiveError, match="format 9.9.9; this collection reads format 1.x"):
        read_all(path)
    assert read_all(tar_with(tmp_path, "metadata/version", b"1.2.0\n")) == []


def test_limits_option():
    limits = archive.Limits.from_option({"entry_size": "64Mi", "entries": 5, "total_size": None})
    assert (limits.entry_size, limits.entries, limits.total_size) == (64 << 20, 5, 16 << 30)
    for option, message in [({"entry_sise": 1}, "limits: unknown limit 'entry_sise'"),
                            ({"entry_size": "big"}, "limits.entry_size: 'big' is not a Kubernetes quantity"),
                            ({"entries": 0}, "limits.entries: must be more than 0")]:
        with pytest.raises(InvalidInputError, match=message):
            archive.Limits.from_option(option)


def test_json_gz_round_trip_and_limit(tmp_path):
    buffer = io.BytesIO()
    archive.write_json_gz(buffer, [{"a": 1}])
    assert archive.read_json_gz(io.BytesIO(buffer.getvalue()), "x.json.gz") == [{"a": 1}]
    with pytest.raises(archive.ArchiveError, match="bad.json.gz is damaged"):
        archive.read_json_gz(io.BytesIO(b"nope"), "bad.json.gz")
    bomb = gzip.compress(b"[" + b"0," * 100000 + b"0]")
    with pytest.raises(archive.ArchiveError, match="bomb.json.gz decompressed exceeds limits.side_file_size"):
        archive.read_json_gz(io.BytesIO(bomb), "bomb.json.gz", archive.Limits(side_file_size=1000))


def test_reading_and_writing_keep_no_list_of_members(monkeypatch):
    """tarfile appends every header to TarFile.members, even on a stream: 200,000 of them at 100,000 objects."""
    import io as _io
    from ansible_collections.lifeboat.k8s.plugins.module_utils.format import archive as _archive
    buffer = _io.BytesIO()
    writer = _archive.ArchiveWriter(buffer)
    for i in range(50):
        writer.add_item("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": "cm-%d" % i, "namespace": "shop"}})
        assert len(writer.tar.members) <= 1
    writer.close()
    buffer.seek(0)
    seen = []
    original = _archive._read_member

    def spying(tar, member, limits):
        seen.append(len(tar.members))
        return original(tar, member, limits)

    monkeypatch.setattr(_archive, "_read_member", spying)
    items = list(_archive.read_items(buffer))
    assert len(items) == 50 and max(seen) <= 1
