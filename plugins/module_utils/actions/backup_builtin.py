# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built-in backup item actions: the cluster-scoped objects a namespace's items need
(fetched when include_cluster_resources allows), and what Velero's restore needs to find.
They run in the order of BACKUP_ACTIONS, before user rules and external commands."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.base import (
    ActionResult,
    BackupItemAction,
    ItemRef,
    ResourceSelector,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.format import velero
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.bootstrap import is_bootstrap_role_name

STORAGE_CLASSES = "storageclasses.storage.k8s.io"
CRDS = "customresourcedefinitions.apiextensions.k8s.io"

# Groups the apiserver serves itself (never from a CRD): no CRD lookup for their types.
BUILTIN_GROUPS = frozenset((
    "", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "discovery.k8s.io",
    "rbac.authorization.k8s.io", "storage.k8s.io", "coordination.k8s.io", "events.k8s.io", "node.k8s.io",
    "scheduling.k8s.io", "certificates.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io",
    "apiregistration.k8s.io", "authentication.k8s.io", "authorization.k8s.io", "flowcontrol.apiserver.k8s.io",
    "resource.k8s.io", "storagemigration.k8s.io", "internal.apiserver.k8s.io"))


class PvcVolumeAndClass(BackupItemAction):
    name = "pvc-volume-and-class"
    description = "A PVC brings its PersistentVolume and StorageClass."
    applies_to = ResourceSelector(resources=("persistentvolumeclaims",))

    def execute(self, item, context):
        spec = item.get("spec") or {}
        additional = []
        if spec.get("volumeName"):
            additional.append(ItemRef("persistentvolumes", None, spec["volumeName"]))
        if spec.get("storageClassName"):
            additional.append(ItemRef(STORAGE_CLASSES, None, spec["storageClassName"]))
        return ActionResult(item, additional=additional)


class PvStorageClass(BackupItemAction):
    name = "pv-storage-class"
    description = "A PersistentVolume brings its StorageClass."
    applies_to = ResourceSelector(resources=("persistentvolumes",))

    def execute(self, item, context):
        name = (item.get("spec") or {}).get("storageClassName")
        return ActionResult(item, additional=[ItemRef(STORAGE_CLASSES, None, name)] if name else [])


class RoleBindingClusterRole(BackupItemAction):
    name = "rolebinding-clusterrole"
    description = ("A RoleBinding that grants a ClusterRole brings that ClusterRole, unless every cluster has it "
                   "(admin, edit, view, cluster-admin, system:*): a namespace admin need not read those.")
    applies_to = ResourceSelector(resources=("rolebindings.rbac.authorization.k8s.io",))

    def execute(self, item, context):
        ref = item.get("roleRef") or {}
        if ref.get("kind") == "ClusterRole" and ref.get("name") and not is_bootstrap_role_name(ref["name"]):
            return ActionResult(item, additional=[ItemRef("clusterroles.rbac.authorization.k8s.io", None,
                                                          ref["name"])])
        return ActionResult(item)


class CustomResourceDefinition(BackupItemAction):
    name = "custom-resource-definition"
    description = ("A custom resource brings the CRD that serves its group and plural, as the cluster says "
                   "(an aggregated API has none, and adds nothing).")

    def execute(self, item, context):
        group = context.resource.partition(".")[2]
        if group in BUILTIN_GROUPS or context.resource == CRDS:
            return ActionResult(item)
        # A CRD is named <plural>.<group>; whether one serves this type, the cluster says (a GET that finds
        # none adds nothing). Names cannot tell: Gateway API's gateway.networking.k8s.io is a CRD group.
        return ActionResult(item, additional=[ItemRef(CRDS, None, context.resource)])


class VeleroCsiSnapshotName(BackupItemAction):
    name = "velero-csi-snapshot-name"
    description = ("A PVC with a CSI snapshot record is annotated with its VolumeSnapshot's name, which Velero's "
                   "restore looks for.")
    applies_to = ResourceSelector(resources=("persistentvolumeclaims",))

    def execute(self, item, context):
        meta = item["metadata"]
        record = context.run.csi_records.get((meta.get("namespace"), meta["name"]))
        return ActionResult(velero.mark_claim(item, record) if record else item)


BACKUP_ACTIONS = (PvcVolumeAndClass, PvStorageClass, RoleBindingClusterRole, CustomResourceDefinition,
                  VeleroCsiSnapshotName)
