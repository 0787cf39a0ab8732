// Child processes (pg_dump, pg_restore, psql) with the checks a shell's `set -o pipefail` only half gives: the exit
// code AND the terminating signal are both inspected, spawn errors (tool missing) are their own failure, stderr is
// kept (bounded) for the failure message, and the child never outlives the run (kill() on every failure path).
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { TailBuffer } from './sanitize.js';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  proc: ChildProcess;
  /** Resolves when the process has exited and its stdio closed; rejects only when it could not be started. */
  exited: Promise<Exit>;
  stderr(): string;
  kill(signal?: NodeJS.Signals): void;
}

export class SpawnError extends Error {
  override readonly name = 'SpawnError';
}

export function startChild(
  command: string,
  args: string[],
  env: Record<string, string>,
  stdio: StdioOptions = ['ignore', 'pipe', 'pipe'],
): Child {
  const proc = spawn(command, args, { env, stdio });
  const tail = new TailBuffer();
  proc.stderr?.on('data', (d: Buffer) => tail.push(d));
  const exited = new Promise<Exit>((resolve, reject) => {
    proc.once('error', (err: NodeJS.ErrnoException) =>
      reject(new SpawnError(`cannot run ${command}: ${err.code ?? err.message}`, { cause: err })),
    );
    proc.once('close', (code, signal) => resolve({ code, signal }));
  });
  exited.catch(() => undefined);
  return {
    proc,
    exited,
    stderr: () => tail.toString(),
    kill: (signal = 'SIGKILL') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
  };
}

/** Runs a short command to completion, returning stdout; throws SpawnError / Error with stderr on failure. */
export async function runToCompletion(command: string, args: string[], env: Record<string, string>): Promise<string> {
  const c = startChild(command, args, env);
  const out: Buffer[] = [];
  c.proc.stdout?.on('data', (d: Buffer) => out.push(d));
  const exit = await c.exited;
  if (exit.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${describeExit(exit)}): ${c.stderr().trim()}`);
  }
  return Buffer.concat(out).toString('utf8');
}

export function describeExit(e: Exit): string {
  return e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`;
}

/**
 * Where pg_dump, pg_restore and psql are: --pg-bin when given, else the newest /usr/lib/postgresql/<N>/bin that has
 * them (Debian's layout, the image's postgresql-client-15), else PATH.
 */
export function resolvePgBin(explicit?: string): (tool: 'pg_dump' | 'pg_restore' | 'psql') => string {
  if (explicit) return (tool) => join(explicit, tool);
  const root = '/usr/lib/postgresql';
  let dir: string | undefined;
  try {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'pg_dump')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) dir = join(root, versions[0], 'bin');
  } catch {
    // no Debian layout: PATH
  }
  return (tool) => (dir ? join(dir, tool) : tool);
}

/** The environment for a PostgreSQL tool: only what it needs, the PG* settings, C locale for stable messages. */
export function toolEnv(
  pgEnv: Record<string, string>,
  base: NodeJS.ProcessEnv,
  appName: string,
): Record<string, string> {
  const env: Record<string, string> = { LC_ALL: 'C', LANG: 'C', PGAPPNAME: appName, PGCONNECT_TIMEOUT: '10' };
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'TZ']) if (base[k]) env[k] = base[k]!;
  return { ...env, ...pgEnv };
}
