"""Backup completeness: discovery and listing failures are recorded, never skipped silently."""

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.backup import collector
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import ApiError, InvalidInputError

from ..fake_cluster import FakeCluster


def resource(plural, kind, group="", namespaced=True):
    return collector.Resource(group, "v1", {"name": plural, "kind": kind, "namespaced": namespaced})


RESOURCES = [resource("configmaps", "ConfigMap"), resource("secrets", "Secret"),
             resource("deployments", "Deployment", "apps")]


def test_include_typo_is_refused_when_everything_was_discovered():
    with pytest.raises(InvalidInputError, match="^include_resources: 'confgmaps' matches no resource type"):
        collector.select(RESOURCES, ["confgmaps"], None, [], collector.Problems())


def test_include_typo_with_a_failed_group_is_an_error_not_a_refusal():
    problems = collector.Problems()
    collector.select(RESOURCES, ["widgets"], None, [("example.com", "v1", "503")], problems)
    assert [e["resource"] for e in problems.errors] == ["example.com/v1"]


def test_failed_group_is_an_error_unless_filtered_out():
    failed = [("apps", "v1", "GET /apis/apps/v1: 503 unavailable")]
    problems = collector.Problems()
    chosen = collector.select(RESOURCES[:2], None, None, failed, problems)
    assert [r.dir for r in chosen] == ["configmaps", "secrets"]
    assert problems.errors[0]["resource"] == "apps/v1" and "503" in problems.errors[0]["message"]
    excluded = collector.Problems()
    collector.select(RESOURCES[:2], None, ["*.apps"], failed, excluded)
    assert excluded.errors == [] and excluded.warnings == []
    only_core = collector.Problems()
    collector.select(RESOURCES[:2], ["configmaps"], None, failed, only_core)
    assert only_core.errors == []


def test_exclude_that_matches_nothing_warns():
    problems = collector.Problems()
    collector.select(RESOURCES, None, ["configmapz"], [], problems)
    assert problems.warnings == ["exclude_resources: 'configmapz' matches no resource type of this cluster"]


class FakeLister:
    def __init__(self, failures):
        self.failures = failures
        self.retries = 0

    def list(self, path, label_selector=None):
        for needle, error in self.failures.items():
            if needle in path:
                raise error
        yield {"metadata": {"name": "a", "namespace": "ns"}}


def test_forbidden_list_is_an_error_naming_the_resource_and_the_fix():
    problems = collector.Problems()
    emitted = []
    forbidden = ApiError("GET /api/v1/namespaces/ns/secrets: 403 forbidden", status=403)
    k8s = FakeLister({"/secrets": forbidden, "/deployments": ApiError("gone", status=404)})
    collector.list_concurrently(k8s, [(r, "ns") for r in RESOURCES], None, lambda o: True,
                                lambda r, o: emitted.append(r.dir), problems)
    assert emitted == ["configmaps"]
    assert [(e["resource"], e["namespace"]) for e in problems.errors] == [("secrets", "ns")]
    assert "exclude_resources: [secrets]" in problems.errors[0]["message"]
    assert len(problems.warnings) == 1 and "deployments.apps" in problems.warnings[0]


def test_aggregated_discovery_finds_what_per_group_discovery_finds_in_two_requests():
    old, new = FakeCluster(), FakeCluster(aggregated_discovery=True)
    found_old, found_new = collector.discover(old), collector.discover(new)
    assert sorted((r.dir, r.api_version, r.kind, r.namespaced) for r in found_new[0]) == \
        sorted((r.dir, r.api_version, r.kind, r.namespaced) for r in found_old[0])
    assert found_new[1] == [] and found_new[0]
    assert [p for m, p in new.requests] == ["/api", "/apis"]
    assert len(old.requests) > 2  # the server that ignores the aggregated Accept is asked group by group


def test_a_stale_aggregated_group_is_an_undiscovered_group():
    resources, failed = collector.discover(FakeCluster(aggregated_discovery=True, broken_groups={"apps"}))
    assert [(g, v) for g, v, _m in failed] == [("apps", "v1")] and "stale" in failed[0][2]
    assert "deployments.apps" not in [r.dir for r in resources]
