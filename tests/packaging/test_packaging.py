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
                   "meta/execution-environment.yml", "requirements.txt", "constraints.txt", "bindep.txt",
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
    # Every pip install of the build runs under the collection's upper bounds: the constraint is set before the
    # first one, in the stage the others start from.
    assert (tmp_path / "context" / "_build" / "configs" / "constraints.txt").read_text() == read(
        os.path.join(ROOT, "constraints.txt"))
    containerfile = (tmp_path / "context" / "Containerfile").read_text()
    first_pip = containerfile.index("pip_install")
    assert -1 < containerfile.find("ENV PIP_CONSTRAINT=") < first_pip, containerfile


def read(path):
    with open(path) as f:
        return f.read()


def bounds(path):
    """name -> the requirement lines of a requirements or constraints file (comments and -r/-c lines left out)."""
    found = {}
    for line in read(path).splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name = line.split("[", 1)[0]
            for mark in "<>=!~ ":
                name = name.split(mark, 1)[0]
            found.setdefault(name.lower(), []).append(line)
    return found


def test_every_requirement_has_a_lower_bound_and_a_tested_upper_bound():
    lower, upper = bounds(os.path.join(ROOT, "requirements.txt")), bounds(os.path.join(ROOT, "constraints.txt"))
    for name, lines in lower.items():
        assert any(">=" in line for line in lines), (name, lines)
        assert name in upper and "<" in upper[name][0], "constraints.txt: no upper bound for %s" % name
    assert set(upper) - set(lower) <= {"ansible-core", "urllib3"}, set(upper) - set(lower)


@pytest.mark.parametrize("python_version, core", [("3.11", "ansible-core>=2.16,<2.17"),
                                                  ("3.13", "ansible-core>=2.21,<2.22")])
def test_requirements_resolve_on_both_pythons_without_backtracking(python_version, core, tmp_path):
    python = run(os.path.join(ROOT, "hack", "python.sh"), python_version).strip()
    report = tmp_path / "report.json"
    output = run(python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report",
                 str(report), "-r", os.path.join(ROOT, "requirements.txt"), "-c", os.path.join(ROOT, "constraints.txt"),
                 core)
    # pip says this each time its resolver has to go back on a choice it made.
    assert "is looking at multiple versions" not in output, output
    chosen = {item["metadata"]["name"].lower(): item["metadata"]["version"]
              for item in json.loads(report.read_text())["install"]}
    for name in bounds(os.path.join(ROOT, "requirements.txt")):
        assert name in chosen, (name, sorted(chosen))
    assert chosen["ansible-core"].startswith("2.16." if python_version == "3.11" else "2.21."), chosen


def test_awx_surveys_ask_only_for_extra_vars_the_playbooks_and_the_docsite_document():
    for name in ("backup", "restore", "drill"):
        with open(os.path.join(ROOT, "docs", "awx", "survey-%s.json" % name)) as f:
            survey = json.load(f)
        with open(os.path.join(ROOT, "playbooks", name + ".yml")) as f:
            header = "".join(line for line in f if line.startswith("#"))
        with open(os.path.join(ROOT, "docs", "docsite", "rst", "playbooks.rst")) as f:
            page = f.read()
        assert survey["spec"], name
        for question in survey["spec"]:
            assert question["variable"] in header, (name, question["variable"])
            # The docsite's playbook page documents what the survey asks.
            assert "``%s``" % question["variable"] in page, (name, question["variable"])
            assert question["type"] in ("text", "integer", "multiplechoice"), (name, question)
