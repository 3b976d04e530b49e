# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation
        indicates no change.
"""

    ACTIONGROUPS = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/lifeboat.k8s.k8s) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - lifeboat.k8s.k8s
"""

    ACTIONGROUPS_STORAGE = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/lifeboat.k8s.storage) in C(module_defaults) to set the S3 options once.
    support: full
    membership:
      - lifeboat.k8s.storage
"""

    ACTIONGROUPS_K8S_STORAGE = r"""
options: {}
attributes:
  action_group:
    description:
      - Use C(group/lifeboat.k8s.k8s) in C(module_defaults) to set the Kubernetes options, and
        C(group/lifeboat.k8s.storage) to set the S3 options, once for every module.
    support: full
    membership:
      - lifeboat.k8s.k8s
      - lifeboat.k8s.storage
"""

    STATE_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: partial
    details:
      - The diff names what is created or deleted (snapshots, PVCs, backups, namespaces) and counts the objects
        a restore creates or updates; it does not show their content.
  idempotent:
    support: full
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: This action does not modify state.
  diff_mode:
    support: N/A
    details: This action does not modify state.
  idempotent:
    support: full
"""
