#!/usr/bin/env bash
# make lint: mypy on plugins/module_utils (tests/mypy.ini), then proof that the check can fail: code that
# calls a block store outside its interface, or a driver that lacks part of it, must be refused.
# Usage: hack/typecheck.sh <build dir holding ansible_collections/lifeboat/k8s>
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$1
venv=$("$root/hack/venv.sh" tests/venvs/typecheck.txt)
mypy() { (cd "$build" && MYPYPATH=$build "$venv/bin/mypy" --config-file "$root/tests/mypy.ini" "$@"); }

mypy -p ansible_collections.lifeboat.k8s.plugins.module_utils
"$venv/bin/pyflakes" "$root/plugins/module_utils"  # unused imports and undefined names

probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
cat >"$probe/misuse.py" <<'PY'
from typing import Type

from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.base import BlockStore, DriverBase
from ansible_collections.lifeboat.k8s.plugins.module_utils.blockstore.registry import BlockStores


def service(blocks: BlockStores) -> None:
    blocks.get("csi").snapshot_everything()  # not on the interface


class IncompleteDriver(DriverBase):
    name = "incomplete"

    def find_snapshot(self, name, namespace):
        return None


driver: Type[BlockStore] = IncompleteDriver  # lacks most of the interface
PY
if out=$(mypy "$probe/misuse.py" 2>&1); then
  echo "typecheck: a misuse of the BlockStore interface passed the type checker; the check is broken" >&2
  exit 1
fi
for expected in '"BlockStore" has no attribute "snapshot_everything"' 'type[IncompleteDriver]'; do
  grep -qF "$expected" <<<"$out" || { echo "typecheck: expected '$expected' in:" >&2; echo "$out" >&2; exit 1; }
done
echo "typecheck: module_utils clean; interface misuse refused as it should be"
