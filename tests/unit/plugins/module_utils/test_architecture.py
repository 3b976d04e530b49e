"""The layering holds: packages import each other without cycles, services take typed options and never read
a module's params, and every default lives in one argument spec (and its documentation says the same)."""

import ast
import os
import re

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 4))
MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")
PREFIX = "ansible_collections.lifeboat.k8s.plugins.module_utils."
# The module boundary: the one place that reads params (options/) and the Ansible bridge.
BOUNDARY = ("options" + os.sep, os.path.join("common", "module.py"))


def _sources():
    for folder, _dirs, files in os.walk(MODULE_UTILS):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                yield os.path.relpath(path, MODULE_UTILS), path


def _package_imports():
    """{package: {package it imports at run time}} (imports under `if TYPE_CHECKING:` do not count)."""
    graph = {}
    for relative, path in _sources():
        package = relative.split(os.sep)[0] if os.sep in relative else ""
        with open(path) as f:
            tree = ast.parse(f.read())
        for node in tree.body:  # top-level imports only: that is where this collection imports
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PREFIX):
                imported = node.module[len(PREFIX):].split(".")[0]
                if imported != package:
                    graph.setdefault(package, set()).add(imported)
    return graph


def _cycle(graph):
    """One cycle of the graph as a list of packages, or None."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_packages_import_each_other_without_cycles():
    assert _cycle(_package_imports()) is None, "import cycle: %s" % " -> ".join(_cycle(_package_imports()))


def test_the_cycle_check_can_fail():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None


def test_services_never_read_a_modules_params():
    readers = []
    for relative, path in _sources():
        if relative.startswith(BOUNDARY):
            continue
        with open(path) as f:
            for number, line in enumerate(f, 1):
                if re.search(r"\bparams(\[|\.get\()", line):
                    readers.append("%s:%d" % (relative, number))
    assert readers == []


def _documented(module):
    with open(os.path.join(ROOT, "plugins", "modules", module + ".py")) as f:
        tree = ast.parse(f.read())
    doc = next(n.value.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "DOCUMENTATION")
    documented = yaml.safe_load(doc)["options"]
    for fragment in yaml.safe_load(doc).get("extends_documentation_fragment") or []:
        parts = fragment.split(".")  # lifeboat.k8s.<fragment>[.<variable>]
        source = __import__("ansible_collections.lifeboat.k8s.plugins.doc_fragments." + parts[2], fromlist=["x"])
        text = getattr(source.ModuleDocFragment, parts[3] if len(parts) > 3 else "DOCUMENTATION")
        documented = dict(yaml.safe_load(text).get("options") or {}, **documented)
    return documented


def _specs():
    from ansible_collections.lifeboat.k8s.plugins.module_utils.options import backup, restore, verify, volumes
    return {"object_backup": backup.BACKUP_ARG_SPEC, "backup_info": backup.BACKUP_INFO_ARG_SPEC,
            "object_restore": restore.RESTORE_ARG_SPEC, "volume_snapshot": volumes.SNAPSHOT_ARG_SPEC,
            "volume_snapshot_info": volumes.SNAPSHOT_INFO_ARG_SPEC, "volume_restore": volumes.VOLUME_RESTORE_ARG_SPEC,
            "namespace_info": verify.NAMESPACE_INFO_ARG_SPEC, "volume_compare": verify.VOLUME_COMPARE_ARG_SPEC}


def _defaults_differ(spec, documented, where):
    problems = []
    for name, entry in spec.items():
        doc = documented.get(name) or {}
        if entry.get("default") != doc.get("default"):
            problems.append("%s%s: spec %r, docs %r" % (where, name, entry.get("default"), doc.get("default")))
        if entry.get("options"):
            problems += _defaults_differ(entry["options"], doc.get("suboptions") or {}, "%s%s." % (where, name))
    return problems


@pytest.mark.parametrize("module", sorted(_specs()))
def test_every_default_is_the_specs_and_documented_as_it(module):
    assert _defaults_differ(_specs()[module], _documented(module), "") == []


def test_hook_annotations_default_is_true_where_the_services_read_it():
    """Once drifted (the services defaulted it to False): the options carry the spec's value, nothing else."""
    from ansible_collections.lifeboat.k8s.plugins.module_utils.options.restore import RESTORE_ARG_SPEC, RestoreOptions
    from ansible_collections.lifeboat.k8s.plugins.module_utils.options.volumes import SNAPSHOT_ARG_SPEC, SnapshotOptions

    from .module_options import options_of
    assert options_of(RestoreOptions, RESTORE_ARG_SPEC, name="b").hook_annotations is True
    assert options_of(SnapshotOptions, SNAPSHOT_ARG_SPEC, name="s", namespace="n", pvc="p").hook_annotations is True


def test_the_hook_docs_say_the_same_of_what_every_hook_takes():
    from ansible_collections.lifeboat.k8s.plugins.doc_fragments.hooks import ModuleDocFragment
    from ansible_collections.lifeboat.k8s.plugins.module_utils.options.common import HOOK_ARG_SPEC
    backup = yaml.safe_load(ModuleDocFragment.BACKUP)["options"]["hooks"]["suboptions"]
    restore = yaml.safe_load(ModuleDocFragment.RESTORE)["options"]["restore_hooks"]["suboptions"]
    for name in ("container", "command", "on_error"):
        assert backup[name] == restore[name], name
    for name, entry in HOOK_ARG_SPEC.items():
        for documented in (backup[name], restore[name]):
            assert documented.get("default") == entry.get("default") and documented["type"] == entry["type"], name


MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60


def test_files_and_functions_stay_small_enough_to_read_top_to_bottom():
    too_long = []
    for relative, path in _sources():
        with open(path) as f:
            text = f.read()
        if text.count("\n") > MAX_FILE_LINES:
            too_long.append("%s: %d lines" % (relative, text.count("\n")))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append("%s: %s is %d lines" % (relative, node.name, length))
    assert too_long == []
