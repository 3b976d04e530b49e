"""An oracle for `testbed down`, independent of node.py: records what the host looks like before the
bed starts and, after it is down, fails naming every difference the node could have caused.

    hoststate.py save FILE     record the host
    hoststate.py check FILE    compare the host with the record; exit 1 naming each difference

It reads the host through other means than node.py does (sysctl(8), ip(8), /proc/mounts, ps-like
scans by command name), so a mistake in the bed's own check does not hide itself.
"""

import glob
import json
import os
import subprocess
import sys

SYSCTLS = ("vm.overcommit_memory", "vm.panic_on_oom", "kernel.panic", "kernel.panic_on_oops",
           "kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes", "net.ipv4.ip_forward",
           "net.ipv4.conf.all.forwarding", "net.ipv6.conf.all.forwarding")
PATHS = ("/var/log/containers", "/var/log/pods", "/run/containerd", "/var/lib/cni", "/run/netns",
         "/var/lib/kubelet", "/var/lib/containerd", "/etc/cni", "/opt/cni", "/opt/containerd",
         "/etc/kubernetes", "/usr/libexec/kubernetes")
COMMANDS = ("containerd", "containerd-shim", "containerd-shim-runc-v2", "kubelet", "kube-scheduler", "runc",
            "pause", "httpd", "hostpath-csi")


def sysctls():
    out = subprocess.run(["sysctl", "-n"] + list(SYSCTLS), capture_output=True, text=True, check=False).stdout
    return dict(zip(SYSCTLS, out.split("\n")))


def snapshot():
    with open("/proc/mounts") as f:
        mounts = sorted(set(line.split()[1] for line in f))
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False).stdout
    commands = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                name, _sep, rest = f.read().partition(" (")[2].rpartition(") ")
        except OSError:
            continue
        # A zombie holds nothing; it waits for PID 1 (not always a prompt reaper) to collect it.
        if rest.split()[:1] == ["Z"]:
            continue
        if name in COMMANDS or name.startswith("containerd-shim"):
            commands.append(name)
    return {
        "sysctls": sysctls(),
        "paths": sorted(p for p in PATHS if os.path.lexists(p)),
        "mounts": mounts,
        "links": sorted(line.split(":")[1].strip().split("@")[0] for line in links.splitlines() if ":" in line),
        "netns": sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else [],
        # /kubepods (the primary node), lifeboat-dr (the DR node's cgroupRoot).
        "cgroups": sorted(glob.glob("/sys/fs/cgroup/*/kubepods") + glob.glob("/sys/fs/cgroup/*/kubepods.slice")
                          + glob.glob("/sys/fs/cgroup/*/lifeboat-*")),
        "processes": sorted(commands),
    }


def differences(before, after):
    found = []
    for key in sorted(before):
        old, new = before[key], after[key]
        if isinstance(old, dict):
            found += ["%s %s: %s before, %s now" % (key, k, old[k], new.get(k)) for k in sorted(old) if old[k] != new.get(k)]
        else:
            found += ["%s: %s appeared" % (key, x) for x in new if x not in old]
            found += ["%s: %s disappeared" % (key, x) for x in old if x not in new]
    return found


def main(argv):
    if len(argv) != 3 or argv[1] not in ("save", "check"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if argv[1] == "save":
        with open(argv[2], "w") as f:
            json.dump(snapshot(), f, indent=1)
        return 0
    with open(argv[2]) as f:
        before = json.load(f)
    found = differences(before, snapshot())
    if found:
        print("hoststate: the host differs from before the test bed:\n  " + "\n  ".join(found), file=sys.stderr)
        return 1
    print("hoststate: the host is as it was before the test bed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
