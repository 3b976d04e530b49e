#!/usr/bin/env python
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the time of a backup and a restore goes: the top functions of each module process under cProfile.

Fills a namespace with ConfigMaps and Secrets (default 10,000), then runs object_backup, object_restore
into a new namespace and object_restore again (existing: update, which compares everything), each as
its own module process under `python -m cProfile`, and prints each one's top functions by own time
and by cumulative time. The .prof files are kept (--keep DIR) for snakeviz or pstats.

cProfile sees the main thread only: time spent in the worker threads' API calls shows up as the main
thread waiting (concurrent.futures, queue.get, threading.wait); py-spy sees all threads, if you have it.

usage: eval "$(tests/testbed/testbed env)"
       ANSIBLE_COLLECTIONS_PATH=~/.cache/lifeboat/build-<key> $(hack/venv.sh)/bin/python benchmarks/profile_objects.py
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time

import objects as common

SRC, COPY = "lb-profile-src", "lb-profile-copy"


def profiled(name, args, workdir, label, top):
    prof = os.path.join(workdir, label + ".prof")
    started = time.monotonic()
    proc = subprocess.run(common.module_command(name, args, workdir, label, runner=("-m", "cProfile", "-o", prof)),
                          capture_output=True, text=True, env=common.module_env(), check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0 or '"failed": true' in proc.stdout:
        sys.exit("%s failed: %s %s" % (label, proc.stdout[-3000:], proc.stderr[-3000:]))
    print("\n===== %s: %.2f s =====" % (label, elapsed))
    stats = pstats.Stats(prof)
    stats.strip_dirs()
    for order in ("tottime", "cumulative"):
        print("--- top %d by %s" % (top, order))
        stats.sort_stats(order).print_stats(top)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10000)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--keep", help="a directory to keep the .prof files in")
    args = parser.parse_args()
    core = common.api()
    workdir = tempfile.mkdtemp(prefix="lifeboat-profile-")
    kubeconfig = os.environ["KUBECONFIG"]
    defaults = {"kubeconfig": kubeconfig, "storage": "file://" + os.path.join(workdir, "store"), "name": "profile"}
    try:
        common.delete_namespaces(core, [SRC, COPY])
        core.create_namespace({"metadata": {"name": SRC}})
        print("creating %d objects ..." % args.objects, file=sys.stderr)
        common.create_all(core, SRC, common.make_objects(args.objects))
        profiled("object_backup", dict(defaults, namespaces=[SRC], include_resources=["configmaps", "secrets"]),
                 workdir, "backup", args.top)
        restore = dict(defaults, namespace_mapping={SRC: COPY})
        profiled("object_restore", restore, workdir, "restore", args.top)
        profiled("object_restore", dict(restore, existing="update"), workdir, "restore-rerun", args.top)
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            for name in os.listdir(workdir):
                if name.endswith(".prof"):
                    shutil.copy(os.path.join(workdir, name), args.keep)
    finally:
        common.delete_namespaces(core, [SRC, COPY])
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
