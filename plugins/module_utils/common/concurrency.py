# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run independent API calls concurrently."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from concurrent.futures import ThreadPoolExecutor

MAX_WORKERS = 16


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
            return item, None, e

    if len(items) == 1:
        return [call(items[0])]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items))) as pool:
        return list(pool.map(call, items))


def raise_first(outcomes):
    """Raise the first error of parallel_map's outcomes, else return the results."""
    for _item, _result, error in outcomes:
        if error is not None:
            raise error
    return [result for _item, result, _error in outcomes]
