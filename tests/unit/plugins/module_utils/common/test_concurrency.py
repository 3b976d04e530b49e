"""Every failure keeps its message: concurrent workers and batches."""

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.restore.apply import Item, _record_crashes
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.concurrency import (
    error_text,
    parallel_map,
    raise_first,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ApiError,
    InvalidInputError,
    LifeboatError,
)


def crash(item):
    return {}["missing-" + item]


def test_an_unexpected_exception_keeps_its_type_text_and_place():
    (_item, _result, error), = parallel_map(crash, ["a"])
    text = error_text(error)
    assert text.startswith("KeyError: 'missing-a'") and "test_concurrency.py" in text, text
    assert error_text(InvalidInputError("pvc: bad")) == "pvc: bad"


def test_a_batch_reports_every_error_and_keeps_the_kind_when_it_is_one():
    def check(name):
        if name != "ok":
            raise InvalidInputError("pvc: %s is not bound" % name)
        return name
    with pytest.raises(InvalidInputError) as caught:
        raise_first(parallel_map(check, ["a", "ok", "b"]))
    assert caught.value.message.startswith("pvc: a is not bound; pvc: b is not bound (2 of 3 failed)")
    assert len(caught.value.details["errors"]) == 2

    def mixed(name):
        if name == "a":
            raise ApiError("forbidden", status=403)
        return crash(name)
    with pytest.raises(LifeboatError) as caught:
        raise_first(parallel_map(mixed, ["a", "b"]))
    assert not isinstance(caught.value, (ApiError, InvalidInputError))
    assert "forbidden" in caught.value.message and "KeyError: 'missing-b'" in caught.value.message
    with pytest.raises(ApiError):
        raise_first(parallel_map(mixed, ["a"]))  # one error is raised as it is
    assert raise_first(parallel_map(check, ["ok"])) == ["ok"]


def test_a_restore_worker_crash_fails_its_item_with_the_reason():
    item = Item("configmaps", {"apiVersion": "v1", "metadata": {"name": "c", "namespace": "n"}})
    _record_crashes(parallel_map(lambda i: crash("x"), [item]))
    assert item.outcome == "failed" and item.message.startswith("unexpected error: KeyError: 'missing-x'")
    assert item.report()["message"] == item.message
