# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which namespaces a backup takes: the ones named, or every namespace (['*']) or those a namespace_selector
matches, as the cluster lists them when the backup starts, less exclude_namespaces; and, listed again once the
objects are, those that appeared meanwhile and match.

The cluster's own namespaces (SYSTEM_NAMESPACES) are left out of ['*'] and of a selector's match unless named:
a restore into another cluster must not carry one cluster's kube-system into another's.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from dataclasses import dataclass, field
from typing import Callable, List, Optional, TYPE_CHECKING

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
    # appeared(taken): the namespaces matching the selection now that are not in taken (None: named ones only)
    appeared: Optional[Callable[[List[str]], List[str]]] = None

    @property
    def cluster_wide(self) -> bool:
        """Whether to list each type across the cluster and keep what is in the chosen namespaces."""
        return lists_across_cluster(len(self.names), self.in_cluster)


def chosen_namespaces(k8s, options: BackupOptions) -> NamespaceChoice:
    """The namespaces to back up. Refuses, naming the option, a selection that leaves none."""
    if not options.selects_namespaces:
        return NamespaceChoice(sorted(set(n for n in options.namespaces if not options.excluded(n))))
    listed = _listed(k8s, options.namespace_selector)
    warnings = []
    candidates = []
    for namespace in listed:
        name = namespace["metadata"]["name"]
        if (namespace.get("status") or {}).get("phase") == "Terminating":
            warnings.append("namespace %s is being deleted: not backed up" % name)
        elif options.namespaces and name not in options.namespaces:
            continue
        elif name in SYSTEM_NAMESPACES and name not in options.namespaces:
            continue
        else:
            candidates.append(name)
    listed_names = set(n["metadata"]["name"] for n in listed)
    for name in options.namespaces:
        if name not in candidates and name not in listed_names:
            warnings.append("namespace %s does not match namespace_selector %r: not backed up" % (
                name, options.namespace_selector))
    chosen = sorted(n for n in candidates if not options.excluded(n))
    if not chosen:
        raise InvalidInputError(_nothing_chosen(options, candidates))
    return NamespaceChoice(chosen, warnings, len(listed))


def appeared_namespaces(k8s, options: BackupOptions) -> Optional[Callable[[List[str]], List[str]]]:
    """For ['*'] or a selector: a function listing the namespaces again and returning those that match the
    selection and are not yet taken. A namespace created during a backup is then in it, as Velero's would be."""
    if not options.selects_namespaces:
        return None

    def appeared(taken: List[str]) -> List[str]:
        try:
            now = chosen_namespaces(k8s, options).names
        except (ApiError, InvalidInputError):
            return []  # every namespace gone meanwhile, or listing refused now: what was taken stands
        return sorted(set(now) - set(taken))
    return appeared


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
