"""The lifeboat test bed: a real local Kubernetes with CSI snapshots, one node
that runs pods (kubelet + containerd, see node.py), an S3 server and an EC2
endpoint, run as plain local processes.

    testbed up        build (once, cached) and start everything; idempotent
    testbed down      stop what this test bed started and remove its state
    testbed status    one line per component
    testbed env       shell exports for `eval "$(testbed env)"`
    testbed logs [C]  the last lines of every (or one) component's log
    testbed velero    also start a real Velero server (out of cluster) on the running bed,
                      its storage location on the bed's S3 under prefix `velero`; idempotent
    testbed velero-node-agent   and Velero's node-agent as a DaemonSet on the primary's node, for
                      its data mover (`velero backup create --snapshot-move-data`); idempotent
    testbed stop-cluster primary|dr    stop one cluster's control plane, CSI and kubelet (the loss of
                      a site: its apiserver unreachable); its state, containerd and pods stay
    testbed start-cluster primary|dr   start them again with their state

Two clusters: `primary` (state in RUN) and `dr` (RUN/dr), a disaster-recovery site as different as one
is: its own control plane one minor newer, its own node (bridge, pod range, cgroup parent, containerd,
kubelet root), its own PKI, and other storage (the CSI driver under another name, StorageClass
`standard`). The S3 server, the EC2 endpoint and the OpenStorage emulator are shared: the bucket is what
both sites reach.

Standard library only: it runs before any virtualenv exists.
"""

import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

import node

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("LIFEBOAT_CACHE", os.path.expanduser("~/.cache/lifeboat"))
# One bed per machine: SeaweedFS opens a few fixed ports of its own.
RUN = os.environ.get("LIFEBOAT_TESTBED_DIR", os.path.join(CACHE, "run"))
S3_BUCKET = "lifeboat-test"
S3_KEY, S3_SECRET = "lifeboat-testbed", "lifeboat-testbed-secret"
REGION = "us-east-1"
# SeaweedFS listens on many ports; every one it lets us choose is chosen.
S3_PORTS = ("s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance", "master.port", "master.port.grpc",
            "filer.port", "filer.port.grpc", "volume.port", "volume.port.grpc", "admin.port", "admin.port.grpc")
DRIVER = "hostpath.csi.k8s.io"
OPENSTORAGE_TOKEN = "lifeboat-testbed-openstorage-token"
EC2_SETUP_CALLS = 3  # create_user, put_user_policy, create_access_key


class Cluster:
    """One cluster of the bed: its components are named prefix + the names below, its state lives in
    RUN/subdir, its ports are keyed prefix + name in ports.json, and its binaries are bin_prefix + name."""

    def __init__(self, name, prefix, subdir, bin_prefix, driver, storage_class, node_spec, version):
        self.name, self.prefix, self.subdir, self.bin_prefix = name, prefix, subdir, bin_prefix
        self.driver, self.storage_class, self.node_spec, self.version = driver, storage_class, node_spec, version

    def path(self, *parts):
        return path(self.subdir, *parts) if self.subdir else path(*parts)

    def c(self, component):
        return self.prefix + component

    @property
    def control_plane(self):
        return [self.c(n) for n in CONTROL_PLANE]

    @property
    def node_components(self):
        return [self.c(n) for n in NODE]

    @property
    def kubectl_args(self):
        return ["--kubeconfig", self.path("kubeconfig")]


# Start order within a cluster; down stops in reverse. stop-cluster stops the control plane and kubelet.
CONTROL_PLANE = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "hostpath-csi",
                 "csi-provisioner", "snapshot-controller", "csi-snapshotter"]
NODE = ["containerd", "kubelet", "s3-for-pods"]
SHARED = ["s3", "ec2", "openstorage"]
PRIMARY = Cluster("primary", "", "", "", DRIVER, "csi-hostpath", node.PRIMARY, "v1.36.3")
# Kubernetes one minor newer; its kubelet stays 1.36 (kubelet may be three minors older than the apiserver).
DR = Cluster("dr", "dr-", "dr", "dr-", "hostpath-dr.csi.k8s.io", "standard", node.DR, "v1.37.2")
CLUSTERS = {"primary": PRIMARY, "dr": DR}
COMPONENTS = PRIMARY.control_plane + SHARED + PRIMARY.node_components + DR.control_plane + DR.node_components
# Started on request (`testbed velero`); `down` stops them first.
OPTIONAL = ["velero", "velero-api-for-pods"]
VELERO_PREFIX = "velero"
# The S3 key as Velero reads it (AWS_SHARED_CREDENTIALS_FILE): the server's file, the node-agent's Secret.
VELERO_CREDENTIALS = "[default]\naws_access_key_id=%s\naws_secret_access_key=%s\n" % (S3_KEY, S3_SECRET)
VELERO_OBJECTS = """
apiVersion: v1
kind: Namespace
metadata: {name: velero}
---
# Velero's restore looks up its own Deployment; the server runs out of cluster, so a placeholder.
apiVersion: apps/v1
kind: Deployment
metadata: {name: velero, namespace: velero, labels: {component: velero}}
spec:
  replicas: 0
  selector: {matchLabels: {component: velero}}
  template:
    metadata: {labels: {component: velero}}
    spec:
      containers: [{name: velero, image: velero/velero:placeholder}]
---
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: default, namespace: velero}
spec:
  provider: velero.io/aws
  default: true
  objectStorage: {bucket: %(bucket)s, prefix: %(prefix)s}
  config: {region: %(region)s, s3ForcePathStyle: "true", s3Url: "%(s3_url)s"}
"""


# Velero's node-agent on the primary's node, for its data mover (`testbed velero-node-agent`). Pods have no route
# to a Service IP here, so the agent and the data-mover pods it starts (they inherit its image, env and volumes)
# reach the apiserver through a relay on the node's bridge address (in the serving certificate's names) and S3
# through the bed's S3 relay (the storage location's s3Url is moved there).
VELERO_NODE_AGENT = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: velero, namespace: velero}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: velero-node-agent}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: velero, namespace: velero}]
---
apiVersion: v1
kind: Secret
metadata: {name: cloud-credentials, namespace: velero}
stringData: {cloud: %(credentials)s}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-agent, namespace: velero, labels: {component: velero}}
spec:
  selector: {matchLabels: {name: node-agent}}
  template:
    metadata: {labels: {name: node-agent, role: node-agent, component: velero}}
    spec:
      serviceAccountName: velero
      securityContext: {runAsUser: 0}
      terminationGracePeriodSeconds: 5
      containers:
      - name: node-agent
        image: %(image)s
        imagePullPolicy: Never
        command: [/velero]
        args: [node-agent, server, --log-level, info]
        env:
        - {name: NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
        - {name: VELERO_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
        - {name: VELERO_SCRATCH_DIR, value: /scratch}
        - {name: HOME, value: /scratch}
        - {name: AWS_SHARED_CREDENTIALS_FILE, value: /credentials/cloud}
        - {name: KUBERNETES_SERVICE_HOST, value: "%(api_host)s"}
        - {name: KUBERNETES_SERVICE_PORT, value: "%(api_port)d"}
        volumeMounts:
        - {name: host-pods, mountPath: /host_pods, mountPropagation: HostToContainer}
        - {name: scratch, mountPath: /scratch}
        - {name: cloud-credentials, mountPath: /credentials}
      volumes:
      - {name: host-pods, hostPath: {path: "%(pods)s"}}
      - {name: scratch, emptyDir: {}}
      - {name: cloud-credentials, secret: {secretName: cloud-credentials}}
"""


def path(*parts):
    return os.path.join(RUN, *parts)


def say(msg):
    print("testbed: " + msg, file=sys.stderr, flush=True)


class BedError(Exception):
    pass


# ---------------------------------------------------------------- processes

# Ports the bed listens on come from below the kernel's ephemeral range: a port bound to 0 and released is an
# ephemeral one, which an outgoing connection (the primary's components start first) can take as its local port
# before the component meant to listen there binds it (a DR etcd failed "address already in use" so).
LISTEN_PORTS = (20000, 32000)
_handed_out = set()


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(part) for part in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    """A port free now and outside the ephemeral range, not handed out before in this process."""
    low, high = _ephemeral_range()
    candidates = [p for p in range(*LISTEN_PORTS) if not low <= p <= high and p not in _handed_out]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port in %d-%d outside the ephemeral range" % LISTEN_PORTS)


def pid_of(name):
    """The pid recorded for a component, if that process is still ours."""
    try:
        with open(path("pids", name + ".json")) as f:
            rec = json.load(f)
        started = start_time(rec["pid"])
    except (OSError, ValueError, KeyError):
        return None
    # A pid can be reused; the start time tells our process from a newcomer.
    return rec["pid"] if started == rec.get("started") else None


def start_time(pid):
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        raise OSError("zombie")
    return int(fields[19])


FOREIGN_ENV = ("KUBECONFIG",)


def start(name, argv, env=None):
    os.makedirs(path("logs"), exist_ok=True)
    os.makedirs(path("pids"), exist_ok=True)
    os.makedirs(path("argv"), exist_ok=True)
    with open(path("argv", name + ".json"), "w") as f:  # start-cluster starts it again the same way
        json.dump({"argv": argv, "env": env or {}}, f)
    log = open(path("logs", name + ".log"), "ab")
    # Not the caller's KUBECONFIG: client-go's sidecars (csi-provisioner, csi-snapshotter) prefer it to their own
    # --kubeconfig, so a bed started from a shell pointed at one cluster had the DR cluster's provisioner watching
    # the primary's claims, and DR claims never bound.
    inherited = dict((k, v) for k, v in os.environ.items() if k not in FOREIGN_ENV)
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True, cwd=RUN, env=dict(inherited, **(env or {})))
    with open(path("pids", name + ".json"), "w") as f:
        json.dump({"pid": proc.pid, "started": start_time(proc.pid), "argv": argv}, f)
    PROCS[name] = proc
    return proc


def tail(name, lines=25):
    try:
        with open(path("logs", name + ".log"), errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


PROCS = {}  # name -> Popen of what this run started


def exited(name):
    """A description of how a component we started ended, or None if it runs."""
    proc = PROCS.get(name)
    if proc is None:  # started by an earlier `up`: only its pid file tells
        return None if pid_of(name) else "is no longer running"
    code = proc.poll()
    if code is None:
        return None
    return "exited with status %s" % code if code >= 0 else "was killed by signal %s" % -code


def wait_for(name, check, timeout=90):
    """Poll check() until it is truthy; fail naming the component."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        how = exited(name)
        if how:
            raise BedError("%s %s during start-up; last lines of its log:\n%s" % (name, how, tail(name)))
        try:
            if check():
                return
        except Exception:  # not ready yet: connection refused, 503, ...
            pass
        time.sleep(0.3)
    raise BedError("%s not ready after %ds; last lines of its log:\n%s" % (name, timeout, tail(name)))


def stop(name):
    """Stop a component's whole process group: TERM, then KILL after 10 s."""
    pid = pid_of(name)
    if pid is not None:
        for sig, patience in ((signal.SIGTERM, 100), (signal.SIGKILL, 50)):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            for _tick in range(patience):
                if pid_of(name) is None:
                    break
                time.sleep(0.1)
            if pid_of(name) is None:
                break
    try:
        os.remove(path("pids", name + ".json"))
    except OSError:
        pass


# ---------------------------------------------------------------- helpers

def run(argv, **kw):
    res = subprocess.run(argv, capture_output=True, text=True, check=False, **kw)
    if res.returncode != 0:
        raise BedError("%s failed:\n%s%s" % (" ".join(argv), res.stdout, res.stderr))
    return res.stdout


def openssl(*args):
    run(["openssl"] + list(args))


# Extensions as kubeadm writes them, so strict verifiers (Python 3.13's VERIFY_X509_STRICT) accept the bed as they
# accept real clusters: a CA with critical basicConstraints and keyUsage, leaves with key identifiers.
CA_EXTENSIONS = ("basicConstraints=critical,CA:TRUE", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
                 "subjectKeyIdentifier=hash")
LEAF_EXTENSIONS = ("basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
                   "subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid")


def leaf_extensions(*lines):
    """An -extfile's text: kubeadm's leaf extensions and these (subjectAltName, extendedKeyUsage)."""
    return "\n".join(LEAF_EXTENSIONS + lines) + "\n"


def make_pki(d, cluster):
    """A cluster's own CA (a DR site does not share the primary's), serving and client certificates."""
    os.makedirs(d, exist_ok=True)

    def p(name):
        return os.path.join(d, name)
    extensions = [arg for ext in CA_EXTENSIONS for arg in ("-addext", ext)]
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", *extensions,
            "-subj", "/CN=lifeboat-testbed-%s-ca" % cluster.name, "-keyout", p("ca.key"), "-out", p("ca.crt"))
    openssl("genrsa", "-out", p("sa.key"), "2048")
    openssl("rsa", "-in", p("sa.key"), "-pubout", "-out", p("sa.pub"))
    with open(p("san.cnf"), "w") as f:
        # The bridge address too: pods reach the apiserver there (a relay; see VELERO_NODE_AGENT).
        f.write(leaf_extensions("subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc,"
                                "IP:10.0.0.1,IP:" + cluster.node_spec.gateway, "extendedKeyUsage=serverAuth"))
    with open(p("client.cnf"), "w") as f:
        f.write(leaf_extensions("extendedKeyUsage=clientAuth"))
    for name, subj, ext in (("apiserver", "/CN=kube-apiserver", "san.cnf"),
                            ("admin", "/O=system:masters/CN=lifeboat-admin", "client.cnf")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subj, "-keyout", p(name + ".key"),
                "-out", p(name + ".csr"))
        openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
                "-CAcreateserial", "-days", "30", "-extfile", p(ext), "-out", p(name + ".crt"))
    node.node_pki(openssl, p, leaf_extensions)


def write_kubeconfig(port, name="kubeconfig", user="admin", cluster=None):
    cluster = cluster or PRIMARY
    pki = cluster.path("pki")
    context = "testbed" if cluster is PRIMARY else "testbed-" + cluster.name
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": context, "cluster": {
            "server": "https://127.0.0.1:%d" % port, "certificate-authority": os.path.join(pki, "ca.crt")}}],
        "users": [{"name": user, "user": {
            "client-certificate": os.path.join(pki, user + ".crt"), "client-key": os.path.join(pki, user + ".key")}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": user}}],
    }
    with open(cluster.path(name), "w") as f:
        json.dump(cfg, f, indent=2)  # JSON is valid YAML


TOKEN_IDENTITY = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: lifeboat-token-admin, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: lifeboat-token-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: lifeboat-token-admin, namespace: kube-system}]
"""

# An exec credential plugin as EKS/GKE/AKS ship them: prints an ExecCredential. It logs each call, so
# tests can prove the client ran it.
EXEC_PLUGIN = """#!/bin/sh
echo "$(date +%%s) $$" >> "%(log)s"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%%s"}}' \
  "$(cat "%(token)s")"
"""


def write_token_kubeconfigs(kubectl, port):
    """kubeconfig-token: a ServiceAccount bearer token; kubeconfig-exec: an exec plugin printing it."""
    run(kubectl + ["apply", "-f", "-"], input=TOKEN_IDENTITY)
    token = run(kubectl + ["-n", "kube-system", "create", "token", "lifeboat-token-admin", "--duration", "48h"])
    with open(path("token"), "w") as f:
        f.write(token.strip())
    os.chmod(path("token"), 0o600)
    plugin = path("exec-credential")
    with open(plugin, "w") as f:
        f.write(EXEC_PLUGIN % {"log": path("exec-calls.log"), "token": path("token")})
    os.chmod(plugin, 0o700)
    for name, user in (("kubeconfig-token", {"tokenFile": path("token")}),
                       ("kubeconfig-exec", {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                     "command": plugin, "interactiveMode": "Never"}})):
        cfg = {
            "apiVersion": "v1", "kind": "Config", "current-context": "testbed",
            "clusters": [{"name": "testbed", "cluster": {
                "server": "https://127.0.0.1:%d" % port, "certificate-authority": path("pki", "ca.crt")}}],
            "users": [{"name": "sa", "user": user}],
            "contexts": [{"name": "testbed", "context": {"cluster": "testbed", "user": "sa"}}],
        }
        with open(path(name), "w") as f:
            json.dump(cfg, f, indent=2)


def api_ready(port, cluster=None):
    pki = (cluster or PRIMARY).path("pki")
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
    ctx.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
    with urllib.request.urlopen("https://127.0.0.1:%d/readyz" % port, context=ctx, timeout=3) as r:
        return r.status == 200


def http_ok(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=3) as r:
        return r.status < 500


def tcp_open(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        return True


def build(script="build.sh", what="the test bed binaries"):
    """Run a build script (which prints progress) and return the cache directory it prints last."""
    say("building or reusing %s (a cold build takes minutes; progress follows)" % what)
    res = subprocess.run([os.path.join(HERE, script)], stdout=subprocess.PIPE, text=True, check=False)
    if res.returncode != 0:
        raise BedError("building %s failed (see above)" % what)
    return res.stdout.strip().splitlines()[-1]


def venv():
    res = subprocess.run([os.path.join(ROOT, "hack", "venv.sh")], stdout=subprocess.PIPE, text=True, check=False)
    if res.returncode != 0:
        raise BedError("creating the virtualenv failed (see above)")
    return res.stdout.strip().splitlines()[-1]


STORAGE_OBJECTS = """
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: %(class)s
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: %(driver)s
reclaimPolicy: Delete
volumeBindingMode: Immediate
allowVolumeExpansion: true
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata:
  name: %(class)s-snapclass
  annotations: {snapshot.storage.kubernetes.io/is-default-class: "true"}
driver: %(driver)s
deletionPolicy: Delete
"""


# ---------------------------------------------------------------- commands

def sidecar_rate_flags():
    """The CSI sidecars' client rate limit: upstream's defaults (5 requests/s, bursts of 10), as
    most clusters run them, unless LIFEBOAT_TESTBED_SIDECAR_QPS asks for more (benchmarks/volumes.py
    measures both; a snapshot costs the controllers about ten API requests)."""
    qps = os.environ.get("LIFEBOAT_TESTBED_SIDECAR_QPS")
    if not qps:
        return []
    return ["--kube-api-qps=%s" % qps, "--kube-api-burst=%d" % (2 * int(qps))]


def running(components=None):
    return [c for c in components or COMPONENTS if pid_of(c) is not None]


def cmd_up():
    t0 = time.monotonic()
    if running() == COMPONENTS and os.path.exists(path("env")):
        say("already up (%s)" % RUN)
        return 0
    if running() or os.path.exists(path("node", "host-before.json")):
        say("partly up: restarting from a clean state")
        if cmd_down() != 0:
            return 1
    out = build()
    bindir = os.path.join(out, "bin")
    tools = os.path.join(venv(), "bin")
    t_start = time.monotonic()
    shutil.rmtree(RUN, ignore_errors=True)
    os.makedirs(RUN)
    mover = build("build-mover.sh", "the data mover's restic and kopia")
    per_cluster = ("etcd", "etcd_peer", "apiserver", "kcm", "scheduler", "kubelet", "kubelet_healthz", "s3_for_pods")
    ports = {k: free_port() for k in ("ec2", "openstorage") + S3_PORTS
             + tuple(c.prefix + n for c in (PRIMARY, DR) for n in per_cluster)}
    with open(path("build-dir"), "w") as f:
        f.write(out)  # down needs the node's binaries
    with open(path("ports.json"), "w") as f:
        json.dump(ports, f)
    kubectl = [os.path.join(tools, "kubectl"), "--kubeconfig", path("kubeconfig")]
    try:
        start_control_plane(PRIMARY, out, ports, tools)
        say("writing token and exec-plugin kubeconfigs (how real clusters authenticate)")
        write_token_kubeconfigs(kubectl, ports["apiserver"])

        say("starting the S3 server (SeaweedFS)")
        with open(path("s3-identities.json"), "w") as f:
            json.dump({"identities": [{"name": "admin", "credentials": [
                {"accessKey": S3_KEY, "secretKey": S3_SECRET}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}, f)
        os.makedirs(path("s3-data"))
        start("s3", [os.path.join(tools, "weed"), "mini", "-dir", path("s3-data"),
                     "-ip", "127.0.0.1", "-ip.bind", "127.0.0.1",
                     "-s3.config", path("s3-identities.json"), "-admin.ui=false", "-webdav=false",
                     "-master.telemetry=false"]
              + ["-%s=%d" % (flag, ports[flag]) for flag in S3_PORTS])

        say("starting the EC2 endpoint (moto)")
        # IAM authentication from the fourth call on: the first three make the bed's EC2 identity, so a
        # wrong key is refused as AWS refuses it.
        start("ec2", [os.path.join(tools, "moto_server"), "-H", "127.0.0.1", "-p", str(ports["ec2"])],
              env={"INITIAL_NO_AUTH_ACTION_COUNT": str(EC2_SETUP_CALLS)})

        say("starting the OpenStorage API emulator (Portworx's REST API; an emulator, not Portworx)")
        os.makedirs(path("openstorage"))
        start("openstorage", [os.path.join(bindir, "openstorage-emulator"), "-listen",
                              "127.0.0.1:%d" % ports["openstorage"], "-data", path("openstorage"),
                              "-token", OPENSTORAGE_TOKEN])
        openstorage_url = "http://127.0.0.1:%d" % ports["openstorage"]

        s3_url = "http://127.0.0.1:%d" % ports["s3.port"]
        ec2_url = "http://127.0.0.1:%d" % ports["ec2"]
        kc = path("kubeconfig")
        env = {
            "KUBECONFIG": kc, "K8S_AUTH_KUBECONFIG": kc,
            "LIFEBOAT_S3_ENDPOINT": s3_url, "LIFEBOAT_S3_BUCKET": S3_BUCKET,
            "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET, "AWS_DEFAULT_REGION": REGION,
            "LIFEBOAT_EC2_ENDPOINT": ec2_url, "LIFEBOAT_OPENSTORAGE_ENDPOINT": openstorage_url,
            "LIFEBOAT_OPENSTORAGE_TOKEN": OPENSTORAGE_TOKEN, "LIFEBOAT_OPENSTORAGE_DATA": path("openstorage", "volumes"),
            "LIFEBOAT_CSI_STATE_DIR": path("csi-data"),
            "LIFEBOAT_TESTBED_DIR": RUN, "LIFEBOAT_VENV": os.path.dirname(tools),
            "LIFEBOAT_KUBECONFIG_TOKEN": path("kubeconfig-token"), "LIFEBOAT_KUBECONFIG_EXEC": path("kubeconfig-exec"),
            "LIFEBOAT_APISERVER": "https://127.0.0.1:%d" % ports["apiserver"], "LIFEBOAT_PKI": path("pki"),
            # The second cluster: another site, other storage; the same bucket.
            "LIFEBOAT_DR_KUBECONFIG": DR.path("kubeconfig"), "LIFEBOAT_DR_CSI_STATE_DIR": DR.path("csi-data"),
            "LIFEBOAT_DR_STORAGE_CLASS": DR.storage_class, "LIFEBOAT_DR_CSI_DRIVER": DR.driver,
            "LIFEBOAT_STORAGE_CLASS": PRIMARY.storage_class,
        }
        os.makedirs(path("node"))
        with open(path("node", "host-before.json"), "w") as f:  # before either node changes the host
            json.dump(node.host_record(), f)
        start_node(PRIMARY, out, ports, tools, os.path.join(mover, "root"))
        # Pods reach the host on the bridge address only: a relay there to the S3 server, for the data mover.
        env["LIFEBOAT_S3_POD_ENDPOINT"] = "http://%s:%d" % (PRIMARY.node_spec.gateway, ports["s3_for_pods"])
        env["LIFEBOAT_DR_S3_POD_ENDPOINT"] = "http://%s:%d" % (DR.node_spec.gateway, ports["dr-s3_for_pods"])
        env["LIFEBOAT_DATA_MOVER_IMAGE"] = node.MOVER_IMAGE
        start_control_plane(DR, out, ports, tools)
        start_node(DR, out, ports, tools, os.path.join(mover, "root"))
        wait_for("ec2", lambda: http_ok(ec2_url + "/moto-api/data.json"))
        env.update(ec2_identity(tools, ec2_url))
        wait_for("openstorage", lambda: http_ok(openstorage_url + "/v1/osd-volumes/versions",
                                                {"Authorization": "Bearer " + OPENSTORAGE_TOKEN}))
        wait_for("s3", lambda: make_bucket(tools, env), timeout=90)
        for cluster in (PRIMARY, DR):
            check_cluster(cluster, tools)
        with open(path("env"), "w") as f:
            for k, v in sorted(env.items()):
                f.write("export %s=%s\n" % (k, shell_quote(v)))
            f.write('export PATH=%s:"$PATH"\n' % shell_quote(tools))
    except BaseException as e:
        if isinstance(e, BedError):
            say(str(e))
        say("start-up failed: stopping what was started")
        cmd_down(keep_logs=True)
        return 1
    say("up in %.1fs (start-up %.1fs); eval \"$(%s env)\"" % (
        time.monotonic() - t0, time.monotonic() - t_start, os.path.join(os.path.relpath(HERE), "testbed")))
    return 0


def check_cluster(cluster, tools):
    """The node is Ready with its CSI driver, every component still runs, the storage objects exist."""
    kubectl = [os.path.join(tools, "kubectl")] + cluster.kubectl_args
    wait_for(cluster.c("kubelet"), lambda: node_ready(kubectl, cluster), timeout=90)
    for name in cluster.control_plane + [cluster.c("containerd")]:
        how = exited(name)
        if how:
            raise BedError("%s %s; last lines of its log:\n%s" % (name, how, tail(name)))
    run(kubectl + ["get", "storageclass/" + cluster.storage_class,
                   "volumesnapshotclass/%s-snapclass" % cluster.storage_class])


def start_control_plane(cluster, out, ports, tools):
    """etcd, kube-apiserver, kube-controller-manager, kube-scheduler, the snapshot CRDs, the CSI driver and
    its sidecars, the StorageClass and VolumeSnapshotClass of one cluster."""
    bindir = os.path.join(out, "bin")
    c = cluster.c

    def port(name):
        return ports[cluster.prefix + name]
    os.makedirs(cluster.path(), exist_ok=True)
    kubectl = [os.path.join(tools, "kubectl")] + cluster.kubectl_args
    say("%s: generating certificates" % cluster.name)
    make_pki(cluster.path("pki"), cluster)
    write_kubeconfig(port("apiserver"), cluster=cluster)
    kc = cluster.path("kubeconfig")

    say("%s: starting etcd" % cluster.name)
    start(c("etcd"), [os.path.join(bindir, "etcd"), "--data-dir", cluster.path("etcd"), "--name", "testbed",
                      "--listen-client-urls", "http://127.0.0.1:%d" % port("etcd"),
                      "--advertise-client-urls", "http://127.0.0.1:%d" % port("etcd"),
                      "--listen-peer-urls", "http://127.0.0.1:%d" % port("etcd_peer"),
                      "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % port("etcd_peer"),
                      "--initial-cluster", "testbed=http://127.0.0.1:%d" % port("etcd_peer"),
                      # Room for benchmarks/scale.py at 300,000 objects (three namespaces of them); the
                      # default 2 GiB fills up and turns the cluster read-only.
                      "--quota-backend-bytes", str(6 << 30),
                      "--unsafe-no-fsync", "--log-level", "warn"])
    wait_for(c("etcd"), lambda: http_ok("http://127.0.0.1:%d/health" % port("etcd")))

    say("%s: starting kube-apiserver %s" % (cluster.name, cluster.version))
    pki = cluster.path("pki")
    start(c("kube-apiserver"), [
        os.path.join(bindir, cluster.bin_prefix + "kube-apiserver"),
        "--etcd-servers", "http://127.0.0.1:%d" % port("etcd"),
        "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
        "--secure-port", str(port("apiserver")), "--cert-dir", pki,
        "--tls-cert-file", os.path.join(pki, "apiserver.crt"),
        "--tls-private-key-file", os.path.join(pki, "apiserver.key"),
        "--client-ca-file", os.path.join(pki, "ca.crt"),
        "--service-account-issuer", "https://kubernetes.default.svc",
        "--service-account-key-file", os.path.join(pki, "sa.pub"),
        "--service-account-signing-key-file", os.path.join(pki, "sa.key"),
        "--service-cluster-ip-range", "10.0.0.0/24",
        "--authorization-mode", "RBAC", "--allow-privileged=true",
        # The apiserver authenticates to the kubelet (exec, logs) and checks its serving certificate.
        "--kubelet-client-certificate", os.path.join(pki, "apiserver-kubelet-client.crt"),
        "--kubelet-client-key", os.path.join(pki, "apiserver-kubelet-client.key"),
        "--kubelet-certificate-authority", os.path.join(pki, "ca.crt"),
        "--kubelet-preferred-address-types", "Hostname",
        "--profiling=false", "--v=1"] + (
        # 1.37 refuses a loopback advertise address for the `kubernetes` Service's endpoints; nothing in the bed
        # reaches the apiserver through that Service (no kube-proxy), so nobody reconciles them.
        ["--endpoint-reconciler-type", "none"] if cluster.version >= "v1.37" else []))
    wait_for(c("kube-apiserver"), lambda: api_ready(port("apiserver"), cluster), timeout=120)

    say("%s: starting kube-controller-manager and kube-scheduler" % cluster.name)
    start(c("kube-controller-manager"), [
        os.path.join(bindir, cluster.bin_prefix + "kube-controller-manager"),
        "--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
        "--service-account-private-key-file", os.path.join(pki, "sa.key"),
        "--root-ca-file", os.path.join(pki, "ca.crt"),
        "--cluster-signing-cert-file", os.path.join(pki, "ca.crt"),
        "--cluster-signing-key-file", os.path.join(pki, "ca.key"),
        "--leader-elect=false", "--bind-address", "127.0.0.1",
        "--secure-port", str(port("kcm")), "--controllers", "*", "--profiling=false", "--v=1"])
    wait_for(c("kube-controller-manager"), lambda: tcp_open(port("kcm")))
    start(c("kube-scheduler"), [
        os.path.join(bindir, cluster.bin_prefix + "kube-scheduler"),
        "--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
        "--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", str(port("scheduler")),
        "--profiling=false", "--v=1"])

    say("%s: installing VolumeSnapshot CRDs" % cluster.name)
    run(kubectl + ["apply", "-f", os.path.join(out, "crds")])
    run(kubectl + ["wait", "--for", "condition=established", "--timeout=60s",
                   "crd/volumesnapshotclasses.snapshot.storage.k8s.io",
                   "crd/volumesnapshotcontents.snapshot.storage.k8s.io",
                   "crd/volumesnapshots.snapshot.storage.k8s.io"])

    say("%s: starting the CSI driver %s and its sidecars" % (cluster.name, cluster.driver))
    sock = cluster.path("csi.sock")
    kubelet_root = cluster.path("kubelet")
    os.makedirs(os.path.join(kubelet_root, "plugins_registry"))
    start(c("hostpath-csi"), [os.path.join(bindir, "hostpath-csi"), "--endpoint", "unix://" + sock,
                              "--drivername", cluster.driver, "--nodeid", node.NODE_NAME,
                              "--statedir", cluster.path("csi-data"),
                              "--kubelet-registration-dir", os.path.join(kubelet_root, "plugins_registry")])
    wait_for(c("hostpath-csi"), lambda: os.path.exists(sock))
    rate = sidecar_rate_flags()
    start(c("csi-provisioner"), [os.path.join(bindir, "csi-provisioner"), "--kubeconfig", kc,
                                 "--csi-address", sock, "--leader-election=false", "--v=2"] + rate)
    start(c("snapshot-controller"), [os.path.join(bindir, "snapshot-controller"), "--kubeconfig", kc,
                                     "--leader-election=false", "--v=2"] + rate)
    start(c("csi-snapshotter"), [os.path.join(bindir, "csi-snapshotter"), "--kubeconfig", kc,
                                 "--csi-address", sock, "--leader-election=false", "--v=2"] + rate)
    run(kubectl + ["apply", "-f", "-"],
        input=STORAGE_OBJECTS % {"driver": cluster.driver, "class": cluster.storage_class})


def ctr_command(nodedir, cluster):
    """containerd's CLI on a cluster's node, in the namespace kubelet's images live in."""
    return [os.path.join(nodedir, "usr/bin/ctr"), "--address", cluster.path("node", "containerd.sock"),
            "--namespace", "k8s.io"]


def start_node(cluster, out, ports, tools, mover_root):
    """containerd with the bed's images, then kubelet; see node.py for what each step keeps off the host."""
    nodedir = os.path.join(out, "node")
    bindir = os.path.join(out, "bin")
    spec, c = cluster.node_spec, cluster.c
    d = cluster.path("node")
    os.makedirs(d, exist_ok=True)
    if spec.bridge in node.links():
        raise BedError("network interface %s exists (left by an earlier bed?): `ip link delete %s`" % (
            spec.bridge, spec.bridge))
    say("%s: starting the node: containerd, images, kubelet" % cluster.name)
    node.write_config(nodedir, cluster.path(), cluster.path("pki"), ports, spec, cluster.prefix)
    write_kubeconfig(ports[cluster.prefix + "apiserver"], name="kubeconfig-node", user="node", cluster=cluster)
    kubectl = [os.path.join(tools, "kubectl")] + cluster.kubectl_args
    run(kubectl + ["apply", "-f", "-"], input=node.NODE_OBJECTS % {"node": node.NODE_NAME, "driver": cluster.driver})
    node.make_bridge(spec)
    node.make_cgroup_parent(spec)
    node.share_kubelet_root(cluster.path("kubelet"))
    system_path = os.environ.get("PATH", "/usr/bin:/bin")
    start(c("containerd"), [os.path.join(nodedir, "usr/bin/containerd"), "--config", os.path.join(d, "containerd.toml")],
          env={"PATH": "%s:%s:%s" % (os.path.join(nodedir, "usr/bin"), os.path.join(nodedir, "usr/sbin"), system_path)})
    ctr = ctr_command(nodedir, cluster)
    wait_for(c("containerd"), lambda: subprocess.run(ctr + ["version"], capture_output=True, check=False).returncode == 0)
    images = os.path.join(RUN, "images")
    if not os.path.isdir(images):
        node.make_images(bindir, nodedir, images + ".tmp", mover_root)
        os.rename(images + ".tmp", images)
    for image in ("pause.tar", "busybox.tar", "mover.tar"):
        run(ctr + ["images", "import", os.path.join(images, image)])
    start(c("s3-for-pods"), [sys.executable, os.path.join(HERE, "relay.py"),
                             "%s:%d" % (spec.gateway, ports[cluster.prefix + "s3_for_pods"]),
                             "127.0.0.1:%d" % ports["s3.port"]])
    start(c("kubelet"), ["unshare", "--mount", "--propagation", "unchanged", "--", "sh",
                         os.path.join(d, "kubelet-ns.sh"), os.path.join(bindir, "kubelet"),
                         "--config", os.path.join(d, "kubelet.json"), "--kubeconfig", cluster.path("kubeconfig-node"),
                         "--root-dir", cluster.path("kubelet"), "--hostname-override", node.NODE_NAME, "--v=1"])


def node_ready(kubectl, cluster=PRIMARY):
    """The node is Ready and kubelet has registered the CSI driver (CSINode lists it)."""
    res = subprocess.run(kubectl + ["get", "node", node.NODE_NAME, "-o",
                                    'jsonpath={.status.conditions[?(@.type=="Ready")].status}'],
                         capture_output=True, text=True, check=False)
    if res.stdout.strip() != "True":
        return False
    res = subprocess.run(kubectl + ["get", "csinode", node.NODE_NAME, "-o", "jsonpath={.spec.drivers[*].name}"],
                         capture_output=True, text=True, check=False)
    return cluster.driver in res.stdout.split()


def make_bucket(tools, env):
    code = ("import boto3,botocore,os\n"
            "s3=boto3.client('s3',endpoint_url=os.environ['LIFEBOAT_S3_ENDPOINT'])\n"
            "b=os.environ['LIFEBOAT_S3_BUCKET']\n"
            "try: s3.head_bucket(Bucket=b)\n"
            "except botocore.exceptions.ClientError: s3.create_bucket(Bucket=b)\n")
    res = subprocess.run([os.path.join(tools, "python"), "-c", code], env=dict(os.environ, **env),
                         capture_output=True, text=True, timeout=30, check=False)
    return res.returncode == 0


def ec2_identity(tools, ec2_url):
    """An IAM user allowed everything, made with the calls moto answers before it enforces IAM."""
    code = ("import boto3,json\n"
            "iam=boto3.client('iam',endpoint_url=%r,region_name=%r,aws_access_key_id='setup',"
            "aws_secret_access_key='setup')\n"
            "iam.create_user(UserName='lifeboat')\n"
            "iam.put_user_policy(UserName='lifeboat',PolicyName='all',PolicyDocument=json.dumps("
            "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'*','Resource':'*'}]}))\n"
            "k=iam.create_access_key(UserName='lifeboat')['AccessKey']\n"
            "print(json.dumps([k['AccessKeyId'],k['SecretAccessKey']]))\n") % (ec2_url, REGION)
    res = subprocess.run([os.path.join(tools, "python"), "-c", code], capture_output=True, text=True, timeout=60,
                         check=False)
    if res.returncode:
        raise BedError("could not make the EC2 identity: %s" % res.stderr[-2000:])
    key, secret = json.loads(res.stdout)
    return {"LIFEBOAT_EC2_ACCESS_KEY_ID": key, "LIFEBOAT_EC2_SECRET_ACCESS_KEY": secret}


def shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def leftovers(groups, ports):
    """What `down` must not leave: a live process in one of our process groups, a held port."""
    left = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                # start_time refuses zombies: they are dead, waiting for init to reap them.
                if os.getpgid(int(entry)) in groups and start_time(int(entry)):
                    left.append("process %s still running" % entry)
            except OSError:
                pass
    for name, port in sorted(ports.items()):
        with socket.socket() as sock:
            # REUSEADDR: TIME_WAIT leftovers are the kernel's, not a held port; a listener still fails.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                left.append("port %d (%s) still held" % (port, name))
    return left


def read_env():
    env = {}
    with open(path("env")) as f:
        for line in f:
            if line.startswith("export ") and "=" in line and not line.startswith("export PATH="):
                k, v = line[len("export "):].rstrip("\n").split("=", 1)
                env[k] = v.strip("'")
    return env


def cmd_velero():
    """Velero v1.18 as a peer: CRDs, a placeholder Deployment, a storage location on the bed's S3,
    the CSI snapshot class labelled for it, and `velero server` run as a local process."""
    if running() != COMPONENTS or not os.path.exists(path("env")):
        say("not up: run `testbed up` first")
        return 1
    if pid_of("velero") is not None:
        say("velero already running")
        return 0
    t0 = time.monotonic()
    try:
        out = build("build-velero.sh", "Velero")
        env = read_env()
        kubectl = [os.path.join(env["LIFEBOAT_VENV"], "bin", "kubectl"), "--kubeconfig", env["KUBECONFIG"]]
        velero = os.path.join(out, "bin", "velero")
        crds = run([velero, "install", "--crds-only", "--dry-run", "-o", "yaml"])
        run(kubectl + ["apply", "-f", "-"], input=crds)
        run(kubectl + ["wait", "--for", "condition=established", "--timeout=60s",
                       "crd/backupstoragelocations.velero.io", "crd/backups.velero.io", "crd/restores.velero.io"])
        run(kubectl + ["apply", "-f", "-"], input=VELERO_OBJECTS % {
            "bucket": env["LIFEBOAT_S3_BUCKET"], "prefix": VELERO_PREFIX, "region": REGION,
            "s3_url": env["LIFEBOAT_S3_ENDPOINT"]})
        run(kubectl + ["label", "--overwrite", "volumesnapshotclass/csi-hostpath-snapclass",
                       "velero.io/csi-volumesnapshot-class=true"])
        with open(path("velero-credentials"), "w") as f:
            f.write(VELERO_CREDENTIALS)
        os.chmod(path("velero-credentials"), 0o600)
        ports = {"velero_metrics": free_port(), "velero_profiler": free_port()}
        with open(path("ports.json")) as f:
            known = json.load(f)
        with open(path("ports.json"), "w") as f:
            json.dump(dict(known, **ports), f)
        start("velero", [velero, "server", "--kubeconfig", env["KUBECONFIG"], "--namespace", "velero",
                         "--plugin-dir", os.path.join(out, "plugins"), "--features=EnableCSI",
                         "--metrics-address", "127.0.0.1:%d" % ports["velero_metrics"],
                         "--profiler-address", "127.0.0.1:%d" % ports["velero_profiler"],
                         "--store-validation-frequency", "10s", "--log-level", "info"],
              env={"AWS_SHARED_CREDENTIALS_FILE": path("velero-credentials"), "HOME": RUN})

        def available():
            res = subprocess.run(kubectl + ["-n", "velero", "get", "backupstoragelocation", "default", "-o",
                                            "jsonpath={.status.phase}"], capture_output=True, text=True, check=False)
            return res.stdout.strip() == "Available"
        wait_for("velero", available, timeout=120)
        with open(path("env"), "a") as f:
            f.write("export LIFEBOAT_VELERO=%s\n" % shell_quote(velero))
            f.write("export LIFEBOAT_VELERO_PREFIX=%s\n" % VELERO_PREFIX)
    except BaseException as e:
        if isinstance(e, BedError):
            say(str(e))
        say("velero start-up failed: stopping it")
        stop("velero")
        return 1
    say("velero up in %.1fs (storage location 'default': s3://%s/%s)" % (
        time.monotonic() - t0, read_env()["LIFEBOAT_S3_BUCKET"], VELERO_PREFIX))
    return 0


def cmd_velero_node_agent():
    """Velero's node-agent as a DaemonSet on the primary's node (its data mover: `--snapshot-move-data`), in an
    image made here from the velero binary; the storage location moved to the S3 address pods reach."""
    if pid_of("velero") is None:
        say("velero is not running: run `testbed velero` first")
        return 1
    env = read_env()
    kubectl = [os.path.join(env["LIFEBOAT_VENV"], "bin", "kubectl"), "--kubeconfig", env["KUBECONFIG"]]
    if subprocess.run(kubectl + ["-n", "velero", "get", "daemonset", "node-agent"], capture_output=True,
                      check=False).returncode == 0:
        say("velero node-agent already there")
        return 0
    t0 = time.monotonic()
    try:
        with open(path("build-dir")) as f:
            out = f.read().strip()
        velero = env["LIFEBOAT_VELERO"]
        image = node.make_velero_image(os.path.join(out, "node"), velero, path("images", "velero.tar"))
        ctr = ctr_command(os.path.join(out, "node"), PRIMARY)
        run(ctr + ["images", "import", image])
        with open(path("ports.json")) as f:
            ports = json.load(f)
        ports["velero_api_for_pods"] = free_port()
        with open(path("ports.json"), "w") as f:
            json.dump(ports, f)
        gateway = PRIMARY.node_spec.gateway
        start("velero-api-for-pods", [sys.executable, os.path.join(HERE, "relay.py"),
                                      "%s:%d" % (gateway, ports["velero_api_for_pods"]),
                                      "127.0.0.1:%d" % ports["apiserver"]])
        run(kubectl + ["-n", "velero", "patch", "backupstoragelocation", "default", "--type", "merge", "-p",
                       json.dumps({"spec": {"config": {"s3Url": env["LIFEBOAT_S3_POD_ENDPOINT"]}}})])
        run(kubectl + ["apply", "-f", "-"], input=VELERO_NODE_AGENT % {
            "credentials": json.dumps(VELERO_CREDENTIALS), "image": node.VELERO_IMAGE, "api_host": gateway,
            "api_port": ports["velero_api_for_pods"], "pods": os.path.join(PRIMARY.path("kubelet"), "pods")})
        run(kubectl + ["-n", "velero", "rollout", "status", "daemonset/node-agent", "--timeout=120s"])
    except BaseException as e:
        if isinstance(e, BedError):
            say(str(e))
        say("velero node-agent start-up failed (logs: kubectl -n velero logs daemonset/node-agent)")
        return 1
    say("velero node-agent up in %.1fs" % (time.monotonic() - t0))
    return 0


def cmd_down(keep_logs=False):
    groups = {pid for pid in (pid_of(name) for name in COMPONENTS + OPTIONAL) if pid is not None}
    try:
        with open(path("ports.json")) as f:
            ports = json.load(f)
    except (OSError, ValueError):
        ports = {}
    try:
        with open(path("build-dir")) as f:
            out = f.read().strip()
    except OSError:
        out = None
    stop("velero")
    # The nodes first: their pods' networks and mounts need containerd and the CSI drivers to go away cleanly.
    left = node.teardown(RUN, out and os.path.join(out, "bin"), out and os.path.join(out, "node"), stop,
                         nodes=[(c.prefix, os.path.relpath(c.path("node"), RUN), c.node_spec) for c in (PRIMARY, DR)])
    for name in OPTIONAL + list(reversed(COMPONENTS)):
        stop(name)
    left += leftovers(groups, ports)
    if left:
        say("down left things behind:\n  " + "\n  ".join(left))
        return 1
    if keep_logs:
        say("logs kept in %s" % path("logs"))
        return 0
    shutil.rmtree(RUN, ignore_errors=True)
    say("down")
    return 0


def cmd_stop_cluster(name):
    """The loss of a site: its apiserver, controllers, CSI driver and kubelet stop; its state (etcd, volumes,
    PKI), containerd and the pods it ran stay, as a site's machines do when its control plane is unreachable."""
    cluster = CLUSTERS.get(name)
    if cluster is None:
        say("stop-cluster: no cluster %r (clusters: %s)" % (name, ", ".join(CLUSTERS)))
        return 2
    for component in [cluster.c("kubelet")] + list(reversed(cluster.control_plane)):
        stop(component)
    say("%s stopped (its apiserver is unreachable); `testbed start-cluster %s` brings it back" % (name, name))
    return 0


def cmd_start_cluster(name):
    """Start what stop-cluster stopped, as up started it, with the state it left."""
    cluster = CLUSTERS.get(name)
    if cluster is None:
        say("start-cluster: no cluster %r (clusters: %s)" % (name, ", ".join(CLUSTERS)))
        return 2
    if not os.path.exists(path("env")):
        say("not up: run `testbed up` first")
        return 1
    t0 = time.monotonic()
    with open(path("ports.json")) as f:
        ports = json.load(f)
    tools = os.path.join(read_env()["LIFEBOAT_VENV"], "bin")
    try:
        for component in cluster.control_plane + [cluster.c("kubelet")]:
            if pid_of(component) is not None:
                continue
            with open(path("argv", component + ".json")) as f:
                saved = json.load(f)
            start(component, saved["argv"], env=saved["env"])
            if component == cluster.c("etcd"):
                wait_for(component, lambda: http_ok("http://127.0.0.1:%d/health" % ports[cluster.prefix + "etcd"]))
            elif component == cluster.c("kube-apiserver"):
                wait_for(component, lambda: api_ready(ports[cluster.prefix + "apiserver"], cluster), timeout=120)
            elif component == cluster.c("hostpath-csi"):
                wait_for(component, lambda: os.path.exists(cluster.path("csi.sock")))
        check_cluster(cluster, tools)
    except BedError as e:
        say(str(e))
        return 1
    say("%s started in %.1fs" % (name, time.monotonic() - t0))
    return 0


def cmd_status():
    up = running()
    for name in COMPONENTS:
        print("%-24s %s" % (name, "running (pid %d)" % pid_of(name) if name in up else "stopped"))
    for name in OPTIONAL:
        pid = pid_of(name)
        print("%-24s %s" % (name, "running (pid %d)" % pid if pid else "not started (optional)"))
    return 0 if up == COMPONENTS else 1


def cmd_env():
    if not os.path.exists(path("env")):
        say("not up: run `%s up` first" % os.path.join(os.path.relpath(HERE), "testbed"))
        return 1
    with open(path("env")) as f:
        sys.stdout.write(f.read())
    return 0


def cmd_logs(names):
    for name in names or COMPONENTS + [n for n in OPTIONAL if os.path.exists(path("logs", n + ".log"))]:
        print("==> %s <==\n%s" % (name, tail(name, 40)))
    return 0


def main(argv):
    cmd = argv[1] if len(argv) > 1 else "help"
    if cmd == "up":
        return cmd_up()
    if cmd == "down":
        return cmd_down()
    if cmd == "status":
        return cmd_status()
    if cmd == "env":
        return cmd_env()
    if cmd == "logs":
        return cmd_logs(argv[2:])
    if cmd == "velero":
        return cmd_velero()
    if cmd == "velero-node-agent":
        return cmd_velero_node_agent()
    if cmd in ("stop-cluster", "start-cluster") and len(argv) == 3:
        return (cmd_stop_cluster if cmd == "stop-cluster" else cmd_start_cluster)(argv[2])
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
