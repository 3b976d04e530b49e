#!/usr/bin/env bash
# Builds Velero and its AWS object store plugin for the test bed's Velero peer, once, into
# ${LIFEBOAT_CACHE:-~/.cache/lifeboat}/testbed/velero-<key>/ (key: a digest of the wrapper
# modules and this script). A cold build took 4.5 minutes on 2 cores (13 on a loaded machine).
# Prints the output directory (bin/velero, plugins/velero-plugin-for-aws) on the last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}
key=$(cd "$here" && cat build-velero.sh go/velero/go.mod go/velero/go.sum go/velero-aws/go.mod \
      go/velero-aws/go.sum | sha256sum | cut -c1-16)
out=$cache/testbed/velero-$key
mkdir -p "$out/bin" "$out/plugins"
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false -trimpath" GOTOOLCHAIN=local
build() { # output module-dir package
  local output=$1 dir=$2 pkg=$3 t0=$SECONDS
  if [ -x "$output" ]; then return 0; fi
  echo "testbed build: $(basename "$output") ($pkg) ..." >&2
  ( cd "$here/go/$dir" && go build -p 2 -ldflags "-s -w" -o "$output.tmp" "$pkg" ) \
    || { echo "testbed build: $(basename "$output") FAILED" >&2; exit 1; }
  mv "$output.tmp" "$output"
  echo "testbed build: $(basename "$output") done in $((SECONDS - t0))s" >&2
}
build "$out/bin/velero" velero github.com/vmware-tanzu/velero/cmd/velero
build "$out/plugins/velero-plugin-for-aws" velero-aws \
  github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws
echo "$out"
