#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: volume_compare
short_description: Check that restored volumes hold the same files as the originals
version_added: 0.1.0
description:
  - Compares the SHA-256 of every file of each source PVC with its restored PVC.
  - C(method=job) runs a Job per volume on each side (a pod can only mount PVCs of its own namespace, and the
    sides may be different clusters) that mounts the PVC read-only and prints the checksums; the listings are
    compared on the controller. Where a cluster has no ready node the Jobs are created but cannot run, and each
    volume is reported as C(skipped) with the reason.
  - C(method=hostpath) reads the volumes directly from the CSI hostpath driver's state directory (test beds).
  - The result says per volume C(passed), C(failed) (with the files that differ) or C(skipped). The task itself
    only fails on bad input; the caller decides what a failed comparison means.
author:
  - lifeboat.k8s developers (@lifeboat-k8s)
options:
  source_namespace:
    description:
      - Namespace of the original PVCs.
    type: str
    required: true
  target_namespace:
    description:
      - Namespace of the restored PVCs (in the target cluster when I(target_kubeconfig) is set).
    type: str
    required: true
  pvcs:
    description:
      - PVCs to compare, each a name (same name on both sides) or a dict with C(source) and C(target) names.
    type: list
    elements: raw
    required: true
  method:
    description:
      - How to read the volumes.
    type: str
    default: job
    choices: [job, hostpath]
  image:
    description:
      - Image of the Jobs (C(method=job)); it needs C(sh), C(find), C(sort), C(xargs) and C(sha256sum).
    type: str
    default: docker.io/library/busybox:1.36
  state_dir:
    description:
      - The hostpath driver's state directory (C(method=hostpath)).
    type: path
  keep_jobs:
    description:
      - Leave the Jobs in place after the comparison (to read their logs).
    type: bool
    default: false
  wait_timeout:
    description:
      - How many seconds each Job may take.
    type: int
    default: 600
  target_kubeconfig:
    description:
      - Kubeconfig of the cluster that holds the restored PVCs, when it is not the source cluster.
    type: path
  target_context:
    description:
      - Context in I(target_kubeconfig).
    type: str
extends_documentation_fragment:
  - lifeboat.k8s.k8s_auth
  - lifeboat.k8s.attributes
  - lifeboat.k8s.attributes.ACTIONGROUPS
attributes:
  check_mode:
    support: full
    details: Returns the Job specs it would create.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Jobs are named after their PVC and deleted afterwards unless I(keep_jobs).
"""

EXAMPLES = r"""
- name: Compare the restored shop's volumes with the originals
  lifeboat.k8s.volume_compare:
    source_namespace: shop
    target_namespace: shop-drill
    pvcs: [data-db-0, uploads]
    image: registry.example.com/tools/busybox:1.36
  register: data_check

- name: Into another cluster, under another name
  lifeboat.k8s.volume_compare:
    source_namespace: shop
    target_namespace: shop
    target_kubeconfig: ~/.kube/dr-site
    pvcs:
      - {source: data-db-0, target: data-db-0-restored}
"""

RETURN = r"""
passed:
  description: Whether every volume passed; null when none could be checked (check mode, no nodes).
  returned: always
  type: bool
volumes:
  description: One entry per PVC pair.
  returned: always
  type: list
  elements: dict
  sample:
    - {source: shop/data, target: shop-drill/data, status: passed, files: 12, reason: "12 files, identical SHA-256"}
jobs:
  description: The Jobs created (or, in check mode, that would be), with C(method=job).
  returned: with method=job
  type: list
  elements: dict
"""

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import K8sClient
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.module import LifeboatModule
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.common import auth_params
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.verify import VOLUME_COMPARE_ARG_SPEC, VolumeCompareOptions
from ansible_collections.lifeboat.k8s.plugins.module_utils.verify.volumes import volume_compare


def run(module):
    params = module.params
    options = VolumeCompareOptions.from_params(params)
    source = K8sClient(auth_params(params))
    target = source
    if params["target_kubeconfig"]:
        target = K8sClient(dict(auth_params(params), kubeconfig=params["target_kubeconfig"],
                                context=params["target_context"], host=None))
    return volume_compare(source, target, options, module.check_mode)


def main():
    module = LifeboatModule(argument_spec=VOLUME_COMPARE_ARG_SPEC, supports_check_mode=True)
    module.run(run)


if __name__ == "__main__":
    main()
