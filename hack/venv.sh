#!/usr/bin/env bash
# Ensures a virtualenv exists and prints its path: the project's (tests/requirements-dev.txt) or, given a
# requirement file such as tests/venvs/core-2.16.txt, one of its own. Venvs live in the cache, keyed by the
# requirement files, so fresh clones reuse them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
requirements=${1:-$root/tests/requirements-dev.txt}
case $requirements in /*) ;; *) requirements=$root/$requirements ;; esac
if [ "$requirements" = "$root/tests/requirements-dev.txt" ]; then
  key=$(cat "$root/requirements.txt" "$requirements" | sha256sum | cut -c1-12)
  venv=$cache/venv-$key
else
  key=$(sha256sum <"$requirements" | cut -c1-12)
  venv=$cache/venv-$(basename "$requirements" .txt)-$key
fi
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  echo "venv: creating $venv (pip install, a few minutes on a cold cache)" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install --progress-bar off -r "$requirements" >&2
  touch "$venv/.complete"
fi
echo "$venv"
