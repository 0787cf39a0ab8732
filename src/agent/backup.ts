// backup: pg_dump → (gzip) → sha256 → S3 multipart upload (upload.ts), one stream with no temporary file, then
// read-back checks, then the manifest. Pipefail semantics: the upload cannot complete before pg_dump's exit status
// and the dump's completeness are known — the stage right after pg_dump holds the end of the stream until then, and
// a failure there errors the stream, which makes the uploader abort the multipart upload instead of completing it.
// Any stage failing (pg_dump, gzip, the upload, the read-back) tears down every other stage, kills pg_dump, and ends
// the run with a specific reason and no manifest.
//
// Memory is bounded by the stream buffers plus the uploader's part buffers (partSize × (queueSize + 1)), whatever
// the size of the database; memory.ts keeps dead stream chunks from piling up between garbage collections.
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import { CustomArchiveWalker, PlainDumpTail } from './archive.js';
import type { AgentContext } from './context.js';
import { AgentFailure } from './errors.js';
import {
  checkBucket,
  createS3Client,
  deleteQuietly,
  encryptionParams,
  getStream,
  headSize,
  putText,
  s3Failure,
} from './s3.js';
import { PooledUpload } from './upload.js';
import { HashCounter, inspectStream } from './inspect.js';
import { GcPacer } from './memory.js';
import { backupKeys } from './layout.js';
import { MANIFEST_API_VERSION, MANIFEST_KIND, serializeManifest, type Manifest } from './manifest.js';
import type { BackupOptions } from './options.js';
import { connect, pgFailure, serverInfo, type ServerInfo } from './pg.js';
import { describeExit, resolvePgBin, runToCompletion, SpawnError, startChild, toolEnv, type Child } from './proc.js';
import { summarizeStderr } from './sanitize.js';
import { checkDumpCompatibility, parseToolVersion, type PgVersion } from './version.js';

export interface BackupResult {
  manifestKey: string;
  manifest: Manifest;
}

const CONNECTION_LOST =
  /terminating connection|server closed the connection|connection to server (was lost|.*failed)|could not receive data from server|SSL SYSCALL|no connection to the server/i;

export async function pgToolVersion(path: string, ctx: AgentContext): Promise<PgVersion> {
  try {
    return parseToolVersion(await runToCompletion(path, ['--version'], toolEnv({}, ctx.env, 'smartcloudops-agent')));
  } catch (err) {
    if (err instanceof SpawnError) {
      throw new AgentFailure('ToolNotFound', `${err.message}; the image needs the PostgreSQL client tools`);
    }
    throw new AgentFailure('ToolNotFound', (err as Error).message);
  }
}

export async function runBackup(o: BackupOptions, ctx: AgentContext): Promise<BackupResult> {
  const startedAt = ctx.now();
  const secrets = [o.db.password, o.s3.credentials?.secretAccessKey, o.s3.credentials?.sessionToken];
  const bin = resolvePgBin(o.pgBin);
  const pgDump = await pgToolVersion(bin('pg_dump'), ctx);
  const s3 = createS3Client(o.s3);
  try {
    await checkBucket(s3, o.s3.bucket);
    const appName = `smartcloudops-agent-${o.runId}`;
    const client = await connect(o.db, appName);
    let server: ServerInfo;
    try {
      server = await serverInfo(client).catch((err: unknown) => {
        throw pgFailure(err, o.db, 'reading the server version');
      });
    } finally {
      await client.end().catch(() => undefined);
    }
    const compat = checkDumpCompatibility(server.version, pgDump);
    if (!compat.ok) throw new AgentFailure(compat.reason, compat.message);
    const keys = backupKeys({
      prefix: o.s3.prefix,
      schedule: o.schedule,
      startedAt,
      runId: o.runId,
      format: o.format,
    });
    ctx.log.info(
      { bucket: o.s3.bucket, key: keys.dump, format: o.format, server: server.versionText, pgDump: pgDump.text },
      'backup starting',
    );

    const { size, sha256 } = await dumpAndUpload(o, ctx, s3, bin('pg_dump'), keys.dump, appName, secrets);
    try {
      const stored = await headSize(s3, o.s3.bucket, keys.dump);
      if (stored !== size) {
        throw new AgentFailure(
          'SizeMismatch',
          `S3 reports ${stored} bytes for ${keys.dump}, the agent streamed ${size}`,
        );
      }
      if (o.verify === 'full') {
        const back = await inspectStream(await getStream(s3, o.s3.bucket, keys.dump, ctx.signal), o.format);
        if (back.size !== size) {
          throw new AgentFailure('SizeMismatch', `read back ${back.size} bytes of ${keys.dump}, streamed ${size}`);
        }
        if (back.sha256 !== sha256) {
          throw new AgentFailure('ChecksumMismatch', `read-back sha256 ${back.sha256} differs from ${sha256}`);
        }
        ctx.log.info({ key: keys.dump, check: back.summary }, 'read back and re-hashed');
      }
      const completedAt = ctx.now();
      const manifest: Manifest = {
        apiVersion: MANIFEST_API_VERSION,
        kind: MANIFEST_KIND,
        schedule: o.schedule,
        runId: o.runId,
        bucket: o.s3.bucket,
        key: keys.dump,
        format: o.format,
        compression: o.format === 'plain' ? 'gzip' : 'pg_dump',
        size,
        sha256,
        database: { name: server.database, serverVersion: server.versionText, serverVersionNum: server.version.num },
        pgDumpVersion: pgDump.text,
        startedAt: startedAt.toISOString(),
        completedAt: completedAt.toISOString(),
        durationSeconds: (completedAt.getTime() - startedAt.getTime()) / 1000,
        agentVersion: ctx.agentVersion,
        verification: o.verify,
        ...(o.s3.sse ? { serverSideEncryption: o.s3.sse } : {}),
      };
      if (ctx.signal.aborted) throw new AgentFailure('Terminated', 'terminated before the manifest was written');
      await putText(s3, o.s3, keys.manifest, serializeManifest(manifest));
      ctx.log.info({ manifest: keys.manifest, size, sha256 }, 'backup complete');
      return { manifestKey: keys.manifest, manifest };
    } catch (err) {
      // The dump object without a manifest is not a backup; remove it so nothing mistakes it for one.
      const removed = await deleteQuietly(s3, o.s3.bucket, keys.dump);
      ctx.log.warn({ key: keys.dump, removed }, 'removing the unverified dump object');
      throw err;
    }
  } finally {
    s3.destroy();
  }
}

function dumpArgs(o: BackupOptions): string[] {
  const args = ['--no-password', '--verbose'];
  if (o.format === 'custom') args.push('--format=custom', `--compress=${o.compressLevel}`);
  else args.push('--format=plain');
  if (o.lockWaitTimeoutSeconds) args.push(`--lock-wait-timeout=${o.lockWaitTimeoutSeconds * 1000}`);
  return args;
}

/** The stage right after pg_dump: checks completeness, and holds the end of the stream until pg_dump has exited 0. */
function exitGate(o: BackupOptions, child: Child, secrets: (string | undefined)[], pacer: GcPacer): Transform {
  const plain = o.format === 'plain' ? new PlainDumpTail() : undefined;
  const walker = o.format === 'custom' ? new CustomArchiveWalker() : undefined;
  let archiveError: string | undefined;
  let bytes = 0;
  return new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _e, cb) {
      bytes += chunk.length;
      pacer.tick(chunk.length);
      plain?.push(chunk);
      if (walker && !archiveError) {
        try {
          walker.push(chunk);
        } catch (err) {
          archiveError = (err as Error).message;
        }
      }
      cb(null, chunk);
    },
    flush(cb) {
      child.exited.then(
        (exit) => {
          const stderr = summarizeStderr(child.stderr(), secrets);
          if (exit.signal) {
            return cb(
              new AgentFailure('DumpKilled', `pg_dump was ${describeExit(exit)} after ${bytes} bytes: ${stderr}`),
            );
          }
          if (exit.code !== 0) {
            const reason = CONNECTION_LOST.test(stderr) ? 'DumpConnectionLost' : 'DumpFailed';
            return cb(new AgentFailure(reason, `pg_dump failed (${describeExit(exit)}): ${stderr}`));
          }
          if (bytes === 0) return cb(new AgentFailure('DumpEmpty', 'pg_dump exited 0 but wrote nothing'));
          if (plain) {
            const p = plain.problem();
            if (p) return cb(new AgentFailure('DumpIncomplete', p));
          }
          if (walker) {
            if (!archiveError) {
              try {
                walker.end();
              } catch (err) {
                archiveError = (err as Error).message;
              }
            }
            if (archiveError) return cb(new AgentFailure('DumpIncomplete', archiveError));
          }
          cb();
        },
        (err: Error) => cb(new AgentFailure('ToolNotFound', err.message)),
      );
    },
  });
}

async function dumpAndUpload(
  o: BackupOptions,
  ctx: AgentContext,
  s3: S3Client,
  pgDumpPath: string,
  key: string,
  appName: string,
  secrets: (string | undefined)[],
): Promise<{ size: number; sha256: string }> {
  const child = startChild(pgDumpPath, dumpArgs(o), toolEnv(o.db.childEnv, ctx.env, appName));
  if (child.proc.pid !== undefined) ctx.onChild?.('pg_dump', child.proc.pid);
  const pacer = new GcPacer();
  const gate = exitGate(o, child, secrets, pacer);
  const hasher = new HashCounter();
  const stages: NodeJS.ReadWriteStream[] =
    o.format === 'plain'
      ? [gate, createGzip({ level: o.compressLevel, chunkSize: 256 * 1024 }), hasher]
      : [gate, hasher];
  const stopUpload = new AbortController();
  const upload = new PooledUpload(
    s3,
    {
      Bucket: o.s3.bucket,
      Key: key,
      ContentType: o.format === 'plain' ? 'application/gzip' : 'application/octet-stream',
      ...encryptionParams(o.s3),
    },
    o.s3.partSize,
    o.s3.queueSize,
    stopUpload.signal,
  );

  let first: unknown;
  const teardown = (err: unknown) => {
    first ??= err;
    child.kill('SIGKILL');
    child.proc.stdout?.destroy();
    for (const s of stages) (s as Transform).destroy();
    stopUpload.abort();
  };
  const onAbort = () => teardown(new AgentFailure('Terminated', 'the agent was told to stop'));
  ctx.signal.addEventListener('abort', onAbort, { once: true });

  let streamErr: unknown;
  let uploadErr: unknown;
  const piped = pipeline([child.proc.stdout!, ...stages]).catch((err: unknown) => {
    streamErr = err;
    teardown(err);
  });
  const uploaded = upload.run(hasher).catch((err: unknown) => {
    uploadErr = err;
    teardown(err);
  });
  try {
    await Promise.all([piped, uploaded]);
    await child.exited.catch(() => undefined);
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
  if (streamErr !== undefined || uploadErr !== undefined) {
    // The most specific cause wins: a dump problem found by the gate, then termination, then the upload's error.
    for (const e of [streamErr, first, uploadErr]) if (e instanceof AgentFailure && e.reason !== 'Terminated') throw e;
    if (first instanceof AgentFailure) throw first;
    if (uploadErr !== undefined) throw s3Failure(uploadErr, 'UploadFailed', `uploading s3://${o.s3.bucket}/${key}`);
    throw new AgentFailure('DumpFailed', `the dump stream failed: ${(streamErr as Error).message}`, {
      cause: streamErr,
    });
  }
  const mem = process.memoryUsage();
  ctx.log.info(
    {
      key,
      bytes: hasher.bytes,
      gc: { minor: pacer.minors, major: pacer.majors },
      memory: { rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external, arrayBuffers: mem.arrayBuffers },
    },
    'uploaded',
  );
  return { size: hasher.bytes, sha256: hasher.digest! };
}
