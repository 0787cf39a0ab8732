// Encrypting the Secrets part: AES-256-GCM, streamed in authenticated segments (the STREAM construction of Hoang,
// Reyhanitabar, Rogaway and Vizár, as age and Tink's streaming AEAD use it), so neither side holds the whole object
// and nothing is released before it is authenticated:
//
//   header   "SCOENC01" (8 bytes) | segment size, uint32 BE (4) | nonce prefix, random (7)        = 19 bytes
//   segment  AES-256-GCM(key, nonce = prefix ‖ uint32 BE index ‖ last ? 0x01 : 0x00, aad = header) ‖ tag (16)
//
// Every segment holds `segment size` plaintext bytes except the last, which is flagged in its nonce and may be empty.
// A changed byte, a reordered, dropped or appended segment, a changed header, or an object cut anywhere (a cut at a
// segment boundary leaves a last segment not flagged as last) fails authentication: DecryptionFailed. The key comes
// from a file (a mounted Secret): 32 raw bytes, 64 hex characters, or base64 of 32 bytes; it is never logged, and the
// manifest records only a fingerprint (keyId) so a reader can tell which key a part needs.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { AgentFailure } from './errors.js';

export const ENCRYPTION_ALGORITHM = 'AES-256-GCM-STREAM-64K';
const MAGIC = Buffer.from('SCOENC01', 'ascii');
const HEADER_SIZE = MAGIC.length + 4 + 7;
const TAG_SIZE = 16;
export const DEFAULT_SEGMENT_SIZE = 64 * 1024;

/** Reads and checks the key; the message never contains the file's content. */
export function loadEncryptionKey(path: string): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    throw new AgentFailure(
      'EncryptionKeyInvalid',
      `--encryption-key-file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`,
    );
  }
  return parseEncryptionKey(raw);
}

export function parseEncryptionKey(raw: Buffer): Buffer {
  if (raw.length === 32) return Buffer.from(raw);
  const text = raw.toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(text) || /^[A-Za-z0-9_-]{43}=?$/.test(text)) {
    const k = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
    if (k.length === 32) return k;
  }
  throw new AgentFailure(
    'EncryptionKeyInvalid',
    `the encryption key file holds ${raw.length} bytes: it must be 32 raw bytes, 64 hex characters or base64 of 32 bytes`,
  );
}

/** A fingerprint naming the key without revealing it (sha256 over a context string and the key, 16 hex digits). */
export function keyId(key: Buffer): string {
  return createHash('sha256').update('smartcloudops-backup-key-id\0').update(key).digest('hex').slice(0, 16);
}

function nonce(prefix: Buffer, index: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0);
  n.writeUInt32BE(index, 7);
  n[11] = last ? 1 : 0;
  return n;
}

export class EncryptStream extends Transform {
  private readonly header: Buffer;
  private readonly prefix: Buffer;
  private readonly segment: Buffer;
  private fill = 0;
  private index = 0;

  constructor(
    private readonly key: Buffer,
    private readonly segmentSize = DEFAULT_SEGMENT_SIZE,
  ) {
    super({ highWaterMark: 256 * 1024 });
    if (key.length !== 32) throw new AgentFailure('EncryptionKeyInvalid', 'the encryption key must be 32 bytes');
    this.prefix = randomBytes(7);
    this.header = Buffer.alloc(HEADER_SIZE);
    MAGIC.copy(this.header, 0);
    this.header.writeUInt32BE(segmentSize, MAGIC.length);
    this.prefix.copy(this.header, MAGIC.length + 4);
    this.segment = Buffer.alloc(segmentSize);
    this.push(this.header);
  }

  private seal(last: boolean): void {
    if (this.index >= 0xffffffff) throw new Error('too many segments');
    const c = createCipheriv('aes-256-gcm', this.key, nonce(this.prefix, this.index++, last));
    c.setAAD(this.header);
    const body = c.update(this.segment.subarray(0, this.fill));
    const fin = c.final();
    this.push(Buffer.concat([body, fin, c.getAuthTag()]));
    this.fill = 0;
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    try {
      let off = 0;
      while (off < chunk.length) {
        // A full segment is sealed only once more input exists: the last segment must carry the last flag.
        if (this.fill === this.segmentSize) this.seal(false);
        const n = Math.min(chunk.length - off, this.segmentSize - this.fill);
        chunk.copy(this.segment, this.fill, off, off + n);
        this.fill += n;
        off += n;
      }
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.seal(true);
      this.segment.fill(0);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }
}

const failed = (what: string) =>
  new AgentFailure(
    'DecryptionFailed',
    `${what}: wrong key, or the encrypted object was changed or cut (AES-256-GCM authentication failed)`,
  );

export class DecryptStream extends Transform {
  private header?: Buffer;
  private prefix?: Buffer;
  private segmentSize = 0;
  private buf: Buffer = Buffer.alloc(0);
  private index = 0;

  constructor(private readonly key: Buffer) {
    super({ highWaterMark: 256 * 1024 });
  }

  private open(last: boolean, sealed: Buffer): void {
    if (sealed.length < TAG_SIZE) throw failed(`segment ${this.index} is shorter than its tag`);
    const d = createDecipheriv('aes-256-gcm', this.key, nonce(this.prefix!, this.index, last));
    d.setAAD(this.header!);
    d.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
    const out = d.update(sealed.subarray(0, sealed.length - TAG_SIZE));
    try {
      d.final();
    } catch {
      throw failed(`segment ${this.index}${last ? ' (the last)' : ''}`);
    }
    this.index++;
    if (out.length) this.push(out);
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    try {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      if (!this.header) {
        if (this.buf.length < HEADER_SIZE) return cb();
        const h = this.buf.subarray(0, HEADER_SIZE);
        if (!h.subarray(0, MAGIC.length).equals(MAGIC)) {
          throw new AgentFailure('DecryptionFailed', 'not an encrypted part of this agent (no SCOENC01 header)');
        }
        this.segmentSize = h.readUInt32BE(MAGIC.length);
        if (this.segmentSize < 1 || this.segmentSize > 16 * 1024 * 1024) throw failed('the header');
        this.header = Buffer.from(h);
        this.prefix = this.header.subarray(MAGIC.length + 4);
        this.buf = this.buf.subarray(HEADER_SIZE);
      }
      const sealedSize = this.segmentSize + TAG_SIZE;
      // Keep at least one byte beyond a full segment before opening it as "not last".
      while (this.buf.length > sealedSize) {
        this.open(false, this.buf.subarray(0, sealedSize));
        this.buf = this.buf.subarray(sealedSize);
      }
      this.buf = Buffer.from(this.buf); // do not pin the (larger) chunk it was sliced from
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      if (!this.header) throw new AgentFailure('DecryptionFailed', 'the encrypted part ends inside its header');
      this.open(true, this.buf);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }
}
