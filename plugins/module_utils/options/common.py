# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options more than one module shares: how to reach the cluster, the bucket, the storage system and the
data mover's repositories, and how long to wait. Argument specs are the one home of defaults;
the typed options below are built from a module's validated params, once, at its boundary."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from ansible.module_utils.basic import env_fallback

from ansible_collections.lifeboat.k8s.plugins.module_utils.actions.pipeline import ActionOptions, Pipeline
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.waiting import DEFAULT_WAIT_TIMEOUT
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.registry import mover_names
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.sealing import Encryption, Signer, read_secret
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.stores import DEFAULT_STORAGE


Params = Mapping[str, Any]
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

# Same names, aliases and K8S_AUTH_* fallbacks as kubernetes.core.
K8S_AUTH_ARG_SPEC = dict(
    kubeconfig=dict(type="raw", fallback=(env_fallback, ["K8S_AUTH_KUBECONFIG"])),
    context=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_CONTEXT"])),
    host=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_HOST"])),
    api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_API_KEY"])),
    username=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_USERNAME"])),
    password=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_PASSWORD"])),
    validate_certs=dict(type="bool", aliases=["verify_ssl"], fallback=(env_fallback, ["K8S_AUTH_VERIFY_SSL"])),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"], fallback=(env_fallback, ["K8S_AUTH_SSL_CA_CERT"])),
    client_cert=dict(type="path", aliases=["cert_file"], fallback=(env_fallback, ["K8S_AUTH_CERT_FILE"])),
    client_key=dict(type="path", aliases=["key_file"], no_log=False,
                    fallback=(env_fallback, ["K8S_AUTH_KEY_FILE"])),
    proxy=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_PROXY"])),
    no_proxy=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_NO_PROXY"])),
    proxy_headers=dict(type="dict", options=dict(
        proxy_basic_auth=dict(type="str", no_log=True),
        basic_auth=dict(type="str", no_log=True),
        user_agent=dict(type="str"),
    )),
    impersonate_user=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_IMPERSONATE_USER"])),
    impersonate_groups=dict(type="list", elements="str",
                            fallback=(env_fallback, ["K8S_AUTH_IMPERSONATE_GROUPS"])),
)


def _aws_session_spec():
    """amazon.aws's region and credential options, names, aliases and AWS_* variables (a new dict per use:
    the S3 storage options and the EBS driver's each carry them)."""
    return dict(
        region=dict(type="str", aliases=["aws_region"],
                    fallback=(env_fallback, ["AWS_REGION", "AWS_DEFAULT_REGION"])),
        access_key=dict(type="str", aliases=["aws_access_key_id", "aws_access_key"], no_log=False,
                        fallback=(env_fallback, ["AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"])),
        secret_key=dict(type="str", aliases=["aws_secret_access_key", "aws_secret_key"], no_log=True,
                        fallback=(env_fallback, ["AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"])),
        session_token=dict(type="str", aliases=["aws_session_token"], no_log=True,
                           fallback=(env_fallback, ["AWS_SESSION_TOKEN"])),
        profile=dict(type="str", aliases=["aws_profile"], fallback=(env_fallback, ["AWS_PROFILE"])),
        aws_ca_bundle=dict(type="path", fallback=(env_fallback, ["AWS_CA_BUNDLE"])),
    )


# Where backups live. S3 options use amazon.aws's names, aliases and AWS_* variables,
# except validate_certs, which the Kubernetes options already use.
STORAGE_ARG_SPEC = dict(
    storage=dict(type="str", default=DEFAULT_STORAGE),
    endpoint_url=dict(type="str", aliases=["aws_endpoint_url", "endpoint"],
                      fallback=(env_fallback, ["AWS_URL", "AWS_ENDPOINT_URL"])),
    storage_validate_certs=dict(type="bool", default=True),
    storage_timeout=dict(type="int", default=600),
    **_aws_session_spec()
)

# S3 server-side encryption of what a backup writes, with amazon.aws.s3_object's names.
SERVER_SIDE_ENCRYPTION_ARG_SPEC = dict(
    encryption_mode=dict(type="str", choices=["AES256", "aws:kms"]),
    encryption_kms_key_id=dict(type="str", no_log=False),
)

# The age secret key(s) that decrypt backups (and, for object_backup, the recipients they are encrypted to).
ENCRYPTION_KEY_ARG_SPEC = dict(
    encryption_key=dict(type="str", no_log=True, fallback=(env_fallback, ["LIFEBOAT_ENCRYPTION_KEY"])),
    encryption_key_file=dict(type="path", fallback=(env_fallback, ["LIFEBOAT_ENCRYPTION_KEY_FILE"])),
)

# The HMAC key that signs backups and proves a restore reads one of the user's own.
SIGNING_KEY_ARG_SPEC = dict(
    signing_key=dict(type="str", no_log=True, fallback=(env_fallback, ["LIFEBOAT_SIGNING_KEY"])),
    signing_key_file=dict(type="path", fallback=(env_fallback, ["LIFEBOAT_SIGNING_KEY_FILE"])),
)

# How block store drivers reach their storage system (registry.driver_options() names the same keys).
# OpenStorage: Portworx's REST API. EBS: amazon.aws's names, aliases and AWS_* variables, except
# validate_certs, which the Kubernetes options already use (aws_ca_bundle sets what is trusted).
BLOCK_STORE_ARG_SPEC = dict(
    openstorage_endpoint=dict(type="str", fallback=(env_fallback, ["OPENSTORAGE_ENDPOINT"])),
    openstorage_token=dict(type="str", no_log=True, fallback=(env_fallback, ["OPENSTORAGE_TOKEN"])),
    openstorage_ca_cert=dict(type="path", fallback=(env_fallback, ["OPENSTORAGE_CA_CERT"])),
    openstorage_validate_certs=dict(type="bool", default=True),
    openstorage_timeout=dict(type="int", default=60),
    endpoint_url=dict(type="str", aliases=["aws_endpoint_url", "ec2_url"],
                      fallback=(env_fallback, ["AWS_URL", "EC2_URL"])),
    **_aws_session_spec()
)

# Where volume data copies go and how the data mover's Jobs reach them (see doc fragment data_mover).
DATA_MOVER_ARG_SPEC = dict(
    tool=dict(type="str", choices=mover_names()),
    storage=dict(type="str"),
    endpoint_url=dict(type="str"),
    pod_endpoint_url=dict(type="str"),
    region=dict(type="str"),
    access_key=dict(type="str", no_log=False),
    secret_key=dict(type="str", no_log=True),
    repository_password=dict(type="str", no_log=True),
    repository_password_secret=dict(type="str", no_log=False),
    image=dict(type="str"),
    resources=dict(type="dict", options=dict(requests=dict(type="dict"), limits=dict(type="dict"))),
    parallel_reads=dict(type="int"),
    parallel_uploads=dict(type="int"),
    compression=dict(type="str", choices=["auto", "off", "max"]),
)

# What every exec hook entry takes (volume_snapshot's hooks, object_restore's restore_hooks; doc fragment hooks).
HOOK_ARG_SPEC = dict(
    name=dict(type="str"),
    pod_selector=dict(type="str", required=True),
    container=dict(type="str"),
    command=dict(type="raw", required=True),
    on_error=dict(type="str", choices=["Fail", "Continue"], default="Fail"),
    timeout=dict(type="raw", default="30s"),
)

WAIT_ARG_SPEC = dict(
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=DEFAULT_WAIT_TIMEOUT),
)


# The S3 connection keys a data mover falls back to when its own are not given.
STORAGE_CONNECTION = ("endpoint_url", "region", "access_key", "secret_key")


def auth_params(params: Params) -> Dict[str, Any]:
    """The Kubernetes auth options of a module's params, as the client takes them."""
    return dict((k, params.get(k)) for k in K8S_AUTH_ARG_SPEC)


def storage_options(params: Params) -> Dict[str, Any]:
    """The S3 connection options of a module's params, as the object store takes them."""
    options = dict((k, params.get(k)) for k in ("endpoint_url", "region", "access_key", "secret_key",
                                                "session_token", "profile", "aws_ca_bundle"))
    options["validate_certs"] = params.get("storage_validate_certs")
    options["timeout"] = params.get("storage_timeout")
    options["encryption_mode"] = params.get("encryption_mode")
    options["encryption_kms_key_id"] = params.get("encryption_kms_key_id")
    return options


def block_store_config(params: Optional[Params]) -> Dict[str, Any]:
    """The block store drivers' connection options (BLOCK_STORE_ARG_SPEC) of a module's params."""
    params = params or {}
    return dict((k, params.get(k)) for k in BLOCK_STORE_ARG_SPEC)


def mover_defaults(params: Params) -> Dict[str, Any]:
    """What a data mover takes from the task's own S3 storage options when its own are not given."""
    defaults = dict((k, params.get(k)) for k in STORAGE_CONNECTION)
    if str(params.get("storage") or "").startswith("s3://"):
        defaults["storage"] = params["storage"]
    return defaults


@dataclass(frozen=True)
class Wait:
    """wait and wait_timeout (seconds)."""
    wait: bool
    timeout: int

    @classmethod
    def from_params(cls, params: Params) -> "Wait":
        return cls(bool(params["wait"]), int(params["wait_timeout"]))


def signer_of(params: Params) -> Optional[Signer]:
    """signing_key(_file) as a Signer, or None."""
    return Signer.from_text(read_secret(params.get("signing_key"), params.get("signing_key_file"), "signing_key"))


def encryption_of(params: Params) -> Encryption:
    """encryption_key(_file) and, for object_backup, encryption_recipients."""
    text = read_secret(params.get("encryption_key"), params.get("encryption_key_file"), "encryption_key")
    return Encryption.from_keys(text, params.get("encryption_recipients"))


def actions_of(kind: str, params: Params, check: bool = True) -> ActionOptions:
    """disable_actions, the user's rules and item_action_commands, checked unless a run uses none of them
    (state=absent); no command is started."""
    if kind == "backup":
        option = "backup_actions"
    else:
        # Messages name the option as the playbook wrote it (Ansible keeps an alias beside the option).
        option = "transforms" if params.get("transforms") is not None else "restore_actions"
    options = ActionOptions(kind, list(params.get("disable_actions") or []), params.get(option), option,
                            list(params.get("item_action_commands") or []))
    if check:
        Pipeline.check(options)
    return options


def check_mapping(mapping):
    """storage_class_mapping as given: {source class: target class}, both StorageClass names."""
    mapping = dict(mapping or {})
    for source, target in sorted(mapping.items()):
        for what, value in (("source", source), ("target", target)):
            if not isinstance(value, str) or not DNS_SUBDOMAIN.match(value):
                raise InvalidInputError("storage_class_mapping: %r -> %r: the %s is not a StorageClass name" % (
                    source, target, what))
    return mapping
