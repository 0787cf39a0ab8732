// The thin S3 I/O of the BackupSchedule controller: list this schedule's folder, read manifests, delete what
// retention chose. Every call is bounded (connection 5 s, request 15 s, an AbortSignal over the whole listing) and
// made with the credentials of the destination's Secret (read from a cache, never logged); clients are kept per
// destination and credentials (a hash, never the values) and destroyed when the manager stops. Manifests are
// immutable once written, so each is read once per ETag.
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { classifyS3Error } from '../../agent/s3.js';
import { parseManifest, type Manifest } from '../../agent/manifest.js';
import type { ListedObject } from './judge.js';

export interface Destination {
  bucket: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  /** From the credentials Secret; undefined → the SDK's default chain (web identity). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export class StoreError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const LIST_TIMEOUT_MS = 30_000;
const MAX_KEYS = 20_000;

function toStoreError(err: unknown, what: string): StoreError {
  if (err instanceof StoreError) return err;
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  let reason: string = classifyS3Error(err, 'StorageError' as never);
  if (e.$metadata?.httpStatusCode === 404 && reason === 'StorageError') reason = 'BucketNotFound';
  if (e.name === 'AbortError' || e.name === 'TimeoutError') reason = 'StorageTimeout';
  return new StoreError(reason, `${what}: ${[e.name, e.message].filter(Boolean).join(': ') || String(err)}`);
}

export class BackupStore {
  private readonly clients = new Map<string, S3Client>();
  private readonly manifests = new Map<string, { etag: string; manifest?: Manifest; error?: string }>();

  constructor() {
    // The SDK warns once per process about Node 20's end of support; the operator's log is not the place for it.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  }

  client(d: Destination): S3Client {
    const id = createHash('sha256').update(JSON.stringify(d)).digest('hex');
    let c = this.clients.get(id);
    if (!c) {
      c = new S3Client({
        region: d.region,
        ...(d.endpoint ? { endpoint: d.endpoint } : {}),
        forcePathStyle: d.forcePathStyle,
        ...(d.credentials ? { credentials: d.credentials } : {}),
        maxAttempts: 2,
        requestHandler: { connectionTimeout: 5_000, requestTimeout: 15_000 },
      });
      this.clients.set(id, c);
    }
    return c;
  }

  /** Every object below `folder` (which ends in "/"), with sizes and ETags. */
  async list(d: Destination, folder: string): Promise<(ListedObject & { etag: string })[]> {
    const c = this.client(d);
    const signal = AbortSignal.timeout(LIST_TIMEOUT_MS);
    const out: (ListedObject & { etag: string })[] = [];
    let token: string | undefined;
    try {
      do {
        const r = await c.send(
          new ListObjectsV2Command({ Bucket: d.bucket, Prefix: folder, ContinuationToken: token }),
          { abortSignal: signal },
        );
        for (const o of r.Contents ?? []) {
          if (o.Key?.startsWith(folder)) out.push({ key: o.Key, size: o.Size ?? 0, etag: o.ETag ?? '' });
        }
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
        if (out.length > MAX_KEYS)
          throw new StoreError('TooManyObjects', `more than ${MAX_KEYS} objects under ${folder}`);
      } while (token);
    } catch (err) {
      throw toStoreError(err, `listing s3://${d.bucket}/${folder}`);
    }
    return out;
  }

  /** The manifest at `key` (cached per ETag); a manifest that does not parse is reported, not thrown. */
  async manifest(d: Destination, key: string, etag: string): Promise<{ manifest?: Manifest; error?: string }> {
    const cacheKey = `${d.bucket}/${key}`;
    const hit = this.manifests.get(cacheKey);
    if (hit && hit.etag === etag) return hit;
    let text: string;
    try {
      const r = await this.client(d).send(new GetObjectCommand({ Bucket: d.bucket, Key: key }), {
        abortSignal: AbortSignal.timeout(15_000),
      });
      text = (await r.Body?.transformToString()) ?? '';
    } catch (err) {
      throw toStoreError(err, `reading manifest s3://${d.bucket}/${key}`);
    }
    let entry: { etag: string; manifest?: Manifest; error?: string };
    try {
      entry = { etag, manifest: parseManifest(text.slice(0, 256 * 1024)) };
    } catch (err) {
      entry = { etag, error: (err as Error).message.slice(0, 500) };
    }
    if (this.manifests.size > 10_000) this.manifests.clear();
    this.manifests.set(cacheKey, entry);
    return entry;
  }

  async delete(d: Destination, key: string): Promise<void> {
    try {
      await this.client(d).send(new DeleteObjectCommand({ Bucket: d.bucket, Key: key }), {
        abortSignal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      throw toStoreError(err, `deleting s3://${d.bucket}/${key}`);
    }
    this.manifests.delete(`${d.bucket}/${key}`);
  }

  stop(): void {
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }
}
