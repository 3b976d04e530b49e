"""playbooks/drill.yml through ansible-runner, the engine AWX uses, against the test bed.

AWX reads a job's set_stats data from the playbook_on_stats event in the artifacts directory;
this asserts the drill's report is there. Needs the test bed's environment and
ANSIBLE_COLLECTIONS_PATH pointing at the built collection (`make system` sets both).
"""

import glob
import json
import os
import subprocess
import uuid

import ansible_runner
import pytest

pytestmark = pytest.mark.skipif("KUBECONFIG" not in os.environ or "ANSIBLE_COLLECTIONS_PATH" not in os.environ,
                                reason="needs the test bed and the built collection: make system")

COLLECTION = os.path.join(os.environ.get("ANSIBLE_COLLECTIONS_PATH", ""), "ansible_collections", "lifeboat", "k8s")


def kubectl(*args):
    res = subprocess.run(["kubectl"] + list(args), capture_output=True, text=True, timeout=180, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_drill_through_ansible_runner_publishes_its_report(tmp_path):
    namespace = "lb-runner-" + uuid.uuid4().hex[:6]
    (tmp_path / "runner").mkdir()
    kubectl("create", "namespace", namespace)
    try:
        kubectl("apply", "-n", namespace, "-f", os.path.join(COLLECTION, "tests", "demo", "demo-app.yaml"))
        kubectl("wait", "-n", namespace, "pvc/shop-data", "--for=jsonpath={.status.phase}=Bound", "--timeout=60s")
        # The shop is ready once it has a page to serve: write it through a pod, as the demo does.
        kubectl("wait", "-n", namespace, "pod", "-l", "app=shop", "--for=jsonpath={.status.phase}=Running",
                "--timeout=60s")
        kubectl("exec", "-n", namespace, "deploy/shop", "--", "sh", "-c", "echo '<h1>runner</h1>' > /www/index.html")
        kubectl("wait", "-n", namespace, "deploy/shop", "--for=condition=Available", "--timeout=60s")
        result = ansible_runner.run(
            private_data_dir=str(tmp_path / "runner"),
            playbook=os.path.join(COLLECTION, "playbooks", "drill.yml"),
            extravars={"lifeboat_namespace": namespace, "storage": "file://%s" % (tmp_path / "store"),
                       "verify_method": "job",
                       "report_dir": str(tmp_path / "reports")},
            envvars={"ANSIBLE_COLLECTIONS_PATH": os.environ["ANSIBLE_COLLECTIONS_PATH"]},
            quiet=True,
        )
        assert result.status == "successful", result.stdout.read()[-3000:]
        assert result.rc == 0

        # What AWX stores as the job's artifacts: the stats event's artifact_data, on disk.
        events = [json.load(open(path)) for path in glob.glob(str(tmp_path / "runner" / "artifacts" / "*" /
                                                                  "job_events" / "*.json"))]
        stats = [e for e in events if e.get("event") == "playbook_on_stats"]
        assert len(stats) == 1
        drill = stats[0]["event_data"]["artifact_data"]["lifeboat_drill"]["localhost"]
        assert drill["passed"] is True
        assert drill["namespace"] == namespace
        assert [p["name"] for p in drill["phases"]] == ["backup", "restore", "verify", "cleanup"]
        assert {c["name"]: c["status"] for c in drill["checks"]}["volume data equal (job)"] == "passed"
        assert [c for c in drill["checks"] if c["status"] != "passed"] == []
        assert os.path.isfile(os.path.join(drill["report_dir"], "report.html"))
        assert kubectl("get", "namespace", namespace + "-drill", "--ignore-not-found", "-o", "name") == ""
    finally:
        kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true", "--timeout=120s")
