# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a namespace holds, in a form two namespaces can be compared by:
object counts, the objects that are the user's (with a digest of each, after the drill's own
normalization: normalize.py, never the restore's code), PVCs and workloads."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from typing import Any, Dict, List, TYPE_CHECKING

from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.collector import Problems, discover, list_concurrently
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ApiError,
    InvalidInputError,
    LifeboatError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.waiting import wait_until
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.workdir import PrivateWorkdir
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.archive import ArchiveError, read_items
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.layout import files_of, local_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.manifest import describe_error, read_manifest, verify
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.sealing import open_sealed
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.selectors import label_selector_requirements, selector_matches
from ansible_collections.lifeboat.k8s.plugins.module_utils.verify.normalize import (
    EXPECTED_DIFFERENCES,
    differing_fields,
    digest,
    field_digests,
    normalized,
    not_compared,
    owners_of,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.volumes.snapshots import require_namespace

if TYPE_CHECKING:  # the types only: at run time the services do not import their callers' options
    from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.base import ObjectStore
    from ansible_collections.lifeboat.k8s.plugins.module_utils.options.verify import NamespaceInfoOptions


WORKLOAD_KINDS = ("deployments.apps", "statefulsets.apps", "daemonsets.apps")
# Container states that waiting does not cure: kubelet will not pull, or cannot build the container.
# (ImagePullBackOff and CrashLoopBackOff may still recover; they are reported and waited for.)
HOPELESS_REASONS = ("ErrImageNeverPull", "InvalidImageName", "CreateContainerConfigError")


def _workload(res_dir, obj, pods):
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if res_dir == "daemonsets.apps":
        desired, ready = status.get("desiredNumberScheduled", 0), status.get("numberAvailable", 0)
    else:
        desired = spec.get("replicas", 1)
        ready = status.get("availableReplicas" if res_dir == "deployments.apps" else "readyReplicas", 0) or 0
    available = ready >= desired
    return {"kind": obj.get("kind"), "name": obj["metadata"]["name"], "desired": desired, "ready": ready,
            "available": available, "reason": None if available else _why_unavailable(spec, pods)}


def _selected(selector, pod):
    """Whether a workload's LabelSelector (matchLabels and matchExpressions) selects the pod."""
    try:
        requirements = label_selector_requirements(selector or {})
    except LifeboatError:
        return False  # an unknown operator matches nothing
    # An empty selector selects nothing here (workloads always have one).
    return bool(requirements) and selector_matches(requirements, pod["metadata"].get("labels"))


def pod_problem(pod):
    """Why a pod is not ready, from its status: a waiting container's reason and message, an
    unschedulable condition, or its phase."""
    status = pod.get("status") or {}
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") and waiting["reason"] != "ContainerCreating":
            return "%s: %s" % (waiting["reason"], waiting.get("message") or "container " + container.get("name", "?"))
        terminated = (container.get("lastState") or {}).get("terminated") or {}
        if terminated.get("reason") and not container.get("ready"):
            return "container %s last exited: %s (exit code %s)" % (
                container.get("name"), terminated["reason"], terminated.get("exitCode"))
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return "unschedulable: %s" % condition.get("message", "")
    return "pod %s is %s" % (pod["metadata"]["name"], status.get("phase", "Pending"))


def _why_unavailable(spec, pods):
    mine = [p for p in pods if _selected(spec.get("selector"), p)]
    if not mine:
        return "no pods"
    problems = sorted(set(pod_problem(p) for p in mine))
    return "; ".join(problems)


def ready_nodes(k8s):
    try:
        nodes = list(k8s.list(resource_path("", "v1", "nodes")))
    except ApiError:
        return None  # not allowed to list nodes: unknown
    return sum(1 for n in nodes if any(c.get("type") == "Ready" and c.get("status") == "True"
                                       for c in (n.get("status") or {}).get("conditions") or []))


def describe(k8s, namespace, resources, warnings, options: NamespaceInfoOptions):
    """One look at the namespace; resources are the discovered namespaced types."""
    objects = []
    problems = Problems()
    list_concurrently(k8s, [(r, namespace) for r in resources], None, lambda o: True,
                      lambda r, o: objects.append((r.dir, o)), problems)
    # A type that cannot be listed makes the comparison blind to it: say so.
    warnings = list(warnings) + problems.warnings + [
        "not compared: %s" % describe_error(e) for e in problems.errors]
    return summarize(objects, namespace, warnings, options, ready_nodes(k8s))


def describe_backup(store: ObjectStore, options: NamespaceInfoOptions):
    """The namespace as a backup holds it, for a comparison when its cluster is gone: the backup's files are
    checked against its manifest's checksums first. Its PVCs and workloads are as they were at the backup."""
    name, namespace = str(options.backup), options.namespace
    manifest = read_manifest(store, name)
    if manifest is None:
        raise NotFoundError("backup: %r is not a complete backup in %s" % (name, store.url))
    if namespace not in manifest.namespaces:
        raise InvalidInputError("namespace: backup %s does not hold namespace %s (it holds: %s)" % (
            name, namespace, ", ".join(manifest.namespaces)))
    sealed = manifest.encryption
    identities = options.encryption.identities
    with PrivateWorkdir("describe") as workdir:
        problem = verify(store, manifest, workdir)
        if problem:
            raise ArchiveError("backup %s failed its checksum check: %s" % (name, problem))
        archive_name = files_of(name, bool(sealed))["archive"]
        with open_sealed(local_path(workdir, archive_name), sealed, identities, archive_name) as archive:
            objects = [(res_dir, obj) for res_dir, item_namespace, _name, obj in read_items(archive)
                       if item_namespace == namespace]
    warnings = [] if manifest.phase == "Completed" else [
        "backup %s is %s: the comparison sees what it holds" % (name, manifest.phase)]
    info = summarize(objects, namespace, warnings, options, None)
    return dict(info, changed=False, backup=name)


def summarize(objects, namespace, warnings, options: NamespaceInfoOptions, nodes):
    """Counts, digests, PVCs and workloads of a namespace's objects [(resource dir, object)]; the fields of those
    named in fields_of, and how they differ from compare_with's."""
    owners = owners_of(objects)
    services = set(o["metadata"]["name"] for d, o in objects if d == "services")
    counts: Dict[Any, Any] = {}
    compared: Dict[Any, Any] = {}
    digests: Dict[Any, Any] = {}
    fields: Dict[str, Dict[str, str]] = {}
    pvcs, workloads = [], []
    pods = [o for d, o in objects if d == "pods"]
    for res_dir, obj in sorted(objects, key=lambda item: (item[0], item[1]["metadata"]["name"])):
        name = obj["metadata"]["name"]
        counts[res_dir] = counts.get(res_dir, 0) + 1
        if not_compared(res_dir, obj, owners, services) is None:
            compared[res_dir] = compared.get(res_dir, 0) + 1
            body = normalized(res_dir, obj, namespace, options.storage_class_mapping, owners)
            digests.setdefault(res_dir, {})[name] = digest(body)
            if "%s/%s" % (res_dir, name) in options.fields_of:
                fields["%s/%s" % (res_dir, name)] = field_digests(body)
        if res_dir == "persistentvolumeclaims":
            pvcs.append({"name": name, "phase": (obj.get("status") or {}).get("phase"),
                         "volume_name": obj["spec"].get("volumeName"),
                         "storage_class": obj["spec"].get("storageClassName")})
        elif res_dir in WORKLOAD_KINDS:
            workloads.append(_workload(res_dir, obj, pods))
    result = {
        "namespace": namespace, "counts": counts, "restorable_counts": compared, "digests": digests,
        "expected_differences": list(EXPECTED_DIFFERENCES) + [
            "StorageClasses mapped: %s -> %s" % pair for pair in sorted(options.storage_class_mapping.items())],
        "pvcs": pvcs, "pvcs_bound": all(p["phase"] == "Bound" for p in pvcs),
        "workloads": workloads, "ready_nodes": nodes,
        "workloads_available": None if not nodes else all(w["available"] for w in workloads),
        "warnings": list(warnings),
    }
    if options.fields_of:
        result["fields"] = fields
    if options.compare_with is not None:
        result["differing_fields"] = dict(
            (name, differing_fields(options.compare_with.get(name, {}), fields.get(name, {})))
            for name in options.fields_of if options.compare_with.get(name) != fields.get(name))
    return result


def unsettled(info):
    waiting = ["PVC %s (%s)" % (p["name"], p["phase"]) for p in info["pvcs"] if p["phase"] != "Bound"]
    if info["workloads_available"] is False:
        waiting += ["%s %s (%d/%d ready: %s)" % (w["kind"], w["name"], w["ready"], w["desired"], w["reason"])
                    for w in info["workloads"] if not w["available"]]
    return ", ".join(waiting)


def hopeless(info):
    return any(w["reason"] and any(r + ":" in w["reason"] for r in HOPELESS_REASONS)
               for w in info["workloads"] if not w["available"])


def namespace_info(k8s, options: NamespaceInfoOptions):
    namespace = options.namespace
    require_namespace(k8s, namespace)
    warnings: List[str] = []
    # Discovered once: the resource types do not change while we wait.
    discovered, failed = discover(k8s)
    warnings.extend("not compared: API group %s/%s could not be discovered: %s" % f for f in failed)
    resources = [r for r in discovered if r.namespaced]
    state = {"info": describe(k8s, namespace, resources, warnings, options)}
    if options.wait:
        def settled():
            state["info"] = describe(k8s, namespace, resources, warnings, options)
            info = state["info"]
            if info["workloads_available"] is False and hopeless(info):
                raise LifeboatError("namespace %s will not settle by waiting: %s" % (namespace, unsettled(info)))
            return info["pvcs_bound"] and info["workloads_available"] is not False

        def pending():
            return "namespace %s to settle: %s" % (namespace, unsettled(state["info"]))
        wait_until(settled, options.wait_timeout, pending)
    result = dict(state["info"], changed=False)
    if result["workloads_available"] is None and result["workloads"]:
        result["warnings"].append("workload availability not checked: the cluster has no ready nodes")
    return result
