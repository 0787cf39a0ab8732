// Each way a backup can fail ends in a failed run with a specific reason, the exit code of its class, no manifest
// and no dump object left behind: wrong password, the database ending the dump's session, pg_dump killed, a missing
// bucket, the S3 server going away mid-upload, a server newer than pg_dump, missing tools, and the agent told to stop.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { s3Env } from '../support/env.js';
import { admin, agent, agentEnv, createDatabase, dropDatabase, listKeys, rand, seed } from '../support/agent.js';

const id = rand();
const source = `agent_fail_${id}`;
const big = `agent_big_${id}`;
const prefix = `it-agent-fail/${id}`;

beforeAll(async () => {
  await createDatabase(source);
  await seed(source, 500);
});

afterAll(async () => {
  await dropDatabase(source);
  await dropDatabase(big);
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Holds an ACCESS EXCLUSIVE lock on a table so that pg_dump (which locks every table first) waits on it. */
async function withTableLocked<T>(fn: (lock: pg.Client) => Promise<T>): Promise<T> {
  const pgmod = (await import('pg')).default;
  const { postgresEnv } = await import('../support/env.js');
  const lock = new pgmod.Client({ ...postgresEnv(), database: source });
  await lock.connect();
  try {
    await lock.query('BEGIN; LOCK TABLE app.users IN ACCESS EXCLUSIVE MODE');
    return await fn(lock);
  } finally {
    await lock.query('ROLLBACK').catch(() => undefined);
    await lock.end();
  }
}

/** The pg_dump session of a run, once it is waiting for a lock. */
const blockedDumpBackend = (runId: string) =>
  waitFor(`pg_dump of ${runId} waiting on the lock`, () =>
    admin(async (c) => {
      const r = await c.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
        [`smartcloudops-agent-${runId}`],
      );
      return r.rows[0]?.pid;
    }),
  );

async function expectNothingStored(schedule: string): Promise<void> {
  expect(await listKeys(`${prefix}/${schedule}/`)).toEqual([]);
}

describe('backup failures', () => {
  test('wrong database password → DatabaseAuthFailed before pg_dump runs; the password is in no output', async () => {
    const wrong = `wrong-${rand()}-password`;
    let started = 0;
    const run = await agent(
      ['backup', `--prefix=${prefix}`, '--schedule=auth'],
      agentEnv(source, { PGPASSWORD: wrong }),
      { onChild: () => started++ },
    );
    expect(run.result).toMatchObject({ result: 'Failed', reason: 'DatabaseAuthFailed', exitCode: 3 });
    expect(run.code).toBe(3);
    expect(run.result.message).toMatch(/password authentication failed for user "postgres"/);
    expect(started).toBe(0);
    expect(run.stdout + run.logs).not.toContain(wrong);
    await expectNothingStored('auth');
  });

  test('the database ends the dump session mid-dump (pg_terminate_backend) → DumpConnectionLost', async () => {
    await withTableLocked(async () => {
      const runId = `term-${rand()}`;
      const pending = agent(['backup', `--prefix=${prefix}`, '--schedule=term', `--run-id=${runId}`], agentEnv(source));
      const backend = await blockedDumpBackend(runId);
      await admin((c) => c.query('SELECT pg_terminate_backend($1)', [backend]));
      const run = await pending;
      expect(run.result).toMatchObject({ result: 'Failed', reason: 'DumpConnectionLost', exitCode: 5, runId });
      expect(run.result.message).toMatch(/pg_dump failed \(exit code 1\).*terminating connection/);
    });
    await expectNothingStored('term');
  });

  test.each(['plain', 'custom'])('pg_dump killed with SIGKILL (%s) → DumpKilled', async (format) => {
    await withTableLocked(async () => {
      const runId = `kill-${rand()}`;
      let pid = 0;
      const pending = agent(
        ['backup', `--prefix=${prefix}`, `--schedule=kill-${format}`, `--run-id=${runId}`, `--format=${format}`],
        agentEnv(source),
        { onChild: (tool, p) => tool === 'pg_dump' && (pid = p) },
      );
      await blockedDumpBackend(runId);
      expect(pid).toBeGreaterThan(0);
      process.kill(pid, 'SIGKILL');
      const run = await pending;
      expect(run.result).toMatchObject({ result: 'Failed', reason: 'DumpKilled', exitCode: 5 });
      expect(run.result.message).toMatch(/pg_dump was killed by SIGKILL/);
    });
    await expectNothingStored(`kill-${format}`);
  });

  test('a missing bucket → BucketNotFound before pg_dump runs', async () => {
    let started = 0;
    const run = await agent(['backup', `--bucket=missing-${id}`, '--schedule=nobucket'], agentEnv(source), {
      onChild: () => started++,
    });
    expect(run.result).toMatchObject({ result: 'Failed', reason: 'BucketNotFound', exitCode: 6 });
    expect(run.result.message).toMatch(new RegExp(`missing-${id}`));
    expect(started).toBe(0);
  });

  test('wrong S3 credentials → StorageAccessDenied; the secret is in no output', async () => {
    const secret = `bad-secret-${rand()}`;
    const run = await agent(['backup', '--schedule=creds'], agentEnv(source, { AWS_SECRET_ACCESS_KEY: secret }));
    expect(run.result).toMatchObject({ result: 'Failed', reason: 'StorageAccessDenied', exitCode: 6 });
    expect(run.stdout + run.logs).not.toContain(secret);
  });

  test('the S3 server becomes unreachable mid-upload → StorageUnreachable, pg_dump stopped, nothing stored', async () => {
    await createDatabase(big);
    // ~15 MB of incompressible-ish text: the gzip stream spans several 5 MiB parts.
    await admin(
      (c) =>
        c.query(`CREATE TABLE blob AS SELECT g AS id,
          (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 16) i) AS body
          FROM generate_series(1, 30000) g`),
      big,
    );
    const target = new URL(s3Env().endpoint);
    const sockets = new Set<net.Socket>();
    let forwarded = 0;
    let cut = false;
    const proxy = net.createServer((client) => {
      const upstream = net.connect(Number(target.port), target.hostname);
      sockets.add(client).add(upstream);
      client.on('data', (d: Buffer) => {
        forwarded += d.length;
        if (!cut && forwarded > 6 * 1024 * 1024) {
          // The server "goes away": stop listening and drop every connection mid-request.
          cut = true;
          proxy.close();
          for (const s of sockets) s.destroy();
        }
      });
      client.pipe(upstream).pipe(client);
      client.on('error', () => undefined);
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as net.AddressInfo).port;
    let pid = 0;
    try {
      const run = await agent(
        ['backup', `--prefix=${prefix}`, '--schedule=cut', '--part-size-mib=5', '--queue-size=1'],
        agentEnv(big, { S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_MAX_ATTEMPTS: '2' }),
        { onChild: (tool, p) => tool === 'pg_dump' && (pid = p) },
      );
      expect(cut).toBe(true);
      expect(run.result).toMatchObject({ result: 'Failed', reason: 'StorageUnreachable', exitCode: 6 });
      expect(run.result.message).toMatch(/ECONNREFUSED|ECONNRESET|socket hang up/);
      expect(pid).toBeGreaterThan(0);
      expect(alive(pid)).toBe(false);
    } finally {
      proxy.close();
      for (const s of sockets) s.destroy();
    }
    await expectNothingStored('cut');
    // The dump's database session is gone too.
    await waitFor('the dump session to end', () =>
      admin(async (c) => {
        const r = await c.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'smartcloudops-agent-%' AND datname = $1`,
          [big],
        );
        return r.rowCount === 0 ? true : undefined;
      }),
    );
  }, 60_000);

  test('a server newer than the image pg_dump is refused before anything runs', async () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'agent-pgbin-'));
    writeFileSync(join(dir, 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 14.11 (Debian 14.11-1)"\n');
    chmodSync(join(dir, 'pg_dump'), 0o755);
    let started = 0;
    const run = await agent(['backup', `--prefix=${prefix}`, '--schedule=newer', `--pg-bin=${dir}`], agentEnv(source), {
      onChild: () => started++,
    });
    expect(run.result).toMatchObject({ result: 'Failed', reason: 'ServerNewerThanPgDump', exitCode: 4 });
    expect(run.result.message).toMatch(/server is version 15\.\d+ but this image's pg_dump is 14\.11/);
    expect(started).toBe(0);
    const missing = await agent(['backup', '--schedule=notool', `--pg-bin=${join(dir, 'nope')}`], agentEnv(source));
    expect(missing.result).toMatchObject({ result: 'Failed', reason: 'ToolNotFound', exitCode: 4 });
    await expectNothingStored('newer');
  });

  test.each([
    ['plain', 'nothing', 'DumpEmpty', '', /wrote nothing/],
    ['plain', 'a dump without its completion marker', 'DumpIncomplete', 'head -c 3000 "$DUMP_PLAIN"', /marker/],
    [
      'custom',
      'an archive cut in its TOC',
      'DumpIncomplete',
      'head -c 3000 "$DUMP_CUSTOM"',
      /truncated: it ends after 3000 bytes, in the TOC/,
    ],
    [
      'custom',
      'an archive missing its last 100 bytes',
      'DumpIncomplete',
      'head -c $(( $(wc -c < "$DUMP_CUSTOM") - 100 )) "$DUMP_CUSTOM"',
      /truncated: it ends after \d+ bytes, in the data/,
    ],
  ])('%s: pg_dump exiting 0 after writing %s → %s, nothing stored', async (format, _what, reason, body, message) => {
    // A stand-in pg_dump that reports the real version and then writes a damaged dump taken from the real one.
    const dir = mkdtempSync(join(os.tmpdir(), 'agent-fake-'));
    const real = '/usr/lib/postgresql/15/bin/pg_dump';
    const env = agentEnv(source);
    const dumpTo = (args: string[], file: string) =>
      new Promise<void>((resolve, reject) => {
        const p = spawn(real, [...args, `--file=${file}`], { env, stdio: 'ignore' });
        p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`pg_dump exited ${code}`))));
      });
    await dumpTo(['--format=plain'], join(dir, 'full.sql'));
    await dumpTo(['--format=custom'], join(dir, 'full.dump'));
    writeFileSync(
      join(dir, 'pg_dump'),
      `#!/bin/sh\ncase "$*" in *--version*) exec ${real} --version;; esac\n` +
        `DUMP_PLAIN=${join(dir, 'full.sql')}; DUMP_CUSTOM=${join(dir, 'full.dump')}\n${body}\nexit 0\n`,
    );
    chmodSync(join(dir, 'pg_dump'), 0o755);
    const schedule = `fake-${format}-${reason.toLowerCase()}`;
    const run = await agent(
      ['backup', `--prefix=${prefix}`, `--schedule=${schedule}`, `--format=${format}`, `--pg-bin=${dir}`],
      env,
    );
    expect(run.result).toMatchObject({ result: 'Failed', reason, exitCode: 5 });
    expect(run.result.message).toMatch(message);
    await expectNothingStored(schedule);
  });

  test('SIGTERM to the agent (its Job deadline) stops pg_dump and ends the run as Terminated', async () => {
    await withTableLocked(async () => {
      const runId = `stop-${rand()}`;
      const stop = new AbortController();
      let pid = 0;
      const pending = agent(
        ['backup', `--prefix=${prefix}`, '--schedule=stop', `--run-id=${runId}`],
        agentEnv(source),
        {
          signal: stop.signal,
          onChild: (tool, p) => tool === 'pg_dump' && (pid = p),
        },
      );
      await blockedDumpBackend(runId);
      stop.abort();
      const run = await pending;
      expect(run.result).toMatchObject({ result: 'Failed', reason: 'Terminated', exitCode: 10 });
      expect(alive(pid)).toBe(false);
    });
    await expectNothingStored('stop');
  });
});

describe('the command line', () => {
  test('one JSON result line on stdout, JSON logs on stderr, the exit code of the failure class', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/agent/main.ts', 'backup', `--bucket=missing-${id}`, '--schedule=cli'],
      { env: agentEnv(source), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code).toBe(6);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ result: 'Failed', reason: 'BucketNotFound', exitCode: 6 });
    const logs = stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs.at(-1)).toMatchObject({ level: 'error', logger: 'smartcloudops-agent', reason: 'BucketNotFound' });
    expect(stdout + stderr).not.toContain(agentEnv(source).PGPASSWORD!);
  }, 30_000);
});
