"""User-declared rules: lifeboat's own and Velero's resource-modifier documents (examples from Velero's docs)."""

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions import rules
from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.base import ItemContext, ItemRef
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError

CM = {"apiVersion": "v1", "kind": "ConfigMap",
      "metadata": {"name": "settings", "namespace": "shop", "labels": {"app": "shop"}}, "data": {"color": "blue"}}


def execute(rule, res_dir, obj, source=None):
    return rule.execute(obj, ItemContext(res_dir, None, source=source if source is not None else obj))


def one(rule, kind="restore"):
    return rules.read_rules([rule], "restore_actions" if kind == "restore" else "backup_actions", kind)[0]


def test_conditions_all_must_hold_on_the_backed_up_object():
    rule = one({"resources": ["configmaps"], "namespaces": ["shop"], "name_regex": "^set", "label_selector": "app=shop",
                "jmespath": "data.color == 'blue'", "json_patch": [{"op": "replace", "path": "/data/color", "value": "red"}]})
    assert execute(rule, "configmaps", CM).item["data"]["color"] == "red"
    for changed in ({"name": "other"}, {"namespace": "dev"}, {"labels": {}}):
        other = dict(CM, metadata=dict(CM["metadata"], **changed))
        assert execute(rule, "configmaps", other).item["data"]["color"] == "blue"
    assert execute(rule, "configmaps", dict(CM, data={"color": "green"})).item["data"]["color"] == "green"
    assert execute(rule, "secrets", CM).item["data"]["color"] == "blue"
    # The condition reads the source (its namespace before the mapping), the patch the item to create.
    mapped = dict(CM, metadata=dict(CM["metadata"], namespace="shop-copy"))
    assert execute(rule, "configmaps", mapped, source=CM).item["metadata"]["namespace"] == "shop-copy"
    assert execute(rule, "configmaps", mapped, source=CM).item["data"]["color"] == "red"


def test_merge_patch_skip_and_the_old_transforms_form():
    rule = one({"name": "unlabel", "merge_patch": {"metadata": {"labels": {"app": None}}}})
    assert rule.name == "unlabel"
    assert execute(rule, "configmaps", CM).item["metadata"]["labels"] == {}
    assert CM["metadata"]["labels"] == {"app": "shop"}
    assert execute(one({"resources": ["ConfigMap"], "skip": True}), "configmaps", CM).skip == "skipped by this rule"
    assert execute(one({"skip": "scratch data"}), "configmaps", CM).skip == "scratch data"
    old = one({"resources": ["configmaps"], "patch": [{"op": "add", "path": "/data/x", "value": "1"}]})
    assert execute(old, "configmaps", CM).item["data"] == {"color": "blue", "x": "1"}


def test_include_names_additional_items_found_by_jmespath():
    deployment = {"kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"template": {"spec": {
        "volumes": [{"name": "a", "configMap": {"name": "web-config"}}, {"name": "b", "emptyDir": {}}]}}}}
    rule = one({"resources": ["deployments.apps"],
                "include": "spec.template.spec.volumes[?configMap].{resource: 'configmaps', name: configMap.name}"},
               "backup")
    assert execute(rule, "deployments.apps", deployment).additional == [ItemRef("configmaps", "shop", "web-config")]
    bad = one({"include": "metadata.name"}, "backup")
    with pytest.raises(InvalidInputError, match=r"^backup_actions\[0\]\.include: each result must be"):
        execute(bad, "deployments.apps", deployment)


def test_a_failed_test_in_a_lifeboat_rule_fails_naming_the_rule():
    rule = one({"json_patch": [{"op": "test", "path": "/data/color", "value": "green"}]})
    with pytest.raises(InvalidInputError, match=r"^restore_actions\[0\]\.json_patch\[0\]: test of '/data/color' failed"):
        execute(rule, "configmaps", CM)


@pytest.mark.parametrize("rule,kind,message", [
    ({"json_patch": [{"op": "frobnicate", "path": "/a"}]}, "restore", r"^restore_actions\[0\]\.json_patch\[0\]"),
    ({"name_regex": "(", "skip": True}, "restore", r"^restore_actions\[0\]: name regex"),
    ({"jmespath": "a ==", "skip": True}, "restore", r"^restore_actions\[0\]\.jmespath"),
    ({"label_selector": "a=b,=c", "skip": True}, "restore", r"^restore_actions\[0\]\.label_selector"),
    ({"resources": ["configmaps"]}, "restore", r"^restore_actions\[0\]: says nothing to do"),
    ({"skip": True, "merge_patch": {}}, "restore", "skip cannot be combined"),
    ({"include": "x", "skip": True}, "restore", r"unknown key\(s\) include"),
    ({"merge_patch": ["a"]}, "restore", r"^restore_actions\[0\]\.merge_patch: a merge patch"),
    ({"json_patch": [], "patch": []}, "restore", "not both"),
    ({"resources": "configmaps", "skip": True}, "restore", r"resources: expected a list of strings"),
    ({"include": "[", "resources": ["pods"]}, "backup", r"^backup_actions\[0\]\.include: invalid JMESPath"),
])
def test_bad_rules_name_the_option(rule, kind, message):
    with pytest.raises(InvalidInputError, match=message):
        one(rule, kind)


def test_rules_must_be_a_list():
    with pytest.raises(InvalidInputError, match="^restore_actions: expected a list of rules or a Velero"):
        rules.read_rules({"skip": True}, "restore_actions", "restore")


# ---------------------------------------------------------------- Velero's documents

PVC = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
       "metadata": {"name": "mysql-data", "namespace": "bar", "labels": {"foo": "bar", "test": "x"}},
       "spec": {"storageClassName": "standard", "resources": {"requests": {"storage": "1Gi"}}}}

VELERO_DOCS_EXAMPLE = """
version: v1
resourceModifierRules:
- conditions:
     groupResource: persistentvolumeclaims
     resourceNameRegex: "^mysql.*$"
     namespaces:
     - bar
     - foo
     labelSelector:
        matchLabels:
           foo: bar
  patches:
  - operation: replace
    path: "/spec/storageClassName"
    value: "premium"
  - operation: remove
    path: "/metadata/labels/test"
"""


def velero(document, warnings=None):
    return rules.read_velero_document(rules.parse_document(document, "restore_actions"), "restore_actions",
                                      warnings if warnings is not None else [])


def test_the_velero_docs_example_applies_verbatim():
    rule = velero(VELERO_DOCS_EXAMPLE)[0]
    out = execute(rule, "persistentvolumeclaims", PVC).item
    assert out["spec"]["storageClassName"] == "premium"
    assert out["metadata"]["labels"] == {"foo": "bar"}
    for other in (dict(PVC, metadata=dict(PVC["metadata"], name="pg-data")),
                  dict(PVC, metadata=dict(PVC["metadata"], namespace="baz")),
                  dict(PVC, metadata=dict(PVC["metadata"], labels={"foo": "qux", "test": "x"}))):
        assert execute(rule, "persistentvolumeclaims", other).item["spec"]["storageClassName"] == "standard"
    assert execute(rule, "persistentvolumes", PVC).item["spec"]["storageClassName"] == "standard"


def test_velero_values_glob_matches_and_failed_tests():
    rules_ = velero({"version": "v1", "resourceModifierRules": [
        {"conditions": {"groupResource": "*.apps", "matches": [{"path": "/spec/replicas", "value": "3"}]},
         "patches": [{"operation": "replace", "path": "/spec/replicas", "value": "1"},
                     {"operation": "add", "path": "/metadata/labels/quoted", "value": "\"true\""},
                     {"operation": "add", "path": "/metadata/labels/obj", "value": "{\"a\": [1]}"}]},
        {"conditions": {"groupResource": "deployments.apps"},
         "patches": [{"operation": "test", "path": "/spec/paused", "value": "true"},
                     {"operation": "add", "path": "/metadata/labels/paused", "value": "yes"}]}]})
    deployment = {"kind": "Deployment", "metadata": {"name": "web", "namespace": "shop", "labels": {}},
                  "spec": {"replicas": 3}}
    out = execute(rules_[0], "deployments.apps", deployment).item
    assert out["spec"]["replicas"] == 1
    assert out["metadata"]["labels"] == {"quoted": "true", "obj": {"a": [1]}}
    assert execute(rules_[0], "deployments.apps", dict(deployment, spec={"replicas": 2})).item["spec"]["replicas"] == 2
    assert execute(rules_[0], "deployments.apps", dict(deployment, spec={})).item["spec"] == {}, "a missing path: no match"
    assert execute(rules_[0], "configmaps", deployment).item["spec"]["replicas"] == 3, "* stays within one part"
    # A failed test: the rule does not apply (Velero), rather than failing the restore.
    assert execute(rules_[1], "deployments.apps", deployment).item["metadata"]["labels"] == {}
    paused = dict(deployment, spec={"paused": True})
    assert execute(rules_[1], "deployments.apps", paused).item["metadata"]["labels"] == {"paused": "yes"}


def test_velero_merge_patches_and_both_kinds():
    warnings = []
    rule = velero({"version": "v1", "resourceModifierRules": [{
        "conditions": {"groupResource": "persistentvolumeclaims", "namespaces": ["*"]},
        "mergePatches": [{"patchData": "metadata:\n  labels:\n    test: null\n    new: label\n"}]}]}, warnings)[0]
    assert execute(rule, "persistentvolumeclaims", PVC).item["metadata"]["labels"] == {"foo": "bar", "new": "label"}
    assert not warnings
    velero({"version": "v1", "resourceModifierRules": [{
        "conditions": {"groupResource": "pods"}, "patches": [{"operation": "remove", "path": "/x"}],
        "mergePatches": [{"patchData": "{}"}]}]}, warnings)
    assert warnings == ["restore_actions.resourceModifierRules[0]: has patches and mergePatches; as in Velero, only "
                        "the patches are applied"]


def test_velero_namespaces_do_not_constrain_cluster_scoped_objects():
    rule = velero({"version": "v1", "resourceModifierRules": [{
        "conditions": {"groupResource": "persistentvolumes", "namespaces": ["bar"]},
        "patches": [{"operation": "replace", "path": "/spec/storageClassName", "value": "premium"}]}]})[0]
    pv = {"kind": "PersistentVolume", "metadata": {"name": "pv-1"}, "spec": {"storageClassName": "x"}}
    assert execute(rule, "persistentvolumes", pv).item["spec"]["storageClassName"] == "premium"


@pytest.mark.parametrize("document,message", [
    ({"version": "v2", "resourceModifierRules": [{}]}, "unsupported resource modifier version 'v2'"),
    ({"version": "v1", "resourceModifierRules": []}, "must be a non-empty list"),
    ({"version": "v1", "resourceModifierRules": [{"conditions": {}, "patches": []}]}, "groupResource: required"),
    ({"version": "v1", "resourceModifierRules": [{"conditions": {"groupResource": "pods"}}]}, "no patch data found"),
    ({"version": "v1", "resourceModifierRules": [{"conditions": {"groupResource": "pods"},
                                                  "strategicPatches": [{"patchData": "{}"}]}]},
     r"strategicPatches: strategic merge patches are not supported"),
    ({"version": "v1", "resourceModifierRules": [{"conditions": {"groupResource": "pods", "kind": "x"},
                                                  "patches": []}]}, r"conditions: unknown key\(s\) kind"),
    ({"version": "v1", "resourceModifierRules": [{"conditions": {"groupResource": "pods"},
                                                  "patches": [{"operation": "replace", "path": ""}]}]},
     r"patches\[0\]: path cannot be empty"),
    ({"version": "v1", "resourceModifierRules": [{"conditions": {"groupResource": "pods"},
                                                  "patches": [{"operation": "frob", "path": "/a"}]}]},
     r"patches\[0\]: expected \{op: add"),
    ({"version": "v1", "resourceModifierRules": [{"conditions": {"groupResource": "pods", "labelSelector": {
        "matchExpressions": [{"key": "a", "operator": "Gt"}]}}, "patches": [{"operation": "remove", "path": "/a"}]}]},
     r"labelSelector.matchExpressions\[0\]"),
    ("version: v1\nresourceModifierRules: [", "not valid YAML"),
])
def test_bad_velero_documents_fail_clearly(document, message):
    with pytest.raises(InvalidInputError, match=message) as caught:
        velero(document)
    assert str(caught.value).startswith("restore_actions")


def test_velero_value_reads_strings_as_velero_does():
    assert [rules.velero_value(v) for v in ("premium", "null", "True", "3", "-1.5", "[1]", "\"3\"", "", 7)] == \
        ["premium", None, True, 3, -1.5, [1], "3", "", 7]
