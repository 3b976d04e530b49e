# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore order (DESIGN.md, "Restore rules"): what others need first, workloads last."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Everything not listed goes alphabetically between these and WORKLOADS.
PRIORITY = [
    "customresourcedefinitions.apiextensions.k8s.io", "namespaces", "storageclasses.storage.k8s.io",
    "volumesnapshotclasses.snapshot.storage.k8s.io", "volumesnapshotcontents.snapshot.storage.k8s.io",
    "volumesnapshots.snapshot.storage.k8s.io", "persistentvolumes", "persistentvolumeclaims",
    "clusterroles.rbac.authorization.k8s.io", "roles.rbac.authorization.k8s.io", "serviceaccounts",
    "clusterrolebindings.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io", "secrets",
    "configmaps", "limitranges", "resourcequotas", "priorityclasses.scheduling.k8s.io", "services",
]
WORKLOADS = [
    "pods", "replicasets.apps", "deployments.apps", "statefulsets.apps", "daemonsets.apps", "jobs.batch",
    "cronjobs.batch",
]


def tier(res_dir):
    """Sort key: priority list, then the rest alphabetically, then workloads."""
    if res_dir in PRIORITY:
        return (0, PRIORITY.index(res_dir), "")
    if res_dir in WORKLOADS:
        return (2, WORKLOADS.index(res_dir), "")
    return (1, 0, res_dir)
