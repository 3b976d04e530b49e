"""The executable protocol: the documented example, and every way a command can go wrong."""

import os
import sys
import textwrap

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions import command
from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.base import ItemContext, ItemRef
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError, LifeboatError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 5))
EXAMPLE = os.path.join(ROOT, "docs", "examples", "rewrite_registry.py")
HELLO = ('{"protocol": "lifeboat.k8s/item-action/v1", "kind": "%s", "name": "t", '
         '"applies_to": {"resources": ["configmaps"]}}')


def script(tmp_path, body, kind="RestoreItemAction"):
    path = tmp_path / "action.py"
    path.write_text("import json, sys, time\nprint(%r, flush=True)\n%s" % (HELLO % kind, textwrap.dedent(body)))
    return [sys.executable, str(path)]


def start(argv, kind="restore", timeout=5):
    return command.CommandAction.start("item_action_commands[0]", argv, timeout, kind)


def send(action, res_dir="configmaps", obj=None):
    obj = obj or {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}, "data": {}}
    return action.execute(obj, ItemContext(res_dir, None, source=obj))


def test_the_documented_example_is_on_the_page_and_rewrites_registries():
    with open(os.path.join(ROOT, "docs", "item-actions.md")) as page, open(EXAMPLE) as example:
        assert "```python\n%s```" % example.read() in page.read()
    action = start([sys.executable, EXAMPLE, "docker.io", "mirror.example.com"])
    try:
        assert action.name == "rewrite-registry"
        assert action.applies_to.matches("deployments.apps", {"metadata": {}})
        assert not action.applies_to.matches("configmaps", {"metadata": {}})
        deployment = {"kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"template": {
            "spec": {"containers": [{"name": "a", "image": "docker.io/library/busybox:1.36"},
                                    {"name": "b", "image": "quay.io/x/y:1"}]}}}}
        out = send(action, "deployments.apps", deployment).item
        assert [c["image"] for c in out["spec"]["template"]["spec"]["containers"]] == [
            "mirror.example.com/library/busybox:1.36", "quay.io/x/y:1"]
        pod = {"kind": "Pod", "metadata": {"name": "p", "namespace": "shop"},
               "spec": {"containers": [{"name": "a", "image": "docker.io/nginx"}]}}
        assert send(action, "pods", pod).item["spec"]["containers"][0]["image"] == "mirror.example.com/nginx"
    finally:
        action.close()
    assert action.process.returncode == 0, "it exits when its input closes"


def test_skip_and_additional_items(tmp_path):
    action = start(script(tmp_path, """
        for line in sys.stdin:
            print(json.dumps({"skip": "not wanted", "additional": [
                {"resource": "secrets", "namespace": "shop", "name": "s"}]}), flush=True)
        """, kind="BackupItemAction"), "backup")
    try:
        result = send(action)
    finally:
        action.close()
    assert result.skip == "not wanted"
    assert result.additional == [ItemRef("secrets", "shop", "s")]


@pytest.mark.parametrize("body,message", [
    ("print('not json', flush=True)\nsys.stdin.readline()", "answered with a line that is not JSON"),
    ("sys.stdin.readline(); print('[1]', flush=True)", "JSON that is not an object"),
    ("sys.stdin.readline(); sys.stderr.write('boom: no such key'); sys.exit(3)",
     "exited with code 3; its last error output: boom: no such key"),
    ("sys.stdin.readline(); print(json.dumps({'error': 'cannot parse the image'}), flush=True)",
     "it reported an error: cannot parse the image"),
    ("sys.stdin.readline(); print(json.dumps({'item': {'no': 'metadata'}}), flush=True)",
     "answered an item that is not a Kubernetes object"),
    ("sys.stdin.readline(); print(json.dumps({'patch': []}), flush=True)", r"unknown key\(s\) in its answer: patch"),
    ("sys.stdin.readline(); time.sleep(30)", r"no answer within 0.5s \(its timeout\); it was stopped"),
])
def test_failures_name_the_command_and_the_item(tmp_path, body, message):
    action = start(script(tmp_path, body), timeout=0.5)
    try:
        with pytest.raises(LifeboatError, match=message) as caught:
            send(action)
    finally:
        action.close()
    assert str(caught.value).startswith("item_action_commands[0] (python")
    assert "configmaps shop/c" in str(caught.value)


def test_a_timeout_kills_the_command(tmp_path):
    action = start(script(tmp_path, "sys.stdin.readline(); time.sleep(30)"), timeout=0.3)
    with pytest.raises(LifeboatError):
        send(action)
    assert action.process.poll() is not None


@pytest.mark.parametrize("hello,message", [
    ('{"protocol": "other/v9", "kind": "RestoreItemAction"}', "expected protocol 'lifeboat.k8s/item-action/v1'"),
    (HELLO % "BackupItemAction", "declares kind 'BackupItemAction'; this module runs RestoreItemAction commands"),
    ('{"protocol": "lifeboat.k8s/item-action/v1", "kind": "RestoreItemAction", "applies_to": {"kinds": []}}',
     "applies_to: expected"),
])
def test_bad_handshakes(tmp_path, hello, message):
    path = tmp_path / "action.py"
    path.write_text("print(%r, flush=True)\nimport sys\nsys.stdin.read()\n" % hello)
    with pytest.raises(LifeboatError, match=message):
        start([sys.executable, str(path)])


def test_a_command_that_cannot_start_or_says_nothing(tmp_path):
    with pytest.raises(InvalidInputError, match=r"^item_action_commands\[0\]: cannot run /nonexistent/cmd"):
        start(["/nonexistent/cmd"])
    path = tmp_path / "silent.py"
    path.write_text("import sys\nsys.exit(0)\n")
    with pytest.raises(LifeboatError, match="handshake: exited with code 0"):
        start([sys.executable, str(path)])


@pytest.mark.parametrize("entries,message", [
    ([{"command": ""}], r"item_action_commands\[0\]: expected a command line"),
    ([{"command": "x", "timeout": 0}], r"item_action_commands\[0\].timeout: expected a positive number"),
    ([{"command": [1, 2]}], r"item_action_commands\[0\].command: expected"),
    ([{"command": "x", "env": {}}], r"item_action_commands\[0\]: expected"),
])
def test_entries_are_checked_before_anything_starts(entries, message):
    with pytest.raises(InvalidInputError, match=message):
        command.read_commands(entries)


def test_entries_accept_a_line_or_an_argv_list():
    assert command.read_commands(["/bin/act --fast 'a b'", {"command": ["/bin/x"], "timeout": 2}]) == [
        ("item_action_commands[0]", ["/bin/act", "--fast", "a b"], 30.0),
        ("item_action_commands[1]", ["/bin/x"], 2.0)]
