# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The block store drivers, by name: the one place that knows the concrete drivers.
Modules take their driver choices from here; services get drivers from block_store()."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
from typing import Any, Dict, List, Optional, Tuple, Type

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.aws_ebs import AwsEbsBlockStore
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.base import BlockStore
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.csi import CsiBlockStore
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.openstorage import OpenStorageBlockStore
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.records import SnapshotRecord, record_driver
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError

# The type checker holds every driver to the BlockStore protocol here.
DRIVER_CLASSES: Tuple[Type[BlockStore], ...] = (CsiBlockStore, OpenStorageBlockStore, AwsEbsBlockStore)
DRIVERS: Dict[str, Type[BlockStore]] = dict((cls.name, cls) for cls in DRIVER_CLASSES)


def driver_names():
    return sorted(DRIVERS)


def driver_options():
    """Every connection option some driver reads from its config, by name."""
    return sorted(set(option for cls in DRIVERS.values() for option in cls.OPTIONS))


def block_store(driver: str, k8s: Any, config: Optional[Dict[str, Any]] = None, option: str = "driver") -> BlockStore:
    if driver not in DRIVERS:
        raise InvalidInputError("%s: %r is not a block store driver here; choose one of %s" % (
            option, driver, ", ".join(driver_names())))
    config = config or {}
    return DRIVERS[driver](k8s, dict((k, config.get(k)) for k in DRIVERS[driver].OPTIONS))  # type: ignore[call-arg]


class BlockStores:
    """One block store per driver for a run, made on first use and shared by the run's threads."""

    def __init__(self, k8s, config=None):
        self.k8s = k8s
        self.config = config or {}
        self._stores: Dict[str, BlockStore] = {}
        self._lock = threading.Lock()

    def get(self, driver: str, option: str = "driver") -> BlockStore:
        with self._lock:
            if driver not in self._stores:
                self._stores[driver] = block_store(driver, self.k8s, self.config, option)
            return self._stores[driver]

    def of(self, record: SnapshotRecord) -> BlockStore:
        """The block store that took a snapshot record."""
        return self.get(record_driver(record))

    def every(self) -> List[BlockStore]:
        return [self.get(driver) for driver in driver_names()]
