"""The pipeline: order, skip attribution, disable_actions, additional items, the guard on where an
object goes; and the registry behind the modules' documented choices."""

import ast
import os

import pytest
import yaml

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions import pipeline
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.common import actions_of
from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.base import (
    ActionResult,
    ItemContext,
    ItemRef,
    ResourceSelector,
    RestoreItemAction,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.plan import RestoreRun, plan_items
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 5))


class Recorder(RestoreItemAction):
    def __init__(self, name, log, skip=None, resources=(), additional=(), change=None):
        self.name = name
        self.log = log
        self.skip = skip
        self.additional = list(additional)
        self.change = change
        self.applies_to = ResourceSelector(resources=resources)

    def execute(self, item, context):
        self.log.append(self.name)
        if self.change:
            self.change(item)
        return ActionResult(item, skip=self.skip, additional=self.additional)


CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}}


def test_actions_run_in_order_on_what_they_apply_to_and_the_first_skip_ends_it():
    log = []
    line = pipeline.Pipeline([Recorder("a", log), Recorder("only-secrets", log, resources=["secrets"]),
                              Recorder("b", log, additional=[ItemRef("secrets", "shop", "s")]),
                              Recorder("c", log, skip="not wanted"), Recorder("d", log)])
    outcome = line.run(ItemContext("configmaps", None, source=CM), dict(CM))
    assert log == ["a", "b", "c"]
    assert outcome.skip == "c: not wanted"
    assert outcome.additional == [("b", ItemRef("secrets", "shop", "s"))]
    assert line.summary() == {"b": {"skipped": 0, "added": 1}, "c": {"skipped": 1, "added": 0}}


def test_an_action_may_not_move_an_object():
    def move(item):
        item["metadata"]["namespace"] = "elsewhere"
    line = pipeline.Pipeline([Recorder("mover", [], change=move)])
    with pytest.raises(InvalidInputError, match="^mover: changed the apiVersion, kind or namespace of configmaps shop/c"):
        line.run(ItemContext("configmaps", None, source=CM),
                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}})


def test_disable_actions():
    names = [a.name for a in pipeline.builtin_actions("restore", ["service-cluster-ip"])]
    assert "service-cluster-ip" not in names and "service-node-ports" in names
    with pytest.raises(InvalidInputError, match="^disable_actions: 'cluster-ip' is no built-in restore action"):
        pipeline.builtin_actions("restore", ["cluster-ip"])


def test_restore_plan_with_the_built_ins_user_rules_and_disabled_ones():
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop", "uid": "s1"},
           "spec": {"clusterIP": "10.0.0.7", "clusterIPs": ["10.0.0.7"], "ports": [{"port": 80}]}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "done", "namespace": "shop"},
           "status": {"phase": "Succeeded"}, "spec": {}}
    entries = [("services", "shop", svc), ("pods", "shop", pod)]
    params = {"disable_actions": ["service-cluster-ip"], "restore_actions": [
        {"name": "label", "resources": ["services"], "merge_patch": {"metadata": {"labels": {"restored": "yes"}}}}]}
    line = pipeline.Pipeline.start(actions_of("restore", params), [])
    items, _warnings = plan_items(entries, RestoreRun(entries, {"shop": "copy"}), line,
                                  lambda d, o, t, s, r, rec: (d, t, s))
    assert items[0] == ("services", {"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "web", "namespace": "copy", "labels": {"restored": "yes"}},
        "spec": {"clusterIP": "10.0.0.7", "clusterIPs": ["10.0.0.7"], "ports": [{"port": 80}]}}, None)
    assert items[1] == ("pods", None, "finished-pods: finished pod")


def test_a_velero_document_or_its_text_is_taken_for_restore_actions():
    text = "version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n  patches:\n" \
           "  - {operation: remove, path: /spec/x}\n"
    for value in (text, yaml.safe_load(text)):
        rules = pipeline.user_rules(actions_of("restore", {"restore_actions": value}), [])
        assert [r.name for r in rules] == ["restore_actions.resourceModifierRules[0]"]


def _documented_choices(module, option):
    with open(os.path.join(ROOT, "plugins", "modules", module + ".py")) as f:
        tree = ast.parse(f.read())
    doc = next(n.value.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "DOCUMENTATION")
    return yaml.safe_load(doc)["options"][option]["choices"]


@pytest.mark.parametrize("module,kind", [("object_backup", "backup"), ("object_restore", "restore")])
def test_the_modules_document_every_built_in_in_registry_order(module, kind):
    assert _documented_choices(module, "disable_actions") == pipeline.builtin_names(kind)


def test_messages_name_the_option_as_the_playbook_wrote_it():
    bad = [{"patch": [{"op": "add", "path": "/x"}]}]
    with pytest.raises(InvalidInputError, match=r"^transforms\[0\]\.patch\[0\]: add needs 'value'"):
        pipeline.user_rules(actions_of("restore", {"transforms": bad, "restore_actions": bad}), [])
    with pytest.raises(InvalidInputError, match=r"^restore_actions\[0\]\.patch\[0\]"):
        pipeline.user_rules(actions_of("restore", {"restore_actions": bad}), [])


def test_at_restore_a_needed_item_the_restore_does_not_hold_is_said():
    line = pipeline.Pipeline([Recorder("needs-config", [], resources=["configmaps"],
                                       additional=[ItemRef("secrets", "shop", "db"), ItemRef("configmaps", "shop", "c")])])
    entries = [("configmaps", "shop", CM)]
    _items, warnings = plan_items(entries, RestoreRun(entries, {}), line, lambda *args: args)
    assert warnings == ["needs-config: needs secrets shop/db, which this restore does not hold (see its filters)"]
