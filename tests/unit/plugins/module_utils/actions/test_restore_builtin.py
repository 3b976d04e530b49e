"""Every built-in restore item action alone: what it changes or skips, and what it leaves alone."""

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions import restore_builtin as rb
from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.base import ItemContext
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.plan import RestoreRun, prepare_core


class FakeCluster:
    """Only what RestoreRun.exists asks: does a GET find the object?"""

    def __init__(self, existing=()):
        self.existing = set(existing)

    def get_or_none(self, path):
        return {} if path in self.existing else None


def run_action(cls, res_dir, obj, entries=None, mapping=None, records=(), options=None, k8s=None):
    """One action on one object, as the pipeline would call it; returns (result, run)."""
    entries = entries if entries is not None else [(res_dir, obj["metadata"].get("namespace"), obj)]
    run = RestoreRun(entries, mapping or {}, options, records, k8s)
    action = cls()
    context = ItemContext(res_dir, run, source=obj)
    assert action.applies_to.matches(res_dir, obj), "%s should apply to %s" % (action.name, res_dir)
    return action.execute(prepare_core(res_dir, obj, run.mapping), context), run


def applies(cls, res_dir, obj):
    return cls().applies_to.matches(res_dir, obj)


def test_names_are_unique_and_kebab_case():
    names = [cls.name for cls in rb.RESTORE_ACTIONS]
    assert len(names) == len(set(names))
    assert all(n and n == n.lower() and " " not in n and cls.description for n, cls in zip(names, rb.RESTORE_ACTIONS))


def test_core_preparation_strips_server_fields_and_maps_the_namespace():
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "status": {"x": 1}, "data": {"a": "b"},
           "metadata": {"name": "c", "namespace": "shop", "uid": "u", "resourceVersion": "7",
                        "creationTimestamp": "t", "managedFields": [], "ownerReferences": [{}], "labels": {"l": "v"}}}
    out = prepare_core("configmaps", obj, {"shop": "copy"})
    assert out == {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"},
                   "metadata": {"name": "c", "namespace": "copy", "labels": {"l": "v"}}}
    assert obj["metadata"]["uid"] == "u", "the backed-up object is not modified"
    assert prepare_core("configmaps", obj, {}, keep_status=True)["status"] == {"x": 1}
    ns = {"metadata": {"name": "shop", "labels": {"kubernetes.io/metadata.name": "shop", "team": "a"}}}
    assert prepare_core("namespaces", ns, {"shop": "copy"})["metadata"] == {"name": "copy", "labels": {"team": "a"}}


@pytest.mark.parametrize("res_dir", ["nodes", "events", "events.events.k8s.io", "backups.velero.io",
                                     "csinodes.storage.k8s.io"])
def test_non_restorable_kinds_are_skipped(res_dir):
    result, _run = run_action(rb.NonRestorableKinds, res_dir, {"metadata": {"name": "x"}})
    assert "never restored" in result.skip
    assert not applies(rb.NonRestorableKinds, "configmaps", {"metadata": {"name": "x"}})


@pytest.mark.parametrize("res_dir,obj,skipped", [
    ("clusterroles.rbac.authorization.k8s.io", {"metadata": {"name": "view"}}, True),
    ("clusterroles.rbac.authorization.k8s.io", {"metadata": {"name": "system:node"}}, True),
    ("clusterroles.rbac.authorization.k8s.io", {"metadata": {"name": "aggregated", "labels": {
        "kubernetes.io/bootstrapping": "rbac-defaults"}}}, True),
    ("clusterroles.rbac.authorization.k8s.io", {"metadata": {"name": "shop-reader"}}, False),
    ("clusterrolebindings.rbac.authorization.k8s.io", {"metadata": {"name": "cluster-admin"}}, True),
    ("clusterrolebindings.rbac.authorization.k8s.io", {"metadata": {"name": "shop-operator"}}, False),
    ("priorityclasses.scheduling.k8s.io", {"metadata": {"name": "system-node-critical"}}, True),
    ("priorityclasses.scheduling.k8s.io", {"metadata": {"name": "shop-high"}}, False),
    ("apiservices.apiregistration.k8s.io", {"metadata": {"name": "v1.apps"}, "spec": {"service": None}}, True),
    ("apiservices.apiregistration.k8s.io", {"metadata": {"name": "v1beta1.metrics.k8s.io"},
                                            "spec": {"service": {"name": "metrics-server"}}}, False),
    ("flowschemas.flowcontrol.apiserver.k8s.io", {"metadata": {"name": "exempt", "annotations": {
        "apf.kubernetes.io/autoupdate-spec": "true"}}}, True),
    ("flowschemas.flowcontrol.apiserver.k8s.io", {"metadata": {"name": "shop"}}, False),
])
def test_what_every_cluster_makes_for_itself_is_skipped_and_what_the_user_made_is_not(res_dir, obj, skipped):
    result, _run = run_action(rb.ClusterBootstrapObjects, res_dir, obj)
    assert bool(result.skip) is skipped, result.skip
    if skipped:
        assert result.skip.endswith("the target cluster has its own")
    assert not applies(rb.ClusterBootstrapObjects, "configmaps", {"metadata": {"name": "view"}})


def test_source_cluster_snapshots_are_skipped():
    result, _run = run_action(rb.SourceClusterSnapshots, "volumesnapshots.snapshot.storage.k8s.io",
                              {"metadata": {"name": "s", "namespace": "shop"}})
    assert "snapshot records" in result.skip
    assert not applies(rb.SourceClusterSnapshots, "persistentvolumeclaims", {"metadata": {"name": "x"}})


def pod(name, owner_uid=None, phase="Running"):
    meta = {"name": name, "namespace": "shop", "uid": "pod-" + name}
    if owner_uid:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": "web-1", "uid": owner_uid, "controller": True}]
    return {"kind": "Pod", "metadata": meta, "status": {"phase": phase}}


def test_owned_objects_are_skipped_only_when_their_owner_is_restored():
    rs = {"kind": "ReplicaSet", "metadata": {"name": "web-1", "namespace": "shop", "uid": "rs-uid"}}
    owned = pod("a", "rs-uid")
    entries = [("replicasets.apps", "shop", rs), ("pods", "shop", owned)]
    result, _run = run_action(rb.OwnedByRestoredController, "pods", owned, entries)
    assert result.skip == "owned by ReplicaSet web-1, which recreates it"
    orphan = pod("b", "other-uid")
    result, _run = run_action(rb.OwnedByRestoredController, "pods", orphan, entries + [("pods", "shop", orphan)])
    assert result.skip is None


def test_service_account_tokens():
    token = {"metadata": {"name": "app-token-x", "namespace": "shop"}, "type": "kubernetes.io/service-account-token"}
    assert run_action(rb.ServiceAccountTokens, "secrets", token)[0].skip
    plain = {"metadata": {"name": "db", "namespace": "shop"}, "type": "Opaque"}
    assert run_action(rb.ServiceAccountTokens, "secrets", plain)[0].skip is None
    sa = {"metadata": {"name": "app", "namespace": "shop"}, "secrets": [{"name": "app-token-x"}, {"name": "pull"}]}
    assert run_action(rb.ServiceAccountTokens, "serviceaccounts", sa)[0].item["secrets"] == [{"name": "pull"}]
    only_token = dict(sa, secrets=[{"name": "app-token-x"}])
    assert "secrets" not in run_action(rb.ServiceAccountTokens, "serviceaccounts", only_token)[0].item


def test_cluster_root_ca():
    assert run_action(rb.ClusterRootCA, "configmaps", {"metadata": {"name": "kube-root-ca.crt", "namespace": "a"}})[0].skip
    assert run_action(rb.ClusterRootCA, "configmaps", {"metadata": {"name": "settings", "namespace": "a"}})[0].skip is None


def test_service_endpoints_only_of_restored_services():
    svc = {"metadata": {"name": "web", "namespace": "shop"}}
    ep = {"metadata": {"name": "web", "namespace": "shop"}}
    assert run_action(rb.ServiceEndpoints, "endpoints", ep, [("services", "shop", svc), ("endpoints", "shop", ep)])[0].skip
    assert run_action(rb.ServiceEndpoints, "endpoints", ep)[0].skip is None, "manual endpoints without a Service stay"
    managed = {"metadata": {"name": "web-x", "namespace": "shop", "labels": {
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}}}
    assert run_action(rb.ServiceEndpoints, "endpointslices.discovery.k8s.io", managed)[0].skip
    custom = {"metadata": {"name": "mine", "namespace": "shop", "labels": {}}}
    assert run_action(rb.ServiceEndpoints, "endpointslices.discovery.k8s.io", custom)[0].skip is None


def test_finished_pods():
    assert run_action(rb.FinishedPods, "pods", pod("done", phase="Succeeded"))[0].skip == "finished pod"
    assert run_action(rb.FinishedPods, "pods", pod("failed", phase="Failed"))[0].skip == "finished pod"
    assert run_action(rb.FinishedPods, "pods", pod("up"))[0].skip is None


SERVICE = {"metadata": {"name": "s", "namespace": "shop"},
           "spec": {"clusterIP": "10.0.0.5", "clusterIPs": ["10.0.0.5"], "healthCheckNodePort": 31000,
                    "ports": [{"port": 80, "nodePort": 30080}]}}


def test_service_cluster_ip_except_headless():
    spec = run_action(rb.ServiceClusterIP, "services", SERVICE)[0].item["spec"]
    assert "clusterIP" not in spec and "clusterIPs" not in spec and spec["ports"][0]["nodePort"] == 30080
    headless = {"metadata": {"name": "h", "namespace": "shop"}, "spec": {"clusterIP": "None", "clusterIPs": ["None"]}}
    assert run_action(rb.ServiceClusterIP, "services", headless)[0].item["spec"]["clusterIP"] == "None"


def test_service_node_ports_unless_preserved():
    spec = run_action(rb.ServiceNodePorts, "services", SERVICE)[0].item["spec"]
    assert spec["ports"] == [{"port": 80}] and "healthCheckNodePort" not in spec and spec["clusterIP"] == "10.0.0.5"
    kept = run_action(rb.ServiceNodePorts, "services", SERVICE, options={"preserve_node_ports": True})[0].item
    assert kept["spec"]["ports"][0]["nodePort"] == 30080


def test_pvc_bookkeeping():
    pvc = {"metadata": {"name": "data", "namespace": "shop",
                        "annotations": {"pv.kubernetes.io/bind-completed": "yes", "velero.io/volume-snapshot-name": "v",
                                        "lifeboat.k8s/restored-from": "snap-1", "lifeboat.k8s/restore-pv": "pv-x",
                                        "lifeboat.k8s/restore-region": "eu-west-1", "team": "a"},
                        "labels": {"velero.io/backup-name": "b", "app": "shop"}}, "spec": {}}
    meta = run_action(rb.PvcBookkeeping, "persistentvolumeclaims", pvc)[0].item["metadata"]
    assert meta["annotations"] == {"team": "a"} and meta["labels"] == {"app": "shop"}


def claim(name="data", volume="pv-1"):
    return {"metadata": {"name": name, "namespace": "shop"}, "spec": {"volumeName": volume, "storageClassName": "x"}}


RECORD = {"driver": "csi", "snapshot_id": "h", "source": {"namespace": "shop", "pvc": "data"}}


def test_pvc_from_snapshot_hands_the_record_to_the_block_store():
    result, _run = run_action(rb.PvcFromSnapshot, "persistentvolumeclaims", claim(), records=[RECORD])
    assert result.volume_record is RECORD
    result, _run = run_action(rb.PvcFromSnapshot, "persistentvolumeclaims", claim("other"), records=[RECORD])
    assert result.volume_record is None


def test_pvc_volume_binding():
    pv = {"metadata": {"name": "pv-1"}, "spec": {"claimRef": {"namespace": "shop", "name": "data"}}}
    entries = [("persistentvolumes", None, pv), ("persistentvolumeclaims", "shop", claim())]
    result, run = run_action(rb.PvcVolumeBinding, "persistentvolumeclaims", claim(), entries, {"shop": "copy"})
    assert "volumeName" not in result.item["spec"]
    assert result.warnings == ["PVC copy/data gets a new, empty volume: its PV exists and there is no snapshot of "
                               "it in the backup"]
    run.planned.add(("persistentvolumes", "pv-1"))
    restored = rb.PvcVolumeBinding().execute(prepare_core("persistentvolumeclaims", claim(), {}),
                                             ItemContext("persistentvolumeclaims", run, source=claim()))
    assert restored.item["spec"]["volumeName"] == "pv-1" and not restored.warnings
    alone, _run = run_action(rb.PvcVolumeBinding, "persistentvolumeclaims", claim())
    assert "neither its PV nor a snapshot" in alone.warnings[0]
    snap, _run = run_action(rb.PvcVolumeBinding, "persistentvolumeclaims", claim(), records=[RECORD])
    assert snap.item["spec"]["volumeName"] == "pv-1" and not snap.warnings, "the block store decides"


def test_pv_claim_ref():
    pv = {"metadata": {"name": "pv-1"},
          "spec": {"claimRef": {"namespace": "shop", "name": "data", "uid": "u", "resourceVersion": "1"}}}
    entries = [("persistentvolumes", None, pv), ("persistentvolumeclaims", "shop", claim())]
    result, _run = run_action(rb.PvClaimRef, "persistentvolumes", pv, entries, {"shop": "copy"})
    assert result.skip is None and result.item["spec"]["claimRef"] == {"namespace": "copy", "name": "data"}
    result, _run = run_action(rb.PvClaimRef, "persistentvolumes", pv, entries, records=[RECORD])
    assert result.skip == "its claim is restored from a snapshot"
    result, _run = run_action(rb.PvClaimRef, "persistentvolumes", pv, entries,
                              k8s=FakeCluster(["/api/v1/persistentvolumes/pv-1"]))
    assert result.skip == "a PersistentVolume of this name exists in the cluster"


def test_binding_subjects_follow_the_mapping():
    binding = {"metadata": {"name": "b", "namespace": "shop"},
               "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": "shop"},
                            {"kind": "ServiceAccount", "name": "x", "namespace": "other"}, {"kind": "Group", "name": "g"}]}
    out = run_action(rb.BindingSubjects, "rolebindings.rbac.authorization.k8s.io", binding, mapping={"shop": "copy"})[0]
    assert [s.get("namespace") for s in out.item["subjects"]] == ["copy", "other", None]


def test_pods_lose_node_and_token_volume():
    p = {"metadata": {"name": "p", "namespace": "shop"}, "spec": {
        "nodeName": "n1", "priority": 5, "volumes": [{"name": "kube-api-access-x1", "projected": {}}, {"name": "data"}],
        "containers": [{"name": "c", "volumeMounts": [{"name": "kube-api-access-x1"}, {"name": "data"}]}]}}
    spec = run_action(rb.PodNodeAndToken, "pods", p)[0].item["spec"]
    assert "nodeName" not in spec and "priority" not in spec
    assert spec["volumes"] == [{"name": "data"}]
    assert spec["containers"][0]["volumeMounts"] == [{"name": "data"}]
    plain = {"metadata": {"name": "p", "namespace": "shop"}, "spec": {"volumes": [{"name": "kube-api-access-mine"}]}}
    assert run_action(rb.PodNodeAndToken, "pods", plain)[0].item["spec"]["volumes"] == [{"name": "kube-api-access-mine"}]


def test_jobs_lose_their_generated_selector_unless_manual():
    job = {"metadata": {"name": "j", "namespace": "shop", "labels": {"controller-uid": "u", "app": "a"}},
           "spec": {"selector": {"matchLabels": {"controller-uid": "u"}},
                    "template": {"metadata": {"labels": {"controller-uid": "u", "app": "a"}}}}}
    out = run_action(rb.JobControllerUid, "jobs.batch", job)[0].item
    assert "selector" not in out["spec"]
    assert out["metadata"]["labels"] == {"app": "a"}
    assert out["spec"]["template"]["metadata"]["labels"] == {"app": "a"}
    manual = dict(job, spec=dict(job["spec"], manualSelector=True))
    assert run_action(rb.JobControllerUid, "jobs.batch", manual)[0].item["spec"]["selector"]
