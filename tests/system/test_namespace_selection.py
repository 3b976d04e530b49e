"""Namespaces chosen by the cluster, not typed into a playbook: a namespace_selector with exclude_namespaces backs up
exactly the namespaces expected, a namespace created between two runs is in the second, the backup restores into
new names object for object, and a bad selection is refused before anything is written. The oracle is kubectl."""

import pytest

from helpers import NEEDS_BED, configmaps, create_namespace_with, delete_namespaces, kubectl, kubectl_json
from helpers import run_module, unique

pytestmark = NEEDS_BED


@pytest.fixture
def labelled(tmp_path):
    label = unique("sel")
    names = [unique("sel-a"), unique("sel-b"), unique("sel-c") + "-test"]
    for name in names:
        create_namespace_with(name, configmaps(3, "conf"))
        kubectl("label", "namespace", name, "lifeboat-test/selection=%s" % label)
    created = list(names)
    yield label, names, created, "file://%s" % (tmp_path / "store")
    delete_namespaces(*created)


def test_a_selector_with_exclusions_backs_up_exactly_the_expected_namespaces(labelled):
    label, (first, second, excluded), created, storage = labelled
    selection = {"namespace_selector": "lifeboat-test/selection=%s" % label, "exclude_namespaces": ["*-test"],
                 "storage": storage}
    result = run_module("object_backup", dict(selection, name="selected-1"))
    assert result.get("backup", {}).get("phase") == "Completed", result
    assert result["backup"]["namespaces"] == sorted([first, second])
    assert result["backup"]["namespace_selection"] == {"namespaces": None, "exclude_namespaces": ["*-test"],
                                                       "namespace_selector": "lifeboat-test/selection=%s" % label}
    assert result["backup"]["counts"]["configmaps"] == 8  # 3 and kube-root-ca.crt in each
    late = unique("sel-late")
    created.append(late)
    create_namespace_with(late, configmaps(1, "late"))
    kubectl("label", "namespace", late, "lifeboat-test/selection=%s" % label)
    again = run_module("object_backup", dict(selection, name="selected-2"))
    assert again["backup"]["namespaces"] == sorted([first, second, late])
    info = run_module("backup_info", {"name": "selected-2", "storage": storage})
    assert info["backups"][0]["namespace_selection"]["namespace_selector"] == "lifeboat-test/selection=%s" % label
    mapping = dict((ns, ns + "-copy") for ns in (first, second))
    created.extend(mapping.values())
    restored = run_module("object_restore", {"name": "selected-1", "storage": storage, "namespace_mapping": mapping})
    assert restored.get("phase") == "Completed", restored
    for source, target in mapping.items():
        original = dict((c["metadata"]["name"], c.get("data")) for c in kubectl_json("get", "configmaps", "-n", source)[
            "items"] if c["metadata"]["name"] != "kube-root-ca.crt")
        copy = dict((c["metadata"]["name"], c.get("data")) for c in kubectl_json("get", "configmaps", "-n", target)[
            "items"] if c["metadata"]["name"] != "kube-root-ca.crt")
        assert copy == original and len(copy) == 3
    assert kubectl("get", "namespace", excluded + "-copy", "--ignore-not-found", "-o", "name") == ""


@pytest.mark.parametrize("given,option", [
    ({"namespaces": ["*", "default"]}, "namespaces"),
    ({"namespace_selector": "lifeboat-test/selection=no-such-label-value"}, "namespace_selector"),
    ({"namespace_selector": "tier in (a"}, "namespace_selector"),
    ({"namespaces": ["default"], "exclude_namespaces": ["def*"]}, "exclude_namespaces"),
])
def test_a_bad_selection_is_refused_naming_the_option_and_nothing_is_written(tmp_path, given, option):
    store = tmp_path / "store"
    result = run_module("object_backup", dict(given, name="bad-selection", storage="file://%s" % store))
    assert result.get("failed") and result["msg"].startswith(option + ":"), result
    assert not store.exists() or not any(store.rglob("*.json"))
