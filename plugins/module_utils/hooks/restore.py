# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Post-restore hooks: commands run in the pods of the workloads a restore created, once their
container runs (or is ready, with wait_for_ready), as Velero runs `post.hook.restore.velero.io`.

The restore keeps (few) HookedWorkloads: the Pods, Deployments, StatefulSets, ReplicaSets,
DaemonSets and Jobs it created whose pod template carries hooks. Their pods are found by
following ownerReferences up to them, so pods the restore did not make never run a hook.
A workload's hooks wait for as many pods as it asks for (replicas, parallelism; one for a
DaemonSet or a Pod) up to the hook's wait_timeout (default: the task's). A rerun creates
nothing, so it runs no hook.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, List, Set

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.concurrency import MAX_WORKERS
from ansible_collections.lifeboat.k8s.plugins.module_utils.hooks.running import HookRunner, pods_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.hooks.specs import (
    RESTORE_PHASES,
    hooks_for_pod,
    option_hooks,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.selectors import parse_selector, selector_matches

WORKLOADS = {
    "pods": None, "deployments.apps": "replicas", "statefulsets.apps": "replicas",
    "replicasets.apps": "replicas", "daemonsets.apps": None, "jobs.batch": "parallelism",
}
POLL = 1.0


@dataclass
class HookedWorkload:
    namespace: str
    kind: str
    name: str
    uid: str
    expected: int
    hooks: List[Any]  # its template's: reported when its pods never come up
    wait: float  # seconds its pods may take to come up
    pods: Set[str] = field(default_factory=set)  # names of its pods whose hooks were started


class RestoreHooks:
    """Validated at construction; `watch(item, created)` as objects are created; `run()` after the restore."""

    def __init__(self, k8s, entries, use_annotations, default_wait, runner=None, clock=time.monotonic,
                 sleep=time.sleep):
        self.k8s = k8s
        self.option = [(parse_selector(selector, "restore_hooks.pod_selector"), hook)
                       for selector, hook in option_hooks(entries, "restore_hooks", RESTORE_PHASES)]
        self.use_annotations = use_annotations
        self.default_wait = default_wait
        self.runner = runner or HookRunner(k8s)
        self.clock, self.sleep = clock, sleep
        self.workloads = []
        self._lock = threading.Lock()

    @property
    def active(self):
        return bool(self.option or self.use_annotations)

    def _hooks(self, meta):
        """The hooks a pod with this metadata runs."""
        labels = meta.get("labels") or {}
        matched = [hook for requirements, hook in self.option if selector_matches(requirements, labels)]
        return hooks_for_pod({"metadata": meta}, "post", matched, self.use_annotations, restore=True)

    def watch(self, res_dir, created):
        """Note a created object whose pods will run hooks."""
        if not self.active or res_dir not in WORKLOADS:
            return
        spec = created.get("spec") or {}
        template = created["metadata"] if res_dir == "pods" else (spec.get("template") or {}).get("metadata") or {}
        hooks = self._hooks(template)
        if not hooks:
            return
        field = WORKLOADS[res_dir]
        expected = spec.get(field, 1) if field else 1
        meta = created["metadata"]
        wait = max([h.wait_timeout for h in hooks if h.wait_timeout] or [self.default_wait])
        with self._lock:
            self.workloads.append(HookedWorkload(meta["namespace"], res_dir, meta["name"], meta.get("uid"),
                                                 expected if isinstance(expected, int) else 1, hooks, wait))

    def run(self):
        """Run the hooks of every watched workload's pods as they come up; the outcomes."""
        pending = [w for w in self.workloads if w.expected > 0]
        if not pending:
            return []
        started = self.clock()
        outcomes: List[Any] = []
        futures: List[Any] = []
        late: List[Any] = []
        owners: Dict[Any, Any] = {}
        with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
            while pending:
                for pod, workload in self._new_pods(pending, owners):
                    hooks = self._hooks(pod["metadata"])
                    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                        workload.pods.add(pod["metadata"]["name"])
                        outcomes.append(_finished(pod, hooks))
                    elif pod_up(pod, hooks):
                        workload.pods.add(pod["metadata"]["name"])
                        futures.append(pool.submit(self.runner.run_pod, pod, hooks))
                waited = self.clock() - started
                late += [w for w in pending if len(w.pods) < w.expected and waited >= w.wait]
                pending = [w for w in pending if len(w.pods) < w.expected and w not in late]
                if pending:
                    self.sleep(POLL)
            for future in futures:
                outcomes.extend(future.result())
        return outcomes + [_not_started(workload) for workload in late]

    def _new_pods(self, pending, owners):
        """[(pod, its workload)] of pods not yet handled whose owner chain leads to a pending workload."""
        by_uid = dict((w.uid, w) for w in pending)
        found = []
        for namespace in sorted(set(w.namespace for w in pending)):
            for pod in self.k8s.list(pods_path(namespace)):
                meta = pod["metadata"]
                workload = by_uid.get(meta.get("uid")) or by_uid.get(self._top_owner(namespace, meta, owners))
                if workload is None or meta["name"] in workload.pods or meta.get("deletionTimestamp"):
                    continue
                found.append((pod, workload))
        return found

    def _top_owner(self, namespace, meta, owners, depth=0):
        """The uid of the outermost controller above an object (ReplicaSet -> Deployment), cached."""
        ref = next((r for r in meta.get("ownerReferences") or [] if r.get("controller")), None)
        if ref is None or depth > 3:
            return meta.get("uid")
        if ref["uid"] not in owners:
            owners[ref["uid"]] = ref["uid"]
            if ref.get("kind") == "ReplicaSet":
                owner = self.k8s.get_or_none("/apis/apps/v1/namespaces/%s/replicasets/%s" % (namespace, ref["name"]))
                if owner is not None:
                    owners[ref["uid"]] = self._top_owner(namespace, owner["metadata"], owners, depth + 1)
        return owners[ref["uid"]]


def pod_up(pod, hooks):
    """Every container a hook runs in is running (ready, for a hook with wait_for_ready)."""
    containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    statuses = dict((s.get("name"), s) for s in (pod.get("status") or {}).get("containerStatuses") or [])
    for hook in hooks:
        status = statuses.get(hook.container or (containers[0] if containers else None))
        if status is None or "running" not in (status.get("state") or {}):
            return False
        if hook.wait_for_ready and not status.get("ready"):
            return False
    return True


def _finished(pod, hooks):
    """As Velero: a pod that finished before its hooks could run is passed over, with a warning."""
    meta = pod["metadata"]
    return dict(hooks[0].describe(), pod=meta["name"], namespace=meta["namespace"], exit_code=None, stdout="",
                stderr="", seconds=0.0, status="skipped",
                error="pod %s/%s was %s before its post-restore hooks could run" % (
                    meta["namespace"], meta["name"], pod["status"]["phase"]))


def _not_started(workload):
    """A failed outcome for a workload whose pods did not all come up in time (Fail if any of its hooks is)."""
    hook = next((h for h in workload.hooks if h.on_error == "Fail"), workload.hooks[0])
    return dict(hook.describe(), pod=None, namespace=workload.namespace, exit_code=None, stdout="", stderr="",
                seconds=0.0, status="failed",
                error="%s %s/%s: %d of its %d pod(s) did not come up within %gs, so their post-restore hooks did not "
                      "run" % (workload.kind, workload.namespace, workload.name,
                               workload.expected - len(workload.pods), workload.expected, workload.wait))
