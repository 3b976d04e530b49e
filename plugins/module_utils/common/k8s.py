# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes client factory and a JSON REST client with retries.

Configuration follows kubernetes.core: explicit host and credentials win, then
a kubeconfig (path or inline dict) and context, then the in-cluster service
account, then the default kubeconfig. The `kubernetes` library loads that
configuration (bearer tokens and token files, exec and auth-provider plugins
with their refresh, in-cluster files, tls-server-name) and its REST client
sends the requests (proxy, no_proxy, proxy headers, TLS). Bodies are plain
JSON, so any resource type works (CRDs included) without the generated model
classes that change between releases of the library.

Every request follows one retry policy (retry.py): 429 and 5xx answers and
connection errors are retried with jittered exponential backoff, honouring
Retry-After, within one window per cause that the run's threads share; what
cannot heal (4xx, a certificate the runtime refuses) is not retried. The
apiserver's Warning headers are kept (api_warnings.py). Every request the collection makes is
safe to repeat: GET/LIST/DELETE/merge PATCH are idempotent, and a create that
is repeated after an unanswered attempt gets 409, which callers treat as
"exists" (ConflictError.retried tells them the first attempt may have made it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import threading
import time
from urllib.parse import quote, urlencode

try:
    import urllib3
    from urllib3._collections import HTTPHeaderDict
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.exceptions import ApiException
    from kubernetes.client.rest import RESTClientObject
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import KubeConfigMerger

    K8S_IMPORT_ERROR = None
except ImportError as e:
    K8S_IMPORT_ERROR = e

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.api_warnings import ApiWarnings, warning_texts
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ApiError,
    ConflictError,
    InvalidInputError,
    MissingLibraryError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.retry import (
    RetryBudget,
    RetryPolicy,
    failure_cause,
    parse_retry_after,
)

K8S_LIBRARY = "kubernetes>=30"
AUTH_OPTIONS = (
    "kubeconfig", "context", "host", "api_key", "username", "password", "validate_certs",
    "ca_cert", "client_cert", "client_key", "proxy", "no_proxy", "proxy_headers", "impersonate_user",
    "impersonate_groups",
)
POOL_SIZE = 32  # concurrent requests per module run
TIMEOUT = (10, 60)  # connect, read (seconds) per attempt
RETRYABLE_STATUS = frozenset((429, 500, 502, 503, 504))
REACHABLE_WINDOW = 10.0  # seconds check_reachable retries a cluster that does not answer


def _configuration(auth):
    cfg = k8s_client.Configuration()
    kubeconfig = auth.get("kubeconfig")
    context = auth.get("context")
    host = auth.get("host")
    explicit = host and (auth.get("api_key") or auth.get("username") or auth.get("client_cert"))
    cluster = {}
    try:
        if explicit:
            pass
        elif isinstance(kubeconfig, dict):
            k8s_config.load_kube_config_from_dict(kubeconfig, context=context, client_configuration=cfg,
                                                  persist_config=False)
            cluster = _cluster_entry(kubeconfig, context)
        elif kubeconfig or context or _default_kubeconfig_exists():
            path = None
            if kubeconfig:
                if not isinstance(kubeconfig, str):
                    raise InvalidInputError("kubeconfig: expected a path or a dictionary, got %s"
                                            % type(kubeconfig).__name__)
                path = os.path.expanduser(kubeconfig)
                if not os.path.exists(path):
                    raise InvalidInputError("kubeconfig: file %s does not exist" % kubeconfig)
                if not os.path.isfile(path):
                    raise InvalidInputError("kubeconfig: %s is not a file" % kubeconfig)
            k8s_config.load_kube_config(config_file=path, context=context, client_configuration=cfg,
                                        persist_config=False)
            cluster = _cluster_entry(KubeConfigMerger(path or _default_kubeconfig_paths()).config, context)
        else:
            try:
                k8s_config.load_incluster_config(client_configuration=cfg)
            except ConfigException:
                raise InvalidInputError(
                    "kubeconfig: no Kubernetes configuration found: give kubeconfig (or host), set "
                    "K8S_AUTH_KUBECONFIG or KUBECONFIG, or create ~/.kube/config; this is not running in a pod either")
    except ConfigException as e:
        raise InvalidInputError("kubeconfig/context: cannot load the Kubernetes configuration: %s" % e)
    except (OSError, ValueError) as e:
        raise InvalidInputError("kubeconfig: cannot read the Kubernetes configuration: %s" % e)
    if host:
        cfg.host = host
    if auth.get("api_key"):
        cfg.api_key = {"BearerToken": "Bearer " + auth["api_key"]}
        cfg.refresh_api_key_hook = None
    if auth.get("username"):
        cfg.username = auth["username"]
        cfg.password = auth.get("password") or ""
    if auth.get("validate_certs") is not None:
        cfg.verify_ssl = auth["validate_certs"]
    for option, attr in (("ca_cert", "ssl_ca_cert"), ("client_cert", "cert_file"), ("client_key", "key_file"),
                         ("proxy", "proxy"), ("no_proxy", "no_proxy")):
        if auth.get(option):
            setattr(cfg, attr, auth[option])
    if not auth.get("proxy") and cluster.get("proxy-url"):
        cfg.proxy = cluster["proxy-url"]  # the library does not read it from kubeconfig
    if auth.get("proxy_headers"):
        cfg.proxy_headers = _proxy_headers(auth["proxy_headers"])
    if not cfg.host or not cfg.host.startswith(("https://", "http://")):
        raise InvalidInputError("host: %r is not an http(s) URL of a Kubernetes API server" % (cfg.host,))
    return cfg


def _default_kubeconfig_paths():
    return os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


def _default_kubeconfig_exists():
    return any(os.path.exists(p) for p in _default_kubeconfig_paths().split(os.pathsep) if p)


def _cluster_entry(config, context):
    """The kubeconfig's cluster entry for the context (for fields the library ignores)."""
    config = getattr(config, "value", config) or {}
    try:
        name = context or config.get("current-context")
        ctx = next(c["context"] for c in config.get("contexts") or [] if c.get("name") == name)
        return next(c["cluster"] for c in config.get("clusters") or [] if c.get("name") == ctx.get("cluster"))
    except (StopIteration, AttributeError, KeyError, TypeError):
        return {}


def _proxy_headers(options):
    known = ("basic_auth", "proxy_basic_auth", "user_agent")
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise InvalidInputError("proxy_headers: unknown key(s) %s; use %s" % (", ".join(unknown), ", ".join(known)))
    return urllib3.util.make_headers(**dict((k, v) for k, v in options.items() if v))


class K8sClient:
    """JSON requests against one apiserver, retried by one policy; thread-safe."""

    def __init__(self, auth, retry=None):
        if K8S_IMPORT_ERROR is not None:
            raise MissingLibraryError(K8S_LIBRARY, K8S_IMPORT_ERROR)
        self.config = _configuration(auth)
        self.config.retries = False  # one retry policy, ours, for every failure kind
        self.host = self.config.host.rstrip("/")
        if not self.config.verify_ssl:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self.rest = RESTClientObject(self.config, maxsize=POOL_SIZE)
        self.retry = retry or RetryPolicy()
        self.retries = 0  # how many requests were repeated: reported, and asserted by the fault tests
        self.budget = RetryBudget()  # one retry window per cause, shared by the run's threads
        self.warnings = ApiWarnings()  # the apiserver's Warning headers, for the result
        self._auth_lock = threading.Lock()
        self.headers = HTTPHeaderDict({"Accept": "application/json", "User-Agent": "lifeboat.k8s"})
        if auth.get("impersonate_user"):
            self.headers["Impersonate-User"] = auth["impersonate_user"]
        for group in auth.get("impersonate_groups") or []:
            self.headers.add("Impersonate-Group", group)  # one header per group, as kubectl sends them

    def _auth_headers(self):
        # Per request: the library's refresh hook re-runs exec plugins and re-reads token files when
        # they expire. One thread at a time: a refresh may run a plugin.
        with self._auth_lock:
            bearer = self.config.auth_settings().get("BearerToken")
        if bearer and bearer.get("value"):
            # Token files usually end with a newline; kubectl strips it, the library does not.
            return {"Authorization": bearer["value"].strip()}
        if self.config.username:
            return {"Authorization": self.config.get_basic_auth_token()}
        return {}

    def header_pairs(self):
        """[(name, value)] a request sends besides its content type, one pair per impersonated group;
        for connections this client does not make itself (pod exec)."""
        return [(k, v) for k in self.headers for v in self.headers.getlist(k)] + list(self._auth_headers().items())

    def request(self, method, path, body=None, query=None, content_type="application/json", raw=False, retry=None,
                accept=None):
        """Send one request, retried by the policy (this client's, unless retry gives another) within its cause's
        shared window; return the decoded JSON body (or None), or the bytes with raw. accept: another Accept."""
        url = self.host + path
        if query:
            url += "?" + urlencode([(k, v) for k, v in query.items() if v is not None])
        data = json.dumps(body) if body is not None else None
        policy = retry or self.retry
        attempt, cause = 0, None
        while True:
            headers = HTTPHeaderDict(self.headers)
            headers.update(self._auth_headers())
            headers["Content-Type"] = content_type
            if accept:
                headers["Accept"] = accept
            retry_after = None
            try:
                resp = self.rest.pool_manager.request(method, url, body=data, headers=headers,
                                                      timeout=urllib3.Timeout(connect=TIMEOUT[0], read=TIMEOUT[1]),
                                                      preload_content=True)
                self.warnings.add(warning_texts(resp.headers.getlist("Warning")), method, path, body)
                if resp.status < 400:
                    self.budget.healed(cause)
                    payload = resp.data
                    if raw:
                        return payload
                    return json.loads(payload) if payload else None
                failure = _status_error(method, path, resp.status, resp.data, retried=attempt > 0)
                if resp.status not in RETRYABLE_STATUS:
                    raise failure
                cause = failure_cause(resp.status, failure.reason, failure.message)
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            except urllib3.exceptions.HTTPError as e:
                refused = _certificate_refusal(e)
                if refused:
                    raise InvalidInputError(
                        "ca_cert or kubeconfig: %s refused the API server's certificate at %s: %s; not retried" % (
                            _runtime(), self.host, refused) + _tls_advice(refused))
                failure = ApiError("cannot reach the Kubernetes API at %s (%s %s): %s" % (
                    self.host, method, path, _reason(e)))
                cause = ("unreachable", self.host)
            except ApiException as e:  # TLS errors from the library's pool
                failure = ApiError("cannot reach the Kubernetes API at %s: %s" % (self.host, e.reason))
                cause = ("unreachable", self.host)
            episode = self.budget.failed(cause, policy.clock(), policy.window)
            wait = policy.next_wait(episode.started, attempt, retry_after)
            if wait is None:
                raise _given_up(failure, attempt, episode, policy)
            attempt += 1
            self.retries += 1
            time.sleep(wait)

    def get(self, path, query=None, accept=None):
        return self.request("GET", path, query=query, accept=accept)

    def get_or_none(self, path):
        try:
            return self.get(path)
        except NotFoundError:
            return None

    def create(self, path, body, dry_run=False):
        return self.request("POST", path, body, query={"dryRun": "All"} if dry_run else None)

    def merge_patch(self, path, body, dry_run=False):
        return self.request("PATCH", path, body, query={"dryRun": "All"} if dry_run else None,
                            content_type="application/merge-patch+json")

    def delete(self, path, propagation="Background"):
        """Delete; True if something was deleted, False if it was already gone."""
        try:
            self.request("DELETE", path, {"kind": "DeleteOptions", "apiVersion": "v1",
                                          "propagationPolicy": propagation})
            return True
        except NotFoundError:
            return False

    def list(self, path, label_selector=None, field_selector=None, page_size=500):
        """Yield every item of a collection, following continue tokens."""
        query = {"limit": page_size, "labelSelector": label_selector, "fieldSelector": field_selector}
        while True:
            page = self.get(path, query)
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
            query["continue"] = token

    def server_version(self):
        return self.get("/version")

    def check_reachable(self, what="the cluster"):
        """Fail at once, naming the connection options, when the apiserver cannot be reached (a mistyped server, a
        cluster that is down): asked before a task plans anything, with a short retry window of its own."""
        try:
            return self.request("GET", "/version", retry=RetryPolicy(window=REACHABLE_WINDOW))
        except ApiError as e:
            if e.status is not None:
                raise
            raise InvalidInputError("kubeconfig, context or host: %s at %s cannot be reached: %s; nothing was "
                                    "changed" % (what, self.host, e.message))


def _given_up(failure, attempt, episode, policy):
    """The failure, saying how long its cause was retried."""
    spent = policy.clock() - episode.started
    if attempt:
        failure.message += " (gave up after %d attempts in %.0fs)" % (attempt + 1, spent)
    elif episode.failures > 1:
        # The cause's window was spent by the requests before this one: it fails at once.
        failure.message += " (not retried: %d requests failed this way in %.0fs, past the %.0fs retry window)" % (
            episode.failures, spent, policy.window)
    failure.args = (failure.message,)
    return failure


def _certificate_refusal(error):
    """The runtime's reason for refusing the server's certificate, if that is what failed: it cannot heal."""
    for cause in (error, getattr(error, "reason", None), getattr(error, "__cause__", None),
                  getattr(error, "__context__", None)):
        if isinstance(cause, urllib3.exceptions.SSLError):
            inner = cause.args[0] if cause.args else cause
            verify = getattr(inner, "verify_message", None)
            if verify or "CERTIFICATE_VERIFY_FAILED" in str(inner):
                return verify or str(inner)
    return None


def _runtime():
    import ssl
    import sys
    return "Python %d.%d (%s)" % (sys.version_info[0], sys.version_info[1], ssl.OPENSSL_VERSION)


def _tls_advice(refused):
    advice = ". Give ca_cert (or the kubeconfig's certificate-authority-data) the CA that signed the server's " \
             "certificate; validate_certs: false skips the check (not for production)"
    if "key usage" in refused.lower() or "basic constraints" in refused.lower():
        advice = (". Python 3.13 and later verify certificates strictly (VERIFY_X509_STRICT): a CA without the "
                  "keyUsage extension, or whose basicConstraints is not critical, is refused although kubectl "
                  "accepts it; reissue the CA with them (kubeadm's carry them)" + advice)
    return advice


def _reason(error):
    reason = getattr(error, "reason", None)
    return str(reason or error)


def _status_error(method, path, status, payload, retried=False):
    message = ""
    reason = None
    try:
        body = json.loads(payload)
        message = body.get("message", "")
        reason = body.get("reason")
    except ValueError:
        message = payload.decode("utf-8", "replace")[:500]
    text = ("%s %s: %s %s" % (method, path, status, message or reason or "")).strip()
    if status == 401:
        text += " (the API server did not accept the credentials: check the token, certificate or exec plugin " \
                "of kubeconfig/context, or api_key)"
    if status == 404:
        return NotFoundError(text, status=status)
    if status == 409:
        return ConflictError(text, status=status, reason=reason, retried=retried)
    return ApiError(text, status=status, reason=reason)


def resource_path(group, version, plural, namespace=None, name=None, subresource=None):
    """The REST path of a collection or an object."""
    parts = ["/api/" + version] if not group else ["/apis/%s/%s" % (group, version)]
    if namespace:
        parts.append("namespaces/" + quote(namespace, safe=""))
    parts.append(plural)
    if name:
        parts.append(quote(name, safe=""))
    if subresource:
        parts.append(subresource)
    return "/".join(parts)
