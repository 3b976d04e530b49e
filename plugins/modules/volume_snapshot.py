#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: volume_snapshot
short_description: Snapshot the persistent volumes of a namespace
version_added: 0.1.0
description:
  - Takes a snapshot of one PersistentVolumeClaim (I(pvc)), or of every PVC that matches a label selector
    (I(pvc_selector)); the batch is created concurrently and waited for together.
  - The snapshot's name is its identity. A second run finds the existing snapshot and reports no change;
    a name that is already used for another PVC is an error, never a silent reuse.
  - With the C(csi) driver a snapshot is a C(VolumeSnapshot) (snapshot.storage.k8s.io/v1) in the PVC's
    namespace. What a later restore needs (storage class, size, access modes) is recorded on it, so the
    returned record is enough to restore the volume even after the PVC is gone, in another namespace or
    in another cluster that reaches the same storage.
  - With the C(openstorage) driver (Portworx, through the OpenStorage REST API) and the C(aws_ebs) driver
    (EBS, through the EC2 API) the snapshot lives in the storage system, labelled (tagged) with its name,
    namespace and what a restore needs; the PVC's PersistentVolume must be on that storage (CSI driver
    C(pxd.portworx.com) or in-tree C(portworxVolume); C(ebs.csi.aws.com) or C(awsElasticBlockStore)),
    or give I(volume_id).
  - C(aws_ebs) can copy the completed snapshot to other regions (I(copy_to_region)), so a backup outlives
    the loss of a region.
  - A snapshot whose driver reports an error is deleted (it cannot be used) and the task fails with the
    driver's message, so a rerun starts afresh.
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
      - C(present) creates the snapshot(s) if missing; C(absent) deletes them.
    type: str
    default: present
    choices: [present, absent]
  name:
    description:
      - Name of the snapshot. With I(pvc_selector) each snapshot is named C(<name>-<pvc>).
    type: str
    required: true
  namespace:
    description:
      - Namespace of the PVCs and of the snapshots.
    type: str
    required: true
  pvc:
    description:
      - The PersistentVolumeClaim to snapshot. Mutually exclusive with I(pvc_selector) and I(volume_id).
    type: str
  volume_id:
    description:
      - Snapshot this storage volume (an EBS volume id, a Portworx volume id) instead of a PVC's.
        C(openstorage) and C(aws_ebs) only. Mutually exclusive with I(pvc) and I(pvc_selector).
    type: str
  csi_driver_map:
    description:
      - Which block store driver snapshots the volumes of which CSI driver, keyed by CSI driver name; for
        example C(ebs.csi.aws.com) to C(aws_ebs) and C(pxd.portworx.com) to C(openstorage).
      - A PVC whose PersistentVolume's CSI driver is a key (or whose in-tree C(awsElasticBlockStore) or
        C(portworxVolume) source Kubernetes migrates to that CSI driver) is snapshotted by the driver it maps
        to; every other PVC by I(driver).
    type: dict
  copy_to_region:
    description:
      - Regions to copy each completed snapshot to (C(aws_ebs)). A copy is tagged with its source snapshot's
        id, so a rerun finds it instead of copying again; its record is in the snapshot's C(copies).
        With I(state=absent) the copies in these regions are deleted too. Needs I(wait).
    type: list
    elements: str
  pvc_selector:
    description:
      - A label selector (C(app=shop,tier in (db))); every matching PVC of I(namespace) is snapshotted.
      - An empty string selects every PVC of the namespace (none is fine too; the result is then empty).
    type: str
  snapshot_class:
    description:
      - The VolumeSnapshotClass to use (C(csi) only). Default is the class marked default for the volume's
        CSI driver.
    type: str
  tags:
    description:
      - Tags to find the snapshot by later, stored as labels (keys and values must be valid labels).
    type: dict
  volume_data:
    description:
      - C(snapshot) keeps a volume's data in its snapshot only, on the storage system it came from.
      - C(copy) also copies each ready snapshot's files into object storage (I(data_mover)), so the backup outlives
        the storage system, the cluster and the region; M(lifeboat.k8s.object_restore) restores it into any
        cluster and any StorageClass. A temporary PVC is made from the snapshot, a Job mounts it read-only and
        uploads its files, and both are deleted. The returned records carry C(data_copy).
      - A rerun finds the copy record and copies nothing again; an interrupted copy (a Job killed) is started
        again by a rerun. Needs I(wait) and PVCs (not I(volume_id)).
    type: str
    default: snapshot
    choices: [snapshot, copy]
  keep_snapshots:
    description:
      - With I(volume_data=copy), C(false) deletes each snapshot once its data is copied (its record then says
        C(snapshot_deleted)); restores use the copy.
    type: bool
    default: true
extends_documentation_fragment:
  - lifeboat.k8s.hooks.BACKUP
  - lifeboat.k8s.k8s_auth
  - lifeboat.k8s.block_store
  - lifeboat.k8s.data_mover
  - lifeboat.k8s.wait
  - lifeboat.k8s.attributes
  - lifeboat.k8s.attributes.STATE_MODULE
  - lifeboat.k8s.attributes.ACTIONGROUPS
"""

EXAMPLES = r"""
- name: Snapshot the database volume before an upgrade
  lifeboat.k8s.volume_snapshot:
    name: shop-db-pre-upgrade
    namespace: shop
    pvc: data-db-0
    tags:
      reason: pre-upgrade
  register: db_snapshot

- name: Snapshot every PVC of the app at once
  lifeboat.k8s.volume_snapshot:
    name: nightly-20261122
    namespace: shop
    pvc_selector: app.kubernetes.io/part-of=shop
    wait_timeout: 900

- name: Snapshot an EBS-backed PVC and keep a copy in another region
  lifeboat.k8s.volume_snapshot:
    driver: aws_ebs
    region: eu-west-1
    name: shop-db-nightly
    namespace: shop
    pvc: data-db-0
    copy_to_region: [eu-central-1]

- name: Snapshot a Portworx volume through the OpenStorage API
  lifeboat.k8s.volume_snapshot:
    driver: openstorage
    openstorage_endpoint: http://portworx-api.kube-system:9001
    openstorage_token: "{{ px_token }}"
    name: shop-db-nightly
    namespace: shop
    pvc: data-db-0

- name: Delete the snapshot again
  lifeboat.k8s.volume_snapshot:
    name: shop-db-pre-upgrade
    namespace: shop
    state: absent
"""

RETURN = r"""
mover_job:
  description:
    - What explains a data mover Job that failed or timed out, read before the Job and its pod were deleted.
  returned: when a data mover Job failed (the task failed)
  type: dict
  contains:
    job:
      description: The Job, as C(namespace/name).
      type: str
    pod:
      description: Its pod's name, if it had one.
      type: str
    termination:
      description: How the mover container ended (reason such as C(OOMKilled), exit_code, signal, message).
      type: dict
    events:
      description: "The events of the Job and its pod, oldest first, as C(<type> <reason>: <message>) lines."
      type: list
      elements: str
    log_tail:
      description: The last lines of the mover's log (at most 4,000 characters).
      type: str
snapshot:
  description: The snapshot record (with I(pvc)); pass it to M(lifeboat.k8s.volume_restore).
  returned: when pvc is used
  type: dict
  contains:
    driver:
      description: The driver that took the snapshot.
      type: str
      sample: csi
    snapshot_id:
      description: The storage system's snapshot handle; null until the snapshot is ready.
      type: str
      sample: 4e6a54f7-6e3b-4c5c-9d1c-1f0c7a9b2d41
    name:
      description: Name of the snapshot.
      type: str
      sample: shop-db-pre-upgrade
    namespace:
      description: Namespace of the snapshot.
      type: str
      sample: shop
    source:
      description: The snapshotted PVC and what a restore needs of it.
      type: dict
      sample: {namespace: shop, pvc: data-db-0, storage_class: fast, size: 10Gi, access_modes: [ReadWriteOnce],
               volume_mode: Filesystem, csi_driver: hostpath.csi.k8s.io}
    tags:
      description: The snapshot's tags.
      type: dict
      sample: {reason: pre-upgrade}
    ready:
      description: Whether the snapshot is ready to restore from.
      type: bool
      sample: true
    size_bytes:
      description: Size of the volume a restore needs, in bytes.
      type: int
      sample: 10737418240
    created_at:
      description: When the storage system cut the snapshot.
      type: str
      sample: "2026-11-22T03:00:04Z"
    error:
      description: The driver's error message, if any.
      type: str
      sample: null
    driver_data:
      description: Driver-specific details (for csi the VolumeSnapshotContent and class; for aws_ebs the region).
      type: dict
      sample: {volume_snapshot_content: snapcontent-1f0c, snapshot_class: csi-hostpath-snapclass}
    copies:
      description: With I(copy_to_region), the copies' records (each as this one, in its region).
      type: list
      elements: dict
      sample: []
    data_copy:
      description:
        - With I(volume_data=copy), where the volume's files were copied and what was copied.
      type: dict
      returned: with volume_data=copy
      contains:
        tool:
          description: The data mover's tool.
          type: str
          sample: restic
        repository:
          description: The repository, C(s3://bucket/<prefix>/volumes/<tool>/<namespace>/<pvc>).
          type: str
          sample: s3://backups/prod/volumes/restic/shop/data-db-0
        snapshot_id:
          description: The tool's snapshot id.
          type: str
          sample: 1f0c7a9b2d414e6a54f76e3b4c5c9d1c1f0c7a9b2d414e6a54f76e3b4c5c9d1c
        bytes:
          description: Bytes of the files copied.
          type: int
          sample: 314572800
        files:
          description: Files copied.
          type: int
          sample: 1200
        bytes_added:
          description: Bytes the repository grew by (after deduplication and compression).
          type: int
          sample: 104857600
        seconds:
          description: How long the copy Job took, from its start until it was seen finished.
          type: float
          sample: 21.4
        image:
          description: The image the Job ran.
          type: str
          sample: docker.io/restic/restic:0.18.0
    snapshot_deleted:
      description: With I(volume_data=copy), whether the snapshot is gone (I(keep_snapshots=false)).
      type: bool
      returned: with volume_data=copy
    hooks:
      description:
        - The outcomes of the hooks that ran around this snapshot, as in the task's I(hooks), each stream cut to
          its last 1024 characters; the backup stores them with the record.
      type: list
      elements: dict
      returned: when hooks ran around it
snapshots:
  description: The snapshot records, one per matching PVC (with I(pvc_selector)), each as I(snapshot).
  returned: when pvc_selector is used
  type: list
  elements: dict
  sample: []
hooks:
  description: Every hook that ran, in order of group and pod, also when the task failed.
  returned: when hooks ran
  type: list
  elements: dict
  contains:
    pod:
      description: The pod.
      type: str
      sample: db-0
    namespace:
      description: Its namespace.
      type: str
      sample: shop
    container:
      description: The container it ran in.
      type: str
      sample: postgres
    phase:
      description: C(pre) or C(post).
      type: str
      sample: pre
    source:
      description: C(annotation) for a Velero annotation hook, else the I(hooks) entry's name.
      type: str
      sample: freeze
    command:
      description: The command.
      type: list
      elements: str
      sample: [/bin/sh, -c, sync]
    status:
      description: C(succeeded) or C(failed).
      type: str
      sample: succeeded
    on_error:
      description: C(Fail) or C(Continue).
      type: str
      sample: Fail
    exit_code:
      description: The command's exit code; null when it did not finish (timeout, exec refused).
      type: int
      sample: 0
    error:
      description: Why it failed, or null.
      type: str
      sample: null
    stdout:
      description: The last 4096 bytes of its standard output.
      type: str
      sample: ""
    stderr:
      description: The last 4096 bytes of its standard error.
      type: str
      sample: ""
    output_truncated:
      description: Whether output was cut.
      type: bool
      sample: false
    seconds:
      description: How long it ran.
      type: float
      sample: 0.12
    timeout:
      description: Its timeout in seconds.
      type: float
      sample: 30.0
"""

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import K8sClient
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.module import LifeboatModule
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.common import auth_params
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.volumes import SNAPSHOT_ARG_SPEC, SnapshotOptions
from ansible_collections.lifeboat.k8s.plugins.module_utils.volumes.snapshots import snapshot_volumes


def main():
    module = LifeboatModule(argument_spec=SNAPSHOT_ARG_SPEC, supports_check_mode=True,
                            mutually_exclusive=[("pvc", "pvc_selector", "volume_id")])
    module.run(lambda m: snapshot_volumes(K8sClient(auth_params(m.params)), SnapshotOptions.from_params(m.params),
                                          m.check_mode))


if __name__ == "__main__":
    main()
