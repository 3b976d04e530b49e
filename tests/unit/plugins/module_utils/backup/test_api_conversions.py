"""Removed API versions: each conversion against the migration guide's own examples (pure), and a hand-made
Kubernetes 1.21 namespace (tests/fixtures/kubernetes-1.21, Velero layout) restored into the in-memory cluster that
serves only current versions, compared with the fixture's expected.json (written from the guide, not from this
code). The bed does the same against a real apiserver (tests/system/test_faithful.py)."""

import copy
import importlib.util
import json
import os
import shutil

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions import restore_builtin as rb
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube import conversions
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.file import FileStore
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore import service as restore

from ..fake_cluster import CATALOG, FakeCluster
from .test_backup_restore_flow import restore_params

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "fixtures")
_spec = importlib.util.spec_from_file_location("velero_layout", os.path.join(FIXTURES, "velero_layout.py"))
layout = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(layout)

CURRENT = CATALOG + (
    ("batch", "v1", "cronjobs", "CronJob", True),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", True),
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True),
    ("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False),
    ("legacy.example.com", "v1", "gadgets", "Gadget", True),
)


def removed(group_version):
    return next(r for r in conversions.REMOVED_VERSIONS if r.group_version == group_version)


def converted(group_version, obj):
    obj = copy.deepcopy(obj)
    warnings, why_not = conversions.convert(removed(group_version), obj)
    assert why_not is None
    return obj, warnings


def test_ingress_as_the_guide_says():
    obj, _warnings = converted("networking.k8s.io/v1beta1", {
        "apiVersion": "networking.k8s.io/v1beta1", "kind": "Ingress", "metadata": {"name": "i"},
        "spec": {"backend": {"serviceName": "default", "servicePort": 80},
                 "rules": [{"http": {"paths": [
                     {"path": "/a", "backend": {"serviceName": "a", "servicePort": "http"}},
                     {"path": "/b", "pathType": "Exact", "backend": {"serviceName": "b", "servicePort": "8443"}},
                     {"path": "/r", "backend": {"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket",
                                                             "name": "static"}}}]}}]}})
    assert obj["apiVersion"] == "networking.k8s.io/v1"
    assert obj["spec"]["defaultBackend"] == {"service": {"name": "default", "port": {"number": 80}}}
    assert "backend" not in obj["spec"]
    paths = obj["spec"]["rules"][0]["http"]["paths"]
    assert paths[0] == {"path": "/a", "pathType": "ImplementationSpecific",
                        "backend": {"service": {"name": "a", "port": {"name": "http"}}}}
    assert paths[1]["pathType"] == "Exact" and paths[1]["backend"]["service"]["port"] == {"number": 8443}
    assert paths[2]["backend"] == {"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "static"}}


def test_extensions_ingress_moves_to_networking():
    obj, _warnings = converted("extensions/v1beta1", {"apiVersion": "extensions/v1beta1", "kind": "Ingress",
                                                      "metadata": {"name": "i"}, "spec": {}})
    assert obj["apiVersion"] == "networking.k8s.io/v1"


def test_hpa_v2beta1_metrics_become_metric_targets():
    obj, _warnings = converted("autoscaling/v2beta1", {
        "apiVersion": "autoscaling/v2beta1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
        "spec": {"metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "targetAverageUtilization": 50}},
            {"type": "Object", "object": {"target": {"kind": "Service", "name": "s"}, "metricName": "rps",
                                          "targetValue": "10k"}},
            {"type": "External", "external": {"metricName": "queue", "metricSelector": {"matchLabels": {"q": "a"}},
                                              "targetAverageValue": "30"}}]}})
    assert obj["spec"]["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
        {"type": "Object", "object": {"describedObject": {"kind": "Service", "name": "s"}, "metric": {"name": "rps"},
                                      "target": {"type": "Value", "value": "10k"}}},
        {"type": "External", "external": {"metric": {"name": "queue", "selector": {"matchLabels": {"q": "a"}}},
                                          "target": {"type": "AverageValue", "averageValue": "30"}}}]
    with pytest.raises(conversions.NotConvertible, match="without a target value"):
        converted("autoscaling/v2beta1", {"kind": "HorizontalPodAutoscaler", "spec": {
            "metrics": [{"type": "Resource", "resource": {"name": "cpu"}}]}})


def test_a_pdb_with_an_empty_selector_keeps_selecting_no_pods():
    obj, warnings = converted("policy/v1beta1", {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget",
                                                 "metadata": {"name": "p"}, "spec": {"selector": {}, "minAvailable": 1}})
    assert obj == {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p"},
                   "spec": {"minAvailable": 1}}
    assert "select every pod" in warnings[0]
    kept, warnings = converted("policy/v1beta1", {"kind": "PodDisruptionBudget",
                                                  "spec": {"selector": {"matchLabels": {"a": "b"}}}})
    assert kept["spec"]["selector"] == {"matchLabels": {"a": "b"}} and not warnings


def test_a_crd_moves_its_schema_columns_subresources_and_webhook_into_v1_places():
    obj, _warnings = converted("apiextensions.k8s.io/v1beta1", {
        "apiVersion": "apiextensions.k8s.io/v1beta1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "things.example.com"},
        "spec": {"group": "example.com", "versions": [{"name": "v1", "served": True, "storage": True},
                                                      {"name": "v2", "served": True, "storage": False}],
                 "preserveUnknownFields": False,
                 "validation": {"openAPIV3Schema": {"type": "object", "properties": {"a": {"type": "string"}}}},
                 "additionalPrinterColumns": [{"name": "A", "type": "string", "JSONPath": ".a"}],
                 "conversion": {"strategy": "Webhook", "webhookClientConfig": {"service": {"name": "conv"}},
                                "conversionReviewVersions": ["v1", "v1beta1"]}}})
    spec = obj["spec"]
    for version in spec["versions"]:
        assert version["schema"] == {"openAPIV3Schema": {"type": "object", "properties": {"a": {"type": "string"}}}}
        assert version["additionalPrinterColumns"] == [{"name": "A", "type": "string", "jsonPath": ".a"}]
    assert spec["conversion"] == {"strategy": "Webhook", "webhook": {
        "clientConfig": {"service": {"name": "conv"}}, "conversionReviewVersions": ["v1", "v1beta1"]}}
    assert not set(spec) & {"validation", "additionalPrinterColumns", "preserveUnknownFields", "version"}
    bare, _warnings = converted("apiextensions.k8s.io/v1beta1", {"kind": "CustomResourceDefinition",
                                                                 "spec": {"version": "v1"}})
    assert bare["spec"]["versions"] == [{"name": "v1", "served": True, "storage": True, "schema": {
        "openAPIV3Schema": {"type": "object", conversions.PRESERVE_UNKNOWN: True}}}]


def test_webhooks_keep_their_old_defaults_and_side_effects_without_an_equivalent_are_not_guessed():
    obj, _warnings = converted("admissionregistration.k8s.io/v1beta1", {
        "kind": "ValidatingWebhookConfiguration", "webhooks": [{"name": "w.example.com", "sideEffects": "None"}]})
    assert obj["webhooks"] == [{"name": "w.example.com", "sideEffects": "None", "failurePolicy": "Ignore",
                                "matchPolicy": "Exact", "timeoutSeconds": 30, "admissionReviewVersions": ["v1beta1"]}]
    with pytest.raises(conversions.NotConvertible, match="sideEffects Unknown"):
        converted("admissionregistration.k8s.io/v1beta1", {"kind": "MutatingWebhookConfiguration",
                                                           "webhooks": [{"name": "m.example.com"}]})


def test_priority_levels_workloads_and_slices():
    level, _warnings = converted("flowcontrol.apiserver.k8s.io/v1beta2", {
        "kind": "PriorityLevelConfiguration", "spec": {"type": "Limited", "limited": {"assuredConcurrencyShares": 5}}})
    assert level["spec"]["limited"] == {"nominalConcurrencyShares": 5}
    deployment, _warnings = converted("extensions/v1beta1", {
        "kind": "Deployment", "spec": {"template": {"metadata": {"labels": {"app": "a"}}}, "rollbackTo": {}}})
    assert deployment["apiVersion"] == "apps/v1"
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "a"}} and "rollbackTo" not in deployment["spec"]
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1,
                                                                                         "maxUnavailable": 1}}
    assert deployment["spec"]["revisionHistoryLimit"] == conversions.NO_LIMIT
    with pytest.raises(conversions.NotConvertible, match="spec.selector is required"):
        converted("extensions/v1beta1", {"kind": "DaemonSet", "spec": {"template": {}}})
    psp = {"kind": "PodSecurityPolicy"}
    assert conversions.convert(removed("policy/v1beta1"), psp)[1].startswith("PodSecurityPolicy was removed")


def test_every_removed_version_has_one_named_action_in_restore_order():
    names = [cls.name for cls in rb.CONVERSIONS]
    assert len(names) == len(conversions.REMOVED_VERSIONS) == len(set(names))
    assert "convert-batch-v1beta1" in names and "convert-networking.k8s.io-v1beta1" in names
    order = [cls.name for cls in rb.RESTORE_ACTIONS]
    assert order.index("convert-batch-v1beta1") < order.index("owned-by-restored-controller")


@pytest.fixture
def old_backup(tmp_path):
    store = FileStore(str(tmp_path / "store"))
    for key, data in layout.velero_backup_files("k8s-121").items():
        store.put_bytes(key, data)
    return store


def legacy_params(**given):
    return restore_params(name="k8s-121", namespace_mapping={}, **given)


def test_a_kubernetes_1_21_namespace_restores_into_a_current_cluster_as_the_guide_says(old_backup):
    target = FakeCluster(catalog=CURRENT)
    result = restore.run_restore(target, old_backup, legacy_params())
    problems = []
    for path, want in layout.expected().items():
        live = target.get_or_none(path)
        if live is None:
            problems.append("%s: not created" % path)
            continue
        problems.extend(layout.field_problems(path, want, live))
        if "owned_by" in want:
            owner = target.get(want["owned_by"])
            assert live["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"]
    assert not problems, problems
    assert result["phase"] == "Completed", result["failures"]
    assert result["actions"]["convert-batch-v1beta1"] == {"skipped": 0, "added": 0, "converted": 1}
    assert result["actions"]["convert-policy-v1beta1"]["skipped"] == 1  # the PodSecurityPolicy
    assert any("PodSecurityPolicy was removed" in w for w in result["warnings"])
    assert any("would select every pod" in w for w in result["warnings"])
    posts = [p for m, p in target.requests if m == "POST"]
    assert not [p for p in posts if "v1beta" in p or "v2beta" in p], "no request to a removed version"
    again = restore.run_restore(target, old_backup, legacy_params())
    assert again["changed"] is False, [k for k, v in again["counts"].items() if v["updated"] or v["created"]]


def test_a_cluster_that_still_serves_the_old_version_gets_it_unconverted(old_backup):
    target = FakeCluster(catalog=CURRENT + (("batch", "v1beta1", "cronjobs-old", "CronJob", True),))
    target.catalog[("batch", "cronjobs")] = ("v1beta1", "CronJob", True)
    result = restore.run_restore(target, old_backup, legacy_params(include_resources=["cronjobs.batch"]))
    assert target.objects[("batch", "cronjobs", "legacy-shop", "report")]["apiVersion"] == "batch/v1beta1"
    assert "convert-batch-v1beta1" not in result["actions"]


def test_what_cannot_be_converted_refuses_the_restore_before_any_change(tmp_path):
    source = str(tmp_path / "source")
    shutil.copytree(layout.KUBERNETES_1_21, source)
    hooks = os.path.join(source, "archive", "validatingwebhookconfigurations.admissionregistration.k8s.io", "cluster")
    os.makedirs(hooks)
    with open(os.path.join(hooks, "guard.json"), "w") as f:
        json.dump({"apiVersion": "admissionregistration.k8s.io/v1beta1", "kind": "ValidatingWebhookConfiguration",
                   "metadata": {"name": "guard", "uid": "w-1"},
                   "webhooks": [{"name": "guard.example.com", "sideEffects": "Unknown"}]}, f)
    store = FileStore(str(tmp_path / "store"))
    for key, data in layout.velero_backup_files("k8s-121", source).items():
        store.put_bytes(key, data)
    target = FakeCluster(catalog=CURRENT)
    webhooks = "validatingwebhookconfigurations.admissionregistration.k8s.io"
    with pytest.raises(InvalidInputError) as refused:
        restore.run_restore(target, store, legacy_params(cluster_resources=[webhooks]))
    assert str(refused.value).startswith("name: 1 object(s) of the backup cannot be restored")
    assert "webhook guard.example.com has sideEffects Unknown" in str(refused.value)
    assert not [m for m, _p in target.requests if m in ("POST", "PATCH", "PUT", "DELETE")]
    # Not asked for (cluster_resources leaves it out): refused as such, and the rest is restored.
    result = restore.run_restore(target, store, legacy_params())
    assert {"resource": webhooks, "namespace": None, "name": "guard",
            "message": "refused: cluster-scoped %s is not in cluster_resources (%s)" % (
                webhooks, ", ".join(restore_params().cluster_resources))} in result["refused_objects"]


def test_an_object_served_through_two_groups_is_restored_from_its_current_groups_copy(tmp_path):
    """A 1.21 cluster serves each Ingress as extensions/v1beta1 and networking.k8s.io/v1beta1: a backup of it holds
    both copies; the extensions one is skipped, naming the copy that is restored."""
    source = str(tmp_path / "source")
    shutil.copytree(layout.KUBERNETES_1_21, source)
    twin = os.path.join(source, "archive", "ingresses.extensions", "namespaces", "legacy-shop", "web.json")
    with open(os.path.join(source, "archive", "ingresses.networking.k8s.io", "namespaces", "legacy-shop",
                           "web.json")) as f:
        obj = json.load(f)
    obj["apiVersion"] = "extensions/v1beta1"
    obj["spec"]["rules"][0]["http"]["paths"][0]["path"] = "/twin"  # would show if this copy were the one restored
    with open(twin, "w") as f:
        json.dump(obj, f)
    store = FileStore(str(tmp_path / "store"))
    for key, data in layout.velero_backup_files("k8s-121", source).items():
        store.put_bytes(key, data)
    target = FakeCluster(catalog=CURRENT)
    result = restore.run_restore(target, store, legacy_params())
    assert {"resource": "ingresses.extensions", "namespace": "legacy-shop", "name": "web",
            "message": "convert-extensions-v1beta1: the same object is in the backup as ingresses.networking.k8s.io, "
                       "which is restored"} in result["skipped_objects"]
    live = target.get("/apis/networking.k8s.io/v1/namespaces/legacy-shop/ingresses/web")
    assert live["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/"
    assert target.get("/apis/networking.k8s.io/v1/namespaces/legacy-shop/ingresses/legacy")["apiVersion"] == \
        "networking.k8s.io/v1", "an Ingress only the extensions group held is converted"
