#!/usr/bin/env bash
# Runs ansible-test integration in the collection tree against the running test bed.
# usage: hack/integration.sh COLLECTION_DIR [TARGET...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
collection=$1; shift
eval "$("$root/tests/testbed/testbed" env)"
"$root/hack/integration-config.sh" > "$collection/tests/integration/integration_config.yml"
cd "$collection"
exec ansible-test integration --python 3.11 --color no "$@"
