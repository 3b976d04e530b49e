# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes snapshot API the csi driver speaks: where its objects live and the annotations it writes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.k8s import resource_path

GROUP = "snapshot.storage.k8s.io"
VERSION = "v1"
SOURCE = "lifeboat.k8s/source"
HELPER_SNAPSHOT = "lifeboat.k8s/restore-snapshot"
HELPER_CONTENT = "lifeboat.k8s/restore-content"
DEFAULT_CLASS = "snapshot.storage.kubernetes.io/is-default-class"
HELPER_WAIT = 30  # seconds a restore waits for its pre-provisioned VolumeSnapshot before creating the claim
# Transient messages the snapshot controller writes into status.error and then retries past.
TRANSIENT = ("the object has been modified", "please apply your changes to the latest version")


def vs_path(namespace, name=None):
    return resource_path(GROUP, VERSION, "volumesnapshots", namespace, name)


def vsc_path(name=None):
    return resource_path(GROUP, VERSION, "volumesnapshotcontents", None, name)


def vsclass_path(name=None):
    return resource_path(GROUP, VERSION, "volumesnapshotclasses", None, name)


def sc_path(name=None):
    return resource_path("storage.k8s.io", "v1", "storageclasses", None, name)
