# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a pod's hooks in order through the exec subresource, and report each as a plain dict.

A hook that cannot run (no such container, exec forbidden by RBAC, the pod gone) is a failed
hook like one that exits non-zero: its on_error decides. A failed Fail hook stops the pod's
remaining hooks of that phase, as in Velero. Pods are run concurrently.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from typing import Any, Dict

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.concurrency import parallel_map
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import LifeboatError
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.pod_exec import exec_in_pod


def pods_path(namespace, name=None):
    return resource_path("", "v1", "pods", namespace, name)


def pod_claims(pod):
    """Names of the PVCs the pod mounts."""
    return set((volume.get("persistentVolumeClaim") or {}).get("claimName")
               for volume in (pod.get("spec") or {}).get("volumes") or []
               if (volume.get("persistentVolumeClaim") or {}).get("claimName"))


def selector_matches(k8s, namespace, option_hooks):
    """{pod name: [hooks]} of the option's hooks, each selector answered by the apiserver."""
    matches: Dict[Any, Any] = {}
    for selector, hook in option_hooks:
        for pod in k8s.list(pods_path(namespace), label_selector=selector or None):
            matches.setdefault(pod["metadata"]["name"], []).append(hook)
    return matches


def blocking(outcome):
    """True for a failed hook whose on_error is Fail."""
    return outcome["status"] == "failed" and outcome["on_error"] == "Fail"


class HookRunner:
    def __init__(self, k8s, exec_fn=None):
        self.k8s = k8s
        self.exec_fn = exec_fn or exec_in_pod

    def run_pods(self, pod_hooks):
        """Run [(pod, [hooks])] concurrently across pods; the outcomes, pod by pod in the given order."""
        done = parallel_map(lambda pair: self.run_pod(*pair), [p for p in pod_hooks if p[1]])
        outcomes = []
        for _pair, result, error in done:
            if error is not None:
                raise error  # a bug: run_pod reports every failure it expects as an outcome
            outcomes.extend(result)
        return outcomes

    def run_pod(self, pod, hooks):
        outcomes = []
        for hook in hooks:
            outcome = self.run_one(pod, hook)
            outcomes.append(outcome)
            if blocking(outcome):
                break
        return outcomes

    def run_one(self, pod, hook):
        meta = pod["metadata"]
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = hook.container or (containers[0] if containers else None)
        outcome = dict(hook.describe(), pod=meta["name"], namespace=meta["namespace"], container=container,
                       exit_code=None, stdout="", stderr="", seconds=0.0, error=None)
        if container not in containers:
            return dict(outcome, status="failed", error="no such container %r in pod %s/%s (it has: %s)" % (
                container, meta["namespace"], meta["name"], ", ".join(containers) or "none"))
        try:
            result = self.exec_fn(self.k8s, meta["namespace"], meta["name"], container, hook.command, hook.timeout)
        except LifeboatError as e:
            return dict(outcome, status="failed", error=e.message)
        error = result.error or (None if result.exit_code == 0 else "exited with code %s" % result.exit_code)
        return dict(outcome, status="succeeded" if result.ok else "failed", exit_code=result.exit_code,
                    stdout=result.stdout, stderr=result.stderr, seconds=round(result.seconds, 3), error=error,
                    output_truncated=result.truncated)


def summary(outcome):
    """One line for a message or a warning."""
    return "%s hook %s in %s/%s (container %s): %s" % (
        outcome["phase"], outcome["source"], outcome["namespace"], outcome["pod"], outcome["container"],
        outcome["error"] + (": " + outcome["stderr"].strip()[-300:] if outcome.get("stderr", "").strip() else ""))


RECORD_OUTPUT = 1024  # characters of each stream kept in a snapshot record, which the backup stores


class HookReport:
    """The outcomes of a run's hooks, for the result, for warnings and for the snapshots they surround."""

    def __init__(self):
        self.outcomes = []
        self.by_snapshot = {}

    def add(self, snapshots, outcomes):
        self.outcomes.extend(outcomes)
        for snapshot in snapshots:
            self.by_snapshot[snapshot] = outcomes

    @property
    def blocking(self):
        return [o for o in self.outcomes if blocking(o)]

    def attach(self, snapshot, record):
        """The record with its hooks' outcomes (output cut to its last RECORD_OUTPUT characters)."""
        if snapshot not in self.by_snapshot:
            return record
        return dict(record, hooks=[dict(o, stdout=o["stdout"][-RECORD_OUTPUT:], stderr=o["stderr"][-RECORD_OUTPUT:],
                                        output_truncated=o.get("output_truncated") or len(o["stdout"]) > RECORD_OUTPUT
                                        or len(o["stderr"]) > RECORD_OUTPUT)
                                   for o in self.by_snapshot[snapshot]])

    def result(self):
        if not self.outcomes:
            return {}
        return {"hooks": self.outcomes, "warnings": hook_warnings(self.outcomes)}


def hook_warnings(outcomes):
    """Warnings for hooks that failed with on_error Continue, or were passed over."""
    return [("on_error Continue: " if o["status"] == "failed" else "") + summary(o) for o in outcomes
            if (o["status"] == "failed" and o["on_error"] == "Continue") or o["status"] == "skipped"]
