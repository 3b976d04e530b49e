# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a command in a pod's container through the exec subresource, as `kubectl exec` does.

The apiserver streams the command over a WebSocket (the v4/v5 channel protocols): one
binary message per chunk, its first byte the channel (1 stdout, 2 stderr, 3 the final
Status with the exit code). websocket-client (which the `kubernetes` library depends on)
carries it. The library's own stream helper is not used because it sends only the
Authorization header, dropping impersonation.

A failed upgrade that is safe to repeat (429, 5xx, no connection) is retried by the
client's policy; once the command has started it is never sent again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import ssl
import time
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlencode, urlparse

try:
    import websocket

    WEBSOCKET_IMPORT_ERROR = None
except ImportError as e:
    WEBSOCKET_IMPORT_ERROR = e

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import ApiError, MissingLibraryError
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import RETRYABLE_STATUS, resource_path

PROTOCOLS = "v5.channel.k8s.io,v4.channel.k8s.io"
STDOUT, STDERR, STATUS = 1, 2, 3
OUTPUT_LIMIT = 4096  # bytes of each stream kept: the end, where a failure's reason usually is


@dataclass
class ExecResult:
    """What a command did: exit code (None when it did not finish), output tails, and why it failed."""
    exit_code: Optional[int]
    stdout: str
    stderr: str
    seconds: float
    error: Optional[str] = None
    truncated: bool = False

    @property
    def ok(self):
        return self.error is None and self.exit_code == 0


class _Tail:
    """The last OUTPUT_LIMIT bytes of a stream, and whether anything was dropped."""

    def __init__(self):
        self.data = b""
        self.dropped = False

    def add(self, chunk):
        self.data += chunk
        if len(self.data) > OUTPUT_LIMIT:
            self.data = self.data[-OUTPUT_LIMIT:]
            self.dropped = True

    def text(self):
        return self.data.decode("utf-8", "replace")


def exec_in_pod(k8s, namespace, pod, container, command, timeout, clock=time.monotonic):
    """Run `command` (a list) in the container and wait at most `timeout` seconds for it.

    Returns an ExecResult; raises ApiError only when the exec could not be started
    (forbidden, no such pod or container, apiserver unreachable after retries)."""
    if WEBSOCKET_IMPORT_ERROR is not None:
        raise MissingLibraryError("websocket-client", WEBSOCKET_IMPORT_ERROR)
    started = clock()
    sock = _connect(k8s, namespace, pod, container, command, timeout)
    out, err = _Tail(), _Tail()
    status = None
    try:
        while True:
            left = timeout - (clock() - started)
            if left <= 0:
                return ExecResult(None, out.text(), err.text(), clock() - started,
                                  error="timed out after %gs" % timeout, truncated=out.dropped or err.dropped)
            sock.settimeout(min(left, 5.0))
            try:
                opcode, data = sock.recv_data()
            except websocket.WebSocketTimeoutException:
                continue
            except websocket.WebSocketConnectionClosedException:
                break
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                break
            if not data:
                continue
            channel, chunk = data[0], data[1:]
            if channel == STDOUT:
                out.add(chunk)
            elif channel == STDERR:
                err.add(chunk)
            elif channel == STATUS:
                status = chunk
    except (OSError, websocket.WebSocketException) as e:
        return ExecResult(None, out.text(), err.text(), clock() - started,
                          error="the exec stream broke: %s" % e, truncated=out.dropped or err.dropped)
    finally:
        sock.close()
    exit_code, error = _exit_code(status)
    return ExecResult(exit_code, out.text(), err.text(), clock() - started, error=error,
                      truncated=out.dropped or err.dropped)


def _exit_code(status):
    """(exit code, error) from the STATUS channel's metav1.Status."""
    if not status:
        return None, "the exec stream ended without an exit status"
    try:
        doc = json.loads(status)
    except ValueError:
        return None, "unreadable exit status: %r" % status[:200]
    if doc.get("status") == "Success":
        return 0, None
    for cause in (doc.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message")), None
            except (TypeError, ValueError):
                break
    return None, doc.get("message") or "exec failed: %s" % doc.get("reason")


def _connect(k8s, namespace, pod, container, command, timeout):
    query = [("container", container), ("stdout", "true"), ("stderr", "true")]
    query += [("command", part) for part in command]
    url = k8s.host + resource_path("", "v1", "pods", namespace, pod, "exec") + "?" + urlencode(query)
    url = "wss://" + url[len("https://"):] if url.startswith("https://") else "ws://" + url[len("http://"):]
    started = k8s.retry.clock()
    attempt = 0
    while True:
        lines = ["%s: %s" % (key, value) for key, value in k8s.header_pairs() if key.lower() != "accept"]
        sock = websocket.WebSocket(sslopt=_ssl_options(k8s.config), skip_utf8_validation=True)
        try:
            sock.connect(url, header=lines, subprotocols=PROTOCOLS.split(","), timeout=min(timeout, 30),
                         **_proxy_options(k8s.config))
            return sock
        except websocket.WebSocketBadStatusException as e:
            failure = ApiError("pods/exec %s/%s: %s" % (namespace, pod, _rejection(e)), status=e.status_code)
            if e.status_code not in RETRYABLE_STATUS:
                raise failure
        except (OSError, websocket.WebSocketException) as e:
            failure = ApiError("pods/exec %s/%s: cannot reach the Kubernetes API at %s: %s" % (
                namespace, pod, k8s.host, e))
        wait = k8s.retry.next_wait(started, attempt)
        if wait is None:
            raise failure
        attempt += 1
        k8s.retries += 1
        time.sleep(wait)


def _rejection(error):
    """The apiserver's message for a refused upgrade (403, 404, 400 for an unknown container)."""
    try:
        return "%s %s" % (error.status_code, json.loads(error.resp_body)["message"])
    except (TypeError, ValueError, KeyError):
        return "HTTP %s" % error.status_code


def _ssl_options(config):
    if not config.verify_ssl:
        options = {"cert_reqs": ssl.CERT_NONE}
    else:
        options = {"cert_reqs": ssl.CERT_REQUIRED}
        if config.ssl_ca_cert:
            options["ca_certs"] = config.ssl_ca_cert
        if config.assert_hostname is not None:
            options["check_hostname"] = config.assert_hostname
    if config.cert_file:
        options["certfile"] = config.cert_file
    if config.key_file:
        options["keyfile"] = config.key_file
    if getattr(config, "tls_server_name", None):
        options["server_hostname"] = config.tls_server_name
    return options


def _proxy_options(config):
    if not config.proxy:
        return {}
    proxy = urlparse(config.proxy)
    options = {"http_proxy_host": proxy.hostname, "http_proxy_port": proxy.port, "proxy_type": "http"}
    if proxy.username:
        options["http_proxy_auth"] = (proxy.username, proxy.password or "")
    if config.no_proxy:
        options["http_no_proxy"] = [host.strip() for host in config.no_proxy.split(",") if host.strip()]
    return options
