# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The block store drivers, by name: the one place that knows the concrete drivers.
Modules take their driver choices from here; services get drivers from block_store()."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.csi import CsiBlockStore
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError

DRIVERS = dict((cls.name, cls) for cls in (CsiBlockStore,))


def driver_names():
    return sorted(DRIVERS)


def block_store(driver, k8s, config=None, option="driver"):
    if driver not in DRIVERS:
        raise InvalidInputError("%s: %r is not a block store driver here; choose one of %s" % (
            option, driver, ", ".join(driver_names())))
    return DRIVERS[driver](k8s, config)
