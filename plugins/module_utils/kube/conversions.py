# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""API versions Kubernetes no longer serves, and how an object of one becomes an object of its successor.

From the Kubernetes deprecated API migration guide (kubernetes.io/docs/reference/using-api/deprecation-guide/):
every removed group/version a backup of an older cluster can hold, the version to use instead, and the field
changes the guide lists. A conversion keeps what the object meant: where a default changed between versions, the
old default is written out (a v1beta1 webhook's failurePolicy was Ignore; v1's is Fail). What has no equivalent
(a webhook with side effects "Unknown", PodSecurityPolicy) is not guessed: NotConvertible says why, or the kind
has no successor at all.

Pure functions over the object (a dict, changed in place); restore_builtin.py makes one restore item action per
removed group/version, chosen when the target cluster does not serve it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from typing import Any, Callable, Dict, List, NamedTuple, Optional


class NotConvertible(Exception):
    """The object has no faithful equivalent in the successor version; the message says which field and why."""


class Successor(NamedTuple):
    """Where a removed kind goes: its plural (for the resource directory), the apiVersion to use (None: the kind was
    removed without one), the field conversion (None: the fields are the same), and, when there is no successor,
    why."""
    plural: str
    api_version: Optional[str]
    convert: Optional[Callable[[Dict[str, Any]], List[str]]] = None
    why_none: str = ""


class RemovedVersion(NamedTuple):
    group_version: str
    removed_in: str  # the Kubernetes minor release that stopped serving it
    kinds: Dict[str, Successor]

    @property
    def group(self):
        return self.group_version.rpartition("/")[0]

    def resource_dirs(self):
        return sorted("%s.%s" % (s.plural, self.group) for s in self.kinds.values())


def _spec(obj):
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _dicts(value):
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


# ------------------------------------------------------------------ networking: Ingress (1.22)

def _ingress_backend(backend):
    """v1beta1 {serviceName, servicePort} -> v1 {service: {name, port: {number | name}}}; resource backends stay."""
    if not isinstance(backend, dict) or "serviceName" not in backend:
        return backend
    port = backend.get("servicePort")
    converted = {k: v for k, v in backend.items() if k not in ("serviceName", "servicePort")}
    service = {"name": backend["serviceName"]}
    if isinstance(port, int):
        service["port"] = {"number": port}
    elif isinstance(port, str) and port.isdigit():
        service["port"] = {"number": int(port)}  # an IntOrString given as a numeric string is a number
    elif isinstance(port, str) and port:
        service["port"] = {"name": port}
    converted["service"] = service
    return converted


def ingress(obj):
    """spec.backend -> spec.defaultBackend; serviceName/servicePort -> service.name/port.number|name; pathType is
    required: ImplementationSpecific, what an unset pathType meant."""
    spec = _spec(obj)
    if "backend" in spec:
        spec["defaultBackend"] = _ingress_backend(spec.pop("backend"))
    for rule in _dicts(spec.get("rules")):
        for path in _dicts((rule.get("http") or {}).get("paths")):
            if "backend" in path:
                path["backend"] = _ingress_backend(path["backend"])
            path.setdefault("pathType", "ImplementationSpecific")
    return []


# ------------------------------------------------------------------ policy: PodDisruptionBudget (1.25)

def pod_disruption_budget(obj):
    """An empty selector ({}) selected no pods in v1beta1 and selects every pod of the namespace in v1; an unset
    one selects none in both. So {} becomes unset."""
    spec = _spec(obj)
    selector = spec.get("selector")
    if isinstance(selector, dict) and not selector.get("matchLabels") and not selector.get("matchExpressions"):
        del spec["selector"]
        return ["its empty selector selected no pods in policy/v1beta1 and would select every pod in policy/v1: "
                "restored without a selector (selects none, as before)"]
    return []


# ------------------------------------------------------------------ autoscaling: HorizontalPodAutoscaler (1.25, 1.26)

def _target(spec, value=None, average_value=None, utilization=None):
    """A v2 MetricTarget from v2beta1's target fields (the first that is set)."""
    if spec.get(utilization) is not None:
        return {"type": "Utilization", "averageUtilization": spec[utilization]}
    if spec.get(average_value) is not None:
        return {"type": "AverageValue", "averageValue": spec[average_value]}
    if spec.get(value) is not None:
        return {"type": "Value", "value": spec[value]}
    raise NotConvertible("a %s metric without a target value" % spec.get("metricName", spec.get("name", "")))


def _metric(name, selector):
    metric = {"name": name}
    if selector is not None:
        metric["selector"] = selector
    return metric


def _hpa_metric(metric):
    kind = metric.get("type")
    if kind == "Resource":
        source = metric.get("resource") or {}
        return {"type": kind, "resource": {"name": source.get("name"), "target": _target(
            source, average_value="targetAverageValue", utilization="targetAverageUtilization")}}
    if kind == "Pods":
        source = metric.get("pods") or {}
        return {"type": kind, "pods": {"metric": _metric(source.get("metricName"), source.get("selector")),
                                       "target": _target(source, average_value="targetAverageValue")}}
    if kind == "Object":
        source = metric.get("object") or {}
        return {"type": kind, "object": {
            "describedObject": source.get("target"), "metric": _metric(source.get("metricName"), source.get("selector")),
            "target": _target(source, value="targetValue", average_value="averageValue")}}
    if kind == "External":
        source = metric.get("external") or {}
        return {"type": kind, "external": {
            "metric": _metric(source.get("metricName"), source.get("metricSelector")),
            "target": _target(source, value="targetValue", average_value="targetAverageValue")}}
    raise NotConvertible("metric type %r is not one autoscaling/v2beta1 had" % kind)


def hpa_v2beta1(obj):
    """Each metric's target fields become a MetricTarget (type Utilization, AverageValue or Value) and its name and
    selector a MetricIdentifier; an Object metric's target becomes describedObject."""
    spec = _spec(obj)
    if "metrics" in spec:
        spec["metrics"] = [_hpa_metric(m) for m in _dicts(spec["metrics"])]
    return []


# ------------------------------------------------------------------ discovery: EndpointSlice (1.25)

def endpoint_slice(obj):
    """An endpoint's topology becomes nodeName (kubernetes.io/hostname) and zone (topology.kubernetes.io/zone). The
    rest has no place: v1's deprecatedTopology cannot be written (the API server drops it), so it is said."""
    dropped = []
    for endpoint in _dicts(obj.get("endpoints")):
        topology = endpoint.pop("topology", None)
        if not isinstance(topology, dict):
            continue
        topology = dict(topology)
        if "kubernetes.io/hostname" in topology:
            endpoint.setdefault("nodeName", topology.pop("kubernetes.io/hostname"))
        if "topology.kubernetes.io/zone" in topology:
            endpoint.setdefault("zone", topology.pop("topology.kubernetes.io/zone"))
        dropped.extend(sorted(topology))
    if dropped:
        return ["topology keys %s have no field in discovery.k8s.io/v1 (deprecatedTopology is not writable): "
                "dropped" % ", ".join(sorted(set(dropped)))]
    return []


# ------------------------------------------------------------------ apiextensions: CustomResourceDefinition (1.22)

PRESERVE_UNKNOWN = "x-kubernetes-preserve-unknown-fields"


def _preserving(schema):
    """The schema with x-kubernetes-preserve-unknown-fields on every object in it: what v1beta1's
    preserveUnknownFields (true by default) did for the whole tree, since v1 prunes per node."""
    if not isinstance(schema, dict):
        return schema
    schema = dict(schema)
    if schema.get("type", "object") == "object" and "x-kubernetes-int-or-string" not in schema:
        schema[PRESERVE_UNKNOWN] = True
    if isinstance(schema.get("properties"), dict):
        schema["properties"] = dict((k, _preserving(v)) for k, v in schema["properties"].items())
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            schema[key] = _preserving(schema[key])
    return schema


def _column(column):
    column = dict(column)
    if "JSONPath" in column:
        column["jsonPath"] = column.pop("JSONPath")
    return column


def custom_resource_definition(obj):
    """spec.version, validation, subresources and additionalPrinterColumns move into each of spec.versions (JSONPath
    -> jsonPath); every version needs a schema (none: any object); preserveUnknownFields (v1beta1's default was
    true) becomes x-kubernetes-preserve-unknown-fields on every object of the schema; the conversion webhook's
    clientConfig and review versions move under spec.conversion.webhook."""
    spec = _spec(obj)
    versions = _dicts(spec.get("versions")) or ([{"name": spec["version"], "served": True, "storage": True}]
                                                if spec.get("version") else [])
    if not versions:
        raise NotConvertible("spec.version and spec.versions are both empty")
    shared_schema = (spec.pop("validation", None) or {}).get("openAPIV3Schema")
    shared_subresources = spec.pop("subresources", None)
    shared_columns = spec.pop("additionalPrinterColumns", None)
    preserve = spec.pop("preserveUnknownFields", True)
    spec.pop("version", None)
    for version in versions:
        schema = (version.pop("schema", None) or {}).get("openAPIV3Schema") or shared_schema
        schema = dict(schema) if isinstance(schema, dict) else {"type": "object"}
        schema.setdefault("type", "object")
        if preserve:
            schema = _preserving(schema)
        elif not schema.get("properties"):
            schema[PRESERVE_UNKNOWN] = True
        version["schema"] = {"openAPIV3Schema": schema}
        if shared_subresources and "subresources" not in version:
            version["subresources"] = shared_subresources
        columns = version.get("additionalPrinterColumns", shared_columns)
        if columns:
            version["additionalPrinterColumns"] = [_column(c) for c in _dicts(columns)]
    spec["versions"] = versions
    conversion = spec.get("conversion")
    if isinstance(conversion, dict) and conversion.get("strategy") == "Webhook":
        webhook = {"clientConfig": conversion.pop("webhookClientConfig", None),
                   "conversionReviewVersions": conversion.pop("conversionReviewVersions", None) or ["v1beta1"]}
        conversion["webhook"] = webhook
    elif isinstance(conversion, dict):
        conversion.pop("conversionReviewVersions", None)
    return []


# ------------------------------------------------------------------ admissionregistration: webhooks (1.22)

def webhook_configuration(obj):
    """Defaults that changed are written out as v1beta1 had them (failurePolicy Ignore, matchPolicy Exact,
    timeoutSeconds 30, admissionReviewVersions [v1beta1]). v1 takes only sideEffects None or NoneOnDryRun: a
    webhook with side effects (Unknown, Some, or unset) cannot be restored faithfully."""
    for webhook in _dicts(obj.get("webhooks")):
        effects = webhook.get("sideEffects") or "Unknown"
        if effects not in ("None", "NoneOnDryRun"):
            raise NotConvertible("webhook %s has sideEffects %s, which admissionregistration.k8s.io/v1 does not "
                                 "take (None or NoneOnDryRun)" % (webhook.get("name"), effects))
        webhook.setdefault("failurePolicy", "Ignore")
        webhook.setdefault("matchPolicy", "Exact")
        webhook.setdefault("timeoutSeconds", 30)
        webhook.setdefault("admissionReviewVersions", ["v1beta1"])
    return []


# ------------------------------------------------------------------ flowcontrol: PriorityLevelConfiguration (1.26-1.32)

def priority_level(obj):
    """limited.assuredConcurrencyShares -> nominalConcurrencyShares; a zero or unset value meant the default of 30
    in the betas, and means zero in v1: written out as 30."""
    limited = _spec(obj).get("limited")
    if isinstance(limited, dict):
        if "assuredConcurrencyShares" in limited:
            limited["nominalConcurrencyShares"] = limited.pop("assuredConcurrencyShares")
        if not limited.get("nominalConcurrencyShares"):
            limited["nominalConcurrencyShares"] = 30
    return []


# ------------------------------------------------------------------ apps and extensions workloads (1.16)

def _selector_from_template(obj):
    spec = _spec(obj)
    if not spec.get("selector"):
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
        if not labels:
            raise NotConvertible("spec.selector is required in apps/v1 and its pod template has no labels to take "
                                 "it from")
        spec["selector"] = {"matchLabels": dict(labels)}
    return spec


def deployment_beta(defaults, rolling_update=None):
    """apps/v1 requires spec.selector (taken from the template's labels, as the guide says); rollbackTo is gone;
    defaults that changed are written out as the old version had them."""
    def convert(obj):
        spec = _selector_from_template(obj)
        spec.pop("rollbackTo", None)
        for field, value in defaults.items():
            spec.setdefault(field, value)
        strategy = spec.get("strategy") if isinstance(spec.get("strategy"), dict) else {}
        if rolling_update and strategy.get("type", "RollingUpdate") == "RollingUpdate":
            spec["strategy"] = strategy
            strategy["type"] = "RollingUpdate"
            rolling = strategy.setdefault("rollingUpdate", {})
            for field, value in rolling_update.items():
                rolling.setdefault(field, value)
        return []
    return convert


def daemon_set_beta(obj):
    """spec.selector from the template; templateGeneration is gone; updateStrategy defaulted to OnDelete."""
    spec = _selector_from_template(obj)
    spec.pop("templateGeneration", None)
    spec.setdefault("updateStrategy", {"type": "OnDelete"})
    return []


def replica_set_beta(obj):
    _selector_from_template(obj)
    return []


def stateful_set_beta(update_strategy):
    def convert(obj):
        spec = _selector_from_template(obj)
        if update_strategy:
            spec.setdefault("updateStrategy", {"type": update_strategy})
        return []
    return convert


# ------------------------------------------------------------------ the table

PSP = Successor("podsecuritypolicies", None, why_none=(
    "PodSecurityPolicy was removed in Kubernetes 1.25 without a successor (Pod Security Admission replaces it)"))
SAME = None  # the guide lists no field changes: only the apiVersion changes


def _same(plural, api_version):
    return Successor(plural, api_version, SAME)


# extensions/v1beta1 kept every revision, had no progress deadline (Kubernetes' own conversion writes the largest
# int32 for both) and rolled one pod at a time; apps/v1beta1 kept two revisions.
NO_LIMIT = 2147483647
EXTENSIONS_DEPLOYMENT = {"revisionHistoryLimit": NO_LIMIT, "progressDeadlineSeconds": NO_LIMIT}

REMOVED_VERSIONS = (
    RemovedVersion("extensions/v1beta1", "1.22", {
        "Ingress": Successor("ingresses", "networking.k8s.io/v1", ingress),
        "NetworkPolicy": _same("networkpolicies", "networking.k8s.io/v1"),
        "PodSecurityPolicy": PSP,
        "Deployment": Successor("deployments", "apps/v1", deployment_beta(
            EXTENSIONS_DEPLOYMENT, {"maxSurge": 1, "maxUnavailable": 1})),
        "DaemonSet": Successor("daemonsets", "apps/v1", daemon_set_beta),
        "ReplicaSet": Successor("replicasets", "apps/v1", replica_set_beta)}),
    RemovedVersion("apps/v1beta1", "1.16", {
        "Deployment": Successor("deployments", "apps/v1", deployment_beta({"revisionHistoryLimit": 2})),
        "StatefulSet": Successor("statefulsets", "apps/v1", stateful_set_beta("OnDelete"))}),
    RemovedVersion("apps/v1beta2", "1.16", {
        "Deployment": Successor("deployments", "apps/v1", deployment_beta({})),
        "StatefulSet": Successor("statefulsets", "apps/v1", stateful_set_beta(None)),
        "DaemonSet": Successor("daemonsets", "apps/v1", replica_set_beta),
        "ReplicaSet": Successor("replicasets", "apps/v1", replica_set_beta)}),
    RemovedVersion("networking.k8s.io/v1beta1", "1.22", {
        "Ingress": Successor("ingresses", "networking.k8s.io/v1", ingress),
        "IngressClass": _same("ingressclasses", "networking.k8s.io/v1")}),
    RemovedVersion("batch/v1beta1", "1.25", {"CronJob": _same("cronjobs", "batch/v1")}),
    RemovedVersion("policy/v1beta1", "1.25", {
        "PodDisruptionBudget": Successor("poddisruptionbudgets", "policy/v1", pod_disruption_budget),
        "PodSecurityPolicy": PSP}),
    RemovedVersion("autoscaling/v2beta1", "1.25", {
        "HorizontalPodAutoscaler": Successor("horizontalpodautoscalers", "autoscaling/v2", hpa_v2beta1)}),
    RemovedVersion("autoscaling/v2beta2", "1.26", {
        "HorizontalPodAutoscaler": _same("horizontalpodautoscalers", "autoscaling/v2")}),
    RemovedVersion("discovery.k8s.io/v1beta1", "1.25", {
        "EndpointSlice": Successor("endpointslices", "discovery.k8s.io/v1", endpoint_slice)}),
    RemovedVersion("node.k8s.io/v1beta1", "1.25", {"RuntimeClass": _same("runtimeclasses", "node.k8s.io/v1")}),
    RemovedVersion("scheduling.k8s.io/v1beta1", "1.22", {
        "PriorityClass": _same("priorityclasses", "scheduling.k8s.io/v1")}),
    RemovedVersion("storage.k8s.io/v1beta1", "1.22", {
        "CSIDriver": _same("csidrivers", "storage.k8s.io/v1"),
        "CSINode": _same("csinodes", "storage.k8s.io/v1"),
        "StorageClass": _same("storageclasses", "storage.k8s.io/v1"),
        "VolumeAttachment": _same("volumeattachments", "storage.k8s.io/v1"),
        "CSIStorageCapacity": _same("csistoragecapacities", "storage.k8s.io/v1")}),
    RemovedVersion("rbac.authorization.k8s.io/v1beta1", "1.22", {
        "Role": _same("roles", "rbac.authorization.k8s.io/v1"),
        "ClusterRole": _same("clusterroles", "rbac.authorization.k8s.io/v1"),
        "RoleBinding": _same("rolebindings", "rbac.authorization.k8s.io/v1"),
        "ClusterRoleBinding": _same("clusterrolebindings", "rbac.authorization.k8s.io/v1")}),
    RemovedVersion("apiextensions.k8s.io/v1beta1", "1.22", {
        "CustomResourceDefinition": Successor("customresourcedefinitions", "apiextensions.k8s.io/v1",
                                              custom_resource_definition)}),
    RemovedVersion("admissionregistration.k8s.io/v1beta1", "1.22", {
        "MutatingWebhookConfiguration": Successor("mutatingwebhookconfigurations", "admissionregistration.k8s.io/v1",
                                                  webhook_configuration),
        "ValidatingWebhookConfiguration": Successor("validatingwebhookconfigurations",
                                                    "admissionregistration.k8s.io/v1", webhook_configuration)}),
    RemovedVersion("apiregistration.k8s.io/v1beta1", "1.22", {
        "APIService": _same("apiservices", "apiregistration.k8s.io/v1")}),
    RemovedVersion("coordination.k8s.io/v1beta1", "1.22", {"Lease": _same("leases", "coordination.k8s.io/v1")}),
    RemovedVersion("certificates.k8s.io/v1beta1", "1.22", {
        "CertificateSigningRequest": Successor(
            "certificatesigningrequests", None,
            why_none="a CertificateSigningRequest of certificates.k8s.io/v1beta1 is a request the source cluster "
                     "answered; certificates.k8s.io/v1 requires a signerName it may not have")}),
) + tuple(
    RemovedVersion("flowcontrol.apiserver.k8s.io/%s" % version, removed_in, {
        "FlowSchema": _same("flowschemas", "flowcontrol.apiserver.k8s.io/v1"),
        "PriorityLevelConfiguration": Successor("prioritylevelconfigurations", "flowcontrol.apiserver.k8s.io/v1",
                                                priority_level)})
    for version, removed_in in (("v1beta1", "1.26"), ("v1beta2", "1.29"), ("v1beta3", "1.32"))
)


def current_copy(removed, obj):
    """The resource directory the same object has in its successor's group, when that group is another one (a
    cluster serves an Ingress as extensions/v1beta1 and networking.k8s.io/v1 at once; backups hold both)."""
    successor = removed.kinds.get(obj.get("kind"))
    if successor is None or successor.api_version is None:
        return None
    group = successor.api_version.rpartition("/")[0]
    return "%s.%s" % (successor.plural, group) if group != removed.group else None


def convert(removed, obj):
    """Convert obj (in place) from a removed version to its successor: (warnings, None), or (None, why it cannot be
    restored at all). Raises NotConvertible when it has a successor but no faithful equivalent there."""
    successor = removed.kinds.get(obj.get("kind"))
    if successor is None:
        return [], None  # a kind this table does not know: left as it is (the target may serve it)
    if successor.api_version is None:
        return None, successor.why_none
    warnings = successor.convert(obj) if successor.convert else []
    obj["apiVersion"] = successor.api_version
    return warnings, None
