#!/usr/bin/env bash
# Imports this checkout's images (hack/images/build.sh --check → images.json) into the containerd of a real node
# that is already running, e.g. one started by another checkout: `bash hack/images/load.sh /path/.cluster`.
# The node's own start-up imports them the same way (hack/cluster/node.ts importImages); this is for a node that
# was started before the images changed. Idempotent: an image whose digest is present is skipped by containerd.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="${1:?usage: load.sh <cluster state dir, e.g. /work/main/.cluster>}"
sock="$state/node/containerd/containerd.sock"
[ -S "$sock" ] || { echo "load.sh: no containerd socket at $sock (is the real node up?)" >&2; exit 2; }
dir="$(bash "$here/build.sh" --check | tail -1)"
ctr="$(node -e "console.log(require(process.argv[1]).binDir)" "$state/state.json")/ctr"
[ -x "$ctr" ] || { echo "load.sh: no ctr binary in ~/.cache/smartcloudops-operator/bin-*" >&2; exit 2; }
node -e 'for (const i of JSON.parse(require("fs").readFileSync(process.argv[1]+"/images.json","utf8"))) console.log(i.ref+" "+(i.archive.startsWith("/")?i.archive:process.argv[1]+"/"+i.archive))' "$dir" |
  while read -r ref archive; do
    "$ctr" --address "$sock" -n k8s.io images import --digests "$archive" >/dev/null
    digest="$(tar -xOf "$archive" index.json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).manifests[0].digest))')"
    imported="$("$ctr" --address "$sock" -n k8s.io images ls | awk -v d="$digest" '$3==d {print $1; exit}')"
    [ "$imported" = "$ref" ] || "$ctr" --address "$sock" -n k8s.io images tag --force "$imported" "$ref" >/dev/null
    echo "loaded $ref"
  done
