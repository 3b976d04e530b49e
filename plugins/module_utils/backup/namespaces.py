# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which namespaces a backup takes: the ones named, or every namespace (['*']) or those a namespace_selector
matches, as the cluster lists them when the backup starts, less exclude_namespaces.

The cluster's own namespaces (SYSTEM_NAMESPACES) are left out of ['*'] and of a selector's match unless named:
a restore into another cluster must not carry one cluster's kube-system into another's.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from typing import List, TYPE_CHECKING, Tuple

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import ApiError, InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path

if TYPE_CHECKING:  # the types only: at run time the services do not import their callers' options
    from ansible_collections.lifeboat.k8s.plugins.module_utils.options.backup import BackupOptions

SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")


def chosen_namespaces(k8s, options: BackupOptions) -> Tuple[List[str], List[str]]:
    """(the namespaces to back up, sorted; warnings). Refuses, naming the option, a selection that leaves none."""
    if not options.selects_namespaces:
        chosen = [n for n in options.namespaces if not options.excluded(n)]
        return sorted(set(chosen)), []
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
    for name in options.namespaces:
        if name not in candidates and name not in [n["metadata"]["name"] for n in listed]:
            warnings.append("namespace %s does not match namespace_selector %r: not backed up" % (
                name, options.namespace_selector))
    chosen = sorted(n for n in candidates if not options.excluded(n))
    if not chosen:
        raise InvalidInputError(_nothing_chosen(options, candidates))
    return chosen, warnings


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
