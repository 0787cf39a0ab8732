// Process management for the local cluster: start detached daemons with their output in a log file, remember
// exactly which process we started (PID + kernel start time, so a reused PID is never mistaken for ours), and stop
// only those processes.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProcRecord {
  name: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat: the process start time in clock ticks since boot. */
  startTime: string;
  command: string;
  log: string;
  /** The signal that shuts the process down cleanly (PostgreSQL: SIGINT, a "fast" shutdown). */
  stopSignal?: NodeJS.Signals;
}

export class ClusterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterError';
  }
}

export function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); field 22 is rest[19].
    if (rest[0] === 'Z') return undefined; // a zombie is not running
    return rest[19];
  } catch {
    return undefined;
  }
}

/** True when the process recorded in `rec` is still the very process we started. */
export function isOurs(rec: ProcRecord): boolean {
  return procStartTime(rec.pid) === rec.startTime;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  log: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
  stopSignal?: NodeJS.Signals;
}

export async function startDaemon(opts: StartOptions): Promise<ProcRecord> {
  if (!existsSync(opts.command)) {
    throw new ClusterError(`${opts.name}: binary ${opts.command} does not exist`);
  }
  const fd = openSync(opts.log, 'a');
  try {
    const child = spawn(opts.command, opts.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      uid: opts.uid,
      gid: opts.gid,
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (err) =>
        reject(new ClusterError(`${opts.name}: could not start ${opts.command}: ${err.message}`)),
      );
      child.once('spawn', () => resolve(child.pid as number));
    });
    child.unref();
    const startTime = procStartTime(pid);
    if (startTime === undefined) {
      throw new ClusterError(
        `${opts.name} exited right after starting (log: ${opts.log}); last lines:\n${tailFile(opts.log)}`,
      );
    }
    return { name: opts.name, pid, startTime, command: opts.command, log: opts.log, stopSignal: opts.stopSignal };
  } finally {
    closeSync(fd);
  }
}

/** The process's stop signal (SIGTERM by default), wait up to graceMs, then SIGKILL. Only touches the process if it is still ours. */
export async function stopProcess(rec: ProcRecord, graceMs = 10_000): Promise<'stopped' | 'gone' | 'killed'> {
  if (!isOurs(rec)) return 'gone';
  try {
    process.kill(rec.pid, rec.stopSignal ?? 'SIGTERM');
  } catch {
    return 'gone';
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isOurs(rec)) return 'stopped';
    await sleep(100);
  }
  try {
    process.kill(rec.pid, 'SIGKILL');
  } catch {
    return 'stopped';
  }
  for (let i = 0; i < 50 && isOurs(rec); i++) await sleep(100);
  return 'killed';
}

export function tailFile(path: string, lines = 30): string {
  try {
    const text = readFileSync(path, 'utf8').trimEnd().split('\n');
    return text
      .slice(-lines)
      .map((l) => `    | ${l}`)
      .join('\n');
  } catch {
    return `    | (no log at ${path})`;
  }
}

/** Resolves when the TCP port can be bound on 127.0.0.1, rejects with a message naming the holder otherwise. */
export async function assertPortFree(port: number, what: string, envVar: string): Promise<void> {
  const free = await new Promise<boolean>((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
  if (free) return;
  const holder = portHolder(port);
  throw new ClusterError(
    `port ${port} for ${what} is already in use${holder ? ` by ${holder}` : ''}; stop that process or choose another port with ${envVar}=<port>`,
  );
}

/** Best effort: "pid 123 (redis-server)" for the process listening on the port, from /proc. */
export function portHolder(port: number): string | undefined {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is cols[1] ("0100007F:1F90"), st is cols[3] ("0A" = LISTEN), inode is cols[9].
      if (cols[1]?.endsWith(`:${hex}`) && cols[3] === '0A' && cols[9]) inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1] as string)) {
          const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
          return `pid ${pid} (${comm})`;
        }
      } catch {
        /* raced with the process */
      }
    }
  }
  return undefined;
}

export interface WaitOptions {
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** Checked between probes: when the process has died there is no point in waiting on. */
  proc?: ProcRecord;
}

/** Polls `probe` until it returns true. The last probe error is part of the timeout message. */
export async function waitFor(probe: () => Promise<boolean>, opts: WaitOptions): Promise<number> {
  const start = Date.now();
  let lastError = '';
  for (;;) {
    try {
      if (await probe()) return Date.now() - start;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (opts.proc && !isOurs(opts.proc)) {
      throw new ClusterError(
        `${opts.what} exited before becoming ready (log: ${opts.proc.log}); last lines:\n${tailFile(opts.proc.log)}`,
      );
    }
    if (Date.now() - start > opts.timeoutMs) {
      const where = opts.proc ? ` (log: ${opts.proc.log}); last lines:\n${tailFile(opts.proc.log)}` : '';
      throw new ClusterError(
        `${opts.what} did not become ready within ${Math.round(opts.timeoutMs / 1000)}s` +
          `${lastError ? `; last probe error: ${lastError}` : ''}${where}`,
      );
    }
    await sleep(opts.intervalMs ?? 250);
  }
}
