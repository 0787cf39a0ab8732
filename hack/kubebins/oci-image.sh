#!/usr/bin/env bash
# Writes a single-layer OCI image archive (an OCI image layout in a tar, as `ctr images import` and
# `buildah pull oci-archive:` read it) from a directory, without any container tooling: tar + sha256sum.
#   oci-image.sh REF ROOTFS_DIR OUT.tar ENTRYPOINT_JSON [CMD_JSON] [USER]
# e.g. oci-image.sh smartcloudops.local/pause:3.10.1 ./rootfs pause.oci.tar '["/pause"]' '' 65535:65535
# The archive is reproducible: files sorted, mtime 0, owner 0:0; the layer is stored uncompressed.
set -euo pipefail
ref=$1 rootfs=$2 out=$3 entrypoint=$4 cmd=${5:-} user=${6:-}
[ -n "$cmd" ] || cmd=null
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/blobs/sha256"

blob() { # file -> prints "digest size" and moves it into blobs/
  local d s; d=$(sha256sum "$1" | cut -d' ' -f1); s=$(stat -c %s "$1")
  mv "$1" "$work/blobs/sha256/$d"; echo "$d $s"
}
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix --pax-option=delete=atime,delete=ctime \
  -C "$rootfs" -cf "$work/layer.tar" .
read -r layer layer_size < <(blob "$work/layer.tar")
printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":%s,"Cmd":%s,"User":"%s","Env":["PATH=/"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"hack/kubebins/oci-image.sh"}]}' \
  "$entrypoint" "$cmd" "$user" "$layer" >"$work/config.json"
read -r config config_size < <(blob "$work/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
  "$config" "$config_size" "$layer" "$layer_size" >"$work/manifest.json"
read -r manifest manifest_size < <(blob "$work/manifest.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
  "$manifest" "$manifest_size" "$ref" "${ref##*:}" >"$work/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work" -cf "$out" oci-layout index.json blobs
echo "sha256:$manifest"
