# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prints the one task result of an ad-hoc run as JSON (the system tests parse it).
ansible-core 2.19 no longer ships the json callback; this is all the tests need of it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: result_json
type: stdout
short_description: the task result as JSON
description: Prints the result of each task as one JSON document, for the system tests.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "result_json"

    def _print(self, result, **extra):
        self._display.display(json.dumps(dict(result._result, **extra), default=str))

    def v2_runner_on_ok(self, result):
        self._print(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._print(result, failed=True)

    def v2_runner_on_unreachable(self, result):
        self._print(result, failed=True, unreachable=True)
