#!/usr/bin/env python
"""The test's own view of the storage systems (an oracle independent of the collection):
create a source volume and report what exists, straight from the OpenStorage API and EC2.

usage: storage.py osd-create ENDPOINT TOKEN NAME | osd-exists ENDPOINT TOKEN ID | osd-delete ENDPOINT TOKEN ID
       osd-snapshots ENDPOINT TOKEN LABELS_JSON
       ec2-create ENDPOINT KEY SECRET REGION ZONE | ec2-volume ENDPOINT KEY SECRET REGION ID
       ec2-snapshots ENDPOINT KEY SECRET REGION TAG_KEY TAG_VALUE
"""
import json
import sys

import requests


def osd(endpoint, token, method, path, **kwargs):
    r = requests.request(method, endpoint + path, headers={"Authorization": "Bearer " + token}, timeout=30, **kwargs)
    return r.status_code, (r.json() if r.headers.get("Content-Type", "").startswith("application/json") else r.text)


def ec2(endpoint, key, secret, region):
    import boto3
    return boto3.client("ec2", endpoint_url=endpoint, region_name=region, aws_access_key_id=key,
                        aws_secret_access_key=secret)


def main(cmd, *a):
    if cmd == "osd-create":
        body = osd(a[0], a[1], "POST", "/v1/osd-volumes", json={"locator": {"name": a[2]}, "spec": {"size": 1 << 30}})[1]
        out = body["id"]
    elif cmd == "osd-exists":
        out = osd(a[0], a[1], "GET", "/v1/osd-volumes/" + a[2])[0] == 200
    elif cmd == "osd-delete":
        out = osd(a[0], a[1], "DELETE", "/v1/osd-volumes/" + a[2])[1]
    elif cmd == "osd-snapshots":
        out = len(osd(a[0], a[1], "GET", "/v1/osd-snapshot", params={"Label": a[2]})[1])
    elif cmd == "ec2-create":
        out = ec2(*a[:4]).create_volume(AvailabilityZone=a[4], Size=1)["VolumeId"]
    elif cmd == "ec2-volume":
        found = ec2(*a[:4]).describe_volumes(Filters=[{"Name": "volume-id", "Values": [a[4]]}])["Volumes"]
        out = found[0]["State"] if found else "gone"
    elif cmd == "ec2-snapshots":
        out = len(ec2(*a[:4]).describe_snapshots(OwnerIds=["self"], Filters=[
            {"Name": "tag:" + a[4], "Values": [a[5]]}])["Snapshots"])
    else:
        raise SystemExit(__doc__)
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:])
