// Failures of the servers themselves, on servers this test starts (never the shared ones): a PostgreSQL stopped
// (fast shutdown) while pg_dump runs, and the S3 server (versitygw) SIGKILLed while the dump is being uploaded.
// Each ends with its reason and exit code, pg_dump gone, no manifest and no dump object.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import {
  CreateBucketCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { resolveBinaries } from '../../hack/cluster/binaries.js';
import { admin, agent, agentEnv, createDatabase, dropDatabase, listKeys, rand } from '../support/agent.js';

const PG_BIN = process.env.SCO_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const id = rand();
const tmp = mkdtempSync(join(os.tmpdir(), 'agent-servers-'));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A free loopback port, from the kernel. */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const exited = (p: ChildProcess) =>
  p.exitCode !== null || p.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => p.once('exit', () => r()));

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('PostgreSQL stopped mid-dump', () => {
  let postgres: ChildProcess | undefined;
  let port = 0;
  const base = join(tmp, 'pg');

  beforeAll(async () => {
    // PostgreSQL refuses to run as root: as root it runs as the postgres user (as the cluster tooling does).
    const root = process.getuid?.() === 0;
    const ids = root
      ? {
          uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
          gid: Number(execFileSync('id', ['-g', 'postgres']).toString()),
        }
      : {};
    mkdirSync(join(base, 'sock'), { recursive: true });
    if (root) {
      for (const p of [tmp, base, join(base, 'sock')]) chownSync(p, ids.uid!, ids.gid!);
    }
    execFileSync(
      join(PG_BIN, 'initdb'),
      ['-D', join(base, 'data'), '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--no-locale'],
      {
        stdio: 'ignore',
        ...ids,
      },
    );
    port = await freePort();
    postgres = spawn(
      join(PG_BIN, 'postgres'),
      [
        '-D',
        join(base, 'data'),
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        `unix_socket_directories=${join(base, 'sock')}`,
        '-c',
        'fsync=off',
      ],
      { stdio: 'ignore', ...ids },
    );
    await until('the test PostgreSQL', async () => {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
      await c.connect();
      await c.end();
      return true;
    });
  }, 60_000);

  afterAll(async () => {
    if (postgres && postgres.exitCode === null && postgres.signalCode === null) {
      postgres.kill('SIGQUIT');
      await exited(postgres);
    }
  });

  test('fast shutdown while pg_dump waits on a lock → DumpConnectionLost, pg_dump gone, nothing stored', async () => {
    const env = agentEnv('postgres', { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres', PGPASSWORD: '' });
    const lock = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
    await lock.connect();
    lock.on('error', () => undefined); // the shutdown ends this session too
    await lock.query('CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g');
    await lock.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
    const runId = `pgstop-${rand()}`;
    const prefix = `it-agent-servers/${id}`;
    let pid = 0;
    const pending = agent(['backup', `--prefix=${prefix}`, '--schedule=pgstop', `--run-id=${runId}`], env, {
      onChild: (tool, p) => tool === 'pg_dump' && (pid = p),
    });
    // pg_dump is connected and waiting for the lock: the database is stopped under it.
    // (Polled from another session: pg_stat_activity is a snapshot per transaction.)
    let done = false;
    void pending.then(() => (done = true));
    await until('pg_dump waiting on the lock', async () => {
      if (done) throw new Error(`the agent ended first: ${JSON.stringify((await pending).result)}`);
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
      await c.connect();
      try {
        const r = await c.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
          [`smartcloudops-agent-${runId}`],
        );
        return r.rowCount ? true : undefined;
      } finally {
        await c.end();
      }
    });
    expect(done).toBe(false);
    postgres!.kill('SIGINT'); // pg_ctl stop -m fast
    const run = await pending;
    await lock.end().catch(() => undefined);
    expect(run.result).toMatchObject({ result: 'Failed', reason: 'DumpConnectionLost', exitCode: 5, runId });
    expect(String(run.result.message)).toMatch(/terminating connection due to administrator command|server closed/);
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(false);
    expect(await listKeys(`${prefix}/pgstop/`)).toEqual([]);
  }, 60_000);
});

describe('S3 server killed mid-upload', () => {
  const big = `agent_srv_${id}`;
  let gw: ChildProcess | undefined;
  const root = join(tmp, 's3');
  const creds = {
    accessKeyId: `it${randomBytes(6).toString('hex')}`,
    secretAccessKey: randomBytes(16).toString('hex'),
  };
  const bucket = 'agent-servers';
  let endpoint = '';

  const startGateway = async (port: number) => {
    const bin = resolveBinaries({ build: false }).versitygw;
    mkdirSync(join(root, 'buckets'), { recursive: true });
    mkdirSync(join(root, 'meta'), { recursive: true });
    gw = spawn(
      bin,
      ['--quiet', '--port', `127.0.0.1:${port}`, 'posix', '--sidecar', join(root, 'meta'), join(root, 'buckets')],
      {
        env: { ...process.env, ROOT_ACCESS_KEY: creds.accessKeyId, ROOT_SECRET_KEY: creds.secretAccessKey },
        stdio: 'ignore',
      },
    );
    endpoint = `http://127.0.0.1:${port}`;
    const c = client();
    try {
      await until('the test versitygw', () => c.send(new ListBucketsCommand({})).then(() => true));
    } finally {
      c.destroy();
    }
  };
  const client = () =>
    new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1 });

  beforeAll(async () => {
    await startGateway(await freePort());
    const c = client();
    await c.send(new CreateBucketCommand({ Bucket: bucket }));
    c.destroy();
    await createDatabase(big);
    // ~60 MB of hex text, ~30 MB gzip'd: six or more 5 MiB parts, so the upload is under way for a while.
    await admin(
      (c2) =>
        c2.query(`CREATE TABLE blob AS SELECT g AS id,
          (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 16) i) AS body
          FROM generate_series(1, 120000) g`),
      big,
    );
  }, 120_000);

  afterAll(async () => {
    if (gw && gw.exitCode === null && gw.signalCode === null) {
      gw.kill('SIGTERM');
      await exited(gw);
    }
    await dropDatabase(big);
  });

  test('SIGKILL to versitygw during the multipart upload → StorageUnreachable, pg_dump stopped, no object', async () => {
    const prefix = `it-agent-servers/${id}`;
    let pid = 0;
    const pending = agent(
      ['backup', `--prefix=${prefix}`, '--schedule=s3kill', '--part-size-mib=5', '--queue-size=1'],
      agentEnv(big, {
        S3_ENDPOINT: endpoint,
        S3_BUCKET: bucket,
        AWS_ACCESS_KEY_ID: creds.accessKeyId,
        AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
        S3_MAX_ATTEMPTS: '2',
      }),
      { onChild: (tool, p) => tool === 'pg_dump' && (pid = p) },
    );
    const c = client();
    try {
      await until(
        'a multipart upload in progress',
        async () => {
          const r = await c.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
          return r.Uploads?.length ? true : undefined;
        },
        60_000,
        20,
      );
    } finally {
      c.destroy();
    }
    const port = Number(new URL(endpoint).port);
    gw!.kill('SIGKILL');
    await exited(gw!);
    const run = await pending;
    expect(run.result).toMatchObject({ result: 'Failed', reason: 'StorageUnreachable', exitCode: 6 });
    expect(String(run.result.message)).toMatch(/ECONNREFUSED|ECONNRESET|socket hang up/);
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(false);
    // The server back on the same data: no object was completed under the schedule (no dump, no manifest). The
    // multipart upload itself could not be aborted while the server was down; a bucket lifecycle rule
    // (AbortIncompleteMultipartUpload) removes such leftovers.
    await startGateway(port);
    const c2 = client();
    try {
      const listed = await c2.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/s3kill/` }));
      expect(listed.Contents ?? []).toEqual([]);
    } finally {
      c2.destroy();
    }
  }, 120_000);
});
