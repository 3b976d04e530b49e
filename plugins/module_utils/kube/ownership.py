# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Owner references across a restore (DESIGN.md, "Restore rules").

An owner restored elsewhere is a new object with a new UID. Kubernetes' own controllers recreate what they own
(a Deployment its ReplicaSets, a ReplicaSet its Pods...), so those dependents are not restored at all. Everything
else an owner owns (an operator's StatefulSet, Secrets, ConfigMaps; a Certificate's Secret) is restored with its
references pointing at the owner's new UID: deleting the owner then garbage-collects it, as in the source.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (owner's API group, owner's kind) -> what Kubernetes' own controller for it makes, as resource directories.
RECREATED_BY = {
    ("apps", "Deployment"): ("replicasets.apps",),
    ("apps", "ReplicaSet"): ("pods",),
    ("apps", "StatefulSet"): ("pods", "controllerrevisions.apps"),
    ("apps", "DaemonSet"): ("pods", "controllerrevisions.apps"),
    ("batch", "Job"): ("pods",),
    ("batch", "CronJob"): ("jobs.batch",),
    ("", "ReplicationController"): ("pods",),
    ("", "Service"): ("endpointslices.discovery.k8s.io",),
    # A pod's generic ephemeral volumes and resource claims: made for each new pod, deleted with it.
    ("", "Pod"): ("persistentvolumeclaims", "resourceclaims.resource.k8s.io"),
}


def group_of(api_version):
    """'apps/v1' -> 'apps'; 'v1' -> '' (the core group)."""
    return api_version.rpartition("/")[0] if isinstance(api_version, str) else ""


def recreated_by(res_dir, ref):
    """Does the controller this reference names make objects of this resource itself? A Pod controlled by
    anything is made by it (an operator's pods too): restoring it would race its controller."""
    if not ref.get("controller"):
        return False
    return res_dir == "pods" or res_dir in RECREATED_BY.get((group_of(ref.get("apiVersion")), ref.get("kind")), ())


def relinked(references, live):
    """(references pointing at the live owners, the references whose owner the restore did not create or find).
    live: backed-up UID -> (live UID, apiVersion); a live UID of '' (check mode: an owner to be created) keeps the
    reference as it is. controller and blockOwnerDeletion are kept."""
    kept, unresolved = [], []
    for ref in references:
        owner = live.get(ref.get("uid"))
        if owner is None:
            unresolved.append(ref)
            continue
        live_uid, api_version = owner
        kept.append(dict(ref, uid=live_uid, apiVersion=api_version) if live_uid else ref)
    return kept, unresolved


def describe(ref):
    return "%s %s" % (ref.get("kind"), ref.get("name"))
