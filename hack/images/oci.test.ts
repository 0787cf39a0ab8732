import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addVariant, blobPath, selectImage, withEnv } from './oci.js';

let layout: string;
const put = (content: string) => {
  const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
  writeFileSync(join(layout, blobPath(digest)), content);
  return { digest, size: Buffer.byteLength(content) };
};
const read = <T>(digest: string): T => JSON.parse(readFileSync(join(layout, blobPath(digest)), 'utf8')) as T;

beforeEach(() => {
  layout = mkdtempSync(join(tmpdir(), 'oci-'));
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const layer = put('layer-bytes');
  const config = put(JSON.stringify({ config: { Env: ['PATH=/usr/local/bin', 'A=1'], User: '65532' }, rootfs: {} }));
  const manifest = put(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
    }),
  );
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': 'localhost/app:base' },
        },
      ],
    }),
  );
});
afterEach(() => rmSync(layout, { recursive: true, force: true }));

describe('OCI layout edits', () => {
  test('withEnv replaces a key or appends it', () => {
    expect(withEnv(['A=1', 'B=2'], ['B=3', 'C=4'])).toEqual(['A=1', 'B=3', 'C=4']);
  });

  test('a variant shares the layers and differs only in Env; the original is untouched', () => {
    const d = addVariant(layout, 'localhost/app:base', 'localhost/app:1.1.0-crash', ['STANDIN_VERSION=1.1.0-crash']);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations: Record<string, string> }[];
    };
    expect(index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name'])).toEqual([
      'localhost/app:base',
      'localhost/app:1.1.0-crash',
    ]);
    type M = { config: { digest: string }; layers: { digest: string }[] };
    const base = read<M>(index.manifests[0]!.digest);
    const variant = read<M>(d.digest);
    expect(variant.layers).toEqual(base.layers);
    expect(read<{ config: { Env: string[]; User: string } }>(variant.config.digest).config).toEqual({
      Env: ['PATH=/usr/local/bin', 'A=1', 'STANDIN_VERSION=1.1.0-crash'],
      User: '65532',
    });
    expect(read<{ config: { Env: string[] } }>(base.config.digest).config.Env).toEqual(['PATH=/usr/local/bin', 'A=1']);
    // digests are the sha256 of the stored bytes
    const bytes = readFileSync(join(layout, blobPath(d.digest)));
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(d.digest);
    expect(d.size).toBe(bytes.length);
  });

  test('select: one manifest named for containerd and OCI tools, only its blobs', () => {
    const d = addVariant(layout, 'localhost/app:base', 'localhost/app:1.0.0', ['STANDIN_VERSION=1.0.0']);
    const { index, files } = selectImage(layout, 'localhost/app:1.0.0');
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]?.digest).toBe(d.digest);
    expect(index.manifests[0]?.annotations).toEqual({
      'io.containerd.image.name': 'localhost/app:1.0.0',
      'org.opencontainers.image.ref.name': 'localhost/app:1.0.0',
    });
    const m = read<{ config: { digest: string }; layers: { digest: string }[] }>(d.digest);
    expect(files).toEqual(['oci-layout', blobPath(d.digest), blobPath(m.config.digest), blobPath(m.layers[0]!.digest)]);
    expect(() => selectImage(layout, 'localhost/app:nope')).toThrow(/localhost\/app:nope is not in/);
  });
});
