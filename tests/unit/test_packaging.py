"""Packaging: the execution-environment definition builds, and lists what requirements.txt lists."""

import os
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def requirement_lines(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def test_ee_lists_the_python_requirements():
    with open(os.path.join(ROOT, "meta", "execution-environment.yml")) as f:
        ee = yaml.safe_load(f)
    assert ee["dependencies"]["python"] == requirement_lines(os.path.join(ROOT, "requirements.txt"))


def test_ansible_builder_creates_a_build_context(tmp_path):
    builder = os.path.join(os.path.dirname(sys.executable), "ansible-builder")
    proc = subprocess.run([builder, "create", "-f", os.path.join(ROOT, "meta", "execution-environment.yml"),
                           "-c", str(tmp_path / "context"), "--output-filename", "Containerfile"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (tmp_path / "context" / "Containerfile").read_text()
    assert "quay.io/ansible/awx-ee" in containerfile
    python_deps = (tmp_path / "context" / "_build" / "requirements.txt").read_text()
    assert "kubernetes>=30,<37" in python_deps


def test_awx_surveys_ask_only_for_documented_extra_vars():
    import json
    for name in ("backup", "restore", "drill"):
        with open(os.path.join(ROOT, "docs", "awx", "survey-%s.json" % name)) as f:
            survey = json.load(f)
        with open(os.path.join(ROOT, "playbooks", name + ".yml")) as f:
            header = "".join(line for line in f if line.startswith("#"))
        assert survey["spec"], name
        for question in survey["spec"]:
            assert question["variable"] in header, (name, question["variable"])
            assert question["type"] in ("text", "integer", "multiplechoice"), (name, question)
