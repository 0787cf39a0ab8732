#!/usr/bin/env bash
# Builds cert-manager's controller from its Go module (this directory: the upstream cmd/controller main package and
# its app/ at CERT_MANAGER_VERSION, under their own module path so that they may import cert-manager's internal
# packages, as upstream's controller-binary module does) and copies cert-manager's CRDs (deploy/crds of the same
# module version; v1 only, no conversion webhook) next to it.
# The Go module proxy does not serve github.com/Venafi/vcert/v5: vcert-stub/ stands in for it (compile-only), so
# this build has no working Venafi issuer; SelfSigned, CA, ACME and Vault are cert-manager's own code.
# Output: $SCO_CERT_MANAGER_DIR, by default ~/.cache/smartcloudops-operator/cert-manager-<hash of this directory's
# inputs and the Go version>: cert-manager-controller, crds.yaml, .complete. The last line on stdout is the directory.
#   build.sh           build unless up to date
#   build.sh --check   exit 0 and print the directory when up to date, exit 3 otherwise (builds nothing)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CERT_MANAGER_VERSION=$(sed -n 's/^\tgithub.com\/cert-manager\/cert-manager \(v[0-9.]*\)$/\1/p' "$here/go.mod")
[ -n "$CERT_MANAGER_VERSION" ] || { echo "cert-manager: no github.com/cert-manager/cert-manager version in go.mod" >&2; exit 2; }
command -v go >/dev/null || { echo "go is not on PATH: install Go >= 1.26 to build cert-manager" >&2; exit 2; }
export GOTOOLCHAIN=local
hash=$( { cd "$here" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum -o -name build.sh \) | LC_ALL=C sort | xargs sha256sum
  go env GOVERSION GOOS GOARCH; } | sha256sum | cut -c1-16)
cache_root=${SCO_CACHE_DIR:-$HOME/.cache/smartcloudops-operator}
out=${SCO_CERT_MANAGER_DIR:-$cache_root/cert-manager-$hash}

if [ -f "$out/.complete" ] && [ -x "$out/cert-manager-controller" ] && [ -s "$out/crds.yaml" ]; then
  [ "${1:-}" = --check ] || echo "cert-manager: up to date ($out)" >&2
  echo "$out"
  exit 0
fi
if [ "${1:-}" = --check ]; then
  echo "no cert-manager build at $out" >&2
  exit 3
fi

mkdir -p "$cache_root"
log="$cache_root/build-cert-manager-$hash.log"
rm -rf "$out.partial"; mkdir -p "$out.partial"
echo "cert-manager: building $CERT_MANAGER_VERSION into $out (log: $log)" >&2
start=$(date +%s)
if ! (cd "$here" && CGO_ENABLED=0 go build -trimpath -buildvcs=false \
  -ldflags "-s -w -X github.com/cert-manager/cert-manager/pkg/util.AppVersion=$CERT_MANAGER_VERSION -X github.com/cert-manager/cert-manager/pkg/util.AppGitCommit=pinned" \
  -o "$out.partial/cert-manager-controller" .) >"$log" 2>&1; then
  echo "cert-manager: build FAILED; last lines of $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
moddir=$(cd "$here" && go list -m -f '{{.Dir}}' github.com/cert-manager/cert-manager)
for f in "$moddir"/deploy/crds/*.yaml; do
  if grep -q '^  conversion:' "$f"; then echo "cert-manager: $f has a conversion webhook" >&2; exit 1; fi
  cat "$f"
done >"$out.partial/crds.yaml"
echo "built $(date -u +%FT%TZ) in $(( $(date +%s) - start ))s: cert-manager $CERT_MANAGER_VERSION" >"$out.partial/.complete"
rm -rf "$out"; mv "$out.partial" "$out"
echo "cert-manager: done in $(( $(date +%s) - start ))s" >&2
echo "$out"
