"""The Kubernetes client: authentication from every kind of kubeconfig, and the retry policy.

A small local HTTP server stands in for the apiserver: it records what each request
carried and answers from a script, so the client's own logic is what is tested.
"""

import json
import socket
import ssl
import stat
import subprocess
import threading
import time
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ApiError,
    ConflictError,
    InvalidInputError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import K8sClient, RetryPolicy


class FakeApiserver:
    """Answers each request from `script` (a list of (status, headers, body) or 'reset'), then 200."""

    def __init__(self):
        self.requests = []
        self.script = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.requests.append({"method": self.command, "path": self.path, "headers": self.headers,
                                      "body": body})
                step = fake.script.pop(0) if fake.script else (200, {}, {"kind": "Status", "ok": True})
                if step == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.connection.close()
                    return
                status, headers, payload = step
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api():
    server = FakeApiserver()
    yield server
    server.close()


def fast_policy(window=5.0):
    return RetryPolicy(window=window, base=0.01, cap=0.05, rand=lambda: 1.0)


def kubeconfig(server, user):
    return {"apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "k", "cluster": {"server": server}}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}]}


def authorization(api):
    return api.requests[-1]["headers"].get("Authorization")


# ---------------------------------------------------------------- authentication

def test_kubeconfig_token_is_sent(api):
    # kubernetes 36 keeps loaded tokens under api_key['BearerToken']: this once went out anonymous.
    K8sClient({"kubeconfig": kubeconfig(api.url, {"token": "tok-123"})}).get("/version")
    assert authorization(api) == "Bearer tok-123"


def test_kubeconfig_token_file_is_sent(api, tmp_path):
    token = tmp_path / "token"
    token.write_text("from-file\n")
    K8sClient({"kubeconfig": kubeconfig(api.url, {"tokenFile": str(token)})}).get("/version")
    assert authorization(api) == "Bearer from-file"


def test_exec_plugin_token_is_sent(api, tmp_path):
    plugin = tmp_path / "credential"
    plugin.write_text("#!/bin/sh\necho '{\"apiVersion\": \"client.authentication.k8s.io/v1\", "
                      "\"kind\": \"ExecCredential\", \"status\": {\"token\": \"exec-tok\"}}'\n")
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin),
                     "interactiveMode": "Never"}}
    K8sClient({"kubeconfig": kubeconfig(api.url, user)}).get("/version")
    assert authorization(api) == "Bearer exec-tok"


def test_kubeconfig_file_token_is_sent(api, tmp_path):
    path = tmp_path / "config"
    path.write_text(json.dumps(kubeconfig(api.url, {"token": "file-tok"})))
    K8sClient({"kubeconfig": str(path)}).get("/version")
    assert authorization(api) == "Bearer file-tok"


def test_api_key_option_wins_over_kubeconfig_token(api):
    K8sClient({"kubeconfig": kubeconfig(api.url, {"token": "kc"}), "api_key": "explicit"}).get("/version")
    assert authorization(api) == "Bearer explicit"


def test_impersonation_sends_one_header_per_group(api):
    K8sClient({"host": api.url, "api_key": "t", "impersonate_user": "jane",
               "impersonate_groups": ["dev", "ops"]}).get("/version")
    headers = api.requests[-1]["headers"]
    assert headers.get_all("Impersonate-Group") == ["dev", "ops"]
    assert headers.get("Impersonate-User") == "jane"


def test_kubeconfig_directory_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInputError, match="^kubeconfig: .* is not a file"):
        K8sClient({"kubeconfig": str(tmp_path)})


def test_kubeconfig_proxy_url_is_used(api):
    config = kubeconfig("http://apiserver.invalid:6443", {"token": "t"})
    config["clusters"][0]["cluster"]["proxy-url"] = api.url
    K8sClient({"kubeconfig": config}).get("/version")
    assert api.requests[-1]["path"] == "http://apiserver.invalid:6443/version"  # absolute URI: a proxy request


def test_no_proxy_bypasses_the_proxy(api):
    K8sClient({"host": api.url, "api_key": "t", "proxy": "http://127.0.0.1:9", "no_proxy": "127.0.0.1"}).get("/v")
    assert api.requests[-1]["path"] == "/v"


# ---------------------------------------------------------------- retries

def client(api, window=5.0):
    return K8sClient({"host": api.url, "api_key": "t"}, retry=fast_policy(window))


def test_429_honours_retry_after(api):
    policy = RetryPolicy(rand=lambda: 0.0)
    assert policy.delay(0, retry_after=3) == 3
    assert policy.delay(5, retry_after=600) == policy.max_retry_after
    api.script = [(429, {"Retry-After": "0"}, {"reason": "TooManyRequests"})] * 3
    k8s = client(api)
    assert k8s.get("/api/v1/namespaces") == {"kind": "Status", "ok": True}
    assert k8s.retries == 3


def test_5xx_and_resets_are_retried(api):
    api.script = [(503, {}, {"message": "unavailable"}), "reset", (502, {}, {})]
    k8s = client(api)
    assert k8s.get("/apis/apps/v1")["ok"]
    assert k8s.retries == 3


def test_403_is_not_retried_and_names_the_request(api):
    api.script = [(403, {}, {"message": 'secrets is forbidden: User "x" cannot list resource "secrets"'})]
    k8s = client(api)
    with pytest.raises(ApiError, match='GET /api/v1/secrets: 403 secrets is forbidden') as caught:
        k8s.get("/api/v1/secrets")
    assert caught.value.status == 403 and k8s.retries == 0


def test_401_says_what_to_check(api):
    api.script = [(401, {}, {"message": "Unauthorized"})]
    with pytest.raises(ApiError, match="did not accept the credentials"):
        client(api).get("/version")


def test_retries_stop_at_the_window(api):
    api.script = [(503, {}, {"message": "down"})] * 1000
    with pytest.raises(ApiError, match=r"503 down \(gave up after \d+ attempts"):
        client(api, window=0.3).get("/version")


def test_backoff_is_jittered_and_capped():
    policy = RetryPolicy(base=1, cap=8, rand=lambda: 1.0)
    assert [policy.delay(a) for a in range(6)] == [1, 2, 4, 8, 8, 8]
    assert RetryPolicy(rand=lambda: 0.0).delay(3) == 0
    ticks = iter([100.0])
    window = RetryPolicy(window=10, base=1, cap=8, rand=lambda: 1.0, clock=lambda: next(ticks))
    assert window.next_wait(started=95.0, attempt=3) is None  # 100 + 8 - 95 > 10


def test_create_repeated_after_a_lost_answer_reports_conflict_as_retried(api):
    api.script = ["reset", (409, {}, {"reason": "AlreadyExists", "message": "exists"})]
    with pytest.raises(ConflictError) as caught:
        client(api).create("/api/v1/namespaces/a/configmaps", {"metadata": {"name": "x"}})
    assert caught.value.retried
    assert [r["method"] for r in api.requests] == ["POST", "POST"]


def test_plain_conflict_is_not_marked_retried(api):
    api.script = [(409, {}, {"reason": "AlreadyExists", "message": "exists"})]
    with pytest.raises(ConflictError) as caught:
        client(api).create("/api/v1/namespaces/a/configmaps", {"metadata": {"name": "x"}})
    assert not caught.value.retried


def test_unreachable_apiserver_fails_within_the_window():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    k8s = K8sClient({"host": "http://127.0.0.1:%d" % port, "api_key": "t"}, retry=fast_policy(0.3))
    with pytest.raises(ApiError, match="cannot reach the Kubernetes API"):
        k8s.get("/version")
    assert k8s.retries >= 1


def test_an_unreachable_cluster_is_named_by_its_options_within_a_short_window(monkeypatch):
    from ansible_collections.lifeboat.k8s.plugins.module_utils.common import k8s as k8s_module
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(k8s_module, "REACHABLE_WINDOW", 0.3)
    # The client's own policy would retry for an hour: the check uses its own short window.
    k8s = K8sClient({"host": "http://127.0.0.1:%d" % port, "api_key": "t"}, retry=fast_policy(3600))
    with pytest.raises(InvalidInputError, match=r"^kubeconfig, context or host: the target cluster at "
                                                r"http://127\.0\.0\.1:\d+ cannot be reached: .*nothing was changed"):
        k8s.check_reachable("the target cluster")


def test_a_cluster_that_answers_is_reachable_and_an_http_error_is_not_taken_for_unreachable(api):
    assert client(api).check_reachable()["ok"] is True
    api.script = [(401, {}, {"message": "Unauthorized"})]
    with pytest.raises(ApiError):
        client(api).check_reachable()


# ---------------------------------------------------------------- one retry window per cause

WEBHOOK_DOWN = (500, {}, {"reason": "InternalError", "message": 'Internal error occurred: failed calling webhook '
                          '"deny.example.com": failed to call webhook: Post "https://127.0.0.1:1/": connection refused'})


class VirtualTime:
    """A clock the client's waits advance instead of sleeping: what a retry window covers is then decided by the
    waits alone, never by how loaded the machine running the test is."""

    def __init__(self):
        self.now = 0.0
        self.lock = threading.Lock()

    def clock(self):
        return self.now

    def sleep(self, seconds):
        with self.lock:
            self.now += seconds


def test_requests_failing_for_one_cause_share_one_window(api, monkeypatch):
    from ansible_collections.lifeboat.k8s.plugins.module_utils.common import k8s as k8s_module
    virtual = VirtualTime()
    monkeypatch.setattr(k8s_module, "time", types.SimpleNamespace(sleep=virtual.sleep))
    api.script = [WEBHOOK_DOWN] * 10000
    k8s = K8sClient({"host": api.url, "api_key": "t"}, retry=RetryPolicy(
        window=0.5, base=0.01, cap=0.05, rand=lambda: 1.0, clock=virtual.clock))
    errors = []

    def create(i):
        try:
            k8s.create("/api/v1/namespaces/a/secrets", {"metadata": {"name": "s%d" % i}})
        except ApiError as e:
            errors.append(e.message)
    for wave in range(4):  # four waves of eight workers: a window each, without the shared budget
        threads = [threading.Thread(target=create, args=(wave * 8 + i,)) for i in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    assert len(errors) == 32 and all('failed calling webhook "deny.example.com"' in e for e in errors)
    # The first wave spends the window (the second may start just inside its end); every request of the last two
    # waves fails at once, saying so. Without the shared budget, none would.
    assert sum("not retried: " in e for e in errors) >= 16, errors


def test_another_cause_has_a_window_of_its_own(api):
    other = (500, {}, {"reason": "InternalError", "message": 'failed calling webhook "other.example.com": down'})
    api.script = [WEBHOOK_DOWN] * 200
    k8s = client(api, window=0.3)
    with pytest.raises(ApiError, match="gave up"):
        k8s.get("/version")
    api.script = [other, other]
    assert k8s.get("/version")["ok"]  # retried although the first webhook's window is spent


def test_a_cause_that_heals_opens_a_new_window_next_time(api):
    k8s = client(api, window=0.3)
    api.script = [WEBHOOK_DOWN] * 3
    assert k8s.get("/version")["ok"]
    time.sleep(0.4)
    api.script = [WEBHOOK_DOWN] * 3
    assert k8s.get("/version")["ok"]  # the cause healed: a new episode, not a spent window
    assert k8s.retries == 6


def test_a_webhook_that_comes_back_within_the_window_lets_every_request_through(api):
    api.script = [WEBHOOK_DOWN] * 40
    k8s = client(api, window=5.0)
    results = []
    threads = [threading.Thread(target=lambda: results.append(k8s.get("/version"))) for _i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(results) == 8 and all(r["ok"] for r in results)


# ---------------------------------------------------------------- what cannot heal

@pytest.fixture
def tls_api(tmp_path):
    """The fake apiserver behind TLS, with a certificate of its own CA."""
    def cert(name):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name,
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(tmp_path / (name + ".key")),
                        "-out", str(tmp_path / (name + ".crt")), "-days", "1"], check=True, capture_output=True)
        return str(tmp_path / (name + ".crt")), str(tmp_path / (name + ".key"))
    server = FakeApiserver()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert("server"))
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    server.url = server.url.replace("http://", "https://")
    server.other_ca = cert("other")[0]
    yield server
    server.close()


def test_a_certificate_the_runtime_refuses_fails_at_once_naming_the_option(tls_api):
    k8s = K8sClient({"host": tls_api.url, "api_key": "t", "ca_cert": tls_api.other_ca}, retry=fast_policy(30))
    with pytest.raises(InvalidInputError, match=r"^ca_cert or kubeconfig: Python 3\.\d+ .*refused the API server's "
                                                r"certificate at https://127\.0\.0\.1:\d+: .*not retried\. Give ca_cert"):
        k8s.get("/version")
    assert k8s.retries == 0  # not one retry inside the 30 s window


# ---------------------------------------------------------------- warnings

def test_api_warnings_are_kept_once_with_a_count_and_their_objects(api):
    warn = {"Warning": '299 - "would violate PodSecurity \\"restricted:latest\\": privileged"'}
    api.script = [(201, warn, {"metadata": {"name": "web"}}), (201, warn, {"metadata": {"name": "db"}}),
                  (200, {"Warning": '299 - "batch/v1beta1 CronJob is deprecated"'}, {})]
    k8s = client(api)
    k8s.create("/apis/apps/v1/namespaces/shop/deployments", {"metadata": {"name": "web"}})
    k8s.create("/apis/apps/v1/namespaces/shop/deployments", {"metadata": {"name": "db"}})
    k8s.get("/apis/batch/v1beta1/namespaces/shop/cronjobs/nightly")
    assert k8s.warnings.summary() == [
        {"message": 'would violate PodSecurity "restricted:latest": privileged', "count": 2,
         "objects": ["deployments.apps web in shop", "deployments.apps db in shop"]},
        {"message": "batch/v1beta1 CronJob is deprecated", "count": 1, "objects": ["cronjobs.batch nightly in shop"]}]


def test_a_ca_refused_by_strict_verification_is_explained():
    from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import _tls_advice
    strict = _tls_advice("CA cert does not include key usage extension")
    assert "VERIFY_X509_STRICT" in strict and "keyUsage" in strict and "ca_cert" in strict
    assert "VERIFY_X509_STRICT" not in _tls_advice("unable to get local issuer certificate")
