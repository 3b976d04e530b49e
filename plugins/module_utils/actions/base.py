# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ark's two per-item plugin kinds.

A backup item action sees each item before it is stored: it may change it and name
additional items to back up with it. A restore item action sees each item before it is
created: it may change it, skip it, or say where its volume comes from. Both declare the
items they apply to (Ark's ResourceSelector) and never import Ansible: they raise the
collection's errors.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.selectors import resource_matches, selector_matches


class ItemRef(namedtuple("ItemRef", "resource namespace name")):
    """An item by resource directory ('persistentvolumes', 'clusterroles.rbac.authorization.k8s.io'),
    namespace (None for cluster-scoped) and name."""

    def describe(self):
        return "%s %s" % (self.resource, "%s/%s" % (self.namespace, self.name) if self.namespace else self.name)


@dataclass
class ActionResult:
    """What an action did to one item: the item to go on with, items it needs, a skip reason,
    warnings, and (restore) the snapshot record its volume comes back from."""
    item: Any
    additional: List[Any] = field(default_factory=list)
    skip: Optional[str] = None
    warnings: List[str] = field(default_factory=list)
    volume_record: Optional[Dict[str, Any]] = None
    refuse: Optional[str] = None  # (restore) why the item cannot be restored at all: the restore refuses to start

    def __post_init__(self):
        self.additional, self.warnings = list(self.additional), list(self.warnings)


@dataclass
class ResourceSelector:
    """Ark's ResourceSelector: resources (patterns as in include_resources), namespaces, a label selector
    (requirements from selectors.parse_selector). Empty parts select everything."""
    resources: Sequence[str] = field(default_factory=list)
    namespaces: Sequence[str] = field(default_factory=list)
    label_selector: Sequence[Any] = field(default_factory=list)

    def __post_init__(self):
        self.resources, self.namespaces = list(self.resources), list(self.namespaces)
        self.label_selector = list(self.label_selector)

    def matches(self, res_dir, obj):
        meta = obj.get("metadata") or {}
        if self.resources and not resource_matches(res_dir, obj.get("kind"), self.resources):
            return False
        if self.namespaces and meta.get("namespace") not in self.namespaces:
            return False
        return selector_matches(self.label_selector, meta.get("labels"))


class ItemContext:
    """What an action knows about the item besides the item: its resource directory, the object as
    backed up (restore), and the run (mapping, snapshot records, lookups in the target cluster)."""

    def __init__(self, resource, run, source=None):
        self.resource = resource
        self.run = run
        self.source = source if source is not None else {}

    @property
    def ref(self):
        meta = self.source.get("metadata") or {}
        return ItemRef(self.resource, meta.get("namespace"), meta.get("name"))


class ItemAction:
    kind: str = ""
    name: Optional[str] = None  # kebab-case, unique per kind: what disable_actions and results say
    description = ""
    applies_to = ResourceSelector()
    converts_versions = False  # may change an item's apiVersion (to a version of the same kind the target serves)

    def execute(self, item, context):
        """Return an ActionResult. item is the pipeline's own copy: change it in place or return another."""
        raise NotImplementedError

    def close(self):
        """End of the run (an external command stops here)."""


class BackupItemAction(ItemAction):
    kind = "BackupItemAction"


class RestoreItemAction(ItemAction):
    kind = "RestoreItemAction"
