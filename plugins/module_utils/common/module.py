# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module layer: the one place that turns the collection's exceptions into fail_json, and
the redaction of inline kubeconfig secrets. Argument specs and typed options live in options/."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import signal
import traceback
from typing import Set

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.api_warnings import warning_lines
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    LifeboatError,
    MissingLibraryError,
)

# Fields of an inline kubeconfig that hold secrets (kubernetes.core redacts them too).
KUBECONFIG_SECRETS = ("token", "password", "client-key-data", "id-token", "refresh-token", "client-secret",
                      "access-token")


def kubeconfig_secrets(kubeconfig):
    """Every secret string of an inline kubeconfig: user credentials, auth-provider
    config and exec plugin environment values."""
    found: Set[str] = set()
    if not isinstance(kubeconfig, dict):
        return found
    for entry in kubeconfig.get("users") or []:
        user = (entry or {}).get("user") or {}
        if not isinstance(user, dict):
            continue
        found.update(v for k, v in user.items() if k in KUBECONFIG_SECRETS and isinstance(v, str))
        provider = (user.get("auth-provider") or {}).get("config") or {}
        found.update(v for k, v in provider.items() if k in KUBECONFIG_SECRETS and isinstance(v, str))
        for env in ((user.get("exec") or {}).get("env") or []):
            if isinstance(env, dict) and isinstance(env.get("value"), str):
                found.add(env["value"])
    return set(v for v in found if v)


class LifeboatModule(AnsibleModule):
    """AnsibleModule whose run() maps the collection's errors to fail_json."""

    def __init__(self, *args, **kwargs):
        super(LifeboatModule, self).__init__(*args, **kwargs)
        # Masked in every result, warning and -vvv invocation, as no_log options are.
        self.no_log_values.update(kubeconfig_secrets(self.params.get("kubeconfig")))

    def fail_json(self, msg, **kwargs):
        # Arguments that fail to parse end the constructor here, before it returns to mask the inline
        # kubeconfig: the result's invocation would show its token. Mask it on this path too.
        params = getattr(self, "params", None)
        if isinstance(params, dict):
            self.no_log_values.update(kubeconfig_secrets(params.get("kubeconfig")))
        super(LifeboatModule, self).fail_json(msg, **kwargs)

    def run(self, action):
        """Call action(module) and exit with the dict it returns."""
        # A terminated run (AWX cancel, task timeout) unwinds like an error, so every `finally` and
        # `with` cleans up: temporary files, locks, unfinished uploads.
        signal.signal(signal.SIGTERM, _terminated)
        if (self.params.get("wait_timeout") or 0) < 0:
            self.fail_json(msg="wait_timeout: must be 0 or more seconds, got %s" % self.params["wait_timeout"])
        try:
            result = action(self)
        except MissingLibraryError as e:
            self.fail_json(msg=missing_required_lib(e.library), error=str(e.error))
        except LifeboatError as e:
            self.fail_json(msg=e.message, **_with_api_warnings(_jsonable(e.details)))
        except Exception as e:  # a bug or an unexpected library error: keep the traceback
            self.fail_json(msg="unexpected error: %s: %s" % (type(e).__name__, e),
                           exception=traceback.format_exc())
        for warning in _with_api_warnings(result).pop("warnings", []):
            self.warn(warning)
        if self._diff and "diff" not in result:
            result["diff"] = {}
        if not self._diff:
            result.pop("diff", None)
        self.exit_json(**result)


def _terminated(signum, frame):
    raise LifeboatError("terminated by signal %d; the run cleaned up after itself and a rerun finishes the job"
                        % signum)


def _with_api_warnings(result):
    """The result, its API server warnings also among its Ansible warnings (as kubernetes.core shows them)."""
    if result.get("api_warnings"):
        result["warnings"] = list(result.get("warnings") or []) + warning_lines(result["api_warnings"])
    return result


def _jsonable(details):
    return dict((k, v) for k, v in details.items() if k not in ("msg", "failed"))
