"""Many clusters in one run, as AWX runs them: an inventory with one host per cluster (docs/awx/project/clusters.yml's
shape), the playbooks through ansible-runner with forks 2, against the bed's two clusters. And the drill across
clusters: backup on the primary, restore, verification and cleanup in the DR cluster.

Oracles: kubectl against each cluster, and the job events ansible-runner writes (AWX's artifacts).
"""

import glob
import json
import os
import subprocess

import ansible_runner
import pytest

from helpers import NEEDS_BED, kubectl, unique, wait_for

pytestmark = [NEEDS_BED, pytest.mark.skipif("LIFEBOAT_DR_KUBECONFIG" not in os.environ,
                                            reason="needs the bed's second cluster (testbed up starts it)")]
TESTBED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "testbed", "testbed")
COLLECTION = os.path.join(os.environ.get("ANSIBLE_COLLECTIONS_PATH", ""), "ansible_collections", "lifeboat", "k8s")
IMAGE = "docker.io/library/busybox:1.36"


def dr_kubectl(*args, stdin=None, check=True):
    res = subprocess.run(["kubectl", "--kubeconfig", os.environ["LIFEBOAT_DR_KUBECONFIG"]] + list(args),
                         capture_output=True, text=True, timeout=300, check=False, input=stdin)
    if check:
        assert res.returncode == 0, res.stderr
    return res.stdout


def small_app(mode):
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"site": mode}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                      "terminationGracePeriodSeconds": 1,
                      "containers": [{"name": "web", "image": IMAGE, "imagePullPolicy": "Never",
                                      "command": ["sleep", "3600"]}]}}}}]})


def storage(prefix):
    return "s3://%s/%s" % (os.environ["LIFEBOAT_S3_BUCKET"], prefix)


def run_playbook(tmp_path, name, inventory, extravars, forks=2, run_name=None):
    private = tmp_path / ("runner-" + (run_name or name))
    private.mkdir()
    result = ansible_runner.run(
        private_data_dir=str(private), playbook=os.path.join(COLLECTION, "playbooks", name + ".yml"),
        inventory=inventory, extravars=extravars, forks=forks, quiet=True,
        envvars={"ANSIBLE_COLLECTIONS_PATH": os.environ["ANSIBLE_COLLECTIONS_PATH"]})
    events = [json.load(open(path)) for path in glob.glob(str(private / "artifacts" / "*" / "job_events" / "*.json"))]
    return result, events


def stats(events, key):
    found = [e for e in events if e.get("event") == "playbook_on_stats"]
    assert len(found) == 1
    return found[0]["event_data"]["artifact_data"][key]


def task_spans(events, action):
    """{host: (start, end)} of the task running a module, from the runner's events (AWX's job events)."""
    spans = {}
    for event in events:
        data = event.get("event_data") or {}
        if data.get("task_action") == action and event.get("event") in ("runner_on_ok", "runner_on_failed"):
            spans[data["host"]] = (data["start"], data["end"])
    return spans


def test_both_clusters_backed_up_in_one_run_and_restored_across_sites(tmp_path):
    primary_ns, dr_ns, prefix = unique("site-a"), unique("site-b"), unique("many")
    kubectl("create", "namespace", primary_ns)
    kubectl("apply", "-n", primary_ns, "-f", "-", stdin=small_app("primary"))
    dr_kubectl("create", "namespace", dr_ns)
    dr_kubectl("apply", "-n", dr_ns, "-f", "-", stdin=small_app("dr"))
    common = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
              "storage": storage(prefix), "s3_endpoint_url": os.environ["LIFEBOAT_S3_ENDPOINT"]}
    try:
        inventory = {"clusters": {"vars": common, "hosts": {
            "primary": {"kubeconfig": os.environ["KUBECONFIG"], "lifeboat_namespace": primary_ns},
            "dr": {"kubeconfig": os.environ["LIFEBOAT_DR_KUBECONFIG"], "lifeboat_namespace": dr_ns}}}}
        result, events = run_playbook(tmp_path, "backup", inventory, {"lifeboat_clusters": "clusters"})
        assert result.status == "successful", result.stdout.read()[-3000:]
        backups = stats(events, "lifeboat_backup")
        assert sorted(backups) == ["dr", "primary"]
        assert all(b["seconds"] > 0 for b in backups.values()), backups
        spans = task_spans(events, "lifeboat.k8s.object_backup")
        (a0, a1), (b0, b1) = spans["primary"], spans["dr"]
        assert a0 < b1 and b0 < a1, "forks 2: the two clusters' backups run at the same time: %s" % spans

        # Across the sites in one play: each cluster takes the other's namespace.
        inventory["clusters"]["hosts"] = {
            "primary": {"kubeconfig": os.environ["KUBECONFIG"], "lifeboat_namespace": dr_ns},
            "dr": {"kubeconfig": os.environ["LIFEBOAT_DR_KUBECONFIG"], "lifeboat_namespace": primary_ns,
                   "storage_class_mapping": "csi-hostpath=standard"}}
        result, events = run_playbook(tmp_path, "restore", inventory, {"lifeboat_clusters": "clusters"})
        assert result.status == "successful", result.stdout.read()[-3000:]
        restores = stats(events, "lifeboat_restore")
        assert sorted(restores) == ["dr", "primary"] and all(r["seconds"] > 0 for r in restores.values())
        assert json.loads(kubectl("get", "configmap", "-n", dr_ns, "settings", "-o", "json"))["data"] == {"site": "dr"}
        assert json.loads(dr_kubectl("get", "configmap", "-n", primary_ns, "settings", "-o", "json"))["data"] == {
            "site": "primary"}
        wait_for(lambda: dr_kubectl("get", "deploy", "-n", primary_ns, "web", "-o",
                                    "jsonpath={.status.availableReplicas}") == "1", timeout=120, interval=1,
                 what="the primary's app running in dr")
    finally:
        kubectl("delete", "namespace", primary_ns, dr_ns, "--ignore-not-found", "--wait=false")
        dr_kubectl("delete", "namespace", primary_ns, dr_ns, "--ignore-not-found", "--wait=false", check=False)


def test_a_drill_into_the_dr_cluster_passes_and_fails_naming_a_missing_class(tmp_path):
    namespace, prefix = unique("drill-dr"), unique("drill-dr-store")
    kubectl("create", "namespace", namespace)
    kubectl("apply", "-n", namespace, "-f", os.path.join(COLLECTION, "tests", "demo", "demo-app.yaml"))
    try:
        kubectl("wait", "-n", namespace, "pvc/shop-data", "--for=jsonpath={.status.phase}=Bound", "--timeout=60s")
        kubectl("wait", "-n", namespace, "pod", "-l", "app=shop", "--for=jsonpath={.status.phase}=Running",
                "--timeout=90s")
        kubectl("exec", "-n", namespace, "deploy/shop", "--", "sh", "-c", "echo '<h1>dr</h1>' > /www/index.html")
        kubectl("wait", "-n", namespace, "deploy/shop", "--for=condition=Available", "--timeout=60s")
        inventory = {"all": {"hosts": {"primary": {"ansible_connection": "local",
                                                   "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                                                   "kubeconfig": os.environ["KUBECONFIG"]}}}}
        mover = {"repository_password": "drill dr password", "image": os.environ["LIFEBOAT_DATA_MOVER_IMAGE"],
                 "pod_endpoint_url": os.environ["LIFEBOAT_S3_POD_ENDPOINT"]}
        extravars = {"lifeboat_clusters": "primary", "lifeboat_namespace": namespace, "storage": storage(prefix),
                     "s3_endpoint_url": os.environ["LIFEBOAT_S3_ENDPOINT"], "verify_method": "job",
                     "target_kubeconfig": os.environ["LIFEBOAT_DR_KUBECONFIG"], "target_namespace": namespace,
                     "storage_class_mapping": {"csi-hostpath": "standard"}, "volume_data": "copy", "keep_backup": True,
                     "data_mover": mover, "report_dir": str(tmp_path / "reports")}
        # The restore's Jobs run in the DR cluster and reach S3 through its node's relay.
        extravars["restore_data_mover"] = dict(mover, pod_endpoint_url=os.environ["LIFEBOAT_DR_S3_POD_ENDPOINT"])
        result, events = run_playbook(tmp_path, "drill", inventory, extravars, forks=1)
        assert result.status == "successful", result.stdout.read()[-4000:]
        drill = stats(events, "lifeboat_drill")["primary"]
        assert drill["passed"] is True and drill["target_cluster"] == "another cluster"
        checks = dict((c["name"], c) for c in drill["checks"])
        assert [c for c in drill["checks"] if c["status"] != "passed"] == [], drill["checks"]
        assert "csi-hostpath -> standard" in checks["object contents equal"]["detail"]
        assert checks["volume data equal (job)"]["status"] == "passed"
        assert dr_kubectl("get", "namespace", namespace, "--ignore-not-found", "-o", "name") == "", "cleaned up in dr"
        assert kubectl("get", "namespace", namespace, "-o", "name").strip() == "namespace/" + namespace

        # The source site lost: the same backup drilled into dr, the copy compared with the backup's archive.
        subprocess.run([TESTBED, "stop-cluster", "primary"], capture_output=True, timeout=300, check=True)
        try:
            lost = dict(extravars, backup_name=drill["backup"], compare_with="backup", keep_backup=False,
                        report_dir=str(tmp_path / "lost"))
            result, events = run_playbook(tmp_path, "drill", inventory, lost, forks=1, run_name="drill-lost")
        finally:
            subprocess.run([TESTBED, "start-cluster", "primary"], capture_output=True, timeout=300, check=True)
        assert result.status == "successful", result.stdout.read()[-4000:]
        checks = dict((c["name"], c) for c in stats(events, "lifeboat_drill")["primary"]["checks"])
        assert checks["object contents equal"]["status"] == "passed", checks
        assert checks["volume data equal (job)"]["status"] == "skipped"
        assert "dr_drill_compare_with: backup" in checks["volume data equal (job)"]["detail"]
        assert [c for c in checks.values() if c["status"] == "failed"] == []

        failing = dict(extravars, storage_class_mapping={"csi-hostpath": "gold"}, report_dir=str(tmp_path / "failed"))
        result, events = run_playbook(tmp_path, "drill", inventory, failing, forks=1, run_name="drill-failing")
        assert result.status == "failed"
        drill = stats(events, "lifeboat_drill")["primary"]
        assert drill["passed"] is False
        failed = [c for c in drill["checks"] if c["status"] == "failed"]
        assert failed and "StorageClass gold does not exist in the target cluster" in failed[0]["detail"], failed
    finally:
        kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false")
        dr_kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false", check=False)
