#!/usr/bin/env bash
# Installs what a clean machine lacks for the demo and the tests, then builds the local cluster's binaries:
#   Debian packages: postgresql-15, redis-server, openssl, lua5.4 (the Argo CD health check test); for the real node
#                    iptables, iproute2, runc, containernetworking-plugins, and gcc + libc6-dev (the static pause
#                    binary); root or sudo
#   npm ci           (skipped when node_modules matches package-lock.json)
#   hack/kubebins/build.sh  (skipped when the binaries for the current pins exist)
#   hack/kubebins/prometheus.sh  (Prometheus, promtool, Prometheus Operator CRDs; skipped when built for the pins)
#   hack/kubebins/certmanager/build.sh  (cert-manager from its Go module; skipped when built)
#   hack/images/build.sh    (skipped when the images for the current sources exist)
# Needs: Node.js >= 20.19 with npm, Go >= 1.25, Debian/Ubuntu apt. Safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "setup: $*" >&2; }
fail() { echo "setup: ERROR: $*" >&2; exit 1; }

command -v node >/dev/null || fail "Node.js is not installed (need >= 20.19)"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || fail "Node.js $(node --version) is too old (need >= 20.19: @kubernetes/client-node is ESM-only)"
command -v go >/dev/null || fail "Go is not installed (need >= 1.25 to build the local control plane)"
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
[ "${go_minor:-0}" -ge 25 ] || fail "Go $(go env GOVERSION) is too old (need >= 1.25)"

missing=()
for pkg in postgresql-15 redis-server openssl ca-certificates lua5.4 \
  iptables iproute2 runc containernetworking-plugins gcc libc6-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
    fail "need root (or sudo) to install: ${missing[*]}"
  fi
  say "installing Debian packages: ${missing[*]}"
  t0=$(date +%s)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  say "packages installed in $(( $(date +%s) - t0 ))s"
fi

lock_hash=$(sha256sum package-lock.json | cut -c1-16)
if [ "$(cat node_modules/.sco-lock-hash 2>/dev/null)" != "$lock_hash" ]; then
  say "npm ci"
  t0=$(date +%s)
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.sco-lock-hash
  say "npm ci done in $(( $(date +%s) - t0 ))s"
fi

bash hack/kubebins/build.sh >/dev/null
bash hack/kubebins/prometheus.sh >/dev/null # Prometheus + promtool + the Prometheus Operator CRDs (monitoring group)
bash hack/kubebins/certmanager/build.sh >/dev/null # cert-manager's controller + CRDs (hack/cluster/certmanager.ts)
bash hack/images/build.sh >/dev/null # base, operator and stand-in images for the real node (needs root)
say "ready"
