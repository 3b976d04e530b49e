# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The openstorage block store driver: Portworx volumes through the OpenStorage v1 REST API.

Portworx serves this API on port 9001 (`/v1/osd-volumes`, `/v1/osd-snapshot`). A snapshot is
`POST /v1/osd-snapshot` with the volume id, a locator (name and labels) and readonly; it is
found again by `GET /v1/osd-snapshot?Label=<json>`. A restore is `POST /v1/osd-volumes` with
`source.parent` set to the snapshot id. The API reports a driver's failure as HTTP 200 with
`volume_response.error` set, and a refused or malformed request as a plain-text 4xx body:
both become the collection's errors here, with the API's own words.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
from typing import Tuple

try:
    import requests
    REQUESTS_ERROR = None
except ImportError as e:  # pragma: no cover - requests is a requirement
    requests = None
    REQUESTS_ERROR = e

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.native import (
    RESTORE_KEY,
    SNAPSHOT_NAME,
    SNAPSHOT_NAMESPACE,
    NativeBlockStore,
    labels_source,
    user_tags,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ApiError,
    InvalidInputError,
    MissingLibraryError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.quantity import quantity_bytes

DEFAULT_PORT = 9001
NOT_FOUND = ("not found", "does not exist")


class OpenStorageBlockStore(NativeBlockStore):
    name = "openstorage"
    CSI_DRIVERS = ("pxd.portworx.com",)
    IN_TREE = ("portworxVolume", "volumeID")
    STORAGE = "OpenStorage"
    OPTIONS: Tuple[str, ...] = ("openstorage_endpoint", "openstorage_token", "openstorage_ca_cert",
                                "openstorage_validate_certs", "openstorage_timeout")

    def __init__(self, k8s, config=None):
        super(OpenStorageBlockStore, self).__init__(k8s, config)
        self._session = None

    # ------------------------------------------------------------ HTTP

    def _endpoint(self):
        endpoint = self.config.get("openstorage_endpoint") or os.environ.get("OPENSTORAGE_ENDPOINT")
        if not endpoint:
            raise InvalidInputError("openstorage_endpoint: required for the openstorage driver (the Portworx REST "
                                    "API, http://<host>:%d; or set OPENSTORAGE_ENDPOINT)" % DEFAULT_PORT)
        if not endpoint.startswith(("http://", "https://")):
            raise InvalidInputError("openstorage_endpoint: %r is not an http:// or https:// URL" % endpoint)
        return endpoint.rstrip("/")

    def _call(self, method, path, body=None, params=None, not_found_ok=False):
        if REQUESTS_ERROR is not None:
            raise MissingLibraryError("requests>=2.28", REQUESTS_ERROR)
        endpoint = self._endpoint()
        if self._session is None:
            self._session = requests.Session()
            token = self.config.get("openstorage_token") or os.environ.get("OPENSTORAGE_TOKEN")
            if token:
                self._session.headers["Authorization"] = "Bearer " + token
            self._session.headers["User-Agent"] = "lifeboat.k8s"
            ca_cert = self.config.get("openstorage_ca_cert")
            self._session.verify = ca_cert or self.config.get("openstorage_validate_certs", True) is not False
        try:
            response = self._session.request(method, endpoint + path, json=body, params=params,
                                             timeout=self.config.get("openstorage_timeout") or 60)
        except requests.exceptions.SSLError as e:
            raise ApiError("openstorage_endpoint: TLS to %s failed (%s); give openstorage_ca_cert" % (endpoint, e))
        except requests.exceptions.RequestException as e:
            raise ApiError("openstorage_endpoint: cannot reach the OpenStorage API at %s: %s" % (endpoint, _reason(e)))
        text = response.text.strip()
        if response.status_code in (401, 403):
            raise ApiError("openstorage_token: the OpenStorage API refused the request (%d): %s" % (
                response.status_code, text[:300]), status=response.status_code)
        if response.status_code == 404 and not_found_ok:
            return None
        if response.status_code >= 400:
            cls = NotFoundError if response.status_code == 404 else ApiError
            raise cls("OpenStorage %s %s failed (%d): %s" % (method, path, response.status_code, text[:300]))
        try:
            return response.json()
        except ValueError:
            raise ApiError("openstorage_endpoint: %s did not answer %s %s with JSON (is it the OpenStorage REST API, "
                           "port %d?)" % (endpoint, method, path, DEFAULT_PORT))

    @staticmethod
    def _failed(response):
        """The driver error a 200 response carries (volume_response.error), or None."""
        return ((response or {}).get("volume_response") or {}).get("error") or None

    def _inspect(self, volume_id):
        found = self._call("GET", "/v1/osd-volumes/%s" % volume_id, not_found_ok=True)
        if isinstance(found, list):
            found = found[0] if found else None
        return found or None

    # ------------------------------------------------------------ storage calls

    def storage_volume(self, volume_id, region=None):
        volume = self._inspect(volume_id)
        if volume is None:
            return None
        return {"id": volume["id"], "size_bytes": int((volume.get("spec") or {}).get("size") or 0) or None}

    def storage_snapshot(self, volume_id, name, labels, source):
        namespace = labels[SNAPSHOT_NAMESPACE]
        response = self._call("POST", "/v1/osd-snapshot", {
            "id": volume_id, "readonly": True,
            # Portworx locator names are unique in the cluster: qualify the snapshot's with its namespace.
            "locator": {"name": "%s.%s" % (namespace, name), "volume_labels": labels}})
        created = (response or {}).get("volume_create_response") or {}
        error = self._failed(created)
        if error or not created.get("id"):
            cls = NotFoundError if any(m in (error or "").lower() for m in NOT_FOUND) else ApiError
            raise cls("snapshot of %s volume %s (for %s/%s) failed: %s" % (
                self.STORAGE, volume_id, namespace, name, error or "no snapshot id in the answer"))
        return self._record(self._inspect(created["id"]) or {"id": created["id"], "locator": {"volume_labels": labels}})

    def storage_snapshots(self, labels):
        found = self._call("GET", "/v1/osd-snapshot", params={"Label": json.dumps(labels, sort_keys=True)}) or []
        return [self._record(v) for v in found if labels_match(v, labels)]

    def storage_describe(self, record):
        volume = self._inspect(record["snapshot_id"])
        if volume is None or not volume.get("readonly"):
            return None
        return self._record(volume)

    def storage_delete_snapshot(self, record):
        return self._delete(record["snapshot_id"])

    def _delete(self, volume_id):
        response = self._call("DELETE", "/v1/osd-volumes/%s" % volume_id, not_found_ok=True)
        error = (response or {}).get("error")
        if error:
            if any(m in error.lower() for m in NOT_FOUND):
                return False
            raise ApiError("deleting %s volume %s failed: %s" % (self.STORAGE, volume_id, error))
        return response is not None

    def storage_plan_volume(self, record, target):
        options = dict(target.get("volume_options") or {})
        unknown = sorted(set(options) - set(["spec"]))
        if unknown:
            raise InvalidInputError("volume_options: %s not known to the openstorage driver (it takes spec, the "
                                    "OpenStorage VolumeSpec of the new volume)" % ", ".join(unknown))
        spec = options.get("spec")
        if spec is not None and not isinstance(spec, dict):
            raise InvalidInputError("volume_options.spec: expected a mapping (an OpenStorage VolumeSpec)")
        # The snapshot's own spec (its volume's replication, I/O priority, format...) with the user's on top.
        spec = dict((self._inspect(record["snapshot_id"]) or {}).get("spec") or {}, **(spec or {}))
        spec["size"] = max(quantity_bytes(target["size"]), record.get("size_bytes") or 0)
        return {"parent": record["snapshot_id"], "spec": spec,
                "name": "%s.%s.restore" % (target["namespace"], target["pvc"])}

    def storage_pv_source(self, volume_id, plan):
        return {"csi": {"driver": self.CSI_DRIVERS[0], "volumeHandle": volume_id}}, None

    def storage_restore_in_place(self, volume_id, record):
        response = self._call("POST", "/v1/osd-snapshot/restore/%s" % volume_id,
                              params={"SnapID": record["snapshot_id"]})
        error = (response or {}).get("error")
        if error:
            raise ApiError("in_place: restoring snapshot %s onto %s volume %s failed: %s" % (
                record["snapshot_id"], self.STORAGE, volume_id, error))

    def storage_find_volume(self, key, region=None):
        found = self._call("GET", "/v1/osd-volumes", params={"Label": json.dumps({RESTORE_KEY: key})}) or []
        found = [v for v in found if labels_match(v, {RESTORE_KEY: key})]
        return found[0]["id"] if found else None

    def storage_create_volume(self, record, plan, labels):
        response = self._call("POST", "/v1/osd-volumes", {
            "locator": {"name": "%s-%s" % (plan["name"], labels[RESTORE_KEY][:12]), "volume_labels": labels},
            "source": {"parent": plan["parent"]}, "spec": plan["spec"]})
        error = self._failed(response)
        if error or not (response or {}).get("id"):
            raise ApiError("creating an %s volume from snapshot %s failed: %s" % (
                self.STORAGE, plan["parent"], error or "no volume id in the answer"))
        return response["id"]

    def storage_delete_volume(self, volume_id, key, region=None):
        volume = self._inspect(volume_id)
        if volume is None:
            return False
        if ((volume.get("locator") or {}).get("volume_labels") or {}).get(RESTORE_KEY) != key:
            return False  # not the volume this restore made: never delete it
        return self._delete(volume_id)

    # ------------------------------------------------------------ records

    def _record(self, volume):
        labels = (volume.get("locator") or {}).get("volume_labels") or {}
        namespace = labels.get(SNAPSHOT_NAMESPACE)
        source = labels_source(labels, namespace)
        if not source.get("volume_id"):
            source["volume_id"] = (volume.get("source") or {}).get("parent")
        error = volume.get("error") or None
        size = int((volume.get("spec") or {}).get("size") or 0) or None
        return {
            "driver": self.name,
            "snapshot_id": volume["id"],
            "name": labels.get(SNAPSHOT_NAME),
            "namespace": namespace,
            "source": source,
            "tags": user_tags(labels),
            # A snapshot exists once the API returns its id; Portworx snapshots are point-in-time at once.
            "ready": not error and volume.get("status", "VOLUME_STATUS_UP") not in ("VOLUME_STATUS_DOWN",),
            "size_bytes": size,
            "created_at": volume.get("ctime"),
            "error": error,
            "driver_data": {"locator_name": (volume.get("locator") or {}).get("name"),
                            "parent": (volume.get("source") or {}).get("parent")},
        }


def _reason(error):
    """The OS's words for a failed connection ("Connection refused"), not urllib3's whole chain."""
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(error))
    return found.group(1).strip() if found else type(error).__name__


def labels_match(volume, labels):
    """The server filters by labels; check again, so a server that ignores the filter deletes nothing."""
    have = (volume.get("locator") or {}).get("volume_labels") or {}
    return all(have.get(k) == v for k, v in labels.items())
