#!/usr/bin/env bash
# Prints the venv `make system` and `make integration` run in: tests/venvs/suite.txt (ansible-core 2.21) on
# Python $LIFEBOAT_SUITE_PYTHON (default 3.13; 2.21 needs 3.12 or later), found by hack/python.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=$("$root/hack/python.sh" "${LIFEBOAT_SUITE_PYTHON:-3.13}")
LIFEBOAT_PYTHON=$python exec "$root/hack/venv.sh" tests/venvs/suite.txt
