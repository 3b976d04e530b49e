# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run independent API calls concurrently."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import queue
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import LifeboatError

MAX_WORKERS = 16
MAX_ERRORS_SHOWN = 10


def parallel_map(fn, items, max_workers=MAX_WORKERS):
    """Call fn(item) for every item concurrently.

    Returns [(item, result, error)] in the order of items; every call runs to
    completion even when some fail, so callers can report all failures.
    """
    items = list(items)
    if not items:
        return []

    def call(item):
        try:
            return item, fn(item), None
        except Exception as e:  # reported to the caller with its item
            setattr(e, "lifeboat_traceback", traceback.format_exc())  # a worker's stack is gone once it returns
            return item, None, e

    if len(items) == 1:
        return [call(items[0])]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items))) as pool:
        return list(pool.map(call, items))


def batches_concurrently(open_source, sources, batch_size, ahead=4, max_workers=MAX_WORKERS):
    """Read every source's iterator (open_source(source), e.g. a paginated LIST) concurrently and yield
    (source, batch, error, last) in this thread as batches of up to batch_size items arrive. A source
    ends with last=True; error is the exception that ended it early (its batch holds what came before).

    At most `ahead` batches wait for the caller, so a source of 100,000 objects is never whole in
    memory. A caller that stops early (an exception, or leaving the loop) stops every reader."""
    sources = list(sources)
    batches: "queue.Queue[Any]" = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(entry):
        while not stop.is_set():
            try:
                batches.put(entry, timeout=0.2)
                return
            except queue.Full:
                continue

    def read(source):
        batch = []
        try:
            for item in open_source(source):
                if stop.is_set():
                    return
                batch.append(item)
                if len(batch) >= batch_size:
                    put((source, batch, None, False))
                    batch = []
            put((source, batch, None, True))
        except Exception as e:  # handed to the caller with its source
            put((source, batch, e, True))

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        for source in sources:
            pool.submit(read, source)
        try:
            remaining = len(sources)
            while remaining:
                entry = batches.get()
                if entry[3]:
                    remaining -= 1
                yield entry
        finally:
            stop.set()  # readers blocked on a full queue give up; the pool then shuts down


def error_text(error):
    """An error's message: the collection's own as it is; anything else with its type and where it
    was raised, since it is a bug and its text alone rarely says which."""
    if isinstance(error, LifeboatError):
        return error.message
    text = "%s: %s" % (type(error).__name__, error)
    trace = getattr(error, "lifeboat_traceback", None)
    if trace:
        frames = [line.strip() for line in trace.splitlines() if line.strip().startswith("File ")]
        if frames:
            text += " (at %s)" % frames[-1]
    return text


def raise_first(outcomes):
    """Raise if any call failed, else return the results. One error is raised as it is; several as
    one LifeboatError that lists every one of them (a batch must not hide all but the first)."""
    errors = [(item, error) for item, _result, error in outcomes if error is not None]
    if len(errors) == 1:
        raise errors[0][1]
    if errors:
        shown = "; ".join(error_text(error) for _item, error in errors[:MAX_ERRORS_SHOWN])
        more = " (and %d more)" % (len(errors) - MAX_ERRORS_SHOWN) if len(errors) > MAX_ERRORS_SHOWN else ""
        kinds = set(type(error) for _item, error in errors)
        kind = kinds.pop() if len(kinds) == 1 else LifeboatError
        if not issubclass(kind, LifeboatError) or kind.__init__ is not LifeboatError.__init__:
            kind = LifeboatError  # e.g. an ApiError needs its status: the batch is reported as a whole
        # The same kind of error (say, InvalidInputError for two PVCs) stays that kind, its messages first,
        # so the option to fix still leads.
        raise kind("%s%s (%d of %d failed)" % (shown, more, len(errors), len(outcomes)),
                   errors=[error_text(error) for _item, error in errors])
    return [result for _item, result, _error in outcomes]
