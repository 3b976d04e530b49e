"""Retries and the mapping of storage API errors to the collection's errors, naming the option to fix."""

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore import aws_ebs
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.openstorage import OpenStorageBlockStore
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ApiError,
    InvalidInputError,
    NotFoundError,
)

from .fake_openstorage import FakeOpenStorage, Response

botocore = pytest.importorskip("botocore")
from botocore.exceptions import ClientError, EndpointConnectionError  # noqa: E402  pylint: disable=wrong-import-position


def client_error(code, message="m"):
    return ClientError({"Error": {"Code": code, "Message": message}}, "CreateSnapshot")


def test_rate_limits_are_retried_with_growing_jittered_waits():
    attempts, slept = [], []

    def call():
        attempts.append(1)
        if len(attempts) < 3:
            raise client_error("SnapshotCreationPerVolumeRateExceeded")
        return "done"
    assert aws_ebs.retrying(call, sleep=slept.append) == "done"
    assert len(attempts) == 3 and len(slept) == 2
    assert 0 <= slept[0] <= 1.0 and 0 <= slept[1] <= 2.0


def test_retries_give_up_and_other_errors_are_not_retried():
    slept = []

    def limited():
        raise client_error("SnapshotCreationPerVolumeRateExceeded")
    with pytest.raises(ClientError):
        aws_ebs.retrying(limited, attempts=3, sleep=slept.append)
    assert len(slept) == 2
    calls = []

    def denied():
        calls.append(1)
        raise client_error("UnauthorizedOperation")
    with pytest.raises(ClientError):
        aws_ebs.retrying(denied, sleep=slept.append)
    assert calls == [1]


@pytest.mark.parametrize("error, cls, message", [
    (client_error("AuthFailure", "not valid"), ApiError, "^access_key: AWS refused the credentials while x"),
    (client_error("InvalidVolume.NotFound", "no vol"), NotFoundError, "^x: no vol"),
    (client_error("IncorrectState", "busy"), ApiError, "^x failed: IncorrectState: busy"),
    (EndpointConnectionError(endpoint_url="http://ec2.test"), ApiError, "^endpoint_url: cannot reach the EC2 API"),
    (botocore.exceptions.NoRegionError(), InvalidInputError, "^region: "),
])
def test_ec2_errors_name_their_cause(error, cls, message):
    mapped = aws_ebs.client_error(error, "x")
    assert isinstance(mapped, cls)
    with pytest.raises(cls, match=message):
        raise mapped


def osd_store(api, **config):
    store = OpenStorageBlockStore(None, dict({"openstorage_endpoint": "http://osd.test:9001"}, **config))
    store._session = api  # pylint: disable=protected-access
    return store


class Refusing(FakeOpenStorage):
    def __init__(self, response=None, exception=None):
        super(Refusing, self).__init__()
        self.response, self.exception = response, exception

    def request(self, method, url, json=None, params=None, timeout=None):
        if self.exception:
            raise self.exception
        return self.response


def test_openstorage_errors_name_their_cause():
    requests = pytest.importorskip("requests")
    with pytest.raises(ApiError, match="^openstorage_token: the OpenStorage API refused the request .401.: Access"):
        osd_store(Refusing(Response(401, "Access denied"))).storage_volume("1")
    with pytest.raises(ApiError, match="^openstorage_endpoint: cannot reach the OpenStorage API at http://osd.test"):
        osd_store(Refusing(exception=requests.exceptions.ConnectionError("refused"))).storage_volume("1")
    with pytest.raises(ApiError, match="did not answer GET /v1/osd-volumes/1 with JSON"):
        osd_store(Refusing(Response(200, "<html>"))).storage_volume("1")
    assert osd_store(Refusing(Response(404, "Volume with ID: 1 is not found"))).storage_volume("1") is None
    # Driver failures come back as HTTP 200 with volume_response.error (as upstream's server does).
    api = FakeOpenStorage()
    with pytest.raises(NotFoundError, match="^snapshot of OpenStorage volume 77 .for ns/s. failed: Volume with ID: 77"):
        osd_store(api).storage_snapshot("77", "s", {"lifeboat.k8s/snapshot-namespace": "ns"}, {})


@pytest.mark.parametrize("config, message", [
    ({"openstorage_endpoint": None}, "^openstorage_endpoint: required"),
    ({"openstorage_endpoint": "osd.test:9001"}, "^openstorage_endpoint: 'osd.test:9001' is not an http"),
])
def test_openstorage_endpoint_is_checked(config, message, monkeypatch):
    monkeypatch.delenv("OPENSTORAGE_ENDPOINT", raising=False)
    with pytest.raises(InvalidInputError, match=message):
        OpenStorageBlockStore(None, config).storage_volume("1")


def test_volume_options_are_checked_per_driver():
    record = {"snapshot_id": "snap-1", "source": {"zone": "us-east-1a"}, "driver_data": {"region": "us-east-1"},
              "size_bytes": 1 << 30}
    store = aws_ebs.AwsEbsBlockStore(None, {"region": "us-east-1"})
    plan = store.storage_plan_volume(record, {"size": "1Gi", "volume_options": {"iops": 3000}})
    assert (plan["zone"], plan["volume_type"], plan["size_gib"], plan["iops"]) == ("us-east-1a", "gp3", 1, 3000)
    for options, message in [({"volume_type": "ssd"}, "^volume_options.volume_type: 'ssd' is not an EBS"),
                             ({"iops": "many"}, "^volume_options.iops: expected int"),
                             ({"zone": "x"}, "^volume_options: zone not known to the aws_ebs driver"),
                             ({"availability_zone": "eu-west-1a"}, "^volume_options.availability_zone: eu-west-1a is not in us-east-1")]:
        with pytest.raises(InvalidInputError, match=message):
            store.storage_plan_volume(record, {"size": "1Gi", "volume_options": options})
    with pytest.raises(InvalidInputError, match="^volume_options: iops not known to the openstorage driver"):
        osd_store(FakeOpenStorage()).storage_plan_volume(
            record, {"size": "1Gi", "volume_options": {"iops": 1}, "namespace": "n", "pvc": "p"})


def test_records_keep_the_users_tags_and_drop_the_drivers_own():
    from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore import native
    labels = {"lifeboat.k8s/backup": "nightly", "team": "db", "Name": "s1", "app.kubernetes.io/managed-by": "lifeboat",
              "lifeboat.k8s/snapshot-name": "s1", "lifeboat.k8s/snapshot-namespace": "shop",
              "lifeboat.k8s/source.pvc": "data", "lifeboat.k8s/copied-from": "snap-1"}
    assert native.user_tags(labels) == {"lifeboat.k8s/backup": "nightly", "team": "db"}
