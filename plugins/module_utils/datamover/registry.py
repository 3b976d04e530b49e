# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data movers by name; the services ask here, never for a concrete mover."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.kopia import KopiaMover
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.restic import ResticMover

MOVERS = {ResticMover.name: ResticMover, KopiaMover.name: KopiaMover}


def mover_names():
    return sorted(MOVERS)


def data_mover(config):
    if config.tool not in MOVERS:
        raise InvalidInputError("data_mover.tool: %r is not one of %s" % (config.tool, ", ".join(mover_names())))
    return MOVERS[config.tool](config)
