"""Why a workload is not available, read from its pods; which reasons end a wait at once."""

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import LifeboatError
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.verify import NAMESPACE_INFO_ARG_SPEC, NamespaceInfoOptions
from ansible_collections.lifeboat.k8s.plugins.module_utils.verify import namespace as info

from ..module_options import options_of
from ..fake_cluster import FakeCluster


def deployment(name, desired, available, labels):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "shop"},
            "spec": {"replicas": desired, "selector": {"matchLabels": labels}},
            "status": {"availableReplicas": available}}


def pod(name, labels, status):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "shop", "labels": labels},
            "spec": {}, "status": status}


def waiting(reason, message):
    return {"phase": "Pending", "containerStatuses": [
        {"name": "web", "ready": False, "state": {"waiting": {"reason": reason, "message": message}}}]}


@pytest.mark.parametrize("status, expected", [
    (waiting("ErrImageNeverPull", 'image "x:1" is not present'), 'ErrImageNeverPull: image "x:1" is not present'),
    (waiting("ContainerCreating", ""), "pod p is Pending"),
    ({"phase": "Running", "containerStatuses": [{"name": "web", "ready": False, "state": {"running": {}},
                                                 "lastState": {"terminated": {"reason": "Error", "exitCode": 2}}}]},
     "container web last exited: Error (exit code 2)"),
    ({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                                          "message": "0/1 nodes are available"}]},
     "unschedulable: 0/1 nodes are available"),
    ({"phase": "Running", "containerStatuses": [{"name": "web", "ready": False, "state": {"running": {}}}]},
     "pod p is Running"),
])
def test_pod_problem_names_the_first_cause(status, expected):
    assert info.pod_problem(pod("p", {}, status)) == expected


def cluster(*objects):
    fake = FakeCluster()
    fake.add("", "namespaces", {"metadata": {"name": "shop"}})
    fake.add("", "nodes", {"metadata": {"name": "n1"},
                           "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    for group, resource, obj in objects:
        fake.add(group, resource, obj)
    return fake


def test_reasons_come_from_the_workloads_own_pods_only():
    fake = cluster(
        ("apps", "deployments", deployment("web", 1, 0, {"app": "web"})),
        ("apps", "deployments", deployment("api", 1, 1, {"app": "api"})),
        ("", "pods", pod("web-1", {"app": "web"}, waiting("ImagePullBackOff", "Back-off pulling image"))),
        ("", "pods", pod("other", {"app": "other"}, waiting("ErrImageNeverPull", "not present"))))
    result = info.namespace_info(fake, options_of(NamespaceInfoOptions, NAMESPACE_INFO_ARG_SPEC, namespace="shop"))
    by_name = {w["name"]: w for w in result["workloads"]}
    assert by_name["web"]["reason"] == "ImagePullBackOff: Back-off pulling image"
    assert by_name["api"]["reason"] is None and by_name["api"]["available"]
    assert result["workloads_available"] is False
    assert not info.hopeless(result)  # a back-off may still recover: waiting goes on


def test_a_workload_without_pods_says_so():
    result = info.namespace_info(cluster(("apps", "deployments", deployment("web", 2, 0, {"app": "web"}))),
                                 options_of(NamespaceInfoOptions, NAMESPACE_INFO_ARG_SPEC, namespace="shop"))
    assert result["workloads"][0]["reason"] == "no pods"


def test_waiting_stops_at_once_on_a_reason_waiting_cannot_cure():
    fake = cluster(("apps", "deployments", deployment("web", 1, 0, {"app": "web"})),
                   ("", "pods", pod("web-1", {"app": "web"}, waiting("ErrImageNeverPull", 'image "x:1" missing'))))
    with pytest.raises(LifeboatError) as caught:
        info.namespace_info(fake, options_of(NamespaceInfoOptions, NAMESPACE_INFO_ARG_SPEC, namespace="shop", wait=True, wait_timeout=600))
    assert str(caught.value) == ('namespace shop will not settle by waiting: Deployment web (0/1 ready: '
                                 'ErrImageNeverPull: image "x:1" missing)')


@pytest.mark.parametrize("selector, selected", [
    ({"matchLabels": {"app": "web"}}, True),
    ({"matchLabels": {"app": "api"}}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "edge"]}]}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}, False),
    ({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]}, True),
    ({"matchExpressions": [{"key": "canary", "operator": "Exists"}]}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "Gt", "values": ["1"]}]}, False),
    ({}, False),
])
def test_a_workload_finds_its_pods_by_its_label_selector(selector, selected):
    assert info._selected(selector, pod("p", {"app": "web", "tier": "front"}, {})) is selected
