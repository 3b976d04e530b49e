"""An in-memory stand-in for the apiserver behind the client interface the services use (get, list, create,
merge_patch, delete, request, server_version). For unit tests of pure logic: backup and restore planning,
comparison, ownership marks. The real apiserver's behaviour is tested on the test bed."""

import copy
import itertools
import threading
from urllib.parse import unquote

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.api_warnings import ApiWarnings
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ApiError,
    ConflictError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import K8sClient

# (group, version, plural, kind, namespaced)
CATALOG = (
    ("", "v1", "namespaces", "Namespace", False),
    ("", "v1", "configmaps", "ConfigMap", True),
    ("", "v1", "secrets", "Secret", True),
    ("", "v1", "services", "Service", True),
    ("", "v1", "serviceaccounts", "ServiceAccount", True),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True),
    ("", "v1", "persistentvolumes", "PersistentVolume", False),
    ("", "v1", "pods", "Pod", True),
    ("", "v1", "nodes", "Node", False),
    ("", "v1", "events", "Event", True),
    ("apps", "v1", "deployments", "Deployment", True),
    ("apps", "v1", "replicasets", "ReplicaSet", True),
    ("batch", "v1", "jobs", "Job", True),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass", False),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False),
    ("example.com", "v1", "widgets", "Widget", True),
    ("snapshot.storage.k8s.io", "v1", "volumesnapshots", "VolumeSnapshot", True),
    ("snapshot.storage.k8s.io", "v1", "volumesnapshotcontents", "VolumeSnapshotContent", False),
    ("snapshot.storage.k8s.io", "v1", "volumesnapshotclasses", "VolumeSnapshotClass", False),
)


class FakeCluster(K8sClient):
    def __init__(self, catalog=CATALOG, forbidden=(), broken_groups=(),  # pylint: disable=super-init-not-called
                 aggregated_discovery=False):
        self.catalog = dict(((g, p), (v, k, n)) for g, v, p, k, n in catalog)
        self.objects = {}  # (group, plural, namespace, name) -> object
        self.forbidden = set(forbidden)  # plurals whose list is refused (403)
        self.forbidden_cluster_wide = set()  # plurals whose list across all namespaces is refused (403)
        self.broken_groups = set(broken_groups)  # groups whose discovery fails (503, or Stale when aggregated)
        # Serve apidiscovery.k8s.io/v2 when asked (Kubernetes 1.30+); else answer as older servers do.
        self.aggregated_discovery = aggregated_discovery
        self.requests = []
        self.namespace_controller = None  # called with each Namespace created, to add what a controller would
        self.host = "https://fake.invalid:6443"
        self.retries = 0
        self.warnings = ApiWarnings()
        self._uids = itertools.count(1)
        self._lock = threading.Lock()

    # What tests set up and read back.
    def add(self, group, plural, obj):
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", "uid-%d" % next(self._uids))
        meta.setdefault("resourceVersion", "1")
        meta.setdefault("creationTimestamp", "2026-11-23T00:00:00Z")
        version, kind, namespaced = self.catalog[(group, plural)]
        obj.setdefault("apiVersion", "%s/%s" % (group, version) if group else version)
        obj.setdefault("kind", kind)
        self.objects[(group, plural, meta.get("namespace") if namespaced else None, meta["name"])] = obj
        return obj

    def named(self, group, plural, namespace=None):
        return sorted(name for g, p, ns, name in self.objects if (g, p, ns) == (group, plural, namespace))

    # The client's get/create/merge_patch/delete/list/server_version are K8sClient's own, over this request().
    def request(self, method, path, body=None, query=None, content_type="application/json", raw=False, retry=None,
                accept=None):
        with self._lock:
            self.requests.append((method, path))
            dry_run = bool(query and query.get("dryRun"))
            if path == "/version":
                return {"major": "1", "minor": "36", "gitVersion": "v1.36.3-fake"}
            if path in ("/api", "/apis") and self.aggregated_discovery and "apidiscovery.k8s.io" in (accept or ""):
                return self._aggregated(path)
            if path == "/api":
                return {"kind": "APIVersions", "versions": ["v1"]}
            if path == "/apis":
                return {"groups": [{"name": g, "versions": [{"version": v}], "preferredVersion": {"version": v}}
                                   for g, v in sorted(set((g, v) for (g, _p), (v, _k, _n) in self.catalog.items()
                                                          if g))]}
            if path.startswith("/apis/") and path.count("/") == 2:  # an API group: the versions it serves
                versions = sorted(set(v for (g, _p), (v, _k, _n) in self.catalog.items() if g == path[6:]))
                if not versions:
                    raise NotFoundError("GET %s: 404 the server could not find the requested resource" % path,
                                        status=404)
                return {"kind": "APIGroup", "name": path[6:], "versions": [
                    {"groupVersion": "%s/%s" % (path[6:], v), "version": v} for v in versions]}
            if path.startswith("/apis/") and path.count("/") == 3 or path == "/api/v1":
                group = "" if path == "/api/v1" else path.split("/")[2]
                if group in self.broken_groups:
                    raise ApiError("GET %s: 503 service unavailable" % path, status=503)
                return {"resources": [{"name": p, "kind": k, "namespaced": n, "verbs": ["list", "get", "create"]}
                                      for (g, p), (_v, k, n) in sorted(self.catalog.items()) if g == group]}
            group, plural, namespace, name, sub = self._parse(path)
            if method == "GET" and name is None:
                return self._list(group, plural, namespace, (query or {}).get("labelSelector"), path)
            key = (group, plural, namespace, name)
            if method == "GET":
                return copy.deepcopy(self._existing(key, path))
            if method == "POST":
                return self._create(group, plural, namespace, body, dry_run, path)
            if method == "PATCH":
                current = copy.deepcopy(self._existing(key, path))
                merged = _merge(current, body)
                if not dry_run:
                    self.objects[key] = merged
                return copy.deepcopy(merged)
            if method == "PUT" and sub == "status":
                self._existing(key, path)["status"] = copy.deepcopy(body.get("status"))
                return body
            if method == "DELETE":
                self._existing(key, path)
                del self.objects[key]
                if plural == "namespaces" and not group:
                    for k in [k for k in self.objects if k[2] == name]:
                        del self.objects[k]
                return {}
            raise AssertionError("the fake does not serve %s %s" % (method, path))

    def _aggregated(self, path):
        """apidiscovery.k8s.io/v2 as Kubernetes 1.30+ serves it; broken groups are Stale."""
        groups = sorted(set(g for (g, _p) in self.catalog if bool(g) == (path == "/apis")))
        items = []
        for group in groups:
            version = next(v for (g, _p), (v, _k, _n) in self.catalog.items() if g == group)
            resources = [{"resource": p, "responseKind": {"group": "", "version": "", "kind": k},
                          "scope": "Namespaced" if n else "Cluster", "verbs": ["list", "get", "create"]}
                         for (g, p), (_v, k, n) in sorted(self.catalog.items()) if g == group]
            items.append({"metadata": {"name": group} if group else {}, "versions": [
                {"version": version, "resources": [] if group in self.broken_groups else resources,
                 "freshness": "Stale" if group in self.broken_groups else "Current"}]})
        return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "items": items}

    def _parse(self, path):
        segments = path.split("/")  # ['', 'api', 'v1', ...] or ['', 'apis', group, version, ...]
        group, rest = ("", segments[3:]) if segments[1] == "api" else (segments[2], segments[4:])
        parts = [unquote(p) for p in rest if p]
        namespace = None
        if parts[0] == "namespaces" and len(parts) >= 3:
            namespace, parts = parts[1], parts[2:]
        plural, name, sub = parts[0], (parts[1] if len(parts) > 1 else None), (parts[2] if len(parts) > 2 else None)
        if (group, plural) not in self.catalog:
            raise NotFoundError("%s: 404 the server could not find the requested resource" % path, status=404)
        return group, plural, namespace, name, sub

    def _existing(self, key, path):
        if key not in self.objects:
            raise NotFoundError("GET %s: 404 %s %r not found" % (path, key[1], key[3]), status=404)
        return self.objects[key]

    def _list(self, group, plural, namespace, selector, path):
        if plural in self.forbidden or (plural in self.forbidden_cluster_wide and namespace is None):
            raise ApiError("GET %s: 403 forbidden" % path, status=403)
        wanted = dict(term.split("=", 1) for term in (selector or "").split(",") if "=" in term)
        items = [copy.deepcopy(o) for (g, p, ns, _n), o in sorted(self.objects.items(), key=lambda kv: kv[0][3])
                 if (g, p) == (group, plural) and (namespace is None or ns == namespace)
                 and all((o["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())]
        return {"items": items, "metadata": {}}

    def _create(self, group, plural, namespace, body, dry_run, path):
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        _version, _kind, namespaced = self.catalog[(group, plural)]
        if namespaced:
            if ("", "namespaces", None, namespace) not in self.objects:
                raise NotFoundError("POST %s: 404 namespaces %r not found" % (path, namespace), status=404)
            meta["namespace"] = namespace
        key = (group, plural, namespace if namespaced else None, meta["name"])
        if key in self.objects:
            raise ConflictError("POST %s: 409 %s %r already exists" % (path, plural, meta["name"]),
                                reason="AlreadyExists")
        if plural == "customresourcedefinitions":
            obj["status"] = {"conditions": [{"type": "Established", "status": "True"},
                                            {"type": "NamesAccepted", "status": "True"}]}
        if plural == "namespaces":
            obj["status"] = {"phase": "Active"}
        if not dry_run:
            meta["uid"] = "uid-%d" % next(self._uids)
            meta["resourceVersion"] = "1"
            self.objects[key] = obj
            self._control(plural, obj)
        return copy.deepcopy(obj)

    def _control(self, plural, obj):
        """What the snapshot controller and a provisioner would do at once: a snapshot is ready with its
        content, a PVC is bound."""
        meta = obj["metadata"]
        if plural == "volumesnapshots":
            pvc = self.objects.get(("", "persistentvolumeclaims", meta["namespace"],
                                    obj["spec"]["source"].get("persistentVolumeClaimName")))
            content = "snapcontent-" + meta["uid"]
            self.objects[("snapshot.storage.k8s.io", "volumesnapshotcontents", None, content)] = {
                "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
                "metadata": {"name": content, "uid": "uid-%d" % next(self._uids)},
                "spec": {"volumeSnapshotRef": {"name": meta["name"], "namespace": meta["namespace"]},
                         "driver": "hostpath.csi.lifeboat.test", "deletionPolicy": "Delete",
                         "source": {"volumeHandle": "vol-" + meta["name"]}},
                "status": {"snapshotHandle": "snap-" + meta["uid"], "readyToUse": True}}
            obj["status"] = {"readyToUse": True, "boundVolumeSnapshotContentName": content,
                             "creationTime": "2026-11-23T00:00:01Z",
                             "restoreSize": ((pvc or {}).get("status", {}).get("capacity") or {}).get("storage", "1Gi")}
        elif plural == "namespaces" and not obj.get("apiVersion", "v1").count("/") and self.namespace_controller:
            self.namespace_controller(meta["name"])
        elif plural == "persistentvolumeclaims":
            obj["status"] = {"phase": "Bound", "capacity": {
                "storage": obj["spec"].get("resources", {}).get("requests", {}).get("storage", "1Gi")}}


def _merge(target, patch):
    """RFC 7386 merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = _merge(result.get(k), v)
    return result
