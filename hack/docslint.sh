#!/usr/bin/env bash
# make lint: `antsibull-docs lint-collection-docs --plugin-docs` on the built collection (the docs as the docsite
# renders them: markup, references to modules and roles, option names). It runs ansible-doc, so the venv's
# ansible-core goes first on PATH.
# Usage: hack/docslint.sh <build dir holding ansible_collections/lifeboat/k8s>
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$1
venv=$("$root/hack/venv.sh" tests/venvs/docs.txt)
cd "$build/ansible_collections/lifeboat/k8s"
out=$(PATH=$venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$build "$venv/bin/antsibull-docs" lint-collection-docs --plugin-docs . 2>&1) || {
  echo "$out" >&2; exit 1; }
if [ -n "$out" ]; then
  echo "$out" >&2
  exit 1
fi
echo "docslint: antsibull-docs finds nothing to fix"
