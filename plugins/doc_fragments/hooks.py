# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Exec hooks: volume_snapshot's around snapshots (BACKUP), object_restore's in restored pods (RESTORE).
    # Every entry takes the same name, pod_selector, container, command, on_error and timeout (the argument specs
    # share options/common.py HOOK_ARG_SPEC); a unit test holds the two texts and the spec together.
    BACKUP = r"""
options:
  hooks:
    description:
      - Commands to run in the pods that mount the PVCs being snapshotted, through the pods' C(exec)
        subresource (the identity needs C(create) on C(pods/exec)), to make the snapshot application-consistent;
        for example flush and freeze a database (C(pre)) and thaw it (C(post)).
      - Hooks run only in pods (not Succeeded or Failed) that mount a PVC this task snapshots; a rerun that finds
        every snapshot runs none. Pods sharing a PVC are run together. For each such group, concurrently with the
        others, the pods' C(pre) hooks run (concurrently across pods, in order within a pod), its snapshots are
        created and waited for until the storage has cut them (not until ready), then the pods' C(post) hooks
        run. Post hooks run even when a pre hook or the snapshot failed, so what a pre hook froze is thawed.
      - A failed hook (non-zero exit, timeout, no such container, exec refused) with I(on_error=Fail) stops that
        pod's remaining hooks of the phase, skips its group's snapshots, deletes every snapshot this run created
        and fails the task with every hook's outcome in C(hooks). With C(Continue) it is a warning.
      - A pod with Velero's hook annotations for a phase (see I(hook_annotations)) runs those instead of these,
        as Velero does.
    type: list
    elements: dict
    suboptions:
      name:
        description: A name for the hook in results and messages. Default C(hooks[<index>]).
        type: str
      pod_selector:
        description: Label selector of the pods to run it in (C(app=db)); an empty string selects every pod.
        type: str
        required: true
      phase:
        description: C(pre) runs before the snapshots of the pod's volumes, C(post) after they are cut.
        type: str
        choices: [pre, post]
        default: pre
      container:
        description: The container to run it in. Default the pod's first container.
        type: str
      command:
        description:
          - The command and its arguments, run without a shell (give C([/bin/sh, -c, "..."]) for one).
          - A string is read as Velero reads its annotation, a JSON array or else a single word.
        type: raw
        required: true
      on_error:
        description: What a failure of this hook does to the task.
        type: str
        choices: [Fail, Continue]
        default: Fail
      timeout:
        description: How long the command may run, a duration (C(30s), C(2m)) or seconds; it fails after that.
        type: raw
        default: 30s
  hook_annotations:
    description:
      - Run the hooks of Velero's pod annotations too, read as Velero reads them
        (C(pre.hook.backup.velero.io/command), C(/container), C(/on-error), C(/timeout), the C(post.) variants,
        and the unprefixed C(hook.backup.velero.io/...) keys as pre hooks).
      - A command annotation is a JSON array (C(["/bin/sh", "-c", "sync"])) or else a single word; on-error
        defaults to C(Fail), the container to the pod's first, the timeout to C(30s).
    type: bool
    default: true
"""

    RESTORE = r"""
options:
  restore_hooks:
    description:
      - Commands to run, through the C(exec) subresource (the identity needs C(create) on C(pods/exec)), in the pods
        of the workloads this task creates (Pods, Deployments, StatefulSets, ReplicaSets, DaemonSets, Jobs) once the
        container runs; for example to load a dump or warm a cache. Pods the restore did not create never run one,
        and a rerun, which creates nothing, runs none.
      - The task waits for as many pods as a workload asks for (replicas, parallelism; one otherwise) for up to the
        hook's I(wait_timeout), then runs each pod's hooks in order, pods concurrently. A hook that fails, or whose
        pods do not come up in time, with I(on_error=Fail) fails the task (the objects stay restored; the result
        lists every hook in C(hooks)); with C(Continue) it is a warning. A pod that finished first is passed over
        with a warning, as in Velero.
      - A pod with Velero's C(post.hook.restore.velero.io/command) annotation (see I(hook_annotations)) runs that
        instead of these.
    type: list
    elements: dict
    suboptions:
      name:
        description: A name for the hook in results and messages. Default C(restore_hooks[<index>]).
        type: str
      pod_selector:
        description: Label selector the pod (its template's labels) must match (C(app=db)); an empty string matches
          every restored pod.
        type: str
        required: true
      phase:
        description: Only C(post) (after the restore), as Velero's exec restore hooks.
        type: str
        choices: [post]
        default: post
      container:
        description: The container to run it in. Default the pod's first container.
        type: str
      command:
        description:
          - The command and its arguments, run without a shell (give C([/bin/sh, -c, "..."]) for one).
          - A string is read as Velero reads its annotation, a JSON array or else a single word.
        type: raw
        required: true
      on_error:
        description: What a failure of this hook does to the task.
        type: str
        choices: [Fail, Continue]
        default: Fail
      timeout:
        description: How long the command may run, a duration (C(30s), C(2m)) or seconds.
        type: raw
        default: 30s
      wait_timeout:
        description: How long to wait for the pod's container to come up. Default I(wait_timeout).
        type: raw
      wait_for_ready:
        description: Wait for the container to be ready, not only running.
        type: bool
        default: false
  hook_annotations:
    description:
      - Run the post-restore hooks of Velero's pod annotations, read as Velero reads them,
        C(post.hook.restore.velero.io/command), C(/container), C(/on-error), C(/exec-timeout), C(/wait-timeout),
        C(/wait-for-ready), on the pod or in a workload's pod template. Defaults as in Velero (on-error C(Fail),
        the first container, exec timeout C(30s)), except that the wait defaults to I(wait_timeout).
    type: bool
    default: true
"""
