// The custom-format restore's staging download (src/agent/download.ts) against the real S3 server: many small ranges
// fetched in parallel land as the exact object, hashed and walked in order; a changed byte shows in the sha256, a
// cut archive fails the walk, a missing object fails with its reason.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { downloadRanged } from '../../src/agent/download.js';
import { s3Env } from '../support/env.js';
import { agent, agentEnv, createDatabase, dropDatabase, rand, s3Client, seed } from '../support/agent.js';

const id = rand();
const db = `agent_dl_${id}`;
const tmp = mkdtempSync(join(os.tmpdir(), 'agent-dl-'));
let key = '';
let body = Buffer.alloc(0);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  await createDatabase(db);
  await seed(db, 3000);
  const run = await agent(['backup', `--prefix=it-agent-dl/${id}`, '--schedule=dl', '--format=custom'], agentEnv(db));
  expect(run.result).toMatchObject({ result: 'Succeeded' });
  key = String(run.result.key);
  const s3 = s3Client();
  const r = await s3.send(new GetObjectCommand({ Bucket: s3Env().bucket, Key: key }));
  body = Buffer.from(await r.Body!.transformToByteArray());
  s3.destroy();
}, 60_000);

afterAll(async () => {
  await dropDatabase(db);
  rmSync(tmp, { recursive: true, force: true });
});

const put = async (k: string, b: Buffer) => {
  const s3 = s3Client();
  await s3.send(new PutObjectCommand({ Bucket: s3Env().bucket, Key: k, Body: b }));
  s3.destroy();
};

describe('parallel ranged download', () => {
  test.each([
    [4, 16 * 1024],
    [3, 7 * 1024 + 3],
    [1, 1024 * 1024],
  ])(
    '%i streams × %i-byte ranges: the file is the object; size, sha256 and archive checked',
    async (streams, rangeSize) => {
      if (rangeSize < 64 * 1024) expect(body.length).toBeGreaterThan(10 * rangeSize); // many ranges
      const file = join(tmp, `${streams}-${rangeSize}.dump`);
      const s3 = s3Client();
      try {
        const got = await downloadRanged(s3, s3Env().bucket, key, body.length, file, new AbortController().signal, {
          streams,
          rangeSize,
        });
        expect(got).toMatchObject({ size: body.length, sha256: sha(body) });
        expect(got.summary).toMatch(/custom archive 1\.\d+, \d+ TOC entries, \d+ data blocks/);
        expect(readFileSync(file).equals(body)).toBe(true);
      } finally {
        s3.destroy();
      }
    },
    30_000,
  );

  test('a changed byte changes the sha256; a cut archive fails the walk; a missing object fails', async () => {
    const s3 = s3Client();
    const signal = new AbortController().signal;
    const o = { streams: 4, rangeSize: 16 * 1024 };
    try {
      const flipped = Buffer.from(body);
      flipped.writeUInt8(flipped.readUInt8(flipped.length - 10) ^ 1, flipped.length - 10);
      await put(`${key}.flipped`, flipped);
      const got = await downloadRanged(s3, s3Env().bucket, `${key}.flipped`, body.length, join(tmp, 'f'), signal, o);
      expect(got.sha256).toBe(sha(flipped));
      expect(got.sha256).not.toBe(sha(body));

      const cut = body.subarray(0, body.length - 300);
      await put(`${key}.cut`, cut);
      await expect(
        downloadRanged(s3, s3Env().bucket, `${key}.cut`, cut.length, join(tmp, 'c'), signal, o),
      ).rejects.toMatchObject({
        reason: 'ArchiveInvalid',
      });
      await expect(
        downloadRanged(s3, s3Env().bucket, `${key}.nope`, body.length, join(tmp, 'n'), signal, o),
      ).rejects.toMatchObject({
        reason: 'ObjectNotFound',
      });
    } finally {
      s3.destroy();
    }
  }, 30_000);
});
