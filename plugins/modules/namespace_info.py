#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: namespace_info
short_description: Describe a namespace so it can be compared with its restored copy
version_added: 0.1.0
description:
  - Lists every object of a namespace (every listable resource type, concurrently) and returns counts per
    resource, the objects a restore would recreate with a digest of each, its PVCs and its workloads.
  - Digests are taken after a normalization of this module's own, not the restore's code (a verdict must not
    trust what it judges) - the fields the API server sets (uid, resourceVersion, generation, creationTimestamp,
    managedFields, status...) and a short list of expected differences, returned as RV(expected_differences)
    (the namespace's name, owner references, allocated cluster IPs and node ports, PVC volume bindings, lifeboat's
    marks, pods' node and token volume, Jobs' generated selector) - so an original and a correct copy have equal
    digests object by object.
  - Objects the cluster or a controller makes are not compared (events, Services' endpoints, objects whose
    controller is in the namespace, the cluster's CA ConfigMap, service account tokens, finished pods,
    VolumeSnapshots).
  - With I(fields_of), returns the fields of the objects named (a digest per field, never a value); with
    I(compare_with), the fields of those objects that differ from another description's.
  - With I(wait), waits until every PVC is Bound and, when the cluster has ready nodes, every Deployment,
    StatefulSet and DaemonSet is available.
author:
  - lifeboat.k8s developers (@lifeboat-k8s)
options:
  namespace:
    description:
      - The namespace to describe.
    type: str
    required: true
  backup:
    description:
      - Describe the namespace as this backup (in I(storage)) holds it instead of the live one, for a comparison
        when its cluster is gone; nothing is read from the cluster. The backup's files are checked against its
        manifest's checksums first. Its PVCs and workloads are as they were when it was taken, and I(wait) does
        not apply.
    type: str
  storage_class_mapping:
    description:
      - "Digest the PVCs and StatefulSet claim templates as a restore with this C({source class: target class})
        mapping writes them (I(storage_class_mapping) of M(lifeboat.k8s.object_restore)): describing an original
        with the mapping its copy was restored with makes their digests comparable."
    type: dict
  fields_of:
    description:
      - Objects, as C(resource/name) (the keys of RV(digests)), to return RV(fields) of.
    type: list
    elements: str
  compare_with:
    description:
      - The RV(fields) of another description (the original's), to return RV(differing_fields) of the objects
        in I(fields_of) against.
    type: dict
  wait:
    description:
      - Wait until the PVCs are Bound and the workloads available (workloads only where nodes are ready).
      - The wait fails at once, naming the pods' reason, when a workload's pods are in a state waiting
        does not cure (C(ErrImageNeverPull), C(InvalidImageName), C(CreateContainerConfigError)).
    type: bool
    default: false
  wait_timeout:
    description:
      - How many seconds to wait; the task fails naming what is still pending when they run out.
    type: int
    default: 300
extends_documentation_fragment:
  - lifeboat.k8s.k8s_auth
  - lifeboat.k8s.storage
  - lifeboat.k8s.sealing.ENCRYPTION_KEY
  - lifeboat.k8s.attributes
  - lifeboat.k8s.attributes.INFO_MODULE
  - lifeboat.k8s.attributes.ACTIONGROUPS
"""

EXAMPLES = r"""
- name: Wait for the restored shop to settle
  lifeboat.k8s.namespace_info:
    namespace: shop-copy
    wait: true
    wait_timeout: 600
  register: restored

- name: The original as last night's backup holds it (its cluster is gone)
  lifeboat.k8s.namespace_info:
    namespace: shop
    backup: nightly-20261202
    storage: s3://backups/prod
    storage_class_mapping: {csi-hostpath: standard}
  register: original_in_backup

- name: Compare it with the original
  lifeboat.k8s.namespace_info:
    namespace: shop
  register: original

- name: Same objects, same content
  ansible.builtin.assert:
    that:
      - original.digests == restored.digests
"""

RETURN = r"""
backup:
  description: The backup the namespace was described from (with I(backup)).
  returned: with backup
  type: str
  sample: nightly-20261202
counts:
  description: Number of objects per resource (as C(deployments.apps), C(configmaps)).
  returned: always
  type: dict
  sample: {configmaps: 3, deployments.apps: 1, pods: 2, replicasets.apps: 1}
restorable_counts:
  description: Like RV(counts), only the objects compared (without those the cluster or a controller makes).
  returned: always
  type: dict
  sample: {configmaps: 2, deployments.apps: 1}
digests:
  description: Per resource, the SHA-256 of each compared object by name, after the normalization.
  returned: always
  type: dict
  sample: {configmaps: {settings: 9f2c...}}
expected_differences:
  description: What the normalization takes out because a correct restore changes it, said for the report.
  returned: always
  type: list
  elements: str
  sample: ["a Service's cluster IPs, node ports and healthCheckNodePort (allocated by the target cluster)"]
fields:
  description: For each object of I(fields_of), a digest of every field by its path.
  returned: with fields_of
  type: dict
  sample: {deployments.apps/web: {spec.replicas: 5feceb66ffc86f38, "spec.template.spec.containers[0].image": 1e3c...}}
differing_fields:
  description: For each object of I(fields_of) that differs from I(compare_with), the first paths that differ.
  returned: with compare_with
  type: dict
  sample: {deployments.apps/web: ["spec.template.spec.containers[0].env[0].name"]}
pvcs:
  description: The namespace's PersistentVolumeClaims.
  returned: always
  type: list
  elements: dict
  sample: [{name: data, phase: Bound, volume_name: pvc-1234, storage_class: csi-hostpath}]
pvcs_bound:
  description: Whether every PVC is Bound.
  returned: always
  type: bool
workloads:
  description:
    - Deployments, StatefulSets and DaemonSets with desired and ready replicas.
    - C(reason) says why one is not available, from its pods' status (a waiting container's reason and
      message, an unschedulable condition, a container's last exit); null when it is available.
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: Deployment, name: web, desired: 2, ready: 2, available: true, reason: null}
    - {kind: Deployment, name: api, desired: 1, ready: 0, available: false,
       reason: "ErrImageNeverPull: Container image \"api:9\" is not present with pull policy of Never"}
ready_nodes:
  description: Number of ready nodes in the cluster (null when nodes may not be listed).
  returned: always
  type: int
workloads_available:
  description: Whether every workload is available; null when the cluster has no ready nodes to run them.
  returned: always
  type: bool
"""

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import K8sClient
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.module import LifeboatModule
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.stores import open_store
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.common import auth_params, storage_options
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.verify import NAMESPACE_INFO_ARG_SPEC, NamespaceInfoOptions
from ansible_collections.lifeboat.k8s.plugins.module_utils.verify.namespace import describe_backup, namespace_info


def run(module):
    options = NamespaceInfoOptions.from_params(module.params)
    if options.backup:
        return describe_backup(open_store(module.params["storage"], storage_options(module.params)), options)
    return namespace_info(K8sClient(auth_params(module.params)), options)


def main():
    module = LifeboatModule(argument_spec=NAMESPACE_INFO_ARG_SPEC, supports_check_mode=True)
    module.run(run)


if __name__ == "__main__":
    main()
