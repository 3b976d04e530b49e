# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre and post hooks around the snapshots of the volumes pods mount.

Hooks run only in pods that mount a volume this run snapshots, so a rerun that finds every
snapshot runs none. Pods and the claims they mount form groups (a claim mounted by two pods
joins them); each group runs on its own, concurrently with the others:

    pre hooks of its pods (concurrently) -> its snapshots are cut -> post hooks of its pods

Post hooks follow the cut (the storage's point-in-time copy), not readiness: an application
frozen by a pre hook resumes as soon as it can. They run even when a pre hook or the snapshot
failed, so what a pre hook froze is always thawed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from dataclasses import dataclass
from typing import Any, List

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.concurrency import parallel_map
from ansible_collections.lifeboat.k8s.plugins.module_utils.hooks.running import (
    HookRunner,
    blocking,
    pod_claims,
    pods_path,
    selector_matches,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.hooks.specs import (
    BACKUP_PHASES,
    hooks_for_pod,
    option_hooks,
)


@dataclass
class HookGroup:
    """Pods with hooks and the claims they mount that this run snapshots."""
    pods: List[Any]  # [(pod, {phase: [hooks]})]
    claims: Any


class BackupHooks:
    """Validated at construction (before any change); `groups` then `around` when snapshots are taken."""

    def __init__(self, k8s, namespace, entries, use_annotations, runner=None):
        self.k8s = k8s
        self.namespace = namespace
        self.option = option_hooks(entries, "hooks", BACKUP_PHASES)
        self.use_annotations = use_annotations
        self.runner = runner or HookRunner(k8s)

    def groups(self, claims):
        """The HookGroups for these claims (names); claims no hooked pod mounts are in no group."""
        claims = set(claims)
        if not claims or not (self.option or self.use_annotations):
            return []
        matches = selector_matches(self.k8s, self.namespace, self.option)
        hooked = []
        for pod in self.k8s.list(pods_path(self.namespace)):
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            mounted = pod_claims(pod) & claims
            option = matches.get(pod["metadata"]["name"], [])
            phases = dict((phase, hooks_for_pod(pod, phase, option, self.use_annotations)) for phase in BACKUP_PHASES)
            if mounted and any(phases.values()):
                hooked.append((pod, phases, mounted))
        return _join(hooked)

    def around(self, group, take):
        """Run the group's pre hooks, take(claims) unless a Fail hook failed, then its post hooks.
        Returns (outcomes, what take returned or None, the exception take raised or None)."""
        pre = self.runner.run_pods([(pod, phases["pre"]) for pod, phases in group.pods])
        taken, error = None, None
        if not any(blocking(o) for o in pre):
            try:
                taken = take(sorted(group.claims))
            except Exception as e:  # the post hooks must still run; the caller re-raises it
                error = e
        post = self.runner.run_pods([(pod, phases["post"]) for pod, phases in group.pods])
        return pre + post, taken, error

    def around_all(self, groups, take):
        """around() for every group concurrently: [(group, (outcomes, taken, error))]."""
        return [(group, result) for group, result, _error in parallel_map(lambda g: self.around(g, take), groups)]


def _join(hooked):
    """Group [(pod, phases, claims)] so that pods sharing a claim are in one group."""
    groups: List[Any] = []
    for pod, phases, claims in hooked:
        joined = [g for g in groups if g.claims & claims]
        merged = HookGroup([(pod, phases)], set(claims))
        for group in joined:
            merged.pods = group.pods + merged.pods
            merged.claims |= group.claims
            groups.remove(group)
        groups.append(merged)
    for group in groups:
        group.pods.sort(key=lambda p: p[0]["metadata"]["name"])
    return sorted(groups, key=lambda g: sorted(g.claims))
