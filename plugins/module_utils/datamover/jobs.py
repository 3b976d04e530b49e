# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Short-lived Jobs that mount a volume and run a data mover's container, with their credentials in a
Secret of their own.

Names are deterministic (`lb-<verb>-<digest>`), so a rerun finds what an interrupted run left: a Job
that finished is read, one that failed or lost its pod is deleted and started again. Every object
carries MANAGED_BY and JOB_FOR; nothing without both is ever deleted. The Secret goes when the Job
is done, also when it failed, so no credential outlives the run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import time
from typing import Any, Dict, List

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ConflictError,
    LifeboatError,
    NotFoundError,
    WaitTimeoutError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.waiting import wait_until

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "lifeboat"
JOB_FOR = "lifeboat.k8s/data-mover-for"
LOG_LINES = 200
# What the Job controller's FailedCreate says when the namespace's ResourceQuota or LimitRange refuses the pod as
# it is (the Job's resources must change), not for now (an exceeded quota may clear as other pods end).
PERMANENT_REFUSALS = ("must specify", "maximum cpu usage", "maximum memory usage", "minimum cpu usage",
                      "minimum memory usage", "limit to request ratio")
# Waiting reasons that will not resolve by waiting: the image is wrong, or cannot be pulled.
STUCK = ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "CreateContainerConfigError")


def object_name(verb, *parts):
    """A DNS-label name that is the same for the same volume on every run."""
    digest = hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:16]
    return "lb-%s-%s" % (verb, digest)


def jobs_path(namespace, name=None):
    return resource_path("batch", "v1", "jobs", namespace, name)


def secrets_path(namespace, name=None):
    return resource_path("", "v1", "secrets", namespace, name)


class MoverJob:
    """One Job: `run()` starts it (or finds it), waits, returns its log; `cleanup()` removes it and its Secret."""

    def __init__(self, k8s, namespace, name, owner, container, secret_data, claim, read_only, image,
                 timeout=600, clock=time.monotonic):
        self.k8s = k8s
        self.namespace = namespace
        self.name = name
        self.owner = owner  # what the Job is for, recorded in JOB_FOR: checked before a delete
        self.container = container
        self.secret_data = secret_data
        self.claim = claim
        self.read_only = read_only
        self.image = image
        self.timeout = timeout
        self.clock = clock
        self.started = None
        self.finished = None
        # This run's Job: events of an earlier Job of the same name (a failed run's) must not explain this one.
        self.job_uid = None

    def _meta(self):
        return {"name": self.name, "namespace": self.namespace,
                "labels": {MANAGED_BY: MANAGER}, "annotations": {JOB_FOR: self.owner}}

    def _ours(self, obj):
        meta = (obj or {}).get("metadata") or {}
        return (meta.get("labels") or {}).get(MANAGED_BY) == MANAGER and \
            (meta.get("annotations") or {}).get(JOB_FOR) == self.owner

    def run(self):
        """The finished Job's log; LifeboatError (with the log's tail) if it failed or timed out."""
        self.started = self.clock()
        job = self.k8s.get_or_none(jobs_path(self.namespace, self.name))
        if job is not None:
            self.job_uid = job["metadata"].get("uid")
            if not self._ours(job):
                raise ConflictError("Job %s/%s exists and is not lifeboat's for %s; refusing to use it" % (
                    self.namespace, self.name, self.owner))
            if _finished(job) == "Complete" and self._pods():
                self.finished = self.clock()
                return self._log()
            if _finished(job) is not None or not self._pods():
                self._delete_job()  # failed, or its pod was killed: start again
                job = None
        self._ensure_secret()
        if job is None:
            self._create_job()
        return self._wait()

    def _ensure_secret(self):
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": self._meta(), "type": "Opaque",
                "stringData": self.secret_data}
        try:
            self.k8s.create(secrets_path(self.namespace), body)
        except ConflictError:
            existing = self.k8s.get(secrets_path(self.namespace, self.name))
            if not self._ours(existing):
                raise ConflictError("Secret %s/%s exists and is not lifeboat's for %s; refusing to use it" % (
                    self.namespace, self.name, self.owner))
            self.k8s.merge_patch(secrets_path(self.namespace, self.name), {"stringData": self.secret_data})

    def _create_job(self):
        mounts = [{"name": "cache", "mountPath": "/cache"}]
        volumes = [{"name": "cache", "emptyDir": {}}]
        if self.claim:
            mounts.append({"name": "data", "mountPath": "/data", "readOnly": self.read_only})
            volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": self.claim,
                                                                      "readOnly": self.read_only}})
        container = dict(self.container, name="mover", image=self.image, imagePullPolicy="IfNotPresent",
                         envFrom=[{"secretRef": {"name": self.name}}], volumeMounts=mounts)
        body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": self._meta(), "spec": {
            "backoffLimit": 0, "activeDeadlineSeconds": max(int(self.timeout), 1),
            "template": {"metadata": {"labels": {MANAGED_BY: MANAGER}}, "spec": {
                "restartPolicy": "Never", "terminationGracePeriodSeconds": 5, "containers": [container],
                "volumes": volumes}}}}
        self.job_uid = self.k8s.create(jobs_path(self.namespace), body)["metadata"].get("uid")

    def _pods(self):
        return list(self.k8s.list(resource_path("", "v1", "pods", self.namespace),
                                  label_selector="job-name=" + self.name))

    def _wait(self):
        state = {"why": "not started"}

        def done():
            job = self.k8s.get_or_none(jobs_path(self.namespace, self.name))
            if job is None:
                raise LifeboatError("Job %s/%s disappeared while it ran (deleted?); a rerun starts it again" % (
                    self.namespace, self.name))
            outcome = _finished(job)
            if outcome == "Complete":
                return True
            if outcome == "Failed":
                raise self._failed(_condition_message(job))
            pods = self._pods()
            # The pod's container says it first: the Job controller marks the Job a second or two later.
            exit_code = _exit_code(pods)
            if exit_code == 0:
                return True
            if exit_code is not None:
                raise self._failed("its container exited with code %d" % exit_code)
            stuck = _stuck(pods, self.image)
            if stuck:
                raise self._failed(stuck)
            if not pods:
                refused = self._pod_refused()
                if refused:
                    raise self._failed(refused)
            state["why"] = _progress(job)
            return False

        def pending():
            return "Job %s/%s to finish (%s)" % (self.namespace, self.name, state["why"])
        try:
            wait_until(done, self.timeout, pending, max_interval=1.0)
        except WaitTimeoutError as e:
            raise self._failed(e.message)
        self.finished = self.clock()
        return self._log()

    def _failed(self, why):
        """The error of a Job that failed or timed out, with what explains it, read before the Job is deleted:
        the container's termination (OOMKilled, a signal, its message), the events of the Job and its pod
        (FailedMount, FailedScheduling, quota refusals...), and the tail of its log (also in `log`, for the mover
        to name the cause). The message carries the first two; the result carries all of it (mover_job)."""
        pods = sorted(self._pods(), key=lambda p: p["metadata"].get("creationTimestamp") or "")
        pod = pods[-1]["metadata"]["name"] if pods else None
        termination = _termination(pods)
        events = self._events([self.name] + ([pod] if pod else []), self.job_uid)
        log = self._log(pods=pods)
        told = []
        if termination and termination.get("reason") not in (None, "Error", "Completed"):
            told.append("terminated: %s" % ", ".join("%s=%s" % (k, v) for k, v in sorted(termination.items())))
        warnings = [e for e in events if e.startswith("Warning ")]
        if warnings:
            told.append("events: " + "; ".join(warnings[-3:]))
        error = LifeboatError(why + "".join(" (%s)" % t for t in told), mover_job={
            "job": "%s/%s" % (self.namespace, self.name), "pod": pod, "termination": termination,
            "events": events, "log_tail": log[-4000:]})
        setattr(error, "log", log)
        return error

    def _pod_refused(self):
        """Why the Job controller cannot create the pod, when waiting will not change it: a ResourceQuota that
        requires resources the pod does not state, or a LimitRange it does not fit. (An exceeded quota may clear.)"""
        for event in self._events([self.name], self.job_uid):
            if event.startswith("Warning FailedCreate: ") and any(m in event for m in PERMANENT_REFUSALS):
                return "data_mover.resources: the namespace refuses the Job's pod: %s" % event.split(": ", 1)[1]
        return None

    def _events(self, names, job_uid=None):
        """'<type> <reason>: <message>' of the events about these objects, oldest first; [] if they cannot be read
        (the data mover's Role may not grant list on events: the diagnosis is a help, not a need). With job_uid, only
        the events of that Job (pods have names of their own; a Job's name comes back on a rerun)."""
        found: List[Dict[str, Any]] = []
        for name in names:
            try:
                found.extend(e for e in self.k8s.list(resource_path("", "v1", "events", self.namespace),
                                                      field_selector="involvedObject.name=" + name)
                             if not job_uid or name != self.name or
                             (e.get("involvedObject") or {}).get("uid") in (None, job_uid))
            except LifeboatError:
                return []
        found.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        return ["%s %s: %s" % (e.get("type"), e.get("reason"), (e.get("message") or "").strip()) for e in found[-20:]]

    def _log(self, lines=LOG_LINES, pods=None):
        """The tail of the newest pod's log (pods: the Job's, oldest first, when the caller has them)."""
        if pods is None:
            pods = sorted(self._pods(), key=lambda p: p["metadata"].get("creationTimestamp") or "")
        if not pods:
            return ""
        path = resource_path("", "v1", "pods", self.namespace, pods[-1]["metadata"]["name"], "log")
        try:
            data = self.k8s.request("GET", path, query={"tailLines": lines, "container": "mover"}, raw=True)
        except (NotFoundError, LifeboatError):
            return ""
        return (data or b"").decode("utf-8", "replace")

    def seconds(self):
        """How long the Job took, from the start of run() until it was seen finished."""
        if self.started is None or self.finished is None:
            return None
        return round(self.finished - self.started, 3)

    def cleanup(self):
        """Delete the Job (its pods go with it, in the background) and the Secret, if they are ours."""
        job = self.k8s.get_or_none(jobs_path(self.namespace, self.name))
        if job is not None and self._ours(job):
            self.k8s.delete(jobs_path(self.namespace, self.name), propagation="Background")
        secret = self.k8s.get_or_none(secrets_path(self.namespace, self.name))
        if secret is not None and self._ours(secret):
            self.k8s.delete(secrets_path(self.namespace, self.name))

    def _delete_job(self):
        path = jobs_path(self.namespace, self.name)
        job = self.k8s.get_or_none(path)
        if job is None or not self._ours(job):
            return
        self.k8s.delete(path, propagation="Foreground")
        wait_until(lambda: self.k8s.get_or_none(path) is None, 120, "Job %s/%s to be deleted" % (
            self.namespace, self.name))


def _stuck(pods, image):
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in STUCK:
                return "image %s: %s: %s" % (image, waiting["reason"], waiting.get("message", ""))
    return None


def _termination(pods):
    """The mover container's termination (reason, exit_code, signal, message), or None while it runs."""
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (status.get("state") or {}).get("terminated")
            if status.get("name") == "mover" and terminated:
                found = {"reason": terminated.get("reason"), "exit_code": terminated.get("exitCode"),
                         "signal": terminated.get("signal"), "message": (terminated.get("message") or "").strip()}
                return dict((k, v) for k, v in found.items() if v not in (None, ""))
    return None


def _exit_code(pods):
    """The mover container's exit code in the Job's (only: backoffLimit 0) pod, once it has terminated."""
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (status.get("state") or {}).get("terminated")
            if status.get("name") == "mover" and terminated:
                return terminated.get("exitCode")
    return None


def _finished(job):
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return condition["type"]
    return None


def _condition_message(job):
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Failed":
            return "%s: %s" % (condition.get("reason"), condition.get("message"))
    return "failed"


def _progress(job):
    status = job.get("status") or {}
    return "active" if status.get("active") else "pending"
