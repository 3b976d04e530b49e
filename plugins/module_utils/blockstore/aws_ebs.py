# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The aws_ebs block store driver: EBS snapshots through the EC2 API (boto3).

A snapshot's identity is its tags (Name, the collection's name and namespace tags), applied at
creation, so a rerun finds it with DescribeSnapshots instead of taking another (the seed's
FindSnapshot by tags; amazon.aws's ec2_snapshot is not idempotent). Restores create a volume
tagged with a key derived from the snapshot and the target, in an availability zone, then a
PersistentVolume for ebs.csi.aws.com pinned to that zone, and the PVC. copy_snapshot copies a
completed snapshot to another region, tagged with the source snapshot's id, so it too is found
again. Throttling is retried by botocore's standard retry mode, and per-volume snapshot rate
limits (which botocore does not retry) with jittered backoff here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import time
from typing import Tuple

try:
    import boto3
    import botocore.config
    import botocore.exceptions
    BOTO3_ERROR = None
except ImportError as e:  # pragma: no cover - boto3 is a requirement
    boto3 = None
    BOTO3_ERROR = e

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.native import (
    COPIED_FROM,
    MANAGED_BY,
    RESTORE_KEY,
    SNAPSHOT_NAME,
    SNAPSHOT_NAMESPACE,
    NativeBlockStore,
    labels_source,
    user_tags,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ApiError,
    InvalidInputError,
    MissingLibraryError,
    NotFoundError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.quantity import quantity_bytes

GIB = 1024 ** 3
ZONE_LABEL = "topology.ebs.csi.aws.com/zone"
VOLUME_TYPES = ("gp2", "gp3", "io1", "io2", "st1", "sc1", "standard")
VOLUME_OPTIONS = ("availability_zone", "volume_type", "iops", "throughput", "encrypted", "kms_key_id")
AUTH_ERRORS = ("AuthFailure", "UnauthorizedOperation", "InvalidClientTokenId", "SignatureDoesNotMatch",
               "UnrecognizedClientException", "InvalidAccessKeyId", "ExpiredToken", "AccessDenied")
# Rate limits botocore's retry modes do not cover.
EXTRA_RETRIES = ("SnapshotCreationPerVolumeRateExceeded", "ConcurrentSnapshotLimitExceeded")


def retrying(call, codes=EXTRA_RETRIES, attempts=6, base=1.0, cap=20.0, sleep=time.sleep):
    """Call, retrying the given error codes with full-jitter exponential backoff."""
    for attempt in range(attempts):
        try:
            return call()
        except botocore.exceptions.ClientError as e:
            if e.response.get("Error", {}).get("Code") not in codes or attempt == attempts - 1:
                raise
            sleep(random.uniform(0, min(cap, base * 2 ** attempt)))


def client_error(e, doing):
    """A collection error naming the cause of a boto3 error."""
    if isinstance(e, botocore.exceptions.ClientError):
        error = e.response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", "")
        if code in AUTH_ERRORS:
            return ApiError("access_key: AWS refused the credentials while %s (%s: %s)" % (doing, code, message),
                            status=403, reason=code)
        if code.endswith(".NotFound"):
            return NotFoundError("%s: %s (%s)" % (doing, message, code))
        return ApiError("%s failed: %s: %s" % (doing, code, message), reason=code)
    if isinstance(e, (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError)):
        return ApiError("endpoint_url: cannot reach the EC2 API while %s: %s" % (doing, e))
    if isinstance(e, botocore.exceptions.NoCredentialsError):
        return InvalidInputError("access_key: no AWS credentials (give access_key/secret_key or profile, or set "
                                 "AWS_ACCESS_KEY_ID)")
    if isinstance(e, botocore.exceptions.NoRegionError):
        return InvalidInputError("region: no AWS region (give region or set AWS_REGION)")
    return ApiError("%s failed: %s" % (doing, e))


class AwsEbsBlockStore(NativeBlockStore):
    name = "aws_ebs"
    CSI_DRIVERS = ("ebs.csi.aws.com",)
    IN_TREE = ("awsElasticBlockStore", "volumeID")
    STORAGE = "EBS"
    OPTIONS: Tuple[str, ...] = ("region", "endpoint_url", "access_key", "secret_key", "session_token", "profile", "aws_ca_bundle")

    def __init__(self, k8s, config=None):
        super(AwsEbsBlockStore, self).__init__(k8s, config)
        self._clients = {}

    def _ec2(self, region=None):
        if BOTO3_ERROR is not None:
            raise MissingLibraryError("boto3>=1.35", BOTO3_ERROR)
        region = region or self.config.get("region") or None
        if region not in self._clients:
            try:
                session = boto3.session.Session(
                    aws_access_key_id=self.config.get("access_key") or None,
                    aws_secret_access_key=self.config.get("secret_key") or None,
                    aws_session_token=self.config.get("session_token") or None,
                    profile_name=self.config.get("profile") or None, region_name=region)
                self._clients[region] = session.client(
                    "ec2", endpoint_url=self.config.get("endpoint_url") or None,
                    verify=self.config.get("aws_ca_bundle") or None,
                    config=botocore.config.Config(retries={"mode": "standard", "max_attempts": 5},
                                                  user_agent_extra="lifeboat.k8s"))
            except botocore.exceptions.ProfileNotFound as e:
                raise InvalidInputError("profile: %s" % e)
            except botocore.exceptions.BotoCoreError as e:
                raise client_error(e, "connecting to EC2")
        return self._clients[region]

    def _api(self, doing, call, region=None):
        ec2 = self._ec2(region)  # first: without boto3 the except clause below could not even be evaluated
        try:
            return retrying(lambda: call(ec2))
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            raise client_error(e, doing)

    def _region(self, region=None):
        return self._ec2(region).meta.region_name

    # ------------------------------------------------------------ storage calls

    def storage_volume(self, volume_id, region=None):
        try:
            found = self._api("describing EBS volume %s" % volume_id,
                              lambda ec2: ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"], region)
        except NotFoundError:
            return None
        if not found:
            return None
        return {"id": volume_id, "size_bytes": found[0]["Size"] * GIB, "zone": found[0]["AvailabilityZone"],
                "tags": tag_dict(found[0].get("Tags"))}

    def storage_snapshot(self, volume_id, name, labels, source):
        tags = dict(labels, Name=name)
        snapshot = self._api("snapshotting EBS volume %s" % volume_id, lambda ec2: ec2.create_snapshot(
            VolumeId=volume_id, Description="lifeboat.k8s %s/%s" % (labels[SNAPSHOT_NAMESPACE], name),
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": tag_list(tags)}]))
        snapshot.setdefault("Tags", tag_list(tags))
        return self._record(snapshot, self._region())

    def storage_snapshots(self, labels, region=None):
        filters = [{"Name": "tag:%s" % k, "Values": [v]} for k, v in sorted(labels.items())]
        pages = self._api("listing EBS snapshots", lambda ec2: list(ec2.get_paginator("describe_snapshots").paginate(
            OwnerIds=["self"], Filters=filters)), region)
        return [self._record(s, self._region(region)) for page in pages for s in page["Snapshots"]
                if all(tag_dict(s.get("Tags")).get(k) == v for k, v in labels.items())]

    def storage_describe(self, record):
        region = (record.get("driver_data") or {}).get("region")
        try:
            found = self._api("describing EBS snapshot %s" % record["snapshot_id"], lambda ec2: ec2.describe_snapshots(
                SnapshotIds=[record["snapshot_id"]])["Snapshots"], region)
        except NotFoundError:
            return None
        return self._record(found[0], self._region(region)) if found else None

    def storage_delete_snapshot(self, record):
        region = (record.get("driver_data") or {}).get("region")
        try:
            self._api("deleting EBS snapshot %s" % record["snapshot_id"],
                      lambda ec2: ec2.delete_snapshot(SnapshotId=record["snapshot_id"]), region)
        except NotFoundError:
            return False
        return True

    def storage_plan_volume(self, record, target):
        options = dict(target.get("volume_options") or {})
        unknown = sorted(set(options) - set(VOLUME_OPTIONS))
        if unknown:
            raise InvalidInputError("volume_options: %s not known to the aws_ebs driver (it takes %s)" % (
                ", ".join(unknown), ", ".join(VOLUME_OPTIONS)))
        region = (record.get("driver_data") or {}).get("region") or self._region()
        zone = options.get("availability_zone") or (record.get("source") or {}).get("zone")
        if not zone:
            raise InvalidInputError("volume_options.availability_zone: required (the record does not say the source "
                                    "volume's zone)")
        if not zone.startswith(region):
            raise InvalidInputError("volume_options.availability_zone: %s is not in %s, the region of snapshot %s" % (
                zone, region, record["snapshot_id"]))
        volume_type = options.get("volume_type") or "gp3"
        if volume_type not in VOLUME_TYPES:
            raise InvalidInputError("volume_options.volume_type: %r is not an EBS volume type (%s)" % (
                volume_type, ", ".join(VOLUME_TYPES)))
        size_gib = -(-max(quantity_bytes(target["size"]), record.get("size_bytes") or 0) // GIB)
        plan = {"region": region, "zone": zone, "volume_type": volume_type, "size_gib": size_gib,
                "snapshot_id": record["snapshot_id"]}
        for key, kind in (("iops", int), ("throughput", int), ("encrypted", bool), ("kms_key_id", str)):
            if options.get(key) is not None:
                if not isinstance(options[key], kind):
                    raise InvalidInputError("volume_options.%s: expected %s, got %r" % (
                        key, kind.__name__, options[key]))
                plan[key] = options[key]
        return plan

    def storage_pv_source(self, volume_id, plan):
        affinity = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": ZONE_LABEL, "operator": "In", "values": [plan["zone"]]}]}]}}
        return {"csi": {"driver": self.CSI_DRIVERS[0], "volumeHandle": volume_id, "fsType": "ext4"}}, affinity

    def storage_find_volume(self, key, region=None):
        found = self._api("listing EBS volumes", lambda ec2: ec2.describe_volumes(Filters=[
            {"Name": "tag:%s" % RESTORE_KEY, "Values": [key]}])["Volumes"], region)
        found = [v for v in found if tag_dict(v.get("Tags")).get(RESTORE_KEY) == key]
        return found[0]["VolumeId"] if found else None

    def storage_create_volume(self, record, plan, labels):
        kwargs = {"AvailabilityZone": plan["zone"], "SnapshotId": plan["snapshot_id"], "Size": plan["size_gib"],
                  "VolumeType": plan["volume_type"],
                  "TagSpecifications": [{"ResourceType": "volume", "Tags": tag_list(labels)}]}
        for key, arg in (("iops", "Iops"), ("throughput", "Throughput"), ("encrypted", "Encrypted"),
                         ("kms_key_id", "KmsKeyId")):
            if key in plan:
                kwargs[arg] = plan[key]
        created = self._api("creating an EBS volume from snapshot %s" % plan["snapshot_id"],
                            lambda ec2: ec2.create_volume(**kwargs), plan["region"])
        return created["VolumeId"]

    def storage_delete_volume(self, volume_id, key, region=None):
        found = self.storage_volume(volume_id, region)
        if found is None or found["tags"].get(RESTORE_KEY) != key:
            return False  # not the volume this restore made: never delete it
        try:
            self._api("deleting EBS volume %s" % volume_id, lambda ec2: ec2.delete_volume(VolumeId=volume_id), region)
        except NotFoundError:
            return False
        return True

    # ------------------------------------------------------------ copies to other regions

    def find_copy(self, record, region):
        if not record.get("snapshot_id"):
            return None  # planned (check mode): no copy can exist yet
        found = self.storage_snapshots({MANAGED_BY: "lifeboat", COPIED_FROM: record["snapshot_id"]}, region)
        return found[0] if found else None

    def copy_snapshot(self, record, region):
        source_region = (record.get("driver_data") or {}).get("region") or self._region()
        if region == source_region:
            raise InvalidInputError("copy_to_region: %s is the snapshot's own region" % region)
        if not record.get("ready"):
            raise InvalidInputError("copy_to_region: snapshot %s is not completed yet; copies are made of completed "
                                    "snapshots (use wait: true)" % record["snapshot_id"])
        tags = dict(record["driver_data"]["tags"], **{COPIED_FROM: record["snapshot_id"]})
        copied = self._api("copying EBS snapshot %s to %s" % (record["snapshot_id"], region),
                           lambda ec2: ec2.copy_snapshot(
                               SourceRegion=source_region, SourceSnapshotId=record["snapshot_id"],
                               Description="lifeboat.k8s copy of %s" % record["snapshot_id"],
                               TagSpecifications=[{"ResourceType": "snapshot", "Tags": tag_list(tags)}]), region)
        return self.storage_describe({"snapshot_id": copied["SnapshotId"], "driver_data": {"region": region}}) or \
            dict(record, snapshot_id=copied["SnapshotId"], ready=False,
                 driver_data=dict(record["driver_data"], region=region))

    # ------------------------------------------------------------ records

    def _record(self, snapshot, region):
        tags = tag_dict(snapshot.get("Tags"))
        namespace = tags.get(SNAPSHOT_NAMESPACE)
        source = labels_source(tags, namespace)
        source["volume_id"] = source.get("volume_id") or snapshot.get("VolumeId")
        state = snapshot.get("State")
        started = snapshot.get("StartTime")
        return {
            "driver": self.name,
            "snapshot_id": snapshot["SnapshotId"],
            "name": tags.get(SNAPSHOT_NAME),
            "namespace": namespace,
            "source": source,
            "tags": user_tags(tags),
            "ready": state == "completed",
            "size_bytes": snapshot["VolumeSize"] * GIB if snapshot.get("VolumeSize") else None,
            "created_at": started.isoformat() if hasattr(started, "isoformat") else started,
            "error": (snapshot.get("StateMessage") or "snapshot state: error") if state == "error" else None,
            "driver_data": {"region": region, "state": state, "progress": snapshot.get("Progress"),
                            "encrypted": snapshot.get("Encrypted"), "kms_key_id": snapshot.get("KmsKeyId"),
                            "copied_from": tags.get(COPIED_FROM), "tags": tags},
        }


def tag_list(tags):
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def tag_dict(tags):
    return dict((t["Key"], t["Value"]) for t in tags or [])
