# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""User-declared actions: rules with a condition and what to do (json_patch, merge_patch, skip,
and at backup time include), and Velero's resource-modifier documents taken verbatim.

A rule's condition is evaluated on the object as it was backed up (its source namespace, name and
labels), every part must hold. Everything is checked when the rules are read, before the first
object: a rule that cannot work fails the run with its option and index, and nothing changes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

try:
    import yaml

    YAML_IMPORT_ERROR = None
except ImportError as e:  # pragma: no cover - PyYAML comes with ansible-core
    YAML_IMPORT_ERROR = e

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.base import (
    ActionResult,
    BackupItemAction,
    ItemRef,
    RestoreItemAction,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.patches import (
    JsonPatch,
    PatchTestFailed,
    check_merge_patch,
    merge_patch,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.selectors import (
    compile_jmespath,
    label_selector_requirements,
    name_matches,
    parse_selector,
    resource_matches,
    search_jmespath,
    selector_matches,
)

CONDITION_KEYS = ("resources", "namespaces", "name_regex", "label_selector", "jmespath")
RESTORE_RULE_KEYS = ("name",) + CONDITION_KEYS + ("json_patch", "patch", "merge_patch", "skip")
BACKUP_RULE_KEYS = RESTORE_RULE_KEYS + ("include",)


class Condition:
    """All given parts must hold for the backed-up object."""

    def __init__(self, option, resources=(), resource_glob=None, namespaces=(), name_regex=None,
                 label_selector=(), jmespath=None, matches=None, namespaces_spare_cluster_scoped=False):
        self.option = option
        self.resources = list(resources)
        self.resource_glob = resource_glob
        self.namespaces = list(namespaces)
        # Velero's namespaces condition (globs allowed) does not apply to cluster-scoped objects; in
        # lifeboat's rules, namespaces means namespaced objects of those namespaces.
        self.namespaces_spare_cluster_scoped = namespaces_spare_cluster_scoped
        try:
            self.name_regex = re.compile(name_regex) if name_regex else None
        except re.error as e:
            raise InvalidInputError("%s: name regex %r: %s" % (option, name_regex, e))
        self.label_selector = label_selector
        self.jmespath = jmespath
        self.matches = matches  # a JsonPatch of test operations (Velero's conditions.matches)

    def holds(self, res_dir, obj):
        meta = obj.get("metadata") or {}
        if self.resources and not resource_matches(res_dir, obj.get("kind"), self.resources):
            return False
        if self.resource_glob is not None and not self.resource_glob.match(res_dir):
            return False
        if self.namespaces:
            if not meta.get("namespace"):
                if not self.namespaces_spare_cluster_scoped:
                    return False
            elif not name_matches(meta["namespace"], self.namespaces):
                return False
        if self.name_regex and not self.name_regex.search(meta.get("name", "")):
            return False
        if self.label_selector and not selector_matches(self.label_selector, meta.get("labels")):
            return False
        if self.jmespath and not search_jmespath(self.jmespath, obj, self.option + ".jmespath"):
            return False
        if self.matches is not None:
            try:
                self.matches.apply(obj)
            except InvalidInputError:  # a failed test or a missing path: no match, as in Velero
                return False
        return True


class Rule:
    """What a rule does to an item its condition selects."""

    def __init__(self, name, condition, json_patch=None, merge_patches=(), skip=None, include=None,
                 failed_test_skips_rule=False):
        self.name = name
        self.condition = condition
        self.json_patch = json_patch
        self.merge_patches = list(merge_patches)
        self.skip = skip
        self.include = include
        self.failed_test_skips_rule = failed_test_skips_rule
        self.description = "user rule"

    def execute(self, item, context):
        if not self.condition.holds(context.resource, context.source):
            return ActionResult(item)
        if self.skip:
            return ActionResult(item, skip=self.skip)
        if self.json_patch is not None:
            try:
                item = self.json_patch.apply(item)
            except PatchTestFailed:
                if not self.failed_test_skips_rule:
                    raise
                return ActionResult(item)  # Velero: a failed test means "this rule does not apply"
        for patch in self.merge_patches:
            item = merge_patch(item, patch)
        additional = _included(self, item, context) if self.include is not None else []
        return ActionResult(item, additional=additional)


class BackupRule(Rule, BackupItemAction):
    pass


class RestoreRule(Rule, RestoreItemAction):
    pass


def _included(rule, item, context):
    option = rule.name + ".include"
    found = search_jmespath(rule.include, item, option)
    if found is None:
        return []
    refs = []
    for entry in found if isinstance(found, list) else [found]:
        if entry is None:
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), str) or \
                not isinstance(entry.get("name"), str) or not entry["name"]:
            raise InvalidInputError("%s: each result must be {resource: <such as secrets or deployments.apps>, "
                                    "name: ..., namespace: (optional)}; got a %s for %s" % (
                                        option, type(entry).__name__, context.ref.describe()))
        namespace = entry.get("namespace") or (item.get("metadata") or {}).get("namespace")
        refs.append(ItemRef(entry["resource"].lower(), namespace, entry["name"]))
    return refs


# ---------------------------------------------------------------- lifeboat's own rules

def read_rules(rules, option, kind):
    """backup_actions / restore_actions (and transforms) as a list of rules."""
    if rules is None:
        return []
    if not isinstance(rules, list):
        raise InvalidInputError("%s: expected a list of rules%s" % (
            option, " or a Velero resource-modifier document" if kind == "restore" else ""))
    return [_rule(rule, "%s[%d]" % (option, index), kind) for index, rule in enumerate(rules)]


def _rule(rule, option, kind):
    allowed = BACKUP_RULE_KEYS if kind == "backup" else RESTORE_RULE_KEYS
    if not isinstance(rule, dict):
        raise InvalidInputError("%s: expected a mapping with a condition and json_patch, merge_patch, skip%s" % (
            option, " or include" if kind == "backup" else ""))
    unknown = sorted(set(rule) - set(allowed))
    if unknown:
        raise InvalidInputError("%s: unknown key(s) %s (a rule has %s)" % (
            option, ", ".join(unknown), ", ".join(allowed)))
    if rule.get("json_patch") is not None and rule.get("patch") is not None:
        raise InvalidInputError("%s: give json_patch or its old name patch, not both" % option)
    name = rule.get("name") or option
    if not isinstance(name, str):
        raise InvalidInputError("%s.name: expected a string" % option)
    for key in ("resources", "namespaces"):
        if rule.get(key) is not None and not (isinstance(rule[key], list) and
                                              all(isinstance(v, str) for v in rule[key])):
            raise InvalidInputError("%s.%s: expected a list of strings" % (option, key))
    condition = Condition(
        option, resources=rule.get("resources") or (), namespaces=rule.get("namespaces") or (),
        name_regex=rule.get("name_regex"),
        label_selector=parse_selector(rule.get("label_selector"), option + ".label_selector"),
        jmespath=compile_jmespath(rule.get("jmespath"), option + ".jmespath"))
    operations = rule.get("json_patch") if rule.get("json_patch") is not None else rule.get("patch")
    json_patch = JsonPatch(operations, option + (".json_patch" if rule.get("patch") is None else ".patch")) \
        if operations is not None else None
    merge_patches = [check_merge_patch(rule["merge_patch"], option + ".merge_patch")] \
        if rule.get("merge_patch") is not None else []
    skip = rule.get("skip")
    if skip is not None and not isinstance(skip, (bool, str)):
        raise InvalidInputError("%s.skip: expected true or a reason" % option)
    if skip is True:
        skip = "skipped by this rule"
    include = compile_jmespath(rule.get("include"), option + ".include") if kind == "backup" else None
    if not (json_patch or merge_patches or skip or include):
        raise InvalidInputError("%s: says nothing to do: give json_patch, merge_patch, skip%s" % (
            option, " or include" if kind == "backup" else ""))
    if skip and (json_patch or merge_patches or include):
        raise InvalidInputError("%s: skip cannot be combined with a patch or include" % option)
    cls = BackupRule if kind == "backup" else RestoreRule
    return cls(name, condition, json_patch=json_patch, merge_patches=merge_patches, skip=skip or None,
               include=include)


# ---------------------------------------------------------------- Velero's resource modifiers

VELERO_RULE_KEYS = ("conditions", "patches", "mergePatches", "strategicPatches")
VELERO_CONDITION_KEYS = ("groupResource", "resourceNameRegex", "namespaces", "labelSelector", "matches")


def is_velero_document(value):
    return isinstance(value, dict) and ("resourceModifierRules" in value or "version" in value)


def parse_document(value, option):
    """restore_actions given as text (a Velero resource-modifier file, or rules in YAML)."""
    if not isinstance(value, str):
        return value
    if YAML_IMPORT_ERROR is not None:  # pragma: no cover
        raise InvalidInputError("%s: reading YAML needs PyYAML: %s" % (option, YAML_IMPORT_ERROR))
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as e:
        raise InvalidInputError("%s: not valid YAML: %s" % (option, e))


def read_velero_document(document, option, warnings):
    """A Velero resource-modifier document (version v1) as restore rules, checked as strictly as Velero does."""
    unknown = sorted(set(document) - set(("version", "resourceModifierRules")))
    if unknown:
        raise InvalidInputError("%s: unknown key(s) %s in a Velero resource-modifier document" % (
            option, ", ".join(unknown)))
    if str(document.get("version", "")).lower() != "v1":
        raise InvalidInputError("%s: unsupported resource modifier version %r (Velero's documents say version: v1)"
                                % (option, document.get("version")))
    rules = document.get("resourceModifierRules")
    if not isinstance(rules, list) or not rules:
        raise InvalidInputError("%s.resourceModifierRules: must be a non-empty list" % option)
    return [_velero_rule(rule, "%s.resourceModifierRules[%d]" % (option, index), warnings)
            for index, rule in enumerate(rules)]


def _velero_rule(rule, option, warnings):
    if not isinstance(rule, dict):
        raise InvalidInputError("%s: expected {conditions: ..., patches: [...]}" % option)
    unknown = sorted(set(rule) - set(VELERO_RULE_KEYS))
    if unknown:
        raise InvalidInputError("%s: unknown key(s) %s" % (option, ", ".join(unknown)))
    conditions = rule.get("conditions")
    if not isinstance(conditions, dict):
        raise InvalidInputError("%s.conditions: required, with at least groupResource" % option)
    unknown = sorted(set(conditions) - set(VELERO_CONDITION_KEYS))
    if unknown:
        raise InvalidInputError("%s.conditions: unknown key(s) %s" % (option, ", ".join(unknown)))
    if not isinstance(conditions.get("groupResource"), str) or not conditions["groupResource"]:
        raise InvalidInputError("%s.conditions.groupResource: required, such as persistentvolumeclaims or "
                                "deployments.apps (a glob: *.apps)" % option)
    if rule.get("strategicPatches"):
        raise InvalidInputError("%s.strategicPatches: strategic merge patches are not supported (they need the Go "
                                "types' merge strategies); write them as patches (RFC 6902) or mergePatches "
                                "(RFC 7386)" % option)
    matches = conditions.get("matches")
    match_patch = None
    if matches:
        if not isinstance(matches, list) or not all(isinstance(m, dict) and m.get("path") for m in matches):
            raise InvalidInputError("%s.conditions.matches: expected a list of {path: /..., value: ...}" % option)
        match_patch = JsonPatch([{"op": "test", "path": m["path"], "value": velero_value(m.get("value", ""))}
                                 for m in matches], option + ".conditions.matches")
    selector = ()
    if conditions.get("labelSelector") is not None:
        selector = label_selector_requirements(conditions["labelSelector"], option + ".conditions.labelSelector")
    namespaces = conditions.get("namespaces") or []
    if not isinstance(namespaces, list):
        raise InvalidInputError("%s.conditions.namespaces: expected a list" % option)
    condition = Condition(option + ".conditions", resource_glob=_glob(conditions["groupResource"], option),
                          namespaces=[n for n in namespaces if n != "*"], name_regex=conditions.get("resourceNameRegex"),
                          label_selector=selector, matches=match_patch, namespaces_spare_cluster_scoped=True)
    patches, merges = rule.get("patches"), rule.get("mergePatches")
    if not patches and not merges:
        raise InvalidInputError("%s: no patch data found (give patches or mergePatches)" % option)
    json_patch, merge_patches = None, []
    if patches:
        json_patch = JsonPatch([_velero_operation(p, "%s.patches[%d]" % (option, i)) for i, p in enumerate(patches)],
                               option + ".patches")
        if merges:
            warnings.append("%s: has patches and mergePatches; as in Velero, only the patches are applied" % option)
    else:
        merge_patches = [_velero_merge(m, "%s.mergePatches[%d]" % (option, i)) for i, m in enumerate(merges or [])]
    return RestoreRule(option, condition, json_patch=json_patch, merge_patches=merge_patches,
                       failed_test_skips_rule=True)


def _velero_operation(patch, option):
    if not isinstance(patch, dict) or set(patch) - set(("operation", "path", "value", "from")):
        raise InvalidInputError("%s: expected {operation: ..., path: ..., value: ...}" % option)
    operation = str(patch.get("operation") or "").lower()
    if not patch.get("path"):
        raise InvalidInputError("%s: path cannot be empty" % option)
    op = {"op": operation, "path": patch["path"]}
    if operation in ("add", "replace", "test"):
        op["value"] = velero_value(patch.get("value", ""))
    if operation in ("move", "copy"):
        op["from"] = patch.get("from", "")
    return op


def velero_value(value):
    """A patch value as Velero reads its string: null, true/false, numbers, JSON objects and arrays are
    JSON; a quoted string is that string; anything else is a string."""
    if not isinstance(value, str):
        return value  # YAML already typed it
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return value[1:-1]
    if value == "null":
        return None
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    if value.startswith("{") or value.startswith("[") or re.match(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$", value):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _velero_merge(merge, option):
    if not isinstance(merge, dict) or set(merge) != set(("patchData",)):
        raise InvalidInputError("%s: expected {patchData: <a JSON or YAML merge patch>}" % option)
    data = merge["patchData"]
    if isinstance(data, str):
        data = parse_document(data, option + ".patchData")
    return check_merge_patch(data, option + ".patchData")


def _glob(pattern, option):
    """Velero's groupResource glob, '.' the separator: * stays within a part, ** crosses parts, {a,b}."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^.]*")
        elif c == "?":
            out.append("[^.]")
        elif c == "{":
            end = pattern.find("}", i)
            if end < 0:
                raise InvalidInputError("%s.conditions.groupResource: unclosed { in %r" % (option, pattern))
            out.append("(?:%s)" % "|".join(re.escape(p) for p in pattern[i + 1:end].split(",")))
            i = end + 1
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("^%s$" % "".join(out))
