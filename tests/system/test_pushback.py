"""When the target cluster pushes back: an admission webhook that is down (failurePolicy Fail) in front of 200
Secrets, one that comes back within the retry window, Pod Security warnings, a CA the runtime refuses.

The webhook is real: the bed's apiserver calls it over HTTPS at 127.0.0.1, where nothing listens (down) or where
this test starts a server (back). The oracle is kubectl and the clock.
"""

import glob
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import NEEDS_BED, ansible_env, delete_namespaces, kubectl, kubectl_json, run_module, unique

pytestmark = NEEDS_BED

SECRETS = 200
RETRY_WINDOW = 60.0  # the client's (common/retry.py)
PRIVILEGED = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "agent", "labels": {"app": "agent"}},
    "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "agent"}},
             "template": {"metadata": {"labels": {"app": "agent"}},
                          "spec": {"containers": [{"name": "agent", "image": "registry.k8s.io/pause:3.10",
                                                   "securityContext": {"privileged": True}}]}}}}


@pytest.fixture(scope="module")
def backup(tmp_path_factory):
    """A namespace of 200 Secrets, a ConfigMap and a privileged Deployment, backed up to a file store."""
    namespace = unique("pushback")
    kubectl("create", "namespace", namespace)
    items = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s-%03d" % i},
              "stringData": {"value": str(i)}} for i in range(SECRETS)]
    items += [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "b"}},
              PRIVILEGED]
    kubectl("apply", "-n", namespace, "--server-side", "-f", "-",
            stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    storage = "file://%s" % tmp_path_factory.mktemp("pushback-store")
    result = run_module("object_backup", {"name": "pushback", "namespaces": [namespace], "storage": storage})
    assert result.get("backup", {}).get("phase") == "Completed", result
    yield {"namespace": namespace, "storage": storage}
    delete_namespaces(namespace)


def certificate(directory):
    """A self-signed serving certificate for 127.0.0.1 (the webhook's), and its key."""
    crt, key = str(directory / "webhook.crt"), str(directory / "webhook.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", crt, "-days", "1"],
                   check=True, capture_output=True)
    return crt, key


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def webhook(tmp_path):
    """A validating webhook on Secrets created in the namespaces it is given, failurePolicy Fail, served at a port
    where nothing listens until `come_back()` starts a server that allows everything."""
    crt, key = certificate(tmp_path)
    port = free_port()
    name = unique("lifeboat-deny")
    state = {}

    def guard(namespace):
        kubectl("apply", "-f", "-", stdin=json.dumps({
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": name},
            "webhooks": [{"name": "secrets.pushback.lifeboat.test", "failurePolicy": "Fail", "sideEffects": "None",
                          "admissionReviewVersions": ["v1"], "timeoutSeconds": 5,
                          "clientConfig": {"url": "https://127.0.0.1:%d/validate" % port,
                                           "caBundle": _base64(open(crt, "rb").read())},
                          "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                          "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                     "resources": ["secrets"]}]}]}))

    def come_back():
        server = ThreadingHTTPServer(("127.0.0.1", port), AllowEverything)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(crt, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        state["server"] = server

    yield guard, come_back
    kubectl("delete", "validatingwebhookconfiguration", name, "--ignore-not-found")
    if "server" in state:
        state["server"].shutdown()
        state["server"].server_close()


class AllowEverything(BaseHTTPRequestHandler):
    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "response": {"uid": review["request"]["uid"], "allowed": True}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _base64(data):
    import base64
    return base64.b64encode(data).decode()


def restore(backup, target, **extra):
    args = dict({"name": "pushback", "storage": backup["storage"], "namespace_mapping": {backup["namespace"]: target},
                 "ignore_partial_failure": True, "wait": False}, **extra)
    started = time.monotonic()
    result = run_module("object_restore", args)
    return result, time.monotonic() - started


def test_a_dead_webhook_costs_one_retry_window_and_names_itself_for_every_secret(backup, webhook):
    guard, _come_back = webhook
    target = unique("pushback-dead")
    guard(target)
    try:
        result, seconds = restore(backup, target)
        assert result.get("phase") == "PartiallyFailed", result
        failed = [f for f in result["failures"] if f["resource"] == "secrets"]
        assert len(failed) == SECRETS, result["failures"][:3]
        assert all('failed calling webhook "secrets.pushback.lifeboat.test"' in f["message"] for f in failed)
        # Without the shared window, 200 Secrets over 32 workers took a window per wave (175 s for 40).
        assert seconds <= 1.5 * RETRY_WINDOW, seconds
        assert kubectl_json("get", "secrets", "-n", target)["items"] == []
        assert kubectl_json("get", "configmap", "settings", "-n", target)["data"] == {"a": "b"}
    finally:
        delete_namespaces(target)


def test_a_webhook_that_comes_back_within_the_window_lets_every_secret_through(backup, webhook):
    guard, come_back = webhook
    target = unique("pushback-back")
    guard(target)
    timer = threading.Timer(15, come_back)
    timer.start()
    try:
        result, seconds = restore(backup, target)
        assert result.get("phase") == "Completed", result.get("failures", result)[:3]
        assert result["counts"]["secrets"]["created"] == SECRETS and result["api_retries"] > 0
        assert len(kubectl_json("get", "secrets", "-n", target)["items"]) == SECRETS
        assert seconds < RETRY_WINDOW
    finally:
        timer.cancel()
        delete_namespaces(target)


def test_pod_security_warnings_are_in_the_result_and_shown(backup):
    target = unique("pushback-restricted")
    kubectl("create", "namespace", target)
    kubectl("label", "namespace", target, "pod-security.kubernetes.io/enforce=restricted")
    try:
        result, _seconds = restore(backup, target, existing="keep")
        assert result.get("phase") == "Completed", result
        [warning] = [w for w in result["api_warnings"] if 'would violate PodSecurity "restricted' in w["message"]]
        assert "privileged" in warning["message"] and warning["objects"] == ["deployments.apps agent in %s" % target]
        assert 'would violate PodSecurity \\"restricted' in json.dumps(result["warnings"])
    finally:
        delete_namespaces(target)


def test_a_ca_the_runtime_refuses_fails_at_once_naming_the_option(backup, tmp_path):
    other_ca, _key = certificate(tmp_path)
    started = time.monotonic()
    result = run_module("namespace_info", {"namespace": backup["namespace"], "ca_cert": other_ca})
    seconds = time.monotonic() - started
    assert result.get("failed"), result
    assert result["msg"].startswith("ca_cert or kubeconfig: Python 3.") and "not retried" in result["msg"], result
    assert "certificate verify failed" in result["msg"] or "unable to get local issuer" in result["msg"], result
    assert seconds < 5, seconds


def test_a_drill_reports_the_warnings_of_a_restore_into_a_namespace_that_warns(tmp_path):
    """The drill's scratch namespace carries the original's Pod Security labels: restoring the privileged Deployment
    into it draws the warning, and the report lists it (a warning is not a failed check)."""
    namespace = unique("pushback-drill")
    kubectl("create", "namespace", namespace)
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/warn=restricted")
    kubectl("apply", "-n", namespace, "--server-side", "-f", "-", stdin=json.dumps(PRIVILEGED))
    try:
        res = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "lifeboat.k8s.drill",
                              "-e", "lifeboat_namespace=%s" % namespace, "-e", "storage=file://%s" % (tmp_path / "store"),
                              "-e", "report_dir=%s" % (tmp_path / "reports"), "-e", "verify_method=none",
                              "-e", "ansible_python_interpreter=%s" % sys.executable],
                             capture_output=True, text=True, timeout=600, env=ansible_env(), check=False)
        [report_file] = glob.glob(str(tmp_path / "reports" / "*" / "report.json"))
        with open(report_file) as f:
            report = json.load(f)
        assert res.returncode == 0 and report["passed"] is True, (res.stdout[-3000:], report)
        [warning] = [w for w in report["api_warnings"] if 'would violate PodSecurity "restricted' in w["message"]]
        assert warning["objects"] == ["deployments.apps agent in %s-drill" % namespace], warning
        with open(report_file.replace(".json", ".md")) as f:
            assert 'would violate PodSecurity "restricted' in f.read()
    finally:
        delete_namespaces(namespace)
