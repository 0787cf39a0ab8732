// The agent's contract with its caller (the BackupSchedule / DRDrill controllers read it from the Job's log):
// exactly one JSON line on stdout, written last —
//   {"result":"Succeeded","command":"backup","manifestKey":…,"key":…,"size":…,"sha256":…,…}
//   {"result":"Failed","command":"backup","reason":"DumpKilled","exitCode":5,"message":…,…}
// — and the process exit code of the failure's class (errors.ts). Logs are JSON (pino) on stderr, secrets redacted.
// The same line goes to the container's termination message file (/dev/termination-log, what Kubernetes copies into
// the pod's status.containerStatuses[].state.terminated.message) when that file exists and is writable, shortened to
// Kubernetes' 4096-byte limit (message first, then the parts list), so the controller reads the reason from the pod.
// peakRssBytes is the agent's own VmHWM (/proc/self/status): getrusage's maxrss starts from the parent's resident
// size at spawn (Linux keeps the pre-exec image's high-water mark), which made a 121 MiB "peak" out of the bench
// script's own memory.
import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { createLogger } from '../runtime/logger.js';
import { runBackup } from './backup.js';
import type { AgentContext } from './context.js';
import { runDecrypt } from './decrypt.js';
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
  /** The termination message file; written only when it exists and is writable. main.ts: /dev/termination-log. */
  terminationLog?: string;
}

export const TERMINATION_MESSAGE_LIMIT = 4096;

/** The result line cut to fit a termination message: the message shortened first, then the parts list dropped. */
export function terminationMessage(fields: Record<string, unknown>, limit = TERMINATION_MESSAGE_LIMIT): string {
  let line = JSON.stringify(fields);
  if (Buffer.byteLength(line) <= limit) return line;
  const f: Record<string, unknown> = { ...fields };
  if (typeof f.message === 'string') {
    const over = Buffer.byteLength(line) - limit;
    const msg = f.message;
    f.message = `${msg.slice(0, Math.max(0, msg.length - over - 40))}… (cut)`;
    line = JSON.stringify(f);
    if (Buffer.byteLength(line) <= limit) return line;
    f.message = '(cut: see the Job log)';
  }
  if (Array.isArray(f.parts)) {
    f.parts = (f.parts as { name?: string }[]).map((p) => p.name);
    line = JSON.stringify(f);
    if (Buffer.byteLength(line) <= limit) return line;
    delete f.parts;
  }
  line = JSON.stringify(f);
  if (Buffer.byteLength(line) <= limit) return line;
  const keep = ['result', 'command', 'reason', 'exitCode', 'manifestKey'];
  return JSON.stringify(Object.fromEntries(Object.entries(f).filter(([k]) => keep.includes(k))));
}

function writeTerminationLog(path: string | undefined, fields: Record<string, unknown>): void {
  if (!path) return;
  try {
    accessSync(path, constants.W_OK); // never create it: outside a pod there is no such file
    writeFileSync(path, terminationMessage(fields));
  } catch {
    // not in a container, or not writable: stdout has the line anyway
  }
}

/** The agent's own peak resident size (VmHWM); getrusage's maxrss as a fallback where /proc is missing. */
export function peakRssBytes(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
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
  const emit = (fields: Record<string, unknown>) => {
    const all = {
      ...fields,
      command,
      agentVersion: agentVersion(),
      startedAt: startedAt.toISOString(),
      completedAt: now().toISOString(),
      peakRssBytes: peakRssBytes(),
    };
    writeTerminationLog(io.terminationLog, all);
    io.out(JSON.stringify(all));
  };
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
        database: m.database?.name,
        serverVersion: m.database?.serverVersion,
        pgDumpVersion: m.pgDumpVersion,
        verification: m.verification,
        durationSeconds: m.durationSeconds,
        parts: (m.parts ?? []).map((p) => ({
          name: p.name,
          key: p.key,
          size: p.size,
          sha256: p.sha256,
          ...(p.items !== undefined ? { items: p.items } : {}),
        })),
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
    } else if (options.command === 'verify') {
      const r = await runVerify(options, ctx);
      emit({
        result: 'Succeeded',
        manifestKey: options.manifest,
        key: r.manifest.key,
        size: r.manifest.size,
        sha256: r.manifest.sha256,
        check: r.check,
        parts: r.parts,
      });
    } else {
      const r = await runDecrypt(options, ctx);
      emit({
        result: 'Succeeded',
        manifestKey: options.manifest,
        part: r.part.name,
        key: r.part.key,
        sha256: r.part.sha256,
        out: options.out,
        bytes: r.bytes,
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
