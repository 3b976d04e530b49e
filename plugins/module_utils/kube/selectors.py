# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which objects a filter, a rule or an action selects: resource patterns, label
selectors (the string form and a LabelSelector's dict form), JMESPath expressions."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import re
from typing import Any, List, Tuple

try:
    import jmespath

    JMESPATH_IMPORT_ERROR = None
except ImportError as e:
    JMESPATH_IMPORT_ERROR = e

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError, MissingLibraryError


def resource_matches(res_dir, kind, patterns):
    """Does a resource match any of 'configmaps', 'deployments.apps', 'Deployment', '*.apps', '*'?"""
    plural, _dot, group = res_dir.partition(".")
    for pattern in patterns:
        p = pattern.lower()
        if p in ("*", res_dir, plural) or (kind and p == kind.lower()):
            return True
        if group and p == "*." + group:  # every resource of a group, e.g. '*.metrics.k8s.io'
            return True
    return False


_REQUIREMENT = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9_.-]*)|"
                          r"\s+(in|notin)\s*\(([^)]*)\))?\s*$")


def name_matches(name, patterns):
    """Whether a name matches any of shell-style patterns (namespaces: team-*, *-test)."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns or ())


def parse_selector(selector, option="label_selector"):
    """'app=web,tier in (a,b),!legacy' -> a list of requirements."""
    requirements: List[Tuple[Any, str, Any]] = []
    if not selector:
        return requirements
    for part in re.split(r",(?![^(]*\))", selector):
        match = _REQUIREMENT.match(part)
        if not match:
            raise InvalidInputError("%s: cannot parse %r" % (option, part.strip()))
        negated, key, op, value, set_op, values = match.groups()
        if negated:
            requirements.append((key, "!", None))
        elif op:
            requirements.append((key, "!=" if op == "!=" else "=", value))
        elif set_op:
            requirements.append((key, set_op, set(v.strip() for v in values.split(","))))
        else:
            requirements.append((key, "exists", None))
    return requirements


# A LabelSelector's matchExpressions operators, as requirements.
_LABEL_SELECTOR_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def label_selector_requirements(selector, option="labelSelector"):
    """A LabelSelector dict (matchLabels, matchExpressions) -> requirements; refuses unknown operators."""
    if not isinstance(selector, dict) or set(selector) - set(("matchLabels", "matchExpressions")):
        raise InvalidInputError("%s: expected a LabelSelector {matchLabels: {...}, matchExpressions: [...]}" % option)
    requirements: List[Tuple[Any, str, Any]] = [
        (k, "=", str(v)) for k, v in (selector.get("matchLabels") or {}).items()]
    for index, expression in enumerate(selector.get("matchExpressions") or []):
        operator = _LABEL_SELECTOR_OPERATORS.get(str((expression or {}).get("operator")))
        if operator is None or not expression.get("key"):
            raise InvalidInputError("%s.matchExpressions[%d]: needs a key and an operator In, NotIn, Exists or "
                                    "DoesNotExist" % (option, index))
        requirements.append((expression["key"], operator, set(str(v) for v in expression.get("values") or ())))
    return requirements


def selector_matches(requirements, labels):
    labels = labels or {}
    for key, op, value in requirements:
        present = key in labels
        if op == "=" and labels.get(key) != value:
            return False
        if op == "!=" and labels.get(key) == value:
            return False
        if op == "in" and labels.get(key) not in value:
            return False
        if op == "notin" and present and labels[key] in value:
            return False
        if op == "exists" and not present:
            return False
        if op == "!" and present:
            return False
    return True


def compile_jmespath(expression, option):
    if not expression:
        return None
    if JMESPATH_IMPORT_ERROR is not None:
        raise MissingLibraryError("jmespath", JMESPATH_IMPORT_ERROR)
    try:
        return jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as e:
        raise InvalidInputError("%s: invalid JMESPath expression %r: %s" % (option, expression, e))


def search_jmespath(expression, obj, option):
    """Evaluate a compiled expression on an object; an error names the option and the object, never its data."""
    try:
        return expression.search(obj)
    except jmespath.exceptions.JMESPathError as e:  # e.g. comparing a string with a number
        meta = obj.get("metadata") or {}
        raise InvalidInputError("%s: %r cannot be evaluated on %s %s: %s" % (
            option, expression.expression, obj.get("kind"), meta.get("name"), e))
