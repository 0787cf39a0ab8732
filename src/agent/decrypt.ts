// decrypt: reads one part of a backup back into a local file — the Secrets (decrypted and authenticated with the
// key in --encryption-key-file, then gunzipped: a YAML stream for `kubectl apply -f`), the ConfigMaps (gunzipped
// YAML), or a data dir (the tar, gunzipped). The object's sha256 and size must match the manifest and, for Secrets,
// every segment must authenticate (crypto.ts); the file appears under --out (mode 0600) only when all of that
// passed — it is written as <out>.partial and renamed — and nothing of its content is logged or printed.
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { AgentContext } from './context.js';
import { DecryptStream, keyId, loadEncryptionKey } from './crypto.js';
import { AgentFailure } from './errors.js';
import { HashCounter } from './inspect.js';
import { manifestParts, type ManifestPart } from './manifest.js';
import { GcPacer } from './memory.js';
import type { DecryptOptions } from './options.js';
import { loadManifest } from './restore.js';
import { createS3Client, getStream, headSize, s3Failure } from './s3.js';

export interface DecryptResult {
  part: ManifestPart;
  bytes: number;
}

export async function runDecrypt(o: DecryptOptions, ctx: AgentContext): Promise<DecryptResult> {
  const key = o.encryptionKeyFile ? loadEncryptionKey(o.encryptionKeyFile) : undefined;
  const s3 = createS3Client(o.s3);
  const partial = `${o.out}.partial`;
  try {
    const m = await loadManifest(s3, o.s3.bucket, o.manifest);
    const part = manifestParts(m).find((p) => p.name === o.part);
    if (!part) {
      throw new AgentFailure(
        'PartNotFound',
        `${o.manifest} has no part "${o.part}" (parts: ${manifestParts(m)
          .map((p) => p.name)
          .join(', ')})`,
      );
    }
    if (part.kind === 'database') throw new AgentFailure('PartNotFound', 'the database part is read by restore');
    if (part.encryption) {
      if (!key)
        throw new AgentFailure('EncryptionKeyInvalid', `part ${part.name} is encrypted: give --encryption-key-file`);
      if (keyId(key) !== part.encryption.keyId) {
        throw new AgentFailure(
          'DecryptionFailed',
          `part ${part.name} was encrypted with key ${part.encryption.keyId}; the key given is ${keyId(key)}`,
        );
      }
    }
    const stored = await headSize(s3, o.s3.bucket, part.key);
    if (stored !== part.size) {
      throw new AgentFailure(
        'SizeMismatch',
        `s3://${o.s3.bucket}/${part.key} has ${stored} bytes, the manifest says ${part.size}`,
      );
    }
    const hasher = new HashCounter(new GcPacer(1024 * 1024, 16 * 1024 * 1024));
    const stages: Transform[] = [];
    if (part.encryption) stages.push(new DecryptStream(key!));
    stages.push(createGunzip());
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        bytes += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(
        await getStream(s3, o.s3.bucket, part.key, ctx.signal),
        hasher,
        ...stages,
        counter,
        createWriteStream(partial, { mode: 0o600 }),
      );
    } catch (err) {
      if (err instanceof AgentFailure) throw err;
      const e = err as NodeJS.ErrnoException;
      if (e.code?.startsWith('Z_')) {
        throw new AgentFailure('ArchiveInvalid', `${part.key} is not a valid gzip stream: ${e.message}`, {
          cause: err,
        });
      }
      if (e.syscall) throw new AgentFailure('InternalError', `writing ${o.out}: ${e.code ?? e.message}`);
      throw s3Failure(err, 'DownloadFailed', `reading s3://${o.s3.bucket}/${part.key}`);
    }
    if (hasher.bytes !== part.size) {
      throw new AgentFailure(
        'SizeMismatch',
        `read ${hasher.bytes} bytes of ${part.key}, the manifest says ${part.size}`,
      );
    }
    if (hasher.digest !== part.sha256) {
      throw new AgentFailure(
        'ChecksumMismatch',
        `${part.key} has sha256 ${hasher.digest}, the manifest says ${part.sha256}`,
      );
    }
    await rename(partial, o.out);
    ctx.log.info({ part: part.name, key: part.key, out: o.out, bytes }, 'part written');
    return { part, bytes };
  } finally {
    await rm(partial, { force: true });
    s3.destroy();
  }
}
