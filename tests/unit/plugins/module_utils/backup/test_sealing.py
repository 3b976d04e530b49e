"""Encryption (age through pyrage) and signatures (HMAC-SHA256): round trips and refusals."""


import pytest
from pyrage import x25519

from ansible_collections.lifeboat.k8s.plugins.module_utils.format import archive, sealing
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError

SECRET = "kube-secret-value-that-must-not-leak"


def keyfile_text(identity):
    return "# created: 2026-11-23\n# public key: %s\n%s\n" % (identity.to_public(), identity)


def test_encrypted_archive_round_trips_and_holds_no_plaintext(tmp_path):
    identity = x25519.Identity.generate()
    encryption = sealing.Encryption.from_keys(keyfile_text(identity))
    path = str(tmp_path / "b.tar.gz.age")
    with encryption.writer(path) as out:
        writer = archive.ArchiveWriter(out)
        writer.add_item("secrets", {"kind": "Secret", "stringData": {"password": SECRET},
                                    "metadata": {"name": "db", "namespace": "shop"}})
        writer.close()
    data = open(path, "rb").read()
    assert data.startswith(b"age-encryption.org/v1") and SECRET.encode() not in data
    with sealing.open_sealed(path, encryption.describe(), encryption.identities, "b.tar.gz.age") as f:
        items = list(archive.read_items(f))
    assert items[0][3]["stringData"]["password"] == SECRET


def test_wrong_or_missing_key_and_tampering_are_refused(tmp_path):
    encryption = sealing.Encryption.from_keys(None, [str(x25519.Identity.generate().to_public())])
    assert encryption.identities == [] and encryption.enabled
    path = str(tmp_path / "x.age")
    with encryption.writer(path) as out:
        archive.write_json_gz(out, [{"a": 1}] * 1000)
    with pytest.raises(sealing.SealError, match="encryption_key: the backup is encrypted"):
        with sealing.open_sealed(path, encryption.describe(), [], "x.age"):
            pass
    with pytest.raises(sealing.SealError, match="none of the given keys can decrypt x.age"):
        with sealing.open_sealed(path, encryption.describe(), [x25519.Identity.generate()], "x.age") as f:
            archive.read_json_gz(f, "x.age")
    identity = x25519.Identity.generate()
    own = sealing.Encryption.from_keys(str(identity))
    with own.writer(path) as out:
        archive.write_json_gz(out, list(range(50000)))
    data = bytearray(open(path, "rb").read())
    data[-100] ^= 1
    open(path, "wb").write(bytes(data))
    with pytest.raises(sealing.SealError, match="cannot be decrypted"):
        with sealing.open_sealed(path, own.describe(), own.identities, "x.age") as f:
            archive.read_json_gz(f, "x.age")


def test_bad_keys_are_refused_without_echoing_them():
    with pytest.raises(InvalidInputError, match="encryption_key: line 2 is not an age secret key") as caught:
        sealing.Encryption.from_keys("# comment\nAGE-SECRET-KEY-1TYPO")
    assert "TYPO" not in str(caught.value)
    with pytest.raises(InvalidInputError, match="encryption_recipients: 'age1nope' is not an age public key"):
        sealing.Encryption.from_keys(None, ["age1nope"])
    with pytest.raises(InvalidInputError, match="give either encryption_key or encryption_key_file"):
        sealing.read_secret("x", "/x", "encryption_key")


def test_signature_covers_every_field():
    signer = sealing.Signer.from_text("k" * 40)
    manifest = signer.sign({"name": "b", "files": {"b.tar.gz": {"sha256": "0" * 64, "size": 1}}})
    signer.check(manifest)
    changed = dict(manifest, files={"b.tar.gz": {"sha256": "1" + "0" * 63, "size": 1}})
    with pytest.raises(sealing.SealError, match="signature does not match"):
        signer.check(changed)
    with pytest.raises(sealing.SealError, match="it names key .*, this key is"):
        sealing.Signer.from_text("z" * 40).check(manifest)
    unsigned = dict(manifest)
    del unsigned["signature"]
    with pytest.raises(sealing.SealError, match="is not signed"):
        signer.check(unsigned)
    with pytest.raises(InvalidInputError, match="signing_key: must be at least 32 characters"):
        sealing.Signer.from_text("short")


def test_writer_reports_a_failing_pump(tmp_path):
    encryption = sealing.Encryption.from_keys(None, [str(x25519.Identity.generate().to_public())])
    with pytest.raises(Exception):
        with encryption.writer(str(tmp_path / "missing" / "x.age")) as out:
            out.write(b"x")
