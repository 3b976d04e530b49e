# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One writer per backup name.

The lock is an object next to the backup's files, created only if absent (S3
If-None-Match, an exclusive link on file stores), so two runs cannot both hold
it. The holder renews its lease while it works. A lock whose lease ran out, or
whose holder is a dead process on this host, is stale and may be taken over.
The writer checks it still holds the lock just before it commits, and the
manifest itself is also written only if absent: no mix of two runs commits.

A run that fails after it started changing the backup's files leaves its lock
behind, released (its lease ended): the mark that says the files under the
name are this collection's, so a rerun may replace them and nothing else may.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import datetime
import json
import threading
import uuid
from typing import Optional, TYPE_CHECKING

from ansible_collections.lifeboat.k8s.plugins.module_utils.common import clock
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import ConflictError, NotFoundError
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.workdir import me, process_alive
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.layout import LOCK_FILE

if TYPE_CHECKING:  # the types only: at run time the services do not import their callers' options
    from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.base import ObjectStore


LEASE_SECONDS = 600
RENEW_SECONDS = 60


def is_stale(holder, now=None):
    """Has the lock's lease run out, or is its holder a dead process on this host?"""
    now = now or clock.now()
    try:
        expires = clock.parse_timestamp(holder["expires_at"])
    except (KeyError, TypeError, ValueError):
        return True
    if expires <= now:
        return True
    here = me()
    if holder.get("host") == here["host"] and isinstance(holder.get("pid"), int):
        return not process_alive(holder["pid"], holder.get("pid_started"))
    return False


def read_holder(store: ObjectStore, key):
    """The lock's record, None if there is no lock, {} if it is unreadable (stale)."""
    try:
        return json.loads(store.get_bytes(key))
    except NotFoundError:
        return None
    except ValueError:
        return {}


class BackupLock:
    def __init__(self, store: ObjectStore, prefix, name):
        self.store = store
        self.key = "%s/%s" % (prefix.rstrip("/"), LOCK_FILE)
        self.name = name
        self.run = str(uuid.uuid4())
        self.took_over = None
        self._stop = threading.Event()
        self._renewer: Optional[threading.Thread] = None
        self._mark_on_failure = False

    def _body(self, acquired_at=None):
        now = clock.now()
        return dict(me(), run=self.run, backup=self.name, acquired_at=acquired_at or clock.timestamp(now),
                    expires_at=clock.timestamp(now + datetime.timedelta(seconds=LEASE_SECONDS)))

    def holder(self):
        return read_holder(self.store, self.key)

    def acquire(self):
        body = self._body()
        self.acquired_at = body["acquired_at"]
        try:
            self.store.put_bytes(self.key, json.dumps(body).encode(), if_absent=True)
        except ConflictError:
            current = self.holder()
            if current is not None and not is_stale(current):
                raise ConflictError(
                    "name: backup %s is being written by another run (host %s, pid %s, since %s); wait for it to "
                    "finish or use another name" % (self.name, current.get("host"), current.get("pid"),
                                                    current.get("acquired_at")))
            # Stale: the holder died. Take it over (still only if absent, so one taker wins).
            self.took_over = current
            if current is not None and self.holder() == current:
                self.store.delete(self.key)
            try:
                self.store.put_bytes(self.key, json.dumps(body).encode(), if_absent=True)
            except ConflictError:
                raise ConflictError("name: backup %s: another run took over its stale lock first; wait for it "
                                    "to finish or use another name" % self.name)
        self._renewer = threading.Thread(target=self._renew, name="lifeboat-lock", daemon=True)
        self._renewer.start()
        return self

    def _renew(self):
        while not self._stop.wait(RENEW_SECONDS):
            current = self.holder()
            if not current or current.get("run") != self.run:
                return  # lost: check() says so before anything is committed
            try:
                self.store.put_bytes(self.key, json.dumps(self._body(self.acquired_at)).encode())
            except Exception:  # the next check() or the commit reports storage problems
                return

    def check(self):
        """Raise unless this run still holds the lock (called just before committing)."""
        current = self.holder()
        if not current or current.get("run") != self.run:
            raise ConflictError("name: backup %s: this run lost its lock to another run (%s); nothing was "
                                "committed" % (self.name, (current or {}).get("host", "lock deleted")))

    def mark_on_failure(self):
        """From now on the backup's files are being changed: if the run fails, leave the lock."""
        self._mark_on_failure = True

    def release(self, failed=False):
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        try:
            current = self.holder()
            if current and current.get("run") == self.run:
                if failed and self._mark_on_failure:
                    released = dict(current, expires_at=clock.timestamp(clock.now()), released=True)
                    self.store.put_bytes(self.key, json.dumps(released).encode())
                else:
                    self.store.delete(self.key)
        except Exception:  # a lock left behind expires; never mask the run's own outcome
            pass

    def __enter__(self):
        return self.acquire()

    def __exit__(self, exc_type, exc, traceback):
        self.release(failed=exc_type is not None)
        return False
