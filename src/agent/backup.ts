// backup: pg_dump → (gzip) → sha256 → S3 multipart upload (upload.ts), one stream with no temporary file, then the
// other parts asked for (ConfigMaps, encrypted Secrets, data dirs: parts.ts), then read-back checks of every part,
// then the manifest. Pipefail semantics: the upload cannot complete before pg_dump's exit status
// and the dump's completeness are known — the stage right after pg_dump holds the end of the stream until then, and
// a failure there errors the stream, which makes the uploader abort the multipart upload instead of completing it.
// Any stage failing (pg_dump, gzip, the upload, the read-back) tears down every other stage, kills pg_dump, and ends
// the run with a specific reason and no manifest.
//
// Memory is bounded by the stream buffers plus the uploader's part buffers (partSize × (queueSize + 1)), whatever
// the size of the database; memory.ts keeps dead stream chunks from piling up between garbage collections.
import { stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import type { KubeClient } from '../kube/index.js';
import { CustomArchiveWalker, PlainDumpTail } from './archive.js';
import { ENCRYPTION_ALGORITHM, EncryptStream, keyId, loadEncryptionKey } from './crypto.js';
import { readBack, uploadStream } from './parts.js';
import { emptyTarStats, tarDirectory } from './tar.js';
import type { AgentContext } from './context.js';
import { AgentFailure } from './errors.js';
import { checkBucket, createS3Client, deleteQuietly, encryptionParams, getStream, putText, s3Failure } from './s3.js';
import { PooledUpload } from './upload.js';
import { HashCounter, inspectStream } from './inspect.js';
import { GcPacer } from './memory.js';
import { backupKeys, partKey } from './layout.js';
import {
  MANIFEST_API_VERSION,
  MANIFEST_KIND,
  serializeManifest,
  type Manifest,
  type ManifestPart,
} from './manifest.js';
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
  const withDb = o.parts.includes('database');
  const bin = resolvePgBin(o.pgBin);
  // Everything that can be refused is refused before anything is written: tools, key, paths, bucket, server, API.
  const pgDump = withDb ? await pgToolVersion(bin('pg_dump'), ctx) : undefined;
  const key = o.secrets === 'encrypted' && o.encryptionKeyFile ? loadEncryptionKey(o.encryptionKeyFile) : undefined;
  for (const d of o.dataDirs) await checkDataDir(d.path);
  const s3 = createS3Client(o.s3);
  let kube: KubeClient | undefined;
  try {
    await checkBucket(s3, o.s3.bucket);
    const appName = `smartcloudops-agent-${o.runId}`;
    let server: ServerInfo | undefined;
    if (withDb) {
      const client = await connect(o.db, appName);
      try {
        server = await serverInfo(client).catch((err: unknown) => {
          throw pgFailure(err, o.db, 'reading the server version');
        });
      } finally {
        await client.end().catch(() => undefined);
      }
      const compat = checkDumpCompatibility(server.version, pgDump!);
      if (!compat.ok) throw new AgentFailure(compat.reason, compat.message);
    }
    // The Kubernetes client and the YAML writer are loaded only for the config part (~12 MiB resident otherwise
    // carried by every run).
    const exporter = o.parts.includes('config') ? await import('./kubeexport.js') : undefined;
    if (exporter) {
      const { KubeClient } = await import('../kube/index.js');
      try {
        kube = await KubeClient.create({
          userAgent: `smartcloudops-agent/${ctx.agentVersion}`,
          env: ctx.env,
          ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
          timeoutMs: 30_000,
          log: ctx.log,
        });
      } catch (err) {
        throw new AgentFailure('ConfigExportFailed', `no Kubernetes credentials: ${(err as Error).message}`);
      }
      await exporter.checkAccess(kube, o.configNamespace!, key ? ['ConfigMap', 'Secret'] : ['ConfigMap'], ctx.signal);
    }
    const keys = backupKeys({
      prefix: o.s3.prefix,
      schedule: o.schedule,
      startedAt,
      runId: o.runId,
      format: o.format,
    });
    ctx.log.info(
      {
        bucket: o.s3.bucket,
        manifest: keys.manifest,
        parts: o.parts,
        ...(withDb ? { key: keys.dump, format: o.format, server: server!.versionText, pgDump: pgDump!.text } : {}),
      },
      'backup starting',
    );

    const parts: ManifestPart[] = [];
    try {
      if (withDb) {
        const { size, sha256 } = await dumpAndUpload(o, ctx, s3, bin('pg_dump'), keys.dump, appName, secrets);
        parts.push({
          name: 'database',
          kind: 'database',
          key: keys.dump,
          size,
          sha256,
          contentType: o.format === 'plain' ? 'application/gzip' : 'application/octet-stream',
          encoding: o.format === 'plain' ? 'gzip' : 'pg_dump',
        });
      }
      if (kube) {
        const ns = o.configNamespace!;
        const cm = { items: 0, skipped: 0 };
        const k = partKey(keys.manifest, 'configmaps');
        const got = await uploadStream(
          s3,
          o.s3,
          k,
          'application/gzip',
          exporter!.exportObjects(kube, 'ConfigMap', ns, cm, ctx.signal),
          [createGzip({ level: o.compressLevel })],
          ctx.signal,
        );
        parts.push({
          name: 'configmaps',
          kind: 'configmaps',
          key: k,
          ...got,
          contentType: 'application/gzip',
          encoding: 'gzip',
          source: ns,
          items: cm.items,
        });
        ctx.log.info({ key: k, namespace: ns, configMaps: cm.items, skipped: cm.skipped }, 'configmaps exported');
        if (key) {
          const st = { items: 0, skipped: 0 };
          const sk = partKey(keys.manifest, 'secrets');
          const sgot = await uploadStream(
            s3,
            o.s3,
            sk,
            'application/octet-stream',
            exporter!.exportObjects(kube, 'Secret', ns, st, ctx.signal),
            [createGzip({ level: o.compressLevel }), new EncryptStream(key)],
            ctx.signal,
          );
          parts.push({
            name: 'secrets',
            kind: 'secrets',
            key: sk,
            ...sgot,
            contentType: 'application/octet-stream',
            encoding: 'gzip+aes-256-gcm',
            source: ns,
            items: st.items,
            encryption: { algorithm: ENCRYPTION_ALGORITHM, keyId: keyId(key) },
          });
          ctx.log.info(
            { key: sk, namespace: ns, secrets: st.items, skipped: st.skipped },
            'secrets exported, encrypted',
          );
        }
      }
      for (const d of o.dataDirs) {
        const stats = emptyTarStats();
        const dk = partKey(keys.manifest, `data/${d.name}`);
        const got = await uploadStream(
          s3,
          o.s3,
          dk,
          'application/gzip',
          tarDirectory(d.path, stats),
          [createGzip({ level: o.compressLevel, chunkSize: 256 * 1024 })],
          ctx.signal,
        );
        parts.push({
          name: `data/${d.name}`,
          kind: 'data',
          key: dk,
          ...got,
          contentType: 'application/gzip',
          encoding: 'tar+gzip',
          source: d.path,
          items: stats.files,
        });
        ctx.log.info({ key: dk, path: d.path, ...stats }, 'data directory archived');
      }
      for (const part of parts) {
        await readBack(s3, o.s3.bucket, part, o.verify === 'full' && part.kind !== 'database', ctx.signal);
        if (o.verify === 'full' && part.kind === 'database') {
          // The dump is also checked for its format (completion marker / every data block) on the way back.
          const back = await inspectStream(await getStream(s3, o.s3.bucket, part.key, ctx.signal), o.format);
          if (back.size !== part.size) {
            throw new AgentFailure(
              'SizeMismatch',
              `read back ${back.size} bytes of ${part.key}, streamed ${part.size}`,
            );
          }
          if (back.sha256 !== part.sha256) {
            throw new AgentFailure('ChecksumMismatch', `read-back sha256 ${back.sha256} differs from ${part.sha256}`);
          }
          ctx.log.info({ key: part.key, check: back.summary }, 'read back and re-hashed');
        }
      }
      const db = parts.find((p) => p.kind === 'database');
      const completedAt = ctx.now();
      const manifest: Manifest = {
        apiVersion: MANIFEST_API_VERSION,
        kind: MANIFEST_KIND,
        schedule: o.schedule,
        runId: o.runId,
        bucket: o.s3.bucket,
        ...(db
          ? {
              key: db.key,
              format: o.format,
              compression: o.format === 'plain' ? ('gzip' as const) : ('pg_dump' as const),
              size: db.size,
              sha256: db.sha256,
              database: {
                name: server!.database,
                serverVersion: server!.versionText,
                serverVersionNum: server!.version.num,
              },
              pgDumpVersion: pgDump!.text,
            }
          : {}),
        startedAt: startedAt.toISOString(),
        completedAt: completedAt.toISOString(),
        durationSeconds: (completedAt.getTime() - startedAt.getTime()) / 1000,
        agentVersion: ctx.agentVersion,
        verification: o.verify,
        ...(o.s3.sse ? { serverSideEncryption: o.s3.sse } : {}),
        parts,
      };
      if (ctx.signal.aborted) throw new AgentFailure('Terminated', 'terminated before the manifest was written');
      await putText(s3, o.s3, keys.manifest, serializeManifest(manifest));
      ctx.log.info({ manifest: keys.manifest, parts: parts.map((p) => [p.name, p.size]) }, 'backup complete');
      return { manifestKey: keys.manifest, manifest };
    } catch (err) {
      // Objects without a manifest are not a backup; remove them so nothing mistakes them for one.
      for (const part of parts) {
        const removed = await deleteQuietly(s3, o.s3.bucket, part.key);
        ctx.log.warn({ key: part.key, removed }, 'removing an unverified part');
      }
      throw err;
    }
  } finally {
    kube?.close();
    s3.destroy();
  }
}

async function checkDataDir(path: string): Promise<void> {
  try {
    const st = await stat(path);
    if (!st.isDirectory()) throw new AgentFailure('DataDirUnreadable', `--data-dir ${path} is not a directory`);
  } catch (err) {
    if (err instanceof AgentFailure) throw err;
    throw new AgentFailure('DataDirUnreadable', `--data-dir ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
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
    highWaterMark: 256 * 1024, // per side; 1 MiB held 2–3 MiB more chunks alive for no speed (memory.ts)
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
