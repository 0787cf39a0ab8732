#!/usr/bin/env bash
# Builds the local test cluster's binaries from pinned Go modules (pins.env):
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
#   kubelet, kube-proxy (the real node)                                      this module (go.mod, go.sum)
#   kwok, versitygw (S3), helm (renders the chart in tests),
#   containerd + ctr + containerd-shim-runc-v2, coredns, metrics-server     their own module graphs
# and the real node's two images, as OCI archives (oci-image.sh), listed in images.json:
#   pause.oci.tar    Kubernetes' build/pause/linux/pause.c from the k8s.io/kubernetes module, gcc -Os -static
#   testbin.oci.tar  testbin/ (static Go): the node e2e tests' workload (sleep, exit N, serve, get, resolve, kube)
# runc and the CNI plugins come from Debian packages (hack/setup.sh installs them).
# Output: $SCO_BIN_DIR, by default ~/.cache/smartcloudops-operator/bin-<hash of go.mod, go.sum, pins.env, testbin,
# oci-image.sh, Go and gcc versions>, so a build happens only when a pin changes. The last line printed on stdout is
# the output directory.
#   build.sh           build unless up to date
#   build.sh --check   exit 0 and print the directory when up to date, exit 3 otherwise (builds nothing)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=pins.env
source "$here/pins.env"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok versitygw helm
  kubelet kube-proxy containerd ctr containerd-shim-runc-v2 coredns metrics-server pause.oci.tar testbin.oci.tar images.json)

if ! command -v go >/dev/null; then
  echo "go is not on PATH: install Go >= 1.25 to build the local cluster" >&2
  exit 2
fi
export GOTOOLCHAIN=local
# runc and the CNI plugins come from Debian's packages (hack/setup.sh installs them): their exact versions are part
# of the hash and the binaries are copied into the output directory, so the node runs what was recorded there.
host_packages() { dpkg-query -W -f='${Package}=${Version}\n' runc containernetworking-plugins 2>/dev/null || true; }
hash=$( { cat "$here/go.mod" "$here/go.sum" "$here/pins.env" "$here/testbin/main.go" "$here/oci-image.sh"
  go env GOVERSION GOOS GOARCH; gcc -dumpversion 2>/dev/null || true; host_packages; } | sha256sum | cut -c1-16)
cache_root=${SCO_CACHE_DIR:-$HOME/.cache/smartcloudops-operator}
out=${SCO_BIN_DIR:-$cache_root/bin-$hash}

up_to_date() {
  [ -f "$out/.complete" ] || return 1
  for b in "${BINARIES[@]}"; do [ -e "$out/$b" ] || return 1; done
}
if up_to_date; then
  [ "${1:-}" = --check ] || echo "kubebins: up to date ($out)" >&2
  echo "$out"
  exit 0
fi
if [ "${1:-}" = --check ]; then
  echo "no complete binary set at $out for the current pins" >&2
  exit 3
fi

mkdir -p "$cache_root"
log="$cache_root/build-$hash.log"
: >"$log"
rm -rf "$out.partial"; mkdir -p "$out.partial"
if ! command -v gcc >/dev/null || [ ! -f /usr/lib/x86_64-linux-gnu/libc.a ] && [ ! -f /usr/lib/libc.a ]; then
  echo "gcc and a static libc are needed for the pause image: apt-get install gcc libc6-dev (hack/setup.sh does)" >&2
  exit 2
fi
echo "kubebins: building Kubernetes $KUBE_VERSION, kwok $KWOK_VERSION, versitygw $VERSITYGW_VERSION, containerd $CONTAINERD_VERSION, coredns $COREDNS_VERSION, metrics-server $METRICS_SERVER_VERSION into $out (log: $log)" >&2
start=$(date +%s)

export CGO_ENABLED=0
minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
V=k8s.io/component-base/version
LD="-s -w -X $V.gitVersion=$KUBE_VERSION -X $V.gitMajor=1 -X $V.gitMinor=$minor -X $V.gitTreeState=clean"
LD="$LD -X $V.gitCommit=0000000000000000000000000000000000000000 -X $V.buildDate=2026-01-01T00:00:00Z"
LD="$LD -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1"
LD="$LD -X k8s.io/client-go/pkg/version.gitMinor=$minor"

step() { # label, dir, command...
  local label=$1 dir=$2; shift 2
  local t0; t0=$(date +%s)
  echo "== $label: $*" >>"$log"
  if ! (cd "$dir" && "$@") >>"$log" 2>&1; then
    echo "kubebins: building $label FAILED; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
  echo "kubebins: $label built in $(( $(date +%s) - t0 ))s" >&2
}

step "kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet, kube-proxy $KUBE_VERSION" "$here" \
  go build -trimpath -buildvcs=false -pgo=off -ldflags "$LD" -o "$out.partial/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
step "etcd (the version kubernetes $KUBE_VERSION pins)" "$here" \
  go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$out.partial/etcd" go.etcd.io/etcd/server/v3
# kwok and versitygw have go.mods without replace directives: go install resolves their own pinned graphs.
step "kwok $KWOK_VERSION" /tmp env GOBIN="$out.partial" GOFLAGS= \
  go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
step "versitygw $VERSITYGW_VERSION" /tmp env GOBIN="$out.partial" GOFLAGS= \
  go install -trimpath -ldflags "-s -w" "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
step "helm $HELM_VERSION" /tmp env GOBIN="$out.partial" GOFLAGS= \
  go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"

CV=github.com/containerd/containerd/v2/version
step "containerd, ctr, containerd-shim-runc-v2 $CONTAINERD_VERSION" /tmp env GOBIN="$out.partial" GOFLAGS= \
  go install -trimpath -ldflags "-s -w -X $CV.Version=$CONTAINERD_VERSION -X $CV.Revision=pinned" \
    "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION"
step "coredns $COREDNS_VERSION" /tmp env GOBIN="$out.partial" GOFLAGS= \
  go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
step "metrics-server $METRICS_SERVER_VERSION" /tmp env GOBIN="$out.partial" GOFLAGS= \
  go install -trimpath -ldflags "-s -w" "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION"

# The node's images. pause.c comes from the k8s.io/kubernetes module this go.mod pins (already downloaded above).
images() {
  local kdir pause_tag work
  kdir=$(go list -m -f '{{.Dir}}' k8s.io/kubernetes)
  pause_tag=$(sed -n 's/^TAG ?= //p' "$kdir/build/pause/Makefile")
  work=$(mktemp -d); trap 'rm -rf "$work"' RETURN
  mkdir -p "$work/pause" "$work/testbin"
  gcc -Os -Wall -Werror -static -DVERSION="v$pause_tag-$KUBE_VERSION" -o "$work/pause/pause" "$kdir/build/pause/linux/pause.c"
  strip "$work/pause/pause"
  CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$work/testbin/testbin" ./testbin
  local pause_ref="smartcloudops.local/pause:$pause_tag" testbin_ref="smartcloudops.local/testbin:$hash"
  bash "$here/oci-image.sh" "$pause_ref" "$work/pause" "$out.partial/pause.oci.tar" '["/pause"]' '' 65535:65535
  bash "$here/oci-image.sh" "$testbin_ref" "$work/testbin" "$out.partial/testbin.oci.tar" '["/testbin"]' '["sleep"]' 65534:65534
  printf '[\n  {"ref": "%s", "archive": "pause.oci.tar"},\n  {"ref": "%s", "archive": "testbin.oci.tar"}\n]\n' \
    "$pause_ref" "$testbin_ref" >"$out.partial/images.json"
}
step "images: pause (pause.c, gcc -static), testbin (static Go)" "$here" images

host_binaries() {
  local runc=${SCO_RUNC:-/usr/sbin/runc} cni=${SCO_CNI_BIN_DIR:-/usr/lib/cni} p
  [ -x "$runc" ] || { echo "runc is not installed at $runc: apt-get install runc (hack/setup.sh does)"; return 1; }
  install -m 0755 "$runc" "$out.partial/runc"
  mkdir -p "$out.partial/cni"
  for p in bridge host-local loopback portmap; do
    [ -x "$cni/$p" ] || { echo "the CNI plugin $p is missing from $cni: apt-get install containernetworking-plugins"; return 1; }
    install -m 0755 "$cni/$p" "$out.partial/cni/$p"
  done
  host_packages >"$out.partial/host-packages.txt"
}
step "runc and CNI plugins (Debian: $(host_packages | tr '\n' ' '))" "$here" host_binaries

echo "built $(date -u +%FT%TZ) in $(( $(date +%s) - start ))s: kubernetes $KUBE_VERSION kwok $KWOK_VERSION versitygw $VERSITYGW_VERSION helm $HELM_VERSION containerd $CONTAINERD_VERSION coredns $COREDNS_VERSION metrics-server $METRICS_SERVER_VERSION" >"$out.partial/.complete"
rm -rf "$out"; mv "$out.partial" "$out"
echo "kubebins: done in $(( $(date +%s) - start ))s" >&2
echo "$out"
