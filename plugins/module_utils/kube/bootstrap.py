# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster-scoped objects every cluster makes for itself at start-up: a backup does not need them and a
restore into another cluster must not copy one cluster's over the other's (that cluster has its own, of its
own version)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

CLUSTER_ROLES = "clusterroles.rbac.authorization.k8s.io"
CLUSTER_ROLE_BINDINGS = "clusterrolebindings.rbac.authorization.k8s.io"
PRIORITY_CLASSES = "priorityclasses.scheduling.k8s.io"
API_SERVICES = "apiservices.apiregistration.k8s.io"
FLOW_SCHEMAS = "flowschemas.flowcontrol.apiserver.k8s.io"
PRIORITY_LEVELS = "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io"
BOOTSTRAP_RESOURCES = (CLUSTER_ROLES, CLUSTER_ROLE_BINDINGS, PRIORITY_CLASSES, API_SERVICES, FLOW_SCHEMAS,
                       PRIORITY_LEVELS)
# The apiserver's RBAC bootstrap (plugin/pkg/auth/authorizer/rbac/bootstrappolicy): the user-facing roles, and
# everything named system:*, labelled kubernetes.io/bootstrapping=rbac-defaults.
USER_FACING_ROLES = ("cluster-admin", "admin", "edit", "view")


def is_bootstrap_role_name(name):
    """Whether a ClusterRole (or ClusterRoleBinding) of this name is one every cluster makes."""
    return name in USER_FACING_ROLES or str(name).startswith("system:")


def bootstrap_reason(resource, obj):
    """Why an object is the cluster's own, or None."""
    meta = obj.get("metadata") or {}
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    name = meta.get("name", "")
    if resource in (CLUSTER_ROLES, CLUSTER_ROLE_BINDINGS):
        if labels.get("kubernetes.io/bootstrapping") == "rbac-defaults" or is_bootstrap_role_name(name):
            return "bootstrap RBAC every cluster makes for itself"
    elif resource == PRIORITY_CLASSES:
        if name.startswith("system-"):
            return "a system PriorityClass every cluster makes for itself"
    elif resource == API_SERVICES:
        if labels.get("kube-aggregator.kubernetes.io/automanaged") or not (obj.get("spec") or {}).get("service"):
            return "an API group the target's own API server serves"
    elif resource in (FLOW_SCHEMAS, PRIORITY_LEVELS):
        if annotations.get("apf.kubernetes.io/autoupdate-spec") == "true":
            return "an API Priority and Fairness default the API server keeps up to date"
    return None
