#!/usr/bin/env bash
# Builds what the bed's data mover image holds, once, into
# ${LIFEBOAT_CACHE:-~/.cache/lifeboat}/testbed/mover-<key>/root (key: a digest of this script):
# restic at a current release, built from its Go module (static, as restic's official image has it),
# at root/usr/bin/restic. The image adds the bed's busybox for the Job's shell (node.py).
# A cold build took 1 minute on 2 cores with Velero's modules already fetched.
# Prints the output directory on the last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}
version=v0.18.1
key=$(cd "$here" && sha256sum build-mover.sh | cut -c1-16)
out=$cache/testbed/mover-$key
if [ ! -x "$out/root/usr/bin/restic" ]; then
  t0=$SECONDS
  echo "testbed build: restic $version (github.com/restic/restic/cmd/restic) ..." >&2
  rm -rf "$out" && mkdir -p "$out/root.tmp/usr/bin"
  # `go install module@version` builds with restic's own go.mod and go.sum (its pinned dependencies).
  if ! CGO_ENABLED=0 GOFLAGS="-buildvcs=false -trimpath" GOTOOLCHAIN=local GOBIN="$out/root.tmp/usr/bin" \
      go install -ldflags "-s -w" "github.com/restic/restic/cmd/restic@$version" >&2; then
    echo "testbed build: restic $version FAILED" >&2
    exit 1
  fi
  echo "restic $version" > "$out/root.tmp/status.txt"
  mv "$out/root.tmp" "$out/root"
  echo "testbed build: restic $version done in $((SECONDS - t0))s" >&2
fi
echo "$out"
