"""Which namespaces a backup takes: every namespace (['*']) less the cluster's own, exclusions by pattern, a selector
on Namespace labels; refusals that name the option before anything is written; what the manifest records."""

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.backup import service as backups
from ansible_collections.lifeboat.k8s.plugins.module_utils.backup.namespaces import chosen_namespaces
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import ApiError, InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.file import FileStore
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.backup import BACKUP_ARG_SPEC, BackupOptions
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.restore import RESTORE_ARG_SPEC, RestoreOptions
from ansible_collections.lifeboat.k8s.plugins.module_utils.restore import service as restore

from ..fake_cluster import FakeCluster
from ..module_options import options_of


def options(**given):
    return options_of(BackupOptions, BACKUP_ARG_SPEC, **dict(dict(name="all"), **given))


def restore_options(**given):
    return options_of(RestoreOptions, RESTORE_ARG_SPEC, **dict(dict(wait_timeout=5), **given))


def cluster():
    fake = FakeCluster()
    for name, labels in (("shop", {"backup": "nightly"}), ("web", {"backup": "nightly"}), ("web-test", {}),
                         ("kube-system", {}), ("kube-public", {}), ("kube-node-lease", {})):
        fake.add("", "namespaces", {"metadata": {"name": name, "labels": labels}})
        fake.add("", "configmaps", {"metadata": {"name": "settings", "namespace": name}, "data": {"a": name}})
    fake.add("", "namespaces", {"metadata": {"name": "leaving"}, "status": {"phase": "Terminating"}})
    return fake


@pytest.mark.parametrize("given,expected", [
    ({"namespaces": ["*"]}, ["shop", "web", "web-test"]),
    ({"namespaces": ["*"], "exclude_namespaces": ["*-test"]}, ["shop", "web"]),
    ({"namespace_selector": "backup=nightly"}, ["shop", "web"]),
    ({"namespaces": ["shop", "web-test"], "namespace_selector": "backup=nightly"}, ["shop"]),
    ({"namespaces": ["shop", "kube-system"], "exclude_namespaces": ["web*"]}, ["kube-system", "shop"]),
])
def test_the_namespaces_chosen(given, expected):
    assert chosen_namespaces(cluster(), options(**given)).names == expected


def test_every_namespace_is_recorded_with_how_it_was_chosen_and_one_being_deleted_is_a_warning(tmp_path):
    store = FileStore(str(tmp_path / "store"))
    result = backups.run_backup(cluster(), store, options(namespaces=["*"], exclude_namespaces=["*-test"]))
    backup = result["backup"]
    assert backup["phase"] == "Completed" and backup["namespaces"] == ["shop", "web"]
    assert backup["namespace_selection"] == {"namespaces": ["*"], "exclude_namespaces": ["*-test"],
                                             "namespace_selector": None}
    assert backup["counts"]["configmaps"] == 2
    assert "namespace leaving is being deleted: not backed up" in backup["warnings"]


def test_objects_are_counted_per_namespace_and_a_selected_empty_one_is_not_a_warning(tmp_path):
    store = FileStore(str(tmp_path / "store"))
    fake = cluster()
    fake.add("", "namespaces", {"metadata": {"name": "empty", "labels": {"backup": "nightly"}}})
    planned = backups.run_backup(fake, store, options(namespace_selector="backup=nightly",
                                                      include_resources=["configmaps"]), check_mode=True)
    assert planned["backup"]["items_per_namespace"] == {"empty": 0, "shop": 1, "web": 1}
    assert not [w for w in planned["backup"]["warnings"] if "no objects were selected" in w]
    # Named, an empty namespace is still worth a warning: the one who named it expected something in it.
    named = backups.run_backup(fake, store, options(namespaces=["empty", "shop"]), check_mode=True)
    assert named["backup"]["items_per_namespace"] == {"empty": 0, "shop": 1}
    assert [w for w in named["backup"]["warnings"] if w.startswith("namespace empty: no objects were selected")]


def test_a_namespace_created_between_two_runs_is_in_the_second(tmp_path):
    store = FileStore(str(tmp_path / "store"))
    fake = cluster()
    first = backups.run_backup(fake, store, options(name="first", namespaces=["*"]))
    fake.add("", "namespaces", {"metadata": {"name": "newcomer"}})
    second = backups.run_backup(fake, store, options(name="second", namespaces=["*"]))
    assert "newcomer" not in first["backup"]["namespaces"] and "newcomer" in second["backup"]["namespaces"]


def test_a_namespace_deleted_while_it_is_backed_up_is_a_warning_not_a_failure(tmp_path, monkeypatch):
    store = FileStore(str(tmp_path / "store"))
    fake = cluster()
    chosen = backups.chosen_namespaces

    def then_deleted(k8s, opts):
        choice = chosen(k8s, opts)
        del fake.objects[("", "namespaces", None, "web")]
        return choice
    monkeypatch.setattr(backups, "chosen_namespaces", then_deleted)
    monkeypatch.setattr(backups, "_check_namespace", lambda k8s, ns: None)
    result = backups.run_backup(fake, store, options(namespaces=["*"]))
    assert result["backup"]["phase"] == "Completed"
    assert any(w.startswith("namespace web was deleted while it was backed up") for w in result["backup"]["warnings"])


@pytest.mark.parametrize("given,message", [
    ({"namespaces": ["*", "shop"]}, r"^namespaces: '\*' means every namespace; give it alone"),
    ({"namespaces": ["*"], "exclude_namespaces": ["*"]}, r"^exclude_namespaces: '\*' excludes every namespace"),
    ({"namespaces": ["shop", "web"], "exclude_namespaces": ["*"]}, r"^exclude_namespaces: excludes every namespace "
                                                                   r"given in namespaces \(shop, web\)"),
    ({"namespace_selector": "tier in (a"}, r"^namespace_selector: cannot parse"),
    ({}, r"^namespaces: give the namespaces to back up, \['\*'\] for every namespace, or a namespace_selector"),
])
def test_bad_selections_are_refused_naming_the_option(given, message):
    with pytest.raises(InvalidInputError, match=message):
        options(**given)


@pytest.mark.parametrize("given,message", [
    ({"namespaces": ["*"], "exclude_namespaces": ["shop", "web*"]}, r"^exclude_namespaces: excludes every namespace "
                                                                    r"selected \(shop, web, web-test\)"),
    ({"namespace_selector": "backup=weekly"}, r"^namespace_selector: no namespace matches 'backup=weekly'"),
])
def test_a_selection_the_cluster_leaves_empty_is_refused_before_anything_is_written(tmp_path, given, message):
    store = FileStore(str(tmp_path / "store"))
    with pytest.raises(InvalidInputError, match=message):
        backups.run_backup(cluster(), store, options(**given))
    assert list(store.list_objects("")) == []


def test_listing_namespaces_refused_says_what_the_identity_needs():
    fake = cluster()
    fake.forbidden.add("namespaces")
    with pytest.raises(ApiError, match=r"^namespaces: listing Namespaces was refused .* need list on namespaces"):
        chosen_namespaces(fake, options(namespaces=["*"]))
    assert chosen_namespaces(fake, options(namespaces=["shop"])).names == ["shop"], "named namespaces are not listed"


def crowd(count):
    fake = cluster()
    for i in range(count):
        name = "team-%02d" % i
        fake.add("", "namespaces", {"metadata": {"name": name}})
        fake.add("", "configmaps", {"metadata": {"name": "settings", "namespace": name}, "data": {"i": str(i)}})
    return fake


def lists(fake, plural):
    return sorted(p for m, p in fake.requests if m == "GET" and p.split("?")[0].endswith("/" + plural))


def test_many_namespaces_are_listed_once_per_type_across_the_cluster(tmp_path):
    fake = crowd(12)
    result = backups.run_backup(fake, FileStore(str(tmp_path / "store")), options(namespaces=["*"],
                                                                                  exclude_namespaces=["web*"]))
    assert lists(fake, "configmaps") == ["/api/v1/configmaps"], "one LIST, not one per namespace"
    assert result["backup"]["counts"]["configmaps"] == 13  # 12 teams and shop; not web, web-test or kube-system
    assert result["backup"]["phase"] == "Completed"
    # The Namespace objects too: listed, not got one by one (neither to check they exist nor to back them up);
    # kube-system is read once, for the cluster's identity.
    assert [p for m, p in fake.requests if m == "GET" and p.startswith("/api/v1/namespaces/") and
            p.count("/") == 4] == ["/api/v1/namespaces/kube-system"], "a GET per namespace"
    assert result["backup"]["counts"]["namespaces"] == 13


def test_few_namespaces_are_listed_one_by_one(tmp_path):
    fake = crowd(12)
    backups.run_backup(fake, FileStore(str(tmp_path / "store")), options(namespace_selector="backup=nightly"))
    assert lists(fake, "configmaps") == ["/api/v1/namespaces/shop/configmaps", "/api/v1/namespaces/web/configmaps"]


def test_a_type_refused_across_the_cluster_is_listed_per_namespace(tmp_path):
    fake = crowd(12)
    fake.forbidden_cluster_wide.add("configmaps")
    result = backups.run_backup(fake, FileStore(str(tmp_path / "store")), options(namespaces=["*"]))
    assert "/api/v1/configmaps" in lists(fake, "configmaps") and len(lists(fake, "configmaps")) == 1 + 15
    assert result["backup"]["counts"]["configmaps"] == 15 and result["backup"]["phase"] == "Completed"


@pytest.mark.parametrize("teams", [0, 12], ids=["listed per namespace", "listed across the cluster"])
def test_a_namespace_that_appears_during_the_backup_is_taken_when_it_matches(tmp_path, monkeypatch, teams):
    fake = crowd(teams)
    chosen = backups.chosen_namespaces

    def then_created(k8s, opts):
        choice = chosen(k8s, opts)
        for name, labels in (("newcomer", {"backup": "nightly"}), ("stranger", {})):
            fake.add("", "namespaces", {"metadata": {"name": name, "labels": labels}})
            fake.add("", "configmaps", {"metadata": {"name": "settings", "namespace": name}, "data": {"a": name}})
        return choice
    monkeypatch.setattr(backups, "chosen_namespaces", then_created)
    if teams:
        selected = options(namespaces=["*"], exclude_namespaces=["str*"])
    else:
        selected = options(namespace_selector="backup=nightly")
    result = backups.run_backup(fake, FileStore(str(tmp_path / "store")), selected)
    backup = result["backup"]
    assert "newcomer" in backup["namespaces"] and "stranger" not in backup["namespaces"]
    assert backup["items_per_namespace"]["newcomer"] == 1
    assert "namespaces newcomer appeared during the backup and match its selection: backed up" in backup["warnings"]
    target = FakeCluster()
    restore.run_restore(target, FileStore(str(tmp_path / "store")), restore_options(name="all"))
    assert "newcomer" in target.named("", "namespaces") and "stranger" not in target.named("", "namespaces")


def test_chosen_namespaces_are_listed_twice_and_their_namespace_objects_come_from_the_second_listing(tmp_path):
    fake = cluster()
    result = backups.run_backup(fake, FileStore(str(tmp_path / "store")), options(namespace_selector="backup=nightly"))
    assert [p for m, p in fake.requests if m == "GET" and p.split("?")[0] == "/api/v1/namespaces"] == [
        "/api/v1/namespaces"] * 2, "once to choose, once for what appeared and the Namespace objects"
    assert namespace_gets(fake) == ["/api/v1/namespaces/kube-system"]  # the cluster's identity, nothing else
    assert result["backup"]["counts"]["namespaces"] == 2


def test_named_namespaces_are_not_listed_again(tmp_path):
    fake = cluster()
    backups.run_backup(fake, FileStore(str(tmp_path / "store")), options(namespaces=["shop"]))
    assert not [p for m, p in fake.requests if m == "GET" and p.split("?")[0] == "/api/v1/namespaces"]


def test_a_whole_cluster_backup_restores_what_the_exclusions_leave(tmp_path):
    store = FileStore(str(tmp_path / "store"))
    source = crowd(3)
    backups.run_backup(source, store, options(namespaces=["*"], name="everything"))
    target = FakeCluster()
    result = restore.run_restore(target, store, restore_options(name="everything", exclude_namespaces=["team-*"]))
    assert result["phase"] == "Completed"
    assert sorted(n for n in target.named("", "namespaces")) == ["shop", "web", "web-test"]
    with pytest.raises(InvalidInputError, match=r"^exclude_namespaces: excludes every namespace of backup everything"):
        restore.run_restore(FakeCluster(), store, restore_options(name="everything", exclude_namespaces=["*"]))
    with pytest.raises(InvalidInputError, match=r"^namespace_mapping: 'team-00' is excluded by exclude_namespaces"):
        restore.run_restore(FakeCluster(), store, restore_options(
            name="everything", exclude_namespaces=["team-*"], namespace_mapping={"team-00": "t0"}))


def test_a_backup_holding_kube_system_restores_its_other_namespaces_when_they_are_named(tmp_path):
    store = FileStore(str(tmp_path / "store"))
    backups.run_backup(cluster(), store, options(namespaces=["shop", "kube-system"], name="with-system"))
    with pytest.raises(InvalidInputError, match="would be restored into the cluster's own kube-system"):
        restore.run_restore(FakeCluster(), store, restore_options(name="with-system"))
    target = FakeCluster()
    assert restore.run_restore(target, store, restore_options(name="with-system", namespaces=["shop"]))[
        "phase"] == "Completed"
    assert target.named("", "configmaps", "shop") == ["settings"] and not target.named("", "configmaps", "kube-system")
    target = FakeCluster()
    restore.run_restore(target, store, restore_options(name="with-system", exclude_namespaces=["kube-*"]))
    assert target.named("", "configmaps", "shop") == ["settings"] and not target.named("", "configmaps", "kube-system")


# ------------------------------------------------------------ restoring many namespaces

def backed_up_crowd(tmp_path, teams=12):
    store = FileStore(str(tmp_path / "store"))
    backups.run_backup(crowd(teams), store, options(namespaces=["*"]))
    return store


def namespace_gets(fake):
    return [p for m, p in fake.requests if m == "GET" and p.startswith("/api/v1/namespaces/") and p.count("/") == 4]


def test_a_restore_into_many_namespaces_lists_each_type_once_across_the_cluster(tmp_path):
    store = backed_up_crowd(tmp_path)
    target = FakeCluster()
    target.add("", "namespaces", {"metadata": {"name": "bystander"}})
    target.add("", "configmaps", {"metadata": {"name": "settings", "namespace": "bystander"}, "data": {"x": "y"}})
    result = restore.run_restore(target, FileStore(str(tmp_path / "store")), restore_options(name="all"))
    assert result["changed"] and not result["failures"]
    assert lists(target, "configmaps") == ["/api/v1/configmaps"], "one LIST, not one per namespace"
    assert lists(target, "namespaces") == ["/api/v1/namespaces", "/api/v1/namespaces"]  # the check, the tier
    assert not namespace_gets(target), "a GET per namespace"
    assert len(target.named("", "configmaps", "team-07")) == 1
    assert target.objects[("", "configmaps", "bystander", "settings")]["data"] == {"x": "y"}, "another's object"
    # The rerun compares from the same LISTs: nothing to do, nothing got one by one.
    target.requests.clear()
    again = restore.run_restore(target, FileStore(str(tmp_path / "store")), restore_options(name="all"))
    assert not again["changed"], again
    assert lists(target, "configmaps") == ["/api/v1/configmaps"] and not namespace_gets(target)
    assert not [m for m, _p in target.requests if m in ("POST", "PATCH")]


def test_a_restore_into_a_few_of_a_crowded_cluster_s_namespaces_lists_them_one_by_one(tmp_path):
    store = backed_up_crowd(tmp_path)
    target = FakeCluster()
    for i in range(40):  # the DR cluster's own: more than the restore writes into
        target.add("", "namespaces", {"metadata": {"name": "other-%02d" % i}})
    result = restore.run_restore(target, store, restore_options(name="all"))
    assert not result["failures"]
    assert not lists(target, "configmaps"), "namespaces the restore created hold nothing to compare with"
    target.requests.clear()
    again = restore.run_restore(target, store, restore_options(name="all"))
    assert not again["changed"], again
    assert "/api/v1/configmaps" not in lists(target, "configmaps") and len(lists(target, "configmaps")) == 15


def test_what_a_controller_puts_into_a_namespace_the_restore_created_is_compared_after_the_conflict(tmp_path):
    store = backed_up_crowd(tmp_path)
    target = FakeCluster()
    for i in range(40):
        target.add("", "namespaces", {"metadata": {"name": "other-%02d" % i}})
    target.namespace_controller = lambda ns: target.add("", "configmaps", {
        "metadata": {"name": "settings", "namespace": ns}, "data": {"made": "by a controller"}})
    kept = restore.run_restore(target, store, restore_options(name="all"))
    assert not kept["failures"] and not lists(target, "configmaps")
    assert [s["message"] for s in kept["skipped_objects"] if s["resource"] == "configmaps"] == [
        "exists and differs from the backup (existing: keep)"] * 15
    updated = restore.run_restore(target, store, restore_options(name="all", existing="update"))
    assert updated["totals"]["updated"] == 15, updated["totals"]
    assert target.objects[("", "configmaps", "team-03", "settings")]["data"]["i"] == "3"


def test_a_type_refused_across_the_cluster_is_compared_per_namespace_at_restore(tmp_path):
    store = backed_up_crowd(tmp_path)
    target = FakeCluster()
    target.forbidden_cluster_wide.add("configmaps")
    restore.run_restore(target, store, restore_options(name="all"))
    target.requests.clear()
    again = restore.run_restore(target, store, restore_options(name="all"))
    assert not again["changed"] and not again["failures"], again
    assert "/api/v1/configmaps" in lists(target, "configmaps") and len(lists(target, "configmaps")) == 1 + 15
    assert not [m for m, _p in target.requests if m in ("POST", "PATCH")], "compared, not created again"


def test_namespaces_that_cannot_be_listed_are_got_one_by_one_at_restore(tmp_path):
    store = backed_up_crowd(tmp_path)
    target = FakeCluster(forbidden=["namespaces"])
    result = restore.run_restore(target, store, restore_options(name="all"))
    assert not result["failures"] and len(target.named("", "namespaces")) == 15
    assert len(namespace_gets(target)) >= 15
    assert "/api/v1/configmaps" not in lists(target, "configmaps"), "nothing says it writes into most namespaces"
