# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Collecting a namespace's objects: discovery of every listable resource type
(core, aggregated, CRDs), concurrent paginated listing, filters, and getting
the additional items that backup item actions name."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.concurrency import batches_concurrently, parallel_map
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import ApiError, InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.archive import resource_dir
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.selectors import resource_matches


PAGE_SIZE = 500  # objects per hand-over from a listing thread (the client lists 500 per page too)
# Aggregated discovery (apidiscovery.k8s.io/v2), else the plain document of servers older than 1.30.
AGGREGATED_DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"

# Never worth backing up: they describe this cluster's machinery, not the application.
NEVER = frozenset((
    "events", "events.events.k8s.io", "nodes", "csinodes.storage.k8s.io", "volumeattachments.storage.k8s.io",
    "componentstatuses", "leases.coordination.k8s.io", "csistoragecapacities.storage.k8s.io",
))


class Resource:
    def __init__(self, group, version, api):
        self.group = group
        self.version = version
        self.plural = api["name"]
        self.kind = api["kind"]
        self.namespaced = api["namespaced"]
        self.dir = resource_dir(self.plural, group)
        self.api_version = "%s/%s" % (group, version) if group else version

    def path(self, namespace=None, name=None):
        return resource_path(self.group, self.version, self.plural, namespace, name)


class Problems:
    """What a backup could not include. Errors make it PartiallyFailed; warnings do not."""

    def __init__(self):
        self.errors = []
        self.warnings = []

    def error(self, resource, namespace, message):
        self.errors.append({"resource": resource, "namespace": namespace, "message": message})

    def warn(self, message):
        self.warnings.append(message)


def discover(k8s):
    """Every listable resource at its preferred version, and the group versions that could not
    be discovered (after the client's retries) as [(group, version, message)]."""
    documents = [k8s.get(path, accept=AGGREGATED_DISCOVERY) for path in ("/api", "/apis")]
    if all((d or {}).get("kind") == "APIGroupDiscoveryList" for d in documents):
        return _aggregated_discovery(documents)
    # A server before 1.30 answered /apis with its plain group list: ask each group's preferred version.
    group_versions = [("", "v1")]
    for group in (documents[1].get("groups") or []):
        preferred = group.get("preferredVersion") or group["versions"][0]
        group_versions.append((group["name"], preferred["version"]))

    def fetch(gv):
        group, version = gv
        return k8s.get("/api/v1" if not group else "/apis/%s/%s" % (group, version))

    resources, failed = [], []
    for (group, version), listing, error in parallel_map(fetch, group_versions):
        if error is not None:
            if not isinstance(error, ApiError):
                raise error
            failed.append((group, version, error.message))
            continue
        resources.extend(_listable(group, version, listing.get("resources") or []))
    return resources, failed


def _aggregated_discovery(documents):
    """(resources, failed) from the two aggregated discovery documents (Kubernetes 1.30 and later: /api and /apis
    describe every group's resources, two requests instead of one per group version, which counts on clusters
    with many CRDs). An aggregated API whose server does not answer is marked Stale: it is a group that could not
    be discovered."""
    resources, failed = [], []
    for document in documents:
        for group in document.get("items") or []:
            name = (group.get("metadata") or {}).get("name") or ""
            versions = group.get("versions") or []
            if not versions:
                continue
            preferred = versions[0]  # versions come in the server's order of preference
            if preferred.get("freshness") == "Stale":
                failed.append((name, preferred["version"], "discovery of %s/%s is stale: its API server does not "
                               "answer" % (name or "core", preferred["version"])))
                continue
            resources.extend(_listable(name, preferred["version"], [
                {"name": r["resource"], "kind": (r.get("responseKind") or {}).get("kind"),
                 "namespaced": r.get("scope") == "Namespaced", "verbs": r.get("verbs")}
                for r in preferred.get("resources") or []]))
    return resources, failed


def _listable(group, version, apis):
    return [Resource(group, version, api) for api in apis
            if "/" not in api["name"] and "list" in (api.get("verbs") or []) and
            resource_dir(api["name"], group) not in NEVER]


def select(resources, include, exclude, failed, problems):
    """The resources to back up. A pattern of include_resources that names nothing is a typo
    (refused) unless an undiscovered group could hold it; a group that could not be discovered
    is an error unless the filters leave it out."""
    def resolved(pattern):
        return any(resource_matches(r.dir, r.kind, [pattern]) for r in resources)

    unresolved = [p for p in include or [] if not resolved(p)]
    if unresolved and not failed:
        raise InvalidInputError("include_resources: %s %s no resource type of this cluster (write them as "
                                "configmaps, deployments.apps, a kind such as Deployment, or *.<group>)" % (
                                    ", ".join(repr(p) for p in unresolved),
                                    "matches" if len(unresolved) == 1 else "match"))
    for pattern in exclude or []:
        if not resolved(pattern) and not any(_names_group(pattern, g) for g, _v, _m in failed):
            problems.warn("exclude_resources: %r matches no resource type of this cluster" % pattern)
    for group, version, message in failed:
        if exclude and any(_names_group(p, group) for p in exclude):
            continue
        if include and not unresolved and not any(p == "*" or _names_group(p, group) for p in include):
            continue
        problems.error("%s/%s" % (group, version) if group else version, None,
                       "cannot discover its resource types, so none of them are in the backup: %s" % message)
    chosen = []
    for r in resources:
        if include and not resource_matches(r.dir, r.kind, include):
            continue
        if exclude and resource_matches(r.dir, r.kind, exclude):
            continue
        chosen.append(r)
    return chosen


def _names_group(pattern, group):
    p = pattern.lower()
    return bool(group) and (p == "*." + group or p.endswith("." + group) or p == group)


def cleaned(resource, obj):
    obj["apiVersion"] = resource.api_version
    obj["kind"] = resource.kind
    obj.get("metadata", {}).pop("managedFields", None)
    return obj


def list_concurrently(k8s, jobs, label_selector, keep, emit, problems, refused=None):
    """List (resource, namespace) jobs concurrently; emit(resource, obj) in this thread.

    Pages are handed over as they come (concurrency.batches_concurrently), so a 100,000-object
    collection is never in memory whole. A collection that cannot be listed (after the client's
    retries) is recorded, never skipped silently; one that fails part way keeps what was listed,
    and the error makes the backup PartiallyFailed. With `refused` (a list), a collection whose
    first page is refused (403) is appended to it instead, for the caller to list another way."""
    def open_job(job):
        resource, namespace = job
        return k8s.list(resource.path(namespace), label_selector=label_selector)

    answered = set()
    for (resource, namespace), objects, error, _last in batches_concurrently(open_job, jobs, PAGE_SIZE):
        if objects:
            answered.add((resource.dir, namespace))
        for obj in objects:
            obj = cleaned(resource, obj)
            if keep(obj):
                emit(resource, obj)
        if error is not None:
            if refused is not None and getattr(error, "status", None) == 403 and \
                    (resource.dir, namespace) not in answered:
                refused.append(resource)
            else:
                _list_failed(resource, namespace, error, problems)


def _list_failed(resource, namespace, error, problems):
    if not isinstance(error, ApiError):
        raise error
    where = "%s%s" % (resource.dir, " in namespace %s" % namespace if namespace else "")
    if error.status in (404, 405):
        # Gone since discovery (a CRD deleted meanwhile) or not really listable.
        problems.warn("%s: not listable (%s), nothing more of it is in the backup" % (where, error.status))
    elif error.status == 403:
        problems.error(resource.dir, namespace, "%s; grant list on %s to this identity, or leave it "
                       "out with exclude_resources: [%s]" % (error.message, resource.dir, resource.dir))
    else:
        problems.error(resource.dir, namespace, error.message)


def get_items(k8s, jobs, problems):
    """GET each (resource, namespace, name): only what the items need, so a narrow ClusterRole suffices.
    Returns [(resource, obj)] of those that exist."""
    found = []
    fetched = parallel_map(lambda job: k8s.get_or_none(job[0].path(job[1], job[2])), jobs)
    for (resource, namespace, name), obj, error in fetched:
        if error is not None:
            if not isinstance(error, ApiError):
                raise error
            hint = ""
            if error.status == 403:
                hint = "; grant get on %s/%s to this identity, or set include_cluster_resources: false" % (
                    resource.dir, name) if namespace is None else "; grant get on %s to this identity" % resource.dir
            problems.error(resource.dir, namespace, "%s: %s%s" % (name, error.message, hint))
        elif obj is not None:
            found.append((resource, cleaned(resource, obj)))
    return found
