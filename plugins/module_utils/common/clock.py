# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""UTC time as manifests and locks record it (RFC 3339, whole seconds)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def timestamp(moment):
    return moment.strftime(FORMAT)


def parse_timestamp(value):
    return datetime.datetime.strptime(value, FORMAT).replace(tzinfo=datetime.timezone.utc)
