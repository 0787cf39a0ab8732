// OCI image layouts (https://github.com/opencontainers/image-spec/blob/main/image-layout.md) edited directly:
//   variant   a new image in the layout that differs from another only in its config's Env (same layers), so one
//             push gives every tag of the stand-in
//   select    the index and blob list of a single-image archive for one ref, its manifest named for containerd
//             (io.containerd.image.name) and for OCI tools (org.opencontainers.image.ref.name)
//   tsx hack/images/oci.ts variant <layout> <from ref> <new ref> KEY=VALUE...
//   tsx hack/images/oci.ts select <layout> <ref> <out prefix>   writes <prefix>.index.json and <prefix>.files
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Record<string, string>;
}
interface Index {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}
interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}
interface ImageConfig {
  config?: { Env?: string[] } & Record<string, unknown>;
  [k: string]: unknown;
}

const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';

export const blobPath = (digest: string): string => `blobs/sha256/${digest.replace(/^sha256:/, '')}`;

function readJson<T>(layout: string, path: string): T {
  return JSON.parse(readFileSync(join(layout, path), 'utf8')) as T;
}

function writeBlob(layout: string, content: string): { digest: string; size: number } {
  const buf = Buffer.from(content);
  const digest = `sha256:${createHash('sha256').update(buf).digest('hex')}`;
  writeFileSync(join(layout, blobPath(digest)), buf);
  return { digest, size: buf.length };
}

function findRef(index: Index, ref: string): Descriptor {
  const d = index.manifests.find((m) => m.annotations?.[REF_NAME] === ref || m.annotations?.[CONTAINERD_NAME] === ref);
  if (!d) throw new Error(`${ref} is not in the layout's index.json`);
  return d;
}

/** Env with `set` applied: a KEY=VALUE replaces the entry for KEY or is appended. */
export function withEnv(env: string[], set: string[]): string[] {
  const out = [...env];
  for (const kv of set) {
    const key = kv.slice(0, kv.indexOf('='));
    const i = out.findIndex((e) => e.startsWith(`${key}=`));
    if (i >= 0) out[i] = kv;
    else out.push(kv);
  }
  return out;
}

/** Adds `newRef` to the layout: `fromRef`'s manifest and layers with a config whose Env has `env` set. */
export function addVariant(layout: string, fromRef: string, newRef: string, env: string[]): Descriptor {
  const index = readJson<Index>(layout, 'index.json');
  const from = findRef(index, fromRef);
  const manifest = readJson<Manifest>(layout, blobPath(from.digest));
  const config = readJson<ImageConfig>(layout, blobPath(manifest.config.digest));
  const next: ImageConfig = { ...config, config: { ...config.config, Env: withEnv(config.config?.Env ?? [], env) } };
  const c = writeBlob(layout, JSON.stringify(next));
  const m = writeBlob(layout, JSON.stringify({ ...manifest, config: { ...manifest.config, ...c } }));
  const desc: Descriptor = { ...from, ...m, annotations: { [REF_NAME]: newRef } };
  index.manifests = [...index.manifests.filter((x) => x.annotations?.[REF_NAME] !== newRef), desc];
  writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
  return desc;
}

/** The index.json and the blob paths of a single-image archive holding `ref`. */
export function selectImage(layout: string, ref: string): { index: Index; files: string[] } {
  const d = findRef(readJson<Index>(layout, 'index.json'), ref);
  const manifest = readJson<Manifest>(layout, blobPath(d.digest));
  const one: Descriptor = { ...d, annotations: { [CONTAINERD_NAME]: ref, [REF_NAME]: ref } };
  const files = [...new Set([d, manifest.config, ...manifest.layers].map((x) => blobPath(x.digest)))];
  return { index: { schemaVersion: 2, manifests: [one] }, files: ['oci-layout', ...files] };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [cmd, layout, a, b, ...rest] = process.argv.slice(2);
  if (cmd === 'variant' && layout && a && b) {
    addVariant(layout, a, b, rest);
  } else if (cmd === 'select' && layout && a && b) {
    const { index, files } = selectImage(layout, a);
    writeFileSync(`${b}.index.json`, JSON.stringify(index));
    writeFileSync(`${b}.files`, `${files.join('\n')}\n`);
  } else {
    console.error('usage: oci.ts variant <layout> <from ref> <new ref> KEY=VALUE... | select <layout> <ref> <prefix>');
    process.exit(2);
  }
}
