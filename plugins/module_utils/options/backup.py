# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""object_backup's and backup_info's options: argument specs (the one home of their defaults) and
the typed options the services take, checked before the bucket or the cluster is touched."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

try:
    import durationpy
except ImportError:  # installed with the kubernetes library
    durationpy = None

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.pipeline import ActionOptions, builtin_names
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.records import SnapshotRecord, snapshot_record
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.registry import driver_names
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.layout import check_name
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.sealing import Encryption, Signer
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.selectors import (
    compile_jmespath,
    name_matches,
    parse_selector,
    search_jmespath,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.common import (
    ENCRYPTION_KEY_ARG_SPEC,
    K8S_AUTH_ARG_SPEC,
    SERVER_SIDE_ENCRYPTION_ARG_SPEC,
    SIGNING_KEY_ARG_SPEC,
    STORAGE_ARG_SPEC,
    Params,
    actions_of,
    encryption_of,
    signer_of,
)


MAX_TTL_SECONDS = 100 * 365 * 86400

BACKUP_ARG_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    namespaces=dict(type="list", elements="str"),
    exclude_namespaces=dict(type="list", elements="str"),
    namespace_selector=dict(type="str"),
    include_resources=dict(type="list", elements="str"),
    exclude_resources=dict(type="list", elements="str"),
    label_selector=dict(type="str"),
    include_cluster_resources=dict(type="str", default="auto", choices=["auto", "true", "false"]),
    filter=dict(type="str"),
    backup_actions=dict(type="list", elements="dict", options=dict(
        name=dict(type="str"),
        resources=dict(type="list", elements="str"),
        namespaces=dict(type="list", elements="str"),
        name_regex=dict(type="str"),
        label_selector=dict(type="str"),
        jmespath=dict(type="str"),
        json_patch=dict(type="list", elements="dict"),
        merge_patch=dict(type="dict"),
        skip=dict(type="raw"),
        include=dict(type="str"),
    )),
    disable_actions=dict(type="list", elements="str", choices=builtin_names("backup")),
    item_action_commands=dict(type="list", elements="raw"),
    volume_snapshots=dict(type="list", elements="dict"),
    ttl=dict(type="str"),
    allow_partial=dict(type="bool", default=False),
    encryption_recipients=dict(type="list", elements="str"),
    object_lock_mode=dict(type="str", choices=["GOVERNANCE", "COMPLIANCE"]),
    **K8S_AUTH_ARG_SPEC, **STORAGE_ARG_SPEC, **ENCRYPTION_KEY_ARG_SPEC, **SIGNING_KEY_ARG_SPEC,
    **SERVER_SIDE_ENCRYPTION_ARG_SPEC
)

BACKUP_INFO_ARG_SPEC = dict(
    name=dict(type="str"),
    verify=dict(type="bool", default=False),
    **STORAGE_ARG_SPEC, **SIGNING_KEY_ARG_SPEC
)


def parse_ttl(ttl: Optional[str]) -> Optional[int]:
    """Seconds of a Go/Velero duration (720h0m0s, 1h30m) or 30d; None for no ttl."""
    if not ttl:
        return None
    try:
        seconds = durationpy.from_str(str(ttl).strip()).total_seconds()
    except (durationpy.DurationError, ValueError, OverflowError):
        raise InvalidInputError("ttl: %r is not a duration such as 720h0m0s, 720h, 30d or 1h30m" % (ttl,))
    if seconds <= 0 or seconds > MAX_TTL_SECONDS:
        raise InvalidInputError("ttl: %r must be more than 0 and at most 100 years" % (ttl,))
    return int(seconds)


def _keeper(text: Optional[str]) -> Callable[[Dict[str, Any]], bool]:
    expression = compile_jmespath(text, "filter")
    if expression is None:
        return lambda obj: True

    def keep(obj):
        return bool(search_jmespath(expression, obj, "filter"))
    return keep


def _snapshot_records(records: List[Any]) -> List[SnapshotRecord]:
    return [snapshot_record(r, "volume_snapshots[%d]" % i, driver_names()) for i, r in enumerate(records)]


@dataclass(frozen=True)
class BackupOptions:
    name: str
    state: str
    namespaces: List[str]  # names; [] with every_namespace or a namespace_selector until the run resolves them
    every_namespace: bool  # namespaces: ['*']
    exclude_namespaces: Tuple[str, ...]
    namespace_selector: Optional[str]
    include_resources: Optional[List[str]]
    exclude_resources: Optional[List[str]]
    label_selector: Optional[str]
    include_cluster_resources: str
    filter: Optional[str]
    keep: Callable[[Dict[str, Any]], bool]  # the filter, compiled
    actions: ActionOptions
    volume_snapshots: List[SnapshotRecord]
    ttl: Optional[str]
    ttl_seconds: Optional[int]
    allow_partial: bool
    encryption: Encryption
    signer: Optional[Signer]
    object_lock_mode: Optional[str]

    @classmethod
    def from_params(cls, params: Params) -> "BackupOptions":
        present = params["state"] == "present"
        name = check_name(params["name"])
        namespaces, every = _namespaces(params, present)
        keep = _keeper(params["filter"]) if present else (lambda obj: True)
        actions = actions_of("backup", params, check=present)
        ttl_seconds = parse_ttl(params["ttl"]) if present else None
        records = list(params["volume_snapshots"] or [])
        if present:
            records = _snapshot_records(records)
        if params["object_lock_mode"] and present and not ttl_seconds:
            raise InvalidInputError("object_lock_mode: needs ttl: the backup is kept immutable until it expires")
        return cls(
            name=name, state=params["state"], namespaces=namespaces, every_namespace=every,
            exclude_namespaces=tuple(params["exclude_namespaces"] or ()), namespace_selector=params["namespace_selector"],
            include_resources=params["include_resources"], exclude_resources=params["exclude_resources"],
            label_selector=params["label_selector"], include_cluster_resources=params["include_cluster_resources"],
            filter=params["filter"], keep=keep, actions=actions, volume_snapshots=records, ttl=params["ttl"],
            ttl_seconds=ttl_seconds, allow_partial=params["allow_partial"],
            encryption=encryption_of(params) if present else Encryption(), signer=signer_of(params),
            object_lock_mode=params["object_lock_mode"])

    @property
    def selects_namespaces(self) -> bool:
        """Whether the namespaces are chosen by listing them (['*'] or a namespace_selector), not only named."""
        return self.every_namespace or bool(self.namespace_selector)

    def excluded(self, namespace: str) -> bool:
        return name_matches(namespace, self.exclude_namespaces)

    def filters(self) -> Dict[str, Any]:
        """What the manifest records of how objects were chosen (and namespaces, when not only named)."""
        filters: Dict[str, Any] = {
            "include_resources": self.include_resources, "exclude_resources": self.exclude_resources,
            "label_selector": self.label_selector, "include_cluster_resources": self.include_cluster_resources,
            "filter": self.filter}
        if self.selects_namespaces or self.exclude_namespaces:
            filters["namespace_selection"] = {
                "namespaces": ["*"] if self.every_namespace else None, "exclude_namespaces": list(
                    self.exclude_namespaces), "namespace_selector": self.namespace_selector}
        return filters


def _namespaces(params: Params, present: bool) -> Tuple[List[str], bool]:
    """(the named namespaces, whether ['*'] was given), checked: the selection cannot be empty by construction."""
    names = list(params["namespaces"] or [])
    every = "*" in names
    if every and len(names) > 1:
        raise InvalidInputError("namespaces: '*' means every namespace; give it alone (exclude_namespaces leaves "
                                "some out), not with %s" % ", ".join(n for n in names if n != "*"))
    for i, pattern in enumerate(params["exclude_namespaces"] or []):
        if not pattern or not pattern.strip():
            raise InvalidInputError("exclude_namespaces[%d]: an empty pattern" % i)
        if every and pattern.strip() == "*":
            raise InvalidInputError("exclude_namespaces: %r excludes every namespace namespaces: ['*'] selects"
                                    % pattern)
    parse_selector(params["namespace_selector"], "namespace_selector")
    if not present:
        return names, every
    if not names and not params["namespace_selector"]:
        raise InvalidInputError("namespaces: give the namespaces to back up, ['*'] for every namespace, or a "
                                "namespace_selector")
    named = [n for n in names if n != "*"]
    patterns = params["exclude_namespaces"] or []
    if named and all(name_matches(n, patterns) for n in named):
        raise InvalidInputError("exclude_namespaces: excludes every namespace given in namespaces (%s); nothing "
                                "would be backed up" % ", ".join(named))
    return ([] if every else names), every


@dataclass(frozen=True)
class BackupInfoOptions:
    name: Optional[str]
    verify: bool
    signer: Optional[Signer]

    @classmethod
    def from_params(cls, params: Params) -> "BackupInfoOptions":
        name = check_name(params["name"]) if params["name"] else None
        return cls(name=name, verify=params["verify"], signer=signer_of(params))
