#!/usr/bin/env bash
# Ensures a virtualenv exists and prints its path: the project's (tests/requirements-dev.txt) or, given a
# requirement file such as tests/venvs/core-2.16.txt, one of its own. Venvs live in the cache, keyed by the
# requirement files (with constraints.txt when they use it, and the Python version when it is not 3.11), so
# fresh clones reuse them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}
# The interpreter: LIFEBOAT_PYTHON, else Python 3.11 (pyenv's too), else python3. A venv of another version
# than 3.11 is kept apart (its name ends in -pyX.Y).
python=${LIFEBOAT_PYTHON:-${PYTHON:-}}
if [ -z "$python" ]; then
  python=$("$root/hack/python.sh" 3.11 2>/dev/null || command -v python3)
fi
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || {
  echo "venv: LIFEBOAT_PYTHON=$python is not a Python interpreter" >&2; exit 1; }
suffix=""
if [ "$version" != 3.11 ]; then suffix=-py$version; fi
requirements=${1:-$root/tests/requirements-dev.txt}
case $requirements in /*) ;; *) requirements=$root/$requirements ;; esac
if [ "$requirements" = "$root/tests/requirements-dev.txt" ]; then
  key=$(cat "$root/requirements.txt" "$root/constraints.txt" "$requirements" | sha256sum | cut -c1-12)
  venv=$cache/venv-$key$suffix
elif grep -q "constraints.txt" "$requirements"; then
  key=$(cat "$root/constraints.txt" "$requirements" | sha256sum | cut -c1-12)
  venv=$cache/venv-$(basename "$requirements" .txt)-$key$suffix
else
  key=$(sha256sum <"$requirements" | cut -c1-12)
  venv=$cache/venv-$(basename "$requirements" .txt)-$key$suffix
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
