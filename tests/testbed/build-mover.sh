#!/usr/bin/env bash
# Fetches what the bed's data mover image holds, once, into
# ${LIFEBOAT_CACHE:-~/.cache/lifeboat}/testbed/mover-<key>/root (key: a digest of this script):
# Debian's restic (0.14, dynamically linked) and the glibc it links against, both with
# `apt-get download` and unpacked, never installed. Prints the output directory on the last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}
key=$(cd "$here" && sha256sum build-mover.sh | cut -c1-16)
out=$cache/testbed/mover-$key
packages=(restic libc6)
if [ ! -x "$out/root/usr/bin/restic" ]; then
  echo "testbed build: Debian packages ${packages[*]} for the data mover image ..." >&2
  rm -rf "$out" && mkdir -p "$out/root.tmp" "$out/debs"
  apt_options=(-o APT::Sandbox::User=root)
  if ! ( cd "$out/debs" && apt-get download "${apt_options[@]}" "${packages[@]}" >&2 ); then
    echo "testbed build: no usable package index on the host; fetching one into the cache" >&2
    mkdir -p "$out/apt-lists/partial" "$out/apt-cache/archives/partial"
    apt_options+=(-o Dir::State::Lists="$out/apt-lists" -o Dir::Cache="$out/apt-cache")
    if ! apt-get update "${apt_options[@]}" >&2 \
        || ! ( cd "$out/debs" && apt-get download "${apt_options[@]}" "${packages[@]}" >&2 ); then
      echo "testbed build: apt-get download ${packages[*]} FAILED" >&2
      exit 1
    fi
  fi
  for deb in "$out"/debs/*.deb; do
    dpkg-deb -x "$deb" "$out/root.tmp"
    dpkg-deb -f "$deb" Package Version | paste -sd' ' >> "$out/root.tmp/status.txt"
  done
  rm -rf "$out/debs" "$out/apt-lists" "$out/apt-cache" && mv "$out/root.tmp" "$out/root"
  echo "testbed build: unpacked $(paste -sd, "$out/root/status.txt")" >&2
fi
echo "$out"
