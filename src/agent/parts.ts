// The parts of a backup besides the dump (config, secrets, data dirs): each one streamed from its source through its
// stages (gzip, then encryption for Secrets) and sha256 into its own S3 object with the pooled multipart upload — no
// temporary file, the same fixed part buffers as the dump — then read back like the dump (HEAD size; with
// --verify=full the whole object re-hashed). Any stage failing errors the stream, which aborts the multipart upload:
// no object is left under the key. The source's own failure (ConfigAccessDenied, DataDirUnreadable, …) wins over
// the generic upload error it causes.
import type { S3Client } from '@aws-sdk/client-s3';
import type { Transform } from 'node:stream';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { AgentFailure } from './errors.js';
import { HashCounter } from './inspect.js';
import type { ManifestPart } from './manifest.js';
import { GcPacer } from './memory.js';
import type { S3Options } from './options.js';
import { encryptionParams, getStream, headSize, s3Failure } from './s3.js';
import { PooledUpload } from './upload.js';

export interface Streamed {
  size: number;
  sha256: string;
}

/** Streams `source` through `stages` into s3://bucket/key; resolves with the stored object's size and sha256. */
export async function uploadStream(
  s3: S3Client,
  o: S3Options,
  key: string,
  contentType: string,
  source: Readable,
  stages: Transform[],
  signal: AbortSignal,
): Promise<Streamed> {
  const pacer = new GcPacer();
  const hasher = new HashCounter(pacer);
  const stopUpload = new AbortController();
  const upload = new PooledUpload(
    s3,
    { Bucket: o.bucket, Key: key, ContentType: contentType, ...encryptionParams(o) },
    o.partSize,
    o.queueSize,
    stopUpload.signal,
  );
  let first: unknown;
  const all = [source, ...stages, hasher];
  const teardown = (err: unknown) => {
    first ??= err;
    for (const s of all) s.destroy();
    stopUpload.abort();
  };
  const onAbort = () => teardown(new AgentFailure('Terminated', 'the agent was told to stop'));
  signal.addEventListener('abort', onAbort, { once: true });
  let streamErr: unknown;
  let uploadErr: unknown;
  const piped = pipeline(all).catch((err: unknown) => {
    streamErr = err;
    teardown(err);
  });
  const uploaded = upload.run(hasher).catch((err: unknown) => {
    uploadErr = err;
    teardown(err);
  });
  try {
    await Promise.all([piped, uploaded]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if (streamErr !== undefined || uploadErr !== undefined) {
    for (const e of [first, streamErr, uploadErr]) if (e instanceof AgentFailure && e.reason !== 'Terminated') throw e;
    if (first instanceof AgentFailure) throw first;
    if (uploadErr !== undefined) throw s3Failure(uploadErr, 'UploadFailed', `uploading s3://${o.bucket}/${key}`);
    throw new AgentFailure('UploadFailed', `streaming s3://${o.bucket}/${key}: ${(streamErr as Error).message}`, {
      cause: streamErr,
    });
  }
  return { size: hasher.bytes, sha256: hasher.digest! };
}

/**
 * Read-back of one stored part: HEAD must report the streamed size; with `full`, the object is read again and its
 * sha256 recomputed (and a gzip part must gunzip to its end).
 */
export async function readBack(
  s3: S3Client,
  bucket: string,
  part: ManifestPart,
  full: boolean,
  signal: AbortSignal,
): Promise<void> {
  const stored = await headSize(s3, bucket, part.key);
  if (stored !== part.size) {
    throw new AgentFailure(
      'SizeMismatch',
      `S3 reports ${stored} bytes for ${part.key}, the manifest says ${part.size}`,
    );
  }
  if (!full) return;
  const got = await hashObject(s3, bucket, part, signal);
  if (got.size !== part.size) {
    throw new AgentFailure(
      'SizeMismatch',
      `read back ${got.size} bytes of ${part.key}, the manifest says ${part.size}`,
    );
  }
  if (got.sha256 !== part.sha256) {
    throw new AgentFailure(
      'ChecksumMismatch',
      `${part.key} has sha256 ${got.sha256}, the manifest says ${part.sha256}`,
    );
  }
}

/** GET and hash a part (gunzipping gzip parts to check them; encrypted ones cannot be checked without the key). */
export async function hashObject(
  s3: S3Client,
  bucket: string,
  part: ManifestPart,
  signal: AbortSignal,
): Promise<Streamed> {
  const body = await getStream(s3, bucket, part.key, signal);
  const hasher = new HashCounter(new GcPacer(1024 * 1024, 16 * 1024 * 1024));
  const drain = new Writable({ write: (_c, _e, cb) => cb() });
  const gz = part.encoding === 'gzip' || part.encoding === 'tar+gzip';
  try {
    if (gz) await pipeline(body, hasher, createGunzip(), drain);
    else await pipeline(body, hasher, drain);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code?.startsWith('Z_')) {
      throw new AgentFailure('ArchiveInvalid', `${part.key} is not a valid gzip stream: ${e.message}`, { cause: err });
    }
    throw s3Failure(err, 'DownloadFailed', `reading s3://${bucket}/${part.key}`);
  }
  return { size: hasher.bytes, sha256: hasher.digest! };
}
