# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""When a failed request is tried again: one policy (backoff within a window) and one budget per cause.

A run's workers share the budget: requests that fail for the same cause (the same status and reason and,
for an admission webhook, the same webhook; for connection errors, the same apiserver) share one retry
window, so a thousand objects refused by one dead webhook cost one window, not a window per worker's
turn. Once a cause's window is spent, every further request failing that way fails at once. A request
that heals after failing closes its cause's episode; a cause not seen for a whole window starts anew.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Hashable, Optional

# The apiserver's message when an admission webhook cannot be called (down, timing out, refusing TLS).
WEBHOOK = re.compile(r'failed calling (?:admission )?webhook "([^"]+)"')


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a request again, and how long to wait first.

    Full-jitter exponential backoff (base * 2**attempt, capped), or the server's
    Retry-After when it gives one; never beyond `window` seconds after the cause
    was first seen, so a dead apiserver fails the task instead of hanging it.
    """
    window: float = 60.0
    base: float = 0.25
    cap: float = 8.0
    max_retry_after: float = 60.0
    rand: Callable[[], float] = random.random
    clock: Callable[[], float] = time.monotonic

    def delay(self, attempt, retry_after=None):
        """Seconds to wait before retry number `attempt` (0-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after) + self.rand() * 0.2
        return self.rand() * min(self.cap, self.base * (2 ** attempt))

    def next_wait(self, started, attempt, retry_after=None):
        """The wait before the next attempt, or None when the window is spent."""
        wait = self.delay(attempt, retry_after)
        if self.clock() + wait - started > self.window:
            return None
        return wait


def parse_retry_after(value):
    """Retry-After in seconds (the apiserver sends delta-seconds), or None."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def failure_cause(status, reason, message):
    """What a failed answer has in common with others that one retry window covers."""
    webhook = WEBHOOK.search(message or "")
    return (status, reason, webhook.group(1) if webhook else None)


@dataclass
class Episode:
    """A cause failing: since when, when last seen, and by how many requests."""
    started: float
    last: float
    failures: int = 0


@dataclass
class RetryBudget:
    """The run's retry windows, one per cause, shared by its threads."""
    episodes: Dict[Hashable, Episode] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def failed(self, cause, now, window) -> Episode:
        """Record a failure of `cause`; return its episode (a new one when the cause was not seen for a window)."""
        with self.lock:
            episode = self.episodes.get(cause)
            if episode is None or now - episode.last > window:
                episode = self.episodes[cause] = Episode(started=now, last=now)
            episode.last = now
            episode.failures += 1
            return episode

    def healed(self, cause: Optional[Hashable]):
        """A request that failed for `cause` then succeeded: the cause is gone."""
        if cause is not None:
            with self.lock:
                self.episodes.pop(cause, None)
