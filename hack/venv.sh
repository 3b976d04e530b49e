#!/usr/bin/env bash
# Ensures the project's virtualenv exists and prints its path. It lives in the
# cache (keyed by the requirement files) so fresh clones reuse it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
key=$(cat "$root/requirements.txt" "$root/tests/requirements-dev.txt" | sha256sum | cut -c1-12)
venv=$cache/venv-$key
if [ ! -x "$venv/bin/ansible-test" ] || [ ! -f "$venv/.complete" ]; then
  echo "venv: creating $venv (pip install, a few minutes on a cold cache)" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install --progress-bar off -r "$root/tests/requirements-dev.txt" >&2
  touch "$venv/.complete"
fi
echo "$venv"
