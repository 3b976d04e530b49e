"""Private work directories and the one-writer lock, against the real file store."""

import json
import os
import stat
import subprocess
import sys

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.backup import lock as lock_module
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.lock import LOCK_FILE, BackupLock, is_stale
from ansible_collections.lifeboat.k8s.plugins.module_utils.common import workdir
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import ConflictError
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.file import FileStore


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_workdir_is_private_and_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(workdir.tempfile, "tempdir", str(tmp_path))
    with workdir.PrivateWorkdir("backup") as path:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
        open(os.path.join(path, "secret"), "w").close()
    assert not os.path.exists(path)


def test_workdir_of_a_dead_run_is_swept(tmp_path, monkeypatch):
    monkeypatch.setattr(workdir.tempfile, "tempdir", str(tmp_path))
    dead = tmp_path / "lifeboat-backup-killed"
    dead.mkdir()
    (dead / workdir.OWNER_FILE).write_text(json.dumps(dict(workdir.me(), pid=dead_pid())))
    alive = tmp_path / "lifeboat-backup-running"
    alive.mkdir()
    (alive / workdir.OWNER_FILE).write_text(json.dumps(workdir.me()))
    unrelated = tmp_path / "other-dir"
    unrelated.mkdir()
    assert workdir.sweep_stale(str(tmp_path)) == 1
    assert not dead.exists() and alive.exists() and unrelated.exists()


def test_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    store = FileStore(str(tmp_path))
    with BackupLock(store, "backups/b/", "b"):
        with pytest.raises(ConflictError, match="^name: backup b is being written by another run"):
            BackupLock(store, "backups/b/", "b").acquire()
    assert not store.exists("backups/b/" + LOCK_FILE)


def test_lock_of_a_dead_process_is_taken_over(tmp_path):
    store = FileStore(str(tmp_path))
    stale = BackupLock(store, "backups/b/", "b")
    body = dict(stale._body(), pid=dead_pid())
    store.put_bytes("backups/b/" + LOCK_FILE, json.dumps(body).encode())
    assert is_stale(body)
    with BackupLock(store, "backups/b/", "b") as taker:
        assert taker.took_over["run"] == stale.run
        taker.check()


def test_expired_lease_is_stale_and_a_live_one_is_not(tmp_path):
    body = BackupLock(FileStore(str(tmp_path)), "backups/b/", "b")._body()
    assert not is_stale(body)
    assert is_stale(dict(body, expires_at="2000-01-01T00:00:00Z"))
    assert is_stale(dict(body, host="elsewhere", expires_at="2000-01-01T00:00:00Z"))
    assert not is_stale(dict(body, host="elsewhere", pid=1))


def test_a_run_that_lost_its_lock_cannot_commit(tmp_path):
    store = FileStore(str(tmp_path))
    mine = BackupLock(store, "backups/b/", "b").acquire()
    store.put_bytes("backups/b/" + LOCK_FILE, json.dumps(dict(mine._body(), run="someone-else")).encode())
    with pytest.raises(ConflictError, match="lost its lock"):
        mine.check()
    mine.release()
    assert store.exists("backups/b/" + LOCK_FILE)  # not ours: left for its holder


def test_conditional_put_and_partial_cleanup(tmp_path):
    store = FileStore(str(tmp_path))
    store.put_bytes("backups/b/m.json", b"1", if_absent=True)
    with pytest.raises(ConflictError):
        store.put_bytes("backups/b/m.json", b"2", if_absent=True)
    assert store.get_bytes("backups/b/m.json") == b"1"
    (tmp_path / "backups" / "b" / ".tmp-abc").write_bytes(b"half")
    assert store.list_objects("backups/b/") == ["backups/b/m.json"]
    assert store.clean_partial("backups/b/") == 1
    assert os.listdir(tmp_path / "backups" / "b") == ["m.json"]


def test_lease_constants_make_sense():
    assert lock_module.RENEW_SECONDS * 3 < lock_module.LEASE_SECONDS
