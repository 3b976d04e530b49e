# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""When to list a type once across the cluster rather than once per namespace (backups and restores alike)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# From this many namespaces, and at least half of the cluster's, one LIST per type across the cluster costs
# fewer requests than one per namespace (2,500 namespaces x 60 types: 60 requests instead of 150,000), and
# what it brings from the other namespaces is at most as much again.
CLUSTER_WIDE_FROM = 8


def lists_across_cluster(chosen, in_cluster):
    """chosen: how many namespaces a run reads or writes; in_cluster: how many the cluster has (None: unknown)."""
    return in_cluster is not None and chosen >= CLUSTER_WIDE_FROM and 2 * chosen >= in_cluster
