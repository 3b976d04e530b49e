"""Fault-injection proxies for the test bed: what real clusters and object stores do to clients.

HttpFaultProxy sits in front of the apiserver. It terminates TLS with the bed's own
apiserver certificate (so clients verify it against the bed's CA as usual) and forwards
to the apiserver with the bed's admin client certificate. Rules answer chosen requests
with a status (429 with Retry-After, 503, 403), reset the connection, or delay them,
matched by method and path regex, after `skip` matches, for `count` matches.
`outage(seconds)` resets every request for a while: the apiserver is down.

TcpFaultProxy sits in front of S3 (`endpoint_url`): it passes bytes through, or after
`after` bytes from the client it stalls (stops reading) or resets the connection.

Both record what they did, so tests assert that a fault really happened.
Standard library only.
"""

import http.client
import os
import re
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The bed's relay (standard library too) has the byte pump the upgrade tunnel needs.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testbed"))
from relay import pump  # noqa: E402  pylint: disable=wrong-import-position

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection",
              "content-length"}


def _reset(sock):
    """Close with RST instead of FIN: the peer sees 'connection reset by peer'."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


class Rule:
    def __init__(self, path, method=None, status=None, headers=None, reset=False, delay=0.0, skip=0, count=1,
                 body=None, outage=0.0):
        self.path = re.compile(path)
        self.method = method
        self.status = status
        self.headers = headers or {}
        self.reset = reset
        self.delay = delay
        self.skip = skip
        self.count = count  # None: forever
        self.body = body
        self.outage = outage  # when it fires: every request fails for this many seconds
        self.seen = 0
        self.fired = 0

    def take(self, method, path):
        if self.method and method != self.method:
            return False
        if not self.path.search(path):
            return False
        self.seen += 1
        if self.seen <= self.skip:
            return False
        if self.count is not None and self.fired >= self.count:
            return False
        self.fired += 1
        return True


class HttpFaultProxy:
    def __init__(self, upstream, pki):
        """upstream: https://127.0.0.1:PORT of the apiserver; pki: the bed's pki directory."""
        self.upstream = upstream.split("://", 1)[1]
        self.rules = []
        self.log = []  # (method, path, what happened)
        self.down_until = 0.0
        # As a server before Kubernetes 1.30 answers: no aggregated discovery, so clients ask group by group (and
        # faults on /apis/<group>/<version> reach them).
        self.plain_discovery = False
        self.lock = threading.Lock()
        self.cafile = "%s/ca.crt" % pki
        self.client_ctx = ssl.create_default_context(cafile=self.cafile)
        self.client_ctx.load_cert_chain("%s/admin.crt" % pki, "%s/admin.key" % pki)
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain("%s/apiserver.crt" % pki, "%s/apiserver.key" % pki)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                rule = proxy._match(self.command, self.path)
                if rule is not None and rule.outage:
                    proxy.outage(rule.outage)
                if time.monotonic() < proxy.down_until:
                    proxy._record(self.command, self.path, "down")
                    _reset(self.connection)
                    self.close_connection = True
                    return
                if rule is not None and rule.delay:
                    time.sleep(rule.delay)
                if rule is not None and rule.reset:
                    proxy._record(self.command, self.path, "reset")
                    _reset(self.connection)
                    self.close_connection = True
                    return
                if rule is not None and rule.status:
                    proxy._record(self.command, self.path, rule.status)
                    data = rule.body or (b'{"kind":"Status","apiVersion":"v1","status":"Failure","message":'
                                         b'"injected by the fault proxy","code":%d}' % rule.status)
                    self.send_response(rule.status)
                    for k, v in rule.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if self.headers.get("Upgrade"):
                    proxy._record(self.command, self.path, "upgrade")
                    proxy._tunnel(self)
                    self.close_connection = True
                    return
                status, headers, data = proxy._forward(self.command, self.path, self.headers, body)
                proxy._record(self.command, self.path, status)
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in HOP_BY_HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = server_ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = "https://127.0.0.1:%d" % self.server.server_address[1]
        self.local = threading.local()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _match(self, method, path):
        with self.lock:
            for rule in self.rules:
                if rule.take(method, path):
                    return rule
        return None

    def _record(self, method, path, what):
        with self.lock:
            self.log.append((method, path, what))

    def _forward(self, method, path, headers, body):
        conn = getattr(self.local, "conn", None)
        for attempt in (0, 1):
            if conn is None:
                host, port = self.upstream.rsplit(":", 1)
                conn = http.client.HTTPSConnection(host, int(port), context=self.client_ctx, timeout=60)
                self.local.conn = conn
            try:
                forwarded = dict((k, v) for k, v in headers.items()
                                 if k.lower() not in HOP_BY_HOP and k.lower() != "host")
                if self.plain_discovery and path.split("?")[0] in ("/api", "/apis"):
                    forwarded = dict((k, v) for k, v in forwarded.items() if k.lower() != "accept")
                    forwarded["Accept"] = "application/json"
                conn.request(method, path, body=body, headers=forwarded)
                resp = conn.getresponse()
                return resp.status, resp.getheaders(), resp.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = self.local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _tunnel(self, handler):
        """An upgraded connection (pod exec's WebSocket): send the request upstream as it came, then pass
        bytes both ways until either side closes."""
        host, port = self.upstream.rsplit(":", 1)
        upstream = self.client_ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=60),
                                               server_hostname=host)
        head = "%s %s HTTP/1.1\r\n" % (handler.command, handler.path) + "".join(
            "%s: %s\r\n" % (k, v) for k, v in handler.headers.items()) + "\r\n"
        upstream.sendall(head.encode("latin-1"))
        client = handler.connection
        back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
        back.start()
        pump(client, upstream)
        back.join(timeout=60)
        upstream.close()

    def add(self, *args, **kwargs):
        rule = Rule(*args, **kwargs)
        with self.lock:
            self.rules.append(rule)
        return rule

    def clear(self):
        with self.lock:
            self.rules = []
            self.log = []
            self.down_until = 0.0

    def outage(self, seconds):
        """Every request fails with a reset for `seconds` from now."""
        self.down_until = time.monotonic() + seconds

    def kubeconfig(self):
        """A kubeconfig that reaches the apiserver through this proxy (which authenticates upstream)."""
        return {"apiVersion": "v1", "kind": "Config", "current-context": "faults",
                "clusters": [{"name": "faults", "cluster": {
                    "server": self.url, "certificate-authority-data": self._ca_data()}}],
                "users": [{"name": "anonymous", "user": {}}],
                "contexts": [{"name": "faults", "context": {"cluster": "faults", "user": "anonymous"}}]}

    def _ca_data(self):
        import base64
        with open(self.cafile, "rb") as f:
            return base64.b64encode(f.read()).decode()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class TcpFaultProxy:
    """Bytes through to host:port; `mode` is 'pass', 'stall' or 'reset', applied after `after`
    bytes from the client on a connection (counted per connection)."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.mode = "pass"
        self.after = 0
        self.events = []
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.closed = threading.Event()
        self.sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def set(self, mode, after=0):
        self.mode, self.after = mode, after

    def _accept(self):
        while not self.closed.is_set():
            try:
                client, _addr = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                _reset(client)
                continue
            self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src, dst, from_client):
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                if from_client and self.mode != "pass" and sent + len(data) > self.after:
                    if self.mode == "stall":
                        self.events.append("stalled")
                        while self.mode == "stall" and not self.closed.is_set():
                            time.sleep(0.1)  # read nothing more: the client's send buffer fills up
                        if self.closed.is_set():
                            return
                    elif self.mode == "reset":
                        self.events.append("reset")
                        _reset(src)
                        _reset(dst)
                        return
                sent += len(data)
                dst.sendall(data)
        except OSError:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self):
        self.closed.set()
        self.listener.close()
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass
