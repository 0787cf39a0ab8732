// Data services for tests and the demo, all on 127.0.0.1 with a clean data directory per run:
// PostgreSQL 15 and Redis 7 from Debian packages, and versitygw (S3) built from Go modules.
import { S3Client, CreateBucketCommand, ListBucketsCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { Ctx, Step } from './cluster.js';
import type { PostgresEnv, RedisEnv, S3Env } from './env.js';
import { ClusterError, waitFor } from './proc.js';

// The SDK warns on every client construction that Node 20 support ends in 2027; the image runs Node 22.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const PG_BIN = process.env.SCO_PG_BIN || '/usr/lib/postgresql/15/bin';

function lookupUser(name: string): { uid: number; gid: number } | undefined {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

/** True when every ancestor of `dir` lets "others" traverse it, so a dropped-privilege postgres can reach it. */
function traversableByOthers(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    try {
      if (existsSync(d) && (statSync(d).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (dirname(d) === d) return true;
  }
}

function versionOf(bin: string, args: string[], what: string, install: string): string {
  try {
    return execFileSync(bin, args, { encoding: 'utf8' }).trim();
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') {
      throw new ClusterError(`${what} is not installed: ${bin} is missing (${install})`);
    }
    throw new ClusterError(`${bin} ${args.join(' ')} failed: ${(err as Error).message}`);
  }
}

async function pgQuery(env: PostgresEnv, database: string, sql: string): Promise<void> {
  const client = new pg.Client({ ...env, database, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const postgres: Step = {
  name: 'postgresql',
  group: 'services',
  async run(ctx: Ctx) {
    const version = versionOf(
      join(PG_BIN, 'postgres'),
      ['--version'],
      'PostgreSQL 15',
      'apt-get install postgresql-15',
    );
    if (!/\(PostgreSQL\) 15\./.test(version)) {
      throw new ClusterError(`${PG_BIN}/postgres reports "${version}"; PostgreSQL 15 is required (set SCO_PG_BIN)`);
    }
    const root = process.getuid?.() === 0;
    const owner = root ? lookupUser('postgres') : undefined;
    if (root && !owner) {
      throw new ClusterError(
        'running as root, but there is no "postgres" user to run PostgreSQL as (apt-get install postgresql-15 creates it)',
      );
    }
    // PostgreSQL refuses to run as root: as root it runs as the postgres user, whose data directory must be reachable.
    let base = join(ctx.layout.dir, 'postgres');
    if (root && !traversableByOthers(ctx.layout.dir)) {
      base = join(
        os.tmpdir(),
        `smartcloudops-pg-${createHash('sha256').update(ctx.layout.dir).digest('hex').slice(0, 12)}`,
      );
    }
    rmSync(base, { recursive: true, force: true });
    const data = join(base, 'data');
    const sockets = join(base, 'sockets');
    mkdirSync(sockets, { recursive: true, mode: 0o700 });
    ctx.state.dataDirs.push(base);
    const password = ctx.secret();
    const pwfile = join(base, 'pwfile');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (owner) for (const p of [base, sockets, pwfile]) chownSync(p, owner.uid, owner.gid);
    try {
      execFileSync(
        join(PG_BIN, 'initdb'),
        [
          '-D',
          data,
          '-U',
          'postgres',
          '--auth=scram-sha-256',
          `--pwfile=${pwfile}`,
          '-E',
          'UTF8',
          '--no-locale',
          '--no-sync',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], uid: owner?.uid, gid: owner?.gid },
      );
    } catch (err) {
      throw new ClusterError(`initdb failed: ${(err as { stderr?: Buffer }).stderr?.toString().trim() ?? err}`);
    }
    rmSync(pwfile);
    const proc = await ctx.start('services', {
      name: 'postgresql',
      command: join(PG_BIN, 'postgres'),
      args: [
        '-D',
        data,
        '-p',
        String(ctx.ports.postgres),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        `unix_socket_directories=${sockets}`,
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=200',
      ],
      log: join(ctx.layout.logs, 'postgresql.log'),
      uid: owner?.uid,
      gid: owner?.gid,
      stopSignal: 'SIGINT',
    });
    const env: PostgresEnv = {
      host: '127.0.0.1',
      port: ctx.ports.postgres,
      user: 'postgres',
      password,
      database: 'smartcloudops',
    };
    await waitFor(() => pgQuery(env, 'postgres', 'SELECT 1').then(() => true), {
      what: 'PostgreSQL',
      timeoutMs: 60_000,
      proc,
    });
    await pgQuery(env, 'postgres', 'CREATE DATABASE smartcloudops');
    ctx.state.env.postgres = env;
    ctx.save();
  },
  probe: async (ctx) => {
    const env = ctx.state.env.postgres;
    if (!env) throw new Error('no PostgreSQL credentials recorded');
    await pgQuery(env, env.database, 'SELECT 1');
    return true;
  },
};

async function redisPing(env: RedisEnv): Promise<boolean> {
  const r = new Redis({
    ...env,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2000,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } finally {
    r.disconnect();
  }
}

const redis: Step = {
  name: 'redis',
  group: 'services',
  async run(ctx: Ctx) {
    const bin = process.env.SCO_REDIS_SERVER || '/usr/bin/redis-server';
    const version = versionOf(bin, ['--version'], 'Redis 7', 'apt-get install redis-server');
    const major = /v=(\d+)\./.exec(version)?.[1];
    if (major !== '7') {
      throw new ClusterError(`${bin} reports "${version}"; Redis 7 is required (set SCO_REDIS_SERVER)`);
    }
    rmSync(ctx.layout.redisData, { recursive: true, force: true });
    mkdirSync(ctx.layout.redisData, { recursive: true });
    const password = ctx.secret();
    // The password goes in a config file, not on the command line where `ps` would show it.
    const conf = join(ctx.layout.redisData, 'redis.conf');
    writeFileSync(
      conf,
      [
        `port ${ctx.ports.redis}`,
        'bind 127.0.0.1',
        'protected-mode yes',
        `requirepass ${password}`,
        `dir ${ctx.layout.redisData}`,
        'save ""',
        'appendonly no',
        'daemonize no',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const proc = await ctx.start('services', {
      name: 'redis',
      command: bin,
      args: [conf],
      log: join(ctx.layout.logs, 'redis.log'),
    });
    const env: RedisEnv = { host: '127.0.0.1', port: ctx.ports.redis, password };
    await waitFor(() => redisPing(env), { what: 'Redis', timeoutMs: 30_000, proc });
    ctx.state.env.redis = env;
    ctx.save();
  },
  probe: async (ctx) => {
    const env = ctx.state.env.redis;
    if (!env) throw new Error('no Redis credentials recorded');
    return redisPing(env);
  },
};

function s3Client(env: S3Env): S3Client {
  return new S3Client({
    endpoint: env.endpoint,
    region: env.region,
    forcePathStyle: true,
    credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
    maxAttempts: 1,
  });
}

const s3: Step = {
  name: 's3',
  group: 'services',
  async run(ctx: Ctx) {
    rmSync(ctx.layout.s3Data, { recursive: true, force: true });
    const root = join(ctx.layout.s3Data, 'buckets');
    const sidecar = join(ctx.layout.s3Data, 'meta');
    mkdirSync(root, { recursive: true });
    mkdirSync(sidecar, { recursive: true });
    const env: S3Env = {
      endpoint: `http://127.0.0.1:${ctx.ports.s3}`,
      region: 'us-east-1',
      accessKeyId: `sco${ctx.secret().slice(0, 12)}`,
      secretAccessKey: ctx.secret(),
      forcePathStyle: true,
      bucket: 'smartcloudops-test',
    };
    const proc = await ctx.start('services', {
      name: 's3',
      command: ctx.bins!.versitygw,
      // Credentials through the environment, not argv. --sidecar keeps object metadata in files, so the backend
      // works on filesystems without user xattrs.
      args: ['--quiet', '--port', `127.0.0.1:${ctx.ports.s3}`, 'posix', '--sidecar', sidecar, root],
      env: { ...process.env, ROOT_ACCESS_KEY: env.accessKeyId, ROOT_SECRET_KEY: env.secretAccessKey },
      log: join(ctx.layout.logs, 's3.log'),
    });
    const client = s3Client(env);
    try {
      await waitFor(() => client.send(new ListBucketsCommand({})).then(() => true), {
        what: 'S3 (versitygw)',
        timeoutMs: 30_000,
        proc,
      });
      await client.send(new CreateBucketCommand({ Bucket: env.bucket }));
    } finally {
      client.destroy();
    }
    ctx.state.env.s3 = env;
    ctx.save();
  },
  probe: async (ctx) => {
    const env = ctx.state.env.s3;
    if (!env) throw new Error('no S3 credentials recorded');
    const client = s3Client(env);
    try {
      await client.send(new ListBucketsCommand({}));
      return true;
    } finally {
      client.destroy();
    }
  },
};

export const serviceSteps: Step[] = [postgres, redis, s3];
