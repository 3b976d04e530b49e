# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Do two PVCs hold the same files? Two ways to look:

hostpath  the CSI hostpath driver keeps each volume as a directory named by its
          volume handle under a state directory on this machine: hash the files.
job       a Job per volume (a pod can only mount PVCs of its own namespace, and
          the two sides may be in different clusters) mounts it read-only and
          prints the SHA-256 of every file; the listings are compared here.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import hashlib
import os
from typing import Any, Dict, List, TYPE_CHECKING

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.concurrency import parallel_map
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ConflictError,
    InvalidInputError,
    LifeboatError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.waiting import wait_until
from ansible_collections.lifeboat.k8s.plugins.module_utils.verify.namespace import ready_nodes

if TYPE_CHECKING:  # the types only: at run time the services do not import their callers' options
    from ansible_collections.lifeboat.k8s.plugins.module_utils.options.verify import VolumeCompareOptions


MAX_MISMATCHES = 20
JOB_SCRIPT = "cd /volume && find . -type f -print0 | sort -z | xargs -0 -r sha256sum"


def _pvc(k8s, namespace, name):
    pvc = k8s.get_or_none(resource_path("", "v1", "persistentvolumeclaims", namespace, name))
    if pvc is None:
        raise NotFoundError("PersistentVolumeClaim %s/%s does not exist" % (namespace, name))
    return pvc


# ---------------------------------------------------------------- hostpath

def hash_tree(root):
    """{relative path: sha256} of every regular file under root, read in blocks."""
    listing = {}
    for directory, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            listing["./" + os.path.relpath(path, root)] = digest.hexdigest()
    return listing


def _volume_dir(k8s, namespace, name, state_dir):
    pvc = _pvc(k8s, namespace, name)
    volume = (pvc.get("spec") or {}).get("volumeName")
    if not volume:
        raise LifeboatError("PersistentVolumeClaim %s/%s is not bound to a volume (phase %s)" % (
            namespace, name, (pvc.get("status") or {}).get("phase")))
    pv = k8s.get(resource_path("", "v1", "persistentvolumes", None, volume))
    handle = ((pv.get("spec") or {}).get("csi") or {}).get("volumeHandle")
    path = os.path.join(state_dir, handle or "")
    if not handle or not os.path.isdir(path):
        raise LifeboatError("the volume of %s/%s (%s) is not a directory under state_dir %s" % (
            namespace, name, volume, state_dir))
    return path


# ---------------------------------------------------------------- job

def job_name(namespace, pvc):
    return "lifeboat-verify-" + hashlib.sha256(("%s/%s" % (namespace, pvc)).encode()).hexdigest()[:12]


def job_spec(namespace, pvc, image):
    name = job_name(namespace, pvc)
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"app.kubernetes.io/managed-by": "lifeboat", "lifeboat.k8s/verify": "checksums"}},
        "spec": {
            "backoffLimit": 0, "ttlSecondsAfterFinished": 3600,
            "template": {"metadata": {"labels": {"lifeboat.k8s/verify": "checksums"}}, "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "sha256", "image": image, "command": ["sh", "-c", JOB_SCRIPT],
                                "volumeMounts": [{"name": "volume", "mountPath": "/volume", "readOnly": True}],
                                "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False}}],
                "volumes": [{"name": "volume", "persistentVolumeClaim": {"claimName": pvc, "readOnly": True}}],
            }},
        },
    }


def parse_listing(text):
    listing = {}
    for line in text.splitlines():
        digest, _sep, path = line.partition("  ")
        if path:
            listing[path] = digest
    return listing


class JobLister:
    def __init__(self, k8s, options: VolumeCompareOptions):
        self.k8s = k8s
        self.image = options.image
        self.timeout = options.wait_timeout
        self.jobs: List[Any] = []

    def create(self, namespace, pvc):
        _pvc(self.k8s, namespace, pvc)
        spec = job_spec(namespace, pvc, self.image)
        self.jobs.append(spec)
        try:
            self.k8s.create(resource_path("batch", "v1", "jobs", namespace), spec)
        except ConflictError:
            pass  # left by an earlier run with keep_jobs: same name, same spec
        return spec

    def listing(self, spec):
        namespace, name = spec["metadata"]["namespace"], spec["metadata"]["name"]
        job_path = resource_path("batch", "v1", "jobs", namespace, name)

        def finished():
            status = self.k8s.get(job_path).get("status") or {}
            return status.get("succeeded") or status.get("failed")
        wait_until(finished, self.timeout, "Job %s/%s to finish" % (namespace, name))
        pods = list(self.k8s.list(resource_path("", "v1", "pods", namespace), label_selector="job-name=" + name))
        if not pods:
            raise LifeboatError("Job %s/%s has no pod to read" % (namespace, name))
        log = self.k8s.request("GET", resource_path("", "v1", "pods", namespace, pods[0]["metadata"]["name"], "log"),
                               raw=True).decode("utf-8", "replace")
        if (self.k8s.get(job_path).get("status") or {}).get("failed"):
            raise LifeboatError("Job %s/%s failed: %s" % (namespace, name, log[-500:]))
        return parse_listing(log)

    def delete_all(self):
        for spec in self.jobs:
            meta = spec["metadata"]
            self.k8s.delete(resource_path("batch", "v1", "jobs", meta["namespace"], meta["name"]))


# ---------------------------------------------------------------- comparing

def compare_listings(source, target):
    problems = []
    for path in sorted(set(source) | set(target)):
        if path not in target:
            problems.append("%s is missing from the restored volume" % path)
        elif path not in source:
            problems.append("%s is only in the restored volume" % path)
        elif source[path] != target[path]:
            problems.append("%s differs (SHA-256 %s vs %s)" % (path, source[path][:12], target[path][:12]))
    return problems


def volume_compare(source_k8s, target_k8s, options: VolumeCompareOptions, check_mode=False):
    pairs = options.pairs
    src_ns, dst_ns = options.source_namespace, options.target_namespace
    method = options.method
    if method == "hostpath":
        state_dir = options.state_dir
        if not state_dir or not os.path.isdir(state_dir):
            raise InvalidInputError("state_dir: %r is not a directory (the hostpath driver's state directory)"
                                    % (state_dir,))

        def check(pair):
            src, dst = pair
            return hash_tree(_volume_dir(source_k8s, src_ns, src, state_dir)), \
                hash_tree(_volume_dir(target_k8s, dst_ns, dst, state_dir))
        return _result(pairs, parallel_map(check, pairs), method, src_ns, dst_ns)

    listers = (JobLister(source_k8s, options), JobLister(target_k8s, options))
    specs = [(job_spec(src_ns, s, options.image), job_spec(dst_ns, d, options.image)) for s, d in pairs]
    if check_mode:
        return {"changed": False, "method": method, "passed": None, "volumes": [], "jobs": [j for p in specs for j in p]}
    nodes = (ready_nodes(source_k8s), ready_nodes(target_k8s))
    try:
        for src, dst in pairs:
            listers[0].create(src_ns, src)
            listers[1].create(dst_ns, dst)
        jobs = listers[0].jobs + listers[1].jobs
        if 0 in nodes:
            reason = "skipped: no nodes (the %s cluster has no ready node to run the Jobs)" % (
                "source" if nodes[0] == 0 else "target")
            volumes = [{"source": "%s/%s" % (src_ns, s), "target": "%s/%s" % (dst_ns, d), "status": "skipped",
                        "reason": reason} for s, d in pairs]
            return {"changed": True, "method": method, "passed": None, "volumes": volumes, "jobs": jobs}

        def check(index):
            return listers[0].listing(listers[0].jobs[index]), listers[1].listing(listers[1].jobs[index])
        outcomes = parallel_map(check, range(len(pairs)))
        result = _result(pairs, [(pairs[i], r, e) for i, r, e in outcomes], method, src_ns, dst_ns)
        result.update(changed=True, jobs=jobs)
        return result
    finally:
        if not options.keep_jobs:
            for lister in listers:
                lister.delete_all()


def _result(pairs, outcomes, method, src_ns, dst_ns):
    volumes = []
    for (src, dst), listings, error in outcomes:
        entry: Dict[str, Any] = {"source": "%s/%s" % (src_ns, src), "target": "%s/%s" % (dst_ns, dst)}
        if error is not None:
            entry.update(status="failed", reason=str(getattr(error, "message", error)))
        else:
            problems = compare_listings(*listings)
            entry.update(files=len(listings[0]), status="failed" if problems else "passed",
                         reason="; ".join(problems[:MAX_MISMATCHES]) if problems else
                         "%d files, identical SHA-256" % len(listings[0]))
        volumes.append(entry)
    return {"changed": False, "method": method, "passed": all(v["status"] == "passed" for v in volumes),
            "volumes": volumes}
