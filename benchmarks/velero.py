#!/usr/bin/env python
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lifeboat against Velero: backup and restore of the same namespace, in one run, as ratios.

For each size, one namespace of ConfigMaps and Secrets (1 KiB each) is backed up by Velero
(`velero backup create --wait`, the bed's Velero server at its defaults) and by object_backup
(through ansible-playbook, Ansible's start-up included), then restored by each into a new
namespace; what ansible-playbook costs for any task (a playbook of one debug task, one of ping) is
measured beside them. The order of the two contenders alternates from one size to the next. Memory:
the Velero server's peak resident set (VmHWM, the process lives through the whole run) and
the peak of the largest ansible-playbook descendant (ru_maxrss of reaped children).

usage: make testbed-up collection; eval "$(tests/testbed/testbed env)";
       ANSIBLE_COLLECTIONS_PATH=... python benchmarks/velero.py [--sizes 1000,5000]
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from objects import api, create_all, delete_namespaces, make_objects, playbook


def velero(*args):
    started = time.monotonic()
    proc = subprocess.run([os.environ["LIFEBOAT_VELERO"], "--kubeconfig", os.environ["KUBECONFIG"], "-n", "velero"]
                          + list(args), capture_output=True, text=True, check=False)
    if proc.returncode != 0 or "Completed" not in proc.stdout and "--wait" in args:
        sys.exit("velero %s failed:\n%s\n%s" % (" ".join(args), proc.stdout[-2000:], proc.stderr[-2000:]))
    return time.monotonic() - started


def velero_peak_mb():
    with open(os.path.join(os.environ["LIFEBOAT_TESTBED_DIR"], "pids", "velero.json")) as f:
        pid = json.load(f)["pid"]
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    return None


def lifeboat_peak_mb():
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def measure(core, size, workdir, lifeboat_first):
    src, vcopy, lcopy = "lb-vs-src-%d" % size, "lb-vs-velero-%d" % size, "lb-vs-lifeboat-%d" % size
    vname, lname = "bench-velero-%d-%d" % (size, time.time()), "bench-lifeboat-%d-%d" % (size, time.time())
    delete_namespaces(core, [src, vcopy, lcopy])
    core.create_namespace({"metadata": {"name": src}})
    print("creating %d objects in %s ..." % (size, src), file=sys.stderr)
    create_all(core, src, make_objects(size))
    time.sleep(2)
    storage = {"storage": "s3://%s/%s" % (os.environ["LIFEBOAT_S3_BUCKET"], os.environ["LIFEBOAT_VELERO_PREFIX"]),
               "endpoint_url": os.environ["LIFEBOAT_S3_ENDPOINT"], "kubeconfig": os.environ["KUBECONFIG"]}
    times = {}

    def ours_backup():
        times["lifeboat_backup_s"], result = playbook({"lifeboat.k8s.object_backup": dict(
            storage, name=lname, namespaces=[src])}, workdir, "backup-%d" % size)
        times["items"] = result["backup"]["total_items"]

    def theirs_backup():
        times["velero_backup_s"] = velero("backup", "create", vname, "--include-namespaces", src, "--wait")

    def ours_restore():
        times["lifeboat_restore_s"], result = playbook({"lifeboat.k8s.object_restore": dict(
            storage, name=lname, namespace_mapping={src: lcopy})}, workdir, "restore-%d" % size)
        times["lifeboat_restored"] = result["totals"]["created"]

    def theirs_restore():
        times["velero_restore_s"] = velero("restore", "create", vname, "--from-backup", vname,
                                           "--namespace-mappings", "%s:%s" % (src, vcopy), "--wait")

    for step in ((ours_backup, theirs_backup), (ours_restore, theirs_restore)):
        for run in (step if lifeboat_first else reversed(step)):
            run()
    # What any task costs through ansible-playbook, whatever it does: a playbook of one debug task (no module
    # runs) and one of ansible.builtin.ping (the smallest module).
    times["ansible_empty_s"] = playbook({"ansible.builtin.debug": {"msg": "start-up"}}, workdir, "empty")[0]
    times["ansible_ping_s"] = playbook({"ansible.builtin.ping": {}}, workdir, "ping")[0]
    try:
        delete_namespaces(core, [src, vcopy, lcopy])
    finally:
        for cmd in (("restore", "delete", vname, "--confirm"), ("backup", "delete", vname, "--confirm")):
            velero(*cmd)
        playbook({"lifeboat.k8s.object_backup": dict(storage, name=lname, state="absent")}, workdir,
                 "delete-%d" % size)
    return {
        "objects": size, "items_in_backup": times["items"], "lifeboat_first": lifeboat_first,
        "velero": {"backup_s": round(times["velero_backup_s"], 2), "restore_s": round(times["velero_restore_s"], 2)},
        "ansible_playbook_of": {"debug_s": round(times["ansible_empty_s"], 2),
                                "ping_s": round(times["ansible_ping_s"], 2)},
        "lifeboat": {"backup_s": round(times["lifeboat_backup_s"], 2),
                     "restore_s": round(times["lifeboat_restore_s"], 2), "restored": times["lifeboat_restored"]},
        "ratios_velero_over_lifeboat": {
            "backup": round(times["velero_backup_s"] / times["lifeboat_backup_s"], 2),
            "restore": round(times["velero_restore_s"] / times["lifeboat_restore_s"], 2)},
        "peak_rss_mb_so_far": {"velero_server": velero_peak_mb(), "lifeboat_largest_process": lifeboat_peak_mb()},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000")
    args = parser.parse_args()
    if "LIFEBOAT_VELERO" not in os.environ:
        sys.exit("needs the bed's Velero peer: tests/testbed/testbed velero, then eval \"$(tests/testbed/testbed env)\"")
    core = api()
    workdir = tempfile.mkdtemp(prefix="lifeboat-bench-velero-")
    try:
        results = [measure(core, int(size), workdir, i % 2 == 0) for i, size in enumerate(args.sizes.split(","))]
        print(json.dumps({"runs": results}, indent=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
