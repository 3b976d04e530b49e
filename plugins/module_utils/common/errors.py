# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's exception types.

Drivers and services raise these and never import Ansible; the module layer
(common/module.py) is the one place that turns them into fail_json.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class LifeboatError(Exception):
    """Base class: the message is what the user reads."""

    def __init__(self, message, **details):
        super(LifeboatError, self).__init__(message)
        self.message = message
        self.details = details


class InvalidInputError(LifeboatError):
    """An option's value is wrong; the message names the option."""


class NotFoundError(LifeboatError):
    """Something the task refers to does not exist."""


class ConflictError(LifeboatError):
    """The target exists (409). `retried` says the request was repeated, so the
    first attempt may have created it."""

    def __init__(self, message, status=409, reason=None, retried=False, **details):
        super(ConflictError, self).__init__(message, **details)
        self.status = status
        self.reason = reason
        self.retried = retried


class WaitTimeoutError(LifeboatError):
    """A wait ran out of time."""


class ApiError(LifeboatError):
    """An API call failed; carries the status and the server's message."""

    def __init__(self, message, status=None, reason=None, **details):
        super(ApiError, self).__init__(message, **details)
        self.status = status
        self.reason = reason


class MissingLibraryError(LifeboatError):
    """A Python library the task needs is not installed."""

    def __init__(self, library, error):
        super(MissingLibraryError, self).__init__("%s is required: %s" % (library, error))
        self.library = library
        self.error = error
