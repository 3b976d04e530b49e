# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drill's own normalization: how an original and its restored copy are made comparable.

A verdict must not trust the code it judges, so nothing here comes from the restore (restore/, actions/):
the rules are written from what Kubernetes itself sets, and they are few. Two kinds:

- Fields the API server sets on every object (NOT_OURS) are dropped on both sides: they never were the user's.
- EXPECTED_DIFFERENCES are fields a correct restore into another namespace or cluster changes by design. They
  are dropped on both sides too, and listed in every description (and the drill's report), so what the
  comparison does not see is said, not hidden.

Objects some controller or the cluster itself makes (NOT_COMPARED) are not compared: they are judged through
what makes them (a Deployment's pods through its availability; Services' endpoints through the Service).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import json

PLACEHOLDER = "NAMESPACE"
# Set by the API server or a controller on every object; never part of what a user wrote.
NOT_OURS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
            "deletionTimestamp", "deletionGracePeriodSeconds")
SERVER_ANNOTATIONS = ("deployment.kubernetes.io/revision",)
PVC_BINDING_ANNOTATIONS = ("pv.kubernetes.io/", "volume.kubernetes.io/", "volume.beta.kubernetes.io/",
                           "velero.io/", "backup.velero.io/")
EXPECTED_DIFFERENCES = (
    "status (the target cluster's own observations)",
    "the namespace's name, wherever a value is exactly that name",
    "an ownerReference's uid and apiVersion (an owner is a new object): each reference is compared by the kind and "
    "name it names, its controller and blockOwnerDeletion, and whether an object of that kind and name in the "
    "namespace has its uid",
    "generateName (the name is kept)",
    "a Service's cluster IPs, node ports and healthCheckNodePort (allocated by the target cluster)",
    "a PVC's volumeName, dataSource, dataSourceRef and binding annotations (pv.kubernetes.io/, volume.kubernetes.io/,"
    " velero.io/...): its volume is a new one in the target",
    "lifeboat's marks: lifeboat.k8s/ labels and annotations, and app.kubernetes.io/managed-by: lifeboat on PVCs",
    "a pod's nodeName and service-account token volume (kube-api-access-*), set again by the scheduler and admission",
    "a Job's controller-uid labels and the selector its controller generated",
    "a ServiceAccount's references to token Secrets (the cluster mints new ones)",
)


# What Kubernetes' own controllers make for the owner kinds named (None: for any controller), judged through them.
# Written here from the controllers' documentation, not taken from the restore's rules.
MADE_BY_CONTROLLERS = {
    "pods": None, "replicasets.apps": ("Deployment",), "controllerrevisions.apps": ("StatefulSet", "DaemonSet"),
    "jobs.batch": ("CronJob",), "persistentvolumeclaims": ("Pod",),  # a pod's generic ephemeral volume
}


def owners_of(objects):
    """uid -> (kind, name) of a namespace's objects [(resource dir, object)]: what owner references resolve to."""
    return dict((o["metadata"].get("uid"), (o.get("kind"), o["metadata"].get("name"))) for _d, o in objects)


def not_compared(res_dir, obj, owners, services):
    """Why an object is not compared (it is the cluster's or a controller's), or None. `owners` are the UIDs of the
    namespace's objects (owners_of); `services` the names of its Services."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    if res_dir in ("events", "events.events.k8s.io"):
        return "a record of what happened, not an object"
    if res_dir in ("volumesnapshots.snapshot.storage.k8s.io", "volumesnapshotcontents.snapshot.storage.k8s.io"):
        return "a snapshot: volumes are compared by their data"
    if res_dir in MADE_BY_CONTROLLERS:
        kinds = MADE_BY_CONTROLLERS[res_dir]
        for ref in meta.get("ownerReferences") or []:
            if isinstance(ref, dict) and ref.get("controller") and ref.get("uid") in owners and (
                    kinds is None or ref.get("kind") in kinds):
                return "made by its controller, which is compared"
    if res_dir == "endpoints" and meta.get("name") in services:
        return "endpoints of a Service, made by the cluster"
    if res_dir == "endpointslices.discovery.k8s.io" and labels.get("kubernetes.io/service-name") in services:
        return "endpoint slice of a Service, made by the cluster"
    if res_dir == "configmaps" and meta.get("name") == "kube-root-ca.crt":
        return "the cluster's CA, published into every namespace"
    if res_dir == "secrets" and obj.get("type") == "kubernetes.io/service-account-token":
        return "a service account token, minted by the cluster"
    if res_dir == "pods" and (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return "a finished pod"
    return None


def normalized(res_dir, obj, namespace, storage_class_mapping=None, owners=None):
    """The object with the server's fields and the expected differences taken out, the namespace a placeholder.
    owners (owners_of the namespace): how its owner references resolve."""
    body = copy.deepcopy(obj)
    body.pop("status", None)
    meta = body.setdefault("metadata", {})
    for field in NOT_OURS + ("generateName",):
        meta.pop(field, None)
    if meta.get("ownerReferences"):
        meta["ownerReferences"] = [_reference(ref, owners or {}) for ref in meta["ownerReferences"]]
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    for marks in (labels, annotations):
        for key in [k for k in marks if k.startswith("lifeboat.k8s/") or k in SERVER_ANNOTATIONS]:
            marks.pop(key)
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    if res_dir == "services":
        _service(spec)
    elif res_dir == "persistentvolumeclaims":
        _claim(spec, labels, annotations, storage_class_mapping)
    elif res_dir == "statefulsets.apps":
        for template in spec.get("volumeClaimTemplates") or []:
            _mapped_class(template.get("spec") or {}, storage_class_mapping)
    elif res_dir == "pods":
        _pod(spec)
    elif res_dir == "jobs.batch":
        _job(spec, labels)
    elif res_dir == "serviceaccounts":
        prefix = meta.get("name", "") + "-token-"
        body["secrets"] = [s for s in body.get("secrets") or [] if not s.get("name", "").startswith(prefix)]
    for key in ("labels", "annotations"):
        if not meta.get(key):
            meta.pop(key, None)
    if not body.get("secrets"):
        body.pop("secrets", None)
    return _placeholder(body, namespace)


def _reference(ref, owners):
    """An owner reference as the kind and name it names, and whether the namespace's object of that kind and name
    has its uid (in the source and in a faithful copy, yes; a stale or dropped link shows)."""
    if not isinstance(ref, dict):
        return ref
    named = (ref.get("kind"), ref.get("name"))
    owner = owners.get(ref.get("uid"))
    resolves = "the namespace's %s %s" % named if owner == named else "no object of the namespace"
    return {"kind": ref.get("kind"), "name": ref.get("name"), "controller": bool(ref.get("controller")),
            "blockOwnerDeletion": bool(ref.get("blockOwnerDeletion")), "uid": resolves}


def _service(spec):
    if spec.get("clusterIP") != "None":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    spec.pop("healthCheckNodePort", None)
    for port in spec.get("ports") or []:
        port.pop("nodePort", None)


def _claim(spec, labels, annotations, storage_class_mapping):
    for field in ("volumeName", "dataSource", "dataSourceRef"):
        spec.pop(field, None)
    for marks in (labels, annotations):
        for key in [k for k in marks if k.startswith(PVC_BINDING_ANNOTATIONS)]:
            marks.pop(key)
    if labels.get("app.kubernetes.io/managed-by") == "lifeboat":
        labels.pop("app.kubernetes.io/managed-by")
    _mapped_class(spec, storage_class_mapping)


def _mapped_class(spec, storage_class_mapping):
    if storage_class_mapping and spec.get("storageClassName") in storage_class_mapping:
        spec["storageClassName"] = storage_class_mapping[spec["storageClassName"]]


def _pod(spec):
    spec.pop("nodeName", None)
    tokens = set(v.get("name") for v in spec.get("volumes") or []
                 if str(v.get("name", "")).startswith("kube-api-access-") and "projected" in v)
    if tokens:
        spec["volumes"] = [v for v in spec["volumes"] if v.get("name") not in tokens]
        for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            if container.get("volumeMounts"):
                container["volumeMounts"] = [m for m in container["volumeMounts"] if m.get("name") not in tokens]


def _job(spec, labels):
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    for marks in (labels, template_labels):
        for key in ("controller-uid", "batch.kubernetes.io/controller-uid"):
            marks.pop(key, None)
    if not spec.get("manualSelector"):
        spec.pop("selector", None)


def _placeholder(value, namespace):
    if isinstance(value, dict):
        return dict((k, _placeholder(v, namespace)) for k, v in value.items())
    if isinstance(value, list):
        return [_placeholder(v, namespace) for v in value]
    return PLACEHOLDER if value == namespace else value


def digest(body):
    """SHA-256 of a normalized object."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


def field_digests(body, prefix=""):
    """{path: SHA-256 of the value} of every leaf (an empty map or list is a leaf): two objects' maps name the fields
    they differ in, without a value (a Secret's, say) leaving the module."""
    if isinstance(body, dict) and body:
        found = {}
        for key, value in body.items():
            found.update(field_digests(value, "%s.%s" % (prefix, key) if prefix else key))
        return found
    if isinstance(body, list) and body:
        found = {}
        for index, value in enumerate(body):
            found.update(field_digests(value, "%s[%d]" % (prefix, index)))
        return found
    return {prefix: hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()[:16]}


def differing_fields(original, copy_fields, limit=5):
    """The paths whose values differ, or that only one side has, shortest first (at most `limit`)."""
    paths = sorted(set(original) | set(copy_fields), key=lambda p: (p.count(".") + p.count("["), p))
    return [p for p in paths if original.get(p) != copy_fields.get(p)][:limit]
