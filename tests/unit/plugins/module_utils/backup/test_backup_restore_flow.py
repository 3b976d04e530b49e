"""Backup and restore services end to end over a file store and an in-memory cluster: what is stored, what a
restore creates where the mapping says, reruns, check mode, partial backups, the ownership marks that guard
state=absent. (On the test bed the same flows run against a real apiserver.)"""

import json

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.backup import info as backup_info_service, service as backups
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.backup import BACKUP_ARG_SPEC, BACKUP_INFO_ARG_SPEC, BackupInfoOptions, BackupOptions
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.verify import NAMESPACE_INFO_ARG_SPEC, NamespaceInfoOptions
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.restore import RESTORE_ARG_SPEC, RestoreOptions
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore import service as restore
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    InvalidInputError,
    LifeboatError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.file import FileStore
from ansible_collections.lifeboat.k8s.plugins.module_utils.verify import namespace as namespace_info

from ..fake_cluster import CATALOG, FakeCluster
from ..module_options import module_params, options_of


SOURCE = "shop"


def ns_options(**given):
    return options_of(NamespaceInfoOptions, NAMESPACE_INFO_ARG_SPEC, **given)


def shop(cluster=None):
    cluster = cluster or FakeCluster()
    cluster.add("", "namespaces", {"metadata": {"name": SOURCE, "labels": {"team": "web"}}})
    cluster.add("", "configmaps", {"metadata": {"name": "settings", "namespace": SOURCE, "labels": {"app": "web"}},
                                   "data": {"color": "blue"}})
    cluster.add("", "configmaps", {"metadata": {"name": "kube-root-ca.crt", "namespace": SOURCE}, "data": {}})
    cluster.add("", "secrets", {"metadata": {"name": "db", "namespace": SOURCE}, "data": {"pw": "c2VjcmV0"}})
    cluster.add("", "services", {"metadata": {"name": "web", "namespace": SOURCE},
                                 "spec": {"clusterIP": "10.0.0.7", "clusterIPs": ["10.0.0.7"],
                                          "ports": [{"port": 80, "nodePort": 30080}], "type": "NodePort"}})
    deployment = cluster.add("apps", "deployments", {"metadata": {"name": "web", "namespace": SOURCE},
                                                     "spec": {"replicas": 2}, "status": {"readyReplicas": 2}})
    cluster.add("apps", "replicasets", {"metadata": {
        "name": "web-1", "namespace": SOURCE, "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": deployment["metadata"]["uid"],
             "controller": True}]}})
    cluster.add("example.com", "widgets", {"metadata": {"name": "w", "namespace": SOURCE}, "spec": {"size": 3}})
    cluster.add("apiextensions.k8s.io", "customresourcedefinitions", {
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "names": {"plural": "widgets", "kind": "Widget"}, "scope": "Namespaced"}})
    cluster.add("", "namespaces", {"metadata": {"name": "other"}})
    cluster.add("", "configmaps", {"metadata": {"name": "not-mine", "namespace": "other"}, "data": {}})
    return cluster


def backup_params(**overrides):
    given = dict(name="nightly", namespaces=[SOURCE])
    given.update(overrides)
    return options_of(BackupOptions, BACKUP_ARG_SPEC, **given)


def restore_params(**overrides):
    given = dict(name="nightly", namespace_mapping={SOURCE: "copy"}, wait_timeout=5)
    given.update(overrides)
    return options_of(RestoreOptions, RESTORE_ARG_SPEC, **given)


def info_params(**given):
    return options_of(BackupInfoOptions, BACKUP_INFO_ARG_SPEC, **given)


@pytest.fixture
def stored(tmp_path):
    """A complete backup of the shop in a file store."""
    store = FileStore(str(tmp_path / "store"))
    result = backups.run_backup(shop(), store, backup_params(ttl="720h0m0s"))
    return store, result


def test_backup_stores_the_namespace_and_what_it_uses_and_says_complete(stored):
    store, result = stored
    assert result["changed"] and result["backup"]["phase"] == "Completed"
    counts = result["backup"]["counts"]
    assert counts["configmaps"] == 2 and counts["widgets.example.com"] == 1 and counts["namespaces"] == 1
    assert counts["customresourcedefinitions.apiextensions.k8s.io"] == 1  # the CRD its widget needs
    assert "events" not in counts
    listing = backup_info_service.backup_info(store, info_params(verify=True))
    (entry,) = listing["backups"]
    assert entry["name"] == "nightly" and entry["complete"] and entry["verified"]
    assert entry["written_by"] == "lifeboat.k8s" and entry["velero_compatible"]
    velero = json.loads(store.get_bytes("backups/nightly/velero-backup.json"))
    assert velero["status"]["phase"] == "Completed" and velero["spec"]["includedNamespaces"] == [SOURCE]


def test_a_crd_under_a_k8s_io_group_is_backed_up_with_its_resources_and_an_api_without_one_adds_nothing(tmp_path):
    """Gateway API's group ends in .k8s.io and is served by CRDs; metrics.k8s.io is aggregated (no CRD)."""
    cluster = shop(FakeCluster(catalog=CATALOG + (
        ("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute", True),
        ("metrics.k8s.io", "v1beta1", "podmetrics", "PodMetrics", True))))
    cluster.add("gateway.networking.k8s.io", "httproutes", {"metadata": {"name": "web", "namespace": SOURCE}})
    cluster.add("metrics.k8s.io", "podmetrics", {"metadata": {"name": "web-1", "namespace": SOURCE}})
    cluster.add("apiextensions.k8s.io", "customresourcedefinitions", {
        "metadata": {"name": "httproutes.gateway.networking.k8s.io"},
        "spec": {"group": "gateway.networking.k8s.io", "names": {"plural": "httproutes", "kind": "HTTPRoute"},
                 "scope": "Namespaced"}})
    result = backups.run_backup(cluster, FileStore(str(tmp_path / "store")), backup_params())
    assert result["backup"]["phase"] == "Completed"
    assert result["backup"]["counts"]["customresourcedefinitions.apiextensions.k8s.io"] == 2
    crd_gets = sorted(p.rsplit("/", 1)[1] for m, p in cluster.requests
                      if m == "GET" and "/customresourcedefinitions/" in p)
    assert crd_gets == ["httproutes.gateway.networking.k8s.io", "podmetrics.metrics.k8s.io", "widgets.example.com"]


def test_a_second_backup_under_the_name_changes_nothing_and_check_mode_writes_nothing(stored, tmp_path):
    store, first = stored
    again = backups.run_backup(shop(), store, backup_params(ttl="720h0m0s"))
    assert again["changed"] is False and again["backup"]["created_at"] == first["backup"]["created_at"]
    fresh = FileStore(str(tmp_path / "empty"))
    planned = backups.run_backup(shop(), fresh, backup_params(name="planned"), check_mode=True)
    assert planned["changed"] and planned["backup"]["phase"] == "Planned"
    assert fresh.list_objects("") == []


def test_a_forbidden_resource_type_makes_the_backup_partially_failed_and_the_task_fail(tmp_path):
    store = FileStore(str(tmp_path / "store"))
    cluster = shop(FakeCluster(forbidden={"secrets"}))
    with pytest.raises(LifeboatError, match="PartiallyFailed.*secrets in namespace shop.*grant list on secrets"):
        backups.run_backup(cluster, store, backup_params())
    (entry,) = backup_info_service.backup_info(store, info_params())["backups"]
    assert entry["phase"] == "PartiallyFailed" and not entry["complete"]
    accepted = backups.run_backup(cluster, store, backup_params(allow_partial=True))
    assert accepted["backup"]["phase"] == "PartiallyFailed"
    assert any("PartiallyFailed (allow_partial)" in w for w in accepted["warnings"])


@pytest.mark.parametrize("aggregated", [False, True], ids=["per group", "aggregated"])
def test_an_undiscoverable_group_is_an_error_unless_excluded(tmp_path, aggregated):
    store = FileStore(str(tmp_path / "store"))
    cluster = shop(FakeCluster(broken_groups={"example.com"}, aggregated_discovery=aggregated))
    with pytest.raises(LifeboatError, match="example.com/v1: cannot discover"):
        backups.run_backup(cluster, store, backup_params())
    done = backups.run_backup(cluster, store, backup_params(name="narrow", exclude_resources=["*.example.com"]))
    assert done["backup"]["phase"] == "Completed"


def test_bad_input_is_refused_before_anything_is_written(tmp_path):
    store = FileStore(str(tmp_path / "store"))
    for given, message in [(dict(namespaces=[]), "^namespaces: "),
                           (dict(ttl="forever"), "^ttl: "),
                           (dict(name="Bad_Name"), "^name: "),
                           (dict(include_resources=["gadgets"]), "^include_resources: 'gadgets'")]:
        with pytest.raises(InvalidInputError, match=message):
            backups.run_backup(shop(), store, backup_params(**given))
    with pytest.raises(NotFoundError, match="namespaces: namespace 'absent' does not exist"):
        backups.run_backup(shop(), store, backup_params(namespaces=["absent"]))
    assert store.list_objects("") == []


def test_restore_creates_what_the_backup_holds_only_in_the_mapped_namespace(stored):
    store = stored[0]
    target = FakeCluster()
    result = restore.run_restore(target, store, restore_params())
    assert result["changed"]
    assert target.named("", "namespaces") == ["copy"]
    assert target.named("", "configmaps", "copy") == ["settings"]  # kube-root-ca.crt is the cluster's
    assert target.named("apps", "deployments", "copy") == ["web"]
    assert target.named("apps", "replicasets", "copy") == []  # owned by the Deployment, which recreates it
    assert target.named("example.com", "widgets", "copy") == ["w"]
    assert target.named("apiextensions.k8s.io", "customresourcedefinitions") == ["widgets.example.com"]
    service = target.objects[("", "services", "copy", "web")]
    assert "clusterIP" not in service["spec"] and "nodePort" not in service["spec"]["ports"][0]
    namespace = target.objects[("", "namespaces", None, "copy")]
    assert namespace["metadata"]["labels"][restore.RESTORED_BY] == "nightly"
    assert not target.named("", "configmaps", "other"), "nothing outside the mapping"


def test_a_second_restore_changes_nothing_and_check_mode_creates_nothing(stored):
    store = stored[0]
    target = FakeCluster()
    restore.run_restore(target, store, restore_params())
    before = dict((k, json.dumps(v, sort_keys=True)) for k, v in target.objects.items())
    again = restore.run_restore(target, store, restore_params())
    assert again["changed"] is False
    assert dict((k, json.dumps(v, sort_keys=True)) for k, v in target.objects.items()) == before
    empty = FakeCluster()
    planned = restore.run_restore(empty, store, restore_params(), check_mode=True)
    assert planned["changed"] and empty.objects == {}
    assert not [m for m, _p in empty.requests if m in ("POST", "PATCH", "DELETE")]


def test_existing_update_patches_what_differs_and_keep_leaves_it(stored):
    store = stored[0]
    target = FakeCluster()
    restore.run_restore(target, store, restore_params())
    target.objects[("", "configmaps", "copy", "settings")]["data"]["color"] = "red"
    kept = restore.run_restore(target, store, restore_params())
    assert kept["changed"] is False and target.objects[("", "configmaps", "copy", "settings")]["data"]["color"] == "red"
    updated = restore.run_restore(target, store, restore_params(existing="update"))
    assert updated["changed"] and target.objects[("", "configmaps", "copy", "settings")]["data"]["color"] == "blue"


def test_filters_and_transforms_shape_what_is_restored(stored):
    store = stored[0]
    target = FakeCluster()
    restore.run_restore(target, store, restore_params(
        include_resources=["configmaps", "namespaces"],
        restore_actions=[{"resources": ["configmaps"],
                          "patch": [{"op": "replace", "path": "/data/color", "value": "green"}]}]))
    assert target.named("apps", "deployments", "copy") == []
    assert target.objects[("", "configmaps", "copy", "settings")]["data"] == {"color": "green"}
    only_labelled = FakeCluster()
    restore.run_restore(only_labelled, store, restore_params(label_selector="app=web",
                                                             include_resources=["configmaps"]))
    assert only_labelled.named("", "configmaps", "copy") == ["settings"]


def test_restore_refuses_a_mapping_outside_the_backup_and_a_missing_backup(stored):
    store = stored[0]
    with pytest.raises(InvalidInputError, match="^namespace_mapping: "):
        restore.run_restore(FakeCluster(), store, restore_params(namespace_mapping={"elsewhere": "copy"}))
    with pytest.raises(NotFoundError, match="nope"):
        restore.run_restore(FakeCluster(), store, restore_params(name="nope"))


def test_state_absent_deletes_only_namespaces_its_restore_created(stored):
    store = stored[0]
    target = FakeCluster()
    restore.run_restore(target, store, restore_params())
    target.add("", "namespaces", {"metadata": {"name": "shop"}})  # not created by the restore
    planned = restore.run_restore(target, store, restore_params(state="absent"), check_mode=True)
    assert planned["changed"] and "copy" in target.named("", "namespaces")
    removed = restore.run_restore(target, store, restore_params(state="absent", namespace_mapping={
        SOURCE: "copy"}))
    assert removed["deleted_namespaces"] == ["copy"] and target.named("", "namespaces") == ["shop"]
    assert restore.run_restore(target, store, restore_params(state="absent"))["changed"] is False
    in_place = restore.run_restore(target, store, restore_params(state="absent", namespace_mapping={}))
    assert in_place["changed"] is False and target.named("", "namespaces") == ["shop"]
    assert any("not created by a restore" in w for w in in_place["warnings"])


def test_deleting_a_backup_removes_its_files_and_is_idempotent(stored):
    store = stored[0]
    planned = backups.run_backup(None, store, backup_params(state="absent"), check_mode=True)
    assert planned["changed"] and store.list_objects("backups/nightly/")
    deleted = backups.run_backup(None, store, backup_params(state="absent"))
    assert deleted["changed"] and store.list_objects("backups/nightly/") == []
    assert backups.run_backup(None, store, backup_params(state="absent"))["changed"] is False


def test_a_damaged_archive_fails_its_checksum_and_restores_nothing(stored):
    store = stored[0]
    archive_key = [k for k in store.list_objects("backups/nightly/") if k.endswith(".tar.gz")][0]
    store.put_bytes(archive_key, b"not the archive")
    target = FakeCluster()
    with pytest.raises(LifeboatError, match="failed its checksum check"):
        restore.run_restore(target, store, restore_params())
    assert target.objects == {}
    (entry,) = backup_info_service.backup_info(store, info_params(name="nightly", verify=True))["backups"]
    assert entry["verified"] is False


def test_namespace_info_digests_match_between_the_source_and_its_copy(stored):
    store = stored[0]
    source = shop()
    target = FakeCluster()
    restore.run_restore(target, store, restore_params())
    original = namespace_info.namespace_info(source, ns_options(namespace=SOURCE))
    copy = namespace_info.namespace_info(target, ns_options(namespace="copy"))
    assert original["counts"]["configmaps"] == copy["counts"]["configmaps"] + 1  # kube-root-ca.crt
    assert original["restorable_counts"] == copy["restorable_counts"]
    assert original["digests"] == copy["digests"]
    copy_changed = FakeCluster()
    restore.run_restore(copy_changed, store, restore_params())
    copy_changed.objects[("", "configmaps", "copy", "settings")]["data"]["color"] = "red"
    changed = namespace_info.namespace_info(copy_changed, ns_options(namespace="copy"))
    assert changed["digests"]["configmaps"]["settings"] != original["digests"]["configmaps"]["settings"]
    assert changed["digests"]["widgets.example.com"] == original["digests"]["widgets.example.com"]


def test_backup_actions_redact_skip_and_pull_in_items_the_selector_leaves_out(tmp_path):
    store = FileStore(str(tmp_path / "store"))
    cluster = shop()
    cluster.add("", "secrets", {"metadata": {"name": "scratch", "namespace": SOURCE}, "data": {}})
    result = backups.run_backup(cluster, store, backup_params(label_selector="app=web", backup_actions=[
        {"name": "with-db-secret", "resources": ["configmaps"], "name_regex": "^settings$",
         "include": "{resource: 'secrets', name: 'db'}"},
        {"name": "redact", "resources": ["secrets"], "json_patch": [{"op": "replace", "path": "/data/pw",
                                                                     "value": "UkVEQUNURUQ="}]},
        {"name": "no-scratch", "resources": ["secrets"], "name_regex": "^scratch$", "skip": True}]))
    assert result["actions"]["effects"] == {"with-db-secret": {"skipped": 0, "added": 1}}
    assert result["backup"]["counts"]["secrets"] == 1, "the unlabelled secret came in through the rule"
    restored = FakeCluster()
    restore.run_restore(restored, store, restore_params())
    assert restored.objects[("", "secrets", "copy", "db")]["data"] == {"pw": "UkVEQUNURUQ="}
    # Without the selector the scratch secret is listed, and the rule leaves it out, saying so.
    everything = backups.run_backup(cluster, store, backup_params(name="all", backup_actions=[
        {"name": "no-scratch", "resources": ["secrets"], "name_regex": "^scratch$", "skip": True}]))
    assert everything["skipped_objects"] == [{"resource": "secrets", "namespace": SOURCE, "name": "scratch",
                                              "message": "no-scratch: skipped by this rule"}]
    assert everything["backup"]["counts"]["secrets"] == 1


def test_bad_backup_actions_change_nothing(tmp_path):
    store = FileStore(str(tmp_path / "store"))
    cluster = shop()
    with pytest.raises(InvalidInputError, match=r"^backup_actions\[0\]\.json_patch\[0\]: add needs 'value'"):
        backups.run_backup(cluster, store, backup_params(backup_actions=[
            {"json_patch": [{"op": "add", "path": "/x"}]}]))
    with pytest.raises(InvalidInputError, match="^disable_actions: 'nope' is no built-in backup action"):
        # (The module's choices refuse it first; the options refuse it as well.)
        BackupOptions.from_params(dict(module_params(BACKUP_ARG_SPEC, name="nightly", namespaces=[SOURCE]),
                                       disable_actions=["nope"]))
    assert store.list_objects("backups/") == []
    assert not [m for m, _p in cluster.requests if m in ("POST", "PUT", "PATCH", "DELETE")]


def test_restore_actions_and_disable_actions(stored):
    store = stored[0]
    target = FakeCluster()
    result = restore.run_restore(target, store, restore_params(
        disable_actions=["service-cluster-ip"],
        restore_actions={"version": "v1", "resourceModifierRules": [{
            "conditions": {"groupResource": "configmaps", "resourceNameRegex": "^settings$"},
            "mergePatches": [{"patchData": '{"metadata": {"labels": {"app": null}}}'}]}]}))
    assert target.objects[("", "services", "copy", "web")]["spec"]["clusterIP"] == "10.0.0.7"
    assert "app" not in (target.objects[("", "configmaps", "copy", "settings")]["metadata"].get("labels") or {})
    assert {"resource": "replicasets.apps", "namespace": SOURCE, "name": "web-1",
            "message": "owned-by-restored-controller: owned by Deployment web, which recreates it"} in \
        result["skipped_objects"]
    assert result["actions"]["owned-by-restored-controller"]["skipped"] == 1


def test_items_a_rule_names_that_cannot_be_backed_up_are_named_in_warnings(tmp_path):
    store = FileStore(str(tmp_path / "store"))
    result = backups.run_backup(shop(), store, backup_params(backup_actions=[
        {"name": "wants", "resources": ["configmaps"], "name_regex": "^settings$",
         "include": "[{resource: 'secrets', name: 'gone'}, {resource: 'configmaps', name: 'x', namespace: 'other'},"
                    " {resource: 'frobs', name: 'f'}]"}]))
    warnings = [w for w in result["warnings"] if w.startswith("wants: ")]
    assert warnings == [
        "wants: configmaps other/x is not backed up: namespace other is not one of the backup's namespaces",
        "wants: frobs shop/f is not backed up: not a resource type this backup selects (see include_resources, "
        "exclude_resources)",
        "wants: secrets shop/gone is not backed up: it does not exist"]


def terminating_copy(target, gone_after):
    """The target namespace `copy`, being deleted until `gone_after` more GETs of it have been answered."""
    target.add("", "namespaces", {"metadata": {"name": "copy"}, "spec": {"finalizers": ["kubernetes"]},
                                  "status": {"phase": "Terminating", "conditions": [
                                      {"type": "NamespaceFinalizersRemaining", "status": "True",
                                       "reason": "SomeFinalizersRemain",
                                       "message": "Some content in the namespace has finalizers remaining: "
                                                  "example.com/cleanup in 1 resource instances"}]}})
    answered = target.request
    gets = []

    def request(method, path, *args, **kwargs):
        if method == "GET" and path == "/api/v1/namespaces/copy":
            gets.append(path)
            if len(gets) > gone_after:
                target.objects.pop(("", "namespaces", None, "copy"), None)
        return answered(method, path, *args, **kwargs)
    target.request = request


def test_a_namespace_being_deleted_is_waited_for_and_the_result_says_why(stored):
    store = stored[0]
    planned = FakeCluster()
    terminating_copy(planned, gone_after=1000)
    result = restore.run_restore(planned, store, restore_params(), check_mode=True)
    assert any("namespace copy is being deleted (SomeFinalizersRemain: Some content in the namespace has finalizers "
               "remaining: example.com/cleanup" in w and "a restore waits up to 5s" in w for w in result["warnings"])
    target = FakeCluster()
    terminating_copy(target, gone_after=3)
    result = restore.run_restore(target, store, restore_params())
    assert result["phase"] == "Completed" and target.named("", "configmaps", "copy")
    assert any(w.startswith("namespace copy was being deleted (SomeFinalizersRemain:") and "the restore waited" in w
               for w in result["warnings"])
    stuck = FakeCluster()
    terminating_copy(stuck, gone_after=10 ** 6)
    with pytest.raises(LifeboatError, match=r"waiting for namespace copy to finish terminating \(SomeFinalizersRemain: "
                                            r".*example\.com/cleanup.*\); nothing was restored"):
        restore.run_restore(stuck, store, restore_params(wait_timeout=1))
    assert not stuck.named("", "configmaps", "copy")
