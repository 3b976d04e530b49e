# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built-in restore item actions: Velero's restore rules, one named action per concern
(DESIGN.md, "Restore rules"). They run in the order of RESTORE_ACTIONS, before user rules and
external commands; disable_actions switches any of them off.

Not actions, because no restore is correct without them (restore.prepare_core): stripping
server-owned metadata and status, and mapping the object's own namespace.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.base import (
    ActionResult,
    ResourceSelector,
    RestoreItemAction,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube import conversions
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.bootstrap import BOOTSTRAP_RESOURCES, bootstrap_reason
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.ownership import describe, recreated_by


def _meta(item):
    return item.setdefault("metadata", {})


def _owner_references(source):
    """The backed-up object's owner references (entries that are not objects ignored: the archive is data)."""
    return [r for r in (source.get("metadata") or {}).get("ownerReferences") or [] if isinstance(r, dict)]


class NonRestorableKinds(RestoreItemAction):
    name = "non-restorable-kinds"
    description = "Skips records of the source cluster's machinery and Velero's own objects (as Velero's restore)."
    KINDS = ("nodes", "events", "events.events.k8s.io", "backups.velero.io", "restores.velero.io",
             "resticrepositories.velero.io", "backuprepositories.velero.io", "csinodes.storage.k8s.io",
             "volumeattachments.storage.k8s.io")
    applies_to = ResourceSelector(resources=KINDS)

    def execute(self, item, context):
        return ActionResult(item, skip="a record of the source cluster, never restored (as Velero's restore does)")


class ClusterBootstrapObjects(RestoreItemAction):
    name = "cluster-bootstrap-objects"
    description = ("Skips the cluster-scoped objects every cluster makes for itself: bootstrap RBAC (system:*, "
                   "cluster-admin, admin, edit, view), system PriorityClasses, APIServices of built-in groups, API "
                   "Priority and Fairness defaults. The target has its own.")
    applies_to = ResourceSelector(resources=BOOTSTRAP_RESOURCES)

    def execute(self, item, context):
        why = bootstrap_reason(context.resource, context.source)
        if why:
            return ActionResult(item, skip="%s: the target cluster has its own" % why)
        return ActionResult(item)


class SourceClusterSnapshots(RestoreItemAction):
    name = "source-cluster-snapshots"
    description = ("Skips VolumeSnapshots and VolumeSnapshotContents: volumes come back from the backup's snapshot "
                   "records through the driver that took them.")
    applies_to = ResourceSelector(resources=("volumesnapshots.snapshot.storage.k8s.io",
                                             "volumesnapshotcontents.snapshot.storage.k8s.io"))

    def execute(self, item, context):
        return ActionResult(item, skip="snapshot of the source cluster: volumes come back from the backup's "
                                       "snapshot records")


class RemovedApiVersion(RestoreItemAction):
    """One per group/version Kubernetes stopped serving (kube/conversions.py): an object archived at it is converted
    to its successor when the target cluster does not serve it; one without a successor is skipped, one without a
    faithful equivalent refuses the restore before any change."""
    converts_versions = True
    removed = conversions.REMOVED_VERSIONS[0]

    def execute(self, item, context):
        if item.get("apiVersion") != self.removed.group_version:
            return ActionResult(item)
        # A cluster served the same object through two groups (an Ingress as extensions and networking.k8s.io):
        # both copies are in the backup, and the current group's is the one to restore.
        current = conversions.current_copy(self.removed, item)
        if current and context.run.holds((current,) + tuple(context.ref)[1:]):
            return ActionResult(item, skip="the same object is in the backup as %s, which is restored" % current)
        if context.run.serves(self.removed.group_version):
            return ActionResult(item)
        try:
            warnings, why_not = conversions.convert(self.removed, item)
        except conversions.NotConvertible as e:
            return ActionResult(item, refuse="%s of %s cannot be converted (the target does not serve %s): %s" % (
                item.get("kind"), context.ref.describe(), self.removed.group_version, e))
        if why_not:
            return ActionResult(item, skip=why_not, warnings=["%s is not restored: %s" % (
                context.ref.describe(), why_not)])
        return ActionResult(item, warnings=["%s (%s, converted to %s): %s" % (
            context.ref.describe(), self.removed.group_version, item["apiVersion"], w) for w in warnings])


def _conversion_action(removed):
    name = "convert-%s" % removed.group_version.replace("/", "-")
    kinds = ", ".join(sorted(removed.kinds))
    return type("Convert" + "".join(p.capitalize() for p in name.replace(".", "-").split("-")), (RemovedApiVersion,), {
        "name": name, "removed": removed, "applies_to": ResourceSelector(resources=removed.resource_dirs()),
        "description": "%s (%s; not served since Kubernetes %s) becomes its successor's version when the target does "
                       "not serve it." % (removed.group_version, kinds, removed.removed_in)})


CONVERSIONS = tuple(_conversion_action(removed) for removed in conversions.REMOVED_VERSIONS)


class OwnedByRestoredController(RestoreItemAction):
    name = "owned-by-restored-controller"
    description = ("Skips what a restored owner's Kubernetes controller makes again itself: a Deployment's ReplicaSets, "
                   "the Pods of any restored controller, a CronJob's Jobs, StatefulSets' and DaemonSets' revisions, a "
                   "Service's EndpointSlices, a Pod's ephemeral volume claims.")

    def execute(self, item, context):
        for ref in _owner_references(context.source):
            if ref.get("uid") in context.run.uids and recreated_by(context.resource, ref):
                return ActionResult(item, skip="owned by %s, which recreates it" % describe(ref))
        return ActionResult(item)


class OwnerReferences(RestoreItemAction):
    name = "owner-references"
    description = ("Keeps an object's ownerReferences to owners the restore holds: owners are created first and each "
                   "reference then names its owner's new UID (an owner that exists lends its own). A reference to an "
                   "owner outside the restore is dropped, with a warning.")

    def execute(self, item, context):
        references = _owner_references(context.source)
        kept = [dict(r) for r in references if r.get("uid") in context.run.uids]
        if kept:
            _meta(item)["ownerReferences"] = kept
        dropped = [r for r in references if r.get("uid") not in context.run.uids]
        if dropped:  # said once for the run (a restore of pods alone would say it of every pod)
            context.run.unlinked.append("%s (%s)" % (context.ref.describe(), ", ".join(describe(r) for r in dropped)))
        return ActionResult(item)


class ServiceAccountTokens(RestoreItemAction):
    name = "service-account-tokens"
    description = ("Skips service account token Secrets and drops them from ServiceAccounts: the cluster mints "
                   "new ones.")
    applies_to = ResourceSelector(resources=("secrets", "serviceaccounts"))

    def execute(self, item, context):
        if context.resource == "secrets":
            if item.get("type") == "kubernetes.io/service-account-token":
                return ActionResult(item, skip="service account token: the cluster mints new ones")
            return ActionResult(item)
        prefix = _meta(item).get("name", "") + "-token-"
        secrets = [s for s in item.get("secrets") or [] if not s.get("name", "").startswith(prefix)]
        if secrets:
            item["secrets"] = secrets
        else:
            item.pop("secrets", None)
        return ActionResult(item)


class ClusterRootCA(RestoreItemAction):
    name = "cluster-root-ca"
    description = "Skips the kube-root-ca.crt ConfigMap: the cluster publishes its own into every namespace."
    applies_to = ResourceSelector(resources=("configmaps",))

    def execute(self, item, context):
        if context.source["metadata"].get("name") == "kube-root-ca.crt":
            return ActionResult(item, skip="published into every namespace by the cluster")
        return ActionResult(item)


class ServiceEndpoints(RestoreItemAction):
    name = "service-endpoints"
    description = "Skips Endpoints and EndpointSlices of restored Services: the cluster recreates them."
    applies_to = ResourceSelector(resources=("endpoints", "endpointslices.discovery.k8s.io"))

    def execute(self, item, context):
        meta = context.source["metadata"]
        if context.resource == "endpoints" and (meta.get("namespace"), meta.get("name")) in context.run.services:
            return ActionResult(item, skip="endpoints of a Service: the cluster recreates them")
        if context.resource == "endpointslices.discovery.k8s.io" and (meta.get("labels") or {}).get(
                "endpointslice.kubernetes.io/managed-by") == "endpointslice-controller.k8s.io":
            return ActionResult(item, skip="endpoint slice of a Service: the cluster recreates it")
        return ActionResult(item)


class FinishedPods(RestoreItemAction):
    name = "finished-pods"
    description = "Skips pods that had Succeeded or Failed."
    applies_to = ResourceSelector(resources=("pods",))

    def execute(self, item, context):
        if (context.source.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return ActionResult(item, skip="finished pod")
        return ActionResult(item)


class ServiceClusterIP(RestoreItemAction):
    name = "service-cluster-ip"
    description = "Drops a Service's clusterIP and clusterIPs (not a headless one's) so the cluster allocates new ones."
    applies_to = ResourceSelector(resources=("services",))

    def execute(self, item, context):
        spec = item.get("spec") or {}
        if spec.get("clusterIP") != "None":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        return ActionResult(item)


class ServiceNodePorts(RestoreItemAction):
    name = "service-node-ports"
    description = "Drops a Service's node ports and healthCheckNodePort, unless preserve_node_ports is set."
    applies_to = ResourceSelector(resources=("services",))

    def execute(self, item, context):
        if context.run.options.get("preserve_node_ports"):
            return ActionResult(item)
        spec = item.get("spec") or {}
        spec.pop("healthCheckNodePort", None)
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)
        return ActionResult(item)


class PvcBookkeeping(RestoreItemAction):
    name = "pvc-bookkeeping"
    description = ("Drops a PVC's binding and provisioner annotations, Velero's snapshot labels and "
                   "annotations and lifeboat's marks of an earlier restore: they describe the source cluster.")
    applies_to = ResourceSelector(resources=("persistentvolumeclaims",))
    ANNOTATIONS = (
        "pv.kubernetes.io/bind-completed", "pv.kubernetes.io/bound-by-controller",
        "volume.kubernetes.io/selected-node", "volume.beta.kubernetes.io/storage-provisioner",
        "volume.kubernetes.io/storage-provisioner",
        # Velero's: a snapshot of the source cluster (also written for Velero's restore), its backup bookkeeping.
        "velero.io/volume-snapshot-name", "backup.velero.io/must-include-additional-items",
    )
    LABELS = ("velero.io/backup-name", "velero.io/volume-snapshot-name")
    # lifeboat.k8s/restored-from, /restore-driver, /restore-pv...: a restore of the source cluster's, whose
    # volume and PersistentVolume the target's restore must neither claim nor delete.
    OWN_RESTORE_MARKS = "lifeboat.k8s/restore"

    def execute(self, item, context):
        annotations = _meta(item).get("annotations") or {}
        for key in list(self.ANNOTATIONS) + [k for k in annotations if k.startswith(self.OWN_RESTORE_MARKS)]:
            annotations.pop(key, None)
        for key in self.LABELS:
            (_meta(item).get("labels") or {}).pop(key, None)
        return ActionResult(item)


class StorageClassMapping(RestoreItemAction):
    name = "storage-class-mapping"
    description = ("storage_class_mapping renames StorageClasses in PVCs, StatefulSet volumeClaimTemplates and PVs, "
                   "and skips the backed-up StorageClasses it maps away (the target's class is used instead).")
    applies_to = ResourceSelector(resources=("persistentvolumeclaims", "persistentvolumes", "statefulsets.apps",
                                             "storageclasses.storage.k8s.io"))

    def execute(self, item, context):
        mapping = context.run.options.get("storage_class_mapping") or {}
        if not mapping:
            return ActionResult(item)
        if context.resource == "storageclasses.storage.k8s.io":
            name = context.source["metadata"].get("name")
            if name in mapping:
                return ActionResult(item, skip="mapped to %s by storage_class_mapping" % mapping[name])
            return ActionResult(item)
        specs = [item.get("spec") or {}]
        if context.resource == "statefulsets.apps":
            specs = [t.get("spec") or {} for t in (item.get("spec") or {}).get("volumeClaimTemplates") or []]
        for spec in specs:
            if spec.get("storageClassName") in mapping:
                spec["storageClassName"] = mapping[spec["storageClassName"]]
        return ActionResult(item)


class PvcFromSnapshot(RestoreItemAction):
    name = "pvc-from-snapshot"
    description = ("A PVC with a snapshot record in the backup is recreated from that snapshot through the block "
                   "store driver that took it (restore_volumes: false does the same as disabling this).")
    applies_to = ResourceSelector(resources=("persistentvolumeclaims",))

    def execute(self, item, context):
        record = context.run.snapshot_record(context.source)
        return ActionResult(item, volume_record=record)


class PvcVolumeBinding(RestoreItemAction):
    name = "pvc-volume-binding"
    description = ("A PVC keeps its volumeName only if its PV is restored too; otherwise it gets a new, empty "
                   "volume, with a warning.")
    applies_to = ResourceSelector(resources=("persistentvolumeclaims",))

    def execute(self, item, context):
        spec = item.get("spec") or {}
        volume = spec.get("volumeName")
        if not volume or context.run.snapshot_record(context.source) or \
                context.run.restored("persistentvolumes", volume):
            return ActionResult(item)
        spec.pop("volumeName")
        meta = context.source["metadata"]
        why = "its PV exists and there is no snapshot of it in the backup" \
            if context.run.in_backup("persistentvolumes", volume) else "neither its PV nor a snapshot is in the backup"
        return ActionResult(item, warnings=["PVC %s/%s gets a new, empty volume: %s" % (
            context.run.mapped(meta.get("namespace")), meta.get("name"), why)])


class PvClaimRef(RestoreItemAction):
    name = "pv-claim-ref"
    description = ("A PV is not restored when its claim comes back from a snapshot or a PV of its name exists; "
                   "otherwise its claimRef loses the old claim's uid and follows the namespace mapping.")
    applies_to = ResourceSelector(resources=("persistentvolumes",))

    def execute(self, item, context):
        claim = (item.get("spec") or {}).get("claimRef")
        if claim and context.run.claim_from_snapshot(claim.get("namespace"), claim.get("name")):
            return ActionResult(item, skip="its claim is restored from a snapshot")
        if context.run.exists("persistentvolumes", context.source["metadata"]["name"]):
            return ActionResult(item, skip="a PersistentVolume of this name exists in the cluster")
        if claim:
            for field in ("uid", "resourceVersion"):
                claim.pop(field, None)
            claim["namespace"] = context.run.mapped(claim.get("namespace"))
        return ActionResult(item)


class BindingSubjects(RestoreItemAction):
    name = "binding-subjects"
    description = "RoleBinding and ClusterRoleBinding subjects follow the namespace mapping."
    applies_to = ResourceSelector(resources=("rolebindings.rbac.authorization.k8s.io",
                                             "clusterrolebindings.rbac.authorization.k8s.io"))

    def execute(self, item, context):
        for subject in item.get("subjects") or []:
            if subject.get("namespace"):
                subject["namespace"] = context.run.mapped(subject["namespace"])
        return ActionResult(item)


class PodNodeAndToken(RestoreItemAction):
    name = "pod-node-and-token"
    description = ("A pod loses its nodeName, priority and service account token volume: the scheduler and "
                   "admission set them again.")
    applies_to = ResourceSelector(resources=("pods",))

    def execute(self, item, context):
        spec = item.get("spec") or {}
        spec.pop("nodeName", None)
        spec.pop("priority", None)
        tokens = set(v["name"] for v in spec.get("volumes") or []
                     if v.get("name", "").startswith("kube-api-access-") and "projected" in v)
        if tokens:
            spec["volumes"] = [v for v in spec["volumes"] if v["name"] not in tokens]
            for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                if container.get("volumeMounts"):
                    container["volumeMounts"] = [m for m in container["volumeMounts"] if m.get("name") not in tokens]
        return ActionResult(item)


class JobControllerUid(RestoreItemAction):
    name = "job-controller-uid"
    description = "A Job loses the controller-uid labels and the selector its controller generated."
    applies_to = ResourceSelector(resources=("jobs.batch",))
    LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")

    def execute(self, item, context):
        spec = item.get("spec") or {}
        template_meta = (spec.get("template") or {}).get("metadata") or {}
        for labels in (_meta(item).get("labels") or {}, template_meta.get("labels") or {}):
            for label in self.LABELS:
                labels.pop(label, None)
        if not spec.get("manualSelector"):
            spec.pop("selector", None)
        return ActionResult(item)


# The order they run in.
RESTORE_ACTIONS = (NonRestorableKinds, ClusterBootstrapObjects, SourceClusterSnapshots) + CONVERSIONS + (
    OwnedByRestoredController, OwnerReferences,
    ServiceAccountTokens, ClusterRootCA,
    ServiceEndpoints, FinishedPods, ServiceClusterIP, ServiceNodePorts, PvcBookkeeping, StorageClassMapping,
    PvcFromSnapshot,
    PvcVolumeBinding, PvClaimRef, BindingSubjects, PodNodeAndToken, JobControllerUid,
)
