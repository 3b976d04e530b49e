# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private temporary directories that never outlive their run.

A backup's archive holds Secrets in clear until it is uploaded, so its work
directory is private (0700) and removed on every exit path. A run killed with
SIGKILL cannot clean up; each directory records its owner process, and the
next run on the host removes those whose owner is gone.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import socket
import tempfile
import time

PREFIX = "lifeboat-"
OWNER_FILE = ".owner.json"
ORPHAN_AGE = 86400  # a directory without an owner record (older versions) is removed after a day


def process_start(pid):
    """The process's start time in clock ticks (Linux), None where /proc has no such record,
    or ZOMBIE for a process that is dead but not yet reaped (containers often never reap them)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return ZOMBIE
    return int(fields[19])


ZOMBIE = -1


def process_alive(pid, started=None):
    """Is pid running, and (where known) is it the same process that recorded `started`?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now = process_start(pid)
    if now == ZOMBIE:
        return False
    return started is None or now in (None, started)


def me():
    """This process, as recorded in owner files and locks."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "pid_started": process_start(pid)}


def sweep_stale(directory=None):
    """Remove work directories whose owner process is gone; return how many."""
    directory = directory or tempfile.gettempdir()
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat().st_uid != os.getuid():
                continue
            try:
                with open(os.path.join(entry.path, OWNER_FILE)) as f:
                    owner = json.load(f)
                stale = owner.get("host") == socket.gethostname() and not process_alive(
                    int(owner["pid"]), owner.get("pid_started"))
            except (OSError, ValueError, KeyError, TypeError):
                stale = time.time() - entry.stat().st_mtime > ORPHAN_AGE
        except OSError:
            continue
        if stale:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
    return removed


class PrivateWorkdir:
    """with PrivateWorkdir("backup") as path: ... — a 0700 directory, gone afterwards."""

    def __init__(self, kind):
        self.kind = kind
        self.path = None

    swept = False  # once per process: a backup_info listing verifies many backups

    def __enter__(self):
        if not PrivateWorkdir.swept:
            PrivateWorkdir.swept = True
            sweep_stale()
        self.path = tempfile.mkdtemp(prefix="%s%s-" % (PREFIX, self.kind))  # mode 0700
        with open(os.path.join(self.path, OWNER_FILE), "w") as f:
            json.dump(me(), f)
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(str(self.path), ignore_errors=True)
        return False
