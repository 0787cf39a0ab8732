// The agent's contract with its caller (the BackupSchedule / DRDrill controllers read it from the Job's log):
// exactly one JSON line on stdout, written last —
//   {"result":"Succeeded","command":"backup","manifestKey":…,"key":…,"size":…,"sha256":…,…}
//   {"result":"Failed","command":"backup","reason":"DumpKilled","exitCode":5,"message":…,…}
// — and the process exit code of the failure's class (errors.ts). Logs are JSON (pino) on stderr, secrets redacted.
import { readFileSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { createLogger } from '../runtime/logger.js';
import { runBackup } from './backup.js';
import type { AgentContext } from './context.js';
import { AgentFailure } from './errors.js';
import { parseArgs, type AgentOptions } from './options.js';
import { runRestore } from './restore.js';
import { redact } from './sanitize.js';
import { runVerify } from './verify.js';

export interface AgentIo {
  env: NodeJS.ProcessEnv;
  /** Where the result line goes (stdout). */
  out: (line: string) => void;
  /** Log destination (stderr); a pino destination stream. */
  logTo?: pino.DestinationStream;
  now?: () => Date;
  signal?: AbortSignal;
  onChild?: (tool: string, pid: number) => void;
}

let cachedVersion: string | undefined;
/** package.json is two levels up from both src/agent/*.ts and dist/agent/*.js. */
export function agentVersion(): string {
  if (!cachedVersion) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
        version?: string;
      };
      cachedVersion = pkg.version ?? 'unknown';
    } catch {
      cachedVersion = 'unknown';
    }
  }
  return cachedVersion;
}

function createAgentLogger(level: AgentOptions['logLevel'], to?: pino.DestinationStream): Logger {
  // The operator's logger: secrets redacted by key name at any depth (PGPASSWORD, env values, access keys) and in
  // free text (URL userinfo, password=… pairs), errors and stacks included.
  return createLogger(level, to ?? pino.destination({ dest: 2, sync: true }), 'smartcloudops-agent');
}

export async function runAgent(argv: readonly string[], io: AgentIo): Promise<number> {
  const now = io.now ?? (() => new Date());
  const startedAt = now();
  const command = argv[0] ?? '';
  const emit = (fields: Record<string, unknown>) =>
    io.out(
      JSON.stringify({
        ...fields,
        command,
        agentVersion: agentVersion(),
        startedAt: startedAt.toISOString(),
        completedAt: now().toISOString(),
        peakRssBytes: process.resourceUsage().maxRSS * 1024,
      }),
    );
  let options: AgentOptions | undefined;
  let log = createAgentLogger('info', io.logTo);
  try {
    options = parseArgs(argv, io.env);
    log = createAgentLogger(options.logLevel, io.logTo);
    const ctx: AgentContext = {
      env: io.env,
      log,
      now,
      signal: io.signal ?? new AbortController().signal,
      agentVersion: agentVersion(),
      ...(io.onChild ? { onChild: io.onChild } : {}),
    };
    if (options.command === 'backup') {
      const r = await runBackup(options, ctx);
      const m = r.manifest;
      emit({
        result: 'Succeeded',
        bucket: m.bucket,
        key: m.key,
        manifestKey: r.manifestKey,
        size: m.size,
        sha256: m.sha256,
        format: m.format,
        database: m.database.name,
        serverVersion: m.database.serverVersion,
        pgDumpVersion: m.pgDumpVersion,
        verification: m.verification,
        durationSeconds: m.durationSeconds,
      });
    } else if (options.command === 'restore') {
      const r = await runRestore(options, ctx);
      emit({
        result: 'Succeeded',
        manifestKey: options.manifest,
        key: r.manifest.key,
        format: r.manifest.format,
        sha256: r.manifest.sha256,
        size: r.manifest.size,
        database: r.database,
        cleaned: r.cleaned,
        jobs: r.manifest.format === 'custom' ? options.jobs : 1,
      });
    } else {
      const r = await runVerify(options, ctx);
      emit({
        result: 'Succeeded',
        manifestKey: options.manifest,
        key: r.manifest.key,
        size: r.manifest.size,
        sha256: r.manifest.sha256,
        check: r.check,
      });
    }
    return 0;
  } catch (err) {
    const secrets = [
      options?.db.password,
      options?.s3.credentials?.secretAccessKey,
      options?.s3.credentials?.sessionToken,
      io.env.PGPASSWORD,
      io.env.AWS_SECRET_ACCESS_KEY,
    ];
    const failure =
      err instanceof AgentFailure
        ? err
        : new AgentFailure('InternalError', `${(err as Error)?.stack ?? String(err)}`, { cause: err });
    const message = redact(failure.message, secrets);
    log.error({ reason: failure.reason, exitCode: failure.exitCode }, message);
    emit({
      result: 'Failed',
      reason: failure.reason,
      exitCode: failure.exitCode,
      message,
      ...(options?.command === 'backup' ? { runId: options.runId, schedule: options.schedule } : {}),
      ...(options && options.command !== 'backup' ? { manifestKey: options.manifest } : {}),
    });
    return failure.exitCode;
  }
}
