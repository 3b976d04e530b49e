"""Every block store driver through the same contract: csi over the fake cluster's snapshot controller,
openstorage over an in-memory OpenStorage API, aws_ebs over moto's in-process EC2; all over the fake cluster.
(On the test bed the same drivers run against the real CSI sidecars, the OpenStorage emulator and moto's server.)"""

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore import openstorage
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.volumes import SNAPSHOT_ARG_SPEC, SnapshotOptions
from ansible_collections.lifeboat.k8s.plugins.module_utils.volumes import snapshots as volumes
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.registry import block_store
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
)

from ..fake_cluster import FakeCluster
from .fake_openstorage import FakeOpenStorage
from ..module_options import options_of


def snapshot_options(**given):
    return options_of(SnapshotOptions, SNAPSHOT_ARG_SPEC, **given)


moto = pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")


class CsiBed:
    driver = "csi"
    native = False
    config = {}
    DRIVER = "hostpath.csi.lifeboat.test"  # the fake cluster's snapshot controller's

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def source_volume(self):
        return "vol-data", {"csi": {"driver": self.DRIVER}}

    def prepare(self, cluster):
        cluster.add("storage.k8s.io", "storageclasses", {"metadata": {"name": "fast"}, "provisioner": self.DRIVER})
        cluster.add("snapshot.storage.k8s.io", "volumesnapshotclasses", {
            "metadata": {"name": "snaps", "annotations": {"snapshot.storage.kubernetes.io/is-default-class": "true"}},
            "driver": self.DRIVER, "deletionPolicy": "Delete"})

    def store(self, cluster, **config):
        return block_store(self.driver, cluster, config)


class OpenStorageBed:
    driver = "openstorage"
    native = True
    config = {"openstorage_endpoint": "http://osd.test:9001", "openstorage_token": "t0ken"}

    def __enter__(self):
        self.api = FakeOpenStorage(token="t0ken")
        return self

    def __exit__(self, *exc):
        return False

    def source_volume(self):
        return self.api.volume("src"), {"csi": {"driver": "pxd.portworx.com"}}

    def prepare(self, cluster):
        pass

    def store(self, cluster, **config):
        store = block_store(self.driver, cluster, dict(self.config, **config))
        store._session = self.api  # pylint: disable=protected-access
        self.api.headers["Authorization"] = "Bearer " + (config.get("openstorage_token") or "t0ken")
        return store

    def volume_exists(self, volume_id):
        return volume_id in self.api.volumes


class EbsBed:
    driver = "aws_ebs"
    native = True
    config = {"region": "us-east-1", "access_key": "testing", "secret_key": "testing"}

    def __enter__(self):
        self.mock = moto.mock_aws()
        self.mock.start()
        self.ec2 = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="testing",
                                aws_secret_access_key="testing")
        return self

    def __exit__(self, *exc):
        self.mock.stop()
        return False

    def source_volume(self):
        return self.ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"], \
            {"csi": {"driver": "ebs.csi.aws.com"}}

    def prepare(self, cluster):
        pass

    def store(self, cluster, **config):
        return block_store(self.driver, cluster, dict(self.config, **config))

    def volume_exists(self, volume_id):
        return bool(self.ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [volume_id]}])["Volumes"])


@pytest.fixture(params=[CsiBed, OpenStorageBed, EbsBed], ids=["csi", "openstorage", "aws_ebs"])
def bed(request):
    with request.param() as b:
        yield b


@pytest.fixture(params=[OpenStorageBed, EbsBed], ids=["openstorage", "aws_ebs"])
def native_bed(request):
    with request.param() as b:
        yield b


def cluster_with(volume_id, source, bed=None):
    cluster = FakeCluster()
    for ns in ("shop", "copy"):
        cluster.add("", "namespaces", {"metadata": {"name": ns}})
    source["csi"]["volumeHandle"] = volume_id
    cluster.add("", "persistentvolumes", {"metadata": {"name": "pv-data"}, "spec": source})
    cluster.add("", "persistentvolumeclaims", {
        "metadata": {"name": "data", "namespace": "shop"},
        "spec": {"volumeName": "pv-data", "storageClassName": "fast", "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}})
    if bed:
        bed.prepare(cluster)
    return cluster


def snapshot_of_data(bed):
    """A store over a cluster whose PVC shop/data is on a new storage volume, and a snapshot s1 of it."""
    volume_id, source = bed.source_volume()
    store = bed.store(cluster_with(volume_id, source, bed))
    record = store.create_snapshot({"namespace": "shop", "pvc": "data"}, "s1", {},
                                   store.check_snapshot_source({"namespace": "shop", "pvc": "data"}))
    return store, record, volume_id


def test_snapshot_find_restore_and_delete_only_what_was_made(bed):
    volume_id, source = bed.source_volume()
    cluster = cluster_with(volume_id, source, bed)
    store = bed.store(cluster)
    plan = store.check_snapshot_source({"namespace": "shop", "pvc": "data"})
    assert plan["source"].get("volume_id") == volume_id or not bed.native
    assert store.planned_snapshot({"namespace": "shop", "pvc": "data"}, "s1", {}, plan)["snapshot_id"] is None
    record = store.create_snapshot({"namespace": "shop", "pvc": "data"}, "s1", {"team": "db"}, plan)
    assert record["driver"] == bed.driver and record["snapshot_id"] and record["ready"]
    assert (record["name"], record["namespace"], record["tags"]) == ("s1", "shop", {"team": "db"})
    assert record["source"]["pvc"] == "data" and record["source"]["access_modes"] == ["ReadWriteOnce"]
    assert store.find_snapshot("s1", "shop")["snapshot_id"] == record["snapshot_id"]
    assert store.find_snapshot("s1", "other") is None
    assert [r["snapshot_id"] for r in store.find_snapshots(tags={"team": "db"})] == [record["snapshot_id"]]
    assert store.find_snapshots(tags={"team": "web"}) == []
    assert store.describe_snapshot(record)["ready"]

    target = {"namespace": "copy", "pvc": "data", "volume_options": None}
    if bed.driver == "aws_ebs":
        target["volume_options"] = {"availability_zone": "us-east-1b"}
    restore_plan = store.plan_restore(record, target)
    volume = store.restore_volume(record, target, restore_plan)
    assert volume["restored_from"] == record["snapshot_id"] and volume["phase"] == "Bound"
    # A rerun after an interruption reuses what is there instead of making a second volume.
    assert store.restore_volume(record, target, restore_plan) == volume
    assert [v["pvc"] for v in store.restored_volumes("copy")] == ["data"]
    assert store.restored_volumes("shop") == []
    if bed.driver == "openstorage":
        assert bed.api.volumes[volume["driver_data"]["volume_id"]]["spec"]["io_priority"] == "high"
    if bed.native:
        new_id = volume["driver_data"]["volume_id"]
        assert new_id != volume_id and bed.volume_exists(new_id)
        pv = cluster.get("/api/v1/persistentvolumes/" + volume["volume_name"])
        assert pv["spec"]["claimRef"]["name"] == "data" and pv["spec"]["csi"]["volumeHandle"] == new_id

    assert store.delete_volume(volume)
    assert not bed.native or (not bed.volume_exists(new_id) and bed.volume_exists(volume_id))
    assert store.find_volume(target) is None and store.delete_volume(volume) is False
    assert store.delete_snapshot(record) and store.describe_snapshot(record) is None
    assert store.delete_snapshot(record) is False


def test_a_forged_record_is_named_and_the_wrong_driver_refused(bed):
    store, record, _volume_id = snapshot_of_data(bed)
    assert store.check_snapshot_origin(record) is None
    forged = dict(record, namespace="copy")
    assert "not copy/s1" in store.check_snapshot_origin(forged)
    other = "openstorage" if bed.driver == "aws_ebs" else "aws_ebs"
    with pytest.raises(InvalidInputError, match="^snapshot: the record was made by driver %r, not %r" % (
            other, bed.driver)):
        store.plan_restore(dict(record, driver=other), {"namespace": "copy", "pvc": "data"})


def test_bad_sources_are_refused_before_anything_is_made(native_bed):
    bed = native_bed
    volume_id, source = bed.source_volume()
    cluster = cluster_with(volume_id, source)
    cluster.add("", "persistentvolumes", {"metadata": {"name": "pv-nfs"}, "spec": {"nfs": {"server": "x"}}})
    cluster.add("", "persistentvolumeclaims", {
        "metadata": {"name": "shared", "namespace": "shop"}, "spec": {"volumeName": "pv-nfs"},
        "status": {"phase": "Bound"}})
    store = bed.store(cluster)
    with pytest.raises(InvalidInputError, match="^pvc: PersistentVolumeClaim shop/shared is not on .*a nfs volume"):
        store.check_snapshot_source({"namespace": "shop", "pvc": "shared"})
    with pytest.raises(NotFoundError, match="^volume_id: .* does not exist"):
        store.check_snapshot_source({"namespace": "shop", "pvc": None, "volume_id": "vol-0000000000000000f"})
    with pytest.raises(InvalidInputError, match="^snapshot_class: only the csi driver"):
        store.check_snapshot_source({"namespace": "shop", "pvc": "data"}, "gold")
    assert store.find_snapshots() == []


def test_the_volume_services_run_on_every_driver(bed, monkeypatch):
    volume_id, source = bed.source_volume()
    cluster = cluster_with(volume_id, source, bed)
    params = dict(bed.config, driver=bed.driver, name="nightly", namespace="shop", pvc="data", wait_timeout=5)
    if bed.driver == "openstorage":
        # The services build their own driver: hand it the fake API.
        monkeypatch.setattr(openstorage.requests, "Session", lambda: bed.api)
    assert volumes.snapshot_volumes(cluster, snapshot_options(**params), check_mode=True)["changed"]
    assert volumes.snapshot_volumes(cluster, snapshot_options(**params))["changed"]
    assert volumes.snapshot_volumes(cluster, snapshot_options(**params))["changed"] is False
    with pytest.raises(ConflictError, match="^name: snapshot shop/nightly already exists for PVC 'data', not 'logs'"):
        volumes.snapshot_volumes(cluster, snapshot_options(**dict(params, pvc="logs")))
    assert volumes.snapshot_volumes(cluster, snapshot_options(**dict(params, state="absent")))["changed"]
    assert volumes.snapshot_volumes(cluster, snapshot_options(**dict(params, state="absent")))["changed"] is False


def test_conflicting_names_are_refused():
    with EbsBed() as bed:
        store, record, _volume_id = snapshot_of_data(bed)
        with pytest.raises(ConflictError, match="refusing to delete"):
            store.delete_snapshot(dict(record, name="someone-else"))


def test_in_place_restores_once_onto_the_volume_the_snapshot_was_taken_of(bed):
    store, record, volume_id = snapshot_of_data(bed)
    target = {"namespace": "shop", "pvc": "data"}
    if bed.driver != "openstorage":
        with pytest.raises(InvalidInputError, match="^in_place: (EBS|the csi driver) cannot restore"):
            store.restore_in_place(record, target)
        return
    assert store.restore_in_place(record, target, check_mode=True)[1] is True
    assert ("POST", "/v1/osd-snapshot/restore/" + volume_id) not in bed.api.calls
    assert store.restore_in_place(record, target)[1] is True
    assert ("POST", "/v1/osd-snapshot/restore/" + volume_id) in bed.api.calls
    assert store.restore_in_place(record, target)[1] is False
    with pytest.raises(InvalidInputError, match="^in_place: PersistentVolumeClaim shop/data is on volume .*, but "
                                                "snapshot .* was taken of OpenStorage volume other"):
        store.restore_in_place(dict(record, source=dict(record["source"], volume_id="other")), target)


def test_a_batch_takes_each_pvc_with_the_driver_its_volume_maps_to():
    with EbsBed() as bed:
        ebs_id, source = bed.source_volume()
        cluster = cluster_with(ebs_id, source)
        in_tree = bed.source_volume()[0]
        cluster.add("", "persistentvolumes", {"metadata": {"name": "pv-old"},
                                              "spec": {"awsElasticBlockStore": {"volumeID": in_tree}}})
        cluster.add("", "persistentvolumeclaims", {
            "metadata": {"name": "old", "namespace": "shop"},
            "spec": {"volumeName": "pv-old", "resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Bound"}})
        params = dict(bed.config, driver="csi", name="nightly", namespace="shop", pvc_selector="", wait_timeout=5,
                      csi_driver_map={"ebs.csi.aws.com": "aws_ebs"})
        taken = volumes.snapshot_volumes(cluster, snapshot_options(**params))["snapshots"]
        assert sorted((r["source"]["pvc"], r["driver"], r["source"]["volume_id"]) for r in taken) == [
            ("data", "aws_ebs", ebs_id), ("old", "aws_ebs", in_tree)]
        unknown = dict(params)
        unknown["csi_driver_map"] = {"ebs.csi.aws.com": "ebs"}
        with pytest.raises(InvalidInputError, match="^csi_driver_map: unknown block store driver ebs; choose from aws_ebs, csi, openstorage"):
            volumes.snapshot_volumes(cluster, snapshot_options(**unknown))
