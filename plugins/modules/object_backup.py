#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: object_backup
short_description: Back up the API objects of namespaces into object storage
version_added: 0.1.0
description:
  - Captures every API object of the given namespaces into a backup in a storage location, in Velero's
    layout (C(<name>.tar.gz) with C(resources/<resource.group>/namespaces/<ns>/<name>.json) entries).
  - Discovers every listable resource type (core, aggregated APIs, CRDs) and lists them concurrently with
    pagination. Events, nodes, leases and similar cluster machinery are never backed up.
  - The manifest C(lifeboat-backup.json) is written last and holds the SHA-256 of every other file; a backup
    without it is incomplete and is replaced by the next run.
  - "Velero can use an unencrypted backup: it also gets Velero's Backup object C(velero-backup.json) (written
    just before the manifest), C(<name>-logs.gz), C(<name>-results.gz), C(<name>-volumeinfo.json.gz), every
    item again under C(<version>-preferredversion/), and for each CSI snapshot record the VolumeSnapshot, its
    VolumeSnapshotContent and the PVC's C(velero.io/volume-snapshot-name) annotation. A Velero server whose
    storage location is the same bucket and prefix lists it, shows its logs, restores it with its volume data,
    and expires it (with its snapshots) at I(ttl) like its own. Encrypted backups get none of this."
  - Never replaces or deletes what this collection did not write. A name that holds a Velero backup, files of
    another tool, or an incomplete backup without this collection's mark (its lock, left by a failed run, or
    its own C(velero-backup.json)) fails naming the option and touches nothing, for I(state=present) and
    I(state=absent) alike.
  - The backup's name is its identity. A complete backup of that name makes the task report no change.
  - A backup is complete or says that it is not. API requests are retried (429 honouring C(Retry-After),
    5xx, broken connections); a resource type that still cannot be discovered or listed (for example a
    C(403) on Secrets) makes the backup C(PartiallyFailed), names every missing resource in its manifest's
    C(errors), and fails the task unless I(allow_partial=true). A rerun of a partially failed backup tries
    again and replaces it.
  - One run writes a backup name at a time. A lock object next to the backup's files (created only if
    absent, renewed while the run works) makes a second concurrent run fail at once; the lock of a run
    that died is taken over when its lease ends, or at once when its process on this host is gone.
  - Nothing is left behind on failure. The archive is built in a private (0700) temporary directory that is
    removed on every exit, and by the next run if the process was killed; temporary files and unfinished
    multipart uploads of an interrupted run are removed by the rerun and by I(state=absent).
  - In check mode the namespaces are read and the result says what the backup would hold; nothing is written.
author:
  - lifeboat.k8s developers (@lifeboat-k8s)
options:
  name:
    description:
      - Name of the backup.
    type: str
    required: true
  state:
    description:
      - C(present) creates the backup if no complete one of this name exists.
      - C(absent) deletes the backup's files, the manifest first, so it stops being a backup at once.
    type: str
    default: present
    choices: [present, absent]
  namespaces:
    description:
      - The namespaces to back up, or C(['*']) for every namespace the cluster has. With C(['*']) or
        I(namespace_selector), the namespaces are listed when the backup starts and again once their objects are;
        one that appeared meanwhile and matches is backed up too (a warning says so).
      - C(kube-system), C(kube-public) and C(kube-node-lease) are the cluster's own and are left out of C(['*'])
        (and of what I(namespace_selector) matches) unless named; C('*') cannot be given with names.
      - With I(state=present), give I(namespaces) or I(namespace_selector) (alone, it selects among every
        namespace). The backup's RV(backup.namespaces) are the namespaces it took, and
        RV(backup.namespace_selection) how they were chosen.
      - A namespace being deleted when the backup starts is left out, and one deleted while it is backed up is kept
        as far as it was listed; both are warnings, not failures.
    type: list
    elements: str
  exclude_namespaces:
    description:
      - Namespaces to leave out, as shell-style patterns (C(team-*), C(*-test)); applied after I(namespaces) and
        I(namespace_selector).
      - A selection that leaves no namespace is refused before anything is written.
    type: list
    elements: str
  namespace_selector:
    description:
      - A label selector on Namespace objects, such as C(backup=nightly,tier!=scratch); only the namespaces it
        matches are backed up (among I(namespaces) when names are given).
      - "C(['*']) and I(namespace_selector) list Namespaces: the identity needs C(list) on C(namespaces)."
    type: str
  include_resources:
    description:
      - Only these resources, as C(configmaps), C(deployments.apps), a kind such as C(Deployment), or every
        resource of a group as C(*.apps).
      - An entry that matches no resource type of the cluster is refused before anything is written.
    type: list
    elements: str
  exclude_resources:
    description:
      - Leave these resources out (same forms as I(include_resources)). Excluding C(*.<group>) also
        tolerates that API group being unavailable (for example an aggregated API that is down).
    type: list
    elements: str
  label_selector:
    description:
      - Only objects with matching labels (the Namespace objects are always included).
    type: str
  include_cluster_resources:
    description:
      - C(auto) brings in the cluster-scoped objects the namespaces use, their Namespace objects, the
        PersistentVolumes of their PVCs, StorageClasses, the CRDs of their custom resources and the
        ClusterRoles bound into them.
      - C(true) brings in every cluster-scoped object; C(false) only the Namespace objects.
    type: str
    default: auto
    choices: [auto, 'true', 'false']
  filter:
    description:
      - A JMESPath expression evaluated on each object; the object is kept when it is true.
    type: str
  backup_actions:
    description:
      - Rules that run on each item before it is stored, after the built-in backup item actions. Each has a
        condition (all given parts must hold for the item as the actions before it left it) and one thing to do,
        C(json_patch) and C(merge_patch) (both may be given), C(skip) or C(include).
      - Every rule is checked before anything is read or written; a rule that cannot work fails the task naming
        it (C(backup_actions[N]) or its I(name)) and its operation.
      - The result's C(actions) says how many items each action skipped and added; C(skipped_objects) lists
        the first 100 skipped, with the action's name and reason.
    type: list
    elements: dict
    suboptions:
      name:
        description: A name for the rule in results and messages (default C(backup_actions[N])).
        type: str
      resources:
        description: Resources the rule applies to, as in I(include_resources).
        type: list
        elements: str
      namespaces:
        description: Namespaces the rule applies to.
        type: list
        elements: str
      name_regex:
        description: A regular expression the item's name must match (searched, not anchored).
        type: str
      label_selector:
        description: A label selector the item must match, such as C(app=web,tier!=cache).
        type: str
      jmespath:
        description: A JMESPath expression that must be true for the item.
        type: str
      json_patch:
        description:
          - "RFC 6902 operations applied by the C(jsonpatch) library, such as
            C({op: replace, path: /data/password, value: REDACTED}). Operations are checked up front; one that
            does not apply to an item (a missing path, a failed C(test)) fails the task naming the rule and the
            operation, never quoting the item."
        type: list
        elements: dict
      merge_patch:
        description: An RFC 7386 merge patch - mappings merge, C(null) removes a field, anything else replaces.
        type: dict
      skip:
        description: Leave the item out of the backup; C(true) or the reason to report.
        type: raw
      include:
        description:
          - "A JMESPath expression over the item that gives additional items to back up with it, each as
            C({resource, name, namespace}) (C(namespace) defaults to the item's), for example
            C(spec.template.spec.volumes[?configMap].{resource: 'configmaps', name: configMap.name})."
          - Additional items are backed up even when I(label_selector) or I(filter) leave them out; their
            resource type must be one the backup selects and their namespace one of I(namespaces); cluster-scoped
            ones follow I(include_cluster_resources). An item that cannot be added is named in a warning.
        type: str
  disable_actions:
    description:
      - Built-in backup item actions to switch off, by name.
      - C(pvc-volume-and-class) (a PVC brings its PV and StorageClass), C(pv-storage-class) (a PV brings its
        StorageClass), C(rolebinding-clusterrole) (a RoleBinding brings the ClusterRole it grants, unless every
        cluster has it - C(admin), C(edit), C(view), C(cluster-admin), C(system:*)),
        C(custom-resource-definition) (a custom resource brings its CRD, as the cluster's CRDs say),
        C(velero-csi-snapshot-name) (a PVC with a CSI snapshot record is annotated for Velero's restore).
    type: list
    elements: str
    choices: [pvc-volume-and-class, pv-storage-class, rolebinding-clusterrole, custom-resource-definition,
              velero-csi-snapshot-name]
  volume_snapshots:
    description:
      - Snapshot records from M(lifeboat.k8s.volume_snapshot), stored with the backup so that
        M(lifeboat.k8s.object_restore) recreates those PVCs from them.
    type: list
    elements: dict
  allow_partial:
    description:
      - Whether a C(PartiallyFailed) backup (some resource types could not be read) is an acceptable
        outcome. If false, such a backup is still stored, marked C(PartiallyFailed) with its errors, and
        the task fails naming what is missing.
    type: bool
    default: false
  ttl:
    description:
      - How long the backup should be kept, such as C(720h) or C(30d). M(lifeboat.k8s.backup_info) reports
        backups past it as expired.
    type: str
  encryption_recipients:
    description:
      - Age public keys (C(age1...)) to encrypt the backup to, besides those of I(encryption_key). A host that
        only writes backups needs only these; it holds nothing that can read a backup.
      - With this or I(encryption_key), every file of the backup is encrypted client-side (C(.age) files;
        the manifest stays readable and lists the recipients). Secrets never reach the storage in clear.
    type: list
    elements: str
  object_lock_mode:
    description:
      - Keep the backup's files immutable with S3 Object Lock until the backup expires (I(ttl) is required),
        C(GOVERNANCE) (users with C(s3:BypassGovernanceRetention) may still remove it) or C(COMPLIANCE)
        (no one can, not even the account's root user).
      - The bucket must have been created with Object Lock enabled. I(state=absent) refuses to delete a
        backup whose retention has not ended, before deleting anything.
    type: str
    choices: [GOVERNANCE, COMPLIANCE]
extends_documentation_fragment:
  - lifeboat.k8s.k8s_auth
  - lifeboat.k8s.item_actions
  - lifeboat.k8s.storage
  - lifeboat.k8s.sealing.ENCRYPTION_KEY
  - lifeboat.k8s.sealing.SIGNING_KEY
  - lifeboat.k8s.sealing.SERVER_SIDE_ENCRYPTION
  - lifeboat.k8s.attributes
  - lifeboat.k8s.attributes.STATE_MODULE
  - lifeboat.k8s.attributes.ACTIONGROUPS_K8S_STORAGE
"""

EXAMPLES = r"""
- name: Back up the shop into S3
  lifeboat.k8s.object_backup:
    name: shop-20261122
    namespaces: [shop]
    storage: s3://backups/lifeboat
    region: eu-west-1
    ttl: 720h

- name: Back up with the volume snapshots
  lifeboat.k8s.object_backup:
    name: shop-nightly
    namespaces: [shop]
    volume_snapshots: "{{ snaps.snapshots }}"

- name: Back up only configuration, without secrets
  lifeboat.k8s.object_backup:
    name: shop-config
    namespaces: [shop]
    include_resources: [configmaps, services, deployments.apps]
    filter: "metadata.labels.tier != 'scratch'"

- name: Back up encrypted (the host needs only the public key), signed, and immutable for 30 days
  lifeboat.k8s.object_backup:
    name: shop-20261123
    namespaces: [shop]
    storage: s3://backups-locked/lifeboat
    encryption_recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]
    signing_key_file: /etc/lifeboat/signing.key
    encryption_mode: "aws:kms"
    object_lock_mode: GOVERNANCE
    ttl: 720h

- name: Delete a backup
  lifeboat.k8s.object_backup:
    name: shop-20261122
    storage: s3://backups/lifeboat
    state: absent
"""

RETURN = r"""
backup:
  description: Summary of the backup's manifest.
  returned: always (empty when state=absent found nothing)
  type: dict
  contains:
    name:
      description: The backup's name.
      type: str
      sample: shop-20261122
    phase:
      description: C(Completed), C(PartiallyFailed) (see I(errors)), or C(Planned) in check mode.
      type: str
      sample: Completed
    location:
      description: Where the backup's files are.
      type: str
      sample: s3://backups/lifeboat/backups/shop-20261122
    namespace_selection:
      description:
        - How the namespaces were chosen when not only named (C(namespaces), C(exclude_namespaces),
          C(namespace_selector) as given), else null.
      type: dict
      sample: {namespaces: ['*'], exclude_namespaces: ['*-test'], namespace_selector: null}
    counts:
      description: Objects per resource.
      type: dict
      sample: {configmaps: 3, deployments.apps: 1, namespaces: 1}
    total_items:
      description: Objects in the backup.
      type: int
      sample: 42
    items_per_namespace:
      description:
        - Objects of each backed-up namespace, the Namespace itself left out (0 for an empty one). Null for
          backups written before this was recorded.
      type: dict
      sample: {shop: 41, shop-test: 0}
    size_bytes:
      description: Bytes of the backup's files.
      type: int
      sample: 18211
    files:
      description: Every file with its SHA-256 and size.
      type: dict
      sample: {shop-20261122.tar.gz: {sha256: 9f86d08..., size: 17011}}
    created_at:
      description: When the backup started.
      type: str
      sample: "2026-11-22T03:00:00Z"
    completed_at:
      description: When it completed.
      type: str
      sample: "2026-11-22T03:00:04Z"
    expires_at:
      description: When its ttl runs out, if it has one.
      type: str
      sample: "2026-12-22T03:00:04Z"
    expired:
      description: Whether the ttl has run out.
      type: bool
      sample: false
    namespaces:
      description: The namespaces the backup took.
      type: list
      elements: str
      sample: [shop, web]
    volume_snapshots:
      description: Number of snapshot records stored.
      type: int
      sample: 2
    encrypted:
      description: Whether the backup's files are encrypted (age); I(encryption) lists the recipients.
      type: bool
      sample: true
    signed:
      description: Whether the manifest carries a signature (see I(signing_key)).
      type: bool
      sample: true
    velero_compatible:
      description: Whether the backup has the files Velero needs to list and restore it (unencrypted backups).
      type: bool
      sample: true
    written_by:
      description: Always C(lifeboat.k8s) (M(lifeboat.k8s.backup_info) also lists Velero's backups).
      type: str
      sample: lifeboat.k8s
    checksums:
      description: Always true; every file's SHA-256 is in the manifest.
      type: bool
      sample: true
    source:
      description: The cluster the backup came from.
      type: dict
      sample: {host: "https://10.0.0.1:6443", server_version: v1.36.3, cluster_id: 1f0c...}
    warnings:
      description: Things the backup could not include, such as an unavailable aggregated API.
      type: list
      sample: []
    errors:
      description: What could not be backed up, one entry per resource type (and namespace).
      type: list
      sample: [{resource: secrets, namespace: shop, message: "GET /api/v1/namespaces/shop/secrets: 403 ..."}]
api_warnings:
  description:
    - The API server's warnings (its C(Warning) headers, which kubectl prints), each once with how many requests got it
      and the first objects it concerns, such as Pod Security levels a restored workload violates or deprecated API
      versions. Each is also shown as an Ansible warning.
  returned: when a backup was written or planned
  type: list
  elements: dict
  contains:
    message:
      description: The warning's text.
      type: str
    count:
      description: How many requests got it.
      type: int
    objects:
      description: The first ten objects it concerns (resource, name and namespace).
      type: list
      elements: str
  sample:
    - message: 'would violate PodSecurity "restricted:latest": privileged (container "app" must not set privileged=true)'
      count: 1
      objects: [deployments.apps web in shop]
api_retries:
  description: How many Kubernetes API requests were repeated after a 429, 5xx or broken connection.
  returned: when a backup was written
  type: int
  sample: 0
replaced_incomplete:
  description: Whether files of an incomplete backup of the same name were replaced.
  returned: when a backup was written
  type: bool
  sample: false
actions:
  description: The item actions that ran, in order, and per action how many items it skipped and added
    (also kept in the backup's manifest).
  returned: when a backup was written or planned
  type: dict
  sample: {run: [pvc-volume-and-class, custom-resource-definition, redact], effects: {redact: {skipped: 0, added: 0},
           pvc-volume-and-class: {skipped: 0, added: 2}}}
skipped_objects:
  description: The first 100 items an action left out of the backup, each with the action's name and reason.
  returned: when a backup was written or planned
  type: list
  elements: dict
  sample: [{resource: secrets, namespace: shop, name: scratch, message: "no-scratch: skipped by this rule"}]
"""

from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.service import run_backup
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import K8sClient
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.module import LifeboatModule
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.stores import open_store
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.backup import BACKUP_ARG_SPEC, BackupOptions
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.common import auth_params, storage_options


def main():
    module = LifeboatModule(argument_spec=BACKUP_ARG_SPEC, supports_check_mode=True,
                            required_if=[("state", "present", ["namespaces", "namespace_selector"], True)])

    def backup(m):
        options = BackupOptions.from_params(m.params)
        store = open_store(m.params["storage"], storage_options(m.params))
        k8s = K8sClient(auth_params(m.params)) if options.state == "present" else None
        return run_backup(k8s, store, options, m.check_mode)

    module.run(backup)


if __name__ == "__main__":
    main()
