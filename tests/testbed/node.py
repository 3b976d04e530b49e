"""The test bed's node: containerd + runc + CNI from Debian's packages, a kubelet and kube-scheduler
built from the bed's wrapper module, and images made here (no registry is reachable).

What the node changes on the host, and how `down` undoes it and checks (see ../shared/notes/kubelet.md):

- a bridge (BRIDGE) holding the gateway address of a small private range; pods get no default route and
  the bridge plugin runs with isGateway false, so ip_forward is never turned on and no traffic leaves;
- kubelet's root directory is an rshared bind mount, so mounts made by kubelet (secret tmpfs) and by
  the CSI driver (bind mounts) reach containerd; kubelet runs in a private mount namespace whose
  /proc/sys files for the kernel tunables it wants to set are bind-mounted from files holding the values
  it wants, so it never writes the host's sysctls;
- the fixed paths that no option moves: /var/log/containers, /var/log/pods, /run/containerd,
  /var/run/netns/cni-*, /var/lib/cni, and cgroups named kubepods in every v1 hierarchy.

Standard library only, like testbed.py.
"""

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time

NODE_NAME = "localhost"  # the apiserver dials the node's Hostname address: 127.0.0.1 for exec, logs


class NodeSpec:
    """What keeps one node of the bed apart from the other on the same host: its bridge and pod range, its CNI
    network, and the cgroup its pods live under (kubelet's cgroupRoot; "" is the root, so /kubepods). Each node
    also has its own directory (containerd root, state and socket, kubelet root, pod logs, CNI IPAM data) and
    ports, given where it is started."""

    def __init__(self, bridge, pod_cidr, gateway, network, cgroup_parent):
        self.bridge, self.pod_cidr, self.gateway = bridge, pod_cidr, gateway
        self.network, self.cgroup_parent = network, cgroup_parent

    @property
    def pod_cgroup(self):
        """How /proc/PID/cgroup names the cgroups of this node's pods."""
        return ":/%skubepods" % (self.cgroup_parent + "/" if self.cgroup_parent else "")


PRIMARY = NodeSpec("lbtb0", "10.254.77.0/24", "10.254.77.1", "lifeboat-testbed", "")
# Two kubelets cleaning up one /kubepods tree would each remove the other's pods as orphans.
DR = NodeSpec("lbtb1", "10.254.78.0/24", "10.254.78.1", "lifeboat-testbed-dr", "lifeboat-dr")
NODES = (PRIMARY, DR)
BRIDGE, POD_CIDR, GATEWAY = PRIMARY.bridge, PRIMARY.pod_cidr, PRIMARY.gateway
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
# Debian's busybox-static (1.35) under the name the drill's default job image and the demo use.
BUSYBOX_IMAGES = ("docker.io/library/busybox:1.36", "lifeboat.local/busybox:1.35-debian")
# restic and kopia built from their Go modules (build-mover.sh; static, as in the tools' official images) and
# busybox for the Job's shell: the data mover image on the bed, where no registry answers (real clusters use the
# tools' own images).
MOVER_IMAGE = "lifeboat.local/mover:restic-0.18.1-kopia-0.22.3"
MOVER_FILES = ("usr/bin/restic", "usr/bin/kopia")
# Velero's node-agent, made only when the bed's Velero peer moves volume data (`testbed velero-node-agent`).
VELERO_IMAGE = "lifeboat.local/velero:v1.18.3"
# The tunables kubelet sets when they differ (pkg/kubelet/cm setupKernelTunables), with its values.
KUBELET_SYSCTLS = {
    "vm/overcommit_memory": "1", "vm/panic_on_oom": "0", "kernel/panic": "10", "kernel/panic_on_oops": "1",
    "kernel/keys/root_maxkeys": "1000000", "kernel/keys/root_maxbytes": "25000000",
}
# What down compares with the values recorded at up.
WATCHED_SYSCTLS = sorted(KUBELET_SYSCTLS) + ["net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables"]
# /var/run is /run here; mountinfo names the real paths.
FIXED_PATHS = ("/var/log/containers", "/var/log/pods", "/run/containerd", "/var/lib/cni", "/run/netns")
CGROUP_ROOT = "/sys/fs/cgroup"


def read_sysctls():
    values = {}
    for key in WATCHED_SYSCTLS:
        try:
            with open("/proc/sys/" + key) as f:
                values[key] = f.read().strip()
        except OSError:
            values[key] = None
    return values


def kubepods_cgroups():
    """The cgroup trees the nodes' pods live in (/kubepods, and the DR node's parent), in every hierarchy."""
    found = []
    for hierarchy in sorted(os.listdir(CGROUP_ROOT)):
        for top in ["kubepods"] + [n.cgroup_parent for n in NODES if n.cgroup_parent]:
            if os.path.isdir(os.path.join(CGROUP_ROOT, hierarchy, top)):
                found.append(os.path.join(CGROUP_ROOT, hierarchy, top))
    return found


def make_cgroup_parent(spec):
    """kubelet wants its cgroupRoot to exist in every hierarchy; cpuset's needs cpus and mems before use."""
    if not spec.cgroup_parent:
        return
    for hierarchy in sorted(os.listdir(CGROUP_ROOT)):
        top = os.path.join(CGROUP_ROOT, hierarchy)
        if hierarchy == "unified" or not os.path.isfile(os.path.join(top, "cgroup.procs")):
            continue
        os.makedirs(os.path.join(top, spec.cgroup_parent), exist_ok=True)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if os.path.exists(os.path.join(top, name)):
                with open(os.path.join(top, name)) as f:
                    value = f.read().strip()
                with open(os.path.join(top, spec.cgroup_parent, name), "w") as f:
                    f.write(value)


def host_record():
    """What the host looks like before the nodes start; down compares against it."""
    return {"sysctls": read_sysctls(), "paths": [p for p in FIXED_PATHS if os.path.lexists(p)],
            "cgroups": kubepods_cgroups(), "links": links()}


def links():
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False).stdout
    return sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line)


# ---------------------------------------------------------------- images

def _tar_bytes(entries):
    """A deterministic uncompressed tar: entries are (name, kind, data_or_target, mode)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime, info.uid, info.gid = mode, 0, 0, 0
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, payload
                tar.addfile(info)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def oci_image(dest, names, layer, config):
    """Write an OCI image layout tarball holding one single-layer image under several names."""
    blobs = {}

    def blob(data, media_type):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return {"mediaType": media_type, "digest": digest, "size": len(data)}
    layer_desc = blob(layer, "application/vnd.oci.image.layer.v1.tar")
    config = dict(config, architecture="amd64", os="linux",
                  rootfs={"type": "layers", "diff_ids": [layer_desc["digest"]]})
    config_desc = blob(json.dumps(config, sort_keys=True).encode(), "application/vnd.oci.image.config.v1+json")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config_desc, "layers": [layer_desc]}
    manifest_desc = blob(json.dumps(manifest, sort_keys=True).encode(), "application/vnd.oci.image.manifest.v1+json")
    index = {"schemaVersion": 2, "manifests": [
        dict(manifest_desc, annotations={"io.containerd.image.name": name,
                                         "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1]})
        for name in names]}
    entries = [("oci-layout", "file", b'{"imageLayoutVersion": "1.0.0"}', 0o644),
               ("index.json", "file", json.dumps(index, sort_keys=True).encode(), 0o644),
               ("blobs", "dir", None, 0o755), ("blobs/sha256", "dir", None, 0o755)]
    entries += [("blobs/sha256/" + d.split(":", 1)[1], "file", data, 0o644) for d, data in sorted(blobs.items())]
    with open(dest, "wb") as f:
        f.write(_tar_bytes(entries))


def busybox_entries(nodedir):
    """A root file system of Debian's busybox-static: its applets, /etc/passwd and /etc/group, /tmp."""
    busybox_path = os.path.join(nodedir, "bin", "busybox")
    with open(busybox_path, "rb") as f:
        busybox = f.read()
    applets = subprocess.run([busybox_path, "--list"], capture_output=True, text=True, check=True).stdout.split()
    entries = [("bin", "dir", None, 0o755), ("bin/busybox", "file", busybox, 0o755),
               ("etc", "dir", None, 0o755), ("tmp", "dir", None, 0o1777), ("root", "dir", None, 0o700),
               ("etc/passwd", "file", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
                0o644),
               ("etc/group", "file", b"root:x:0:\nnogroup:x:65534:\n", 0o644)]
    return entries + [("bin/" + a, "link", "busybox", 0o777) for a in sorted(set(applets)) if a != "busybox"]


def make_velero_image(nodedir, velero, dest):
    """The image of Velero's node-agent and of the data-mover pods it starts (they inherit it): the velero binary
    at /velero, where Velero's own image has it, and busybox."""
    with open(velero, "rb") as f:
        entries = busybox_entries(nodedir) + [("velero", "file", f.read(), 0o755)]
    oci_image(dest, [VELERO_IMAGE], _tar_bytes(entries), {"config": {"Entrypoint": ["/velero"], "Env": ["PATH=/bin"]}})
    return dest


def make_images(bindir, nodedir, dest_dir, mover_root):
    """The pause image (our pause program), a busybox image (Debian's busybox-static) and the data mover's
    (busybox, restic and kopia, from mover_root: build-mover.sh's Go builds)."""
    os.makedirs(dest_dir, exist_ok=True)
    with open(os.path.join(bindir, "pause"), "rb") as f:
        pause = f.read()
    oci_image(os.path.join(dest_dir, "pause.tar"), [PAUSE_IMAGE],
              _tar_bytes([("pause", "file", pause, 0o755)]),
              {"config": {"Entrypoint": ["/pause"], "User": "65535:65535"}})
    entries = busybox_entries(nodedir)
    oci_image(os.path.join(dest_dir, "busybox.tar"), list(BUSYBOX_IMAGES), _tar_bytes(entries),
              {"config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]}})
    mover = entries + [(d, "dir", None, 0o755) for d in ("usr", "usr/bin")]
    for name in MOVER_FILES:
        with open(os.path.join(mover_root, name), "rb") as f:
            mover.append((name, "file", f.read(), 0o755))
    oci_image(os.path.join(dest_dir, "mover.tar"), [MOVER_IMAGE], _tar_bytes(mover),
              {"config": {"Cmd": ["sh"], "Env": ["PATH=/bin:/usr/bin"]}})
    return [os.path.join(dest_dir, n) for n in ("pause.tar", "busybox.tar", "mover.tar")]


# ---------------------------------------------------------------- configuration

CONTAINERD_CONFIG = """version = 2
root = "%(dir)s/containerd/root"
state = "%(dir)s/containerd/state"
oom_score = 0
[grpc]
  address = "%(dir)s/containerd.sock"
[ttrpc]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "%(dir)s/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "%(pause)s"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "%(runc)s"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "%(cni_bin)s"
    conf_dir = "%(dir)s/cni"
"""

# The wrapper kubelet runs under `unshare --mount`: the tunables' /proc/sys files are covered by files
# holding kubelet's values, in this mount namespace only (the host's mounts are private).
KUBELET_WRAPPER = """#!/bin/sh
set -eu
for key in %(keys)s; do
  mount --bind "%(dir)s/sysctl/$(echo "$key" | tr / .)" "/proc/sys/$key"
done
exec "$@"
"""


def write_config(nodedir, run_dir, pki, ports, spec=PRIMARY, port_prefix=""):
    """Every file the node's processes read (run_dir: its cluster's directory); returns the node's directory."""
    d = os.path.join(run_dir, "node")
    for sub in ("cni", "sysctl", "images", "pod-logs", "volume-plugins", "cni-ipam"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    with open(os.path.join(d, "containerd.toml"), "w") as f:
        f.write(CONTAINERD_CONFIG % {"dir": d, "pause": PAUSE_IMAGE, "runc": os.path.join(nodedir, "usr/sbin/runc"),
                                     "cni_bin": os.path.join(nodedir, "usr/lib/cni")})
    cni = {"cniVersion": "0.4.0", "name": spec.network, "plugins": [{
        "type": "bridge", "bridge": spec.bridge, "isGateway": False, "ipMasq": False, "hairpinMode": True,
        "ipam": {"type": "host-local", "dataDir": os.path.join(d, "cni-ipam"),
                 "ranges": [[{"subnet": spec.pod_cidr, "gateway": spec.gateway}]]}}]}
    with open(os.path.join(d, "cni", "10-lifeboat.conflist"), "w") as f:
        json.dump(cni, f, indent=2)
    for key, value in KUBELET_SYSCTLS.items():
        with open(os.path.join(d, "sysctl", key.replace("/", ".")), "w") as f:
            f.write(value + "\n")
    with open(os.path.join(d, "kubelet-ns.sh"), "w") as f:
        f.write(KUBELET_WRAPPER % {"dir": d, "keys": " ".join(sorted(KUBELET_SYSCTLS))})
    kubelet_config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "address": "127.0.0.1", "port": ports[port_prefix + "kubelet"], "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": ports[port_prefix + "kubelet_healthz"],
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": os.path.join(pki, "ca.crt")}},
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": os.path.join(pki, "kubelet.crt"), "tlsPrivateKeyFile": os.path.join(pki, "kubelet.key"),
        "containerRuntimeEndpoint": "unix://" + os.path.join(d, "containerd.sock"),
        "cgroupDriver": "cgroupfs", "failCgroupV1": False, "failSwapOn": False,
        "protectKernelDefaults": False, "podLogsDir": os.path.join(d, "pod-logs"),
        "volumePluginDir": os.path.join(d, "volume-plugins"), "resolvConf": "/etc/resolv.conf",
        # Images are imported, never pulled: image GC must not remove them, nor disk pressure evict pods.
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                         "nodefs.inodesFree": "1%"},
        "maxPods": 60, "serializeImagePulls": False, "podPidsLimit": 1024,
        "shutdownGracePeriod": "0s", "registerNode": True,
    }
    if spec.cgroup_parent:
        kubelet_config["cgroupRoot"] = "/" + spec.cgroup_parent
    with open(os.path.join(d, "kubelet.json"), "w") as f:
        json.dump(kubelet_config, f, indent=2)
    return d


def node_pki(openssl, p, leaf_extensions):
    """The node's client credential, kubelet's serving certificate, the apiserver's kubelet-client one."""
    with open(p("kubelet-san.cnf"), "w") as f:
        f.write(leaf_extensions("subjectAltName=IP:127.0.0.1,DNS:localhost", "extendedKeyUsage=serverAuth"))
    for name, subj, ext in (("node", "/O=system:nodes/CN=system:node:" + NODE_NAME, "client.cnf"),
                            ("kubelet", "/CN=" + NODE_NAME, "kubelet-san.cnf"),
                            ("apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client",
                             "client.cnf")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subj, "-keyout", p(name + ".key"),
                "-out", p(name + ".csr"))
        openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
                "-CAcreateserial", "-days", "30", "-extfile", p(ext), "-out", p(name + ".crt"))


NODE_OBJECTS = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: lifeboat-testbed-node}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:node}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:node:%(node)s"}]
---
# No attacher runs: without this object kubelet waits for a VolumeAttachment nobody makes.
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata: {name: %(driver)s}
spec:
  attachRequired: false
  podInfoOnMount: false
  volumeLifecycleModes: [Persistent]
"""


# ---------------------------------------------------------------- host changes

def ip(*args, check=True):
    res = subprocess.run(["ip"] + list(args), capture_output=True, text=True, check=False)
    if check and res.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), res.stderr.strip()))
    return res


def make_bridge(spec=PRIMARY):
    ip("link", "add", spec.bridge, "type", "bridge")
    ip("addr", "add", spec.gateway + "/" + spec.pod_cidr.split("/")[1], "dev", spec.bridge)
    ip("link", "set", spec.bridge, "up")


def share_kubelet_root(root):
    os.makedirs(root, exist_ok=True)
    subprocess.run(["mount", "--bind", root, root], check=True)
    subprocess.run(["mount", "--make-rshared", root], check=True)


def mounts_under(prefix):
    """Mount points at or below prefix in this mount namespace, deepest first."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix.rstrip("/") + "/"):
                found.append(point)
    return sorted(set(found), key=len, reverse=True)


def unmount_all(prefix):
    for point in mounts_under(prefix):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def remove_cgroups(tops):
    """rmdir the kubepods trees, leaves first (a cgroup with processes refuses and is reported)."""
    for top in tops:
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def processes_from(prefixes, nodes=NODES, node_dir=None):
    """Live processes the nodes started outside our process groups: the shims (their executable is
    under one of prefixes; with node_dir, only those whose command line names that node's directory,
    as a shim's -address does) and the containers (they live in one of the nodes' pod cgroups)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                exe = os.readlink("/proc/%s/exe" % entry)
                with open("/proc/%s/cgroup" % entry) as f:
                    cgroups = f.read()
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    argv = f.read().decode("utf-8", "replace").split("\0")
            except OSError:
                continue
            in_pod = any(n.pod_cgroup in cgroups for n in nodes)
            shim = any(exe.startswith(p) for p in prefixes) and (
                node_dir is None or any(a == node_dir or a.startswith(node_dir + "/") for a in argv))
            if in_pod or shim:
                found.append((int(entry), exe))
    return found


def teardown(run_dir, bindir, nodedir, stop, nodes=(("", "node", PRIMARY),)):
    """Undo everything the nodes did, in order: pods (CNI DEL), kubelet, containerd, shims, mounts,
    netns, the bridges, cgroups and the fixed paths that did not exist before. stop(name) stops a
    component; nodes are (component name prefix, node directory under run_dir, NodeSpec). Returns what is
    still left, compared with the record taken at up (in the first node's directory)."""
    try:
        with open(os.path.join(run_dir, nodes[0][1], "host-before.json")) as f:
            before = json.load(f)
    except (OSError, ValueError):
        return []  # the nodes never started
    for prefix, node_dir, _spec in nodes:
        d = os.path.join(run_dir, node_dir)
        stop(prefix + "kubelet")
        sock = os.path.join(d, "containerd.sock")
        if os.path.exists(sock) and bindir:
            os.makedirs(os.path.join(run_dir, "logs"), exist_ok=True)
            with open(os.path.join(run_dir, "logs", prefix + "cri-reset.log"), "ab") as log:  # kept on failure
                subprocess.run([os.path.join(bindir, "cri-reset"), "--endpoint", "unix://" + sock],
                               stdout=log, stderr=subprocess.STDOUT, timeout=120, check=False)
        stop(prefix + "containerd")
    if nodedir:
        for pid, _exe in processes_from([nodedir]):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        time.sleep(0.2)
    unmount_all(run_dir)
    for name in os.listdir("/run/netns") if os.path.isdir("/run/netns") else []:
        if name.startswith("cni-"):
            subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)
    for _prefix, _node_dir, spec in nodes:
        ip("link", "delete", spec.bridge, check=False)
    remove_cgroups([c for c in kubepods_cgroups() if c not in before["cgroups"]])
    for p in FIXED_PATHS:
        if p not in before["paths"] and os.path.lexists(p):
            unmount_all(p)
            shutil.rmtree(p, ignore_errors=True)
    return leftovers(before, run_dir, nodedir)


def leftovers(before, run_dir, nodedir):
    left = []
    left += ["process %d (%s) still running" % p for p in processes_from([nodedir] if nodedir else [])]
    left += ["mount %s still mounted" % m for m in mounts_under(run_dir)]
    left += ["interface %s still present" % link for link in links() if link not in before["links"]]
    left += ["cgroup %s still present" % c for c in kubepods_cgroups() if c not in before["cgroups"]]
    left += ["%s still present" % p for p in FIXED_PATHS if p not in before["paths"] and os.path.lexists(p)]
    now = read_sysctls()
    left += ["sysctl %s is %s, was %s" % (k, now[k], before["sysctls"].get(k))
             for k in WATCHED_SYSCTLS if now[k] != before["sysctls"].get(k)]
    return left
