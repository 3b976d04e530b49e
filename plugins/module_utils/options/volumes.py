# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""volume_snapshot's, volume_snapshot_info's and volume_restore's options: argument specs (the one
home of their defaults) and the typed options the volume services take."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.base import check_tags
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.records import SnapshotRecord, snapshot_record
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.registry import driver_names
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.base import MoverConfig, environment_defaults
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.common import (
    BLOCK_STORE_ARG_SPEC,
    DATA_MOVER_ARG_SPEC,
    HOOK_ARG_SPEC,
    K8S_AUTH_ARG_SPEC,
    WAIT_ARG_SPEC,
    Params,
    block_store_config,
)


SNAPSHOT_ARG_SPEC = dict(
    driver=dict(type="str", default="csi", choices=driver_names()),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    name=dict(type="str", required=True),
    namespace=dict(type="str", required=True),
    pvc=dict(type="str"),
    pvc_selector=dict(type="str"),
    volume_id=dict(type="str"),
    csi_driver_map=dict(type="dict"),
    copy_to_region=dict(type="list", elements="str"),
    snapshot_class=dict(type="str"),
    tags=dict(type="dict"),
    hooks=dict(type="list", elements="dict", options=dict(
        HOOK_ARG_SPEC, phase=dict(type="str", choices=["pre", "post"], default="pre"))),
    hook_annotations=dict(type="bool", default=True),
    volume_data=dict(type="str", default="snapshot", choices=["snapshot", "copy"]),
    keep_snapshots=dict(type="bool", default=True),
    data_mover=dict(type="dict", options=DATA_MOVER_ARG_SPEC),
    **K8S_AUTH_ARG_SPEC, **BLOCK_STORE_ARG_SPEC, **WAIT_ARG_SPEC
)

SNAPSHOT_INFO_ARG_SPEC = dict(
    driver=dict(type="str", default="csi", choices=driver_names()),
    namespace=dict(type="str"),
    name=dict(type="str"),
    pvc=dict(type="str"),
    tags=dict(type="dict"),
    **K8S_AUTH_ARG_SPEC, **BLOCK_STORE_ARG_SPEC
)

VOLUME_RESTORE_ARG_SPEC = dict(
    driver=dict(type="str", default="csi", choices=driver_names()),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    snapshot=dict(type="dict"),
    snapshot_name=dict(type="str"),
    snapshot_namespace=dict(type="str"),
    namespace=dict(type="str", required=True),
    pvc=dict(type="str", required=True),
    storage_class=dict(type="str"),
    size=dict(type="str"),
    access_modes=dict(type="list", elements="str"),
    labels=dict(type="dict"),
    in_place=dict(type="bool", default=False),
    volume_options=dict(type="dict"),
    **K8S_AUTH_ARG_SPEC, **BLOCK_STORE_ARG_SPEC, **WAIT_ARG_SPEC
)


def _mover(params: Params) -> Optional[MoverConfig]:
    """The data mover's configuration when volume_data is copy (checked now, before any change), or None."""
    if params["volume_data"] != "copy":
        return None
    if params["volume_id"]:
        raise InvalidInputError("volume_data: copy reads a PVC's files; give pvc or pvc_selector, not volume_id")
    if not params["wait"]:
        raise InvalidInputError("volume_data: copy copies a ready snapshot; it needs wait: true")
    if not params["data_mover"]:
        raise InvalidInputError("data_mover: required with volume_data: copy (where the copies go, and the "
                                "repository password)")
    return MoverConfig(params["data_mover"], environment_defaults())


@dataclass(frozen=True)
class SnapshotOptions:
    driver: str
    state: str
    name: str
    namespace: str
    pvc: Optional[str]
    pvc_selector: Optional[str]
    volume_id: Optional[str]
    csi_driver_map: Dict[str, str]
    copy_to_region: List[str]
    snapshot_class: Optional[str]
    tags: Dict[str, str]
    hooks: List[Dict[str, Any]]
    hook_annotations: bool
    volume_data: str
    keep_snapshots: bool
    mover: Optional[MoverConfig]  # data_mover, checked, when volume_data is copy
    wait: bool
    wait_timeout: int
    block_store: Dict[str, Any]

    @classmethod
    def from_params(cls, params: Params) -> "SnapshotOptions":
        unknown = sorted(set((params["csi_driver_map"] or {}).values()) - set(driver_names()))
        if unknown:
            raise InvalidInputError("csi_driver_map: unknown block store driver %s; choose from %s" % (
                ", ".join(unknown), ", ".join(driver_names())))
        if params["volume_id"] and params["hooks"]:
            raise InvalidInputError("hooks: run in the pods that mount a PVC; give pvc or pvc_selector, not volume_id")
        return cls(
            driver=params["driver"], state=params["state"], name=params["name"], namespace=params["namespace"],
            pvc=params["pvc"], pvc_selector=params["pvc_selector"], volume_id=params["volume_id"],
            csi_driver_map=dict(params["csi_driver_map"] or {}), copy_to_region=list(params["copy_to_region"] or []),
            snapshot_class=params["snapshot_class"], tags=check_tags(params["tags"]),
            hooks=list(params["hooks"] or []), hook_annotations=params["hook_annotations"],
            volume_data=params["volume_data"], keep_snapshots=params["keep_snapshots"], mover=_mover(params),
            wait=params["wait"], wait_timeout=params["wait_timeout"], block_store=block_store_config(params))


@dataclass(frozen=True)
class SnapshotInfoOptions:
    driver: str
    namespace: Optional[str]
    name: Optional[str]
    pvc: Optional[str]
    tags: Dict[str, str]
    block_store: Dict[str, Any]

    @classmethod
    def from_params(cls, params: Params) -> "SnapshotInfoOptions":
        return cls(driver=params["driver"], namespace=params["namespace"], name=params["name"], pvc=params["pvc"],
                   tags=check_tags(params["tags"]), block_store=block_store_config(params))


@dataclass(frozen=True)
class VolumeRestoreOptions:
    driver: str
    state: str
    snapshot: Optional[SnapshotRecord]
    snapshot_name: Optional[str]
    snapshot_namespace: Optional[str]
    namespace: str
    pvc: str
    storage_class: Optional[str]
    size: Optional[str]
    access_modes: Optional[List[str]]
    labels: Optional[Dict[str, str]]
    in_place: bool
    volume_options: Optional[Dict[str, Any]]
    wait: bool
    wait_timeout: int
    block_store: Dict[str, Any]

    @classmethod
    def from_params(cls, params: Params) -> "VolumeRestoreOptions":
        check_tags(params["labels"], "labels")
        given = dict((name, params[name]) for name in VOLUME_RESTORE_ARG_SPEC if name in cls.__dataclass_fields__)
        if params["snapshot"] is not None:
            given["snapshot"] = snapshot_record(params["snapshot"], "snapshot", driver_names(), volumes=True)
        return cls(block_store=block_store_config(params), **given)

    def target(self) -> Dict[str, Any]:
        """What the block store restores into."""
        return {"namespace": self.namespace, "pvc": self.pvc, "storage_class": self.storage_class, "size": self.size,
                "access_modes": self.access_modes, "labels": self.labels, "volume_options": self.volume_options}
