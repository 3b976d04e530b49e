#!/usr/bin/env bash
# Builds what the bed's data mover image holds, once, into
# ${LIFEBOAT_CACHE:-~/.cache/lifeboat}/testbed/mover-<key>/root (key: a digest of this script), each tool at a
# current release from its Go module (static, as the tools' official images have them):
#   restic (root/usr/bin/restic): lifeboat's copies;
#   kopia (root/usr/bin/kopia): restores of what Velero's data mover copied (Velero builds its uploader from
#     kopia's code; the repository format is kopia's).
# The image adds the bed's busybox for the Job's shell (node.py).
# Cold, on 2 cores with Velero's modules already fetched: restic about 1 minute, kopia about 1.5.
# Prints the output directory on the last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}
restic_version=v0.18.1
kopia_version=v0.22.3
key=$(cd "$here" && sha256sum build-mover.sh | cut -c1-16)
out=$cache/testbed/mover-$key
build_env=(CGO_ENABLED=0 "GOFLAGS=-buildvcs=false -trimpath" GOTOOLCHAIN=local)
if [ ! -x "$out/root/usr/bin/restic" ] || [ ! -x "$out/root/usr/bin/kopia" ]; then
  t0=$SECONDS
  rm -rf "$out" && mkdir -p "$out/root.tmp/usr/bin"
  echo "testbed build: restic $restic_version (github.com/restic/restic/cmd/restic) ..." >&2
  # `go install module@version` builds with restic's own go.mod and go.sum (its pinned dependencies).
  if ! env "${build_env[@]}" GOBIN="$out/root.tmp/usr/bin" \
      go install -ldflags "-s -w" "github.com/restic/restic/cmd/restic@$restic_version" >&2; then
    echo "testbed build: restic $restic_version FAILED" >&2
    exit 1
  fi
  echo "testbed build: kopia $kopia_version (github.com/kopia/kopia) ..." >&2
  # The module proxy here refuses kopia's version list, which `go install module@version` reads (for
  # deprecations): the module is fetched by its exact version instead and built in its own directory, with its
  # own go.mod and go.sum.
  if ! dir=$(go mod download -json "github.com/kopia/kopia@$kopia_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') \
      || [ -z "$dir" ] || ! (cd "$dir" && env "${build_env[@]}" GOFLAGS="-buildvcs=false -trimpath -mod=readonly" \
        go build -ldflags "-s -w" -o "$out/root.tmp/usr/bin/kopia" .) >&2; then
    echo "testbed build: kopia $kopia_version FAILED" >&2
    exit 1
  fi
  printf 'restic %s\nkopia %s\n' "$restic_version" "$kopia_version" > "$out/root.tmp/status.txt"
  mv "$out/root.tmp" "$out/root"
  echo "testbed build: restic $restic_version and kopia $kopia_version done in $((SECONDS - t0))s" >&2
fi
echo "$out"
