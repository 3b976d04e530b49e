# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  item_action_commands:
    description:
      - "Executables that act on every item they apply to, as Ark's plugins were separate binaries. Each is a
        command line, or C({command: <line or argv list>, timeout: <seconds, default 30>})."
      - "One process per command and run, started before the first item and run on the controller. It speaks
        JSON lines on stdin and stdout (see C(docs/item-actions.md) in the collection) - first a handshake
        declaring its protocol, kind (C(BackupItemAction) for M(lifeboat.k8s.object_backup),
        C(RestoreItemAction) for M(lifeboat.k8s.object_restore)), name and the items it applies to; then one
        answer per item - the item to go on with, additional items, or a reason to skip it."
      - A crash, an answer that is not the protocol's JSON, an error answer or no answer within the timeout
        fails the task naming the command and the item, before anything is written or restored.
      - Commands run after the built-in actions and the user's rules, in the order given. A command sees every
        item it applies to, Secrets included; narrow its C(applies_to).
    type: list
    elements: raw
"""
