# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Polling with a deadline."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import WaitTimeoutError


# The one default of every module's wait_timeout (the wait doc fragment says the same; a unit test checks).
DEFAULT_WAIT_TIMEOUT = 300


def wait_until(check, timeout, what, interval=0.2, max_interval=3.0):
    """Call check() until it returns something truthy and return that.

    check() may raise to abort the wait (e.g. the object reported an error).
    On timeout raise WaitTimeoutError naming `what` (a string or a callable
    returning one, so the message can say what is still pending).

    Checks come quickly at first (a CSI snapshot or a claim is often ready within a few tenths
    of a second) and then every max_interval: a long wait costs few calls.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            pending = what() if callable(what) else what
            raise WaitTimeoutError("timed out after %ss (wait_timeout) waiting for %s" % (timeout, pending))
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        interval = min(interval * 1.5, max_interval)
