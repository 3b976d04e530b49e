"""Hostile backups: whoever can write the bucket must not own the cluster or the controller.

Each backup here is forged by the test from a real one (its tar.gz rewritten with tarfile, its
manifest's checksums made to match), then restored. A refusal must come before any file is
written outside the run's temp dir and before any change to the cluster: the oracles are the
filesystem and kubectl, not the module's result.
"""

import base64
import copy
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile

import pytest
from pyrage import x25519

from helpers import (
    NEEDS_BED,
    app_objects,
    create_namespace_with,
    delete_namespaces,
    kubectl,
    kubectl_json,
    run_module,
    s3_args,
    s3_client,
    unique,
)

pytestmark = NEEDS_BED
SECRET_VALUE = "hostile-suite-secret-value-42"
PVC = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
       "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}}


def exists(*args):
    return kubectl(*(["get"] + list(args) + ["--ignore-not-found", "-o", "name"])).strip() != ""


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    """A source namespace with a PVC and its snapshot, a victim namespace with its own snapshot,
    and one real backup of the source in a file:// store."""
    src, victim = unique("hostile-src"), unique("hostile-victim")
    objects = app_objects() + [copy.deepcopy(PVC)]
    objects[2]["stringData"]["password"] = SECRET_VALUE
    create_namespace_with(src, objects)
    create_namespace_with(victim, [copy.deepcopy(PVC)])
    snaps = {}
    for ns in (src, victim):
        result = run_module("volume_snapshot", {"name": "snap", "namespace": ns, "pvc": "data"})
        assert not result.get("failed"), result
        snaps[ns] = result["snapshot"]
    root = str(tmp_path_factory.mktemp("hostile-store"))
    result = run_module("object_backup", {"name": "good", "namespaces": [src], "storage": "file://" + root,
                                          "volume_snapshots": [snaps[src]]})
    assert result.get("changed"), result
    yield {"src": src, "victim": victim, "root": root, "snaps": snaps}
    for ns in (src, victim):
        run_module("volume_snapshot", {"name": "snap", "namespace": ns, "pvc": "data", "state": "absent"})
    delete_namespaces(src, victim)


def backup_dir(root, name):
    return os.path.join(root, "backups", name)


def read_archive(root, name="good"):
    with tarfile.open(os.path.join(backup_dir(root, name), name + ".tar.gz")) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile()]


def forge(bed, name, entries=None, records=None, manifest_change=None, raw_files=None):
    """A new backup `name` from the good one: other archive entries, snapshot records or
    manifest fields, with every checksum in the manifest matching."""
    source, target = backup_dir(bed["root"], "good"), backup_dir(bed["root"], name)
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    files = {}
    entries = read_archive(bed["root"]) if entries is None else entries
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for entry_name, data in entries:
            info = tarfile.TarInfo(entry_name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    files[name + ".tar.gz"] = buffer.getvalue()
    with open(os.path.join(source, "good-resource-list.json.gz"), "rb") as f:
        files[name + "-resource-list.json.gz"] = f.read()
    if records is None:
        with open(os.path.join(source, "good-volumesnapshots.json.gz"), "rb") as f:
            files[name + "-volumesnapshots.json.gz"] = f.read()
    else:
        files[name + "-volumesnapshots.json.gz"] = gzip.compress(json.dumps(records).encode())
    files.update(raw_files or {})
    for filename, data in files.items():
        with open(os.path.join(target, filename), "wb") as f:
            f.write(data)
    with open(os.path.join(source, "lifeboat-backup.json")) as f:
        manifest = json.load(f)
    manifest["name"] = name
    manifest["files"] = dict((f, {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)})
                             for f, d in files.items() if f in (name + ".tar.gz", name + "-resource-list.json.gz",
                                                                name + "-volumesnapshots.json.gz"))
    if manifest_change:
        manifest_change(manifest)
    with open(os.path.join(target, "lifeboat-backup.json"), "w") as f:
        json.dump(manifest, f)
    return name


def entry(path, obj):
    return (path, json.dumps(obj).encode())


def undo(bed, name, dst, **store):
    """Remove a restore with the module (it also deletes the cluster-scoped helper snapshot contents
    of restored volumes, which deleting the namespace would leave behind)."""
    args = dict({"storage": "file://" + bed["root"]}, **store)
    result = run_module("object_restore", dict(args, name=name, state="absent", namespace_mapping={bed["src"]: dst}))
    assert not result.get("failed"), result


def restore(bed, name, **extra):
    dst = unique("hostile-dst")
    args = {"name": name, "storage": "file://" + bed["root"], "namespace_mapping": {bed["src"]: dst},
            "wait_timeout": 60}
    args.update(extra)
    return dst, run_module("object_restore", args)


def assert_refused_untouched(bed, name, message, **extra):
    dst, result = restore(bed, name, **extra)
    assert result.get("failed"), result
    assert message in result["msg"], result["msg"]
    assert not exists("namespace", dst), "the refused restore created its target namespace"
    return result


def test_the_good_backup_restores(bed):
    dst, result = restore(bed, "good")
    assert not result.get("failed"), result
    assert exists("secret", "db", "-n", dst)
    undo(bed, "good", dst)


@pytest.mark.parametrize("key", ["/tmp/lifeboat-hostile-abs.tar.gz", "../../../../tmp/lifeboat-hostile-up.tar.gz"])
def test_manifest_file_keys_are_not_paths(bed, key):
    def change(manifest):
        manifest["files"][key] = manifest["files"].pop("abs.tar.gz")
    forge(bed, "abs", manifest_change=change)
    shutil.copy(os.path.join(backup_dir(bed["root"], "abs"), "abs.tar.gz"), os.path.join(backup_dir(bed["root"], "abs"),
                                                                                         os.path.basename(key)))
    assert_refused_untouched(bed, "abs", "must list exactly the files")
    info = run_module("backup_info", {"name": "abs", "storage": "file://" + bed["root"], "verify": True})
    assert info["backups"][0]["phase"] == "Damaged" and "must list exactly the files" in info["backups"][0]["problem"]
    assert not os.path.exists("/tmp/lifeboat-hostile-abs.tar.gz") and not os.path.exists("/tmp/lifeboat-hostile-up.tar.gz")


def test_manifest_naming_another_backup_is_refused(bed):
    forge(bed, "renamed", manifest_change=lambda m: m.update(name="../../../tmp/evil"))
    assert_refused_untouched(bed, "renamed", "its manifest names another backup")


def test_object_whose_namespace_disagrees_with_its_path(bed):
    src = bed["src"]
    evil = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "evil", "namespace": "kube-system"}}
    forge(bed, "ns-mismatch", entries=read_archive(bed["root"]) + [
        entry("resources/configmaps/namespaces/%s/evil.json" % src, evil)])
    assert_refused_untouched(bed, "ns-mismatch", "metadata.namespace 'kube-system' does not match the archive path")
    assert not exists("configmap", "evil", "-n", "kube-system")


def test_objects_outside_the_backups_namespaces(bed):
    evil = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "evil", "namespace": "default"}}
    forge(bed, "other-ns", entries=read_archive(bed["root"]) + [
        entry("resources/configmaps/namespaces/default/evil.json", evil)])
    assert_refused_untouched(bed, "other-ns", "namespace default is not one of the backup's namespaces")
    assert not exists("configmap", "evil", "-n", "default")


def test_kube_system_smuggled_into_the_manifest(bed):
    evil = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "evil", "namespace": "kube-system"}}
    forge(bed, "kube-system", entries=read_archive(bed["root"]) + [
        entry("resources/configmaps/namespaces/kube-system/evil.json", evil)],
        manifest_change=lambda m: m["namespaces"].append("kube-system"))
    assert_refused_untouched(bed, "kube-system", "namespaces: backup kube-system holds namespace kube-system")
    assert not exists("configmap", "evil", "-n", "kube-system")


def test_cluster_admin_binding_and_extra_namespace_are_refused_and_listed(bed):
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": "hostile-admin"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": bed["src"]}]}
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "hostile-extra-ns"}}
    forge(bed, "crb", entries=read_archive(bed["root"]) + [
        entry("resources/clusterrolebindings.rbac.authorization.k8s.io/cluster/hostile-admin.json", binding),
        entry("resources/namespaces/cluster/hostile-extra-ns.json", namespace)])
    dst, result = restore(bed, "crb")
    assert not result.get("failed"), result
    refused = sorted(o["name"] for o in result["refused_objects"])
    assert refused == ["hostile-admin", "hostile-extra-ns"], result["refused_objects"]
    assert any("cluster_resources" in w for w in result["warnings"])
    assert not exists("clusterrolebinding", "hostile-admin")
    assert not exists("namespace", "hostile-extra-ns")
    assert exists("secret", "db", "-n", dst)  # the rest of the backup came back
    undo(bed, "crb", dst)


def test_forged_snapshot_record_pointing_at_another_namespaces_snapshot(bed):
    forged = dict(bed["snaps"][bed["src"]], snapshot_id=bed["snaps"][bed["victim"]]["snapshot_id"])
    forge(bed, "forged-record", records=[forged])
    assert_refused_untouched(bed, "forged-record", "was taken for VolumeSnapshot %s/" % bed["victim"])
    orphan = copy.deepcopy(bed["snaps"][bed["src"]])
    orphan["source"]["pvc"] = "not-backed-up"
    forge(bed, "orphan-record", records=[orphan])
    assert_refused_untouched(bed, "orphan-record", "PVC %s/not-backed-up is not in the backup" % bed["src"])


ZEROS_40M = b"\0" * (40 << 20)


@pytest.mark.parametrize("case, limits, message", [
    ("entry", None, "exceeds limits.entry_size"),
    ("metadata", None, "exceeds limits.entry_size"),
    ("total", {"total_size": "4Mi"}, "exceeds limits.total_size"),
    ("side-file", {"side_file_size": "1Mi"}, "decompressed exceeds limits.side_file_size"),
])
def test_decompression_bombs_are_refused(bed, case, limits, message):
    entries = read_archive(bed["root"])
    records = None
    if case == "entry":
        entries.append(("resources/configmaps/namespaces/%s/bomb.json" % bed["src"], ZEROS_40M))
    elif case == "metadata":
        entries.insert(1, ("metadata/bomb", ZEROS_40M))
    elif case == "total":
        entries += [("resources/configmaps/namespaces/%s/b%d.json" % (bed["src"], i), b" " * (1 << 20) + b"{}")
                    for i in range(6)]
    else:
        records = [{"padding": "x" * (2 << 20)}]
    name = forge(bed, "bomb-" + case, entries=entries, records=records)
    result = assert_refused_untouched(bed, name, message, **({"limits": limits} if limits else {}))
    assert "only for a backup you trust" in result["msg"]


def test_unknown_versions_are_refused(bed):
    forge(bed, "format-99", manifest_change=lambda m: m.update(format=99))
    assert_refused_untouched(bed, "format-99", "is in format 99; this collection reads format 1")
    entries = [(n, b"9.9.9\n" if n == "metadata/version" else d) for n, d in read_archive(bed["root"])]
    forge(bed, "archive-999", entries=entries)
    assert_refused_untouched(bed, "archive-999", "the archive is in format 9.9.9")
    info = run_module("backup_info", {"storage": "file://" + bed["root"]})
    phases = dict((b["name"], b["phase"]) for b in info["backups"])
    assert phases["format-99"] == "Damaged" and phases["good"] == "Completed"


def test_encrypted_backup_round_trips_and_stores_no_secret_in_clear(bed):
    identity = x25519.Identity.generate()
    store = s3_args(prefix=unique("hostile-age"))
    name = "sealed"
    backup = run_module("object_backup", dict(store, name=name, namespaces=[bed["src"]],
                                              encryption_recipients=[str(identity.to_public())]))
    assert backup.get("changed") and backup["backup"]["encrypted"], backup
    bucket, prefix = store["storage"][len("s3://"):].split("/", 1)
    client = s3_client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    assert sorted(k.rsplit("/", 1)[1] for k in keys) == sorted([
        "lifeboat-backup.json", name + ".tar.gz.age", name + "-resource-list.json.gz.age",
        name + "-volumesnapshots.json.gz.age"])
    for key in keys:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        for needle in (SECRET_VALUE.encode(), SECRET_VALUE.encode().hex().encode(),
                       base64.b64encode(SECRET_VALUE.encode())):
            assert needle not in body, key
        if key.endswith(".age"):
            assert body.startswith(b"age-encryption.org/v1")
    info = run_module("backup_info", dict(store, name=name, verify=True))
    assert info["backups"][0]["encrypted"] and info["backups"][0]["verified"], info
    dst = unique("hostile-dst")
    args = dict(store, name=name, namespace_mapping={bed["src"]: dst}, wait_timeout=60)
    refused = run_module("object_restore", args)
    assert refused.get("failed") and refused["msg"].startswith("encryption_key: the backup is encrypted"), refused
    wrong = run_module("object_restore", dict(args, encryption_key=str(x25519.Identity.generate())))
    assert wrong.get("failed") and "none of the given keys can decrypt" in wrong["msg"], wrong
    assert not exists("namespace", dst)
    restored = run_module("object_restore", dict(args, encryption_key=str(identity)))
    assert not restored.get("failed"), restored
    secret = kubectl_json("get", "secret", "db", "-n", dst)
    assert base64.b64decode(secret["data"]["password"]).decode() == SECRET_VALUE
    assert str(identity) not in json.dumps(restored)
    undo(bed, name, dst, **store)


def test_signed_backup_with_one_changed_byte_is_refused(bed):
    key = "a-signing-key-of-the-hostile-suite-0123456789"
    root = bed["root"]
    result = run_module("object_backup", {"name": "signed", "namespaces": [bed["src"]], "storage": "file://" + root,
                                          "signing_key": key})
    assert result["backup"]["signed"], result
    again = run_module("object_backup", {"name": "signed", "namespaces": [bed["src"]], "storage": "file://" + root,
                                         "signing_key": key})
    assert again.get("changed") is False, again
    other = run_module("object_backup", {"name": "signed", "namespaces": [bed["src"]], "storage": "file://" + root,
                                         "signing_key": key[::-1]})
    assert other.get("failed") and "signature does not match" in other["msg"], other
    path = os.path.join(backup_dir(root, "signed"), "lifeboat-backup.json")
    original = open(path, "rb").read()
    changed = original.replace(b'"total_items": ', b'"total_items": 1', 1)
    assert changed != original
    with open(path, "wb") as f:
        f.write(changed)
    dst, refused = restore(bed, "signed", signing_key=key)
    assert refused.get("failed") and "signing_key: backup signed's signature does not match" in refused["msg"], refused
    assert not exists("namespace", dst)
    info = run_module("backup_info", {"name": "signed", "storage": "file://" + root, "signing_key": key})
    assert info["backups"][0]["signature_valid"] is False
    with open(path, "wb") as f:
        f.write(original)
    dst, restored = restore(bed, "signed", signing_key=key)
    assert not restored.get("failed"), restored
    unsigned_dst, unsigned = restore(bed, "good", signing_key=key)
    assert unsigned.get("failed") and "backup good is not signed" in unsigned["msg"]
    assert not exists("namespace", unsigned_dst)
    undo(bed, "signed", dst)


def test_object_lock_keeps_the_backup_until_it_expires(bed):
    client = s3_client()
    bucket = unique("lifeboat-locked")
    client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    store = dict(s3_args(), storage="s3://%s/lifeboat" % bucket)
    args = dict(store, name="locked", namespaces=[bed["src"]], ttl="1h", object_lock_mode="GOVERNANCE",
                encryption_mode="AES256")
    result = run_module("object_backup", args)
    assert result.get("changed"), result
    head = client.head_object(Bucket=bucket, Key="lifeboat/backups/locked/locked.tar.gz")
    assert head["ObjectLockMode"] == "GOVERNANCE" and head["ServerSideEncryption"] == "AES256"
    deleted = run_module("object_backup", dict(store, name="locked", state="absent"))
    assert deleted.get("failed") and deleted["msg"].startswith("state: backup locked is under S3 Object Lock "
                                                               "(GOVERNANCE) until"), deleted
    assert client.head_object(Bucket=bucket, Key="lifeboat/backups/locked/lifeboat-backup.json")
    no_ttl = run_module("object_backup", dict(args, name="no-ttl", ttl=None))
    assert no_ttl.get("failed") and no_ttl["msg"].startswith("object_lock_mode: needs ttl"), no_ttl
    unlocked = run_module("object_backup", dict(args, name="unlocked", storage=s3_args()["storage"]))
    assert unlocked.get("failed") and "does not have Object Lock enabled" in unlocked["msg"], unlocked
