"""The drill's verdict does not trust the restore: its normalization is its own (verify/normalize.py), so a restore
action that wrongly drops a field makes the comparison fail, naming the object and the field."""

import ast
import os

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions import pipeline
from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.base import ActionResult, RestoreItemAction
from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.base import ResourceSelector
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup import service as backups
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.file import FileStore
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.verify import NAMESPACE_INFO_ARG_SPEC
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.verify import NamespaceInfoOptions
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore import service as restore
from ansible_collections.lifeboat.k8s.plugins.module_utils.verify import namespace as namespace_info
from ansible_collections.lifeboat.k8s.plugins.module_utils.verify import normalize

from ..backup.test_backup_restore_flow import SOURCE, backup_params, restore_params, shop
from ..fake_cluster import FakeCluster
from ..module_options import options_of


def ns_options(**given):
    return options_of(NamespaceInfoOptions, NAMESPACE_INFO_ARG_SPEC, **given)


def app():
    """The shop, its Deployment with an env var and a pod template that is the user's."""
    cluster = shop()
    deployment = cluster.objects[("apps", "deployments", SOURCE, "web")]
    deployment["spec"]["template"] = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
        {"name": "web", "image": "nginx:1.27", "env": [{"name": "MODE", "value": "production"}]}]}}
    cluster.add("", "secrets", {"metadata": {"name": "web-token-abc", "namespace": SOURCE},
                                "type": "kubernetes.io/service-account-token", "data": {}})
    return cluster


class DropsEnv(RestoreItemAction):
    """A broken restore action: it loses every container's environment."""
    name = "drops-env"
    applies_to = ResourceSelector(resources=("deployments.apps",))

    def execute(self, item, context):
        for container in item["spec"]["template"]["spec"]["containers"]:
            container.pop("env", None)
        return ActionResult(item)


@pytest.fixture
def backup(tmp_path):
    store = FileStore(str(tmp_path / "store"))
    backups.run_backup(app(), store, backup_params())
    return store


def restored(store):
    target = FakeCluster()
    restore.run_restore(target, store, restore_params())
    return target


def verdict(source, target, namespace="copy"):
    """What the drill does: digests, then the fields of the objects that differ."""
    original = namespace_info.namespace_info(source, ns_options(namespace=SOURCE))
    copy = namespace_info.namespace_info(target, ns_options(namespace=namespace))
    differing = sorted("%s/%s" % (r, n) for r, objs in original["digests"].items() for n, d in objs.items()
                       if copy["digests"].get(r, {}).get(n, d) != d)
    if not differing:
        return original, copy, {}
    fields = namespace_info.namespace_info(source, ns_options(namespace=SOURCE, fields_of=differing))["fields"]
    compared = namespace_info.namespace_info(target, ns_options(namespace=namespace, fields_of=differing,
                                                                compare_with=fields))
    return original, copy, compared["differing_fields"]


def test_a_correct_restore_compares_equal_and_the_expected_differences_are_listed(backup):
    original, copy, differing = verdict(app(), restored(backup))
    assert differing == {}
    assert original["digests"] == copy["digests"] and original["restorable_counts"] == copy["restorable_counts"]
    assert "secrets" in original["counts"] and "web-token-abc" not in original["digests"]["secrets"]
    assert "replicasets.apps" not in original["digests"], "made by its Deployment, which is compared"
    assert any("cluster IPs" in d for d in copy["expected_differences"])


def test_a_restore_action_that_drops_env_fails_the_verdict_naming_the_object_and_the_field(backup, monkeypatch):
    monkeypatch.setitem(pipeline.BUILTIN, "restore", pipeline.BUILTIN["restore"] + (DropsEnv,))
    _original, _copy, differing = verdict(app(), restored(backup))
    assert differing == {"deployments.apps/web": ["spec.template.spec.containers[0].env[0].name",
                                                  "spec.template.spec.containers[0].env[0].value"]}


def test_the_old_way_would_have_passed_the_broken_restore(backup, monkeypatch):
    """Why the verdict has its own normalization: passing both sides through the restore's own actions (as the
    drill did before) loses the env on both sides, and the digests agree."""
    monkeypatch.setitem(pipeline.BUILTIN, "restore", pipeline.BUILTIN["restore"] + (DropsEnv,))
    from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.base import ItemContext
    from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.plan import RestoreRun, prepare_core
    source = app().objects[("apps", "deployments", SOURCE, "web")]
    copy = restored(backup).objects[("apps", "deployments", "copy", "web")]
    run = RestoreRun([("deployments.apps", SOURCE, source)], {SOURCE: "copy"})
    actions = pipeline.Pipeline(pipeline.builtin_actions("restore"))
    through_restore = actions.run(ItemContext("deployments.apps", run, source=source),
                                  prepare_core("deployments.apps", source, run.mapping)).item
    assert "env" not in through_restore["spec"]["template"]["spec"]["containers"][0]
    assert "env" not in copy["spec"]["template"]["spec"]["containers"][0]
    assert normalize.digest(normalize.normalized("deployments.apps", source, SOURCE)) != \
        normalize.digest(normalize.normalized("deployments.apps", copy, "copy"))


def test_the_normalization_imports_nothing_of_the_restore():
    path = os.path.join(os.path.dirname(normalize.__file__), "namespace.py")
    for module in (normalize.__file__, path):
        tree = ast.parse(open(module).read())
        imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        assert not [m for m in imported if ".restore." in m or ".actions." in m or ".kube.compare" in m], module


def test_server_fields_and_expected_differences_are_taken_out_and_nothing_else():
    service = {"metadata": {"name": "web", "namespace": "shop", "uid": "u", "resourceVersion": "9",
                            "labels": {"lifeboat.k8s/restored-from-backup": "b", "app": "web"}},
               "spec": {"clusterIP": "10.0.0.7", "clusterIPs": ["10.0.0.7"], "type": "NodePort",
                        "ports": [{"port": 80, "nodePort": 30080}], "selector": {"app": "web"}},
               "status": {"loadBalancer": {}}}
    assert normalize.normalized("services", service, "shop") == {
        "metadata": {"name": "web", "namespace": "NAMESPACE", "labels": {"app": "web"}},
        "spec": {"type": "NodePort", "ports": [{"port": 80}], "selector": {"app": "web"}}}
    headless = {"metadata": {"name": "db"}, "spec": {"clusterIP": "None"}}
    assert normalize.normalized("services", headless, "shop")["spec"] == {"clusterIP": "None"}


def test_fields_of_and_compare_with_are_checked():
    with pytest.raises(InvalidInputError, match=r"^fields_of\[0\]: expected resource/name"):
        ns_options(namespace="a", fields_of=["web"])
    with pytest.raises(InvalidInputError, match=r"^compare_with: configmaps/a: expected \{field path: digest\}"):
        ns_options(namespace="a", compare_with={"configmaps/a": ["x"]})


def test_owner_references_are_compared_by_what_they_name_and_whether_it_resolves():
    def namespace(owner_uid, ref_uid, refs=True):
        owner = {"kind": "Database", "metadata": {"name": "db", "uid": owner_uid}}
        config = {"kind": "ConfigMap", "metadata": {"name": "db-config", "uid": owner_uid + "-c"}, "data": {"a": "b"}}
        if refs:
            config["metadata"]["ownerReferences"] = [{"apiVersion": "example.com/v1", "kind": "Database",
                                                      "name": "db", "uid": ref_uid, "controller": True}]
        objects = [("databases.example.com", owner), ("configmaps", config)]
        owners = normalize.owners_of(objects)
        assert normalize.not_compared("configmaps", config, owners, set()) is None, "an operator's object is compared"
        return normalize.digest(normalize.normalized("configmaps", config, "ns", owners=owners))
    source = namespace("old", "old")
    assert namespace("new", "new") == source, "relinked to the copy's owner: the same"
    assert namespace("new", "old") != source, "a stale uid (the garbage collector would delete it) shows"
    assert namespace("new", "new", refs=False) != source, "a dropped link shows"
    replica_set = {"kind": "ReplicaSet", "metadata": {"name": "web-1", "ownerReferences": [
        {"kind": "Deployment", "name": "web", "uid": "d", "controller": True}]}}
    assert normalize.not_compared("replicasets.apps", replica_set, {"d": ("Deployment", "web")}, set())
