"""An in-memory OpenStorage v1 REST API in place of requests.Session, for the openstorage driver's unit
tests (the test bed runs a real HTTP emulator for the integration tests)."""

import itertools
import json
from urllib.parse import urlparse


class Response:
    def __init__(self, status, body):
        self.status_code = status
        self.text = body if isinstance(body, str) else json.dumps(body)

    def json(self):
        return json.loads(self.text)


class FakeOpenStorage:
    def __init__(self, token=None):
        self.token = token
        self.headers = {}
        self.verify = True
        self.volumes = {}
        self.calls = []
        self._ids = itertools.count(1000)

    def volume(self, name, size=1 << 30):
        vid = str(next(self._ids))
        self.volumes[vid] = {"id": vid, "readonly": False, "locator": {"name": name, "volume_labels": {}},
                             "spec": {"size": size, "io_priority": "high"}, "status": "VOLUME_STATUS_UP"}
        return vid

    def request(self, method, url, json=None, params=None, timeout=None):  # pylint: disable=redefined-outer-name
        path = urlparse(url).path
        self.calls.append((method, path))
        if self.token and self.headers.get("Authorization") != "Bearer " + self.token:
            return Response(403, "Access denied: token is not valid")
        labels = _loads((params or {}).get("Label") or "{}")
        if path in ("/v1/osd-volumes", "/v1/osd-snapshot") and method == "GET":
            snaps = path.endswith("snapshot")
            return Response(200, [v for v in self.volumes.values() if v["readonly"] == snaps
                                  and all(v["locator"]["volume_labels"].get(k) == x for k, x in labels.items())])
        if path.startswith("/v1/osd-volumes/") and method == "GET":
            found = self.volumes.get(path.rsplit("/", 1)[1])
            return Response(200, [found]) if found else Response(404, "Volume with ID: x is not found")
        if path.startswith("/v1/osd-volumes/") and method == "DELETE":
            vid = path.rsplit("/", 1)[1]
            if vid not in self.volumes:
                return Response(200, {"error": "Volume with ID: %s is not found" % vid})
            del self.volumes[vid]
            return Response(200, {})
        if path == "/v1/osd-snapshot" and method == "POST":
            if json["id"] not in self.volumes:
                return Response(200, {"volume_create_response": {"volume_response": {
                    "error": "Volume with ID: %s is not found" % json["id"]}}})
            vid = self._new(json["locator"], dict(self.volumes[json["id"]]["spec"]), json["id"], True)
            return Response(200, {"volume_create_response": {"id": vid}})
        if path == "/v1/osd-volumes" and method == "POST":
            parent = (json.get("source") or {}).get("parent")
            if parent and parent not in self.volumes:
                return Response(200, {"volume_response": {"error": "Volume with ID: %s is not found" % parent}})
            return Response(200, {"id": self._new(json["locator"], json.get("spec") or {}, parent, False),
                                  "volume_response": {}})
        if path.startswith("/v1/osd-snapshot/restore/") and method == "POST":
            snap = self.volumes.get(params["SnapID"])
            if not snap or snap["source"].get("parent") != path.rsplit("/", 1)[1]:
                return Response(200, {"error": "Snapshot with ID: %s is not found" % params["SnapID"]})
            return Response(200, {})
        raise AssertionError("the fake does not serve %s %s" % (method, path))

    def _new(self, locator, spec, parent, readonly):
        vid = str(next(self._ids))
        self.volumes[vid] = {"id": vid, "readonly": readonly, "source": {"parent": parent} if parent else {},
                             "locator": {"name": locator.get("name"), "volume_labels": dict(locator.get("volume_labels")
                                                                                            or {})},
                             "spec": spec, "status": "VOLUME_STATUS_UP", "ctime": "2026-11-24T00:00:00Z"}
        return vid


def _loads(text):
    return json.loads(text)
