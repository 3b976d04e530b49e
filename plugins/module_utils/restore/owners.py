# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Owner references while a restore applies (kube/ownership.py says why): owners are created a tier before what
they own (spill.tier_key), each lends the UID it has in the target, and a dependent's references are rewritten to
those UIDs just before it is created or compared. Both sides go through the spill, so memory stays flat."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from typing import List

from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.ownership import describe, relinked


class OwnerLinks:
    def __init__(self, spill):
        self.spill = spill
        self.unlinked: List[str] = []  # objects restored without a reference to an owner the restore did not make

    def relink(self, items):
        """Owner references name the owners' live UIDs (owners are in earlier tiers: created or found by now); a
        reference whose owner the restore did not make or find is dropped, and said."""
        owned = [item for item in items if item.target and item.target["metadata"].get("ownerReferences")]
        if not owned:
            return
        live = self.spill.live_owners(ref.get("uid") for item in owned
                                      for ref in item.target["metadata"]["ownerReferences"])
        for item in owned:
            meta = item.target["metadata"]
            meta["ownerReferences"], unresolved = relinked(meta["ownerReferences"], live)
            if not meta["ownerReferences"]:
                del meta["ownerReferences"]
            if unresolved:
                self.unlinked.append("%s %s/%s (owner %s)" % (item.res_dir, item.namespace, item.name, ", ".join(
                    describe(ref) for ref in unresolved)))

    def lend(self, items):
        """Record the live UIDs of applied items (those some object of the restore names as its owner are kept)."""
        self.spill.add_live_owners([(item.source_uid, item.live_uid, item.target["apiVersion"]) for item in items
                                    if item.source_uid and item.live_uid is not None and item.target])

    def warnings(self):
        if not self.unlinked:
            return []
        return ["%d object(s) restored without a reference to their owner, which this restore did not create or "
                "find (skipped, refused or failed): %s" % (len(self.unlinked), "; ".join(self.unlinked[:10]))]
