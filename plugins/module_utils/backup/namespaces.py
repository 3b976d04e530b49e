# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which namespaces a backup takes: the ones named, or every namespace (['*']) or those a namespace_selector
matches, as the cluster lists them when the backup starts, less exclude_namespaces; and, listed again once the
objects are (that LIST also gives the Namespace objects), those that appeared meanwhile and match.

The cluster's own namespaces (SYSTEM_NAMESPACES) are left out of ['*'] and of a selector's match unless named:
a restore into another cluster must not carry one cluster's kube-system into another's.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, TYPE_CHECKING

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import ApiError, InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.listing import lists_across_cluster

if TYPE_CHECKING:  # the types only: at run time the services do not import their callers' options
    from ansible_collections.lifeboat.k8s.plugins.module_utils.options.backup import BackupOptions

SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")


@dataclass(frozen=True)
class NamespaceChoice:
    names: List[str]  # sorted
    warnings: List[str] = field(default_factory=list)
    in_cluster: Optional[int] = None  # how many namespaces the cluster has, when they were listed
    named: Tuple[str, ...] = ()  # the namespaces given with a selector (only these, if it matches them)

    @property
    def cluster_wide(self) -> bool:
        """Whether to list each type across the cluster and keep what is in the chosen namespaces."""
        return lists_across_cluster(len(self.names), self.in_cluster)


def chosen_namespaces(k8s, options: BackupOptions) -> NamespaceChoice:
    """The namespaces to back up. Refuses, naming the option, a selection that leaves none."""
    if not options.selects_namespaces:
        return NamespaceChoice(sorted(set(n for n in options.namespaces if not options.excluded(n))))
    return _choose(_listed(k8s, options.namespace_selector), options, tuple(options.namespaces))


def _choose(listed, options: BackupOptions, named) -> NamespaceChoice:
    warnings = []
    candidates = []
    for namespace in listed:
        name = namespace["metadata"]["name"]
        if (namespace.get("status") or {}).get("phase") == "Terminating":
            warnings.append("namespace %s is being deleted: not backed up" % name)
        elif named and name not in named:
            continue
        elif name in SYSTEM_NAMESPACES and name not in named:
            continue
        else:
            candidates.append(name)
    listed_names = set(n["metadata"]["name"] for n in listed)
    for name in named:
        if name not in candidates and name not in listed_names:
            warnings.append("namespace %s does not match namespace_selector %r: not backed up" % (
                name, options.namespace_selector))
    chosen = sorted(n for n in candidates if not options.excluded(n))
    if not chosen:
        raise InvalidInputError(_nothing_chosen(options, candidates))
    return NamespaceChoice(chosen, warnings, len(listed), named)


def listed_again(k8s, options: BackupOptions) -> Optional[List[Dict[str, Any]]]:
    """For ['*'] or a selector, once the objects are listed: the Namespace objects the selection lists now
    (None when it cannot be listed now: what was taken stands). One LIST serves both what appeared meanwhile
    and the Namespace objects the backup holds."""
    if not options.selects_namespaces:
        return None
    try:
        return _listed(k8s, options.namespace_selector)
    except ApiError:
        return None


def appeared(listed, options: BackupOptions, choice: NamespaceChoice, taken: List[str]) -> List[str]:
    """The namespaces of a listing that match the selection and are not yet taken: a namespace created during a
    backup is in it, as Velero's would be."""
    try:
        now = _choose(listed, options, choice.named).names
    except InvalidInputError:
        return []  # every namespace gone meanwhile: what was taken stands
    return sorted(set(now) - set(taken))


def _listed(k8s, selector):
    try:
        return list(k8s.list(resource_path("", "v1", "namespaces"), label_selector=selector))
    except ApiError as e:
        if e.status == 403:
            raise ApiError("namespaces: listing Namespaces was refused (%s); namespaces: ['*'] and namespace_selector "
                           "need list on namespaces (a ClusterRole): name the namespaces instead" % e.message,
                           status=e.status)
        if e.status == 400:
            raise InvalidInputError("namespace_selector: the API server refused %r: %s" % (selector, e.message))
        raise


def _nothing_chosen(options: BackupOptions, candidates):
    if candidates:
        return "exclude_namespaces: excludes every namespace selected (%s); nothing would be backed up" % (
            ", ".join(candidates[:10]) + (", ..." if len(candidates) > 10 else ""))
    if options.namespace_selector:
        return "namespace_selector: no namespace matches %r (besides %s, left out unless named)" % (
            options.namespace_selector, ", ".join(SYSTEM_NAMESPACES))
    return "namespaces: the cluster has no namespace besides %s (left out of '*' unless named)" % (
        ", ".join(SYSTEM_NAMESPACES))
