# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module layer: shared argument specs and the one place that turns the
collection's exceptions into fail_json."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import signal
import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    LifeboatError,
    MissingLibraryError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.waiting import DEFAULT_WAIT_TIMEOUT
from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.stores import DEFAULT_STORAGE

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
    tool=dict(type="str", default="restic", choices=["restic"]),
    storage=dict(type="str"),
    endpoint_url=dict(type="str"),
    pod_endpoint_url=dict(type="str"),
    region=dict(type="str"),
    access_key=dict(type="str", no_log=False),
    secret_key=dict(type="str", no_log=True),
    repository_password=dict(type="str", no_log=True),
    repository_password_secret=dict(type="str", no_log=False),
    image=dict(type="str"),
)

WAIT_ARG_SPEC = dict(
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=DEFAULT_WAIT_TIMEOUT),
)


def auth_params(params):
    """The Kubernetes auth options of a module's params, as a plain dict."""
    return dict((k, params.get(k)) for k in K8S_AUTH_ARG_SPEC)


def storage_options(params):
    """The S3 connection options of a module's params, as the object store wants them."""
    options = dict((k, params.get(k)) for k in ("endpoint_url", "region", "access_key", "secret_key",
                                                "session_token", "profile", "aws_ca_bundle"))
    options["validate_certs"] = params.get("storage_validate_certs", True)
    options["timeout"] = params.get("storage_timeout")
    options["encryption_mode"] = params.get("encryption_mode")
    options["encryption_kms_key_id"] = params.get("encryption_kms_key_id")
    return options


# Fields of an inline kubeconfig that hold secrets (kubernetes.core redacts them too).
KUBECONFIG_SECRETS = ("token", "password", "client-key-data", "id-token", "refresh-token", "client-secret",
                      "access-token")


def kubeconfig_secrets(kubeconfig):
    """Every secret string of an inline kubeconfig: user credentials, auth-provider
    config and exec plugin environment values."""
    found = set()
    if not isinstance(kubeconfig, dict):
        return found
    for entry in kubeconfig.get("users") or []:
        user = (entry or {}).get("user") or {}
        if not isinstance(user, dict):
            continue
        found.update(v for k, v in user.items() if k in KUBECONFIG_SECRETS and isinstance(v, str))
        provider = (user.get("auth-provider") or {}).get("config") or {}
        found.update(v for k, v in provider.items() if k in KUBECONFIG_SECRETS and isinstance(v, str))
        for env in ((user.get("exec") or {}).get("env") or []):
            if isinstance(env, dict) and isinstance(env.get("value"), str):
                found.add(env["value"])
    return set(v for v in found if v)


class LifeboatModule(AnsibleModule):
    """AnsibleModule whose run() maps the collection's errors to fail_json."""

    def __init__(self, *args, **kwargs):
        super(LifeboatModule, self).__init__(*args, **kwargs)
        # Masked in every result, warning and -vvv invocation, as no_log options are.
        self.no_log_values.update(kubeconfig_secrets(self.params.get("kubeconfig")))

    def run(self, action):
        """Call action(module) and exit with the dict it returns."""
        # A terminated run (AWX cancel, task timeout) unwinds like an error, so every `finally` and
        # `with` cleans up: temporary files, locks, unfinished uploads.
        signal.signal(signal.SIGTERM, _terminated)
        if (self.params.get("wait_timeout") or 0) < 0:
            self.fail_json(msg="wait_timeout: must be 0 or more seconds, got %s" % self.params["wait_timeout"])
        try:
            result = action(self)
        except MissingLibraryError as e:
            self.fail_json(msg=missing_required_lib(e.library), error=str(e.error))
        except LifeboatError as e:
            self.fail_json(msg=e.message, **_jsonable(e.details))
        except Exception as e:  # a bug or an unexpected library error: keep the traceback
            self.fail_json(msg="unexpected error: %s: %s" % (type(e).__name__, e),
                           exception=traceback.format_exc())
        for warning in result.pop("warnings", []):
            self.warn(warning)
        if self._diff and "diff" not in result:
            result["diff"] = {}
        if not self._diff:
            result.pop("diff", None)
        self.exit_json(**result)


def _terminated(signum, frame):
    raise LifeboatError("terminated by signal %d; the run cleaned up after itself and a rerun finishes the job"
                        % signum)


def _jsonable(details):
    return dict((k, v) for k, v in details.items() if k not in ("msg", "failed"))
