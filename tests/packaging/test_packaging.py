"""Packaging: the Galaxy tarball holds what an installed collection needs and nothing that needs the test bed,
galaxy-importer accepts it, ansible-builder introspects it installed, and the AWX EE definition builds a context.

`make packaging` runs these with LIFEBOAT_GALAXY_VENV set to galaxy-importer's own venv."""

import json
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.dirname(sys.executable)

# galaxy-importer unpacks the tarball as placeholder_namespace.placeholder_name, so ansible-lint cannot find
# the collection's own playbooks that the AWX project imports by name; Galaxy shows these as warnings.
IMPORTER_CANNOT_RESOLVE = tuple("Failed to find lifeboat.k8s.%s playbook." % name
                                for name in ("backup", "restore", "drill"))


def run(*args, **kwargs):
    proc = subprocess.run(list(args), capture_output=True, text=True, check=False, **kwargs)
    assert proc.returncode == 0, "%s\n%s%s" % (" ".join(args), proc.stdout, proc.stderr)
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    run(os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(out), ROOT)
    (path,) = out.glob("lifeboat-k8s-*.tar.gz")
    return path


def test_tarball_holds_what_an_installed_collection_needs_and_nothing_that_needs_the_bed(tarball):
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    for needed in ("plugins/modules/object_restore.py", "plugins/module_utils/restore/service.py",
                   "roles/dr_drill/README.md", "roles/dr_drill/meta/main.yml", "meta/runtime.yml",
                   "meta/execution-environment.yml", "requirements.txt", "bindep.txt",
                   "docs/awx/execution-environment.yml", "changelogs/changelog.yaml", "tests/unit"):
        assert needed in names, needed
    # Only the documented playbooks: the demo deletes namespaces in whatever cluster KUBECONFIG names.
    assert sorted(n for n in names if n.startswith("playbooks/") and n.endswith(".yml")) == [
        "playbooks/backup.yml", "playbooks/drill.yml", "playbooks/restore.yml"]
    for unwanted in ("Makefile", "hack", "benchmarks", "tests/testbed", "tests/system", "tests/demo",
                     "tests/integration", "tests/packaging", ".ci", ".coverage"):
        assert not [n for n in names if n == unwanted or n.startswith(unwanted + "/")], unwanted
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_galaxy_importer_accepts_the_tarball(tarball, tmp_path):
    venv = os.environ.get("LIFEBOAT_GALAXY_VENV")
    if not venv:
        pytest.skip("LIFEBOAT_GALAXY_VENV unset: run through `make packaging`")
    env = dict(os.environ, PATH=os.path.join(venv, "bin") + os.pathsep + os.environ["PATH"],
               GALAXY_IMPORTER_RUN_ANSIBLE_TEST="false", GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP=str(tmp_path / "tmp"),
               GALAXY_IMPORTER_CHECK_CHANGELOG="true")
    output = run(os.path.join(venv, "bin", "python"), "-m", "galaxy_importer.main", str(tarball),
                 cwd=str(tmp_path), env=env)
    assert "Importer processing completed successfully" in output, output
    complaints = [line for line in output.splitlines()
                  if ("WARNING" in line or "ERROR" in line) and not line.endswith(IMPORTER_CANNOT_RESOLVE)]
    assert not complaints, output


def test_ansible_builder_introspects_the_installed_collection(tarball, tmp_path):
    run(os.path.join(BIN, "ansible-galaxy"), "collection", "install", "-p", str(tmp_path), str(tarball))
    output = run(os.path.join(BIN, "ansible-builder"), "introspect", str(tmp_path))
    with open(os.path.join(ROOT, "requirements.txt")) as f:
        python = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    for requirement in python + ["python3 [platform:rpm platform:dpkg]"]:
        assert requirement in output, (requirement, output)


def test_the_awx_ee_definition_builds_a_context_with_the_collection(tmp_path):
    definition = os.path.join(ROOT, "docs", "awx", "execution-environment.yml")
    run(os.path.join(BIN, "ansible-builder"), "create", "-f", definition, "-c", str(tmp_path / "context"),
        "--output-filename", "Containerfile")
    with open(definition) as f:
        base = yaml.safe_load(f)["images"]["base_image"]["name"]
    assert ":" in base and not base.endswith(":latest"), "the base image must be pinned: %s" % base
    assert base in (tmp_path / "context" / "Containerfile").read_text()
    galaxy = yaml.safe_load((tmp_path / "context" / "_build" / "requirements.yml").read_text())
    assert "lifeboat.k8s" in [c["name"] for c in galaxy["collections"]]


def test_awx_surveys_ask_only_for_documented_extra_vars():
    for name in ("backup", "restore", "drill"):
        with open(os.path.join(ROOT, "docs", "awx", "survey-%s.json" % name)) as f:
            survey = json.load(f)
        with open(os.path.join(ROOT, "playbooks", name + ".yml")) as f:
            header = "".join(line for line in f if line.startswith("#"))
        assert survey["spec"], name
        for question in survey["spec"]:
            assert question["variable"] in header, (name, question["variable"])
            assert question["type"] in ("text", "integer", "multiplechoice"), (name, question)
