# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""object_restore's options: the argument spec (the one home of its defaults) and RestoreOptions,
checked before the bucket or the cluster is touched."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.pipeline import ActionOptions, builtin_names
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.base import MoverConfig
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.archive import Limits
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.layout import check_name
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.sealing import Encryption, Signer
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.selectors import parse_selector
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.common import (
    BLOCK_STORE_ARG_SPEC,
    DATA_MOVER_ARG_SPEC,
    ENCRYPTION_KEY_ARG_SPEC,
    HOOK_ARG_SPEC,
    K8S_AUTH_ARG_SPEC,
    SIGNING_KEY_ARG_SPEC,
    STORAGE_ARG_SPEC,
    WAIT_ARG_SPEC,
    Params,
    Wait,
    actions_of,
    block_store_config,
    check_mapping,
    encryption_of,
    mover_defaults,
    signer_of,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.confine import DEFAULT_CLUSTER_RESOURCES


RESTORE_ARG_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    namespace_mapping=dict(type="dict"),
    storage_class_mapping=dict(type="dict"),
    namespaces=dict(type="list", elements="str"),
    exclude_namespaces=dict(type="list", elements="str"),
    include_resources=dict(type="list", elements="str"),
    exclude_resources=dict(type="list", elements="str"),
    label_selector=dict(type="str"),
    existing=dict(type="str", default="keep", choices=["keep", "update"]),
    restore_status=dict(type="list", elements="str"),
    preserve_node_ports=dict(type="bool", default=False),
    restore_actions=dict(type="raw", aliases=["transforms"]),
    disable_actions=dict(type="list", elements="str", choices=builtin_names("restore")),
    item_action_commands=dict(type="list", elements="raw"),
    restore_volumes=dict(type="bool", default=True),
    block_store_options=dict(type="dict", options=BLOCK_STORE_ARG_SPEC),
    volume_options=dict(type="dict"),
    restore_volume_data=dict(type="str", default="auto", choices=["auto", "snapshot", "copy"]),
    data_mover=dict(type="dict", options=DATA_MOVER_ARG_SPEC),
    restore_hooks=dict(type="list", elements="dict", options=dict(
        HOOK_ARG_SPEC, phase=dict(type="str", choices=["post"], default="post"), wait_timeout=dict(type="raw"),
        wait_for_ready=dict(type="bool", default=False))),
    hook_annotations=dict(type="bool", default=True),
    ignore_partial_failure=dict(type="bool", default=False),
    cluster_resources=dict(type="list", elements="str", default=list(DEFAULT_CLUSTER_RESOURCES)),
    limits=dict(type="dict", options=dict(
        (limit, dict(type="int" if limit == "entries" else "str", default=default))
        for limit, default in Limits.OPTION_DEFAULTS.items())),
    **K8S_AUTH_ARG_SPEC, **STORAGE_ARG_SPEC, **ENCRYPTION_KEY_ARG_SPEC, **SIGNING_KEY_ARG_SPEC, **WAIT_ARG_SPEC
)


@dataclass(frozen=True)
class RestoreOptions:
    name: str
    state: str
    namespace_mapping: Dict[str, str]
    storage_class_mapping: Dict[str, str]
    namespaces: List[str]
    exclude_namespaces: Tuple[str, ...]
    include_resources: Optional[List[str]]
    exclude_resources: Optional[List[str]]
    label_selector: Optional[str]
    selector: Any  # label_selector, parsed
    existing: str
    restore_status: List[str]
    preserve_node_ports: bool
    actions: ActionOptions
    restore_volumes: bool
    block_store: Dict[str, Any]  # the drivers' connection options (block_store_options)
    volume_options: Dict[str, Any]
    restore_volume_data: str
    data_mover: Optional[Dict[str, Any]]
    mover_defaults: Dict[str, Any]  # what the data mover takes from the restore's own S3 options
    restore_hooks: List[Dict[str, Any]]
    hook_annotations: bool
    ignore_partial_failure: bool
    cluster_resources: List[str]
    limits: Limits
    encryption: Encryption
    signer: Optional[Signer]
    wait: Wait

    @classmethod
    def from_params(cls, params: Params) -> "RestoreOptions":
        present = params["state"] == "present"
        return cls(
            name=check_name(params["name"]), state=params["state"],
            namespace_mapping=dict(params["namespace_mapping"] or {}),
            storage_class_mapping=check_mapping(params["storage_class_mapping"]),
            namespaces=list(params["namespaces"] or []), exclude_namespaces=_patterns(params["exclude_namespaces"]),
            include_resources=params["include_resources"],
            exclude_resources=params["exclude_resources"], label_selector=params["label_selector"],
            selector=parse_selector(params["label_selector"]), existing=params["existing"],
            restore_status=list(params["restore_status"] or []), preserve_node_ports=params["preserve_node_ports"],
            actions=actions_of("restore", params, check=present), restore_volumes=params["restore_volumes"],
            block_store=block_store_config(params["block_store_options"]),
            volume_options=dict(params["volume_options"] or {}), restore_volume_data=params["restore_volume_data"],
            data_mover=params["data_mover"], mover_defaults=mover_defaults(params),
            restore_hooks=list(params["restore_hooks"] or []), hook_annotations=params["hook_annotations"],
            ignore_partial_failure=params["ignore_partial_failure"],
            cluster_resources=list(params["cluster_resources"]), limits=Limits.from_option(params["limits"]),
            encryption=encryption_of(params) if present else Encryption(), signer=signer_of(params),
            wait=Wait.from_params(params))

    def mover(self, tool: Optional[str] = None) -> MoverConfig:
        """The data_mover option, checked (only when a volume comes back from its data copy); its tool defaults to
        `tool`, the one that made the copies."""
        return MoverConfig(self.data_mover, dict(self.mover_defaults, tool=tool))


def _patterns(patterns: Optional[List[str]]) -> Tuple[str, ...]:
    for i, pattern in enumerate(patterns or []):
        if not pattern or not pattern.strip():
            raise InvalidInputError("exclude_namespaces[%d]: an empty pattern" % i)
    return tuple(patterns or ())
