"""Authentication as real clusters do it, and least privilege.

The bed's admin kubeconfig uses a client certificate; real clusters mostly use bearer
tokens (ServiceAccounts, OIDC) and exec plugins (EKS, GKE, AKS). Backups and restores run
here through a token kubeconfig, an exec-plugin kubeconfig, and ServiceAccounts holding
exactly the minimal Roles documented in docs/rbac/.
"""

import json
import os
import string
import subprocess

import pytest

from helpers import (
    NEEDS_BED,
    VVV_WITH_INVOCATION,
    ansible_env,
    app_objects,
    count,
    create_namespace_with,
    delete_namespaces,
    kubectl,
    module_command,
    run_module,
    unique,
)

pytestmark = NEEDS_BED
COLLECTION = os.path.join(os.environ.get("ANSIBLE_COLLECTIONS_PATH", ""), "ansible_collections", "lifeboat", "k8s")


@pytest.fixture(scope="module")
def app():
    namespace = unique("auth-app")
    create_namespace_with(namespace, app_objects())
    yield namespace
    delete_namespaces(namespace)


def round_trip(kubeconfig, source, tmp_path, target=None, expect_cluster_id=True):
    store = "file://%s" % (tmp_path / "store")
    target = target or unique("auth-copy")
    backed = run_module("object_backup", {"name": "b", "namespaces": [source], "storage": store,
                                          "kubeconfig": kubeconfig})
    assert not backed.get("failed"), backed.get("msg")
    assert backed["backup"]["phase"] == "Completed"
    assert backed["backup"]["counts"]["secrets"] == 1 and backed["backup"]["counts"]["deployments.apps"] == 1
    assert bool(backed["backup"]["source"]["cluster_id"]) is expect_cluster_id
    restored = run_module("object_restore", {"name": "b", "storage": store, "namespace_mapping": {source: target},
                                             "kubeconfig": kubeconfig})
    assert not restored.get("failed"), restored.get("msg")
    assert restored["phase"] == "Completed" and restored["failures"] == []
    assert count("configmaps", target) == count("configmaps", source)
    assert kubectl("get", "secret", "db", "-n", target, "-o", "jsonpath={.data.password}")
    again = run_module("object_restore", {"name": "b", "storage": store, "namespace_mapping": {source: target},
                                          "kubeconfig": kubeconfig})
    assert again["changed"] is False
    return backed, restored, target


def test_service_account_token_kubeconfig(app, tmp_path):
    _b, _r, target = round_trip(os.environ["LIFEBOAT_KUBECONFIG_TOKEN"], app, tmp_path)
    delete_namespaces(target)


def test_exec_plugin_kubeconfig(app, tmp_path):
    log = os.path.join(os.environ["LIFEBOAT_TESTBED_DIR"], "exec-calls.log")
    before = open(log).read().count("\n") if os.path.exists(log) else 0
    _b, _r, target = round_trip(os.environ["LIFEBOAT_KUBECONFIG_EXEC"], app, tmp_path)
    delete_namespaces(target)
    assert open(log).read().count("\n") >= before + 3, "the exec plugin was not run"


def documented_role(filename, namespace, **more):
    with open(os.path.join(COLLECTION, "docs", "rbac", filename)) as f:
        return string.Template(f.read()).substitute(NAMESPACE=namespace, **more)


def apply_documented_role(filename, namespace, **more):
    kubectl("apply", "-f", "-", stdin=documented_role(filename, namespace, **more))


def delete_documented_role(filename, namespace, **more):
    kubectl("delete", "--ignore-not-found", "-f", "-", stdin=documented_role(filename, namespace, **more),
            check=False)


def token_kubeconfig(service_account, namespace):
    token = kubectl("create", "token", service_account, "-n", namespace, "--duration", "1h").strip()
    with open(os.environ["KUBECONFIG"]) as f:
        admin = json.load(f)
    cluster = admin["clusters"][0]["cluster"]
    return {"apiVersion": "v1", "kind": "Config", "current-context": "sa",
            "clusters": [{"name": "bed", "cluster": cluster}],
            "users": [{"name": service_account, "user": {"token": token}}],
            "contexts": [{"name": "sa", "context": {"cluster": "bed", "user": service_account}}]}


def test_minimal_roles_back_up_and_restore_one_namespace(app, tmp_path):
    target = unique("auth-minimal")
    kubectl("create", "namespace", target)
    other = unique("auth-other")
    create_namespace_with(other, app_objects()[:1])
    try:
        apply_documented_role("namespace-backup.yaml", app)
        apply_documented_role("namespace-restore.yaml", target)
        backup_identity = token_kubeconfig("lifeboat-backup", app)
        store = "file://%s" % (tmp_path / "store")
        backed = run_module("object_backup", {"name": "minimal", "namespaces": [app], "storage": store,
                                              "kubeconfig": backup_identity})
        assert not backed.get("failed"), backed.get("msg")
        assert backed["backup"]["phase"] == "Completed"
        assert backed["backup"]["source"]["cluster_id"] is None
        assert any("cluster's id is recorded as unknown" in w for w in backed.get("warnings", []))
        # The role is really narrow: another namespace is refused, naming the permission.
        refused = run_module("object_backup", {"name": "other", "namespaces": [other], "storage": store,
                                               "kubeconfig": backup_identity})
        assert refused.get("failed") and refused["msg"].startswith("namespaces: cannot read Namespace %s" % other)
        restored = run_module("object_restore", {"name": "minimal", "storage": store,
                                                 "namespace_mapping": {app: target},
                                                 "kubeconfig": token_kubeconfig("lifeboat-restore", target)})
        assert not restored.get("failed"), restored.get("msg")
        assert restored["phase"] == "Completed" and restored["failures"] == []
        assert count("configmaps", target) == count("configmaps", app)
        assert kubectl("get", "deployment/web", "service/web", "secret/db", "-n", target)
    finally:
        delete_documented_role("namespace-backup.yaml", app)
        delete_documented_role("namespace-restore.yaml", target)
        delete_namespaces(target, other)


def test_a_namespace_admin_bound_to_the_built_in_roles_needs_no_read_of_them(tmp_path):
    """RoleBindings to admin and view (every cluster has them) do not make the backup read those ClusterRoles:
    the documented Role without its clusterroles rule gets a Completed backup."""
    namespace = unique("auth-admin")
    create_namespace_with(namespace, app_objects()[:3] + [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "team-" + role},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
         "subjects": [{"kind": "Group", "name": "team", "apiGroup": "rbac.authorization.k8s.io"}]}
        for role in ("admin", "view")])
    try:
        apply_documented_role("namespace-backup.yaml", namespace)
        role = json.loads(kubectl("get", "clusterrole", "lifeboat-backup-" + namespace, "-o", "json"))
        role["rules"] = [r for r in role["rules"] if "clusterroles" not in r.get("resources", [])]
        kubectl("replace", "-f", "-", stdin=json.dumps(role))
        backed = run_module("object_backup", {"name": "admin", "namespaces": [namespace], "storage": "file://%s" % (
            tmp_path / "store"), "kubeconfig": token_kubeconfig("lifeboat-backup", namespace)})
        assert backed.get("backup", {}).get("phase") == "Completed", backed.get("msg", backed)
        assert backed["backup"]["counts"]["rolebindings.rbac.authorization.k8s.io"] == 3  # and the identity's own
        assert "clusterroles.rbac.authorization.k8s.io" not in backed["backup"]["counts"]
    finally:
        delete_documented_role("namespace-backup.yaml", namespace)
        delete_namespaces(namespace)


def test_inline_kubeconfig_secrets_never_show_at_vvv(app, tmp_path):
    with open(os.environ["LIFEBOAT_KUBECONFIG_TOKEN"]) as f:
        config = json.load(f)
    token = open(config["users"][0]["user"].pop("tokenFile")).read().strip()
    config["users"][0]["user"]["token"] = token
    args = {"name": "vvv", "namespaces": [app], "storage": "file://%s" % (tmp_path / "store"), "kubeconfig": config}
    res = subprocess.run(module_command("object_backup", args, check=True, verbosity=3), capture_output=True,
                         text=True, timeout=300, env=ansible_env(VVV_WITH_INVOCATION), check=False)
    assert res.returncode == 0, res.stdout[-2000:]
    assert "module_args" in res.stdout  # -vvv shows the invocation, so the check below means something
    assert token not in res.stdout and token not in res.stderr
    assert token[:40] not in res.stdout
    # A typo in an option name fails inside AnsibleModule's constructor, before the module could mask the
    # kubeconfig: the failure's invocation must not show the token either (AWX keeps -vvv output).
    typo = dict(args, nme="vvv")
    res = subprocess.run(module_command("object_backup", typo, verbosity=3), capture_output=True,
                         text=True, timeout=300, env=ansible_env(VVV_WITH_INVOCATION), check=False)
    assert res.returncode != 0 and "nme" in res.stdout, res.stdout[-2000:]
    assert "module_args" in res.stdout, res.stdout[-2000:]
    assert token not in res.stdout and token not in res.stderr and token[:40] not in res.stdout
