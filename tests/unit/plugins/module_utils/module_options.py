"""Typed options for the services, built as the modules build them: the module's argument spec (its
defaults, types and choices, through ansible-core's own validator), then the options' from_params."""

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator


def module_params(spec, **given):
    """The params AnsibleModule would hand a module for these task arguments."""
    result = ArgumentSpecValidator(spec).validate(given)
    if result.error_messages:
        raise AssertionError("the test's arguments do not fit the spec: %s" % result.error_messages)
    return result.validated_parameters


def options_of(options_class, spec, **given):
    return options_class.from_params(module_params(spec, **given))
