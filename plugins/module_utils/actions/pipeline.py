# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry of item actions and the pipeline that runs them on every item.

Order (documented in the modules): the built-in actions in their registry order, less those in
disable_actions; then the user's rules in the order given (backup_actions, or restore_actions:
lifeboat rules or a Velero resource-modifier document); then item_action_commands in the order
given. Each action that applies to the item (its applies_to, on the object as backed up) runs on
the item as the previous one left it; the first that skips it ends the pipeline, and the result
says which action skipped it and why.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions import command, rules
from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.backup_builtin import BACKUP_ACTIONS
from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.restore_builtin import RESTORE_ACTIONS
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError

BUILTIN = {"backup": BACKUP_ACTIONS, "restore": RESTORE_ACTIONS}


def builtin_names(kind):
    return [cls.name for cls in BUILTIN[kind]]


def builtin_actions(kind, disabled=None, option="disable_actions"):
    disabled = list(disabled or [])
    unknown = [name for name in disabled if name not in builtin_names(kind)]
    if unknown:
        raise InvalidInputError("%s: %s %s no built-in %s action (they are: %s)" % (
            option, ", ".join(repr(n) for n in unknown), "is" if len(unknown) == 1 else "are", kind,
            ", ".join(builtin_names(kind))))
    return [cls() for cls in BUILTIN[kind] if cls.name not in disabled]


@dataclass(frozen=True)
class ActionOptions:
    """The options that make a pipeline: disable_actions, the user's rules (backup_actions, or
    restore_actions as given, also as transforms or a Velero document) and item_action_commands."""
    kind: str
    disable_actions: Sequence[str]
    rules: Any
    rules_option: str
    commands: Sequence[Any]


def user_rules(options: ActionOptions, warnings: List[str]) -> list:
    if options.kind == "backup":
        return rules.read_rules(options.rules, options.rules_option, "backup")
    value = rules.parse_document(options.rules, options.rules_option)
    if rules.is_velero_document(value):
        return rules.read_velero_document(value, options.rules_option, warnings)
    return rules.read_rules(value, options.rules_option, "restore")


@dataclass
class Outcome:
    """What the pipeline made of one item."""
    item: Any
    skip: Optional[str] = None
    additional: List[Any] = field(default_factory=list)  # (action name, ItemRef)
    warnings: List[str] = field(default_factory=list)
    volume_record: Optional[Dict[str, Any]] = None
    refuse: Optional[str] = None


class Pipeline:
    def __init__(self, actions):
        self.actions = list(actions)
        self.skipped = {}  # action name -> items it skipped
        self.added = {}  # action name -> additional items it named
        self.converted = {}  # action name -> items whose apiVersion it changed

    @staticmethod
    def check(options: ActionOptions) -> None:
        """Refuse bad disable_actions, rules and command entries without starting anything."""
        builtin_actions(options.kind, options.disable_actions)
        user_rules(options, [])
        command.read_commands(options.commands)

    @classmethod
    def start(cls, options: ActionOptions, warnings: List[str]) -> "Pipeline":
        """Everything checked and every command started before the first item; close() it after."""
        actions = builtin_actions(options.kind, options.disable_actions)
        actions += user_rules(options, warnings)
        specs = command.read_commands(options.commands)
        return cls(actions + command.start_commands(specs, options.kind))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for action in self.actions:
            action.close()

    def names(self):
        return [action.name for action in self.actions]

    def run(self, context, item):
        """Run every applicable action on item (the pipeline's own copy) in order."""
        outcome = Outcome(item)
        identity = _identity(context.resource, item)
        for action in self.actions:
            if not action.applies_to.matches(context.resource, context.source):
                continue
            result = action.execute(outcome.item, context)
            outcome.item = result.item
            outcome.warnings.extend(result.warnings)
            if result.volume_record is not None:
                outcome.volume_record = result.volume_record
            if result.additional:
                outcome.additional.extend((action.name, ref) for ref in result.additional)
                self.added[action.name] = self.added.get(action.name, 0) + len(result.additional)
            if result.refuse:
                outcome.refuse = "%s: %s" % (action.name, result.refuse)
                return outcome
            if result.skip:
                outcome.skip = "%s: %s" % (action.name, result.skip)
                self.skipped[action.name] = self.skipped.get(action.name, 0) + 1
                return outcome
            if action.converts_versions and _identity(context.resource, outcome.item)[1:] == identity[1:] and \
                    outcome.item.get("apiVersion") != identity[0]:
                self.converted[action.name] = self.converted.get(action.name, 0) + 1
                identity = _identity(context.resource, outcome.item)
            if _identity(context.resource, outcome.item) != identity:
                raise InvalidInputError("%s: changed the apiVersion, kind or namespace of %s (or the name of a "
                                        "Namespace); an action may change an object, not where it goes" % (
                                            action.name, context.ref.describe()))
        return outcome

    def summary(self):
        """Per action, what it skipped, added and converted (attribution in results and the backup's record)."""
        summary = {}
        for action in self.actions:
            name = action.name
            if self.skipped.get(name) or self.added.get(name) or self.converted.get(name):
                summary[name] = dict(skipped=self.skipped.get(name, 0), added=self.added.get(name, 0))
                if action.converts_versions:
                    summary[name]["converted"] = self.converted.get(name, 0)
        return summary


def _identity(res_dir, item):
    meta = item.get("metadata") or {}
    return (item.get("apiVersion"), item.get("kind"), meta.get("namespace"),
            meta.get("name") if res_dir == "namespaces" else None)
