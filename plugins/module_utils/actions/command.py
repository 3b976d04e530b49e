# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Item actions as executables, the way Ark's plugins were separate binaries.

One process per command and run, speaking JSON lines (docs/item-actions.md): it first writes a
handshake (protocol, kind, name, applies_to); then, for each item it applies to, lifeboat writes a
request and reads one response. A crash, a line that is not the protocol's JSON, an error answer or
no answer within the timeout fails the run, naming the command and the item.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import queue
import shlex
import subprocess
import tempfile
import threading
from typing import Any

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.base import (
    ActionResult,
    BackupItemAction,
    ItemRef,
    ResourceSelector,
    RestoreItemAction,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError, LifeboatError
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.selectors import parse_selector

PROTOCOL = "lifeboat.k8s/item-action/v1"
DEFAULT_TIMEOUT = 30
_EOF = object()


class CommandFailed(LifeboatError):
    pass


def read_commands(commands, option="item_action_commands"):
    """The option's entries as (option, argv, timeout), checked; nothing is started yet."""
    specs = []
    for index, entry in enumerate(commands or []):
        where = "%s[%d]" % (option, index)
        if isinstance(entry, str):
            entry = {"command": entry}
        if not isinstance(entry, dict) or set(entry) - set(("command", "timeout")) or not entry.get("command"):
            raise InvalidInputError("%s: expected a command line, or {command: <line or argv list>, timeout: <s>}"
                                    % where)
        argv = shlex.split(entry["command"]) if isinstance(entry["command"], str) else entry["command"]
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise InvalidInputError("%s.command: expected a command line or a list of arguments" % where)
        timeout = entry.get("timeout", DEFAULT_TIMEOUT)
        try:
            timeout = float(timeout)
        except (TypeError, ValueError):
            timeout = -1
        if timeout <= 0:
            raise InvalidInputError("%s.timeout: expected a positive number of seconds" % where)
        specs.append((where, argv, timeout))
    return specs


def start_commands(specs, kind):
    """Start every command and read its handshake; stops those already started if one fails."""
    started = []
    try:
        for where, argv, timeout in specs:
            started.append(CommandAction.start(where, argv, timeout, kind))
    except BaseException:
        for action in started:
            action.close()
        raise
    return started


class CommandAction:
    """One running executable; execute() is one request and response."""

    kind: str  # from the action kind it is made with

    def __init__(self, where, argv, timeout, process, stderr):
        self.where = where
        self.argv = argv
        self.timeout = timeout
        self.process = process
        self.stderr = stderr
        self.lines: "queue.Queue[Any]" = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.name = where
        self.description = "external command"

    @classmethod
    def start(cls, where, argv, timeout, kind):
        stderr = tempfile.TemporaryFile()
        try:
            # A long-lived plugin process spoken to over its stdin and stdout, which run_command cannot do (and
            # actions do not import Ansible).
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,  # pylint: disable=ansible-bad-function
                                       stderr=stderr, close_fds=True)
        except OSError as e:
            stderr.close()
            raise InvalidInputError("%s: cannot run %s: %s" % (where, argv[0], e.strerror or e))
        base = BackupCommandAction if kind == "backup" else RestoreCommandAction
        action = base(where, argv, timeout, process, stderr)
        try:
            action._handshake()
        except BaseException:
            action.close()
            raise
        return action

    def _read(self):
        for line in iter(self.process.stdout.readline, b""):
            self.lines.put(line)
        self.lines.put(_EOF)

    def _fail(self, what, message):
        raise CommandFailed("%s (%s): %s: %s" % (self.where, os.path.basename(self.argv[0]), what, message))

    def _receive(self, what):
        try:
            line = self.lines.get(timeout=self.timeout)
        except queue.Empty:
            self.close(kill=True)
            self._fail(what, "no answer within %gs (its timeout); it was stopped" % self.timeout)
        if line is _EOF:
            code = self.process.wait()
            self._fail(what, "exited with code %s%s" % (code, self._stderr_tail()))
        try:
            message = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            self._fail(what, "answered with a line that is not JSON (%s)" % e)
        if not isinstance(message, dict):
            self._fail(what, "answered with JSON that is not an object")
        if message.get("error"):
            self._fail(what, "it reported an error: %s" % str(message["error"])[:500])
        return message

    def _send(self, what, message):
        try:
            self.process.stdin.write(json.dumps(message, sort_keys=True).encode("utf-8") + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            code = self.process.wait()
            self._fail(what, "exited with code %s before reading its request%s" % (code, self._stderr_tail()))

    def _stderr_tail(self):
        self.stderr.seek(0, os.SEEK_END)
        size = self.stderr.tell()
        self.stderr.seek(max(0, size - 500))
        tail = self.stderr.read().decode("utf-8", "replace").strip()
        return "; its last error output: %s" % tail if tail else ""

    def _handshake(self):
        hello = self._receive("handshake")
        if hello.get("protocol") != PROTOCOL:
            self._fail("handshake", "expected protocol %r, got %r" % (PROTOCOL, hello.get("protocol")))
        if hello.get("kind") != self.kind:
            self._fail("handshake", "declares kind %r; this module runs %s commands" % (hello.get("kind"), self.kind))
        if hello.get("name"):
            self.name = "%s" % hello["name"]
        applies_to = hello.get("applies_to") or {}
        if not isinstance(applies_to, dict) or set(applies_to) - set(("resources", "namespaces", "label_selector")):
            self._fail("handshake", "applies_to: expected {resources: [...], namespaces: [...], label_selector: ...}")
        for key in ("resources", "namespaces"):
            value = applies_to.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                self._fail("handshake", "applies_to.%s: expected a list of strings" % key)
        try:
            selector = parse_selector(applies_to.get("label_selector"), "applies_to.label_selector")
        except InvalidInputError as e:
            self._fail("handshake", e.message)
        self.applies_to = ResourceSelector(applies_to.get("resources") or (), applies_to.get("namespaces") or (),
                                           selector)

    def execute(self, item, context):
        what = context.ref.describe()
        self._send(what, {"resource": context.resource, "item": item,
                          "source": context.source if self.kind == RestoreItemAction.kind else None})
        answer = self._receive(what)
        unknown = set(answer) - set(("item", "additional", "skip"))
        if unknown:
            self._fail(what, "unknown key(s) in its answer: %s" % ", ".join(sorted(unknown)))
        new_item = answer.get("item", item)
        if not isinstance(new_item, dict) or not isinstance(new_item.get("metadata"), dict):
            self._fail(what, "answered an item that is not a Kubernetes object")
        additional = []
        for ref in answer.get("additional") or []:
            if not isinstance(ref, dict) or not isinstance(ref.get("resource"), str) or \
                    not isinstance(ref.get("name"), str):
                self._fail(what, "additional: expected [{resource, namespace, name}]")
            additional.append(ItemRef(ref["resource"], ref.get("namespace"), ref["name"]))
        skip = answer.get("skip")
        if skip is not None and not isinstance(skip, str):
            self._fail(what, "skip: expected a reason (a string)")
        return ActionResult(new_item, additional=additional, skip=skip or None)

    def close(self, kill=False):
        """Close its input (the end of the run) and give it a moment to exit, then stop it."""
        if kill and self.process.poll() is None:
            self.process.kill()
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stderr.close()


class BackupCommandAction(CommandAction, BackupItemAction):
    pass


class RestoreCommandAction(CommandAction, RestoreItemAction):
    pass
