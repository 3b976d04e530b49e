"""The block store interface is complete: services call nothing else, import no driver, and the
modules' driver choices are the registry's."""

import ast
import inspect
import os
import re

import pytest
import yaml

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore import registry
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.base import BlockStore
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 5))
SERVICES = ["plugins/module_utils/volumes/snapshots.py", "plugins/module_utils/volumes/restore.py",
            "plugins/module_utils/restore/service.py", "plugins/module_utils/restore/apply.py",
            "plugins/module_utils/restore/sources.py", "plugins/module_utils/backup/service.py",
            "plugins/module_utils/verify/namespace.py"]
INTERFACE = set(name for name, _f in inspect.getmembers(BlockStore, inspect.isfunction) if not name.startswith("_"))


def _source(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


@pytest.mark.parametrize("path", SERVICES)
def test_services_import_no_driver(path):
    assert not re.search(r"blockstore\.(csi|aws_ebs|openstorage)\b", _source(path))


@pytest.mark.parametrize("path", SERVICES)
def test_services_call_only_the_interface_with_its_arguments(path):
    """Every method called on a block store (named store in volumes.py, block elsewhere, or block_store(...)
    itself) is on BlockStore, with no keyword arguments the interface does not have."""
    names = ("store",) if "/volumes/" in path else ("block",)
    tree = ast.parse(_source(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        is_store = (isinstance(owner, ast.Name) and owner.id in names) or (
            isinstance(owner, ast.Call) and getattr(owner.func, "id", None) == "block_store")
        if not is_store:
            continue
        method = node.func.attr
        assert method in INTERFACE, "%s calls %s, which is not on BlockStore" % (path, method)
        parameters = inspect.signature(getattr(BlockStore, method)).parameters
        for keyword in node.keywords:
            assert keyword.arg in parameters, "%s passes %s= to %s" % (path, keyword.arg, method)


def test_every_driver_implements_the_whole_interface():
    for name, cls in registry.DRIVERS.items():
        assert cls.name == name
        missing = [m for m in INTERFACE if getattr(cls, m) is getattr(BlockStore, m) and
                   "raise NotImplementedError" in inspect.getsource(getattr(BlockStore, m))]
        assert missing == [], "%s does not implement %s" % (name, missing)
        for method in INTERFACE:
            assert list(inspect.signature(getattr(cls, method)).parameters) == \
                list(inspect.signature(getattr(BlockStore, method)).parameters), "%s.%s" % (name, method)


def test_unknown_drivers_are_refused_naming_the_choices():
    with pytest.raises(InvalidInputError, match="^driver: 'nfs' is not a block store driver here; choose one of aws_ebs, csi, openstorage"):
        registry.block_store("nfs", None)


@pytest.mark.parametrize("module", ["volume_snapshot", "volume_snapshot_info", "volume_restore"])
def test_module_driver_choices_are_the_registry(module):
    tree = ast.parse(_source("plugins/modules/%s.py" % module))
    doc = next(n.value.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "DOCUMENTATION")
    assert yaml.safe_load(doc)["options"]["driver"]["choices"] == registry.driver_names()


def test_the_connection_options_are_the_drivers_and_are_documented():
    from ansible_collections.lifeboat.k8s.plugins.doc_fragments.block_store import ModuleDocFragment
    from ansible_collections.lifeboat.k8s.plugins.module_utils.options.common import BLOCK_STORE_ARG_SPEC
    assert sorted(BLOCK_STORE_ARG_SPEC) == registry.driver_options()
    assert sorted(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]) == registry.driver_options()


def test_object_restore_documents_the_same_connection_options_as_the_fragment():
    # Suboptions cannot come from a doc fragment: object_restore repeats it, and this keeps the two equal.
    from ansible_collections.lifeboat.k8s.plugins.doc_fragments.block_store import ModuleDocFragment
    from ansible_collections.lifeboat.k8s.plugins.modules import object_restore
    documented = yaml.safe_load(object_restore.DOCUMENTATION)["options"]["block_store_options"]["suboptions"]
    assert documented == yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
