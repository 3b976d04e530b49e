"""Backup listing hands pages over as they come: a huge collection is never whole in memory, a listing that
fails part way is an error (what came before is kept), and an emit that raises stops every listing thread."""

import threading

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.backup import collector
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import ApiError


class Resource:
    def __init__(self, name):
        self.dir = name
        self.api_version = "v1"
        self.kind = name.title()

    def path(self, namespace):
        return "/api/v1/namespaces/%s/%s" % (namespace, self.dir)


class Problems:
    def __init__(self):
        self.errors, self.warnings = [], []

    def error(self, resource, namespace, message):
        self.errors.append((resource, namespace, message))

    def warn(self, message):
        self.warnings.append(message)


class PagedClient:
    """list() yields objects and records how far ahead of the consumer it got."""

    def __init__(self, sizes, fail_after=None):
        self.sizes = sizes
        self.fail_after = fail_after or {}
        self.produced = 0
        self.lock = threading.Lock()

    def list(self, path, label_selector=None, page_size=500):
        plural = path.rsplit("/", 1)[1]
        for i in range(self.sizes[plural]):
            if self.fail_after.get(plural) == i:
                raise ApiError("GET %s: 500 etcdserver: request timed out" % path, status=500)
            with self.lock:
                self.produced += 1
            yield {"metadata": {"name": "%s-%d" % (plural, i), "namespace": "shop"}}


def test_pages_are_handed_over_while_listing_goes_on(monkeypatch):
    monkeypatch.setattr(collector, "PAGE_SIZE", 10)
    client = PagedClient({"configmaps": 5000})
    ahead = []

    def emit(resource, obj):
        ahead.append(client.produced - len(ahead) - 1)

    collector.list_concurrently(client, [(Resource("configmaps"), "shop")], None, lambda o: True, emit, Problems())
    assert len(ahead) == 5000
    # the queue holds 4 pages of 10; the lister also holds the page it is putting and the one it lists
    assert max(ahead) <= (4 + 2) * 10


def test_a_listing_that_fails_part_way_is_an_error_and_keeps_what_came_before(monkeypatch):
    monkeypatch.setattr(collector, "PAGE_SIZE", 10)
    client = PagedClient({"configmaps": 100, "secrets": 30}, fail_after={"configmaps": 45})
    emitted, problems = [], Problems()
    collector.list_concurrently(client, [(Resource("configmaps"), "shop"), (Resource("secrets"), "shop")], None,
                                lambda o: True, lambda r, o: emitted.append(o["metadata"]["name"]), problems)
    assert len([n for n in emitted if n.startswith("secrets")]) == 30
    assert len([n for n in emitted if n.startswith("configmaps")]) == 45
    assert problems.errors and problems.errors[0][0] == "configmaps" and "timed out" in problems.errors[0][2]


def test_an_emit_that_raises_stops_the_listing_threads(monkeypatch):
    monkeypatch.setattr(collector, "PAGE_SIZE", 10)
    client = PagedClient({"configmaps": 100000, "secrets": 100000})

    def emit(resource, obj):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        collector.list_concurrently(client, [(Resource("configmaps"), "shop"), (Resource("secrets"), "shop")],
                                    None, lambda o: True, emit, Problems())
    assert client.produced < 200000
