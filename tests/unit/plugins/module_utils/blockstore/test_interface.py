"""The block store registry: services import no driver, and the modules' driver choices and connection
options are the registry's. That services call only the BlockStore protocol, and that every driver implements
all of it, the type checker holds (make lint: hack/typecheck.sh, which also proves it refuses a misuse)."""

import ast
import os
import re

import pytest
import yaml

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore import registry
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 5))
SERVICES = ["plugins/module_utils/volumes/snapshots.py", "plugins/module_utils/volumes/restore.py",
            "plugins/module_utils/restore/service.py", "plugins/module_utils/restore/apply.py",
            "plugins/module_utils/restore/sources.py", "plugins/module_utils/backup/service.py",
            "plugins/module_utils/verify/namespace.py"]


def _source(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


@pytest.mark.parametrize("path", SERVICES)
def test_services_import_no_driver(path):
    assert not re.search(r"blockstore\.(csi|aws_ebs|openstorage)\b", _source(path))


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
