#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: backup_info
short_description: List the backups in a storage location, or show one
version_added: 0.1.0
description:
  - Lists every backup under C(backups/) of a storage location with its phase, dates, size, source
    namespaces and whether its ttl has run out. A backup without a manifest is listed as C(Incomplete).
  - With I(name), returns that backup's whole manifest.
  - With I(verify), downloads every file and re-checks its SHA-256 against the manifest (encrypted files are
    checked as stored; no key is needed), and checks that each volume data copy's repository and snapshot are
    in storage (C(config) and C(snapshots/<id>) of its restic repository; copies outside the backup's storage
    location are listed in C(copies_not_checked)).
  - Shows which backups are encrypted and signed; with I(signing_key), whether each signature is valid.
  - A manifest this collection cannot read (damaged, another format, naming other files) is listed as
    C(Damaged) with the reason in C(problem); it is never used.
  - Lists Velero's backups in the same location too (from their C(velero-backup.json)), with C(written_by=velero)
    and C(checksums=false); Velero writes no checksums, so they cannot be verified.
author:
  - lifeboat.k8s developers (@lifeboat-k8s)
options:
  name:
    description:
      - Only this backup, with its manifest.
    type: str
  verify:
    description:
      - Re-check every file's checksum (downloads the backups).
    type: bool
    default: false
extends_documentation_fragment:
  - lifeboat.k8s.storage
  - lifeboat.k8s.sealing.SIGNING_KEY
  - lifeboat.k8s.attributes
  - lifeboat.k8s.attributes.INFO_MODULE
  - lifeboat.k8s.attributes.ACTIONGROUPS_STORAGE
"""

EXAMPLES = r"""
- name: List the backups in S3
  lifeboat.k8s.backup_info:
    storage: s3://backups/lifeboat
  register: listing

- name: Expired backups
  ansible.builtin.debug:
    msg: "{{ listing.backups | selectattr('expired', 'defined') | selectattr('expired') | map(attribute='name') }}"

- name: Check one backup end to end
  lifeboat.k8s.backup_info:
    name: shop-20261122
    verify: true
"""

RETURN = r"""
backups:
  description: One entry per backup, sorted by name; see M(lifeboat.k8s.object_backup) for the fields.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The backup's name.
      type: str
      sample: shop-20261122
    complete:
      description: Whether the backup has its manifest and its phase is C(Completed) (nothing missing).
      type: bool
      sample: true
    phase:
      description:
        - C(Completed).
        - C(PartiallyFailed) means committed, but some resource types could not be read; see C(errors).
        - C(InProgress) means a run holds its lock.
        - C(Incomplete) means no manifest and no live writer, an interrupted run that the next run replaces.
        - C(Damaged) means a manifest that cannot be read or trusted; see C(problem).
      type: str
      sample: Completed
    namespace_selection:
      description:
        - How the backup chose its namespaces when they were not only named (C(namespaces) C(['*']),
          C(exclude_namespaces), C(namespace_selector) as given); null otherwise. C(namespaces) lists those taken.
      type: dict
      sample: {namespaces: ['*'], exclude_namespaces: ['*-test'], namespace_selector: null}
    items_per_namespace:
      description: Objects of each backed-up namespace, the Namespace itself left out; null when not recorded.
      type: dict
      returned: for this collection's backups
      sample: {shop: 41, shop-test: 0}
    written_by:
      description: C(lifeboat.k8s), or C(velero) for a backup Velero wrote (which M(lifeboat.k8s.object_restore)
        restores). Only C(name), C(phase), C(complete), dates, C(namespaces), C(total_items), C(warnings),
        C(errors), C(format_version) and C(problem) are known of a Velero backup.
      type: str
      sample: lifeboat.k8s
    checksums:
      description: Whether its files carry checksums that are verified before a restore (Velero's do not).
      type: bool
      sample: true
    velero_compatible:
      description: Whether this collection also wrote the files Velero needs to list and restore it.
      type: bool
      returned: for this collection's backups
      sample: true
    problem:
      description: Why a backup is C(Damaged), failed I(verify), or its signature is not valid; for a Velero
        backup, that it cannot be verified.
      type: str
      returned: when there is one
      sample: "backup shop: its manifest is in format 99; this collection reads format 1"
    encrypted:
      description: Whether its files are encrypted (age); C(encryption.recipients) lists the public keys.
      type: bool
      sample: false
    signed:
      description: Whether its manifest is signed.
      type: bool
      sample: true
    signature_valid:
      description: Whether the signature matches I(signing_key) (with I(signing_key)).
      type: bool
      returned: with signing_key
      sample: true
    expired:
      description: Whether its ttl has run out.
      type: bool
      sample: false
    verified:
      description: Whether every checksum matched and every data copy was found (with I(verify)).
      type: bool
      sample: true
    data_copies:
      description: The volume data copies the backup holds (M(lifeboat.k8s.volume_snapshot)'s I(volume_data=copy)).
      type: list
      elements: dict
      sample: [{namespace: shop, pvc: data, tool: restic, repository: s3://backups/prod/volumes/restic/shop/data,
                snapshot_id: 1f0c7a9b2d414e6a54f76e3b4c5c9d1c1f0c7a9b2d414e6a54f76e3b4c5c9d1c, bytes: 314572800,
                files: 1200}]
    copies_not_checked:
      description: Repositories of data copies outside the backup's storage location, which I(verify) cannot reach.
      type: list
      elements: str
      sample: []
    manifest:
      description: The whole manifest (with I(name)).
      type: dict
      sample: {}
"""

from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.info import backup_info
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.module import LifeboatModule
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.stores import open_store
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.backup import BACKUP_INFO_ARG_SPEC, BackupInfoOptions
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.common import storage_options


def main():
    module = LifeboatModule(argument_spec=BACKUP_INFO_ARG_SPEC, supports_check_mode=True)
    module.run(lambda m: backup_info(open_store(m.params["storage"], storage_options(m.params)),
                                     BackupInfoOptions.from_params(m.params)))


if __name__ == "__main__":
    main()
