#!/usr/bin/env bash
# Runs ansible-test integration in the collection tree against the running test bed, with the suite's venv
# (hack/suite-venv.sh: ansible-core 2.21 on Python 3.13) first on PATH.
# usage: hack/integration.sh COLLECTION_DIR [TARGET...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
collection=$1; shift
suite=$("$root/hack/suite-venv.sh")
python=$("$suite/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
eval "$("$root/tests/testbed/testbed" env)"
export PATH=$suite/bin:$PATH
"$root/hack/integration-config.sh" > "$collection/tests/integration/integration_config.yml"
cd "$collection"
exec ansible-test integration --python "$python" --color no "$@"
