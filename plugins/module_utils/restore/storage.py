# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the target cluster's storage can take, checked before a restore changes anything.

A restore into another cluster meets other storage: other StorageClass names, other CSI drivers, maybe no
snapshot API at all. Every PVC and StatefulSet claim template of the selection must find its StorageClass
(after storage_class_mapping) in the target cluster, or in the backup with a provisioner the target runs;
every volume must come back from a snapshot the target can use or from its data copy in the bucket. What
cannot is refused here, naming it, so nothing is half restored and no volume comes back empty unannounced.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import ApiError, InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path


STORAGE_CLASSES = "storageclasses.storage.k8s.io"
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
IN_TREE = "kubernetes.io/"  # in-tree provisioners (and kubernetes.io/no-provisioner) have no CSIDriver object
SHOWN = 10


class TargetStorage:
    """The target cluster's StorageClasses, read once, and the mapping onto them."""

    def __init__(self, k8s, mapping):
        self.k8s = k8s
        self.mapping = mapping
        self._classes = None
        self._drivers = {}

    def classes(self):
        """{name: provisioner} of the target cluster's StorageClasses, or None if this identity may not list them."""
        if self._classes is None:
            try:
                self._classes = dict((sc["metadata"]["name"], sc.get("provisioner"))
                                     for sc in self.k8s.list(resource_path("storage.k8s.io", "v1", "storageclasses")))
            except ApiError as e:
                if e.status != 403:
                    raise
                self._classes = False
        return self._classes or None

    def target_class(self, source_class):
        return self.mapping.get(source_class, source_class) if source_class else None

    def describe(self, name):
        """{"name", "provisioner"} of a target StorageClass, or None (no class, or not known)."""
        classes = self.classes() or {}
        return {"name": name, "provisioner": classes[name]} if name in classes else None

    def provisioner_installed(self, provisioner):
        if not provisioner:
            return False
        if provisioner.startswith(IN_TREE) or provisioner in (self.classes() or {}).values():
            return True
        if provisioner not in self._drivers:
            self._drivers[provisioner] = self.k8s.get_or_none(
                resource_path("storage.k8s.io", "v1", "csidrivers", None, provisioner)) is not None
        return self._drivers[provisioner]

    def check(self, facts, restorable, static=()):
        """Refuse (InvalidInputError) a mapping onto a class the target lacks, and every PVC or claim template
        whose class the target neither has nor gets from the backup (restorable(obj): the backup's StorageClass
        would be restored). static: (namespace, name) of PVCs bound to volumes a driver makes itself, which need
        no class. Returns warnings."""
        classes = self.classes()
        if classes is None:
            return ["StorageClasses of the target cluster could not be listed (forbidden): the PVCs' classes "
                    "were not checked"]
        has = ", ".join(sorted(classes)) or "none"
        missing = sorted(set(t for t in self.mapping.values() if t not in classes))
        if missing:
            raise InvalidInputError("storage_class_mapping: StorageClass %s does not exist in the target cluster "
                                    "(it has: %s); nothing was restored" % (", ".join(missing), has))
        lacking = []
        for what, namespace, claim, source_class in facts.volume_classes:
            target = self.target_class(source_class)
            if not target or target in classes or (namespace, claim) in static:
                continue
            backed_up = facts.storage_classes.get(target) if target == source_class else None
            if backed_up is not None and restorable(backed_up) and \
                    self.provisioner_installed(backed_up.get("provisioner")):
                continue  # the backup's StorageClass comes back first, and the target runs its provisioner
            lacking.append((what, source_class, backed_up))
        if lacking:
            shown = "; ".join("%s uses StorageClass %s%s" % (what, cls, (
                " (in the backup, but its provisioner %s does not run in the target cluster)" % b.get("provisioner")
                if b is not None else "")) for what, cls, b in lacking[:SHOWN])
            more = " (and %d more)" % (len(lacking) - SHOWN) if len(lacking) > SHOWN else ""
            raise InvalidInputError(
                "storage_class_mapping: %s%s, which the target cluster does not have (it has: %s); map each to one "
                "of those; nothing was restored" % (shown, more, has))
        unused = sorted(set(self.mapping) - set(c for _w, _n, _c, c in facts.volume_classes))
        if unused:
            return ["storage_class_mapping: no PVC or claim template of this restore uses StorageClass %s" % (
                ", ".join(unused))]
        return []
