"""Faithful where other tools lose something, on the bed's real apiserver and controllers.

Ownership: an "operator" shape (a custom resource owning a ConfigMap, a Secret and a Deployment, whose ReplicaSet its
controller makes) restored into another namespace. The oracle is the cluster itself: kubectl reads the references,
and the garbage collector (kube-controller-manager's) deletes the dependents once the restored owner is deleted,
which it does only for references that name a live owner's UID.

Old clusters: a Kubernetes 1.21 namespace (tests/fixtures/kubernetes-1.21: hand-made from the 1.21 API types, in
Velero's layout, uploaded to the bed's S3) restored into the bed, which serves none of its beta versions; every
object is read back at its served version and compared with the fixture's expected.json, written from the migration
guide, not from the collection's code.
"""

import json
import os
import sys

import pytest

from helpers import NEEDS_BED, create_namespace_with, kubectl, kubectl_json, run_module, s3_args, s3_client, unique
from helpers import delete_namespaces, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures"))
import velero_layout  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = NEEDS_BED
GROUP = unique("operators") + ".lifeboat.test"  # cluster-scoped: a group of this run's own


def crd():
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "databases." + GROUP},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"plural": "databases", "singular": "database", "kind": "Database"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                         "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def owned_by(owner, obj):
    obj["metadata"]["ownerReferences"] = [{
        "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    return obj


def operated(namespace):
    """The CR, and what its operator would have made, owned by it."""
    create_namespace_with(namespace, [{"apiVersion": GROUP + "/v1", "kind": "Database", "metadata": {"name": "db"},
                                       "spec": {"replicas": 1}}])
    owner = kubectl_json("get", "databases." + GROUP, "db", "-n", namespace)
    dependents = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "db-config"}, "data": {"engine": "pg"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-credentials"},
         "stringData": {"password": "operator made me"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "db", "labels": {"app": "db"}},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "db"}},
                  "template": {"metadata": {"labels": {"app": "db"}},
                               "spec": {"containers": [{"name": "db", "image": "registry.k8s.io/pause:3.10"}],
                                        "terminationGracePeriodSeconds": 1}}}},
    ]
    kubectl("apply", "-n", namespace, "--server-side", "-f", "-", stdin=json.dumps(
        {"apiVersion": "v1", "kind": "List", "items": [owned_by(owner, d) for d in dependents]}))
    wait_for(lambda: kubectl_json("get", "replicasets", "-n", namespace)["items"], 60, "the Deployment's ReplicaSet")


@pytest.fixture
def operator_crd():
    kubectl("apply", "-f", "-", stdin=json.dumps(crd()))
    kubectl("wait", "--for=condition=Established", "crd/databases." + GROUP, "--timeout=60s")
    yield
    kubectl("delete", "crd", "databases." + GROUP, "--ignore-not-found", "--wait=false")


def references(namespace, kind, name):
    return kubectl_json("get", kind, name, "-n", namespace)["metadata"].get("ownerReferences")


def dependents(namespace):
    return [o["metadata"]["name"] for o in kubectl_json("get", "configmaps,secrets,deployments", "-n", namespace)[
        "items"] if o["metadata"]["name"].startswith("db")]


@pytest.mark.usefixtures("operator_crd")
def test_an_operators_objects_are_relinked_to_the_restored_owner_and_collected_with_it():
    source, target, storage = unique("operated"), unique("relinked"), s3_args(prefix=unique("faithful"))
    operated(source)
    try:
        backup = run_module("object_backup", dict(storage, name="operated", namespaces=[source]))
        assert backup.get("changed") and backup["backup"]["phase"] == "Completed", backup
        args = dict(storage, name="operated", namespace_mapping={source: target})
        restored = run_module("object_restore", args)
        assert restored.get("phase") == "Completed", restored
        owner = kubectl_json("get", "databases." + GROUP, "db", "-n", target)
        source_uid = kubectl_json("get", "databases." + GROUP, "db", "-n", source)["metadata"]["uid"]
        assert owner["metadata"]["uid"] != source_uid
        expected = [{"apiVersion": GROUP + "/v1", "kind": "Database", "name": "db", "uid": owner["metadata"]["uid"],
                     "controller": True, "blockOwnerDeletion": True}]
        for kind, name in (("configmap", "db-config"), ("secret", "db-credentials"), ("deployment", "db")):
            assert references(target, kind, name) == expected, (kind, name)
        assert [s for s in restored["skipped_objects"] if s["resource"] == "replicasets.apps"
                and s["message"].startswith("owned-by-restored-controller: owned by Deployment db")]
        # The Deployment's controller made its own ReplicaSet, owned by the restored Deployment.
        deployment_uid = kubectl_json("get", "deployment", "db", "-n", target)["metadata"]["uid"]
        replica_sets = wait_for(lambda: kubectl_json("get", "replicasets", "-n", target)["items"], 60, "ReplicaSet")
        assert [r["metadata"]["ownerReferences"][0]["uid"] for r in replica_sets] == [deployment_uid]

        again = run_module("object_restore", args)
        assert again.get("changed") is False and again["phase"] == "Completed", again
        checked = run_module("object_restore", args, check=True)
        assert checked.get("changed") is False, checked

        # The links are real: the garbage collector follows them from the restored owner, and only there.
        kubectl("delete", "databases." + GROUP, "db", "-n", target, "--wait=false")
        wait_for(lambda: not dependents(target), 90, "the garbage collector to delete the dependents")
        assert len(dependents(source)) == 3, "the source is untouched"
        assert references(source, "configmap", "db-config")[0]["uid"] == source_uid
    finally:
        delete_namespaces(source, target)


def test_a_kubernetes_1_21_namespace_restores_at_the_versions_the_bed_serves():
    prefix, target = unique("k8s-121"), unique("legacy")
    bucket = os.environ["LIFEBOAT_S3_BUCKET"]
    client = s3_client()
    for key, data in velero_layout.velero_backup_files("k8s-121").items():
        client.put_object(Bucket=bucket, Key="%s/%s" % (prefix, key), Body=data)
    args = dict(s3_args(prefix=prefix), name="k8s-121", namespace_mapping={"legacy-shop": target})
    try:
        result = run_module("object_restore", args)
        assert result.get("phase") == "Completed", result
        want = json.loads(json.dumps(velero_layout.expected()).replace("legacy-shop", target))
        problems = []
        for path, fields in want.items():
            live = json.loads(kubectl("get", "--raw", path, check=False) or "null")
            if not live:
                problems.append("%s: not served" % path)
                continue
            problems.extend(velero_layout.field_problems(path, fields, live))
            if "owned_by" in fields:
                owner = json.loads(kubectl("get", "--raw", fields["owned_by"]))
                if [r["uid"] for r in live["metadata"].get("ownerReferences") or []] != [owner["metadata"]["uid"]]:
                    problems.append("%s: not owned by %s" % (path, fields["owned_by"]))
        assert not problems, problems
        assert any("PodSecurityPolicy was removed" in w for w in result["warnings"]), result["warnings"]
        assert result["actions"]["convert-networking.k8s.io-v1beta1"]["converted"] == 1
        assert result["actions"]["convert-extensions-v1beta1"]["converted"] == 1
        again = run_module("object_restore", args)
        assert again.get("changed") is False, again.get("counts")
    finally:
        delete_namespaces(target)
        kubectl("delete", "crd", "gadgets.legacy.example.com", "--ignore-not-found", "--wait=false")
