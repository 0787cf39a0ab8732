import { describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DecryptStream, EncryptStream, keyId, parseEncryptionKey } from './crypto.js';

async function through(input: Buffer, stage: NodeJS.ReadWriteStream, chunk = 1000): Promise<Buffer> {
  const out: Buffer[] = [];
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunk) chunks.push(input.subarray(i, i + chunk));
  await pipeline(
    Readable.from(chunks),
    stage,
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

const key = randomBytes(32);
const seg = 4096;

describe('segmented AES-256-GCM', () => {
  test.each([0, 1, seg - 1, seg, seg + 1, 3 * seg, 50_000])('round trip of %i bytes', async (n) => {
    const plain = randomBytes(n);
    const sealed = await through(plain, new EncryptStream(key, seg), 777);
    expect(sealed.length).toBe(19 + n + 16 * (Math.floor(n / seg) + (n % seg === 0 && n > 0 ? 0 : 1)));
    if (n >= 64) expect(sealed.includes(plain.subarray(0, 64))).toBe(false);
    expect((await through(sealed, new DecryptStream(key), 333)).equals(plain)).toBe(true);
  });

  test('the same plaintext encrypts differently each time (random nonce prefix)', async () => {
    const plain = Buffer.from('apiVersion: v1\nkind: Secret\n');
    const a = await through(plain, new EncryptStream(key, seg));
    const b = await through(plain, new EncryptStream(key, seg));
    expect(a.equals(b)).toBe(false);
  });

  test.each([
    ['a wrong key', (s: Buffer) => s, randomBytes(32)],
    [
      'a flipped byte',
      (s: Buffer) => Buffer.concat([s.subarray(0, 100), Buffer.from([s[100]! ^ 1]), s.subarray(101)]),
      key,
    ],
    ['a cut at a segment boundary', (s: Buffer) => s.subarray(0, 19 + 2 * (seg + 16)), key],
    ['a cut inside a segment', (s: Buffer) => s.subarray(0, s.length - 5), key],
    [
      'two segments swapped',
      (s: Buffer) => {
        const a = s.subarray(19, 19 + seg + 16);
        const b = s.subarray(19 + seg + 16, 19 + 2 * (seg + 16));
        return Buffer.concat([s.subarray(0, 19), b, a, s.subarray(19 + 2 * (seg + 16))]);
      },
      key,
    ],
    [
      'a changed header',
      (s: Buffer) => Buffer.concat([s.subarray(0, 14), Buffer.from([s[14]! ^ 1]), s.subarray(15)]),
      key,
    ],
    ['an appended segment', (s: Buffer) => Buffer.concat([s, s.subarray(19, 19 + seg + 16)]), key],
  ])('%s fails authentication', async (_what, damage, k) => {
    const plain = randomBytes(3 * seg + 10);
    const sealed = await through(plain, new EncryptStream(key, seg));
    await expect(through(damage(sealed), new DecryptStream(k))).rejects.toMatchObject({
      reason: 'DecryptionFailed',
    });
  });

  test('key files: 32 raw bytes, 64 hex, base64 (with a newline); anything else refused without echoing it', () => {
    const k = randomBytes(32);
    expect(parseEncryptionKey(k).equals(k)).toBe(true);
    expect(parseEncryptionKey(Buffer.from(`${k.toString('hex')}\n`)).equals(k)).toBe(true);
    expect(parseEncryptionKey(Buffer.from(`${k.toString('base64')}\n`)).equals(k)).toBe(true);
    expect(parseEncryptionKey(Buffer.from(k.toString('base64url'))).equals(k)).toBe(true);
    const weak = Buffer.from('hunter2-my-password');
    expect(() => parseEncryptionKey(weak)).toThrow(/holds 19 bytes: it must be 32 raw bytes/);
    try {
      parseEncryptionKey(weak);
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
      expect((err as { reason: string }).reason).toBe('EncryptionKeyInvalid');
    }
    expect(keyId(k)).toMatch(/^[0-9a-f]{16}$/);
    expect(keyId(k)).not.toBe(keyId(randomBytes(32)));
    expect(k.toString('hex')).not.toContain(keyId(k));
  });
});
