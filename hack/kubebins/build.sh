#!/usr/bin/env bash
# Builds the local test cluster's binaries from pinned Go modules (pins.env):
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl   this module (go.mod, go.sum)
#   kwok, versitygw (S3), helm (renders the chart in tests)                  their own module graphs
# Output: $SCO_BIN_DIR, by default ~/.cache/smartcloudops-operator/bin-<hash of go.mod, go.sum, pins.env, Go version>,
# so a build happens only when a pin changes. The last line printed on stdout is the output directory.
#   build.sh           build unless up to date
#   build.sh --check   exit 0 and print the directory when up to date, exit 3 otherwise (builds nothing)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=pins.env
source "$here/pins.env"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok versitygw helm)

if ! command -v go >/dev/null; then
  echo "go is not on PATH: install Go >= 1.25 to build the local cluster" >&2
  exit 2
fi
export GOTOOLCHAIN=local
hash=$( { cat "$here/go.mod" "$here/go.sum" "$here/pins.env"; go env GOVERSION GOOS GOARCH; } | sha256sum | cut -c1-16)
cache_root=${SCO_CACHE_DIR:-$HOME/.cache/smartcloudops-operator}
out=${SCO_BIN_DIR:-$cache_root/bin-$hash}

up_to_date() {
  [ -f "$out/.complete" ] || return 1
  for b in "${BINARIES[@]}"; do [ -x "$out/$b" ] || return 1; done
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
echo "kubebins: building Kubernetes $KUBE_VERSION, kwok $KWOK_VERSION, versitygw $VERSITYGW_VERSION into $out (log: $log)" >&2
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

step "kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $KUBE_VERSION" "$here" \
  go build -trimpath -buildvcs=false -pgo=off -ldflags "$LD" -o "$out.partial/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
step "etcd (the version kubernetes $KUBE_VERSION pins)" "$here" \
  go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$out.partial/etcd" go.etcd.io/etcd/server/v3
# kwok and versitygw have go.mods without replace directives: go install resolves their own pinned graphs.
step "kwok $KWOK_VERSION" /tmp env GOBIN="$out.partial" GOFLAGS= \
  go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
step "versitygw $VERSITYGW_VERSION" /tmp env GOBIN="$out.partial" GOFLAGS= \
  go install -trimpath -ldflags "-s -w" "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
step "helm $HELM_VERSION" /tmp env GOBIN="$out.partial" GOFLAGS= \
  go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"

echo "built $(date -u +%FT%TZ) in $(( $(date +%s) - start ))s: kubernetes $KUBE_VERSION kwok $KWOK_VERSION versitygw $VERSITYGW_VERSION helm $HELM_VERSION" >"$out.partial/.complete"
rm -rf "$out"; mv "$out.partial" "$out"
echo "kubebins: done in $(( $(date +%s) - start ))s" >&2
echo "$out"
