"""Volume data copied into the bed's S3 by Jobs on the bed's node (restic 0.18, built from its Go module),
and restored into a namespace that was deleted in between.

Oracles: the files themselves (SHA-256 of every file, read in the pods), the bucket (the repository and the
copy records, listed with boto3), and the cluster (no Job, Secret or temporary PVC left behind).
"""

import contextlib
import json
import os
import subprocess
import sys

import ansible_runner
import pytest

from test_auth import apply_documented_role, delete_documented_role, token_kubeconfig
from helpers import (
    NEEDS_BED,
    VVV_WITH_INVOCATION,
    ansible_env,
    create_namespace_with,
    delete_namespaces,
    kill_tree,
    kubectl,
    kubectl_json,
    module_command,
    run_module,
    s3_client,
    start_module,
    unique,
    wait_for,
)

pytestmark = NEEDS_BED
IMAGE = "docker.io/library/busybox:1.36"
PASSWORD = "correct horse battery staple 1f0c"
# Many files in directories, a symlink, an empty directory, a file with spaces and its own mode.
FILL = """set -e
for d in $(seq 1 %(dirs)d); do mkdir -p /data/d$d; for f in $(seq 1 %(files)d); do
  head -c %(size)d /dev/urandom > /data/d$d/f$f; done; done
mkdir -p /data/empty; ln -sf d1/f1 /data/link; echo hi > '/data/with space'; chmod 640 '/data/with space'
"""
SUMS = "cd /data && find . -type f -exec sha256sum {} + | sort && ls -l link 'with space' | cut -c1-10 && ls -d empty"


def app(claim_size="1Gi"):
    return [
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": claim_size}}}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "files"}},
                  "template": {"metadata": {"labels": {"app": "files"}}, "spec": {
                      "terminationGracePeriodSeconds": 1,
                      "containers": [{"name": "app", "image": IMAGE, "imagePullPolicy": "Never",
                                      "command": ["sleep", "3600"],
                                      "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                      "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}}}},
    ]


def in_app(namespace, script):
    pod = wait_for(lambda: _ready_pod(namespace), timeout=180, what="the app's pod in %s" % namespace)
    return kubectl("exec", "-n", namespace, pod, "--", "sh", "-c", script)


def _ready_pod(namespace):
    for pod in kubectl_json("get", "pods", "-n", namespace, "-l", "app=files")["items"]:
        if not pod["metadata"].get("deletionTimestamp") and any(
                c.get("ready") for c in (pod.get("status") or {}).get("containerStatuses") or []):
            return pod["metadata"]["name"]
    return None


def mover(prefix, **extra):
    options = {"storage": "s3://%s/%s" % (os.environ["LIFEBOAT_S3_BUCKET"], prefix),
               "endpoint_url": os.environ["LIFEBOAT_S3_ENDPOINT"],
               "pod_endpoint_url": os.environ["LIFEBOAT_S3_POD_ENDPOINT"],
               "access_key": os.environ["AWS_ACCESS_KEY_ID"], "secret_key": os.environ["AWS_SECRET_ACCESS_KEY"],
               "repository_password": PASSWORD, "image": os.environ["LIFEBOAT_DATA_MOVER_IMAGE"]}
    options.update(extra)
    return options


def s3(prefix):
    return {"storage": "s3://%s/%s" % (os.environ["LIFEBOAT_S3_BUCKET"], prefix),
            "endpoint_url": os.environ["LIFEBOAT_S3_ENDPOINT"], "access_key": os.environ["AWS_ACCESS_KEY_ID"],
            "secret_key": os.environ["AWS_SECRET_ACCESS_KEY"], "region": os.environ["AWS_DEFAULT_REGION"]}


def keys(prefix):
    client, listed = s3_client(), []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=os.environ["LIFEBOAT_S3_BUCKET"],
                                                                 Prefix=prefix + "/"):
        listed += [o["Key"][len(prefix) + 1:] for o in page.get("Contents", [])]
    return listed


def leftovers(namespace):
    """What the data mover made and must have deleted: Jobs, their Secrets, temporary PVCs (all lb-*). The module
    deletes them and returns; the Job's pod and the PVC it mounts go within seconds (in the background)."""
    def found():
        names = kubectl("get", "jobs,secrets,pvc", "-n", namespace, "-o", "name", check=False).split()
        return [n for n in names if n.split("/", 1)[1].startswith("lb-")]
    try:
        wait_for(lambda: not found(), timeout=30, interval=0.5, what="the data mover's objects to go")
    except AssertionError:
        return found()
    return []


@pytest.fixture
def filled():
    namespace = unique("mover")
    create_namespace_with(namespace, app())
    in_app(namespace, FILL % {"dirs": 10, "files": 50, "size": 20000})  # 500 files, 10 MB: fast in CI
    yield namespace
    delete_namespaces(namespace)


def test_copy_survives_the_namespace_and_its_snapshots_and_comes_back_identical(filled):
    prefix = unique("mover-store")
    before = in_app(filled, SUMS)
    snap_args = {"name": "nightly", "namespace": filled, "pvc_selector": "", "volume_data": "copy",
                 "keep_snapshots": False, "data_mover": mover(prefix), "hook_annotations": False,
                 "hooks": [{"pod_selector": "app=files", "command": ["/bin/sh", "-c", "echo consistent > /data/marker"]}]}
    checked = run_module("volume_snapshot", snap_args, check=True)
    assert checked["changed"] and not keys(prefix)
    assert not kubectl("get", "jobs,pvc", "-n", filled, "-l", "app.kubernetes.io/managed-by=lifeboat", "-o", "name")
    taken = run_module("volume_snapshot", snap_args)
    assert not taken.get("failed"), taken.get("msg")
    record = taken["snapshots"][0]
    copy = record["data_copy"]
    assert record["snapshot_deleted"] is True and kubectl_json("get", "volumesnapshots", "-n", filled)["items"] == []
    assert copy["files"] == 502 and copy["bytes"] == 500 * 20000 + 3 + 11  # + marker, "hi\n"
    assert copy["seconds"] > 0 and copy["repository"].endswith("/volumes/restic/%s/data" % filled)
    stored = keys(prefix)
    assert "volumes/copies/%s/nightly-data.json" % filled in stored
    assert "volumes/restic/%s/data/snapshots/%s" % (filled, copy["snapshot_id"]) in stored
    assert not leftovers(filled)
    again = run_module("volume_snapshot", snap_args)
    assert again["changed"] is False and again["snapshots"][0]["data_copy"]["snapshot_id"] == copy["snapshot_id"]

    backed = run_module("object_backup", dict(s3(prefix), name="b1", namespaces=[filled],
                                              volume_snapshots=taken["snapshots"]))
    assert not backed.get("failed"), backed.get("msg")
    info = run_module("backup_info", dict(s3(prefix), name="b1", verify=True))
    assert info["backups"][0]["verified"] is True and info["backups"][0]["data_copies"][0]["files"] == 502

    kubectl("delete", "namespace", filled, "--wait=true", "--timeout=180s")
    restore_args = dict(s3(prefix), name="b1", data_mover={"pod_endpoint_url": os.environ["LIFEBOAT_S3_POD_ENDPOINT"],
                                                           "repository_password": PASSWORD,
                                                           "image": os.environ["LIFEBOAT_DATA_MOVER_IMAGE"]})
    restored = run_module("object_restore", restore_args)
    assert not restored.get("failed"), restored.get("msg")
    volume = restored["volumes"][0]
    assert (volume["driver"], volume["outcome"], volume["copied_files"]) == ("data_mover", "created", 502)
    after = in_app(filled, SUMS)
    marker = [line for line in after.splitlines() if line.endswith(" ./marker")]
    assert len(marker) == 1 and sorted(after.splitlines()) == sorted(before.splitlines() + marker)
    assert in_app(filled, "cat /data/marker") == "consistent\n"
    assert not leftovers(filled)
    rerun = run_module("object_restore", restore_args)
    assert rerun["changed"] is False and rerun["volumes"][0]["outcome"] == "unchanged"

    removed = run_module("volume_snapshot", dict(snap_args, state="absent"))
    assert removed["changed"] is True
    assert not [k for k in keys(prefix) if k.startswith("volumes/copies/")]
    assert not [k for k in keys(prefix) if "/snapshots/" in k]
    assert run_module("volume_snapshot", dict(snap_args, state="absent"))["changed"] is False


def test_a_wrong_password_fails_clearly_and_leaves_nothing(filled):
    prefix = unique("mover-pw")
    args = {"name": "pw", "namespace": filled, "pvc": "data", "volume_data": "copy", "data_mover": mover(prefix)}
    taken = run_module("volume_snapshot", args)
    assert not taken.get("failed"), taken.get("msg")
    wrong = run_module("volume_snapshot", dict(args, name="pw2", data_mover=mover(prefix, repository_password="nope")))
    assert wrong.get("failed")
    assert "data_mover.repository_password: restic cannot open the repository with this password" in wrong["msg"]
    # What explains it was read before the Job went: restic's own words, the container's end, the events.
    told = wrong["mover_job"]
    # restic 0.17 and later exit with 12 for a wrong password (1 before).
    assert "wrong password" in told["log_tail"] and told["termination"]["exit_code"] == 12, told
    assert told["pod"].startswith(told["job"].split("/")[1]) and any(" Scheduled: " in e for e in told["events"]), told
    assert not leftovers(filled)
    assert "volumes/copies/%s/pw2.json" % filled not in keys(prefix)
    # The password from a Secret of the namespace instead: it opens the same repository.
    kubectl("create", "secret", "generic", "restic-password", "-n", filled, "--from-literal=password=" + PASSWORD)
    from_secret = mover(prefix, repository_password=None, repository_password_secret="restic-password/password")
    by_secret = run_module("volume_snapshot", dict(args, name="pw3", data_mover=from_secret))
    assert not by_secret.get("failed"), by_secret.get("msg")
    # Deduplicated against the first copy: the repository grows by trees and an index, not the 10 MB again.
    assert by_secret["snapshot"]["data_copy"]["bytes_added"] < taken["snapshot"]["data_copy"]["bytes"] / 10
    assert kubectl("get", "secret", "restic-password", "-n", filled, "-o", "name").strip()  # the user's: kept


def test_a_namespace_quota_admits_the_copy_jobs_only_with_resources_and_says_so_at_once(filled):
    """A ResourceQuota on limits.* admits no pod that does not state them: the Job controller cannot make the copy's
    pod. Without data_mover.resources the copy fails at once, naming the option and the quota's words (not after
    wait_timeout); with them it is admitted."""
    prefix = unique("mover-quota")
    kubectl("apply", "-n", filled, "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "compute"},
        "spec": {"hard": {"limits.cpu": "4", "limits.memory": "4Gi"}}}))
    args = {"name": "quota", "namespace": filled, "pvc": "data", "volume_data": "copy", "data_mover": mover(prefix),
            "wait_timeout": 240}
    refused = run_module("volume_snapshot", args)
    assert refused.get("failed")
    assert "data_mover.resources: the namespace refuses the Job's pod: " in refused["msg"], refused["msg"]
    assert "must specify limits.cpu" in refused["msg"] and "to finish" not in refused["msg"], refused["msg"]
    assert not leftovers(filled)
    resources = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
    admitted = run_module("volume_snapshot", dict(args, data_mover=mover(prefix, resources=resources)))
    assert not admitted.get("failed"), admitted.get("msg")
    assert admitted["snapshot"]["data_copy"]["files"] >= 500
    assert not leftovers(filled)


def test_an_interrupted_copy_is_finished_by_a_rerun(filled):
    prefix = unique("mover-kill")
    args = {"name": "killed", "namespace": filled, "pvc": "data", "volume_data": "copy", "data_mover": mover(prefix)}
    proc = start_module("volume_snapshot", args)
    job = wait_for(lambda: [j for j in kubectl("get", "jobs", "-n", filled, "-o", "name").split()
                            if j.startswith("job.batch/lb-copy-")], timeout=120, what="the copy Job")[0]
    kill_tree(proc)  # the module dies mid-copy
    kubectl("delete", "-n", filled, job, "--cascade=foreground", "--wait=true")  # and its Job is killed
    assert "volumes/copies/%s/killed.json" % filled not in keys(prefix)
    finished = run_module("volume_snapshot", args)
    assert not finished.get("failed"), finished.get("msg")
    assert finished["changed"] is True and finished["snapshot"]["data_copy"]["files"] == 501
    assert not leftovers(filled)
    assert run_module("volume_snapshot", args)["changed"] is False


def test_no_credential_shows_at_vvv(filled):
    prefix = unique("mover-vvv")
    args = {"name": "vvv", "namespace": filled, "pvc": "data", "volume_data": "copy", "data_mover": mover(prefix)}
    res = subprocess.run(module_command("volume_snapshot", args, verbosity=3), capture_output=True, text=True,
                         timeout=600, env=ansible_env(VVV_WITH_INVOCATION), check=False)
    assert res.returncode == 0, res.stdout[-2000:]
    assert "module_args" in res.stdout
    for secret in (PASSWORD, os.environ["AWS_SECRET_ACCESS_KEY"]):
        assert secret not in res.stdout and secret not in res.stderr
    assert not leftovers(filled)


def test_drill_with_copies_restores_a_few_hundred_mb_of_many_files_from_the_bucket(tmp_path):
    """The drill as `make demo` runs it: the snapshot deleted once copied, so the restore must use the copy,
    and the job method compares every file's SHA-256 in pods."""
    namespace = unique("mover-drill")
    create_namespace_with(namespace, app())
    try:
        in_app(namespace, FILL % {"dirs": 20, "files": 100, "size": 100000})  # 2,001 files (and a symlink), 200 MB
        (tmp_path / "runner").mkdir()
        result = ansible_runner.run(
            private_data_dir=str(tmp_path / "runner"),
            playbook=os.path.join(os.environ["ANSIBLE_COLLECTIONS_PATH"], "ansible_collections", "lifeboat", "k8s",
                                  "playbooks", "drill.yml"),
            extravars={"lifeboat_namespace": namespace, "storage": s3(unique("mover-drill"))["storage"],
                       "s3_endpoint_url": os.environ["LIFEBOAT_S3_ENDPOINT"], "verify_method": "job",
                       "report_dir": str(tmp_path / "reports"), "volume_data": "copy", "keep_snapshots": False,
                       "data_mover": {"pod_endpoint_url": os.environ["LIFEBOAT_S3_POD_ENDPOINT"],
                                      "repository_password": PASSWORD,
                                      "image": os.environ["LIFEBOAT_DATA_MOVER_IMAGE"]}},
            envvars={"ANSIBLE_COLLECTIONS_PATH": os.environ["ANSIBLE_COLLECTIONS_PATH"]}, quiet=True)
        assert result.status == "successful", result.stdout.read()[-3000:]
        report = json.load(open(next(p for p in (tmp_path / "reports").rglob("report.json"))))
        checks = dict((c["name"], c) for c in report["checks"])
        assert checks["volume data equal (job)"]["status"] == "passed"
        assert checks["volume data equal (job)"]["detail"] == "2001 files, identical SHA-256"
        assert [c for c in report["checks"] if c["status"] != "passed"] == []
    finally:
        delete_namespaces(namespace, namespace + "-drill")


def two_volume_app():
    """app(), its pod mounting a second claim at /more."""
    objects = app()
    objects.insert(1, dict(objects[0], metadata={"name": "more"}))
    pod = objects[2]["spec"]["template"]["spec"]
    pod["containers"][0]["volumeMounts"].append({"name": "more", "mountPath": "/more"})
    pod["volumes"].append({"name": "more", "persistentVolumeClaim": {"claimName": "more"}})
    return objects


@contextlib.contextmanager
def every_cpu_busy():
    """A spinning process per CPU beside the bed, as a busy machine (another control plane starting, a CI
    neighbour) leaves it."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _cpu in range(os.cpu_count() or 2)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def test_two_volumes_come_back_from_their_copies_while_every_cpu_is_busy():
    """Issue 34: on a loaded bed, a restore of two volumes from their copies failed for both. Both volumes, restored
    at once while every CPU spins, must hold every file again (SHA-256 of each, read in the pod)."""
    namespace, prefix = unique("mover-busy"), unique("mover-busy")
    sums = SUMS + " && cd /more && find . -type f -exec sha256sum {} + | sort"
    create_namespace_with(namespace, two_volume_app())
    try:
        in_app(namespace, FILL % {"dirs": 10, "files": 50, "size": 20000} +
               "for f in $(seq 1 200); do head -c 5000 /dev/urandom > /more/m$f; done\n")
        before = in_app(namespace, sums)
        taken = run_module("volume_snapshot", {"name": "busy", "namespace": namespace, "pvc_selector": "",
                                               "volume_data": "copy", "keep_snapshots": False,
                                               "data_mover": mover(prefix)})
        assert not taken.get("failed") and len(taken["snapshots"]) == 2, taken.get("msg")
        backed = run_module("object_backup", dict(s3(prefix), name="busy", namespaces=[namespace],
                                                  volume_snapshots=taken["snapshots"]))
        assert not backed.get("failed"), backed.get("msg")
        kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=180s")
        with every_cpu_busy():
            restored = run_module("object_restore", dict(s3(prefix), name="busy", data_mover=mover(prefix)))
        assert not restored.get("failed"), json.dumps(restored)[-6000:]
        outcomes = sorted((v["pvc"], v["outcome"]) for v in restored["volumes"])
        assert outcomes == [("data", "created"), ("more", "created")]
        assert in_app(namespace, sums) == before
        assert not leftovers(namespace)
    finally:
        delete_namespaces(namespace)


def test_documented_roles_copy_out_and_restore_from_the_copy(filled):
    """namespace-backup.yaml + namespace-data-mover.yaml copy; namespace-restore.yaml + the same restore."""
    prefix, target = unique("mover-rbac"), unique("mover-rbac-copy")
    kubectl("create", "namespace", target)
    roles = [("namespace-backup.yaml", filled, {}), ("namespace-restore.yaml", target, {}),
             ("namespace-data-mover.yaml", filled, {"SERVICE_ACCOUNT": "lifeboat-backup"}),
             ("namespace-data-mover.yaml", target, {"SERVICE_ACCOUNT": "lifeboat-restore"})]
    try:
        for filename, namespace, more in roles:
            apply_documented_role(filename, namespace, **more)
        taken = run_module("volume_snapshot", {"name": "rbac", "namespace": filled, "pvc": "data",
                                               "volume_data": "copy", "keep_snapshots": False,
                                               "data_mover": mover(prefix),
                                               "kubeconfig": token_kubeconfig("lifeboat-backup", filled)})
        assert not taken.get("failed"), taken.get("msg")
        backed = run_module("object_backup", dict(s3(prefix), name="rbac", namespaces=[filled],
                                                  volume_snapshots=[taken["snapshot"]],
                                                  kubeconfig=token_kubeconfig("lifeboat-backup", filled)))
        assert not backed.get("failed"), backed.get("msg")
        restored = run_module("object_restore", dict(
            s3(prefix), name="rbac", namespace_mapping={filled: target}, restore_volume_data="copy",
            data_mover=mover(prefix), kubeconfig=token_kubeconfig("lifeboat-restore", target)))
        assert not restored.get("failed"), restored.get("msg")
        assert restored["volumes"][0]["copied_files"] == taken["snapshot"]["data_copy"]["files"] == 501
        assert not leftovers(filled) and not leftovers(target)
    finally:
        for filename, namespace, more in roles:
            delete_documented_role(filename, namespace, **more)
        delete_namespaces(target)
