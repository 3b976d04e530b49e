#!/usr/bin/env python
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare two namespaces object by object, after the documented restore stripping.

usage: compare_namespaces.py KUBECTL KUBECONFIG SOURCE_NS TARGET_NS
Prints JSON {"differences": [...], "compared": {resource: count}}. Objects the
cluster recreates (owned objects, token secrets, kube-root-ca.crt) are left out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import subprocess
import sys

RESOURCES = [
    "configmaps", "secrets", "serviceaccounts", "roles.rbac.authorization.k8s.io",
    "rolebindings.rbac.authorization.k8s.io", "persistentvolumeclaims", "deployments.apps", "statefulsets.apps",
    "services", "networkpolicies.networking.k8s.io", "resourcequotas", "widgets.lifeboat.example.com",
    "httproutes.gateway.networking.k8s.io",
]
META_STRIPPED = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "namespace")
SERVER_ANNOTATIONS = (
    "pv.kubernetes.io/bind-completed", "pv.kubernetes.io/bound-by-controller", "volume.kubernetes.io/storage-provisioner",
    "volume.beta.kubernetes.io/storage-provisioner", "deployment.kubernetes.io/revision",
    "kubectl.kubernetes.io/last-applied-configuration",
)


def objects(kubectl, kubeconfig, namespace, resource):
    out = subprocess.check_output([kubectl, "--kubeconfig", kubeconfig, "get", resource, "-n", namespace, "-o", "json"])
    return json.loads(out)["items"]


def recreated_by_cluster(resource, obj):
    meta = obj["metadata"]
    if resource == "configmaps" and meta["name"] == "kube-root-ca.crt":
        return True
    if resource == "secrets" and obj.get("type") == "kubernetes.io/service-account-token":
        return True
    return bool(meta.get("ownerReferences"))


def normalize(resource, obj, namespace):
    obj = json.loads(json.dumps(obj).replace('"%s"' % namespace, '"NAMESPACE"'))
    obj.pop("status", None)
    meta = obj["metadata"]
    for field in META_STRIPPED:
        meta.pop(field, None)
    annotations = meta.get("annotations") or {}
    for key in SERVER_ANNOTATIONS:
        annotations.pop(key, None)
    for key in [k for k in annotations if k.startswith("lifeboat.k8s/")]:
        annotations.pop(key)  # volume_restore's bookkeeping on restored PVCs
    if not annotations:
        meta.pop("annotations", None)
    if (meta.get("labels") or {}).get("app.kubernetes.io/managed-by") == "lifeboat" and resource == "persistentvolumeclaims":
        meta["labels"].pop("app.kubernetes.io/managed-by")
    spec = obj.get("spec") or {}
    if resource == "services":
        spec.pop("clusterIP", None) if spec.get("clusterIP") != "None" else None
        spec.pop("clusterIPs", None)
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)
    if resource == "persistentvolumeclaims":
        spec.pop("volumeName", None)
        spec.pop("dataSource", None)
        spec.pop("dataSourceRef", None)
    if resource == "secrets" and obj.get("type") == "kubernetes.io/service-account-token":
        obj.pop("data", None)
    return obj


def main():
    kubectl, kubeconfig, source, target = sys.argv[1:5]
    differences = []
    compared = {}
    for resource in RESOURCES:
        want = dict((o["metadata"]["name"], normalize(resource, o, source))
                    for o in objects(kubectl, kubeconfig, source, resource) if not recreated_by_cluster(resource, o))
        have = dict((o["metadata"]["name"], normalize(resource, o, target))
                    for o in objects(kubectl, kubeconfig, target, resource) if not recreated_by_cluster(resource, o))
        compared[resource] = len(want)
        for name in sorted(set(want) | set(have)):
            if name not in have:
                differences.append("%s/%s is missing from %s" % (resource, name, target))
            elif name not in want:
                differences.append("%s/%s is in %s but not in %s" % (resource, name, target, source))
            elif want[name] != have[name]:
                differences.append("%s/%s differs: %s != %s" % (resource, name, json.dumps(want[name], sort_keys=True),
                                                                json.dumps(have[name], sort_keys=True)))
    print(json.dumps({"differences": differences, "compared": compared}, sort_keys=True))


if __name__ == "__main__":
    main()
