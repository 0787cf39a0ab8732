// The backup agent against the real PostgreSQL 15 and S3 server: backup → restore round trips in both formats
// reproduce every table's row count and content checksum; verify re-checks objects; damaged objects and non-empty
// targets are refused with specific reasons, and a failed restore commits nothing.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { s3Env } from '../support/env.js';
import {
  admin,
  agent,
  agentEnv,
  createDatabase,
  dropDatabase,
  listKeys,
  rand,
  s3Client,
  seed,
  snapshot,
  type TableState,
} from '../support/agent.js';

/** A manifest without its parts list (the form written before parts existed), so its top-level fields can be edited. */
function legacy(body: Buffer): Record<string, unknown> {
  const { parts: _parts, ...rest } = JSON.parse(body.toString()) as Record<string, unknown>;
  return rest;
}

const id = rand();
const source = `agent_src_${id}`;
const prefix = `it-agent/${id}`;
const targets: string[] = [];
let before: Record<string, TableState>;

async function freshTarget(): Promise<string> {
  const name = `agent_dst_${id}_${targets.length}`;
  targets.push(name);
  await createDatabase(name);
  return name;
}

async function getObject(key: string): Promise<Buffer> {
  const s3 = s3Client();
  try {
    const r = await s3.send(new GetObjectCommand({ Bucket: s3Env().bucket, Key: key }));
    return Buffer.from(await r.Body!.transformToByteArray());
  } finally {
    s3.destroy();
  }
}

async function putObject(key: string, body: Buffer | string): Promise<void> {
  const s3 = s3Client();
  try {
    await s3.send(new PutObjectCommand({ Bucket: s3Env().bucket, Key: key, Body: body }));
  } finally {
    s3.destroy();
  }
}

const backups: Record<'plain' | 'custom', { manifestKey: string; key: string }> = {} as never;

beforeAll(async () => {
  await createDatabase(source);
  await seed(source, 3000);
  before = await snapshot(source);
});

afterAll(async () => {
  for (const db of [source, ...targets]) await dropDatabase(db);
});

describe.each(['plain', 'custom'] as const)('%s format', (format) => {
  test('backup streams a complete, verified dump and writes the manifest last', async () => {
    expect(Object.keys(before)).toHaveLength(4);
    expect(before['app.users']!.rows).toBe(3000);
    const run = await agent(
      ['backup', `--prefix=${prefix}`, '--schedule=nightly', `--format=${format}`, '--verify=full'],
      agentEnv(source),
    );
    expect(run.result).toMatchObject({ result: 'Succeeded', command: 'backup', format, verification: 'full' });
    expect(run.code).toBe(0);
    const key = run.result.key as string;
    const manifestKey = run.result.manifestKey as string;
    expect(key).toMatch(
      new RegExp(`^${prefix}/nightly/\\d{8}T\\d{6}Z-[0-9a-f]{8}\\.${format === 'plain' ? 'sql\\.gz' : 'dump'}$`),
    );
    expect(manifestKey).toBe(key.replace(/\.(sql\.gz|dump)$/, '.manifest.json'));

    const body = await getObject(key);
    const manifest = legacy(await getObject(manifestKey));
    expect(manifest).toMatchObject({
      kind: 'BackupManifest',
      key,
      format,
      size: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
      database: { name: source, serverVersionNum: expect.any(Number) },
      pgDumpVersion: expect.stringMatching(/^15\./),
      agentVersion: expect.any(String),
    });
    expect(run.result.sha256).toBe(manifest.sha256);
    expect(format === 'plain' ? body.subarray(0, 2).toString('hex') : body.subarray(0, 5).toString()).toBe(
      format === 'plain' ? '1f8b' : 'PGDMP',
    );
    // No secret in the result or the logs.
    for (const secret of [agentEnv(source).PGPASSWORD!, s3Env().secretAccessKey]) {
      expect(run.stdout).not.toContain(secret);
      expect(run.logs).not.toContain(secret);
    }
    backups[format] = { manifestKey, key };
  });

  test('restore into an empty database reproduces every table (row counts and content checksums)', async () => {
    const target = await freshTarget();
    const run = await agent(
      ['restore', `--manifest=${backups[format].manifestKey}`, '--jobs=2', '--work-dir=/tmp'],
      agentEnv(target),
    );
    expect(run.result).toMatchObject({ result: 'Succeeded', database: target, cleaned: false });
    expect(run.code).toBe(0);
    expect(await snapshot(target)).toEqual(before);
    const fn = await admin((c) => c.query<{ t: number }>('SELECT app.total(1) AS t'), target);
    expect(fn.rows[0]!.t).toBeGreaterThan(0);
  });

  test('verify re-checks size, sha256 and the format of the stored object', async () => {
    const run = await agent(['verify', `--manifest=${backups[format].manifestKey}`], agentEnv(source));
    expect(run.result).toMatchObject({ result: 'Succeeded', key: backups[format].key });
    expect(String(run.result.check)).toMatch(
      format === 'plain' ? /completion marker present/ : /custom archive 1\.14, \d+ TOC entries, 4 data blocks/,
    );
  });
});

describe('refusals', () => {
  test('restore into a non-empty target is refused without --clean, and replaces it with --clean', async () => {
    const target = await freshTarget();
    await admin((c) => c.query('CREATE TABLE keepme (x int); INSERT INTO keepme VALUES (1)'), target);
    for (const format of ['plain', 'custom'] as const) {
      const refused = await agent(['restore', `--manifest=${backups[format].manifestKey}`], agentEnv(target));
      expect(refused.result).toMatchObject({ result: 'Failed', reason: 'TargetNotEmpty', exitCode: 8 });
      expect(refused.result.message).toMatch(/is not empty \(1 relations.*--clean/);
      expect(refused.code).toBe(8);
      expect(await snapshot(target)).toEqual({ 'public.keepme': expect.objectContaining({ rows: 1 }) });
    }
    for (const format of ['plain', 'custom'] as const) {
      const run = await agent(['restore', `--manifest=${backups[format].manifestKey}`, '--clean'], agentEnv(target));
      expect(run.result).toMatchObject({ result: 'Succeeded', cleaned: true });
      expect(await snapshot(target)).toEqual(before);
    }
  });

  test('a truncated object fails verify and restore (size), and restore leaves the target untouched', async () => {
    for (const format of ['plain', 'custom'] as const) {
      const { manifestKey, key } = backups[format];
      const full = await getObject(key);
      const copyKey = `${prefix}/damaged/20260101T000000Z-${format}.${format === 'plain' ? 'sql.gz' : 'dump'}`;
      const copyManifest = copyKey.replace(/\.(sql\.gz|dump)$/, '.manifest.json');
      const manifest = legacy(await getObject(manifestKey));
      await putObject(copyKey, full.subarray(0, Math.floor(full.length / 2)));
      await putObject(copyManifest, JSON.stringify({ ...manifest, key: copyKey }));

      const verify = await agent(['verify', `--manifest=${copyManifest}`], agentEnv(source));
      expect(verify.result).toMatchObject({ result: 'Failed', reason: 'SizeMismatch', exitCode: 7 });
      const target = await freshTarget();
      const restore = await agent(['restore', `--manifest=${copyManifest}`], agentEnv(target));
      expect(restore.result).toMatchObject({ result: 'Failed', reason: 'SizeMismatch', exitCode: 7 });
      expect(await snapshot(target)).toEqual({});
    }
  });

  test('a truncated object whose manifest matches it fails the format check (gzip end / missing data blocks)', async () => {
    for (const format of ['plain', 'custom'] as const) {
      const { manifestKey, key } = backups[format];
      const full = await getObject(key);
      const cut = full.subarray(0, full.length - 300);
      const copyKey = `${prefix}/cut/20260101T000000Z-${format}.${format === 'plain' ? 'sql.gz' : 'dump'}`;
      const copyManifest = copyKey.replace(/\.(sql\.gz|dump)$/, '.manifest.json');
      const manifest = legacy(await getObject(manifestKey));
      await putObject(copyKey, cut);
      await putObject(
        copyManifest,
        JSON.stringify({
          ...manifest,
          key: copyKey,
          size: cut.length,
          sha256: createHash('sha256').update(cut).digest('hex'),
        }),
      );
      const verify = await agent(['verify', `--manifest=${copyManifest}`], agentEnv(source));
      expect(verify.result).toMatchObject({ result: 'Failed', reason: 'ArchiveInvalid', exitCode: 7 });
      expect(verify.result.message).toMatch(format === 'plain' ? /gzip|unexpected end/ : /truncated|data blocks/);
      const target = await freshTarget();
      const restore = await agent(['restore', `--manifest=${copyManifest}`], agentEnv(target));
      expect(restore.result).toMatchObject({ result: 'Failed', exitCode: 7 });
      expect(await snapshot(target)).toEqual({});
    }
  });

  test('a plain restore whose checksum does not match the manifest fails and commits nothing', async () => {
    const { manifestKey } = backups.plain;
    const manifest = legacy(await getObject(manifestKey));
    const lying = `${prefix}/lying/20260101T000000Z-x.manifest.json`;
    await putObject(lying, JSON.stringify({ ...manifest, sha256: '0'.repeat(64) }));
    const target = await freshTarget();
    const run = await agent(['restore', `--manifest=${lying}`], agentEnv(target));
    expect(run.result).toMatchObject({ result: 'Failed', reason: 'ChecksumMismatch', exitCode: 7 });
    expect(await snapshot(target)).toEqual({});
    const verify = await agent(['verify', `--manifest=${lying}`], agentEnv(source));
    expect(verify.result).toMatchObject({ result: 'Failed', reason: 'ChecksumMismatch' });
  });

  test('a manifest that is not one is refused', async () => {
    const bad = `${prefix}/bad/20260101T000000Z-x.manifest.json`;
    await putObject(bad, JSON.stringify({ kind: 'BackupManifest', size: 0 }));
    const run = await agent(['verify', `--manifest=${bad}`], agentEnv(source));
    expect(run.result).toMatchObject({ result: 'Failed', reason: 'ManifestInvalid', exitCode: 7 });
    const missing = await agent(['verify', `--manifest=${prefix}/nope.manifest.json`], agentEnv(source));
    expect(missing.result).toMatchObject({ result: 'Failed', reason: 'ObjectNotFound', exitCode: 6 });
    expect(await listKeys(`${prefix}/nightly/`)).toHaveLength(4);
  });
});
