# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # How the openstorage and aws_ebs block store drivers reach their storage system.
    DOCUMENTATION = r"""
options:
  openstorage_endpoint:
    description:
      - The OpenStorage v1 REST API that Portworx serves, C(http://<host>:9001). Used by the C(openstorage) driver.
      - Can also be set with E(OPENSTORAGE_ENDPOINT).
    type: str
  openstorage_token:
    description:
      - Bearer token for a Portworx cluster with security enabled. Can also be set with E(OPENSTORAGE_TOKEN).
    type: str
  openstorage_ca_cert:
    description:
      - CA bundle to verify an C(https://) I(openstorage_endpoint) with. Can also be set with E(OPENSTORAGE_CA_CERT).
    type: path
  openstorage_validate_certs:
    description:
      - Whether to verify the OpenStorage endpoint's TLS certificate.
    type: bool
    default: true
  openstorage_timeout:
    description:
      - Seconds one OpenStorage API request may take.
    type: int
    default: 60
  region:
    description:
      - The AWS region of the EBS volumes and snapshots (C(aws_ebs) driver). Can also be set with E(AWS_REGION)
        or E(AWS_DEFAULT_REGION).
    type: str
    aliases: [aws_region]
  endpoint_url:
    description:
      - URL of the EC2 API, for test beds and private endpoints. Default is AWS.
      - Can also be set with E(AWS_URL) or E(EC2_URL).
    type: str
    aliases: [aws_endpoint_url, ec2_url]
  access_key:
    description:
      - AWS access key ID. Can also be set with E(AWS_ACCESS_KEY_ID).
    type: str
    aliases: [aws_access_key_id, aws_access_key]
  secret_key:
    description:
      - AWS secret access key. Can also be set with E(AWS_SECRET_ACCESS_KEY).
    type: str
    aliases: [aws_secret_access_key, aws_secret_key]
  session_token:
    description:
      - AWS session token for temporary credentials. Can also be set with E(AWS_SESSION_TOKEN).
    type: str
    aliases: [aws_session_token]
  profile:
    description:
      - A named AWS profile. Can also be set with E(AWS_PROFILE).
    type: str
    aliases: [aws_profile]
  aws_ca_bundle:
    description:
      - CA bundle to verify the EC2 endpoint with. Can also be set with E(AWS_CA_BUNDLE). (amazon.aws's
        C(validate_certs) is not offered, as here that name belongs to the Kubernetes connection.)
    type: path
requirements:
  - requests (openstorage driver)
  - boto3 >= 1.35 (aws_ebs driver)
"""
