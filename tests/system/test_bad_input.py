"""Bad input fails before any change, with a message that starts with the option to fix."""

import os

import pytest

from helpers import NEEDS_BED, app_objects, create_namespace_with, delete_namespaces, kubectl_json, run_module, unique

pytestmark = NEEDS_BED


@pytest.fixture(scope="module")
def app():
    namespace = unique("bad-input")
    create_namespace_with(namespace, app_objects() + [{
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}}])
    yield namespace
    delete_namespaces(namespace)


def files_under(path):
    return [os.path.join(d, f) for d, _s, fs in os.walk(path) for f in fs]


S3 = {"storage": "s3://bucket/prefix", "access_key": "an-access-key", "secret_key": "a-wrong-secret-key"}
CASES = [
    ("include_resources", {"include_resources": ["confgmaps"]}),
    ("ttl", {"ttl": "99999999999h"}),
    ("ttl", {"ttl": "-1h"}),
    ("ttl", {"ttl": "a fortnight"}),
    ("filter", {"filter": "abs(metadata.name) > `1`"}),
    ("filter", {"filter": "metadata.name =="}),
    ("endpoint_url", dict(S3, endpoint_url="not a url")),
    ("profile", dict(S3, profile="nightly")),
    ("storage_timeout", dict(S3, storage_timeout=0)),
    ("storage", {"storage": "ftp://backups"}),
    ("volume_snapshots[0]", {"volume_snapshots": [{"name": "x"}]}),
    ("kubeconfig", {"kubeconfig": "/"}),
    ("kubeconfig", {"kubeconfig": "/nonexistent/kubeconfig"}),
]


@pytest.mark.parametrize("option,args", CASES, ids=["%s-%d" % (c[0], i) for i, c in enumerate(CASES)])
def test_backup_refuses_bad_input_and_writes_nothing(app, tmp_path, option, args):
    store_dir = tmp_path / "store"
    params = dict({"name": "bad", "namespaces": [app], "storage": "file://%s" % store_dir}, **args)
    result = run_module("object_backup", params)
    assert result.get("failed"), result
    assert result["msg"].startswith(option + ":"), result["msg"]
    assert "unexpected error" not in result["msg"] and "Traceback" not in result["msg"]
    assert files_under(store_dir) == []


def test_negative_wait_timeout_changes_nothing(app):
    result = run_module("volume_snapshot", {"name": "neg", "namespace": app, "pvc": "data", "wait_timeout": -1})
    assert result.get("failed") and result["msg"].startswith("wait_timeout:"), result
    assert kubectl_json("get", "volumesnapshots", "-n", app)["items"] == []


def test_velero_durations_are_accepted(app, tmp_path):
    result = run_module("object_backup", {"name": "ttl", "namespaces": [app], "storage": "file://%s" % tmp_path,
                                          "ttl": "720h0m0s"})
    assert result["backup"]["expires_at"] and not result.get("failed")
