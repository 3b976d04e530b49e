"""The module layer: the one place that turns the collection's errors into fail_json, surfaces warnings,
keeps diffs only in diff mode, and masks kubeconfig secrets."""

import json

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.common import module as lifeboat_module
from ansible_collections.lifeboat.k8s.plugins.module_utils.options import common as shared_options
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    InvalidInputError,
    MissingLibraryError,
)

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    patch_module_args = None


def run(capsys, action, diff=False, **args):
    args = dict(args, _ansible_diff=diff)
    spec = dict(shared_options.K8S_AUTH_ARG_SPEC, **shared_options.WAIT_ARG_SPEC)
    if patch_module_args is not None:
        with patch_module_args(args):
            module = lifeboat_module.LifeboatModule(argument_spec=spec, supports_check_mode=True)
            with pytest.raises(SystemExit):
                module.run(action)
    else:
        from ansible.module_utils import basic
        from ansible.module_utils.common.text.converters import to_bytes
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        module = lifeboat_module.LifeboatModule(argument_spec=spec, supports_check_mode=True)
        with pytest.raises(SystemExit):
            module.run(action)
    return json.loads(capsys.readouterr().out)


def test_a_collection_error_fails_with_its_message_and_details(capsys):
    def action(m):
        raise InvalidInputError("namespaces: give at least one", refused=["x"])
    result = run(capsys, action)
    assert result["failed"] and result["msg"] == "namespaces: give at least one" and result["refused"] == ["x"]
    assert "exception" not in result


def test_an_unexpected_error_keeps_its_type_text_and_traceback(capsys):
    def action(m):
        raise KeyError("spec")
    result = run(capsys, action)
    # The traceback goes to fail_json too; ansible-core 2.19 shows it only when tracebacks are enabled.
    assert result["failed"] and result["msg"] == "unexpected error: KeyError: 'spec'"


def test_a_missing_library_says_which(capsys):
    def action(m):
        raise MissingLibraryError("pyrage>=1.2", ImportError("No module named 'pyrage'"))
    result = run(capsys, action)
    assert "pyrage>=1.2" in result["msg"] and "No module named" in result["error"]


def test_warnings_become_ansible_warnings_and_diff_is_kept_only_in_diff_mode(capsys):
    def action(m):
        return {"changed": True, "warnings": ["backup x is PartiallyFailed"], "diff": {"before": {}, "after": {}}}
    plain = run(capsys, action)
    assert "backup x is PartiallyFailed" in json.dumps(plain["warnings"]) and "diff" not in plain
    assert "diff" in run(capsys, action, diff=True)
    assert run(capsys, lambda m: {"changed": False}, diff=True)["diff"] == {}


def test_api_warnings_are_ansible_warnings_too_when_the_task_fails(capsys):
    entry = {"message": 'would violate PodSecurity "restricted:latest"', "count": 3,
             "objects": ["deployments.apps web in shop"]}

    def failing(m):
        raise InvalidInputError("restore of x partially failed", api_warnings=[entry])
    for action in (lambda m: {"changed": True, "api_warnings": [entry]}, failing):
        result = run(capsys, action)
        assert result["api_warnings"] == [entry]
        assert 'the API server warned 3 times: would violate PodSecurity \\"restricted:latest\\" (deployments.apps ' \
               'web in shop)' in json.dumps(result["warnings"])


def test_a_negative_wait_timeout_is_refused_naming_the_option(capsys):
    result = run(capsys, lambda m: {"changed": False}, wait_timeout=-1)
    assert result["failed"] and result["msg"].startswith("wait_timeout: must be 0 or more")


def test_inline_kubeconfig_secrets_are_masked_in_results(capsys):
    kubeconfig = {"users": [{"name": "u", "user": {
        "token": "s3cr3t-token-value", "exec": {"env": [{"name": "PW", "value": "exec-secret-value"}]}}}]}
    result = run(capsys, lambda m: {"changed": False, "echo": "s3cr3t-token-value exec-secret-value"},
                 kubeconfig=kubeconfig)
    assert "s3cr3t-token-value" not in json.dumps(result) and "exec-secret-value" not in json.dumps(result)


def test_storage_options_map_module_params_to_the_store():
    params = dict(endpoint_url="http://s3", region="r", access_key="a", secret_key="s", session_token=None,
                  profile=None, aws_ca_bundle=None, storage_validate_certs=False, storage_timeout=60,
                  encryption_mode="AES256", encryption_kms_key_id=None)
    options = shared_options.storage_options(params)
    assert options["validate_certs"] is False and options["timeout"] == 60 and options["encryption_mode"] == "AES256"
    assert shared_options.auth_params({"host": "h"})["host"] == "h"


def test_defaults_are_defined_once_and_documented_as_defined():
    import yaml
    from ansible_collections.lifeboat.k8s.plugins.doc_fragments import storage, wait
    from ansible_collections.lifeboat.k8s.plugins.module_utils.common.waiting import DEFAULT_WAIT_TIMEOUT
    from ansible_collections.lifeboat.k8s.plugins.module_utils.objectstore.stores import DEFAULT_STORAGE
    assert shared_options.STORAGE_ARG_SPEC["storage"]["default"] == DEFAULT_STORAGE
    assert yaml.safe_load(storage.ModuleDocFragment.DOCUMENTATION)["options"]["storage"]["default"] == DEFAULT_STORAGE
    assert shared_options.WAIT_ARG_SPEC["wait_timeout"]["default"] == DEFAULT_WAIT_TIMEOUT
    documented = yaml.safe_load(wait.ModuleDocFragment.DOCUMENTATION)["options"]["wait_timeout"]["default"]
    assert documented == DEFAULT_WAIT_TIMEOUT


def _construct(capsys, **args):
    """The module's output when its arguments fail to parse: AnsibleModule fails inside its constructor."""
    spec = dict(shared_options.K8S_AUTH_ARG_SPEC, **shared_options.WAIT_ARG_SPEC)
    with patch_module_args(dict(args, _ansible_verbosity=3)):
        with pytest.raises(SystemExit):
            lifeboat_module.LifeboatModule(argument_spec=spec, supports_check_mode=True)
    return capsys.readouterr().out


@pytest.mark.skipif(patch_module_args is None, reason="ansible-core < 2.19 has no patch_module_args")
def test_inline_kubeconfig_secrets_are_masked_when_the_arguments_fail_to_parse(capsys):
    kubeconfig = {"users": [{"name": "u", "user": {
        "token": "s3cr3t-token-value", "client-key-data": "a2V5LWRhdGE=",
        "exec": {"env": [{"name": "PW", "value": "exec-secret-value"}]}}}]}
    out = _construct(capsys, kubeconfig=kubeconfig, wait_timout=5)  # a typo in an option name
    result = json.loads(out)
    assert result["failed"] and "wait_timout" in result["msg"]
    for secret in ("s3cr3t-token-value", "a2V5LWRhdGE=", "exec-secret-value"):
        assert secret not in out
    # The proof that the check can fail: the invocation is in the output, only masked.
    assert result["invocation"]["module_args"]["kubeconfig"]["users"][0]["user"]["token"] != "s3cr3t-token-value"
