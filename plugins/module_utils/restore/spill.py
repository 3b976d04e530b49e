# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A restore's selected objects, on disk while it runs.

A restore plans every object before its first change (owner UIDs, what else comes back), then
creates tier by tier and, on a rerun, compares each object with the cluster. Holding them all
costs memory in proportion to the backup (about 2 GB at 300,000 objects). The spill keeps them
in a sqlite3 database in the run's private work directory instead, and hands them out a chunk
at a time.

Each object is stored encrypted (AES-GCM from cryptography, a key that lives only in this
process's memory): a run killed before its work directory is removed leaves no Secret in clear
on disk, even from an encrypted backup. All calls come from one thread; workers get Items.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sqlite3
import zlib
from typing import Any, Dict

try:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    CRYPTOGRAPHY_ERROR = None
except ImportError as e:  # ansible-core depends on cryptography; checked where a spill is opened
    CRYPTOGRAPHY_ERROR = str(e)

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import MissingLibraryError
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube import ordering

CHUNK = 500  # objects per insert, read and update: memory is bounded by this, not the backup
NONCE_SIZE = 12

# Each table is written once and then read: rows are never rewritten (their objects are large).
SCHEMA = """
CREATE TABLE items (
    seq INTEGER PRIMARY KEY,     -- archive order
    tier TEXT NOT NULL,          -- ordering.tier as text: restore order sorts as text
    res_dir TEXT NOT NULL,
    namespace TEXT,              -- the source's; NULL for cluster-scoped
    name TEXT NOT NULL,          -- the source's
    source BLOB NOT NULL
);
CREATE TABLE plans (
    seq INTEGER PRIMARY KEY,     -- the item's
    tier TEXT NOT NULL,          -- its depth in the ownership graph, then ordering.tier (tier_key)
    source_uid TEXT,             -- the backed-up object's UID: an owner lends the new one to its dependents
    res_dir TEXT NOT NULL,
    target BLOB,                 -- NULL when skipped or refused
    target_namespace TEXT,
    target_name TEXT,
    skip TEXT,
    refused INTEGER NOT NULL,
    record TEXT                  -- the snapshot record its volume comes back from (JSON; a PVC)
);
CREATE TABLE done (seq INTEGER PRIMARY KEY);
CREATE TABLE uids (uid TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE owner_refs (uid TEXT NOT NULL, owner_uid TEXT NOT NULL);  -- the selection's ownerReferences
CREATE TABLE live_owners (            -- an owner as the target cluster has it: what its dependents now name
    uid TEXT PRIMARY KEY,             -- the backed-up owner's
    live_uid TEXT NOT NULL,           -- '' in check mode, for an owner that would be created
    api_version TEXT NOT NULL
) WITHOUT ROWID;
"""
READ_INDEXES = """
CREATE INDEX items_in_order ON items (tier, seq);
CREATE INDEX items_by_name ON items (res_dir, namespace, name);
CREATE INDEX owner_refs_by_uid ON owner_refs (uid);
CREATE INDEX owner_refs_by_owner ON owner_refs (owner_uid);
"""
PLAN_INDEXES = """
CREATE INDEX plans_by_tier ON plans (tier, seq);
CREATE INDEX plans_by_target ON plans (res_dir, target_namespace, target_name);
"""
# What applying reads: the source only where there is no target (a skipped item's report).
ROW = ("SELECT p.seq, p.res_dir, CASE WHEN p.target IS NULL THEN i.source END, p.target, p.skip, p.refused, "
       "p.record, p.tier, p.source_uid FROM plans p JOIN items i ON i.seq = p.seq WHERE ")
TO_APPLY = "p.target IS NOT NULL AND p.record IS NULL AND p.seq NOT IN (SELECT seq FROM done)"


# How deep ownership chains are followed: owners first, their dependents a tier later, and so on. A longer
# chain (or a cycle, which a backup could hold) shares the last depth; relinking then names what it could not do.
MAX_DEPTH = 8
DEPTH = """
WITH RECURSIVE chain (uid, depth) AS (
    SELECT ?, 0
    UNION SELECT r.owner_uid, chain.depth + 1 FROM owner_refs r JOIN chain ON r.uid = chain.uid
          WHERE chain.depth < %d AND r.owner_uid IN (SELECT uid FROM uids)
) SELECT max(depth) FROM chain
""" % MAX_DEPTH


def tier_key(res_dir, depth=0):
    """The ownership depth, then ordering.tier, as text that sorts the same way: owners come before what they
    own, whatever their kinds."""
    group, index, name = ordering.tier(res_dir)
    return "%02d:%d:%04d:%s" % (depth, group, index, name)


class SpilledUids:
    """The selection's UIDs, as a container planning asks `uid in uids`."""

    def __init__(self, db):
        self.db = db

    def __contains__(self, uid):
        return uid is not None and self.db.execute("SELECT 1 FROM uids WHERE uid = ?", (uid,)).fetchone() is not None


class Spill:
    """with Spill(workdir) as spill: add() every selected object, finish_reading(); unplanned() into
    add_plans(), finish_planning(); then the reads that apply the plans, and mark_done()."""

    def __init__(self, directory):
        if CRYPTOGRAPHY_ERROR is not None:
            raise MissingLibraryError("cryptography>=3.4", CRYPTOGRAPHY_ERROR)
        self.path = os.path.join(directory, "restore-objects.sqlite")
        self.db: Any = None
        self._aead = AESGCM(AESGCM.generate_key(bit_length=128))
        self._pending = []
        self._pending_uids = []
        self._pending_refs = []
        self.uids = None

    def __enter__(self):
        self.db = sqlite3.connect(self.path, isolation_level=None)
        # A scratch database: nothing to recover after a crash, so no journal and no fsync.
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("PRAGMA cache_size = -8000")  # 8 MB of page cache, whatever the backup's size
        self.db.executescript(SCHEMA)
        self.uids = SpilledUids(self.db)
        return self

    def __exit__(self, *exc):
        self.db.close()
        for suffix in ("", "-journal"):
            try:
                os.unlink(self.path + suffix)
            except OSError:
                pass
        return False

    # ------------------------------------------------------------ sealing

    def _seal(self, obj):
        nonce = os.urandom(NONCE_SIZE)
        data = zlib.compress(json.dumps(obj, separators=(",", ":")).encode("utf-8"), 1)
        return nonce + self._aead.encrypt(nonce, data, None)

    def _decrypt(self, blob):
        return zlib.decompress(self._aead.decrypt(bytes(blob[:NONCE_SIZE]), bytes(blob[NONCE_SIZE:]), None))

    def _open(self, blob):
        return json.loads(self._decrypt(blob))

    # ------------------------------------------------------------ reading the archive

    def add(self, res_dir, namespace, obj):
        meta = obj["metadata"]
        self._pending.append((tier_key(res_dir), res_dir, namespace, meta["name"], self._seal(obj)))
        if meta.get("uid"):
            self._pending_uids.append((meta["uid"],))
            self._pending_refs.extend((meta["uid"], ref["uid"]) for ref in meta.get("ownerReferences") or []
                                      if isinstance(ref, dict) and isinstance(ref.get("uid"), str))
        if len(self._pending) >= CHUNK:
            self._flush()

    def _flush(self):
        with self.db:
            self.db.executemany("INSERT INTO items (tier, res_dir, namespace, name, source) VALUES (?, ?, ?, ?, ?)",
                                self._pending)
            self.db.executemany("INSERT OR IGNORE INTO uids (uid) VALUES (?)", self._pending_uids)
            self.db.executemany("INSERT INTO owner_refs (uid, owner_uid) VALUES (?, ?)", self._pending_refs)
        self._pending, self._pending_uids, self._pending_refs = [], [], []

    def finish_reading(self):
        self._flush()
        self.db.executescript(READ_INDEXES)

    def sources(self, res_dir):
        """(namespace, object) of one resource, in archive order."""
        for namespace, blob in self.db.execute(
                "SELECT namespace, source FROM items WHERE res_dir = ? ORDER BY seq", (res_dir,)):
            yield namespace, self._open(blob)

    def holds(self, ref):
        """Is (res_dir, namespace, name) in the selection?"""
        res_dir, namespace, name = ref
        return self.db.execute("SELECT 1 FROM items WHERE res_dir = ? AND namespace IS ? AND name = ?",
                               (res_dir, namespace, name)).fetchone() is not None

    # ------------------------------------------------------------ planning

    def unplanned(self):
        """Every (seq, res_dir, namespace, object, a second copy of it), in restore order, a chunk at a time.
        (Two decodings cost less than a deep copy, and planning needs the source and a target to change.)"""
        last = ("", 0)
        while True:
            rows = self.db.execute(
                "SELECT seq, tier, res_dir, namespace, source FROM items WHERE (tier, seq) > (?, ?) "
                "ORDER BY tier, seq LIMIT ?", last + (CHUNK,)).fetchall()
            if not rows:
                return
            last = (rows[-1][1], rows[-1][0])
            for seq, _tier, res_dir, namespace, blob in rows:
                data = self._decrypt(blob)
                yield seq, res_dir, namespace, json.loads(data), json.loads(data)

    def add_plans(self, plans):
        """plans: [(seq, res_dir, target, skip, refused, record, source uid)]. A target that names owners (the
        owner-references action kept them) is created a tier after the deepest of them."""
        rows = []
        for seq, res_dir, target, skip, refused, record, source_uid in plans:
            meta = (target or {}).get("metadata") or {}
            depth = self.depth(source_uid) if meta.get("ownerReferences") and source_uid else 0
            rows.append((seq, tier_key(res_dir, depth), source_uid, res_dir,
                         self._seal(target) if target is not None else None,
                         meta.get("namespace"), meta.get("name"), skip, int(bool(refused)),
                         json.dumps(record) if record is not None else None))
        with self.db:
            self.db.executemany("INSERT INTO plans (seq, tier, source_uid, res_dir, target, target_namespace, "
                                "target_name, skip, refused, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def depth(self, uid):
        """How many owners of the selection stand above this object (0: none)."""
        return self.db.execute(DEPTH, (uid,)).fetchone()[0] or 0

    def finish_planning(self):
        self.db.executescript(PLAN_INDEXES)

    # ------------------------------------------------------------ restoring

    def _rows(self, where, args, limit=-1):
        return self.db.execute(ROW + where + " ORDER BY p.seq LIMIT %d" % limit, args).fetchall()

    def _item(self, make_item, row):
        seq, res_dir, source, target, skip, refused, record, tier, source_uid = row
        item = make_item(res_dir, self._open(source) if source is not None else None,
                         self._open(target) if target is not None else None, skip, bool(refused),
                         json.loads(record) if record is not None else None)
        item.seq, item.tier, item.source_uid = seq, tier, source_uid
        return item

    def skipped(self, make_item):
        """Items planning skipped or refused, a chunk at a time."""
        last = 0
        while True:
            rows = self._rows("p.target IS NULL AND p.seq > ?", (last,), CHUNK)
            if not rows:
                return
            last = rows[-1][0]
            yield [self._item(make_item, row) for row in rows]

    def with_volumes(self, make_item):
        """Items whose volume comes back from a snapshot record (PVCs: few)."""
        return [self._item(make_item, row) for row in self._rows("p.target IS NOT NULL AND p.record IS NOT NULL", ())]

    def target_namespaces(self):
        """Namespaces the restore writes into, and the Namespaces it restores."""
        targets = [r[0] for r in self.db.execute(
            "SELECT DISTINCT target_namespace FROM plans WHERE target IS NOT NULL AND target_namespace IS NOT NULL")]
        restored = [r[0] for r in self.db.execute(
            "SELECT target_name FROM plans WHERE target IS NOT NULL AND res_dir = 'namespaces'")]
        return set(targets), set(restored)

    def tiers(self):
        """(tier, res_dir) with objects to create or compare (not skipped, not volumes), in restore order."""
        return self.db.execute("SELECT tier, min(res_dir) FROM plans WHERE target IS NOT NULL AND record IS NULL "
                               "GROUP BY tier ORDER BY tier").fetchall()

    def collections(self, tier):
        """(res_dir, target namespace) pairs of a tier."""
        return self.db.execute(
            "SELECT DISTINCT res_dir, target_namespace FROM plans WHERE tier = ? AND target IS NOT NULL "
            "AND record IS NULL ORDER BY res_dir, target_namespace", (tier,)).fetchall()

    def any_of(self, make_item, res_dir, namespace):
        """One item of a collection (its API path), or None."""
        rows = self._rows("p.res_dir = ? AND p.target_namespace IS ? AND p.target IS NOT NULL AND p.record IS NULL",
                          (res_dir, namespace), 1)
        return self._item(make_item, rows[0]) if rows else None

    def named(self, make_item, res_dir, namespace, names):
        """Items not yet applied of a collection, with these target names."""
        names = list(names)
        if not names:
            return []
        rows = self._rows("p.res_dir = ? AND p.target_namespace IS ? AND p.target_name IN (%s) AND %s" % (
            ", ".join("?" * len(names)), TO_APPLY), [res_dir, namespace] + names)
        return [self._item(make_item, row) for row in rows]

    def next_chunk(self, make_item, tier, after=0):
        """The next items not yet applied of a tier, after seq `after` (those in flight are not done yet)."""
        rows = self._rows("p.tier = ? AND p.seq > ? AND " + TO_APPLY, (tier, after), CHUNK)
        return [self._item(make_item, row) for row in rows]

    def add_live_owners(self, owners):
        """owners: [(backed-up UID, the live object's UID, its apiVersion)]; kept only for UIDs that some object of
        the selection names as its owner."""
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO live_owners (uid, live_uid, api_version) SELECT ?, ?, ? "
                                "WHERE EXISTS (SELECT 1 FROM owner_refs WHERE owner_uid = ?)",
                                [(uid, live, version, uid) for uid, live, version in owners])

    def live_owners(self, uids):
        """backed-up UID -> (live UID, apiVersion) of the owners among these that the restore has created or found."""
        uids = sorted(set(uids))
        found: Dict[str, Any] = {}
        for start in range(0, len(uids), CHUNK):
            part = uids[start:start + CHUNK]
            found.update((uid, (live, version)) for uid, live, version in self.db.execute(
                "SELECT uid, live_uid, api_version FROM live_owners WHERE uid IN (%s)" % ", ".join("?" * len(part)),
                part))
        return found

    def mark_done(self, items):
        with self.db:
            self.db.executemany("INSERT OR IGNORE INTO done (seq) VALUES (?)", [(item.seq,) for item in items])
