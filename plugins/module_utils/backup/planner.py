# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore planning: pure functions from backed-up objects to what is created.

The rules (see DESIGN.md, "Restore rules"): restore order, stripped
server-owned fields, objects the cluster recreates are skipped (and the source
cluster's VolumeSnapshots: volumes come back from the backup's snapshot records
through the block store driver instead), services lose
their allocated IPs and node ports, namespace mapping (objects, PV claimRefs,
binding subjects), user transforms (a condition and RFC 6902 operations).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError

try:
    import jmespath

    JMESPATH_IMPORT_ERROR = None
except ImportError as e:
    JMESPATH_IMPORT_ERROR = e

try:
    import jsonpatch
    import jsonpointer
    JSONPATCH_IMPORT_ERROR = None
except ImportError as e:  # pragma: no cover - reported when a transform is given
    JSONPATCH_IMPORT_ERROR = e

# Restore order; everything not listed goes alphabetically between these and WORKLOADS.
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
STRIPPED_METADATA = (
    "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
    "deletionGracePeriodSeconds", "selfLink", "managedFields", "ownerReferences", "generateName",
)
PVC_ANNOTATIONS = (
    "pv.kubernetes.io/bind-completed", "pv.kubernetes.io/bound-by-controller", "volume.kubernetes.io/selected-node",
    "volume.beta.kubernetes.io/storage-provisioner", "volume.kubernetes.io/storage-provisioner",
    # Velero's: a snapshot of the source cluster (also written for Velero's restore), its backup bookkeeping.
    "velero.io/volume-snapshot-name", "backup.velero.io/must-include-additional-items",
)
# Labels Velero's backup puts on the PVCs it snapshots: they name the source's backup and snapshot.
PVC_LABELS = ("velero.io/backup-name", "velero.io/volume-snapshot-name")
# Never restored, as Velero's restore never restores them (Velero backs up Events and Nodes): records
# of the source cluster's machinery, and Velero's own bookkeeping.
NOT_RESTORED = frozenset((
    "nodes", "events", "events.events.k8s.io", "backups.velero.io", "restores.velero.io",
    "resticrepositories.velero.io", "backuprepositories.velero.io", "csinodes.storage.k8s.io",
    "volumeattachments.storage.k8s.io",
))
JOB_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
SERVER_LABELS = {"namespaces": ("kubernetes.io/metadata.name",)}


def tier(res_dir):
    """Sort key: priority list, then the rest alphabetically, then workloads."""
    if res_dir in PRIORITY:
        return (0, PRIORITY.index(res_dir), "")
    if res_dir in WORKLOADS:
        return (2, WORKLOADS.index(res_dir), "")
    return (1, 0, res_dir)


def resource_matches(res_dir, kind, patterns):
    """Does a resource match any of 'configmaps', 'deployments.apps', 'Deployment', '*.apps', '*'?"""
    plural, _dot, group = res_dir.partition(".")
    for pattern in patterns:
        p = pattern.lower()
        if p in ("*", res_dir, plural) or (kind and p == kind.lower()):
            return True
        if group and p == "*." + group:  # every resource of a group, e.g. '*.metrics.k8s.io'
            return True
    return False


def owners_in_backup(obj, uids):
    """The controller owner of obj if that owner is itself in the backup."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("uid") in uids:
            return ref
    return None


def never_restored(res_dir):
    """Why every object of a kind is skipped, or None."""
    if res_dir in NOT_RESTORED:
        return "a record of the source cluster, never restored (as Velero's restore does)"
    if res_dir in ("volumesnapshots.snapshot.storage.k8s.io", "volumesnapshotcontents.snapshot.storage.k8s.io"):
        return "snapshot of the source cluster: volumes come back from the backup's snapshot records"
    return None


def skip_reason(res_dir, obj, uids, service_names):
    """Why an object is not restored (the cluster recreates it), or None."""
    meta = obj.get("metadata", {})
    never = never_restored(res_dir)
    if never:
        return never
    owner = owners_in_backup(obj, uids)
    if owner:
        return "owned by %s %s, which recreates it" % (owner.get("kind"), owner.get("name"))
    if res_dir == "secrets" and obj.get("type") == "kubernetes.io/service-account-token":
        return "service account token: the cluster mints new ones"
    if res_dir == "configmaps" and meta.get("name") == "kube-root-ca.crt":
        return "published into every namespace by the cluster"
    if res_dir == "endpoints" and (meta.get("namespace"), meta.get("name")) in service_names:
        return "endpoints of a Service: the cluster recreates them"
    if res_dir == "endpointslices.discovery.k8s.io" and \
            (meta.get("labels") or {}).get("endpointslice.kubernetes.io/managed-by") == "endpointslice-controller.k8s.io":
        return "endpoint slice of a Service: the cluster recreates it"
    if res_dir == "pods" and (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return "finished pod"
    return None


def prepare(res_dir, obj, mapping, keep_status=False, preserve_node_ports=False):
    """The object to create: stripped, namespace-mapped, with per-kind rules."""
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    for field in STRIPPED_METADATA:
        meta.pop(field, None)
    if not keep_status:
        obj.pop("status", None)
    for label in SERVER_LABELS.get(res_dir, ()):
        (meta.get("labels") or {}).pop(label, None)
    if meta.get("namespace"):
        meta["namespace"] = mapping.get(meta["namespace"], meta["namespace"])
    if res_dir == "namespaces":
        meta["name"] = mapping.get(meta["name"], meta["name"])
    spec = obj.get("spec") or {}
    if res_dir == "services":
        _prepare_service(spec, preserve_node_ports)
    elif res_dir == "serviceaccounts":
        prefix = meta.get("name", "") + "-token-"
        obj["secrets"] = [s for s in obj.get("secrets") or [] if not s.get("name", "").startswith(prefix)]
        if not obj["secrets"]:
            obj.pop("secrets")
    elif res_dir == "persistentvolumeclaims":
        annotations = meta.get("annotations") or {}
        for key in PVC_ANNOTATIONS:
            annotations.pop(key, None)
        for key in PVC_LABELS:
            (meta.get("labels") or {}).pop(key, None)
    elif res_dir == "persistentvolumes":
        claim = spec.get("claimRef")
        if claim:
            for field in ("uid", "resourceVersion"):
                claim.pop(field, None)
            claim["namespace"] = mapping.get(claim.get("namespace"), claim.get("namespace"))
    elif res_dir in ("rolebindings.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io"):
        for subject in obj.get("subjects") or []:
            if subject.get("namespace"):
                subject["namespace"] = mapping.get(subject["namespace"], subject["namespace"])
    elif res_dir == "pods":
        _prepare_pod(spec)
    elif res_dir == "jobs.batch":
        _prepare_job(meta, spec)
    return obj


def _prepare_service(spec, preserve_node_ports):
    if spec.get("clusterIP") != "None":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    if not preserve_node_ports:
        spec.pop("healthCheckNodePort", None)
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)


def _prepare_pod(spec):
    spec.pop("nodeName", None)
    spec.pop("priority", None)
    # The old service account token volume: admission injects a fresh one.
    tokens = set(v["name"] for v in spec.get("volumes") or []
                 if v.get("name", "").startswith("kube-api-access-") and "projected" in v)
    if tokens:
        spec["volumes"] = [v for v in spec["volumes"] if v["name"] not in tokens]
        for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            if container.get("volumeMounts"):
                container["volumeMounts"] = [m for m in container["volumeMounts"] if m.get("name") not in tokens]


def _prepare_job(meta, spec):
    for labels in (meta.get("labels") or {}, ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}):
        for label in JOB_LABELS:
            labels.pop(label, None)
    if not spec.get("manualSelector"):
        spec.pop("selector", None)


# ---------------------------------------------------------------- label selectors

_REQUIREMENT = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9_.-]*)|"
                          r"\s+(in|notin)\s*\(([^)]*)\))?\s*$")


def parse_selector(selector, option="label_selector"):
    """'app=web,tier in (a,b),!legacy' -> a list of requirements."""
    requirements = []
    if not selector:
        return requirements
    for part in re.split(r",(?![^(]*\))", selector):
        match = _REQUIREMENT.match(part)
        if not match:
            raise InvalidInputError("%s: cannot parse %r" % (option, part.strip()))
        negated, key, op, value, set_op, values = match.groups()
        if negated:
            requirements.append((key, "!", None))
        elif op:
            requirements.append((key, "!=" if op == "!=" else "=", value))
        elif set_op:
            requirements.append((key, set_op, set(v.strip() for v in values.split(","))))
        else:
            requirements.append((key, "exists", None))
    return requirements


def selector_matches(requirements, labels):
    labels = labels or {}
    for key, op, value in requirements:
        present = key in labels
        if op == "=" and labels.get(key) != value:
            return False
        if op == "!=" and labels.get(key) == value:
            return False
        if op == "in" and labels.get(key) not in value:
            return False
        if op == "notin" and present and labels[key] in value:
            return False
        if op == "exists" and not present:
            return False
        if op == "!" and present:
            return False
    return True


# ---------------------------------------------------------------- JMESPath and transforms

def compile_jmespath(expression, option):
    if not expression:
        return None
    if JMESPATH_IMPORT_ERROR is not None:
        from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import MissingLibraryError
        raise MissingLibraryError("jmespath", JMESPATH_IMPORT_ERROR)
    try:
        return jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as e:
        raise InvalidInputError("%s: invalid JMESPath expression %r: %s" % (option, expression, e))


class Transform:
    """One rule: a condition on the backed-up object and RFC 6902 operations."""

    def __init__(self, rule, index):
        option = "transforms[%d]" % index
        self.option = option
        self.resources = rule.get("resources") or []
        self.namespaces = rule.get("namespaces") or []
        try:
            self.name_regex = re.compile(rule["name_regex"]) if rule.get("name_regex") else None
        except re.error as e:
            raise InvalidInputError("%s.name_regex: %s" % (option, e))
        self.selector = parse_selector(rule.get("label_selector"), option + ".label_selector")
        self.jmespath = compile_jmespath(rule.get("jmespath"), option + ".jmespath")
        self.patch = json_patch_operations(rule.get("patch") or [], option + ".patch")

    def matches(self, res_dir, obj):
        meta = obj.get("metadata") or {}
        if self.resources and not resource_matches(res_dir, obj.get("kind"), self.resources):
            return False
        if self.namespaces and meta.get("namespace") not in self.namespaces:
            return False
        if self.name_regex and not self.name_regex.search(meta.get("name", "")):
            return False
        if self.selector and not selector_matches(self.selector, meta.get("labels")):
            return False
        if self.jmespath and not self.jmespath.search(obj):
            return False
        return True

    def apply(self, obj):
        return json_patch(obj, self.patch, self.option + ".patch")


# RFC 6902 through the jsonpatch library. Every operation is checked before any is applied (its members and
# pointer syntax, which the library checks only when it gets to it); what depends on the object (a path that
# does not exist, an index past the end, a failed test) is checked per object and names the operation.
PATCH_MEMBERS = {"add": ("value",), "replace": ("value",), "test": ("value",), "remove": (),
                 "move": ("from",), "copy": ("from",)}


def json_patch_operations(operations, option="patch"):
    """Validate RFC 6902 operations up front; returns one jsonpatch.JsonPatch per operation."""
    if JSONPATCH_IMPORT_ERROR is not None:
        from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import MissingLibraryError
        raise MissingLibraryError("jsonpatch", JSONPATCH_IMPORT_ERROR)
    if not isinstance(operations, list):
        raise InvalidInputError("%s: expected a list of RFC 6902 operations" % option)
    compiled = []
    for index, op in enumerate(operations):
        where = "%s[%d]" % (option, index)
        if not isinstance(op, dict) or op.get("op") not in PATCH_MEMBERS:
            raise InvalidInputError("%s: expected {op: add|remove|replace|move|copy|test, path: /...}" % where)
        for member in ("path",) + PATCH_MEMBERS[op["op"]]:
            if member not in op:
                raise InvalidInputError("%s: %s needs %r" % (where, op["op"], member))
        if op["op"] == "remove" and op["path"] == "":
            raise InvalidInputError("%s: remove needs a path below the root ('' is the whole object)" % where)
        for member in ("path", "from"):
            if member in op:
                if not isinstance(op[member], str):
                    raise InvalidInputError("%s: %s must be a JSON pointer string" % (where, member))
                try:
                    jsonpointer.JsonPointer(op[member])
                except jsonpointer.JsonPointerException as e:
                    raise InvalidInputError("%s: %s %r is not a JSON pointer: %s" % (where, member, op[member], e))
        try:
            compiled.append((where, op, jsonpatch.JsonPatch([op])))
        except jsonpatch.JsonPatchException as e:
            raise InvalidInputError("%s: %s" % (where, e))
    return compiled


def json_patch(doc, operations, option="patch"):
    """Apply RFC 6902 operations (raw, or as validated by json_patch_operations) to a copy of doc."""
    if operations and not isinstance(operations[0], tuple):
        operations = json_patch_operations(operations, option)
    doc = copy.deepcopy(doc)
    for where, op, patch in operations:
        # Checked here so that messages never quote the object (the library's do: a Secret's data).
        missing = _missing_location(doc, op)
        if missing:
            raise InvalidInputError("%s: %s: %s does not exist in the object" % (where, op["op"], missing))
        try:
            doc = patch.apply(doc, in_place=True)
        except jsonpatch.JsonPatchTestFailed:
            raise InvalidInputError("%s: test of %r failed" % (where, op["path"]))
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as e:
            reason = str(e) if "{" not in str(e) and "[" not in str(e) else "does not apply to this object"
            raise InvalidInputError("%s: %s %r: %s" % (where, op["op"], op["path"], reason))
    return doc


_ABSENT = object()


def _missing_location(doc, op):
    """What the operation needs and the object lacks (e.g. "path '/a/b'"), or None."""
    needed = [("path %r" % op["path"], op["path"])] if op["op"] in ("remove", "replace", "test") else []
    if op["op"] in ("move", "copy"):
        needed.append(("from %r" % op["from"], op["from"]))
    if op["op"] in ("add", "move", "copy") and op["path"]:
        parent = jsonpointer.JsonPointer.from_parts(jsonpointer.JsonPointer(op["path"]).parts[:-1]).path
        needed.append(("%r, the parent of path %r," % (parent, op["path"]), parent))
    for member, pointer in needed:
        try:
            found = jsonpointer.resolve_pointer(doc, pointer, _ABSENT)
        except jsonpointer.JsonPointerException:
            found = _ABSENT
        if found is _ABSENT:
            return member
    return None


# ---------------------------------------------------------------- comparing with what exists

def is_subset(desired, existing):
    """Is every field of desired present and equal in existing? (Servers add defaults.)"""
    if isinstance(desired, dict):
        return isinstance(existing, dict) and all(
            is_subset(v, existing[k]) if k in existing else v in ({}, [], None) for k, v in desired.items())
    if isinstance(desired, list):
        # Element by element: a Service port gains its allocated nodePort, a container its defaults.
        return isinstance(existing, list) and len(desired) == len(existing) and all(
            is_subset(d, e) for d, e in zip(desired, existing))
    return desired == existing


def comparable(obj):
    """The parts of an object a restore sets: labels, annotations and the body."""
    meta = obj.get("metadata") or {}
    body = dict((k, v) for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind"))
    body["metadata"] = {"labels": meta.get("labels") or {}, "annotations": meta.get("annotations") or {}}
    return body
