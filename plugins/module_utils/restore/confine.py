# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a restore may create things, whatever the backup says.

A backup is written by whoever can write the bucket. So every entry's archive
path, its metadata and the manifest must agree before a restore starts
(namespaced objects only in the backup's namespaces, which the namespace
mapping then moves), and cluster-scoped objects come back only from an
allow-list the user sees and can change. Pure functions: no cluster access.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.records import claim_of, record_problem
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.archive import ArchiveError
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.layout import DNS_LABEL
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.velero import VELERO
from ansible_collections.lifeboat.k8s.plugins.module_utils.kube.selectors import resource_matches

# Cluster-scoped resources restored by default: what namespaced objects need to work and what
# grants nothing. The backup's own Namespaces and the PVs of its restored PVCs always come back.
DEFAULT_CLUSTER_RESOURCES = [
    "customresourcedefinitions.apiextensions.k8s.io", "storageclasses.storage.k8s.io",
    "volumesnapshotclasses.snapshot.storage.k8s.io",
]
# The cluster's own namespaces: restored into only when named in namespaces or namespace_mapping.
PROTECTED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
RESOURCE_DIR = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
API_VERSION = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
MAX_PROBLEMS_SHOWN = 5
# Velero's data mover adds each volume's DataUpload, in Velero's own namespace, to the backup: the record its restore
# turns into a DataDownload. lifeboat reads the same facts from the volume information; these entries are skipped
# wherever they are (never restored, never a reason to refuse the backup).
VELERO_BOOKKEEPING = ("datauploads.velero.io",)


class Confinement:
    def __init__(self, manifest, allowed, namespaces, mapping):
        """allowed: the cluster_resources option; namespaces: the namespaces option."""
        self.backup = manifest.name
        self.written_by_velero = manifest.written_by == VELERO
        self.namespaces = set(manifest.namespaces)
        self.mapping = mapping
        self.allowed = allowed
        self.problems = []
        self.pvcs = set()  # (namespace, name) of every PVC in the archive
        named = set(namespaces or []) | set(mapping)
        for ns in sorted(set(namespaces or []) or self.namespaces):  # those the restore takes
            target = mapping.get(ns, ns)
            if target in PROTECTED_NAMESPACES and ns not in named:
                raise InvalidInputError(
                    "namespaces: backup %s holds namespace %s, which would be restored into the cluster's own %s; "
                    "name it in namespaces or namespace_mapping to restore it there, or restore only the others "
                    "with namespaces" % (self.backup, ns, target))

    def check_entry(self, res_dir, path_namespace, path_name, obj):
        """Record why an archive entry cannot be trusted (path, metadata and manifest disagree). False for an entry
        that is not restored."""
        if self.written_by_velero and res_dir in VELERO_BOOKKEEPING:
            return False
        where = "resources/%s/%s/%s.json" % (res_dir, "namespaces/%s" % path_namespace if path_namespace
                                             else "cluster", path_name)
        problem = _entry_problem(res_dir, path_namespace, path_name, obj, self.namespaces)
        if problem:
            self.problems.append("%s: %s" % (where, problem))
        elif res_dir == "persistentvolumeclaims":
            self.pvcs.add((path_namespace, path_name))
        return problem is None

    def check_records(self, records, drivers):
        """The backup's snapshot records, checked against the archive: each one belongs to a PVC
        the backup holds, in one of its namespaces, once. Velero writes null for none."""
        if records is None:
            return []
        if not isinstance(records, list):
            self.problems.append("its volume snapshot records are not a list")
            records = []
        seen = set()
        for i, record in enumerate(records):
            where = "volume snapshot record %d" % i
            problem = record_problem(record, drivers)
            key = claim_of(record) if problem is None else None
            if problem or key is None:
                self.problems.append("%s: %s" % (where, problem))
            elif key[0] not in self.namespaces:
                self.problems.append("%s: its volume is in namespace %r, not one of the backup's namespaces (%s)" % (
                    where, key[0], ", ".join(sorted(self.namespaces))))
            elif key not in self.pvcs:
                self.problems.append("%s: PVC %s/%s is not in the backup" % (where, key[0], key[1]))
            elif key in seen:
                self.problems.append("%s: a second record for PVC %s/%s" % (where, key[0], key[1]))
            seen.add(key)
        self.raise_problems()
        return records

    def raise_problems(self):
        if self.problems:
            shown = "; ".join(self.problems[:MAX_PROBLEMS_SHOWN])
            more = " (and %d more)" % (len(self.problems) - MAX_PROBLEMS_SHOWN) \
                if len(self.problems) > MAX_PROBLEMS_SHOWN else ""
            raise ArchiveError("backup %s does not hold together, so nothing was restored: %s%s" % (
                self.backup, shown, more))

    def cluster_refusal(self, res_dir, obj, restored_pvcs):
        """Why a cluster-scoped object is not restored, or None. restored_pvcs: {(namespace, name)}."""
        meta = obj.get("metadata") or {}
        if res_dir == "namespaces" and meta.get("name") in self.namespaces:
            return None
        if res_dir == "persistentvolumes":
            claim = (obj.get("spec") or {}).get("claimRef") or {}
            if (claim.get("namespace"), claim.get("name")) in restored_pvcs:
                return None
        if resource_matches(res_dir, obj.get("kind"), self.allowed):
            return None
        if res_dir == "namespaces":
            return "refused: Namespace %s is not one of the backup's namespaces (%s)" % (
                meta.get("name"), ", ".join(sorted(self.namespaces)))
        if res_dir == "persistentvolumes":
            return "refused: its claim is not a PersistentVolumeClaim restored from this backup"
        return "refused: cluster-scoped %s is not in cluster_resources (%s)" % (
            res_dir, ", ".join(self.allowed) or "none")


def _entry_problem(res_dir, path_namespace, path_name, obj, namespaces):
    if not RESOURCE_DIR.match(res_dir):
        return "the resource directory is not a resource name"
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
        return "not a Kubernetes object"
    meta = obj["metadata"]
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not API_VERSION.match(api_version) or not isinstance(kind, str):
        return "malformed apiVersion or kind"
    group = api_version.rpartition("/")[0]
    if group != res_dir.partition(".")[2]:
        return "apiVersion %s does not belong to %s" % (api_version, res_dir)
    name = meta.get("name")
    if not isinstance(name, str) or name != path_name or name in (".", "..") or "/" in name:
        return "metadata.name %r does not match the file name" % (name,)
    if path_namespace is None:
        if meta.get("namespace"):
            return "a cluster-scoped entry says metadata.namespace %r" % (meta["namespace"],)
        return None
    if meta.get("namespace") != path_namespace:
        return "metadata.namespace %r does not match the archive path" % (meta.get("namespace"),)
    if not DNS_LABEL.match(path_namespace) or path_namespace not in namespaces:
        return "namespace %s is not one of the backup's namespaces (%s)" % (
            path_namespace, ", ".join(sorted(namespaces)))
    return None
