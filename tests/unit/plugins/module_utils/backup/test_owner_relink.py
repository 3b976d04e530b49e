"""Owner references across a restore, over a file store and the in-memory cluster: an operator's custom resource
owns a ConfigMap, a Secret and a Deployment (whose ReplicaSet its controller makes again). Restored elsewhere, the
dependents name the restored owner's new UID; owners come first; a rerun changes nothing; an owner left out of
the restore leaves its dependents without the reference, said. (The bed proves the links real: deleting the
restored owner garbage-collects them.)"""

import json

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.backup import service as backups
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube import ownership
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.file import FileStore
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore import service as restore, spill

from ..fake_cluster import FakeCluster
from .test_backup_restore_flow import SOURCE, backup_params, restore_params, shop


def reference(owner, controller=True):
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": True}


def operated(cluster=None):
    """The shop, with a Widget that owns what its operator made: a ConfigMap, a Secret, a Deployment (controller)
    and a Service it merely co-owns (no controller). The Deployment's ReplicaSet is owned as usual."""
    cluster = shop(cluster)
    widget = cluster.objects[("example.com", "widgets", SOURCE, "w")]
    cluster.add("", "configmaps", {"metadata": {"name": "w-config", "namespace": SOURCE,
                                                "ownerReferences": [reference(widget)]}, "data": {"k": "v"}})
    cluster.add("", "secrets", {"metadata": {"name": "w-secret", "namespace": SOURCE,
                                             "ownerReferences": [reference(widget)]}, "data": {}})
    deployment = cluster.add("apps", "deployments", {"metadata": {"name": "w-db", "namespace": SOURCE,
                                                                  "ownerReferences": [reference(widget)]}})
    cluster.add("apps", "replicasets", {"metadata": {"name": "w-db-1", "namespace": SOURCE,
                                                     "ownerReferences": [reference(deployment)]}})
    cluster.add("", "services", {"metadata": {"name": "w-svc", "namespace": SOURCE,
                                              "ownerReferences": [reference(widget, controller=False)]}})
    return cluster


@pytest.fixture
def stored(tmp_path):
    store = FileStore(str(tmp_path / "store"))
    result = backups.run_backup(operated(), store, backup_params())
    assert result["backup"]["phase"] == "Completed"
    return store


def references(cluster, group, plural, name, namespace="copy"):
    return cluster.objects[(group, plural, namespace, name)]["metadata"].get("ownerReferences")


def test_dependents_name_the_restored_owner_and_what_its_controller_makes_is_not_restored(stored):
    target = FakeCluster()
    result = restore.run_restore(target, stored, restore_params())
    widget = target.objects[("example.com", "widgets", "copy", "w")]
    expected = [reference(widget)]
    assert references(target, "", "configmaps", "w-config") == expected
    assert references(target, "", "secrets", "w-secret") == expected
    assert references(target, "apps", "deployments", "w-db") == expected
    assert references(target, "", "services", "w-svc") == [reference(widget, controller=False)]
    assert target.named("apps", "replicasets", "copy") == []
    assert "w-db-1" in [s["name"] for s in result["skipped_objects"]
                        if s["message"].startswith("owned-by-restored-controller: owned by Deployment w-db")]
    posts = [p for m, p in target.requests if m == "POST"]
    widget_at = posts.index("/apis/example.com/v1/namespaces/copy/widgets")
    for dependent in ("/api/v1/namespaces/copy/configmaps", "/api/v1/namespaces/copy/secrets",
                      "/apis/apps/v1/namespaces/copy/deployments", "/api/v1/namespaces/copy/services"):
        assert max(i for i, p in enumerate(posts) if p == dependent) > widget_at, "%s before its owner" % dependent
    assert not [w for w in result["warnings"] if "owner" in w], result["warnings"]


def test_the_new_uid_is_the_owners_in_the_target_not_the_backups(stored):
    target = FakeCluster()
    for i in range(50):  # the target's UIDs run ahead of the source's: an old UID kept would be wrong
        target.add("", "configmaps", {"metadata": {"name": "filler-%d" % i, "namespace": "elsewhere"}})
    restore.run_restore(target, stored, restore_params())
    widget_uid = target.objects[("example.com", "widgets", "copy", "w")]["metadata"]["uid"]
    source_uid = operated().objects[("example.com", "widgets", SOURCE, "w")]["metadata"]["uid"]
    assert widget_uid != source_uid
    assert references(target, "", "configmaps", "w-config")[0]["uid"] == widget_uid


def test_a_rerun_changes_nothing_and_check_mode_creates_nothing(stored):
    target = FakeCluster()
    restore.run_restore(target, stored, restore_params())
    before = dict((k, json.dumps(v, sort_keys=True)) for k, v in target.objects.items())
    target.requests.clear()
    again = restore.run_restore(target, stored, restore_params())
    assert again["changed"] is False and again["totals"]["unchanged"] > 0
    assert not [m for m, _p in target.requests if m in ("POST", "PATCH", "PUT", "DELETE")]
    assert dict((k, json.dumps(v, sort_keys=True)) for k, v in target.objects.items()) == before
    checked = restore.run_restore(target, stored, restore_params(), check_mode=True)
    assert checked["changed"] is False
    empty = FakeCluster()
    planned = restore.run_restore(empty, stored, restore_params(), check_mode=True)
    assert planned["changed"] and empty.objects == {}


def test_an_existing_owner_lends_its_live_uid(stored):
    target = FakeCluster()
    target.add("", "namespaces", {"metadata": {"name": "copy"}})
    live = target.add("example.com", "widgets", {"metadata": {"name": "w", "namespace": "copy"}, "spec": {"size": 9}})
    result = restore.run_restore(target, stored, restore_params(existing="keep"))
    assert {"resource": "widgets.example.com", "namespace": "copy", "name": "w",
            "message": "exists and differs from the backup (existing: keep)"} in result["skipped_objects"]
    assert references(target, "", "configmaps", "w-config")[0]["uid"] == live["metadata"]["uid"]


def test_an_owner_left_out_of_the_restore_leaves_its_dependents_unlinked_and_says_so(stored):
    target = FakeCluster()
    result = restore.run_restore(target, stored, restore_params(exclude_resources=["widgets.example.com"]))
    assert references(target, "", "configmaps", "w-config") is None
    assert target.named("apps", "deployments", "copy") == ["w-db", "web"]
    said = [w for w in result["warnings"] if "owner references to owners that are not in this restore" in w]
    assert len(said) == 1 and said[0].startswith("4 object(s) are restored without"), result["warnings"]
    assert "configmaps shop/w-config (Widget w)" in said[0]


def test_an_owner_that_fails_leaves_its_dependents_unlinked_and_says_so(stored, monkeypatch):
    target = FakeCluster()
    create = target.create

    def refuse_widgets(path, body, dry_run=False):
        if path.endswith("/widgets"):
            from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import ApiError
            raise ApiError("POST %s: 422 admission webhook denied the request" % path, status=422)
        return create(path, body, dry_run)
    monkeypatch.setattr(target, "create", refuse_widgets)
    result = restore.run_restore(target, stored, restore_params(ignore_partial_failure=True))
    assert result["phase"] == "PartiallyFailed"
    assert references(target, "", "secrets", "w-secret") is None
    assert any(w.startswith("4 object(s) restored without a reference to their owner") and "(owner Widget w)" in w
               for w in result["warnings"]), result["warnings"]


def test_disabling_owner_references_restores_orphans_as_before(stored):
    target = FakeCluster()
    result = restore.run_restore(target, stored, restore_params(disable_actions=["owner-references"]))
    assert references(target, "", "configmaps", "w-config") is None
    assert "owner-references" not in json.dumps(result["warnings"])


def test_ownership_chains_are_ordered_by_depth_and_a_cycle_ends(tmp_path):
    with spill.Spill(str(tmp_path)) as store:
        chain = [("a", None), ("b", "a"), ("c", "b"), ("x", "y"), ("y", "x")]
        for uid, owner in chain:
            store.add("configmaps", "ns", {"metadata": {"name": uid, "namespace": "ns", "uid": uid,
                                                        "ownerReferences": [{"uid": owner}] if owner else []}})
        store.finish_reading()
        assert [store.depth(uid) for uid, _owner in chain[:3]] == [0, 1, 2]
        assert store.depth("x") == spill.MAX_DEPTH, "a cycle shares the last depth instead of looping"
        assert spill.tier_key("configmaps", 1) > spill.tier_key("pods", 0) > spill.tier_key("configmaps", 0)


@pytest.mark.parametrize("res_dir,owner,recreated", [
    ("replicasets.apps", {"apiVersion": "apps/v1", "kind": "Deployment", "controller": True}, True),
    ("pods", {"apiVersion": "example.com/v1", "kind": "Widget", "controller": True}, True),
    ("pods", {"apiVersion": "example.com/v1", "kind": "Widget"}, False),
    ("jobs.batch", {"apiVersion": "batch/v1", "kind": "CronJob", "controller": True}, True),
    ("endpointslices.discovery.k8s.io", {"apiVersion": "v1", "kind": "Service", "controller": True}, True),
    ("persistentvolumeclaims", {"apiVersion": "apps/v1", "kind": "StatefulSet", "controller": True}, False),
    ("persistentvolumeclaims", {"apiVersion": "v1", "kind": "Pod", "controller": True}, True),  # ephemeral
    ("statefulsets.apps", {"apiVersion": "example.com/v1", "kind": "Widget", "controller": True}, False),
    ("configmaps", {"apiVersion": "apps/v1", "kind": "Deployment", "controller": True}, False),
])
def test_only_what_kubernetes_controllers_make_again_counts_as_recreated(res_dir, owner, recreated):
    assert ownership.recreated_by(res_dir, owner) is recreated


def test_relinking_keeps_controller_and_block_owner_deletion_and_names_the_unresolved():
    refs = [{"apiVersion": "example.com/v1beta1", "kind": "Widget", "name": "w", "uid": "old", "controller": True,
             "blockOwnerDeletion": True}, {"apiVersion": "v1", "kind": "ConfigMap", "name": "gone", "uid": "lost"}]
    kept, unresolved = ownership.relinked(refs, {"old": ("new", "example.com/v1")})
    assert kept == [{"apiVersion": "example.com/v1", "kind": "Widget", "name": "w", "uid": "new", "controller": True,
                     "blockOwnerDeletion": True}]
    assert unresolved == [refs[1]]
    assert ownership.relinked(refs[:1], {"old": ("", "example.com/v1")})[0] == refs[:1], "check mode keeps it"


def test_a_counted_list_names_a_few_and_counts_them_all():
    from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.plan import CountedList
    said = CountedList(keep=2)
    for i in range(5):
        said.append(i)
    assert (list(said), said.total) == ([0, 1], 5)
