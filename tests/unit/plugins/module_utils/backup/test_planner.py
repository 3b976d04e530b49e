"""Restore planning rules: order, stripping, skips, mapping, selectors, transforms, comparison."""

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.backup import planner
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError


def test_tiers_put_crds_and_namespaces_first_and_workloads_last():
    dirs = ["deployments.apps", "widgets.example.com", "configmaps", "namespaces", "pods",
            "customresourcedefinitions.apiextensions.k8s.io", "persistentvolumeclaims", "persistentvolumes",
            "networkpolicies.networking.k8s.io", "replicasets.apps"]
    ordered = sorted(dirs, key=planner.tier)
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
    assert planner.resource_matches(res_dir, kind, patterns) is expected


def pod(name, owner_uid=None, phase="Running"):
    meta = {"name": name, "namespace": "shop", "uid": "pod-" + name}
    if owner_uid:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": "web-1", "uid": owner_uid, "controller": True}]
    return {"kind": "Pod", "metadata": meta, "status": {"phase": phase}}


def test_owned_objects_are_skipped_only_when_their_owner_is_restored():
    assert "owned by ReplicaSet web-1" in planner.skip_reason("pods", pod("a", "rs-uid"), {"rs-uid"}, set())
    assert planner.skip_reason("pods", pod("b", "other-uid"), {"rs-uid"}, set()) is None


@pytest.mark.parametrize("res_dir,obj", [
    ("secrets", {"metadata": {"name": "t"}, "type": "kubernetes.io/service-account-token"}),
    ("configmaps", {"metadata": {"name": "kube-root-ca.crt"}}),
    ("endpoints", {"metadata": {"name": "web", "namespace": "shop"}}),
    ("volumesnapshots.snapshot.storage.k8s.io", {"metadata": {"name": "s"}}),
    ("pods", {"metadata": {"name": "done"}, "status": {"phase": "Succeeded"}}),
])
def test_objects_the_cluster_recreates_are_skipped(res_dir, obj):
    assert planner.skip_reason(res_dir, obj, set(), {("shop", "web")})


def test_prepare_strips_server_fields_and_maps_the_namespace():
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "status": {"x": 1}, "data": {"a": "b"},
           "metadata": {"name": "c", "namespace": "shop", "uid": "u", "resourceVersion": "7",
                        "creationTimestamp": "t", "managedFields": [], "ownerReferences": [{}], "labels": {"l": "v"}}}
    out = planner.prepare("configmaps", obj, {"shop": "copy"})
    assert out == {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"},
                   "metadata": {"name": "c", "namespace": "copy", "labels": {"l": "v"}}}
    assert obj["metadata"]["uid"] == "u", "the backed-up object is not modified"
    assert planner.prepare("configmaps", obj, {}, keep_status=True)["status"] == {"x": 1}


def test_services_lose_cluster_ips_and_node_ports_unless_headless_or_preserved():
    spec = {"clusterIP": "10.0.0.5", "clusterIPs": ["10.0.0.5"], "ports": [{"port": 80, "nodePort": 30080}]}
    svc = {"metadata": {"name": "s"}, "spec": spec}
    out = planner.prepare("services", svc, {})
    assert out["spec"] == {"ports": [{"port": 80}]}
    kept = planner.prepare("services", svc, {}, preserve_node_ports=True)
    assert kept["spec"]["ports"][0]["nodePort"] == 30080
    headless = {"metadata": {"name": "h"}, "spec": {"clusterIP": "None", "clusterIPs": ["None"]}}
    assert planner.prepare("services", headless, {})["spec"]["clusterIP"] == "None"


def test_mapping_reaches_binding_subjects_and_pv_claim_refs():
    binding = {"metadata": {"name": "b", "namespace": "shop"},
               "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": "shop"},
                            {"kind": "ServiceAccount", "name": "x", "namespace": "other"}]}
    out = planner.prepare("rolebindings.rbac.authorization.k8s.io", binding, {"shop": "copy"})
    assert [s["namespace"] for s in out["subjects"]] == ["copy", "other"]
    pv = {"metadata": {"name": "pv"}, "spec": {"claimRef": {"namespace": "shop", "name": "data", "uid": "u",
                                                            "resourceVersion": "1"}}}
    assert planner.prepare("persistentvolumes", pv, {"shop": "copy"})["spec"]["claimRef"] == {
        "namespace": "copy", "name": "data"}


def test_pods_lose_node_and_token_volume_and_jobs_their_generated_selector():
    p = {"metadata": {"name": "p"}, "spec": {
        "nodeName": "n1", "volumes": [{"name": "kube-api-access-x1", "projected": {}}, {"name": "data"}],
        "containers": [{"name": "c", "volumeMounts": [{"name": "kube-api-access-x1"}, {"name": "data"}]}]}}
    spec = planner.prepare("pods", p, {})["spec"]
    assert "nodeName" not in spec
    assert spec["volumes"] == [{"name": "data"}]
    assert spec["containers"][0]["volumeMounts"] == [{"name": "data"}]
    job = {"metadata": {"name": "j", "labels": {"controller-uid": "u", "app": "a"}},
           "spec": {"selector": {"matchLabels": {"controller-uid": "u"}},
                    "template": {"metadata": {"labels": {"controller-uid": "u", "app": "a"}}}}}
    out = planner.prepare("jobs.batch", job, {})
    assert "selector" not in out["spec"]
    assert out["metadata"]["labels"] == {"app": "a"}
    assert out["spec"]["template"]["metadata"]["labels"] == {"app": "a"}


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
    assert planner.selector_matches(planner.parse_selector(selector), labels) is expected


def test_bad_selector_names_the_option():
    with pytest.raises(InvalidInputError, match="label_selector: cannot parse"):
        planner.parse_selector("app=web,=oops")


def test_json_patch_operations():
    doc = {"data": {"a": "1"}, "list": [1, 2]}
    out = planner.json_patch(doc, [
        {"op": "replace", "path": "/data/a", "value": "2"},
        {"op": "add", "path": "/data/b~1c", "value": "3"},
        {"op": "add", "path": "/list/-", "value": 3},
        {"op": "remove", "path": "/list/0"},
        {"op": "copy", "from": "/data/a", "path": "/copied"},
        {"op": "move", "from": "/copied", "path": "/moved"},
        {"op": "test", "path": "/moved", "value": "2"},
    ])
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
        planner.json_patch({"data": {"a": "1"}, "list": [1, 2]}, [op], "transforms[2].patch")
    assert str(caught.value).startswith("transforms[2].patch[0]: ")
    assert message in str(caught.value)


def test_json_patch_follows_the_rfc_where_it_allows_more():
    doc = {"list": [1, 2]}
    assert planner.json_patch(doc, [{"op": "add", "path": "/list/2", "value": 3}]) == {"list": [1, 2, 3]}
    assert planner.json_patch(doc, [{"op": "replace", "path": "", "value": {"z": 1}}]) == {"z": 1}


def test_json_patch_messages_never_quote_the_object():
    secret = {"data": {"password": "hunter2-do-not-print"}}
    for op in ({"op": "remove", "path": "/data/nope"}, {"op": "add", "path": "/data/password/x", "value": 1},
               {"op": "replace", "path": "/nope/x", "value": 1}):
        with pytest.raises(InvalidInputError) as caught:
            planner.json_patch(secret, [op])
        assert "hunter2" not in str(caught.value)


def test_transform_operations_are_checked_before_any_object_is_touched():
    with pytest.raises(InvalidInputError, match=r"^transforms\[1\]\.patch\[1\]: add needs 'value'"):
        planner.Transform({"patch": [{"op": "remove", "path": "/a"}, {"op": "add", "path": "/b"}]}, 1)


def test_transform_conditions():
    rule = planner.Transform({"resources": ["configmaps"], "namespaces": ["shop"], "name_regex": "^set",
                              "label_selector": "app=shop", "jmespath": "data.color == 'blue'",
                              "patch": [{"op": "replace", "path": "/data/color", "value": "red"}]}, 0)
    cm = {"kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "shop", "labels": {"app": "shop"}},
          "data": {"color": "blue"}}
    assert rule.matches("configmaps", cm)
    assert rule.apply(cm)["data"]["color"] == "red"
    for changed in ({"name": "other"}, {"namespace": "dev"}, {"labels": {}}):
        other = dict(cm, metadata=dict(cm["metadata"], **changed))
        assert not rule.matches("configmaps", other)
    assert not rule.matches("configmaps", dict(cm, data={"color": "green"}))
    assert not rule.matches("secrets", cm)


@pytest.mark.parametrize("rule,message", [
    ({"patch": [{"op": "frobnicate", "path": "/a"}]}, r"transforms\[0\].patch\[0\]"),
    ({"name_regex": "("}, r"transforms\[0\].name_regex"),
    ({"jmespath": "a =="}, r"transforms\[0\].jmespath"),
])
def test_bad_transforms_name_the_option(rule, message):
    with pytest.raises(InvalidInputError, match=message):
        planner.Transform(rule, 0)


def test_is_subset_ignores_server_defaults_but_not_changes():
    desired = {"spec": {"ports": [{"port": 80}], "type": "NodePort"}, "metadata": {"labels": {}}}
    existing = {"spec": {"ports": [{"port": 80, "nodePort": 30001, "protocol": "TCP"}], "type": "NodePort",
                         "sessionAffinity": "None"}, "metadata": {"labels": {"extra": "x"}}}
    assert planner.is_subset(desired, existing)
    assert not planner.is_subset({"spec": {"ports": [{"port": 81}]}}, existing)
    assert not planner.is_subset({"spec": {"ports": [{"port": 80}, {"port": 81}]}}, existing)
    assert not planner.is_subset({"data": {"a": "1"}}, {"data": {"a": "2"}})
    assert planner.is_subset({"data": {}}, {})
