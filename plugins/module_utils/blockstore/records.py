# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The snapshot record: what a block store driver returns for a snapshot, what volume_snapshot returns to a
playbook, and what a backup stores. It is JSON on every one of those paths, so its type is a TypedDict: the
type checker knows its fields, and at run time it is the plain dict that round-trips unchanged.

`snapshot_record()` is the one place a record that comes from outside (a task's option, a backup's file) is
checked before anything uses it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from typing import Any, Dict, List, Optional, Sequence, Tuple, TypedDict

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError

DEFAULT_DRIVER = "csi"  # records written before drivers were named are CSI's


class RecordSource(TypedDict, total=False):
    """What the snapshot was taken of."""
    namespace: Optional[str]
    pvc: Optional[str]
    volume_id: Optional[str]
    storage_class: Optional[str]
    size: Optional[str]
    access_modes: List[str]
    volume_mode: str
    csi_driver: Optional[str]
    zone: Optional[str]


class DataCopy(TypedDict, total=False):
    """Where the data mover copied the snapshot's files (volume_data: copy)."""
    tool: str
    repository: str
    snapshot_id: Optional[str]
    bytes: Optional[int]
    files: Optional[int]
    empty: bool
    image: str
    seconds: float
    planned: bool
    made_by: str  # the copies another product made (restored by a tool that only restores): who, and how


class SnapshotRecord(TypedDict, total=False):
    driver: str
    snapshot_id: Optional[str]
    name: str
    namespace: Optional[str]
    source: RecordSource
    tags: Dict[str, str]
    ready: bool
    size_bytes: Optional[int]
    created_at: Optional[str]
    error: Optional[str]
    driver_data: Dict[str, Any]
    data_copy: DataCopy
    snapshot_deleted: bool
    copies: List[Dict[str, Any]]


def record_driver(record: SnapshotRecord) -> str:
    """The driver that took a snapshot record."""
    return record.get("driver", DEFAULT_DRIVER)


def claim_of(record: SnapshotRecord) -> Tuple[Optional[str], Optional[str]]:
    """(namespace, pvc) the snapshot was taken of."""
    source = record["source"]
    return source.get("namespace"), source.get("pvc")


def record_problem(data: Any, drivers: Sequence[str], volumes: bool = False) -> Optional[str]:
    """Why `data` is not a usable snapshot record, or None: a JSON object with a snapshot_id, the namespace and
    PVC it was taken of (or, with volumes, the storage volume), a known driver, and a snapshot namespace agreeing
    with its PVC's."""
    source = data.get("source") if isinstance(data, dict) else None
    if not isinstance(source, dict) or not isinstance(data.get("snapshot_id"), str) or not data["snapshot_id"] \
            or not isinstance(source.get("namespace"), str) \
            or not (isinstance(source.get("pvc"), str) or (volumes and isinstance(source.get("volume_id"), str))):
        return "malformed (needs snapshot_id and source.namespace/pvc)"
    if data.get("driver", DEFAULT_DRIVER) not in drivers:
        return "unknown driver %r (known: %s)" % (data.get("driver"), ", ".join(drivers))
    if data.get("namespace", source["namespace"]) != source["namespace"]:
        return "the snapshot is in namespace %r but its PVC in %r" % (data.get("namespace"), source["namespace"])
    return None


def snapshot_record(data: Any, where: str, drivers: Sequence[str], volumes: bool = False) -> SnapshotRecord:
    """`data` as a SnapshotRecord, checked; InvalidInputError naming `where` (an option and index) if it is not."""
    problem = record_problem(data, drivers, volumes)
    if problem:
        raise InvalidInputError("%s: %s; expected a ready snapshot record from volume_snapshot" % (where, problem))
    return data
