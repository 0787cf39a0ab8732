// The agent's pooled multipart upload against the real S3 server: a multi-part body arrives byte-exact, a body under
// one part is a single PUT, and a source that fails half-way leaves neither an object nor an open multipart upload.
import { describe, expect, test } from '@jest/globals';
import { GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { PooledUpload } from '../../src/agent/upload.js';
import { s3Env } from '../support/env.js';
import { rand, s3Client } from '../support/agent.js';

const MiB = 1024 * 1024;
const prefix = `it-agent-upload/${rand()}`;

async function* chunks(data: Buffer, size: number, failAt?: number): AsyncGenerator<Buffer> {
  for (let off = 0; off < data.length; off += size) {
    if (failAt !== undefined && off >= failAt) throw new Error('source failed');
    yield data.subarray(off, off + size);
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('PooledUpload', () => {
  test.each([
    ['three parts, two in flight', 12 * MiB + 12345, 2],
    ['two parts, one in flight', 6 * MiB, 1],
    ['one small PUT', 100_000, 2],
  ])('%s: the object is byte-exact', async (_what, size, queue) => {
    const s3 = s3Client();
    const key = `${prefix}/ok-${size}`;
    try {
      const data = randomBytes(size);
      const up = new PooledUpload(s3, { Bucket: s3Env().bucket, Key: key }, 5 * MiB, queue);
      await up.run(chunks(data, 65536));
      expect(up.bytes).toBe(size);
      const got = await s3.send(new GetObjectCommand({ Bucket: s3Env().bucket, Key: key }));
      expect(sha(Buffer.from(await got.Body!.transformToByteArray()))).toBe(sha(data));
    } finally {
      s3.destroy();
    }
  });

  test('a source failing after two parts: the error surfaces, no object, no open multipart upload', async () => {
    const s3 = s3Client();
    const key = `${prefix}/failed`;
    try {
      const up = new PooledUpload(s3, { Bucket: s3Env().bucket, Key: key }, 5 * MiB, 2);
      await expect(up.run(chunks(randomBytes(16 * MiB), 65536, 11 * MiB))).rejects.toThrow('source failed');
      await expect(s3.send(new HeadObjectCommand({ Bucket: s3Env().bucket, Key: key }))).rejects.toMatchObject({
        $metadata: { httpStatusCode: 404 },
      });
      const open = await s3.send(new ListMultipartUploadsCommand({ Bucket: s3Env().bucket, Prefix: key }));
      expect(open.Uploads ?? []).toEqual([]);
    } finally {
      s3.destroy();
    }
  });
});
