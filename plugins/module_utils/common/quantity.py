# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Byte counts from Kubernetes quantities, parsed by the kubernetes library as the apiserver would."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

try:
    from kubernetes.utils import parse_quantity
    KUBERNETES_IMPORT_ERROR = None
except ImportError as e:
    parse_quantity = None
    KUBERNETES_IMPORT_ERROR = e

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError, MissingLibraryError


def quantity(value, option, examples="500m, 1Gi or 2"):
    """A Kubernetes quantity ('500m', '1Gi', 2) as the apiserver reads it (a Decimal); refuses anything else."""
    if parse_quantity is None:
        raise MissingLibraryError("kubernetes>=30", KUBERNETES_IMPORT_ERROR)
    number = None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        try:
            number = parse_quantity(value)
        except (ValueError, TypeError, ArithmeticError):
            pass
    if number is None or number < 0 or not number.is_finite():
        raise InvalidInputError("%s: %r is not a Kubernetes quantity such as %s" % (option, value, examples))
    return number


def quantity_bytes(value, option="size"):
    """Whole bytes from a quantity ('1Gi', '500M', '1e3', '+1Gi', 1073741824); a fraction of a byte rounds up,
    as the apiserver does for storage. None stays None."""
    if value is None or (type(value) is int and value >= 0):  # pylint: disable=unidiomatic-typecheck
        return value  # (a bool is an int, but never a size)
    return int(math.ceil(quantity(value, option, "1Gi, 500M or 1e9")))
