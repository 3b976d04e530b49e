# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exec hooks: which commands run in which pods, from a module's `hooks` option and from
Velero's pod annotations, read as Velero reads them.

Backup: `pre.hook.backup.velero.io/{command,container,on-error,timeout}` and the `post.`
variants (the unprefixed `hook.backup.velero.io/...` keys are pre hooks, as in Velero).
Restore: `post.hook.restore.velero.io/{command,container,on-error,exec-timeout,
wait-timeout,wait-for-ready}`. A command is a JSON array (`["/bin/sh", "-c", "sync"]`)
or else one word. As in Velero, a pod's annotation hook for a phase replaces the
option's hooks for that pod and phase; on-error defaults to Fail; the container
to the pod's first; the exec timeout to 30s; an unreadable timeout is the default.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
from dataclasses import dataclass
from typing import List, Optional

try:
    import durationpy
except ImportError:  # kubernetes depends on it; K8sClient reports the missing library first
    durationpy = None

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError

DEFAULT_TIMEOUT = 30.0
ON_ERROR = ("Fail", "Continue")
BACKUP_PHASES = ("pre", "post")
RESTORE_PHASES = ("post",)
BACKUP_KEY = "hook.backup.velero.io/"
RESTORE_KEY = "post.hook.restore.velero.io/"


@dataclass
class ExecHook:
    """One command to run in one container of the pods it applies to."""
    source: str  # "annotation" or the option entry's name: reported with the result
    phase: str
    command: List[str]
    container: Optional[str] = None
    on_error: str = "Fail"
    timeout: float = DEFAULT_TIMEOUT
    wait_timeout: Optional[float] = None
    wait_for_ready: bool = False

    def describe(self):
        return {"source": self.source, "phase": self.phase, "command": self.command,
                "container": self.container, "on_error": self.on_error, "timeout": self.timeout}


def parse_command(value):
    """Velero's reading: a JSON array of strings, or else the whole string as one word."""
    if value.startswith("["):
        try:
            command = json.loads(value)
            if isinstance(command, list) and command and all(isinstance(part, str) for part in command):
                return command
        except ValueError:
            pass
    return [value]


def seconds(value, option, default=None):
    """Seconds of a duration (30s, 1m30s) or a number of seconds; None or '' gives the default."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise InvalidInputError("%s: %r is not a duration such as 30s or 2m" % (option, value))
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        try:
            number = durationpy.from_str(str(value).strip()).total_seconds()
        except Exception:  # durationpy raises its own and ValueError
            raise InvalidInputError("%s: %r is not a duration such as 30s or 2m" % (option, value))
    if number <= 0:
        raise InvalidInputError("%s: %r must be longer than zero" % (option, value))
    return number


def option_hooks(entries, option, phases):
    """[(pod selector, ExecHook)] from a module's `hooks` option (a list of dicts, already typed by the
    argument spec); raise InvalidInputError naming the entry and field that is wrong."""
    hooks = []
    for index, entry in enumerate(entries or []):
        where = "%s[%d]" % (option, index)
        name = entry.get("name") or where
        phase = entry.get("phase") or phases[0]
        if phase not in phases:
            raise InvalidInputError("%s.phase: %r is not one of %s" % (where, phase, ", ".join(phases)))
        command = entry.get("command")
        if isinstance(command, str) and command.strip():
            command = parse_command(command.strip())
        if not isinstance(command, list) or not command or not all(isinstance(p, str) and p for p in command):
            raise InvalidInputError("%s.command: give the command as a list of strings, such as "
                                    "[/bin/sh, -c, 'sync']" % where)
        if entry.get("pod_selector") is None:
            raise InvalidInputError("%s.pod_selector: required; a label selector such as app=db, or '' for "
                                    "every pod" % where)
        on_error = entry.get("on_error") or "Fail"
        if on_error not in ON_ERROR:
            raise InvalidInputError("%s.on_error: %r is not Fail or Continue" % (where, on_error))
        hooks.append((entry["pod_selector"], ExecHook(
            name, phase, command, container=entry.get("container") or None, on_error=on_error,
            timeout=seconds(entry.get("timeout"), where + ".timeout", DEFAULT_TIMEOUT),
            wait_timeout=seconds(entry.get("wait_timeout"), where + ".wait_timeout"),
            wait_for_ready=bool(entry.get("wait_for_ready")))))
    return hooks


def _annotation_seconds(value, default):
    """Velero ignores an unreadable timeout (logs it and uses the default)."""
    try:
        return seconds(value, "annotation", default)
    except InvalidInputError:
        return default


def _on_error(value):
    return value if value in ON_ERROR else "Fail"


def backup_annotation_hook(annotations, phase):
    """The pod's annotation hook for a backup phase (pre also reads the unprefixed legacy keys), or None."""
    prefixes = [phase + "." + BACKUP_KEY] + ([BACKUP_KEY] if phase == "pre" else [])
    for prefix in prefixes:
        command = (annotations or {}).get(prefix + "command")
        if command:
            return ExecHook("annotation", phase, parse_command(command),
                            container=annotations.get(prefix + "container") or None,
                            on_error=_on_error(annotations.get(prefix + "on-error")),
                            timeout=_annotation_seconds(annotations.get(prefix + "timeout"), DEFAULT_TIMEOUT))
    return None


def restore_annotation_hook(annotations):
    """The pod's post-restore annotation hook, or None."""
    command = (annotations or {}).get(RESTORE_KEY + "command")
    if not command:
        return None
    ready = str(annotations.get(RESTORE_KEY + "wait-for-ready", "")).strip().lower() in ("true", "1", "t")
    return ExecHook("annotation", "post", parse_command(command),
                    container=annotations.get(RESTORE_KEY + "container") or None,
                    on_error=_on_error(annotations.get(RESTORE_KEY + "on-error")),
                    timeout=_annotation_seconds(annotations.get(RESTORE_KEY + "exec-timeout"), DEFAULT_TIMEOUT),
                    wait_timeout=_annotation_seconds(annotations.get(RESTORE_KEY + "wait-timeout"), None),
                    wait_for_ready=ready)


def hooks_for_pod(pod, phase, option_matches, use_annotations, restore=False):
    """The hooks to run in this pod for the phase: its annotation hook if it has one (and annotations are
    honoured), else the option's hooks whose selector matched it, in the option's order."""
    if use_annotations:
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        hook = restore_annotation_hook(annotations) if restore else backup_annotation_hook(annotations, phase)
        if hook is not None:
            return [hook]
    return [hook for hook in option_matches if hook.phase == phase]
