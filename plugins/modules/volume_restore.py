#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: volume_restore
short_description: Restore a persistent volume from a snapshot
version_added: 0.1.0
description:
  - Creates a PersistentVolumeClaim whose data comes from a snapshot, in the snapshot's namespace or any
    other, or in another cluster that reaches the same storage.
  - With the C(csi) driver, restoring into the snapshot's own namespace uses its VolumeSnapshot as the
    PVC's C(dataSource). Anywhere else a VolumeSnapshotContent is pre-provisioned with the recorded snapshot
    handle (C(deletionPolicy=Retain)) together with a VolumeSnapshot bound to it in the target namespace.
  - With the C(openstorage) and C(aws_ebs) drivers a volume is created from the snapshot in the storage
    system (labelled with a key of the snapshot and the target, so a rerun finds it), then a
    PersistentVolume for it (C(Retain), bound to the PVC by C(claimRef); for EBS pinned to the volume's
    zone) and the PVC naming it. C(state=absent) deletes the PVC, that PersistentVolume and that storage
    volume, and nothing that does not carry those marks.
  - A snapshot record made by one driver is refused by another.
  - Idempotent on the target PVC. A target PVC that exists but was not restored from this snapshot is an
    error, never overwritten.
  - C(state=absent) deletes the PVC this module restored and its helper snapshot objects, never anything
    it did not create; the snapshot itself is left alone. It refuses, changing nothing, while a running pod
    mounts the PVC (Kubernetes would keep the claim until no pod uses it); stop those workloads first.
author:
  - lifeboat.k8s developers (@lifeboat-k8s)
options:
  driver:
    description:
      - The block store driver.
    type: str
    default: csi
    choices: [aws_ebs, csi, openstorage]
  state:
    description:
      - C(present) restores the volume if missing; C(absent) deletes a volume restored by this module.
    type: str
    default: present
    choices: [present, absent]
  snapshot:
    description:
      - A snapshot record as returned by M(lifeboat.k8s.volume_snapshot) or stored in a backup.
      - Mutually exclusive with I(snapshot_name).
    type: dict
  snapshot_name:
    description:
      - Name of the snapshot to restore from, in I(snapshot_namespace).
    type: str
  snapshot_namespace:
    description:
      - Namespace of I(snapshot_name). Default is I(namespace).
    type: str
  namespace:
    description:
      - Namespace of the restored PVC. It must exist.
    type: str
    required: true
  pvc:
    description:
      - Name of the restored PVC.
    type: str
    required: true
  storage_class:
    description:
      - StorageClass of the restored PVC. Default is the snapshotted PVC's.
    type: str
  size:
    description:
      - Requested size, a Kubernetes quantity such as C(20Gi). Default is the snapshotted PVC's size;
        it cannot be smaller than the snapshot.
    type: str
  access_modes:
    description:
      - Access modes of the restored PVC. Default is the snapshotted PVC's.
    type: list
    elements: str
  labels:
    description:
      - Labels for the restored PVC.
    type: dict
  in_place:
    description:
      - Restore the snapshot onto the volume it was taken of, under the existing PVC I(pvc), instead of into a
        new PVC (C(openstorage) only; OpenStorage's C(POST /v1/osd-snapshot/restore/{id})). The volume's data
        becomes the snapshot's. Refused while a pod mounts the PVC. The PVC records the snapshot restored
        onto it, so a rerun with the same snapshot changes nothing.
    type: bool
    default: false
  volume_options:
    description:
      - How the storage system makes the new volume. C(aws_ebs) takes C(availability_zone) (default the
        source volume's zone), C(volume_type) (default C(gp3)), C(iops), C(throughput), C(encrypted) and
        C(kms_key_id); C(openstorage) takes C(spec), an OpenStorage VolumeSpec (C(ha_level), C(io_priority),
        C(format)...; default the snapshot's). Not used by C(csi).
    type: dict
extends_documentation_fragment:
  - lifeboat.k8s.k8s_auth
  - lifeboat.k8s.block_store
  - lifeboat.k8s.wait
  - lifeboat.k8s.attributes
  - lifeboat.k8s.attributes.STATE_MODULE
  - lifeboat.k8s.attributes.ACTIONGROUPS
"""

EXAMPLES = r"""
- name: Take a snapshot
  lifeboat.k8s.volume_snapshot:
    name: shop-db-pre-upgrade
    namespace: shop
    pvc: data-db-0
  register: db_snapshot

- name: Restore it next to the original, for inspection
  lifeboat.k8s.volume_restore:
    snapshot: "{{ db_snapshot.snapshot }}"
    namespace: shop-inspect
    pvc: data-db-0
    labels:
      purpose: inspection

- name: Restore by name into the same namespace, bigger
  lifeboat.k8s.volume_restore:
    snapshot_name: shop-db-pre-upgrade
    namespace: shop
    pvc: data-db-0-restored
    size: 20Gi

- name: Remove the inspection copy
  lifeboat.k8s.volume_restore:
    state: absent
    namespace: shop-inspect
    pvc: data-db-0
"""

RETURN = r"""
volume:
  description: The restored volume.
  returned: always (empty when state=absent found nothing)
  type: dict
  contains:
    driver:
      description: The driver.
      type: str
      sample: csi
    namespace:
      description: Namespace of the PVC.
      type: str
      sample: shop-inspect
    pvc:
      description: Name of the PVC.
      type: str
      sample: data-db-0
    phase:
      description: The PVC's phase.
      type: str
      sample: Bound
    restored_from:
      description: The snapshot_id the PVC was restored from.
      type: str
      sample: 4e6a54f7-6e3b-4c5c-9d1c-1f0c7a9b2d41
    volume_name:
      description: The PersistentVolume bound to the PVC.
      type: str
      sample: pvc-0b1d6f0e-6a4f-4f83-9f59-0c2f3e8d9a11
    storage_class:
      description: The PVC's StorageClass.
      type: str
      sample: fast
    size:
      description: The requested size.
      type: str
      sample: 10Gi
    driver_data:
      description: Driver-specific details (for csi the helper VolumeSnapshot and VolumeSnapshotContent).
      type: dict
      sample: {volume_snapshot: lifeboat-restore-data-db-0, volume_snapshot_content: lifeboat-restore-5e0c}
"""

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import K8sClient
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.module import LifeboatModule
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.common import auth_params
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.volumes import VOLUME_RESTORE_ARG_SPEC, VolumeRestoreOptions
from ansible_collections.lifeboat.k8s.plugins.module_utils.volumes.restore import restore_volume


def main():
    module = LifeboatModule(argument_spec=VOLUME_RESTORE_ARG_SPEC, supports_check_mode=True,
                            mutually_exclusive=[("snapshot", "snapshot_name")])
    module.run(lambda m: restore_volume(K8sClient(auth_params(m.params)), VolumeRestoreOptions.from_params(m.params),
                                        m.check_mode))


if __name__ == "__main__":
    main()
