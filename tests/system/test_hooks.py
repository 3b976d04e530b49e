"""Exec hooks on the bed's node: real commands in real pods through pods/exec.

The oracle is the pods and volumes themselves (kubectl exec, files in restored volumes), not the
module's report. Velero's own fsfreeze example cannot run here: the bed's volumes are directories
of the host's filesystem, which an fsfreeze would freeze for the whole machine. The pod below
copies the example's shape (a `fsfreeze` container, the annotation keys verbatim) with commands
that leave a trace instead.
"""

import os
import time

import pytest

from helpers import (
    NEEDS_BED,
    create_namespace_with,
    delete_namespaces,
    kubectl,
    kubectl_json,
    run_module,
    unique,
    wait_for,
)
from faultproxy import HttpFaultProxy
from test_auth import apply_documented_role, delete_documented_role, token_kubeconfig

pytestmark = NEEDS_BED
IMAGE = "docker.io/library/busybox:1.36"


def container(name, mounts=True):
    spec = {"name": name, "image": IMAGE, "imagePullPolicy": "Never", "command": ["sleep", "3600"]}
    if mounts:
        spec["volumeMounts"] = [{"name": "logs", "mountPath": "/var/log/nginx"}]
    return spec


def velero_example(annotations):
    """Velero's docs' nginx example: an app and a `fsfreeze` container sharing the logs volume."""
    return [
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "nginx-logs"},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Mi"}}}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "nginx", "labels": {"app": "nginx"}, "annotations": annotations},
         "spec": {"terminationGracePeriodSeconds": 1, "containers": [container("nginx"), container("fsfreeze")],
                  "volumes": [{"name": "logs", "persistentVolumeClaim": {"claimName": "nginx-logs"}}]}},
    ]


# Copied from Velero's backup hooks docs (docs/main/backup-hooks.md), commands replaced (see above).
VELERO_ANNOTATIONS = {
    "pre.hook.backup.velero.io/container": "fsfreeze",
    "pre.hook.backup.velero.io/command": '["/bin/sh", "-c", "date +%s > /var/log/nginx/frozen-at; sync"]',
    "post.hook.backup.velero.io/container": "fsfreeze",
    "post.hook.backup.velero.io/command": '["/bin/sh", "-c", "date +%s >> /var/log/nginx/thawed-at"]',
}


@pytest.fixture
def nginx():
    namespace = unique("hooks")
    create_namespace_with(namespace, velero_example(VELERO_ANNOTATIONS))
    kubectl("wait", "-n", namespace, "pod/nginx", "--for=condition=Ready", "--timeout=120s")
    yield namespace
    delete_namespaces(namespace)


def snapshot(namespace, **extra):
    return run_module("volume_snapshot", dict({"name": "hooked", "namespace": namespace, "pvc_selector": ""}, **extra))


def snapshots_in(namespace):
    return [s["metadata"]["name"] for s in kubectl_json("get", "volumesnapshots", "-n", namespace)["items"]]


def read_restored(namespace, record, path):
    """Restore the snapshot into a new PVC in namespace and read a file of it from a pod mounting it."""
    kubectl("create", "namespace", namespace)
    restored = run_module("volume_restore", {"snapshot": record, "namespace": namespace, "pvc": "copy"})
    assert not restored.get("failed"), restored.get("msg")
    kubectl("apply", "-n", namespace, "-f", "-", stdin=(
        '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader"}, "spec": {'
        '"terminationGracePeriodSeconds": 1, "containers": [{"name": "r", "image": "%s", "imagePullPolicy": "Never",'
        '"command": ["sleep", "3600"], "volumeMounts": [{"name": "v", "mountPath": "/data"}]}],'
        '"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "copy"}}]}}' % IMAGE))
    kubectl("wait", "-n", namespace, "pod/reader", "--for=condition=Ready", "--timeout=120s")
    return kubectl("exec", "-n", namespace, "reader", "--", "cat", "/data/" + path)


def test_velero_annotated_pod_is_frozen_just_before_its_snapshot_and_thawed_after(nginx):
    started = time.time()
    taken = snapshot(nginx)
    assert not taken.get("failed"), taken.get("msg")
    hooks = taken["hooks"]
    assert [(h["phase"], h["container"], h["source"], h["status"]) for h in hooks] == [
        ("pre", "fsfreeze", "annotation", "succeeded"), ("post", "fsfreeze", "annotation", "succeeded")]
    # The pre hook's marker is in the snapshot, the post hook's is not: one ran before the cut, one after.
    copy = nginx + "-copy"
    try:
        assert int(read_restored(copy, taken["snapshots"][0], "frozen-at")) >= int(started)
        assert kubectl("exec", "-n", copy, "reader", "--", "ls", "/data/thawed-at", check=False) == ""
    finally:
        # The restore into another namespace made a cluster-scoped VolumeSnapshotContent: removed with the
        # volume (a namespace delete would leave it behind).
        kubectl("delete", "pod", "reader", "-n", copy, "--ignore-not-found", "--wait=true")
        run_module("volume_restore", {"state": "absent", "namespace": copy, "pvc": "copy"})
        delete_namespaces(copy)
    thawed = kubectl("exec", "-n", nginx, "nginx", "-c", "fsfreeze", "--", "cat", "/var/log/nginx/thawed-at")
    assert len(thawed.split()) == 1
    assert taken["snapshots"][0]["hooks"][0]["command"][-1].startswith("date")
    again = snapshot(nginx)
    assert again["changed"] is False and "hooks" not in again
    assert kubectl("exec", "-n", nginx, "nginx", "-c", "fsfreeze", "--", "cat", "/var/log/nginx/thawed-at") == thawed


def test_failing_fail_hook_leaves_no_snapshot_and_still_thaws(nginx):
    failed = snapshot(nginx, hook_annotations=False, hooks=[
        {"pod_selector": "app=nginx", "container": "fsfreeze", "command": ["/bin/sh", "-c", "echo cannot >&2; exit 7"]},
        {"pod_selector": "app=nginx", "phase": "post", "command": ["/bin/sh", "-c", "touch /tmp/thawed"]}])
    assert failed.get("failed")
    assert failed["msg"].startswith("hooks: pre hook hooks[0] in %s/nginx (container fsfreeze): exited with code 7: "
                                    "cannot; this run took no snapshot" % nginx), failed["msg"]
    assert snapshots_in(nginx) == []
    assert kubectl("exec", "-n", nginx, "nginx", "--", "ls", "/tmp/thawed").strip() == "/tmp/thawed"
    assert [h["status"] for h in failed["hooks"]] == ["failed", "succeeded"]


def test_continue_hook_warns_and_a_slow_hook_times_out(nginx):
    went_on = snapshot(nginx, hook_annotations=False, hooks=[
        {"pod_selector": "app=nginx", "command": ["/bin/sh", "-c", "sleep 20"], "timeout": "1s",
         "on_error": "Continue"}])
    assert not went_on.get("failed"), went_on.get("msg")
    assert went_on["hooks"][0]["error"] == "timed out after 1s" and went_on["hooks"][0]["seconds"] < 5
    assert any("on_error Continue" in w and "timed out after 1s" in w for w in went_on["warnings"])
    assert snapshots_in(nginx) == ["hooked-nginx-logs"]


def test_documented_role_runs_hooks_and_without_pods_exec_the_hook_fails_clearly(nginx):
    apply_documented_role("namespace-backup.yaml", nginx)
    try:
        identity = token_kubeconfig("lifeboat-backup", nginx)
        taken = snapshot(nginx, kubeconfig=identity)
        assert not taken.get("failed"), taken.get("msg")
        assert [h["status"] for h in taken["hooks"]] == ["succeeded", "succeeded"]
        kubectl("delete", "volumesnapshot", "--all", "-n", nginx, "--wait=true")
        kubectl("patch", "role", "lifeboat-backup", "-n", nginx, "--type=json", "-p",
                '[{"op": "remove", "path": "/rules/%d"}]' % exec_rule(nginx))
        wait_for(lambda: "no" in kubectl("auth", "can-i", "create", "pods/exec", "-n", nginx,
                                         "--as=system:serviceaccount:%s:lifeboat-backup" % nginx, check=False),
                 what="the exec permission to go")
        refused = snapshot(nginx, kubeconfig=identity)
        assert refused.get("failed")
        assert "pods/exec %s/nginx: 403" % nginx in refused["msg"] and "forbidden" in refused["msg"], refused["msg"]
        assert snapshots_in(nginx) == []
    finally:
        delete_documented_role("namespace-backup.yaml", nginx)


def exec_rule(namespace):
    rules = kubectl_json("get", "role", "lifeboat-backup", "-n", namespace)["rules"]
    return next(i for i, r in enumerate(rules) if "pods/exec" in r.get("resources", []))


# Copied from Velero's restore hooks docs (docs/main/restore-hooks.md), the command replaced.
RESTORE_ANNOTATIONS = {
    "post.hook.restore.velero.io/container": "web",
    "post.hook.restore.velero.io/command": '["/bin/sh", "-c", "hostname > /tmp/restored-by-hook"]',
    "post.hook.restore.velero.io/wait-timeout": "5m",
    "post.hook.restore.velero.io/exec-timeout": "45s",
    "post.hook.restore.velero.io/on-error": "Continue",
}


def test_post_restore_hooks_run_in_every_pod_of_a_restored_deployment_once(tmp_path):
    source, target = unique("rhooks"), unique("rhooks-copy")
    create_namespace_with(source, [{
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}, "annotations": RESTORE_ANNOTATIONS},
                              "spec": {"terminationGracePeriodSeconds": 1,
                                       "containers": [container("web", mounts=False)]}}}}])
    try:
        store = "file://%s" % (tmp_path / "store")
        backed = run_module("object_backup", {"name": "b", "namespaces": [source], "storage": store})
        assert not backed.get("failed"), backed.get("msg")
        args = {"name": "b", "storage": store, "namespace_mapping": {source: target}}
        restored = run_module("object_restore", args)
        assert not restored.get("failed"), restored.get("msg")
        pods = [p["metadata"]["name"] for p in kubectl_json("get", "pods", "-n", target, "-l", "app=web")["items"]]
        assert sorted(h["pod"] for h in restored["hooks"]) == sorted(pods) and len(pods) == 2
        for pod in pods:
            assert kubectl("exec", "-n", target, pod, "--", "cat", "/tmp/restored-by-hook").strip() == pod
        # The source's own pods were not created by the restore: no hook ran there.
        for pod in kubectl_json("get", "pods", "-n", source)["items"]:
            assert kubectl("exec", "-n", source, pod["metadata"]["name"], "--", "ls", "/tmp/restored-by-hook",
                           check=False) == ""
        again = run_module("object_restore", args)
        assert again["changed"] is False and "hooks" not in again
    finally:
        delete_namespaces(source, target)


def test_exec_answered_429_then_reset_is_retried_and_each_command_runs_once(nginx):
    """A throttling apiserver (429 with Retry-After) and a dropped connection, both before the upgrade: retried.
    The pre hook appends a line, so a command sent twice would show."""
    proxy = HttpFaultProxy(os.environ["LIFEBOAT_APISERVER"], os.environ["LIFEBOAT_PKI"])
    try:
        proxy.add(r"/pods/nginx/exec", status=429, headers={"Retry-After": "1"})
        proxy.add(r"/pods/nginx/exec", reset=True)  # the next one: the first rule has fired its once
        taken = snapshot(nginx, kubeconfig=proxy.kubeconfig(), hook_annotations=False, hooks=[
            {"pod_selector": "app=nginx", "command": ["/bin/sh", "-c", "echo ran >> /tmp/runs"]}])
        assert not taken.get("failed"), taken.get("msg")
        assert [what for _m, path, what in proxy.log if "/exec" in path] == [429, "reset", "upgrade"]
        assert kubectl("exec", "-n", nginx, "nginx", "--", "cat", "/tmp/runs") == "ran\n"
    finally:
        proxy.close()
