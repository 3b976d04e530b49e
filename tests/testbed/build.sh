#!/usr/bin/env bash
# Builds the test bed's pinned binaries once and caches them under
# ${LIFEBOAT_CACHE:-~/.cache/lifeboat}/testbed/<key>/bin. The key is a digest of
# everything that pins a version (go.mod/go.sum files, our own commands' source,
# this script), so changing a pin builds into a fresh directory.
# The node's container runtime comes from Debian's packages, downloaded with
# `apt-get download` and unpacked into <key>/node (never installed system-wide).
# Prints the bin directory on the last line of stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}
key=$(cd "$here" && { cat build.sh go/etcd/go.mod go/etcd/go.sum go/k8s/go.mod go/k8s/go.sum \
      go/k8s-dr/go.mod go/k8s-dr/go.sum; find go/k8s/cmd -type f | sort | xargs cat; } | sha256sum | cut -c1-16)
out=$cache/testbed/$key
bin=$out/bin
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false -trimpath" GOTOOLCHAIN=local
version_stamp() { # v1.X.Y: the -X flags hack/lib/version.sh sets
  local version=$1 minor stamp="" pkg
  minor=$(echo "$version" | cut -d. -f2)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp="$stamp -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    stamp="$stamp -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$stamp"
}
stamp=$(version_stamp v1.36.3)
# The second cluster's (`dr`) control plane, one minor newer (go/k8s-dr); its node keeps kubelet 1.36
# (a kubelet may be up to three minors older than its apiserver), so containerd 1.6 still serves it.
dr_stamp=$(version_stamp v1.37.2)

start=$SECONDS
build() { # name module-dir package [ldflags]
  local name=$1 dir=$2 pkg=$3 ldflags=${4:-}
  if [ -x "$bin/$name" ]; then return 0; fi
  local t0=$SECONDS
  echo "testbed build: $name ($pkg) ..." >&2
  ( cd "$here/go/$dir" && go build -p 2 -ldflags "-s -w $ldflags" -o "$bin/$name.tmp" "$pkg" ) \
    || { echo "testbed build: $name FAILED" >&2; exit 1; }
  mv "$bin/$name.tmp" "$bin/$name"
  echo "testbed build: $name done in $((SECONDS - t0))s (total $((SECONDS - start))s)" >&2
}
build etcd etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s k8s.io/kubernetes/cmd/kube-apiserver "$stamp"
build kube-controller-manager k8s k8s.io/kubernetes/cmd/kube-controller-manager "$stamp"
build csi-provisioner k8s github.com/kubernetes-csi/external-provisioner/v6/cmd/csi-provisioner
build snapshot-controller k8s github.com/kubernetes-csi/external-snapshotter/v8/cmd/snapshot-controller
build csi-snapshotter k8s github.com/kubernetes-csi/external-snapshotter/v8/cmd/csi-snapshotter
build hostpath-csi k8s ./cmd/hostpath-csi
build kube-scheduler k8s k8s.io/kubernetes/cmd/kube-scheduler "$stamp"
build kubelet k8s k8s.io/kubernetes/cmd/kubelet "$stamp"
build dr-kube-apiserver k8s-dr k8s.io/kubernetes/cmd/kube-apiserver "$dr_stamp"
build dr-kube-controller-manager k8s-dr k8s.io/kubernetes/cmd/kube-controller-manager "$dr_stamp"
build dr-kube-scheduler k8s-dr k8s.io/kubernetes/cmd/kube-scheduler "$dr_stamp"
build pause k8s ./cmd/pause
build cri-reset k8s ./cmd/cri-reset
build openstorage-emulator k8s ./cmd/openstorage-emulator
# containerd 1.6 + runc (kubelet 1.36 accepts containerd 1.x with a warning; 1.37 will not), the CNI
# plugins, and a static busybox for the bed's images. Debian's current versions; the unpacked tree is
# cached per key, and status.txt records what was unpacked.
node_packages=(containerd runc containernetworking-plugins busybox-static)
if [ ! -x "$out/node/usr/bin/containerd" ]; then
  echo "testbed build: Debian packages ${node_packages[*]} ..." >&2
  rm -rf "$out/node.tmp" "$out/debs" && mkdir -p "$out/node.tmp" "$out/debs"
  # _apt cannot write into root's cache; the files are checked against the signed index all the same.
  # Without a package index on the host, fetch one into the cache (the host's own index is left alone).
  apt_options=(-o APT::Sandbox::User=root)
  if ! ( cd "$out/debs" && apt-get download "${apt_options[@]}" "${node_packages[@]}" >&2 ); then
    echo "testbed build: no usable package index on the host; fetching one into the cache" >&2
    mkdir -p "$out/apt-lists/partial" "$out/apt-cache/archives/partial"
    apt_options+=(-o Dir::State::Lists="$out/apt-lists" -o Dir::Cache="$out/apt-cache")
    if ! apt-get update "${apt_options[@]}" >&2 \
        || ! ( cd "$out/debs" && apt-get download "${apt_options[@]}" "${node_packages[@]}" >&2 ); then
      echo "testbed build: apt-get download ${node_packages[*]} FAILED" >&2
      exit 1
    fi
  fi
  for deb in "$out"/debs/*.deb; do
    dpkg-deb -x "$deb" "$out/node.tmp"
    dpkg-deb -f "$deb" Package Version | paste -sd' ' >> "$out/node.tmp/status.txt"
  done
  rm -rf "$out/debs" "$out/apt-lists" "$out/apt-cache" && mv "$out/node.tmp" "$out/node"
  echo "testbed build: unpacked $(paste -sd, "$out/node/status.txt")" >&2
fi
# The VolumeSnapshot CRDs ship in the client module's config/crd/.
if [ ! -d "$out/crds" ]; then
  dir=$(cd "$here/go/k8s" && go list -m -f '{{.Dir}}' github.com/kubernetes-csi/external-snapshotter/client/v8)
  mkdir -p "$out/crds.tmp" && cp "$dir"/config/crd/snapshot.storage.k8s.io_volumesnapshot*.yaml "$out/crds.tmp/"
  chmod -R u+w "$out/crds.tmp" && mv "$out/crds.tmp" "$out/crds"
fi
echo "$out"
