# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where each restored volume's data comes from: its snapshot or its data copy."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from typing import TYPE_CHECKING, List

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.records import SnapshotRecord, claim_of
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.copies import VolumeCopies

if TYPE_CHECKING:  # the types only: at run time the services do not import their callers' options
    from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.registry import BlockStores
    from ansible_collections.lifeboat.k8s.plugins.module_utils.options.restore import RestoreOptions


class VolumeSources:
    """Where each selected volume's data comes from, decided before any change. restore_volume_data: copy takes
    every copy; snapshot every snapshot; auto the snapshot where the target cluster can use it and it still exists,
    else the copy. A volume with neither is refused (copies() raises), naming it."""

    def __init__(self, k8s, options: RestoreOptions, blocks: BlockStores, storage, facts, records):
        self.k8s, self.options, self.blocks = k8s, options, blocks
        self.mode = options.restore_volume_data
        self.records = [r for r in records if claim_of(r) in facts.claims]
        self.warnings: List[str] = []
        self.refused: List[str] = []
        self.used: List[SnapshotRecord] = []
        if self.mode == "copy":
            lacking = ["%s/%s" % claim_of(r) for r in self.records if not r.get("data_copy")]
            if lacking:
                raise InvalidInputError("restore_volume_data: copy, but the backup holds no data copy of PVC %s" % (
                    ", ".join(lacking[:10])))
        claim_classes = dict(((namespace, claim), cls) for _what, namespace, claim, cls in facts.volume_classes
                             if claim is not None)
        for record in self.records:
            self._decide(record, storage.describe(storage.target_class(claim_classes.get(claim_of(record)))))

    def block(self, record):
        return self.blocks.of(record)

    def _decide(self, record, target_class):
        if self.mode == "copy" or (self.mode == "auto" and record.get("data_copy") and record.get("snapshot_deleted")):
            self.used.append(record)
            return
        unusable = self.block(record).snapshot_unusable(record, target_class)
        if self.mode == "auto" and record.get("data_copy") and (
                unusable or record.get("snapshot_deleted") or self.block(record).describe_snapshot(record) is None):
            self.used.append(record)
            if unusable:
                self.warnings.append("PVC %s/%s comes back from its data copy: its snapshot cannot be used in the "
                                     "target cluster (%s)" % (claim_of(record) + (unusable,)))
        elif unusable:
            why = unusable if self.mode == "snapshot" else unusable + ", and the backup holds no data copy of it"
            self.refused.append("PVC %s/%s: %s" % (claim_of(record) + (why,)))

    @property
    def statically_bound(self):
        """(namespace, pvc) of the claims a driver binds to a PersistentVolume it makes itself (their class need
        not exist in the target cluster)."""
        used = set(claim_of(r) for r in self.used)
        return set(claim_of(r) for r in self.records if claim_of(r) not in used
                   and not self.block(r).claims_provisioned_by_cluster)

    def copies(self):
        """(the data mover service, {(namespace, pvc)} of the volumes restored from their data copies), or (None,
        empty); raises for the volumes that can come back from neither. Each copy used is checked now (it must lie
        where the mover keeps that PVC's copies). The mover's storage and S3 options default to the restore's, its tool
        to the one that made the copies."""
        if self.refused:
            raise InvalidInputError(
                "restore_volume_data: the target cluster cannot restore %d volume(s) from this backup: %s; nothing "
                "was restored (restore_volumes: false restores the objects with empty volumes)" % (
                    len(self.refused), "; ".join(self.refused[:10])))
        if not self.used:
            return None, set()
        tools = set(r["data_copy"].get("tool") for r in self.used)
        copies = VolumeCopies(self.k8s, self.options.mover(tools.pop() if len(tools) == 1 else None),
                              self.options.wait.timeout)
        for record in self.used:
            copies.check_copy(record)
        return copies, set(claim_of(r) for r in self.used)
