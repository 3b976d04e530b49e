"""Exec hooks: how options and Velero's annotations are read, how a pod's hooks run, and where they run
relative to the snapshots (over the in-memory cluster, with the exec call replaced by a recorder that
also notes which snapshots existed when each command ran: an oracle independent of the code's own report).
On the test bed the same flows run real commands in real pods."""

from dataclasses import replace

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.volumes import snapshots as volumes
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import ApiError, InvalidInputError, LifeboatError
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.pod_exec import ExecResult, _exit_code
from ansible_collections.lifeboat.k8s.plugins.module_utils.hooks import running
from ansible_collections.lifeboat.k8s.plugins.module_utils.hooks.backup import HookGroup, _join
from ansible_collections.lifeboat.k8s.plugins.module_utils.hooks.restore import RestoreHooks
from ansible_collections.lifeboat.k8s.plugins.module_utils.hooks.specs import (
    backup_annotation_hook,
    option_hooks,
    parse_command,
    restore_annotation_hook,
)

from ..blockstore.test_volume_flow import cluster_with_volumes, snapshot_params

SNAPSHOTS = ("snapshot.storage.k8s.io", "volumesnapshots")


def pod(name, claims=(), labels=None, annotations=None, containers=("app",), phase="Running", owner=None):
    meta = {"name": name, "namespace": "shop", "labels": labels or {}, "annotations": annotations or {}}
    if owner:
        meta["ownerReferences"] = [dict(owner, controller=True)]
    return {"metadata": meta,
            "spec": {"containers": [{"name": c} for c in containers],
                     "volumes": [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims]},
            "status": {"phase": phase, "containerStatuses": [
                {"name": c, "ready": True, "state": {"running": {}}} for c in containers]}}


class Recorder:
    """Stands in for exec_in_pod: answers from a script by command, notes what snapshots existed."""

    def __init__(self, cluster, answers=None):
        self.cluster = cluster
        self.answers = answers or {}
        self.calls = []

    def __call__(self, k8s, namespace, name, container, command, timeout):
        snapshots = sorted(n for (g, p, _ns, n) in self.cluster.objects if (g, p) == SNAPSHOTS)
        self.calls.append((name, container, command[-1], snapshots))
        answer = self.answers.get(command[-1], 0)
        if isinstance(answer, Exception):
            raise answer
        return ExecResult(answer, "out of %s\n" % command[-1], "", 0.01)


@pytest.fixture
def recorder(monkeypatch):
    def make(cluster, answers=None):
        rec = Recorder(cluster, answers)
        monkeypatch.setattr(running, "exec_in_pod", rec)
        return rec
    return make


# ---------------------------------------------------------------- reading hooks

def test_commands_are_read_as_velero_reads_them():
    assert parse_command('["/bin/sh", "-c", "echo hi"]') == ["/bin/sh", "-c", "echo hi"]
    assert parse_command("/sbin/fsfreeze --freeze /data") == ["/sbin/fsfreeze --freeze /data"]  # one word
    assert parse_command("[not json") == ["[not json"]


def test_annotation_hooks_have_velero_defaults_and_legacy_keys_are_pre_hooks():
    hook = backup_annotation_hook({"pre.hook.backup.velero.io/command": '["sync"]',
                                   "pre.hook.backup.velero.io/timeout": "2m",
                                   "pre.hook.backup.velero.io/on-error": "Sometimes"}, "pre")
    assert (hook.command, hook.container, hook.on_error, hook.timeout) == (["sync"], None, "Fail", 120.0)
    legacy = {"hook.backup.velero.io/command": "sync", "hook.backup.velero.io/timeout": "soon"}
    assert backup_annotation_hook(legacy, "pre").timeout == 30.0  # unreadable: the default, as Velero
    assert backup_annotation_hook(legacy, "post") is None
    restore = restore_annotation_hook({"post.hook.restore.velero.io/command": '["/bin/sh","-c","load"]',
                                       "post.hook.restore.velero.io/exec-timeout": "45s",
                                       "post.hook.restore.velero.io/wait-timeout": "5m",
                                       "post.hook.restore.velero.io/wait-for-ready": "true",
                                       "post.hook.restore.velero.io/on-error": "Continue"})
    assert (restore.timeout, restore.wait_timeout, restore.wait_for_ready, restore.on_error) == (
        45.0, 300.0, True, "Continue")


@pytest.mark.parametrize("entry, message", [
    ({"pod_selector": "app=db", "command": []}, r"^hooks\[0\]\.command: "),
    ({"pod_selector": "app=db", "command": ["ok", 3]}, r"^hooks\[0\]\.command: "),
    ({"command": ["sync"]}, r"^hooks\[0\]\.pod_selector: required"),
    ({"pod_selector": "", "command": ["sync"], "timeout": "soon"}, r"^hooks\[0\]\.timeout: 'soon' is not a duration"),
    ({"pod_selector": "", "command": ["sync"], "timeout": 0}, r"^hooks\[0\]\.timeout: 0 must be longer than zero"),
    ({"pod_selector": "", "command": ["sync"], "on_error": "Ignore"}, r"^hooks\[0\]\.on_error: "),
    ({"pod_selector": "", "command": ["sync"], "phase": "during"}, r"^hooks\[0\]\.phase: "),
])
def test_bad_hook_options_name_the_entry_and_field(entry, message):
    with pytest.raises(InvalidInputError, match=message):
        option_hooks([entry], "hooks", ("pre", "post"))


def test_exit_status_from_the_status_channel():
    assert _exit_code(b'{"status":"Success"}') == (0, None)
    failure = (b'{"status":"Failure","message":"command terminated with non-zero exit code: 3","reason":'
               b'"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}')
    assert _exit_code(failure) == (3, None)
    assert _exit_code(b'{"status":"Failure","message":"container not running"}') == (None, "container not running")
    assert _exit_code(None)[1] == "the exec stream ended without an exit status"


# ---------------------------------------------------------------- running a pod's hooks

def test_a_failed_fail_hook_stops_the_pods_remaining_hooks_and_unrunnable_hooks_fail():
    cluster = cluster_with_volumes()
    rec = Recorder(cluster, {"first": 3, "forbidden": ApiError("pods/exec shop/db: 403 forbidden", status=403)})
    runner = running.HookRunner(cluster, exec_fn=rec)
    hooks = [h for _s, h in option_hooks([
        {"pod_selector": "", "command": ["first"], "on_error": "Continue"},
        {"pod_selector": "", "command": ["second"]},
        {"pod_selector": "", "command": ["third"], "container": "sidecar"},
        {"pod_selector": "", "command": ["never"]}], "hooks", ("pre",))]
    outcomes = runner.run_pod(pod("db"), hooks)
    assert [(o["command"][-1], o["status"]) for o in outcomes] == [
        ("first", "failed"), ("second", "succeeded"), ("third", "failed")]
    assert outcomes[0]["error"] == "exited with code 3" and outcomes[1]["container"] == "app"
    assert "no such container 'sidecar' in pod shop/db (it has: app)" in outcomes[2]["error"]
    assert [c[2] for c in rec.calls] == ["first", "second"]
    forbidden = runner.run_pod(pod("db"), [h for _s, h in option_hooks(
        [{"pod_selector": "", "command": ["forbidden"]}], "hooks", ("pre",))])
    assert forbidden[0]["status"] == "failed" and "403 forbidden" in forbidden[0]["error"]


def test_pods_sharing_a_claim_form_one_group():
    phases = {"pre": [], "post": []}
    groups = _join([(pod("a"), phases, {"data"}), (pod("b"), phases, {"logs"}), (pod("c"), phases, {"data", "tmp"})])
    assert sorted((sorted(p[0]["metadata"]["name"] for p in g.pods), sorted(g.claims)) for g in groups) == [
        (["a", "c"], ["data", "tmp"]), (["b"], ["logs"])]
    assert isinstance(groups[0], HookGroup)


# ---------------------------------------------------------------- around snapshots

def hooked_cluster():
    cluster = cluster_with_volumes("data", "logs")
    cluster.add("", "pods", pod("db", claims=["data"], labels={"app": "db"}, annotations={
        "pre.hook.backup.velero.io/command": '["/bin/sh", "-c", "freeze"]',
        "post.hook.backup.velero.io/command": '["/bin/sh", "-c", "thaw"]'}))
    cluster.add("", "pods", pod("idle", labels={"app": "db"}))  # no volume: no hook runs in it
    return cluster


def test_pre_hooks_run_before_the_snapshot_and_post_hooks_after_it_then_a_rerun_runs_none(recorder):
    cluster = hooked_cluster()
    rec = recorder(cluster)
    planned = volumes.snapshot_volumes(cluster, snapshot_params(pvc_selector="", hook_annotations=True),
                                       check_mode=True)
    assert planned["changed"] and not rec.calls  # check mode runs nothing
    taken = volumes.snapshot_volumes(cluster, snapshot_params(pvc_selector="", hook_annotations=True))
    # data (the pod's) is cut between its pod's hooks; logs (no hooked pod) is not held back by them.
    assert [c[:3] for c in rec.calls] == [("db", "app", "freeze"), ("db", "app", "thaw")]
    assert "nightly-data" not in rec.calls[0][3] and "nightly-data" in rec.calls[1][3]
    assert [o["status"] for o in taken["hooks"]] == ["succeeded", "succeeded"]
    by_pvc = dict((r["source"]["pvc"], r) for r in taken["snapshots"])
    assert [h["stdout"] for h in by_pvc["data"]["hooks"]] == ["out of freeze\n", "out of thaw\n"]
    assert "hooks" not in by_pvc["logs"]
    again = volumes.snapshot_volumes(cluster, snapshot_params(pvc_selector="", hook_annotations=True))
    assert again["changed"] is False and "hooks" not in again and len(rec.calls) == 2


def test_annotations_are_ignored_when_not_honoured_and_option_hooks_select_by_label(recorder):
    cluster = hooked_cluster()
    rec = recorder(cluster)
    hooks = [{"pod_selector": "app=db", "command": ["flush"], "name": "flush"},
             {"pod_selector": "app=other", "command": ["never"]}]
    volumes.snapshot_volumes(cluster, snapshot_params(pvc_selector="", hook_annotations=False, hooks=hooks))
    assert [(c[0], c[2]) for c in rec.calls] == [("db", "flush")]


def test_a_failing_fail_pre_hook_takes_no_snapshot_still_thaws_and_deletes_what_the_run_took(recorder):
    cluster = hooked_cluster()
    rec = recorder(cluster, {"freeze": 1})
    with pytest.raises(LifeboatError, match=r"^hooks: pre hook annotation in shop/db \(container app\): exited "
                                            r"with code 1; the 1 snapshot this run took was deleted") as failed:
        volumes.snapshot_volumes(cluster, snapshot_params(pvc_selector="", hook_annotations=True))
    assert [c[2] for c in rec.calls] == ["freeze", "thaw"]
    assert [o["status"] for o in failed.value.details["hooks"]] == ["failed", "succeeded"]
    assert not cluster.named(*SNAPSHOTS, namespace="shop")  # logs was taken, then deleted


def test_a_failing_continue_hook_warns_and_the_backup_goes_on(recorder):
    cluster = hooked_cluster()
    recorder(cluster, {"flush": 2})
    taken = volumes.snapshot_volumes(cluster, snapshot_params(pvc_selector="", hook_annotations=False, hooks=[
        {"pod_selector": "app=db", "command": ["flush"], "on_error": "Continue"}]))
    assert taken["changed"] and len(cluster.named(*SNAPSHOTS, namespace="shop")) == 2
    assert taken["warnings"] == ["on_error Continue: pre hook hooks[0] in shop/db (container app): exited with code 2"]


def test_hooks_need_pvcs_and_are_checked_before_anything_runs(recorder):
    cluster = hooked_cluster()
    rec = recorder(cluster)
    with pytest.raises(InvalidInputError, match=r"^hooks\[0\]\.on_error"):
        # (The module's choices refuse it first; the hooks' own check names the entry and field.)
        volumes.snapshot_volumes(cluster, replace(snapshot_params(pvc_selector=""), hooks=[
            {"pod_selector": "", "command": ["x"], "on_error": "Maybe"}]))
    with pytest.raises(InvalidInputError, match="^hooks: run in the pods that mount a PVC"):
        volumes.snapshot_volumes(cluster, snapshot_params(volume_id="vol-1", hooks=[
            {"pod_selector": "", "command": ["x"]}]))
    assert not rec.calls and not cluster.named(*SNAPSHOTS, namespace="shop")


# ---------------------------------------------------------------- after a restore

def test_restore_hooks_run_only_in_pods_of_created_workloads_once_they_are_up():
    cluster = cluster_with_volumes()
    template = {"labels": {"app": "web"}, "annotations": {"post.hook.restore.velero.io/command": '["warm"]'}}
    deployment = cluster.create("/apis/apps/v1/namespaces/shop/deployments", {
        "metadata": {"name": "web"}, "spec": {"replicas": 2, "template": {"metadata": template}}})
    replicaset = cluster.create("/apis/apps/v1/namespaces/shop/replicasets", {"metadata": {
        "name": "web-1", "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": True,
                                              "uid": deployment["metadata"]["uid"]}]}})
    owner = {"kind": "ReplicaSet", "name": "web-1", "uid": replicaset["metadata"]["uid"]}
    cluster.add("", "pods", pod("web-1-a", labels={"app": "web"}, annotations=template["annotations"], owner=owner))
    starting = pod("web-1-b", labels={"app": "web"}, annotations=template["annotations"], owner=owner)
    starting["status"]["containerStatuses"][0]["state"] = {"waiting": {}}
    cluster.add("", "pods", starting)
    cluster.add("", "pods", pod("stranger", labels={"app": "web"}, annotations=template["annotations"]))
    rec = Recorder(cluster)
    clock = [0.0]

    def sleep(seconds):
        clock[0] += seconds
        if clock[0] >= 3:  # the second pod's container starts
            cluster.objects[("", "pods", "shop", "web-1-b")]["status"]["containerStatuses"][0]["state"] = {
                "running": {}}
    hooks = RestoreHooks(cluster, None, True, 60, runner=running.HookRunner(cluster, exec_fn=rec),
                         clock=lambda: clock[0], sleep=sleep)
    hooks.watch("deployments.apps", deployment)
    hooks.watch("configmaps", {"metadata": {"name": "c", "namespace": "shop"}})
    outcomes = hooks.run()
    assert sorted(c[0] for c in rec.calls) == ["web-1-a", "web-1-b"] and clock[0] >= 3
    assert [o["status"] for o in outcomes] == ["succeeded", "succeeded"]


def test_restore_hooks_whose_pods_never_come_up_fail_after_their_wait():
    cluster = cluster_with_volumes()
    created = cluster.create("/api/v1/namespaces/shop/pods", pod("solo", labels={"app": "db"}))
    clock = [0.0]
    hooks = RestoreHooks(cluster, [{"pod_selector": "app=db", "command": ["load"], "wait_timeout": "10s"}], False,
                         600, runner=running.HookRunner(cluster, exec_fn=Recorder(cluster)),
                         clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    cluster.objects[("", "pods", "shop", "solo")]["status"]["containerStatuses"] = []
    hooks.watch("pods", created)
    outcomes = hooks.run()
    assert [o["status"] for o in outcomes] == ["failed"] and 10 <= clock[0] < 12
    assert outcomes[0]["error"] == ("pods shop/solo: 1 of its 1 pod(s) did not come up within 10s, so their "
                                    "post-restore hooks did not run")
