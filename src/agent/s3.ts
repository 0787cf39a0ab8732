// S3 as users have it: AWS or an S3-compatible store (custom endpoint, path-style addressing), server-side encryption
// (AES256, or aws:kms with an optional key id), credentials from the environment (a Secret in the Job) or, when none
// are given, the SDK's default provider chain (web identity, container and instance roles). Errors are classified
// into the agent's storage failure reasons.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { AgentFailure, type FailureReason } from './errors.js';
import type { S3Options } from './options.js';

export function createS3Client(o: S3Options): S3Client {
  return new S3Client({
    region: o.region,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    forcePathStyle: o.forcePathStyle,
    ...(o.credentials ? { credentials: o.credentials } : {}),
    maxAttempts: o.maxAttempts,
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
  });
}

/** Server-side encryption parameters for every object the agent writes. */
export function encryptionParams(o: S3Options): Pick<PutObjectCommandInput, 'ServerSideEncryption' | 'SSEKMSKeyId'> {
  if (!o.sse) return {};
  return {
    ServerSideEncryption: o.sse,
    ...(o.sse === 'aws:kms' && o.sseKmsKeyId ? { SSEKMSKeyId: o.sseKmsKeyId } : {}),
  };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'TimeoutError',
  'RequestTimeout',
]);

interface AwsLikeError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

/** Maps an SDK/network error to a failure reason; `fallback` for anything else (UploadFailed, DownloadFailed). */
export function classifyS3Error(err: unknown, fallback: FailureReason): FailureReason {
  const seen = new Set<unknown>();
  for (let e = err as AwsLikeError | undefined; e && !seen.has(e); e = e.cause as AwsLikeError | undefined) {
    seen.add(e);
    const name = e.name ?? e.Code ?? e.code ?? '';
    const status = e.$metadata?.httpStatusCode;
    if (name === 'NoSuchBucket') return 'BucketNotFound';
    if (name === 'NoSuchKey') return 'ObjectNotFound';
    if (['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'Forbidden', 'ExpiredToken'].includes(name)) {
      return 'StorageAccessDenied';
    }
    if (status === 403) return 'StorageAccessDenied';
    if (
      NETWORK_CODES.has(e.code ?? '') ||
      NETWORK_CODES.has(name) ||
      /socket hang up|ECONNRESET|ECONNREFUSED/.test(e.message ?? '')
    ) {
      return 'StorageUnreachable';
    }
  }
  return fallback;
}

export function s3Failure(err: unknown, fallback: FailureReason, what: string): AgentFailure {
  if (err instanceof AgentFailure) return err;
  const reason = classifyS3Error(err, fallback);
  const e = err as AwsLikeError;
  const detail = [e.name, e.message].filter(Boolean).join(': ') || String(err);
  return new AgentFailure(reason, `${what}: ${detail}`, { cause: err });
}

/** Fails fast, before any dump runs, when the bucket is missing or not ours to use. */
export async function checkBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const f = s3Failure(err, 'UploadFailed', `bucket "${bucket}"`);
    // HeadBucket answers a bare 404 (no body): that is a missing bucket.
    if ((err as AwsLikeError).$metadata?.httpStatusCode === 404) {
      throw new AgentFailure('BucketNotFound', `bucket "${bucket}" does not exist`, { cause: err });
    }
    throw f;
  }
}

export async function headSize(client: S3Client, bucket: string, key: string): Promise<number> {
  try {
    const h = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return h.ContentLength ?? -1;
  } catch (err) {
    if ((err as AwsLikeError).$metadata?.httpStatusCode === 404) {
      throw new AgentFailure('ObjectNotFound', `s3://${bucket}/${key} does not exist`, { cause: err });
    }
    throw s3Failure(err, 'DownloadFailed', `HEAD s3://${bucket}/${key}`);
  }
}

export async function getStream(
  client: S3Client,
  bucket: string,
  key: string,
  signal?: AbortSignal,
): Promise<Readable> {
  try {
    const r = await client.send(
      new GetObjectCommand({ Bucket: bucket, Key: key }),
      signal ? { abortSignal: signal } : {},
    );
    return r.Body as Readable;
  } catch (err) {
    throw s3Failure(err, 'DownloadFailed', `GET s3://${bucket}/${key}`);
  }
}

export async function getText(client: S3Client, bucket: string, key: string, limit = 1024 * 1024): Promise<string> {
  const body = await getStream(client, bucket, key);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of body) {
      size += (c as Buffer).length;
      if (size > limit)
        throw new AgentFailure('ManifestInvalid', `s3://${bucket}/${key} is larger than ${limit} bytes`);
      chunks.push(c as Buffer);
    }
  } catch (err) {
    throw s3Failure(err, 'DownloadFailed', `GET s3://${bucket}/${key}`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function putText(
  client: S3Client,
  o: S3Options,
  key: string,
  text: string,
  contentType = 'application/json',
): Promise<void> {
  try {
    await client.send(
      new PutObjectCommand({
        Bucket: o.bucket,
        Key: key,
        Body: text,
        ContentType: contentType,
        ...encryptionParams(o),
      }),
    );
  } catch (err) {
    throw s3Failure(err, 'UploadFailed', `PUT s3://${o.bucket}/${key}`);
  }
}

export async function deleteQuietly(client: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch {
    return false;
  }
}
