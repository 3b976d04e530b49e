#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: object_restore
short_description: Restore a backup's API objects (and volumes) into a cluster
version_added: 0.1.0
description:
  - Restores a backup made by M(lifeboat.k8s.object_backup) into the same or another namespace or cluster.
  - Verifies every file's SHA-256 against the manifest and reads the whole archive before touching the
    cluster; a mismatch, a damaged archive or an unsafe entry (absolute or C(..) path) fails with nothing
    changed. A backup without a manifest is refused.
  - "Treats the backup as written by a stranger (whoever can write the bucket): a manifest in an unknown
    format or naming other files, archive entries whose path, C(metadata.namespace) and the manifest's
    namespaces disagree, objects outside the backup's namespaces, snapshot records for volumes the backup
    does not hold or for another namespace's snapshot, and archives above I(limits) are refused before
    anything in the cluster changes. Cluster-scoped objects come back only as I(cluster_resources) allows;
    the rest are listed in C(refused_objects)."
  - The cluster's own namespaces (C(kube-system), C(kube-public), C(kube-node-lease)) are restored into only
    when named in I(namespaces) or I(namespace_mapping).
  - "Follows Velero's restore rules: order (CRDs, which are waited for, then namespaces, storage, volumes,
    RBAC, config, services, the rest, workloads last); server-owned fields are stripped; objects the cluster
    recreates are skipped (objects whose controller owner is in the backup, Service endpoints, service
    account tokens, finished pods); Services lose their cluster IPs and node ports; namespaces are mapped in
    objects, PV claimRefs and binding subjects. Each rule is a named restore item action (see
    I(disable_actions)); the user's I(restore_actions) and I(item_action_commands) run after them."
  - PVCs that have a snapshot record in the backup are recreated from it (see M(lifeboat.k8s.volume_restore))
    and their PVs are not restored.
  - "Restores Velero's backups too (a C(velero-backup.json) and no manifest; phase Completed or
    PartiallyFailed): the same checks, except that Velero writes no checksums, which a warning says. PVCs
    whose data Velero took as a CSI snapshot come back from it (its C(<name>-volumeinfo.json.gz)), through the
    C(csi) driver. Those whose files Velero copied into its kopia repository (its data mover,
    C(--snapshot-move-data), or its file-system backup with the kopia uploader) come back from that copy, into any
    cluster, through the data mover's Jobs with C(data_mover.tool=kopia) (the default for such a backup) and
    Velero's repository password in I(data_mover). Volumes it backed up otherwise (native snapshots, the restic
    uploader, raw block volumes it copied) get a new, empty volume and a warning. Events, Nodes and Velero's own
    kinds (its DataUploads too) are never restored, as Velero's restore does not restore them."
  - Objects of one tier are created concurrently. One bad object does not stop the rest; every failure is
    reported with the object and the API's message.
  - "Memory stays flat however large the backup (about 110 MB at 10,000 and at 100,000 objects): while it runs,
    the restore keeps the selected objects and their plans on disk in a private directory under the temporary
    directory (C(TMPDIR)), each encrypted with a key held only in memory, so a run that is killed leaves
    nothing readable behind. Allow that directory up to about the size of the selected objects, decompressed."
  - A second run reports no change.
  - Things worth knowing, such as PVCs that got a new, empty volume, are shown as warnings.
requirements:
  - jsonpatch >= 1.32 (for json_patch rules)
  - cryptography >= 3.4 (ansible-core depends on it; the restore keeps its objects encrypted on disk while it runs)
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
      - C(present) restores the backup.
      - C(absent) undoes a restore into new namespaces; it deletes each target namespace that a restore of
        this backup created (such namespaces carry the label C(lifeboat.k8s/restored-from-backup=<name>)),
        with its restored volumes and their helper snapshot objects. Namespaces without that label are left
        alone with a warning. Used by drills to clean up.
    type: str
    default: present
    choices: [present, absent]
  namespace_mapping:
    description:
      - "Restore namespaces under other names, such as C(shop: shop-copy)."
      - Every key must be a namespace in the backup; a typo fails instead of restoring in place.
    type: dict
  storage_class_mapping:
    description:
      - "Restore volumes into other StorageClasses, such as C(csi-hostpath: standard): what a cluster at another
        site needs, whose storage has other names. Applied to PVCs, StatefulSet C(volumeClaimTemplates) and
        PVs, and to the class a volume restored from its data copy is created with; a backed-up StorageClass
        that is mapped away is not restored. A PVC without a class keeps none."
      - Checked before any change (check mode too). A target class the target cluster does not have is refused;
        so is every PVC or claim template whose class is neither in the target cluster nor mapped (unless the
        backup holds that StorageClass, it is restored, and its provisioner runs in the target cluster). The
        message names each one and the classes the cluster has.
      - "Volumes: with I(restore_volume_data=auto), a volume whose snapshot the target cluster cannot use (its
        CSI driver is not installed there, the cluster does not serve C(snapshot.storage.k8s.io), or the mapped
        class provisions with another driver) comes back from its data copy; one without a copy is refused
        before any change, naming it."
    type: dict
  namespaces:
    description:
      - Only objects of these (backed-up) namespaces, plus cluster-scoped ones. Default is every namespace the
        backup holds (of a whole-cluster backup, every namespace it took).
    type: list
    elements: str
  exclude_namespaces:
    description:
      - Namespaces of the backup not to restore, as shell-style patterns (C(team-*), C(kube-*)); applied after
        I(namespaces). An exclusion that leaves nothing, or that excludes a namespace I(namespace_mapping) maps,
        is refused before anything is changed.
    type: list
    elements: str
  include_resources:
    description:
      - Only these resources, as C(configmaps), C(deployments.apps) or a kind.
    type: list
    elements: str
  exclude_resources:
    description:
      - Leave these resources out.
    type: list
    elements: str
  label_selector:
    description:
      - Only objects with matching labels (Namespace objects are always restored).
    type: str
  existing:
    description:
      - What to do with an object that already exists and differs from the backup.
      - C(keep) leaves it alone and reports it as skipped; C(update) patches it to the backed-up state.
      - An existing object equal to the backup is reported as unchanged either way.
    type: str
    default: keep
    choices: [keep, update]
  restore_status:
    description:
      - Resources whose status is restored too (written through the status subresource).
    type: list
    elements: str
  preserve_node_ports:
    description:
      - Keep the node ports of NodePort and LoadBalancer Services.
    type: bool
    default: false
  restore_actions:
    description:
      - "Rules that change or skip objects before they are created, after the built-in restore item actions.
        Either a list of rules, or a Velero resource-modifier document (C(version: v1),
        C(resourceModifierRules)) as a mapping or as its YAML text, taken verbatim."
      - "A rule has a condition - C(resources) (as in I(include_resources)), C(namespaces), C(name_regex),
        C(label_selector), C(jmespath); all given parts must hold for the object as it was backed up (its source
        namespace and labels) - and what to do: C(json_patch) (RFC 6902 operations, by the C(jsonpatch) library;
        C(patch) is its old name), C(merge_patch) (RFC 7386), or C(skip) (C(true) or a reason). An optional
        C(name) names the rule in results and messages (default C(restore_actions[N]))."
      - "Velero documents: C(conditions) (C(groupResource) as a glob such as C(*.apps), C(resourceNameRegex),
        C(namespaces), C(labelSelector) with C(matchLabels)/C(matchExpressions), C(matches)), C(patches) whose
        values Velero's way (C(\"true\") stays a string, C(true) and numbers are JSON), and C(mergePatches).
        As in Velero, a failed C(test) operation means the rule does not apply, and a rule with both
        C(patches) and C(mergePatches) applies only the patches (with a warning). Strategic merge patches
        (C(strategicPatches)) are not supported: they need the Go types' merge strategies, and are refused."
      - Every rule is checked before anything is restored (its keys, regular expressions, selectors, JMESPath
        and JSON pointers); an operation that does not apply to an object (a missing path, or in lifeboat's
        rules a failed C(test)) fails the restore naming the rule and the operation, never quoting the object.
      - A rule may change an object but not its apiVersion, kind or namespace (the mapping decides that).
      - The alias I(transforms) keeps playbooks written for earlier versions working.
    type: raw
    aliases: [transforms]
  disable_actions:
    description:
      - Built-in restore item actions to switch off, by name. They run in this order -
        C(non-restorable-kinds) (Events, Nodes and Velero's own objects are skipped),
        C(cluster-bootstrap-objects) (what every cluster makes for itself is skipped - bootstrap RBAC such as
        C(system:*), C(cluster-admin), C(admin), C(edit), C(view); system PriorityClasses; APIServices of
        built-in groups; API Priority and Fairness defaults),
        C(source-cluster-snapshots) (VolumeSnapshots and their contents are skipped),
        then one C(convert-<group>-<version>) action per API version Kubernetes no longer serves (see below),
        C(owned-by-restored-controller) (what a restored owner's Kubernetes controller makes again - a
        Deployment's ReplicaSets, any restored controller's Pods, a CronJob's Jobs, revisions, a Service's
        EndpointSlices, a Pod's ephemeral volume claims - is skipped),
        C(owner-references) (ownerReferences to owners the restore holds are kept and point at the owners' new
        UIDs; see below),
        C(service-account-tokens), C(cluster-root-ca) (the
        C(kube-root-ca.crt) ConfigMap), C(service-endpoints), C(finished-pods), C(service-cluster-ip),
        C(service-node-ports) (also kept by I(preserve_node_ports)), C(pvc-bookkeeping) (binding, provisioner
        and Velero annotations), C(storage-class-mapping) (I(storage_class_mapping)), C(pvc-from-snapshot),
        C(pvc-volume-binding), C(pv-claim-ref),
        C(binding-subjects) (subjects follow the namespace mapping), C(pod-node-and-token),
        C(job-controller-uid).
      - For example C([service-cluster-ip]) keeps each Service's cluster IP (the create fails if the IP is
        taken), C([finished-pods]) restores Succeeded and Failed pods, C([owner-references]) restores every
        object without its owner references (as earlier versions did).
      - Owner references. Objects are created owners first (by their depth in the backup's ownership graph,
        then by kind), and each reference names the owner's UID in the target; an owner that already exists
        lends its own. A reference to an owner the restore does not create or find (filtered out, skipped,
        refused, failed) is dropped, with a warning naming the object and the owner. C(controller) and
        C(blockOwnerDeletion) are kept, so deleting the restored owner garbage-collects what it owns, as in
        the source.
      - Removed API versions. A backup of an older cluster may hold objects at versions the target no longer
        serves (C(batch/v1beta1) CronJobs, C(policy/v1beta1) PodDisruptionBudgets, C(networking.k8s.io/v1beta1)
        and C(extensions/v1beta1) Ingresses, C(autoscaling/v2beta1) and C(v2beta2) HorizontalPodAutoscalers,
        C(discovery.k8s.io/v1beta1) EndpointSlices, C(apiextensions.k8s.io/v1beta1) CRDs,
        C(admissionregistration.k8s.io/v1beta1) webhooks, RBAC, storage, scheduling, node, coordination,
        flow control betas and the C(apps/v1beta1), C(apps/v1beta2) workloads). When the target cluster's
        discovery does not serve the archived version, the C(convert-*) action of that version converts the
        object to its successor as the Kubernetes deprecated API migration guide says (for example an Ingress's
        C(serviceName)/C(servicePort) become C(service.name)/C(service.port), a missing C(pathType) becomes
        C(ImplementationSpecific); defaults that changed are written out as the old version had them).
        PodSecurityPolicies and v1beta1 CertificateSigningRequests have no successor - skipped, with a warning.
        An object the source served through two groups (an Ingress as C(extensions/v1beta1) and
        C(networking.k8s.io), so the backup holds both copies) is restored once, from its current group's copy.
        An object with no faithful equivalent (a webhook whose C(sideEffects) are C(Unknown)) refuses the whole
        restore before any change, naming it. Events are never restored, so they are not converted.
    type: list
    elements: str
    choices: [non-restorable-kinds, cluster-bootstrap-objects, source-cluster-snapshots, convert-extensions-v1beta1,
              convert-apps-v1beta1, convert-apps-v1beta2, convert-networking.k8s.io-v1beta1, convert-batch-v1beta1,
              convert-policy-v1beta1, convert-autoscaling-v2beta1, convert-autoscaling-v2beta2,
              convert-discovery.k8s.io-v1beta1, convert-node.k8s.io-v1beta1, convert-scheduling.k8s.io-v1beta1,
              convert-storage.k8s.io-v1beta1, convert-rbac.authorization.k8s.io-v1beta1,
              convert-apiextensions.k8s.io-v1beta1, convert-admissionregistration.k8s.io-v1beta1,
              convert-apiregistration.k8s.io-v1beta1, convert-coordination.k8s.io-v1beta1,
              convert-certificates.k8s.io-v1beta1, convert-flowcontrol.apiserver.k8s.io-v1beta1,
              convert-flowcontrol.apiserver.k8s.io-v1beta2, convert-flowcontrol.apiserver.k8s.io-v1beta3,
              owned-by-restored-controller, owner-references, service-account-tokens, cluster-root-ca,
              service-endpoints, finished-pods, service-cluster-ip, service-node-ports, pvc-bookkeeping,
              storage-class-mapping, pvc-from-snapshot, pvc-volume-binding, pv-claim-ref, binding-subjects,
              pod-node-and-token, job-controller-uid]
  restore_volumes:
    description:
      - Recreate PVCs that have a snapshot record from their snapshots (or their data copies).
      - C(false) restores the PVCs as objects, each getting a new, empty volume from its class; no snapshot, data
        copy or I(data_mover) option is looked at.
    type: bool
    default: true
  block_store_options:
    description:
      - How the C(openstorage) and C(aws_ebs) drivers reach their storage system, for volumes whose snapshot
        records those drivers made (each volume is restored by the driver that took its snapshot). The same
        options as M(lifeboat.k8s.volume_restore)'s, kept apart from the S3 options of the backup's storage.
    type: dict
    suboptions:
      openstorage_endpoint:
        description:
          - The OpenStorage v1 REST API that Portworx serves, C(http://<host>:9001). Used by the C(openstorage) driver.
          - Can also be set with E(OPENSTORAGE_ENDPOINT).
        type: str
      openstorage_token:
        description:
          - Bearer token for a Portworx cluster with security enabled. Can also be set with E(OPENSTORAGE_TOKEN).
        type: str
      openstorage_ca_cert:
        description:
          - CA bundle to verify an C(https://) I(openstorage_endpoint) with. Can also be set with E(OPENSTORAGE_CA_CERT).
        type: path
      openstorage_validate_certs:
        description:
          - Whether to verify the OpenStorage endpoint's TLS certificate.
        type: bool
        default: true
      openstorage_timeout:
        description:
          - Seconds one OpenStorage API request may take.
        type: int
        default: 60
      region:
        description:
          - The AWS region of the EBS volumes and snapshots (C(aws_ebs) driver). Can also be set with E(AWS_REGION)
            or E(AWS_DEFAULT_REGION).
        type: str
        aliases: [aws_region]
      endpoint_url:
        description:
          - URL of the EC2 API, for test beds and private endpoints. Default is AWS.
          - Can also be set with E(AWS_URL) or E(EC2_URL).
        type: str
        aliases: [aws_endpoint_url, ec2_url]
      access_key:
        description:
          - AWS access key ID. Can also be set with E(AWS_ACCESS_KEY_ID).
        type: str
        aliases: [aws_access_key_id, aws_access_key]
      secret_key:
        description:
          - AWS secret access key. Can also be set with E(AWS_SECRET_ACCESS_KEY).
        type: str
        aliases: [aws_secret_access_key, aws_secret_key]
      session_token:
        description:
          - AWS session token for temporary credentials. Can also be set with E(AWS_SESSION_TOKEN).
        type: str
        aliases: [aws_session_token]
      profile:
        description:
          - A named AWS profile. Can also be set with E(AWS_PROFILE).
        type: str
        aliases: [aws_profile]
      aws_ca_bundle:
        description:
          - CA bundle to verify the EC2 endpoint with. Can also be set with E(AWS_CA_BUNDLE). (amazon.aws's
            C(validate_certs) is not offered, as here that name belongs to the Kubernetes connection.)
        type: path
  volume_options:
    description:
      - Per driver, how the storage system makes each restored volume, as M(lifeboat.k8s.volume_restore)'s
        I(volume_options), keyed by driver name (an C(aws_ebs) key holding C(availability_zone) and C(volume_type), say).
    type: dict
  restore_volume_data:
    description:
      - Where a PVC's data comes from when the backup holds both a snapshot and a copy of it
        (M(lifeboat.k8s.volume_snapshot)'s I(volume_data=copy)).
      - C(auto) restores from the snapshot while it exists and the target cluster can use it, else from the copy
        (the snapshot was deleted, or this is another cluster, whose storage cannot read the source's snapshots).
        C(snapshot) never uses a copy. C(copy) always does (and fails if a PVC has none). A volume that can come
        back from neither is refused before any change, naming it.
      - From a copy, the PVC is created empty from its StorageClass (any driver) and a Job mounts it and downloads
        the files into it (I(data_mover)); the restored size and file count are checked against the backup's record.
        The workloads that mount it are created after. A rerun finds the finished PVC and does nothing again; a
        download that was interrupted is run again.
      - I(data_mover)'s I(storage), I(endpoint_url), I(region), I(access_key) and I(secret_key) default to this
        task's I(storage) (when it is C(s3://)) and S3 options.
    type: str
    default: auto
    choices: [auto, snapshot, copy]
  ignore_partial_failure:
    description:
      - Succeed when some objects failed (the result still lists them and says C(PartiallyFailed)).
    type: bool
    default: false
  cluster_resources:
    description:
      - The cluster-scoped resources that may be restored, in the forms of I(include_resources) (C(*) for
        all). The backup's own Namespace objects and the PersistentVolumes of restored PVCs always are.
      - The default restores what namespaced objects need and what grants nothing. ClusterRoles,
        ClusterRoleBindings, webhooks, other Namespaces and the rest are restored only when listed here;
        otherwise they are reported in C(refused_objects) with a warning.
    type: list
    elements: str
    default: [customresourcedefinitions.apiextensions.k8s.io, storageclasses.storage.k8s.io,
              volumesnapshotclasses.snapshot.storage.k8s.io]
  limits:
    description:
      - What reading the backup may cost; a backup above a limit is refused before anything is restored.
        The defaults fit a 300,000-object backup. Raise them only for a backup you trust.
    type: dict
    suboptions:
      entry_size:
        description: Largest decompressed archive entry (one object), as a quantity.
        type: str
        default: 32Mi
      total_size:
        description: Largest decompressed archive.
        type: str
        default: 16Gi
      entries:
        description: Most entries in the archive.
        type: int
        default: 2000000
      side_file_size:
        description: Largest decompressed side file (resource list, snapshot records).
        type: str
        default: 512Mi
extends_documentation_fragment:
  - lifeboat.k8s.hooks.RESTORE
  - lifeboat.k8s.k8s_auth
  - lifeboat.k8s.item_actions
  - lifeboat.k8s.data_mover
  - lifeboat.k8s.storage
  - lifeboat.k8s.sealing.ENCRYPTION_KEY
  - lifeboat.k8s.sealing.SIGNING_KEY
  - lifeboat.k8s.wait
  - lifeboat.k8s.attributes
  - lifeboat.k8s.attributes.STATE_MODULE
  - lifeboat.k8s.attributes.ACTIONGROUPS_K8S_STORAGE
"""

EXAMPLES = r"""
- name: Remove the drill's copy of the shop again
  lifeboat.k8s.object_restore:
    name: shop-20261122
    storage: s3://backups/prod
    namespace_mapping: {shop: shop-drill}
    state: absent

- name: Restore the shop into a copy
  lifeboat.k8s.object_restore:
    name: shop-20261122
    storage: s3://backups/lifeboat
    namespace_mapping:
      shop: shop-copy

- name: Restore into another cluster, scaled down, overwriting what differs
  lifeboat.k8s.object_restore:
    name: shop-20261122
    kubeconfig: ~/.kube/dr-cluster
    existing: update
    restore_actions:
      - name: scaled-down
        resources: [deployments.apps]
        json_patch:
          - {op: replace, path: /spec/replicas, value: 0}

- name: Restore with a Velero resource-modifier file, keeping Service cluster IPs
  lifeboat.k8s.object_restore:
    name: shop-20261122
    namespace_mapping: {shop: shop-copy}
    restore_actions: "{{ lookup('ansible.builtin.file', 'resource-modifiers.yaml') }}"
    disable_actions: [service-cluster-ip]
"""

RETURN = r"""
mover_job:
  description:
    - What explains a data mover Job (a restore from a copy) that failed or timed out, read before the Job was
      deleted; the same fields as M(lifeboat.k8s.volume_snapshot)'s RV(lifeboat.k8s.volume_snapshot#module:mover_job).
  returned: when a data mover Job failed (the task failed)
  type: dict
deleted_namespaces:
  description: Namespaces deleted (with I(state=absent)).
  returned: when state=absent
  type: list
  elements: str
  sample: [shop-drill]
hooks:
  description:
    - The post-restore hooks that ran (or could not), each with C(pod), C(namespace), C(container), C(phase),
      C(source) (C(annotation) or the I(restore_hooks) entry's name), C(command), C(status) (C(succeeded), C(failed),
      C(skipped)), C(on_error), C(exit_code), C(error), the last 4096 bytes of C(stdout) and C(stderr),
      C(output_truncated), C(seconds) and C(timeout).
  returned: when hooks ran
  type: list
  elements: dict
  sample: []
phase:
  description: C(Completed), or C(PartiallyFailed) when some objects failed.
  returned: when state=present
  type: str
  sample: Completed
backup:
  description: The backup's name.
  returned: when state=present
  type: str
  sample: shop-20261122
namespace_mapping:
  description: The namespace mapping used.
  returned: when state=present
  type: dict
  sample: {shop: shop-copy}
counts:
  description: Per resource, how many objects were created, updated, unchanged, skipped or failed.
  returned: when state=present
  type: dict
  sample: {configmaps: {created: 3, updated: 0, unchanged: 0, skipped: 1, failed: 0}}
totals:
  description: The same counts over all resources.
  returned: when state=present
  type: dict
  sample: {created: 40, updated: 0, unchanged: 2, skipped: 9, failed: 0}
failures:
  description: Every object that failed, with the API's message.
  returned: when state=present
  type: list
  elements: dict
  sample: [{resource: configmaps, namespace: shop-copy, name: app, message: "POST ...: 422 ..."}]
skipped_objects:
  description: Every object that was not restored, and why - the name of the action that skipped it, then its
    reason.
  returned: when state=present
  type: list
  elements: dict
  sample: [{resource: replicasets.apps, namespace: shop-copy, name: web-5d4f,
            message: "owned-by-restored-controller: owned by Deployment web, which recreates it"}]
refused_objects:
  description: Cluster-scoped objects of the backup that were not restored because I(cluster_resources) does
    not allow them.
  returned: when state=present
  type: list
  elements: dict
  sample: [{resource: clusterrolebindings.rbac.authorization.k8s.io, namespace: null, name: admin-all,
            message: "refused: cluster-scoped clusterrolebindings.rbac.authorization.k8s.io is not in cluster_resources"}]
actions:
  description: Per item action that skipped something, how many items it skipped.
  returned: when state=present
  type: dict
  sample: {owned-by-restored-controller: {skipped: 4, added: 0}}
api_warnings:
  description:
    - The API server's warnings during the restore (such as Pod Security levels a restored workload violates), each
      once with a count and its first objects; the same form as M(lifeboat.k8s.object_backup)'s RV(api_warnings).
      Each is also shown as an Ansible warning.
  returned: when state=present
  type: list
  elements: dict
  sample:
    - {message: 'would violate PodSecurity "restricted:latest": privileged', count: 1, objects: [deployments.apps web in shop]}
volumes:
  description:
    - The volumes restored from snapshots (see M(lifeboat.k8s.volume_restore)) or from data copies (C(driver) is
      C(data_mover); those restored by this run also have C(copied_bytes), C(copied_files) and C(seconds)).
  returned: when state=present
  type: list
  elements: dict
  sample: []
"""

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import K8sClient
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.module import LifeboatModule
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.stores import open_store
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.common import auth_params, storage_options
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.restore import RESTORE_ARG_SPEC, RestoreOptions
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.service import run_restore


def main():
    module = LifeboatModule(argument_spec=RESTORE_ARG_SPEC, supports_check_mode=True)

    def restore(m):
        options = RestoreOptions.from_params(m.params)
        store = open_store(m.params["storage"], storage_options(m.params))
        return run_restore(K8sClient(auth_params(m.params)), store, options, m.check_mode)

    module.run(restore)


if __name__ == "__main__":
    main()
