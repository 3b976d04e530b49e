"""The pure parts of planning, each in its own module: ordering, selectors, patches, comparison."""

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.kube import compare, ordering, patches, selectors
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError


def test_tiers_put_crds_and_namespaces_first_and_workloads_last():
    dirs = ["deployments.apps", "widgets.example.com", "configmaps", "namespaces", "pods",
            "customresourcedefinitions.apiextensions.k8s.io", "persistentvolumeclaims", "persistentvolumes",
            "networkpolicies.networking.k8s.io", "replicasets.apps"]
    ordered = sorted(dirs, key=ordering.tier)
    assert ordered[:2] == ["customresourcedefinitions.apiextensions.k8s.io", "namespaces"]
    assert ordered.index("persistentvolumes") < ordered.index("persistentvolumeclaims") < ordered.index("configmaps")
    assert ordered[-3:] == ["pods", "replicasets.apps", "deployments.apps"]
    assert ordered.index("networkpolicies.networking.k8s.io") < ordered.index("widgets.example.com")


@pytest.mark.parametrize("res_dir,kind,patterns,expected", [
    ("deployments.apps", "Deployment", ["deployments.apps"], True),
    ("deployments.apps", "Deployment", ["deployments"], True),
    ("deployments.apps", "Deployment", ["Deployment"], True),
    ("deployments.apps", "Deployment", ["*"], True),
    ("deployments.apps", "Deployment", ["statefulsets.apps", "configmaps"], False),
    ("configmaps", "ConfigMap", ["configmap"], True),
])
def test_resource_matches(res_dir, kind, patterns, expected):
    assert selectors.resource_matches(res_dir, kind, patterns) is expected


@pytest.mark.parametrize("selector,labels,expected", [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "db"}, False),
    ("app!=web", {}, True),
    ("tier in (a, b),app", {"tier": "b", "app": "x"}, True),
    ("tier notin (a,b)", {"tier": "a"}, False),
    ("!legacy", {"legacy": "1"}, False),
    ("", {"anything": "x"}, True),
])
def test_selectors(selector, labels, expected):
    assert selectors.selector_matches(selectors.parse_selector(selector), labels) is expected


def test_bad_selector_names_the_option():
    with pytest.raises(InvalidInputError, match="label_selector: cannot parse"):
        selectors.parse_selector("app=web,=oops")


def test_json_patch_operations():
    doc = {"data": {"a": "1"}, "list": [1, 2]}
    out = patches.JsonPatch([
        {"op": "replace", "path": "/data/a", "value": "2"},
        {"op": "add", "path": "/data/b~1c", "value": "3"},
        {"op": "add", "path": "/list/-", "value": 3},
        {"op": "remove", "path": "/list/0"},
        {"op": "copy", "from": "/data/a", "path": "/copied"},
        {"op": "move", "from": "/copied", "path": "/moved"},
        {"op": "test", "path": "/moved", "value": "2"},
    ]).apply(doc)
    assert out == {"data": {"a": "2", "b/c": "3"}, "list": [2, 3], "moved": "2"}
    assert doc == {"data": {"a": "1"}, "list": [1, 2]}


@pytest.mark.parametrize("op,message", [
    ({"op": "remove", "path": "/nope/x"}, "remove: path '/nope/x' does not exist in the object"),
    ({"op": "replace", "path": "data/a", "value": 1}, "path 'data/a' is not a JSON pointer"),
    ({"op": "test", "path": "/data/a", "value": "9"}, "test of '/data/a' failed"),
    # RFC 6902 edge cases the hand-written implementation got wrong:
    ({"op": "add", "path": "/list/5", "value": 9}, "add '/list/5': can't insert outside of list"),
    ({"op": "add", "path": "/list/x", "value": 9}, "'x' is not a valid sequence index"),
    ({"op": "add", "path": "/list/-1", "value": 9}, "'-1' is not a valid sequence index"),
    ({"op": "add", "path": "/list/01", "value": 9}, "'01' is not a valid sequence index"),
    ({"op": "add", "path": "/data/b"}, "add needs 'value'"),
    ({"op": "move", "path": "/b"}, "move needs 'from'"),
    ({"op": "remove", "path": ""}, "remove needs a path below the root"),
    ({"op": "add", "path": "/nope/a", "value": 1}, "'/nope', the parent of path '/nope/a', does not exist"),
    ({"op": "copy", "from": "/data/zz", "path": "/x"}, "copy: from '/data/zz' does not exist in the object"),
    ({"op": "move", "from": "/data", "path": "/data/x"}, "Cannot move values into their own children"),
    ({"op": "frob", "path": "/x"}, "expected {op: add|remove|replace|move|copy|test"),
])
def test_json_patch_errors_name_the_rule_and_operation(op, message):
    with pytest.raises(InvalidInputError) as caught:
        patches.JsonPatch([op], "transforms[2].patch").apply({"data": {"a": "1"}, "list": [1, 2]})
    assert str(caught.value).startswith("transforms[2].patch[0]: ")
    assert message in str(caught.value)


def test_json_patch_follows_the_rfc_where_it_allows_more():
    doc = {"list": [1, 2]}
    assert patches.JsonPatch([{"op": "add", "path": "/list/2", "value": 3}]).apply(doc) == {"list": [1, 2, 3]}
    assert patches.JsonPatch([{"op": "replace", "path": "", "value": {"z": 1}}]).apply(doc) == {"z": 1}


def test_json_patch_messages_never_quote_the_object():
    secret = {"data": {"password": "hunter2-do-not-print"}}
    for op in ({"op": "remove", "path": "/data/nope"}, {"op": "add", "path": "/data/password/x", "value": 1},
               {"op": "replace", "path": "/nope/x", "value": 1}):
        with pytest.raises(InvalidInputError) as caught:
            patches.JsonPatch([op]).apply(secret)
        assert "hunter2" not in str(caught.value)


def test_is_subset_ignores_server_defaults_but_not_changes():
    desired = {"spec": {"ports": [{"port": 80}], "type": "NodePort"}, "metadata": {"labels": {}}}
    existing = {"spec": {"ports": [{"port": 80, "nodePort": 30001, "protocol": "TCP"}], "type": "NodePort",
                         "sessionAffinity": "None"}, "metadata": {"labels": {"extra": "x"}}}
    assert compare.is_subset(desired, existing)
    assert not compare.is_subset({"spec": {"ports": [{"port": 81}]}}, existing)
    assert not compare.is_subset({"spec": {"ports": [{"port": 80}, {"port": 81}]}}, existing)
    assert not compare.is_subset({"data": {"a": "1"}}, {"data": {"a": "2"}})
    assert compare.is_subset({"data": {}}, {})


def test_operations_are_checked_before_any_object_is_touched():
    with pytest.raises(InvalidInputError, match=r"^rule\.json_patch\[1\]: add needs 'value'"):
        patches.JsonPatch([{"op": "remove", "path": "/a"}, {"op": "add", "path": "/b"}], "rule.json_patch")
    with pytest.raises(InvalidInputError, match="expected a list of RFC 6902 operations"):
        patches.JsonPatch({"op": "remove", "path": "/a"}, "rule.json_patch")


def test_a_failed_test_is_its_own_error_so_velero_rules_can_treat_it_as_no_match():
    with pytest.raises(patches.PatchTestFailed):
        patches.JsonPatch([{"op": "test", "path": "/a", "value": 2}]).apply({"a": 1})


@pytest.mark.parametrize("doc,patch,expected", [
    # RFC 7386 appendix A, a selection.
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_merge_patch_follows_rfc_7386(doc, patch, expected):
    assert patches.merge_patch(doc, patch) == expected


def test_merge_patch_leaves_the_original_alone_and_refuses_a_non_mapping():
    doc = {"metadata": {"labels": {"a": "1", "b": "2"}}}
    assert patches.merge_patch(doc, {"metadata": {"labels": {"a": None}}}) == {"metadata": {"labels": {"b": "2"}}}
    assert doc == {"metadata": {"labels": {"a": "1", "b": "2"}}}
    with pytest.raises(InvalidInputError, match="^rule.merge_patch: a merge patch"):
        patches.check_merge_patch(["a"], "rule.merge_patch")


def test_label_selector_dicts_become_requirements():
    requirements = selectors.label_selector_requirements({
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                             {"key": "legacy", "operator": "DoesNotExist"}]})
    assert selectors.selector_matches(requirements, {"app": "web", "tier": "a"})
    assert not selectors.selector_matches(requirements, {"app": "web", "tier": "c"})
    assert not selectors.selector_matches(requirements, {"app": "web", "tier": "a", "legacy": "1"})
    with pytest.raises(InvalidInputError, match=r"^sel.matchExpressions\[0\]: needs a key and an operator"):
        selectors.label_selector_requirements({"matchExpressions": [{"key": "a", "operator": "Near"}]}, "sel")
    with pytest.raises(InvalidInputError, match="^sel: expected a LabelSelector"):
        selectors.label_selector_requirements({"matchLabel": {}}, "sel")
