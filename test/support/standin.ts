// Runs the stand-in app (the same bundle the image carries) as a local process for tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleStandIn } from '../../hack/images/standin/bundle.js';

export interface RunningStandIn {
  proc: ChildProcess;
  port: number;
  ports: number[];
  tlsPort?: number;
  url: string;
  output: () => string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>;
  stop: () => Promise<number | string>;
}

export async function bundleOnce(): Promise<{ file: string; cleanup: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'standin-'));
  const file = await bundleStandIn(join(dir, 'standin.cjs'));
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts the bundle with `env` (PORT=0 unless given) and waits for its "listening" line, or for it to exit. */
export function startStandIn(bundle: string, env: Record<string, string>, timeoutMs = 10_000): Promise<RunningStandIn> {
  const proc = spawn(process.execPath, [bundle], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', TLS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | string>((resolve) =>
    proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`stand-in did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        let msg: { msg?: string; port?: number; ports?: number[]; tlsPort?: number };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          continue;
        }
        if (msg.msg !== 'listening' || !msg.port) continue;
        clearTimeout(timer);
        proc.stdout?.off('data', onData);
        proc.stdout?.on('data', (x: Buffer) => (out += x.toString()));
        const port = msg.port;
        resolve({
          proc,
          port,
          ports: msg.ports ?? [port],
          ...(msg.tlsPort ? { tlsPort: msg.tlsPort } : {}),
          url: `http://127.0.0.1:${port}`,
          output: () => out,
          exited,
          stop: () => {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
            return exited;
          },
        });
        return;
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`stand-in exited (${code}) before listening:\n${out}`), { code, output: out }));
    });
  });
}

/** CPU time (user + system) the process has used, in ms, from /proc. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11], fields[12] are utime and stime (fields 14 and 15 of the whole line) in clock ticks (100/s).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
