"""Velero interoperability, both ways, against a real Velero v1.18 server (`testbed velero`).

Velero backs up with CSI snapshots and lifeboat restores it into another namespace; lifeboat
backs up with a CSI snapshot and `velero restore create` brings it back. The oracles are
kubectl (objects compared one by one), the volumes' files (SHA-256 per file) and the bucket's
listing (nothing of a Velero backup changes when lifeboat is asked to overwrite or delete it).
"""

import copy
import hashlib
import json
import os
import subprocess
import sys

import pytest

from helpers import (
    NEEDS_BED,
    app_objects,
    create_namespace_with,
    delete_namespaces,
    kubectl,
    kubectl_json,
    run_module,
    s3_args,
    s3_client,
    unique,
    wait_for,
)

pytestmark = [NEEDS_BED, pytest.mark.skipif("LIFEBOAT_VELERO" not in os.environ,
                                            reason="needs the bed's Velero peer: tests/testbed/testbed velero")]
PVC = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
       "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Mi"}}}}
# What is compared per kind: what the application needs back, not what the cluster assigns.
COMPARED = {
    "configmaps": lambda o: o.get("data"),
    "secrets": lambda o: (o.get("type"), o.get("data")),
    "serviceaccounts": lambda o: o["metadata"]["name"],
    "services": lambda o: (o["spec"].get("selector"), [(p.get("port"), p.get("protocol")) for p in o["spec"]["ports"]]),
    "deployments.apps": lambda o: (o["spec"]["replicas"], o["spec"]["selector"], o["spec"]["template"]["spec"]),
    "persistentvolumeclaims": lambda o: (o["spec"]["accessModes"], o["spec"]["resources"]["requests"]),
}


def velero(*args, check=True, timeout=300):
    res = subprocess.run([os.environ["LIFEBOAT_VELERO"], "--kubeconfig", os.environ["KUBECONFIG"], "-n", "velero"]
                         + list(args), capture_output=True, text=True, timeout=timeout, check=False)
    if check:
        assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def velero_phase(kind, name):
    return kubectl("-n", "velero", "get", kind, name, "-o", "jsonpath={.status.phase}", check=False).strip()


def wait(check, what, timeout=180):
    return wait_for(check, timeout, what, interval=1)


def store():
    return s3_args(prefix=os.environ["LIFEBOAT_VELERO_PREFIX"])


def volume_dir(namespace, pvc="data"):
    def bound():
        claim = kubectl_json("get", "pvc", pvc, "-n", namespace)
        return claim if claim.get("status", {}).get("phase") == "Bound" else None
    claim = wait(bound, "PVC %s/%s to bind" % (namespace, pvc), 120)
    pv = kubectl_json("get", "pv", claim["spec"]["volumeName"])
    return os.path.join(os.environ["LIFEBOAT_CSI_STATE_DIR"], pv["spec"]["csi"]["volumeHandle"])


def file_digests(directory):
    digests = {}
    for root, _dirs, files in os.walk(directory):
        for name in files:
            full = os.path.join(root, name)
            with open(full, "rb") as f:
                digests[os.path.relpath(full, directory)] = hashlib.sha256(f.read()).hexdigest()
    return digests


def essence(namespace):
    """Every compared object of a namespace, as what matters of it."""
    found = {}
    for res_dir, what in COMPARED.items():
        for obj in kubectl_json("get", res_dir, "-n", namespace)["items"]:
            name = obj["metadata"]["name"]
            if name == "kube-root-ca.crt" or name == "default" or obj.get("type") == \
                    "kubernetes.io/service-account-token":
                continue
            found["%s/%s" % (res_dir, name)] = json.loads(json.dumps(what(obj)))
    return found


def bucket_state(name):
    listing = s3_client().list_objects_v2(Bucket=os.environ["LIFEBOAT_S3_BUCKET"], Prefix="%s/backups/%s/" % (
        os.environ["LIFEBOAT_VELERO_PREFIX"], name))
    return sorted((o["Key"], o["ETag"], o["Size"]) for o in listing.get("Contents", []))


@pytest.fixture(scope="module")
def source():
    """A namespace with an application and a volume holding random files."""
    ns = unique("velero-src")
    create_namespace_with(ns, app_objects() + [copy.deepcopy(PVC)])
    directory = volume_dir(ns)
    os.makedirs(os.path.join(directory, "nested"))
    for name in ("a.bin", "nested/b.bin"):
        with open(os.path.join(directory, name), "wb") as f:
            f.write(os.urandom(64 * 1024))
    yield {"namespace": ns, "digests": file_digests(directory), "objects": essence(ns)}
    delete_namespaces(ns)


@pytest.fixture(scope="module")
def velero_backup(source):
    name = unique("by-velero")
    velero("backup", "create", name, "--include-namespaces", source["namespace"], "--snapshot-volumes", "--wait")
    assert velero_phase("backups", name) == "Completed", velero("backup", "describe", name)
    yield name
    velero("backup", "delete", name, "--confirm", check=False)


def test_lifeboat_restores_a_velero_backup_with_its_volume_data(source, velero_backup):
    target = unique("from-velero")
    info = run_module("backup_info", dict(store(), name=velero_backup))
    assert not info.get("failed"), info
    entry = info["backups"][0]
    assert (entry["written_by"], entry["phase"], entry["complete"], entry["checksums"]) == \
        ("velero", "Completed", True, False), entry
    assert entry["namespaces"] == [source["namespace"]]
    args = dict(store(), name=velero_backup, namespace_mapping={source["namespace"]: target})
    try:
        result = run_module("object_restore", args)
        assert not result.get("failed"), result
        assert result["totals"]["failed"] == 0, result
        assert any("written by Velero" in w for w in result["warnings"]), result["warnings"]
        assert [v["outcome"] for v in result["volumes"]] == ["created"], result["volumes"]
        assert essence(target) == source["objects"]
        assert file_digests(volume_dir(target)) == source["digests"]
        again = run_module("object_restore", args)
        assert again.get("changed") is False and again["totals"]["failed"] == 0, again
    finally:
        run_module("object_restore", dict(args, state="absent"))


def test_velero_restores_a_lifeboat_backup_with_its_volume_data(source):
    name, target = unique("by-lifeboat"), unique("from-lifeboat")
    snapshot = run_module("volume_snapshot", {"name": "lb-" + name, "namespace": source["namespace"], "pvc": "data"})
    assert not snapshot.get("failed"), snapshot
    try:
        result = run_module("object_backup", dict(store(), name=name, namespaces=[source["namespace"]], ttl="24h",
                                                  volume_snapshots=[snapshot["snapshot"]]))
        assert result.get("changed") and result["backup"]["velero_compatible"], result
        # Velero syncs the bucket once a minute.
        wait(lambda: velero_phase("backups", name) == "Completed", "Velero to sync backup %s" % name, 150)
        described = kubectl_json("get", "backups.velero.io", name, "-n", "velero")
        assert described["spec"]["includedNamespaces"] == [source["namespace"]]
        assert described["status"]["expiration"] == result["backup"]["expires_at"]
        assert "Backing up namespaces %s" % source["namespace"] in velero("backup", "logs", name)
        # The other way round: Velero asked to back up under the lifeboat backup's name leaves it intact.
        before = bucket_state(name)
        velero("backup", "create", name, "--include-namespaces", source["namespace"], "--wait", check=False)
        assert bucket_state(name) == before
        assert run_module("backup_info", dict(store(), name=name, verify=True))["backups"][0]["verified"]
        velero("restore", "create", name, "--from-backup", name, "--namespace-mappings",
               "%s:%s" % (source["namespace"], target), "--wait")
        assert velero_phase("restores", name) == "Completed", velero("restore", "describe", name)
        assert essence(target) == source["objects"]
        assert file_digests(volume_dir(target)) == source["digests"]
    finally:
        velero("restore", "delete", name, "--confirm", check=False)
        delete_namespaces(target)
        run_module("object_backup", dict(store(), name=name, state="absent"))
        run_module("volume_snapshot", {"name": "lb-" + name, "namespace": source["namespace"], "pvc": "data",
                                       "state": "absent"})


def test_a_velero_backup_is_never_replaced_or_deleted(source, velero_backup):
    before = bucket_state(velero_backup)
    assert any(k.endswith("/velero-backup.json") for k, _e, _s in before)
    replaced = run_module("object_backup", dict(store(), name=velero_backup, namespaces=[source["namespace"]]))
    assert replaced.get("failed") and "holds a Velero backup" in replaced["msg"], replaced
    assert replaced["msg"].startswith("name: ")
    deleted = run_module("object_backup", dict(store(), name=velero_backup, state="absent"))
    assert deleted.get("failed") and "velero backup delete" in deleted["msg"], deleted
    checked = run_module("object_backup", dict(store(), name=velero_backup, state="absent"), check=True)
    assert checked.get("failed"), checked
    assert bucket_state(velero_backup) == before
    assert velero_phase("backups", velero_backup) == "Completed"


def test_files_of_another_tool_are_never_replaced(source):
    """A name holding files lifeboat does not write (and no lifeboat mark) is refused, untouched."""
    name = unique("foreign")
    bucket, prefix = os.environ["LIFEBOAT_S3_BUCKET"], os.environ["LIFEBOAT_VELERO_PREFIX"]
    s3 = s3_client()
    s3.put_object(Bucket=bucket, Key="%s/backups/%s/%s.tar.gz" % (prefix, name, name), Body=b"not ours")
    s3.put_object(Bucket=bucket, Key="%s/backups/%s/notes.txt" % (prefix, name), Body=b"someone else's")
    try:
        before = bucket_state(name)
        result = run_module("object_backup", dict(store(), name=name, namespaces=[source["namespace"]]))
        assert result.get("failed") and "notes.txt" in result["msg"], result
        assert bucket_state(name) == before
    finally:
        for key, _etag, _size in bucket_state(name):
            s3.delete_object(Bucket=bucket, Key=key)


def test_the_drill_proves_a_velero_backup_and_leaves_it(source, velero_backup, tmp_path):
    """The drill playbook given a Velero backup: restore, verify objects and data, clean up its copy."""
    before = bucket_state(velero_backup)
    s3 = store()
    extra = {"lifeboat_namespace": source["namespace"], "backup_name": velero_backup, "storage": s3["storage"],
             "s3_endpoint_url": s3["endpoint_url"], "verify_method": "hostpath",
             "hostpath_state_dir": os.environ["LIFEBOAT_CSI_STATE_DIR"], "report_dir": str(tmp_path),
             "target_namespace": unique("velero-drill")}
    res = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "lifeboat.k8s.drill",
                          "-e", json.dumps(extra),
                          "-e", "ansible_python_interpreter=%s" % sys.executable], capture_output=True, text=True, timeout=900, check=False,
                         env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    assert res.returncode == 0, res.stdout[-4000:]
    reports = [os.path.join(root, f) for root, _d, files in os.walk(str(tmp_path)) for f in files
               if f == "report.json"]
    with open(reports[0]) as f:
        report = json.load(f)
    assert report["passed"] and report["backup"] == velero_backup, report
    assert [p["name"] for p in report["phases"]] == ["backup", "restore", "verify", "cleanup"]
    data = [c for c in report["checks"] if "data" in c["name"].lower() or "volume" in c["name"].lower()]
    assert data and all(c["status"] == "passed" for c in data), report["checks"]
    assert bucket_state(velero_backup) == before, "the drill never deletes a backup it did not take"
    assert kubectl("get", "namespace", extra["target_namespace"], "--ignore-not-found", "-o", "name").strip() in (
        "", "namespace/" + extra["target_namespace"])  # gone, or still terminating
