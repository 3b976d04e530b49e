# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  wait:
    description:
      - Wait until what the task created is ready (or what it deleted is gone) before returning.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait; the task fails naming what is still pending when they run out.
    type: int
    default: 300
"""
