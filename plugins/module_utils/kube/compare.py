# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Comparing an object a restore would write with what the cluster holds."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def is_subset(desired, existing):
    """Is every field of desired present and equal in existing? (Servers add defaults.)"""
    if isinstance(desired, dict):
        return isinstance(existing, dict) and all(
            is_subset(v, existing[k]) if k in existing else v in ({}, [], None) for k, v in desired.items())
    if isinstance(desired, list):
        # Element by element: a Service port gains its allocated nodePort, a container its defaults.
        return isinstance(existing, list) and len(desired) == len(existing) and all(
            is_subset(d, e) for d, e in zip(desired, existing))
    return desired == existing


def comparable(obj):
    """The parts of an object a restore sets: labels, annotations and the body."""
    meta = obj.get("metadata") or {}
    body = dict((k, v) for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind"))
    body["metadata"] = {"labels": meta.get("labels") or {}, "annotations": meta.get("annotations") or {}}
    return body
