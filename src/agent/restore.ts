// restore: from a manifest into the database named by the PG* settings.
//
// Plain format streams: S3 → sha256 → gunzip → `psql -X -v ON_ERROR_STOP=1 --single-transaction`, with the --clean
// statements (if asked) first in the same transaction. psql commits only when its input ends, and the agent ends
// that input only after the object's size and sha256 matched the manifest; on a mismatch or any error psql is
// killed first (SIGKILL: no COMMIT is ever sent) and the server rolls everything back, clean included.
//
// Custom format downloads to a file in --work-dir (an emptyDir in the Job) first, because `pg_restore -j N` needs a
// seekable archive — in parallel ranged GETs (--download-streams, download.ts) hashed and walked in order behind them; the size, sha256 and archive structure are checked before the database is touched at all, so a
// bad object never reaches it. With --jobs 1 the restore runs as one transaction (--single-transaction); with
// --jobs > 1 pg_restore uses N connections and cannot be atomic: a failure half-way leaves a partial restore,
// reported as RestoreFailed (restore again with --clean). The file is deleted afterwards whatever happened.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import type { AgentContext } from './context.js';
import { AgentFailure } from './errors.js';
import { DEFAULT_RANGED, downloadRanged } from './download.js';
import { HashCounter } from './inspect.js';
import { GcPacer } from './memory.js';
import { databaseDump, parseManifest, type DatabaseDump, type Manifest } from './manifest.js';
import type { RestoreOptions } from './options.js';
import { cleanStatements, connect, pgFailure, serverInfo, userObjects } from './pg.js';
import { describeExit, resolvePgBin, startChild, toolEnv, type Child } from './proc.js';
import { createS3Client, getStream, getText, headSize } from './s3.js';
import { summarizeStderr } from './sanitize.js';

export interface RestoreResult {
  manifest: Manifest;
  database: string;
  cleaned: boolean;
  restoredBytes: number;
}

export async function loadManifest(s3: S3Client, bucket: string, key: string): Promise<Manifest> {
  const text = await getText(s3, bucket, key);
  try {
    return parseManifest(text);
  } catch (err) {
    throw new AgentFailure('ManifestInvalid', `s3://${bucket}/${key}: ${(err as Error).message}`);
  }
}

/** The manifest's dump, or PartNotFound for a backup made without the database part. */
export function requireDump(m: Manifest, manifestKey: string): DatabaseDump {
  const d = databaseDump(m);
  if (!d)
    throw new AgentFailure(
      'PartNotFound',
      `${manifestKey} has no database part (parts: ${(m.parts ?? []).map((p) => p.name).join(', ')})`,
    );
  return d;
}

/** HEAD the dump and compare with the manifest: a cheap, early refusal of a truncated or replaced object. */
export async function checkStoredSize(
  s3: S3Client,
  bucket: string,
  m: Pick<DatabaseDump, 'key' | 'size'>,
): Promise<void> {
  const size = await headSize(s3, bucket, m.key);
  if (size !== m.size) {
    throw new AgentFailure('SizeMismatch', `s3://${bucket}/${m.key} has ${size} bytes, the manifest says ${m.size}`);
  }
}

const conninfoValue = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export async function runRestore(o: RestoreOptions, ctx: AgentContext): Promise<RestoreResult> {
  const secrets = [o.db.password, o.s3.credentials?.secretAccessKey, o.s3.credentials?.sessionToken];
  const bin = resolvePgBin(o.pgBin);
  const s3 = createS3Client(o.s3);
  try {
    const manifest = await loadManifest(s3, o.s3.bucket, o.manifest);
    const m = requireDump(manifest, o.manifest);
    await checkStoredSize(s3, o.s3.bucket, m);
    const appName = 'smartcloudops-agent-restore';
    const client = await connect(o.db, appName);
    let clean = '';
    let database: string;
    try {
      const info = await serverInfo(client);
      database = info.database;
      const objects = await userObjects(client);
      const count = objects.relations + objects.routines + objects.schemas;
      if (count > 0 && !o.clean) {
        throw new AgentFailure(
          'TargetNotEmpty',
          `database "${database}" is not empty (${objects.relations} relations, ${objects.routines} functions, ` +
            `${objects.schemas} schemas besides public); restore into an empty database or pass --clean`,
        );
      }
      if (o.clean) clean = await cleanStatements(client, info.version);
    } catch (err) {
      throw pgFailure(err, o.db, 'inspecting the restore target');
    } finally {
      await client.end().catch(() => undefined);
    }
    ctx.log.info({ manifest: o.manifest, key: m.key, format: m.format, database, clean: o.clean }, 'restore starting');
    // Restore sessions: more memory for index builds, no waiting for WAL flushes (a failed restore is redone anyway).
    // An explicit PGOPTIONS wins.
    const env = {
      PGOPTIONS: `-c maintenance_work_mem=${o.maintenanceWorkMem} -c synchronous_commit=off`,
      ...toolEnv(o.db.childEnv, ctx.env, appName),
    };
    const restoredBytes =
      m.format === 'plain'
        ? await restorePlain(o, ctx, s3, m, bin('psql'), env, clean, secrets)
        : await restoreCustom(o, ctx, s3, m, bin('pg_restore'), env, database, clean, secrets);
    ctx.log.info({ database, bytes: restoredBytes }, 'restore complete');
    return { manifest, database, cleaned: o.clean, restoredBytes };
  } finally {
    s3.destroy();
  }
}

function checkAgainstManifest(m: DatabaseDump, size: number, sha256: string): AgentFailure | undefined {
  if (size !== m.size)
    return new AgentFailure('SizeMismatch', `read ${size} bytes of ${m.key}, the manifest says ${m.size}`);
  if (sha256 !== m.sha256) {
    return new AgentFailure('ChecksumMismatch', `${m.key} has sha256 ${sha256}, the manifest says ${m.sha256}`);
  }
  return undefined;
}

function toolFailure(
  tool: string,
  child: Child,
  exit: { code: number | null; signal: NodeJS.Signals | null },
  secrets: (string | undefined)[],
) {
  return new AgentFailure(
    'RestoreFailed',
    `${tool} failed (${describeExit(exit)}): ${summarizeStderr(child.stderr(), secrets)}`,
  );
}

async function restorePlain(
  o: RestoreOptions,
  ctx: AgentContext,
  s3: S3Client,
  m: DatabaseDump,
  psql: string,
  env: Record<string, string>,
  clean: string,
  secrets: (string | undefined)[],
): Promise<number> {
  const child = startChild(
    psql,
    ['-X', '-q', '--no-password', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-f', '-'],
    env,
    ['pipe', 'ignore', 'pipe'],
  );
  if (child.proc.pid !== undefined) ctx.onChild?.('psql', child.proc.pid);
  const stdin = child.proc.stdin!;
  stdin.on('error', () => undefined); // EPIPE when psql stops early: its exit status says why
  const hasher = new HashCounter(new GcPacer(1024 * 1024, 16 * 1024 * 1024));
  let verdict: AgentFailure | undefined;
  // Forwards to psql with backpressure; ends psql's input (= lets it COMMIT) only after the checksum matched.
  const sink = new Writable({
    highWaterMark: 256 * 1024, // psql reads 8 KiB at a time: more buffered here only holds chunks alive
    write(chunk: Buffer, _e, cb) {
      if (stdin.write(chunk)) cb();
      else stdin.once('drain', () => cb());
    },
    final(cb) {
      verdict = checkAgainstManifest(m, hasher.bytes, hasher.digest ?? '');
      if (verdict) {
        child.kill('SIGKILL');
        return cb(verdict);
      }
      stdin.end(cb);
    },
    destroy(err, cb) {
      if (err) child.kill('SIGKILL');
      cb(err);
    },
  });
  const onAbort = () => sink.destroy(new AgentFailure('Terminated', 'the agent was told to stop'));
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const psqlDied = child.exited.then((exit) => {
    // psql exiting before its input ended (an SQL error with ON_ERROR_STOP) stops the stream.
    if (!sink.writableFinished) sink.destroy(toolFailure('psql', child, exit, secrets));
    return exit;
  });
  try {
    if (clean) stdin.write(clean); // a few statements: buffered by the pipe, not worth waiting on (psql may be gone)
    const body = await getStream(s3, o.s3.bucket, m.key, ctx.signal);
    await pipeline(body, hasher, createGunzip(), sink);
  } catch (err) {
    child.kill('SIGKILL');
    await child.exited.catch(() => undefined);
    if (err instanceof AgentFailure) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code?.startsWith('Z_')) {
      throw new AgentFailure('ArchiveInvalid', `${m.key} is not a valid gzip stream: ${e.message}`, { cause: err });
    }
    throw new AgentFailure('DownloadFailed', `reading ${m.key} failed: ${e.message}`, { cause: err });
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
  const exit = await psqlDied;
  if (exit.code !== 0 || exit.signal) throw toolFailure('psql', child, exit, secrets);
  return hasher.bytes;
}

async function restoreCustom(
  o: RestoreOptions,
  ctx: AgentContext,
  s3: S3Client,
  m: DatabaseDump,
  pgRestore: string,
  env: Record<string, string>,
  database: string,
  clean: string,
  secrets: (string | undefined)[],
): Promise<number> {
  const file = join(o.workDir, `smartcloudops-restore-${randomBytes(6).toString('hex')}.dump`);
  try {
    const t0 = performance.now();
    // The size was checked by HEAD against the manifest: fetch that many bytes in parallel ranges (download.ts).
    const got = await downloadRanged(s3, o.s3.bucket, m.key, m.size, file, ctx.signal, {
      ...DEFAULT_RANGED,
      streams: o.downloadStreams,
    });
    const bad = checkAgainstManifest(m, got.size, got.sha256);
    if (bad) throw bad;
    const downloadMs = Math.round(performance.now() - t0);
    ctx.log.info({ file, check: got.summary, downloadMs }, 'archive downloaded and verified');
    if (clean) {
      const c = await connect(o.db, 'smartcloudops-agent-restore');
      try {
        await c.query(`BEGIN;\n${clean}COMMIT;`);
      } catch (err) {
        throw new AgentFailure('RestoreFailed', `--clean failed: ${pgFailure(err, o.db, 'clean').message}`);
      } finally {
        await c.end().catch(() => undefined);
      }
    }
    const args = [
      '--no-password',
      '--exit-on-error',
      `--dbname=dbname=${conninfoValue(database)}`,
      ...(o.jobs > 1 ? [`--jobs=${o.jobs}`] : ['--single-transaction']),
      file,
    ];
    const child = startChild(pgRestore, args, env);
    if (child.proc.pid !== undefined) ctx.onChild?.('pg_restore', child.proc.pid);
    const onAbort = () => child.kill('SIGKILL');
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const t1 = performance.now();
    try {
      const exit = await child.exited;
      if (ctx.signal.aborted) throw new AgentFailure('Terminated', 'the agent was told to stop');
      if (exit.code !== 0 || exit.signal) throw toolFailure('pg_restore', child, exit, secrets);
      ctx.log.info({ jobs: o.jobs, pgRestoreMs: Math.round(performance.now() - t1) }, 'pg_restore done');
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
    return got.size;
  } finally {
    rmSync(file, { force: true });
  }
}
