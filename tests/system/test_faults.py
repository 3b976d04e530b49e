"""Fault injection: what real clusters and object stores do, and what a backup must do then.

Each scenario asserts one of: the run completed correctly after retrying, or it failed
(or is PartiallyFailed) naming the cause — never a backup that looks complete but is not;
a rerun finishes the job; nothing is left behind (temporary directories, partial files,
unfinished multipart uploads, locks). The oracles are kubectl and boto3, not the collection.
"""

import json
import os
import sqlite3
import time
import zlib

import pytest

from faultproxy import HttpFaultProxy, TcpFaultProxy
from helpers import (
    NEEDS_BED,
    app_objects,
    configmaps,
    count,
    create_namespace_with,
    delete_namespaces,
    finish,
    kill_tree,
    run_module,
    s3_args,
    s3_client,
    start_module,
    unique,
    wait_for,
)

pytestmark = NEEDS_BED


@pytest.fixture(scope="module")
def proxy():
    p = HttpFaultProxy(os.environ["LIFEBOAT_APISERVER"], os.environ["LIFEBOAT_PKI"])
    yield p
    p.close()


@pytest.fixture
def faults(proxy, tmp_path):
    """The proxy with no rules, and a kubeconfig that goes through it."""
    proxy.clear()
    path = tmp_path / "kubeconfig-faults"
    path.write_text(json.dumps(proxy.kubeconfig()))
    proxy.kubeconfig_path = str(path)
    yield proxy
    proxy.clear()


@pytest.fixture(scope="module")
def app():
    namespace = unique("faults-app")
    create_namespace_with(namespace, app_objects() + configmaps(40))
    yield namespace
    delete_namespaces(namespace)


@pytest.fixture
def tmpdir_env(tmp_path):
    """The module's TMPDIR, to see exactly what it leaves behind."""
    path = tmp_path / "module-tmp"
    path.mkdir()
    return {"TMPDIR": str(path)}, path


def leftovers(tmp):
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("lifeboat-"))


def store_files(store_dir):
    found = []
    for directory, _dirs, files in os.walk(store_dir):
        found.extend(os.path.relpath(os.path.join(directory, f), store_dir) for f in files)
    return sorted(found)


def backup(faults, store, name, namespace, **extra):
    args = dict(name=name, namespaces=[namespace], storage=store, kubeconfig=faults.kubeconfig_path)
    args.update(extra)
    return args


def info(store, name):
    result = run_module("backup_info", {"name": name, "storage": store, "verify": True})
    assert not result.get("failed"), result
    return result["backups"][0]


# ---------------------------------------------------------------- discovery and LIST

def test_discovery_503_is_retried_and_the_backup_is_complete(faults, app, tmp_path, monkeypatch):
    monkeypatch.setattr(faults, "plain_discovery", True)  # group by group, as before aggregated discovery
    rule = faults.add(r"^/apis/apps/v1$", status=503, count=2)
    store = "file://%s" % (tmp_path / "store")
    result = run_module("object_backup", backup(faults, store, "retried", app))
    assert rule.fired == 2, "the fault never happened"
    assert result["changed"] and result["backup"]["phase"] == "Completed", result
    assert result["api_retries"] >= 2
    assert result["backup"]["counts"]["deployments.apps"] == 1
    assert info(store, "retried")["verified"]


def test_aggregated_discovery_503_is_retried_and_the_backup_is_complete(faults, app, tmp_path):
    rule = faults.add(r"^/apis$", status=503, count=2)
    store = "file://%s" % (tmp_path / "store")
    result = run_module("object_backup", backup(faults, store, "aggregated", app))
    assert rule.fired == 2, "the fault never happened"
    assert result["changed"] and result["backup"]["phase"] == "Completed", result
    assert result["api_retries"] >= 2 and result["backup"]["counts"]["deployments.apps"] == 1


def test_discovery_that_keeps_failing_gives_partially_failed_and_a_rerun_completes(faults, app, tmp_path, tmpdir_env,
                                                                                   monkeypatch):
    env, tmp = tmpdir_env
    monkeypatch.setattr(faults, "plain_discovery", True)  # group by group, as before aggregated discovery
    faults.add(r"^/apis/apps/v1$", status=503, count=None)
    store = "file://%s" % (tmp_path / "store")
    args = backup(faults, store, "partial", app)
    failed = run_module("object_backup", args, env=env)
    assert failed.get("failed"), failed
    assert "PartiallyFailed" in failed["msg"] and "apps/v1" in failed["msg"] and "503" in failed["msg"]
    listed = info(store, "partial")
    assert listed["phase"] == "PartiallyFailed" and listed["complete"] is False
    assert [e["resource"] for e in listed["errors"]] == ["apps/v1"]
    assert "deployments.apps" not in listed["counts"]
    faults.clear()
    rerun = run_module("object_backup", args, env=env)
    assert rerun["changed"] and rerun["backup"]["phase"] == "Completed", rerun
    assert rerun["backup"]["counts"]["deployments.apps"] == 1 and rerun["backup"]["errors"] == []
    again = run_module("object_backup", args, env=env)
    assert again["changed"] is False
    assert leftovers(tmp) == []


def test_forbidden_secrets_are_named_and_allow_partial_accepts_it(faults, app, tmp_path):
    faults.add(r"/namespaces/%s/secrets" % app, method="GET", status=403, count=None)
    store = "file://%s" % (tmp_path / "store")
    failed = run_module("object_backup", backup(faults, store, "no-secrets", app))
    assert failed.get("failed") and "secrets in namespace %s" % app in failed["msg"], failed
    assert "exclude_resources: [secrets]" in failed["msg"]
    allowed = run_module("object_backup", backup(faults, store, "no-secrets-ok", app, allow_partial=True))
    assert not allowed.get("failed") and allowed["backup"]["phase"] == "PartiallyFailed", allowed
    assert any("PartiallyFailed" in w for w in allowed["warnings"])
    excluded = run_module("object_backup", backup(faults, store, "excluded", app, exclude_resources=["secrets"]))
    assert excluded["backup"]["phase"] == "Completed" and "secrets" not in excluded["backup"]["counts"]


def test_resets_and_429_on_list_are_retried(faults, app, tmp_path):
    resets = faults.add(r"/namespaces/%s/configmaps" % app, method="GET", reset=True, count=2)
    throttled = faults.add(r"/namespaces/%s/services" % app, method="GET", status=429,
                           headers={"Retry-After": "1"}, count=2)
    store = "file://%s" % (tmp_path / "store")
    result = run_module("object_backup", backup(faults, store, "resets", app))
    assert resets.fired == 2 and throttled.fired == 2
    assert result["backup"]["phase"] == "Completed", result
    assert result["backup"]["counts"]["configmaps"] == count("configmaps", app)
    assert result["backup"]["counts"]["services"] == 1


# ---------------------------------------------------------------- restore under faults

@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """300 ConfigMaps, backed up once (directly, no faults) for the restore scenarios."""
    namespace = unique("faults-many")
    create_namespace_with(namespace, configmaps(300))
    store = "file://%s" % tmp_path_factory.mktemp("many-store")
    result = run_module("object_backup", {"name": "many", "namespaces": [namespace], "storage": store})
    assert result["backup"]["phase"] == "Completed", result
    yield namespace, store
    delete_namespaces(namespace)


def created(result):
    """(ConfigMaps, Namespaces) a restore created. Not its total: the backup's `default` ServiceAccount is created by
    the restore or by the cluster's controller, whichever comes first (a run counted 302 once, not 301)."""
    counts = result["counts"]
    return counts["configmaps"]["created"], counts["namespaces"]["created"]


def restore(faults, store, source, target, **extra):
    args = dict(name="many", storage=store, namespace_mapping={source: target}, kubeconfig=faults.kubeconfig_path)
    args.update(extra)
    return args


def test_restore_rides_out_a_2s_apiserver_outage(faults, many):
    source, store = many
    target = unique("faults-outage")
    down = faults.add(r"/namespaces/%s/configmaps$" % target, method="POST", skip=60, count=1, outage=2.0)
    try:
        result = run_module("object_restore", restore(faults, store, source, target))
        assert down.fired == 1 and any(what == "down" for _m, _p, what in faults.log), "no outage happened"
        assert not result.get("failed"), result.get("msg")
        assert result["phase"] == "Completed" and result["failures"] == []
        assert created(result) == (300, 1) and result["api_retries"] > 0
        assert count("configmaps", target) == 301  # + kube-root-ca.crt
    finally:
        delete_namespaces(target)


def test_restore_honours_429_on_create(faults, many):
    source, store = many
    target = unique("faults-429")
    throttled = faults.add(r"/namespaces/%s/configmaps$" % target, method="POST", status=429,
                           headers={"Retry-After": "1"}, count=20)
    try:
        result = run_module("object_restore", restore(faults, store, source, target))
        assert throttled.fired == 20
        assert result["phase"] == "Completed" and created(result) == (300, 1), result.get("msg")
    finally:
        delete_namespaces(target)


def test_restore_killed_midway_reruns_without_duplicates(faults, many, tmpdir_env):
    env, tmp = tmpdir_env
    source, store = many
    target = unique("faults-killed")
    faults.add(r"/namespaces/%s/configmaps$" % target, method="POST", delay=0.05, count=None)
    try:
        proc = start_module("object_restore", restore(faults, store, source, target), env=env)
        wait_for(lambda: sum(1 for m, p, _w in list(faults.log) if m == "POST" and target in p) > 80,
                 timeout=120, what="the restore to be midway")
        kill_tree(proc)
        created = count("configmaps", target)
        assert 1 < created < 301, "the kill did not land mid-restore (%d)" % created
        spills = list(tmp.glob("lifeboat-restore-*/restore-objects.sqlite"))
        assert len(spills) == 1, "the killed restore left no spill to look at: %s" % leftovers(tmp)
        assert_unreadable(spills[0])
        faults.clear()
        rerun = run_module("object_restore", restore(faults, store, source, target), env=env)
        assert rerun["phase"] == "Completed" and rerun["failures"] == [], rerun.get("msg")
        assert rerun["totals"]["unchanged"] >= created - 1 and rerun["totals"]["created"] > 0
        assert count("configmaps", target) == 301
        assert leftovers(tmp) == []
    finally:
        delete_namespaces(target)


def assert_unreadable(spill):
    """What a killed restore leaves on disk holds every object, and none can be read without the key that
    died with the process: not as JSON, not as zlib-compressed JSON, with or without a nonce in front."""
    with sqlite3.connect(str(spill)) as db:
        blobs = [row[0] for row in db.execute("SELECT source FROM items UNION ALL SELECT target FROM plans "
                                              "WHERE target IS NOT NULL")]
    assert len(blobs) >= 2 * 300, "the spill holds %d objects and plans" % len(blobs)
    for blob in blobs:
        assert b'"index"' not in blob and b"faults" not in blob
        for candidate in (blob, blob[12:]):
            with pytest.raises((ValueError, zlib.error)):
                json.loads(zlib.decompress(candidate))
            with pytest.raises(ValueError):
                json.loads(candidate)


# ---------------------------------------------------------------- S3 faults

@pytest.fixture(scope="module")
def big():
    """40 ConfigMaps of 700 KiB random data: a ~28 MB archive, a multipart upload."""
    namespace = unique("faults-big")
    create_namespace_with(namespace, configmaps(40, "blob", data_bytes=700 * 1024))
    yield namespace
    delete_namespaces(namespace)


@pytest.fixture
def s3proxy():
    endpoint = os.environ["LIFEBOAT_S3_ENDPOINT"].rsplit(":", 1)
    p = TcpFaultProxy("127.0.0.1", int(endpoint[1]))
    yield p
    p.close()


def unfinished_uploads(prefix):
    listing = s3_client().list_multipart_uploads(Bucket=os.environ["LIFEBOAT_S3_BUCKET"], Prefix=prefix)
    return listing.get("Uploads") or []


@pytest.mark.parametrize("mode", ["stall", "reset"])
def test_s3_failing_mid_upload_fails_in_time_and_the_rerun_completes(big, s3proxy, mode, tmpdir_env):
    env, tmp = tmpdir_env
    prefix = unique("faults-s3")
    args = dict(s3_args(endpoint=s3proxy.url, prefix=prefix), name="big", namespaces=[big], storage_timeout=15)
    s3proxy.set(mode, after=3 << 20)
    started = time.monotonic()
    failed = run_module("object_backup", args, env=env)
    elapsed = time.monotonic() - started
    assert s3proxy.events, "no fault happened"
    assert failed.get("failed"), failed
    assert "S3 upload" in failed["msg"], failed["msg"]
    assert elapsed < 120, "a %s S3 server held the backup for %.0fs" % (mode, elapsed)
    s3proxy.set("pass")
    assert unfinished_uploads(prefix) == []
    listing = s3_client().list_objects_v2(Bucket=os.environ["LIFEBOAT_S3_BUCKET"], Prefix=prefix)
    keys = [o["Key"] for o in listing.get("Contents") or []]
    assert not any(k.endswith("lifeboat-backup.json") for k in keys), "a failed backup committed a manifest"
    # The failed run leaves its lock released: the mark that lets a rerun (and only a rerun) replace its files.
    lock = [k for k in keys if k.endswith("lifeboat-lock.json")]
    assert lock, "the failed run left no mark of what it wrote"
    holder = json.loads(s3_client().get_object(Bucket=os.environ["LIFEBOAT_S3_BUCKET"], Key=lock[0])["Body"].read())
    assert holder["released"] is True
    listed = run_module("backup_info", dict(s3_args(prefix=prefix)))
    assert [b["phase"] for b in listed["backups"]] == ["Incomplete"], "a released lock is not a run in progress"
    rerun = run_module("object_backup", args, env=env)
    assert rerun["changed"] and rerun["backup"]["phase"] == "Completed", rerun.get("msg")
    listing = s3_client().list_objects_v2(Bucket=os.environ["LIFEBOAT_S3_BUCKET"], Prefix=prefix)
    assert not any(o["Key"].endswith("lifeboat-lock.json") for o in listing["Contents"]), "the rerun left its lock"
    listed = run_module("backup_info", dict(s3_args(prefix=prefix), name="big", verify=True))
    assert listed["backups"][0]["verified"]
    assert leftovers(tmp) == []


def test_killed_mid_upload_then_rerun_cleans_up_and_completes(big, s3proxy, tmpdir_env):
    env, tmp = tmpdir_env
    prefix = unique("faults-kill")
    args = dict(s3_args(endpoint=s3proxy.url, prefix=prefix), name="big", namespaces=[big])
    s3proxy.set("stall", after=8 << 20)  # inside a 16 MiB part of the archive's multipart upload
    proc = start_module("object_backup", args, env=env)
    wait_for(lambda: "stalled" in s3proxy.events, timeout=180, what="the upload to stall")
    time.sleep(1)
    kill_tree(proc)
    s3proxy.set("pass")
    assert leftovers(tmp), "expected the killed run's work directory (it had no chance to clean up)"
    assert unfinished_uploads(prefix), "expected the killed run's unfinished multipart upload"
    listed = run_module("backup_info", dict(s3_args(prefix=prefix)))
    assert [b["phase"] for b in listed["backups"]] == ["Incomplete"]  # its lock's holder is dead
    rerun = run_module("object_backup", args, env=env)
    assert rerun["changed"] and rerun["backup"]["phase"] == "Completed" and rerun["replaced_incomplete"], rerun
    assert unfinished_uploads(prefix) == []
    assert leftovers(tmp) == []  # the killed run's plaintext archive is gone too


# ---------------------------------------------------------------- kills and concurrent writers

def test_backup_killed_midway_never_looks_complete_and_the_rerun_finishes(faults, big, tmp_path, tmpdir_env):
    env, tmp = tmpdir_env
    store_dir = tmp_path / "store"
    store = "file://%s" % store_dir
    faults.add(r"/namespaces/%s/configmaps" % big, method="GET", delay=3, count=1)  # a slow LIST: kill lands here
    proc = start_module("object_backup", backup(faults, store, "killed", big), env=env)
    wait_for((store_dir / "backups" / "killed" / "lifeboat-lock.json").exists, what="the lock")
    time.sleep(1)
    kill_tree(proc)
    assert "backups/killed/lifeboat-backup.json" not in store_files(store_dir)
    listed = run_module("backup_info", {"storage": store})
    assert [(b["name"], b["phase"], b["complete"]) for b in listed["backups"]] == [("killed", "Incomplete", False)]
    faults.clear()
    rerun = run_module("object_backup", backup(faults, store, "killed", big), env=env)
    assert rerun["changed"] and rerun["backup"]["phase"] == "Completed", rerun.get("msg")
    assert info(store, "killed")["verified"]
    assert not any(os.path.basename(f).startswith(".tmp-") or f.endswith("lock.json") for f in store_files(store_dir))
    assert leftovers(tmp) == []
    removed = run_module("object_backup", {"name": "killed", "state": "absent", "storage": store})
    assert removed["changed"] and store_files(store_dir) == []


def test_partial_files_of_a_killed_writer_are_removed_by_state_absent(tmp_path):
    store_dir = tmp_path / "store"
    (store_dir / "backups" / "gone").mkdir(parents=True)
    (store_dir / "backups" / "gone" / ".tmp-x1").write_bytes(b"plaintext half archive")
    (store_dir / "backups" / "gone" / "gone.tar.gz").write_bytes(b"half")
    removed = run_module("object_backup", {"name": "gone", "state": "absent", "storage": "file://%s" % store_dir})
    assert removed["changed"] and store_files(store_dir) == []


def test_two_backups_of_one_name_at_once_one_wins_cleanly(faults, app, tmp_path):
    store = "file://%s" % (tmp_path / "store")
    faults.add(r"/namespaces/%s/configmaps" % app, method="GET", delay=4, count=1)  # keep the first one busy
    first = start_module("object_backup", backup(faults, store, "racing", app))
    wait_for((tmp_path / "store" / "backups" / "racing" / "lifeboat-lock.json").exists, what="the lock")
    second = run_module("object_backup", backup(faults, store, "racing", app))
    assert second.get("failed") and "being written by another run" in second["msg"], second
    first_result = finish(first)
    assert first_result["changed"] and first_result["backup"]["phase"] == "Completed", first_result
    listed = info(store, "racing")
    assert listed["verified"] and listed["complete"]
    assert run_module("object_backup", backup(faults, store, "racing", app))["changed"] is False
