"""The one check of a snapshot record that comes from outside (a task option, a backup's file)."""

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.records import (
    claim_of,
    record_driver,
    snapshot_record,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError

DRIVERS = ["aws_ebs", "csi", "openstorage"]
GOOD = {"driver": "csi", "snapshot_id": "h1", "name": "s", "namespace": "shop",
        "source": {"namespace": "shop", "pvc": "data"}}


def test_a_good_record_comes_back_as_it_was():
    record = snapshot_record(dict(GOOD), "volume_snapshots[0]", DRIVERS)
    assert record == GOOD and claim_of(record) == ("shop", "data") and record_driver(record) == "csi"
    assert record_driver({"snapshot_id": "h1", "source": {}}) == "csi"  # written before drivers were named


@pytest.mark.parametrize("record,problem", [
    ("not a record", "malformed"),
    (dict(GOOD, snapshot_id=None), "malformed"),
    (dict(GOOD, source={"namespace": "shop"}), "malformed"),
    (dict(GOOD, source={"namespace": "shop", "volume_id": "vol-1"}), "malformed"),  # a volume, where PVCs only
    (dict(GOOD, driver="nfs"), "unknown driver 'nfs' (known: aws_ebs, csi, openstorage)"),
    (dict(GOOD, namespace="victim"), "the snapshot is in namespace 'victim' but its PVC in 'shop'"),
])
def test_bad_records_are_refused_naming_the_option_and_the_problem(record, problem):
    with pytest.raises(InvalidInputError, match=r"^volume_snapshots\[3\]: %s" % problem.replace("(", r"\(").replace(")", r"\)")):
        snapshot_record(record, "volume_snapshots[3]", DRIVERS)


def test_a_storage_volumes_record_is_taken_where_volumes_are():
    record = dict(GOOD, source={"namespace": "shop", "volume_id": "vol-1"})
    assert snapshot_record(record, "snapshot", DRIVERS, volumes=True) is record
