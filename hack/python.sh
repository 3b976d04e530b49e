#!/usr/bin/env bash
# Prints the path of a Python interpreter of version X.Y: $LIFEBOAT_PYTHON_X_Y if set, else pythonX.Y on PATH
# (pyenv's shims included), else pyenv's newest X.Y.* install. Fails with what to do when there is none.
# Usage: hack/python.sh 3.13
set -euo pipefail
version=$1
override=LIFEBOAT_PYTHON_${version//./_}
if [ -n "${!override:-}" ]; then
  echo "${!override}"
  exit 0
fi
for candidate in "python$version" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/"python$version"; do
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if "$path" -c 'import sys; sys.exit(0)' 2>/dev/null; then
    echo "$path"
    exit 0
  fi
done
echo "python: Python $version is needed here and was not found: install it (pyenv install $version) or set" \
     "$override to its interpreter" >&2
exit 1
