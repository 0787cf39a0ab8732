#!/usr/bin/env bash
# Builds Prometheus and promtool from their pinned Go module (prometheus.env) and copies the Prometheus Operator's
# CRD manifests from its pinned module, for the local cluster's Prometheus service (hack/cluster/prometheus.ts) and
# the monitoring tests:
#   prometheus, promtool      go install github.com/prometheus/prometheus/cmd/...@$PROMETHEUS_VERSION
#                             (CGO off, no UI assets: the builtinassets tag is not set; only the kubernetes, file and
#                             http service discoveries: $PROMETHEUS_TAGS)
#   crds/*.yaml               github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION
#                             example/prometheus-operator-crd (prometheusrules, servicemonitors, ...)
# Output: $SCO_PROMETHEUS_BIN_DIR, by default ~/.cache/smartcloudops-operator/prometheus-<hash of prometheus.env, this
# script and the Go version>, so nothing is rebuilt until a pin changes. It is apart from build.sh's set: changing
# these pins does not rebuild the control plane. The last line printed on stdout is the output directory.
#   prometheus.sh           build unless up to date
#   prometheus.sh --check   exit 0 and print the directory when up to date, exit 3 otherwise (builds nothing)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=prometheus.env
source "$here/prometheus.env"
FILES=(prometheus promtool crds/monitoring.coreos.com_prometheusrules.yaml crds/monitoring.coreos.com_servicemonitors.yaml)

if ! command -v go >/dev/null; then
  echo "go is not on PATH: install Go >= 1.26 to build Prometheus" >&2
  exit 2
fi
export GOTOOLCHAIN=local
hash=$( { cat "$here/prometheus.env" "$here/prometheus.sh"; go env GOVERSION GOOS GOARCH; } | sha256sum | cut -c1-16)
cache_root=${SCO_CACHE_DIR:-$HOME/.cache/smartcloudops-operator}
out=${SCO_PROMETHEUS_BIN_DIR:-$cache_root/prometheus-$hash}

up_to_date() {
  [ -f "$out/.complete" ] || return 1
  for f in "${FILES[@]}"; do [ -e "$out/$f" ] || return 1; done
}
if up_to_date; then
  [ "${1:-}" = --check ] || echo "prometheus: up to date ($out)" >&2
  echo "$out"
  exit 0
fi
if [ "${1:-}" = --check ]; then
  echo "no complete Prometheus build at $out for the current pins (bash hack/kubebins/prometheus.sh builds it)" >&2
  exit 3
fi

mkdir -p "$cache_root"
log="$cache_root/build-prometheus-$hash.log"
: >"$log"
rm -rf "$out.partial"; mkdir -p "$out.partial/crds"
echo "prometheus: building Prometheus $PROMETHEUS_VERSION (tags $PROMETHEUS_TAGS), Prometheus Operator CRDs $PROMETHEUS_OPERATOR_VERSION into $out (log: $log)" >&2
start=$(date +%s)

# v0.316.0 is Prometheus 3.16.0: stamp that as its version (prometheus --version, the build_info metric).
mm=${PROMETHEUS_VERSION#v0.}; mm=${mm%%.*}
semver="${mm:0:1}.$((10#${mm:1})).${PROMETHEUS_VERSION##*.}"
PV=github.com/prometheus/common/version
LD="-s -w -X $PV.Version=$semver -X $PV.Revision=pinned -X $PV.Branch=$PROMETHEUS_VERSION -X $PV.BuildUser=smartcloudops"
LD="$LD -X $PV.BuildDate=20260101-00:00:00"
if ! (cd /tmp && env GOBIN="$out.partial" GOFLAGS= CGO_ENABLED=0 go install -trimpath -tags "$PROMETHEUS_TAGS" \
  -ldflags "$LD" "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION" \
  "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION") >>"$log" 2>&1; then
  echo "prometheus: building FAILED; last lines of $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
echo "prometheus: prometheus + promtool built in $(( $(date +%s) - start ))s" >&2

dir=$(cd /tmp && GOFLAGS= go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" |
  sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
if [ -z "$dir" ] || [ ! -d "$dir/example/prometheus-operator-crd" ]; then
  echo "prometheus: the Prometheus Operator module $PROMETHEUS_OPERATOR_VERSION has no example/prometheus-operator-crd" >&2
  exit 1
fi
install -m 0644 "$dir"/example/prometheus-operator-crd/*.yaml "$out.partial/crds/"

echo "built $(date -u +%FT%TZ) in $(( $(date +%s) - start ))s: prometheus $PROMETHEUS_VERSION ($semver) prometheus-operator CRDs $PROMETHEUS_OPERATOR_VERSION" >"$out.partial/.complete"
rm -rf "$out"; mv "$out.partial" "$out"
echo "prometheus: done in $(( $(date +%s) - start ))s" >&2
echo "$out"
