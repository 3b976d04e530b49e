# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes client factory and a small JSON REST client.

Configuration follows kubernetes.core: explicit host and credentials win, then
a kubeconfig (path or inline dict) and context, then the in-cluster service
account, then the default kubeconfig. The `kubernetes` package is used only to
read that configuration (kubeconfig parsing, exec/OIDC auth plugins, in-cluster
files); requests go through one pooled urllib3 manager as plain JSON, which
works for any resource type (CRDs included), is safe to share between threads,
and does not depend on the generated model classes that change between
releases of the Python client.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from urllib.parse import quote, urlencode

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ApiError,
    ConflictError,
    InvalidInputError,
    MissingLibraryError,
    NotFoundError,
)

try:
    import urllib3
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException

    K8S_IMPORT_ERROR = None
except ImportError as e:
    K8S_IMPORT_ERROR = e

K8S_LIBRARY = "kubernetes>=30"
AUTH_OPTIONS = (
    "kubeconfig", "context", "host", "api_key", "username", "password", "validate_certs",
    "ca_cert", "client_cert", "client_key", "proxy", "no_proxy", "impersonate_user", "impersonate_groups",
)
POOL_SIZE = 32  # concurrent requests per module run


def _configuration(auth):
    cfg = k8s_client.Configuration()
    kubeconfig = auth.get("kubeconfig")
    context = auth.get("context")
    host = auth.get("host")
    explicit = host and (auth.get("api_key") or auth.get("username") or auth.get("client_cert"))
    try:
        if explicit:
            pass
        elif isinstance(kubeconfig, dict):
            k8s_config.load_kube_config_from_dict(kubeconfig, context=context, client_configuration=cfg,
                                                  persist_config=False)
        elif kubeconfig or context or _default_kubeconfig_exists():
            if kubeconfig and not os.path.exists(os.path.expanduser(kubeconfig)):
                raise InvalidInputError("kubeconfig: file %s does not exist" % kubeconfig)
            k8s_config.load_kube_config(config_file=os.path.expanduser(kubeconfig) if kubeconfig else None,
                                        context=context, client_configuration=cfg, persist_config=False)
        else:
            try:
                k8s_config.load_incluster_config(client_configuration=cfg)
            except ConfigException:
                raise InvalidInputError(
                    "kubeconfig: no Kubernetes configuration found: give kubeconfig (or host), set "
                    "K8S_AUTH_KUBECONFIG or KUBECONFIG, or create ~/.kube/config; this is not running in a pod either")
    except ConfigException as e:
        raise InvalidInputError("kubeconfig/context: cannot load the Kubernetes configuration: %s" % e)
    if host:
        cfg.host = host
    if auth.get("api_key"):
        cfg.api_key = {"authorization": "Bearer " + auth["api_key"]}
    if auth.get("username"):
        cfg.username = auth["username"]
        cfg.password = auth.get("password") or ""
    if auth.get("validate_certs") is not None:
        cfg.verify_ssl = auth["validate_certs"]
    for option, attr in (("ca_cert", "ssl_ca_cert"), ("client_cert", "cert_file"), ("client_key", "key_file"),
                         ("proxy", "proxy"), ("no_proxy", "no_proxy")):
        if auth.get(option):
            setattr(cfg, attr, auth[option])
    return cfg


def _default_kubeconfig_exists():
    paths = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    return any(os.path.exists(p) for p in paths.split(os.pathsep) if p)


class K8sClient:
    """JSON requests against one apiserver; thread-safe."""

    def __init__(self, auth):
        if K8S_IMPORT_ERROR is not None:
            raise MissingLibraryError(K8S_LIBRARY, K8S_IMPORT_ERROR)
        self.config = _configuration(auth)
        self.host = self.config.host.rstrip("/")
        self.timeout = urllib3.Timeout(connect=10, read=60)
        pool_args = dict(num_pools=4, maxsize=POOL_SIZE, block=True, retries=False)
        if self.host.startswith("https"):
            pool_args.update(cert_reqs="CERT_REQUIRED" if self.config.verify_ssl else "CERT_NONE",
                             ca_certs=self.config.ssl_ca_cert, cert_file=self.config.cert_file,
                             key_file=self.config.key_file)
            if not self.config.verify_ssl:
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        if self.config.proxy:
            self.http = urllib3.ProxyManager(self.config.proxy, **pool_args)
        else:
            self.http = urllib3.PoolManager(**pool_args)
        self.headers = {"Accept": "application/json", "User-Agent": "lifeboat.k8s"}
        if auth.get("impersonate_user"):
            self.headers["Impersonate-User"] = auth["impersonate_user"]
        if auth.get("impersonate_groups"):
            # urllib3 sends one header per key; the apiserver accepts a comma list.
            self.headers["Impersonate-Group"] = ",".join(auth["impersonate_groups"])

    def _auth_headers(self):
        # Called per request: exec/OIDC plugins refresh tokens through this hook.
        token = self.config.get_api_key_with_prefix("authorization")
        if token:
            return {"Authorization": token}
        if self.config.username:
            return urllib3.util.make_headers(basic_auth="%s:%s" % (self.config.username, self.config.password))
        return {}

    def request(self, method, path, body=None, query=None, content_type="application/json", raw=False):
        """Send one request; return the decoded JSON body (or None), or the bytes with raw."""
        url = self.host + path
        if query:
            url += "?" + urlencode([(k, v) for k, v in query.items() if v is not None])
        headers = dict(self.headers, **self._auth_headers())
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode("utf-8")
        try:
            resp = self.http.request(method, url, body=data, headers=headers, timeout=self.timeout,
                                     preload_content=True)
        except urllib3.exceptions.HTTPError as e:
            raise ApiError("cannot reach the Kubernetes API at %s: %s" % (self.host, _reason(e)))
        payload = resp.data
        if resp.status >= 400:
            raise _status_error(method, path, resp.status, payload)
        if raw:
            return payload
        return json.loads(payload) if payload else None

    def get(self, path, query=None):
        return self.request("GET", path, query=query)

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


def _reason(error):
    reason = getattr(error, "reason", None)
    return str(reason or error)


def _status_error(method, path, status, payload):
    message = ""
    reason = None
    try:
        body = json.loads(payload)
        message = body.get("message", "")
        reason = body.get("reason")
    except ValueError:
        message = payload.decode("utf-8", "replace")[:500]
    text = "%s %s: %s %s" % (method, path, status, message or reason or "")
    if status == 404:
        return NotFoundError(text.strip(), status=status)
    if status == 409:
        return ConflictError(text.strip(), status=status, reason=reason)
    return ApiError(text.strip(), status=status, reason=reason)


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
