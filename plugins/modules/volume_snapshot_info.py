#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: volume_snapshot_info
short_description: List volume snapshots
version_added: 0.1.0
description:
  - Lists snapshots by namespace, name, tags or source PVC. All filters given must match.
  - The records returned are the same as M(lifeboat.k8s.volume_snapshot) returns and can be passed to
    M(lifeboat.k8s.volume_restore).
author:
  - lifeboat.k8s developers (@lifeboat-k8s)
options:
  driver:
    description:
      - The block store driver.
    type: str
    default: csi
    choices: [aws_ebs, csi, openstorage]
  namespace:
    description:
      - Only snapshots in this namespace. Default is every namespace.
    type: str
  name:
    description:
      - Only the snapshot with this name.
    type: str
  pvc:
    description:
      - Only snapshots of this PersistentVolumeClaim.
    type: str
  tags:
    description:
      - Only snapshots with all of these tags.
    type: dict
extends_documentation_fragment:
  - lifeboat.k8s.k8s_auth
  - lifeboat.k8s.block_store
  - lifeboat.k8s.attributes
  - lifeboat.k8s.attributes.INFO_MODULE
  - lifeboat.k8s.attributes.ACTIONGROUPS
"""

EXAMPLES = r"""
- name: Find the pre-upgrade snapshots of the shop
  lifeboat.k8s.volume_snapshot_info:
    namespace: shop
    tags:
      reason: pre-upgrade
  register: found

- name: Every snapshot of one PVC
  lifeboat.k8s.volume_snapshot_info:
    namespace: shop
    pvc: data-db-0
"""

RETURN = r"""
snapshots:
  description: Snapshot records sorted by namespace and name; see M(lifeboat.k8s.volume_snapshot) for the fields.
  returned: always
  type: list
  elements: dict
  sample:
    - driver: csi
      name: shop-db-pre-upgrade
      namespace: shop
      ready: true
      snapshot_id: 4e6a54f7-6e3b-4c5c-9d1c-1f0c7a9b2d41
      source: {namespace: shop, pvc: data-db-0, size: 10Gi}
      tags: {reason: pre-upgrade}
"""

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import K8sClient
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.module import LifeboatModule
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.common import auth_params
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.volumes import SNAPSHOT_INFO_ARG_SPEC, SnapshotInfoOptions
from ansible_collections.lifeboat.k8s.plugins.module_utils.volumes.snapshots import snapshot_info


def main():
    module = LifeboatModule(argument_spec=SNAPSHOT_INFO_ARG_SPEC, supports_check_mode=True)
    module.run(lambda m: snapshot_info(K8sClient(auth_params(m.params)), SnapshotInfoOptions.from_params(m.params)))


if __name__ == "__main__":
    main()
