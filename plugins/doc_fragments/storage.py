# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Where backups live; S3 options with amazon.aws's names and AWS_* variables.
    DOCUMENTATION = r"""
options:
  storage:
    description:
      - Where backups live, as a URL. C(file:///path) keeps them in a directory (no server needed);
        C(s3://bucket/prefix) in any S3 endpoint (see I(endpoint_url)).
      - Backups are kept under C(<prefix>/backups/<name>/) in Velero's layout.
    type: str
    default: file:///var/backups/lifeboat
  endpoint_url:
    description:
      - URL of the S3 endpoint, for on-premises servers (MinIO, SeaweedFS, Ceph). Default is AWS.
      - Can also be set with E(AWS_URL) or E(AWS_ENDPOINT_URL).
    type: str
    aliases: [aws_endpoint_url, endpoint]
  region:
    description:
      - The S3 region. Can also be set with E(AWS_REGION) or E(AWS_DEFAULT_REGION).
    type: str
    aliases: [aws_region]
  access_key:
    description:
      - S3 access key ID. Can also be set with E(AWS_ACCESS_KEY_ID).
    type: str
    aliases: [aws_access_key_id, aws_access_key]
  secret_key:
    description:
      - S3 secret access key. Can also be set with E(AWS_SECRET_ACCESS_KEY).
    type: str
    aliases: [aws_secret_access_key, aws_secret_key]
  session_token:
    description:
      - S3 session token for temporary credentials. Can also be set with E(AWS_SESSION_TOKEN).
    type: str
    aliases: [aws_session_token]
  profile:
    description:
      - A named AWS profile. Can also be set with E(AWS_PROFILE).
    type: str
    aliases: [aws_profile]
  storage_validate_certs:
    description:
      - Whether to verify the S3 endpoint's TLS certificate. (amazon.aws calls this C(validate_certs);
        here that name belongs to the Kubernetes connection.)
    type: bool
    default: true
  storage_timeout:
    description:
      - Seconds one S3 upload or download may take before the task fails (a stalled server must not hang
        a backup). Each S3 request also has a 10 s connect and a 60 s read timeout, and is retried at most
        three times. An upload that fails has its unfinished multipart upload aborted.
      - Not used for C(file://) storage.
    type: int
    default: 600
  aws_ca_bundle:
    description:
      - CA bundle to verify the S3 endpoint with. Can also be set with E(AWS_CA_BUNDLE).
    type: path
requirements:
  - boto3 >= 1.35 (for s3:// storage)
"""
