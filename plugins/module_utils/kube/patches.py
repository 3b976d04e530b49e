# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Patching objects: RFC 6902 JSON patches through the jsonpatch library, RFC 7386 merge patches.

Every JSON patch operation is checked before any object is touched (its members and pointer syntax,
which the library checks only when it gets to it); what depends on the object (a path that does not
exist, an index past the end, a failed test) is checked per object and names the operation. Messages
never quote the object: it may be a Secret.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

try:
    import jsonpatch
    import jsonpointer
    JSONPATCH_IMPORT_ERROR = None
except ImportError as e:  # pragma: no cover - reported when a patch is given
    JSONPATCH_IMPORT_ERROR = e

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError, MissingLibraryError

PATCH_MEMBERS = {"add": ("value",), "replace": ("value",), "test": ("value",), "remove": (),
                 "move": ("from",), "copy": ("from",)}


class PatchTestFailed(InvalidInputError):
    """A 'test' operation did not hold: a rule may treat that as "does not apply" (Velero's do)."""


class JsonPatch:
    """RFC 6902 operations, validated up front."""

    def __init__(self, operations, option="patch"):
        if JSONPATCH_IMPORT_ERROR is not None:
            raise MissingLibraryError("jsonpatch", JSONPATCH_IMPORT_ERROR)
        if not isinstance(operations, list):
            raise InvalidInputError("%s: expected a list of RFC 6902 operations" % option)
        self.option = option
        self.operations = [_compile(op, "%s[%d]" % (option, index)) for index, op in enumerate(operations)]

    def apply(self, doc):
        """The patched copy of doc."""
        doc = copy.deepcopy(doc)
        for where, op, patch in self.operations:
            missing = _missing_location(doc, op)
            if missing and op["op"] == "test":
                raise PatchTestFailed("%s: test of %r failed: the path does not exist" % (where, op["path"]))
            if missing:
                raise InvalidInputError("%s: %s: %s does not exist in the object" % (where, op["op"], missing))
            try:
                doc = patch.apply(doc, in_place=True)
            except jsonpatch.JsonPatchTestFailed:
                raise PatchTestFailed("%s: test of %r failed" % (where, op["path"]))
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as e:
                reason = str(e) if "{" not in str(e) and "[" not in str(e) else "does not apply to this object"
                raise InvalidInputError("%s: %s %r: %s" % (where, op["op"], op["path"], reason))
        return doc


def _compile(op, where):
    if not isinstance(op, dict) or op.get("op") not in PATCH_MEMBERS:
        raise InvalidInputError("%s: expected {op: add|remove|replace|move|copy|test, path: /...}" % where)
    for member in ("path",) + PATCH_MEMBERS[op["op"]]:
        if member not in op:
            raise InvalidInputError("%s: %s needs %r" % (where, op["op"], member))
    if op["op"] == "remove" and op["path"] == "":
        raise InvalidInputError("%s: remove needs a path below the root ('' is the whole object)" % where)
    for member in ("path", "from"):
        if member in op:
            if not isinstance(op[member], str):
                raise InvalidInputError("%s: %s must be a JSON pointer string" % (where, member))
            try:
                jsonpointer.JsonPointer(op[member])
            except jsonpointer.JsonPointerException as e:
                raise InvalidInputError("%s: %s %r is not a JSON pointer: %s" % (where, member, op[member], e))
    try:
        return where, op, jsonpatch.JsonPatch([op])
    except jsonpatch.JsonPatchException as e:
        raise InvalidInputError("%s: %s" % (where, e))


_ABSENT = object()


def _missing_location(doc, op):
    """What the operation needs and the object lacks (e.g. "path '/a/b'"), or None."""
    needed = [("path %r" % op["path"], op["path"])] if op["op"] in ("remove", "replace", "test") else []
    if op["op"] in ("move", "copy"):
        needed.append(("from %r" % op["from"], op["from"]))
    if op["op"] in ("add", "move", "copy") and op["path"]:
        parent = jsonpointer.JsonPointer.from_parts(jsonpointer.JsonPointer(op["path"]).parts[:-1]).path
        needed.append(("%r, the parent of path %r," % (parent, op["path"]), parent))
    for member, pointer in needed:
        try:
            found = jsonpointer.resolve_pointer(doc, pointer, _ABSENT)
        except jsonpointer.JsonPointerException:
            found = _ABSENT
        if found is _ABSENT:
            return member
    return None


def check_merge_patch(patch, option):
    if not isinstance(patch, dict):
        raise InvalidInputError("%s: a merge patch (RFC 7386) is a mapping of fields to set, or null to remove" %
                                option)
    return patch


def merge_patch(doc, patch):
    """RFC 7386 section 2, as the RFC writes it: mappings merge, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
