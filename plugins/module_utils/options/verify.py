# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""namespace_info's and volume_compare's options: argument specs (the one home of their defaults) and
the typed options the drill's checks take."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple, cast

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.sealing import Encryption
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.common import (
    ENCRYPTION_KEY_ARG_SPEC,
    K8S_AUTH_ARG_SPEC,
    STORAGE_ARG_SPEC,
    WAIT_ARG_SPEC,
    Params,
    check_mapping,
    encryption_of,
)


NAMESPACE_INFO_ARG_SPEC = dict(
    namespace=dict(type="str", required=True),
    wait=dict(type="bool", default=False),
    storage_class_mapping=dict(type="dict"),
    backup=dict(type="str"),
    fields_of=dict(type="list", elements="str"),
    compare_with=dict(type="dict"),
    wait_timeout=WAIT_ARG_SPEC["wait_timeout"],
    **K8S_AUTH_ARG_SPEC, **STORAGE_ARG_SPEC, **ENCRYPTION_KEY_ARG_SPEC
)

VOLUME_COMPARE_ARG_SPEC = dict(
    source_namespace=dict(type="str", required=True),
    target_namespace=dict(type="str", required=True),
    pvcs=dict(type="list", elements="raw", required=True),
    method=dict(type="str", default="job", choices=["job", "hostpath"]),
    image=dict(type="str", default="docker.io/library/busybox:1.36"),
    state_dir=dict(type="path"),
    keep_jobs=dict(type="bool", default=False),
    wait_timeout=dict(type="int", default=600),
    target_kubeconfig=dict(type="path"),
    target_context=dict(type="str"),
    **K8S_AUTH_ARG_SPEC
)


@dataclass(frozen=True)
class NamespaceInfoOptions:
    namespace: str
    wait: bool
    wait_timeout: int
    storage_class_mapping: Dict[str, str]
    backup: Optional[str]
    encryption: Encryption
    fields_of: Tuple[str, ...] = ()
    compare_with: Optional[Dict[str, Dict[str, str]]] = None

    @classmethod
    def from_params(cls, params: Params) -> "NamespaceInfoOptions":
        return cls(namespace=params["namespace"], wait=params["wait"], wait_timeout=params["wait_timeout"],
                   storage_class_mapping=check_mapping(params["storage_class_mapping"]), backup=params["backup"],
                   encryption=encryption_of(params) if params["backup"] else Encryption(),
                   fields_of=_fields_of(params["fields_of"]), compare_with=_compare_with(params["compare_with"]))


def _fields_of(names: Optional[List[str]]) -> Tuple[str, ...]:
    for i, name in enumerate(names or []):
        resource, _slash, obj = name.partition("/")
        if not resource or not obj or "/" in obj:
            raise InvalidInputError("fields_of[%d]: expected resource/name (as in digests), got %r" % (i, name))
    return tuple(names or ())


def _compare_with(fields: Optional[Dict[str, object]]) -> Optional[Dict[str, Dict[str, str]]]:
    """Another description's fields: {resource/name: {path: digest}}."""
    if fields is None:
        return None
    for name, paths in fields.items():
        if not isinstance(paths, dict) or not all(isinstance(v, str) for v in paths.values()):
            raise InvalidInputError("compare_with: %s: expected {field path: digest} (the fields of another "
                                    "namespace_info), got %r" % (name, type(paths).__name__))
    return dict((name, dict(cast(Dict[str, str], paths))) for name, paths in fields.items())


def pairs_of(pvcs: Optional[List[object]]) -> List[Tuple[str, str]]:
    """pvcs: names, or {source, target} pairs."""
    if not pvcs:
        raise InvalidInputError("pvcs: give at least one PVC name (or source/target pairs)")
    pairs = []
    for i, entry in enumerate(pvcs):
        if isinstance(entry, str):
            entry = {"source": entry, "target": entry}
        if not isinstance(entry, dict) or not entry.get("source") or not entry.get("target"):
            raise InvalidInputError("pvcs[%d]: expected a PVC name or {source: name, target: name}" % i)
        pairs.append((entry["source"], entry["target"]))
    return pairs


@dataclass(frozen=True)
class VolumeCompareOptions:
    source_namespace: str
    target_namespace: str
    pairs: List[Tuple[str, str]]  # pvcs, as (source, target) names
    method: str
    image: str
    state_dir: Optional[str]
    keep_jobs: bool
    wait_timeout: int

    @classmethod
    def from_params(cls, params: Params) -> "VolumeCompareOptions":
        return cls(source_namespace=params["source_namespace"], target_namespace=params["target_namespace"],
                   pairs=pairs_of(params["pvcs"]), method=params["method"], image=params["image"],
                   state_dir=params["state_dir"], keep_jobs=params["keep_jobs"], wait_timeout=params["wait_timeout"])
