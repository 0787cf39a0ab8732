// The SmartCloudOpsApp dependency checks against the real PostgreSQL and Redis (short intervals, real clock and
// timers, the real node-postgres and ioredis connectors): healthy with one connection per app; a wrong password;
// PostgreSQL unreachable (a loopback proxy we own is closed: a refused port) and back; saturation at
// connectionWarnPercent; Redis drift corrected once with one Event (on a redis-server of our own, so the shared
// one's settings are never touched); VACUUM ANALYZE with its duration, skipped while another holds the lock, and
// never two at once with two sources on one database. Each run uses its own database and role (wt_deps_*), dropped
// after.
import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { KubeObject } from '../../src/kube/index.js';
import { systemClock } from '../../src/runtime/clock.js';
import type { EventRecorder } from '../../src/runtime/events.js';
import { createLogger } from '../../src/runtime/logger.js';
import { Metrics } from '../../src/runtime/metrics.js';
import type {
  AppObject,
  DependencySnapshot,
  DependencySource,
} from '../../src/controllers/smartcloudopsapp/contracts.js';
import { createDependencySource, type DependencyOptions } from '../../src/controllers/smartcloudopsapp/dependencies.js';
import { postgresEnv } from '../support/env.js';

jest.setTimeout(60_000);

const suffix = randomBytes(4).toString('hex');
const DB = `wt_deps_${suffix}`;
const ROLE = `wt_deps_${suffix}`;
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const REDIS_PASSWORD = `rp-${randomBytes(12).toString('hex')}`;

async function admin<T>(fn: (c: pg.Client) => Promise<T>, database?: string): Promise<T> {
  const c = new pg.Client({ ...postgresEnv(), ...(database ? { database } : {}) });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A loopback TCP proxy that can be cut (connections destroyed, port closed: connects are refused) and reopened. */
class Proxy {
  private server?: net.Server;
  private sockets = new Set<net.Socket>();
  port = 0;
  constructor(private readonly target: { host: string; port: number }) {}
  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', () => r()));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }
  async cut(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function eventually<T>(fn: () => T, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = fn();
  while (!ok(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    last = fn();
  }
  if (!ok(last)) throw new Error(`condition not met in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
  return last;
}

function secret(name: string, data: Record<string, string>): KubeObject {
  const enc = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'wt-deps' }, data: enc } as KubeObject;
}

function app(spec: Partial<AppObject['spec']> = {}, uid = 'uid-1'): AppObject {
  return {
    apiVersion: 'ops.smartcloudops.ai/v1alpha1',
    kind: 'SmartCloudOpsApp',
    metadata: { name: `shop-${uid}`, namespace: 'wt-deps', uid, generation: 1 },
    spec: {
      version: '1.0.0',
      backend: { image: 'example/backend' },
      frontend: { image: 'example/frontend' },
      database: { secretRef: { name: 'db' }, connectionWarnPercent: 100 },
      ...spec,
    },
  } as AppObject;
}

interface Harness {
  source: DependencySource;
  secrets: Map<string, KubeObject>;
  enqueued: string[];
  logs: string[];
  metrics: Metrics;
}
const sources: DependencySource[] = [];

function harness(secrets = new Map<string, KubeObject>(), options: DependencyOptions = {}): Harness {
  const enqueued: string[] = [];
  const logs: string[] = [];
  const metrics = new Metrics({ defaultMetrics: false });
  const sink = new Writable({
    write(chunk, _e, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const source = createDependencySource(
    {
      clock: systemClock,
      log: createLogger('debug', sink),
      metrics,
      events: {} as EventRecorder,
      secrets: (ns, name) => secrets.get(`${ns}/${name}`),
      enqueue: (k) => void enqueued.push(k),
    },
    { postgresIntervalMs: 150, redisIntervalMs: 150, timeoutMs: 2_000, ...options },
  );
  sources.push(source);
  return { source, secrets, enqueued, logs, metrics };
}

const dbSecret = (over: Record<string, string> = {}) => {
  const p = postgresEnv();
  return secret('db', {
    host: p.host,
    port: String(p.port),
    database: DB,
    username: ROLE,
    password: PASSWORD,
    ...over,
  });
};
const check = (s: DependencySnapshot, name: string) => s.checks.find((c) => c.name === name);

/** Connections of our role opened by the operator's checks (application_name), as the server sees them. */
const operatorConnections = () =>
  admin(async (c) =>
    Number(
      (
        await c.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE usename = $1 AND application_name = 'smartcloudops-operator'`,
          [ROLE],
        )
      ).rows[0]!.n,
    ),
  );

beforeAll(async () => {
  await admin(async (c) => {
    await c.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
    await c.query(`CREATE DATABASE ${DB} OWNER ${ROLE}`);
  });
  // A table with dead rows, so VACUUM ANALYZE has work to do and takes measurable time.
  const c = new pg.Client({ ...postgresEnv(), database: DB, user: ROLE, password: PASSWORD });
  await c.connect();
  await c.query('CREATE TABLE items (id int primary key, note text)');
  await c.query("INSERT INTO items SELECT g, repeat('x', 100) FROM generate_series(1, 60000) g");
  await c.query('DELETE FROM items WHERE id % 2 = 0');
  await c.end();
});

afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
});

afterAll(async () => {
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
    await c.query(`DROP ROLE IF EXISTS ${ROLE}`);
  });
});

describe('PostgreSQL', () => {
  test('healthy: SELECT 1 and the connection count, on one connection per app, closed on forget', async () => {
    const h = harness(new Map([['wt-deps/db', dbSecret()]]));
    const a = app();
    h.source.observe(a);
    const c = (await eventually(
      () => check(h.source.observe(a), 'postgres'),
      (x) => x !== undefined,
    ))!;
    const max = await admin(async (x) => Number((await x.query('SHOW max_connections')).rows[0].max_connections));
    expect(c).toMatchObject({ ok: true, reason: 'Healthy', details: { maxConnections: max } });
    expect(Number(c.details!.connectionsInUse)).toBeGreaterThanOrEqual(1);
    expect(c.message).toContain(`/${DB}: SELECT 1 answered`);
    expect(h.enqueued).toEqual(['wt-deps/shop-uid-1']);
    await new Promise((r) => setTimeout(r, 1_000)); // ~6 more checks
    const out = await h.metrics.registry.getSingleMetricAsString('smartcloudops_dependency_checks_total');
    expect(Number(/reason="Healthy"} (\d+)/.exec(out)?.[1])).toBeGreaterThanOrEqual(4);
    expect(await operatorConnections()).toBe(1);
    expect(h.enqueued).toHaveLength(1); // the verdict did not change
    h.source.forget('uid-1');
    expect(await eventuallyAsync(operatorConnections, (n) => n === 0)).toBe(0);
  });

  test('50 apps on one database: one connection as the server sees it, every app checked; the last to go closes it', async () => {
    const h = harness(new Map([['wt-deps/db', dbSecret()]]));
    const apps = Array.from({ length: 50 }, (_, i) => app({}, `uid-${i}`));
    for (const a of apps) h.source.observe(a);
    await eventually(
      () => apps.map((a) => check(h.source.observe(a), 'postgres')),
      (cs) => cs.every((c) => c?.ok === true),
    );
    await new Promise((r) => setTimeout(r, 500)); // a few more rounds of 50 checks on the one connection
    expect(await operatorConnections()).toBe(1);
    for (const a of apps) expect(check(h.source.observe(a), 'postgres')).toMatchObject({ ok: true, reason: 'Healthy' });
    for (const a of apps.slice(1)) h.source.forget(a.metadata.uid as string);
    expect(await operatorConnections()).toBe(1);
    h.source.forget('uid-0');
    expect(await eventuallyAsync(operatorConnections, (n) => n === 0)).toBe(0);
  });

  test('a wrong password is AuthenticationFailed, and neither the message nor the logs carry it', async () => {
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    const h = harness(new Map([['wt-deps/db', dbSecret({ password: wrong })]]));
    const c = (await eventually(
      () => check(h.source.observe(app()), 'postgres'),
      (x) => x !== undefined,
    ))!;
    expect(c).toMatchObject({ ok: false, reason: 'AuthenticationFailed' });
    expect(c.message).toContain(`password authentication failed for user "${ROLE}"`);
    const all = JSON.stringify(c) + h.logs.join('');
    expect(all).not.toContain(wrong);
    expect(all).not.toContain(PASSWORD);
    expect(h.logs.join('')).toContain('dependency check failing');
  });

  test('unreachable (a closed port) fails with the reason; recovers when it is back', async () => {
    const p = postgresEnv();
    const proxy = new Proxy({ host: p.host, port: p.port });
    await proxy.open();
    try {
      const h = harness(new Map([['wt-deps/db', dbSecret({ host: '127.0.0.1', port: String(proxy.port) })]]));
      const a = app();
      h.source.observe(a);
      await eventually(
        () => check(h.source.observe(a), 'postgres')?.reason,
        (r) => r === 'Healthy',
      );
      await proxy.cut();
      const failed = await eventually(
        () => check(h.source.observe(a), 'postgres')!,
        (c) => c.reason === 'ConnectionRefused',
      );
      expect(failed.ok).toBe(false);
      expect(failed.message).toContain(`127.0.0.1:${proxy.port}/${DB}`);
      const whileDown = h.enqueued.length;
      expect(whileDown).toBeGreaterThanOrEqual(2); // healthy, then failing (maybe via ConnectionFailed)
      await new Promise((r) => setTimeout(r, 600)); // several failing checks: no more enqueues
      expect(h.enqueued.length).toBe(whileDown);
      await proxy.open(); // same port
      await eventually(
        () => check(h.source.observe(a), 'postgres')!.reason,
        (r) => r === 'Healthy',
      );
      expect(h.enqueued.length).toBe(whileDown + 1);
    } finally {
      await proxy.cut();
    }
  });

  test('outside the cluster: a Service address from the Secret reaches the server through `route`', async () => {
    const p = postgresEnv();
    const seen: string[] = [];
    const h = harness(
      new Map([['wt-deps/db', dbSecret({ host: 'postgres.wt-deps.svc.cluster.local', port: '5432' })]]),
      {
        route: ({ host, port, namespace }) => {
          seen.push(`${host}:${port}@${namespace}`);
          return host.endsWith('.svc.cluster.local') ? { host: p.host, port: p.port } : undefined;
        },
      },
    );
    const c = (await eventually(
      () => check(h.source.observe(app()), 'postgres'),
      (x) => x !== undefined,
    ))!;
    expect(c).toMatchObject({ ok: true, reason: 'Healthy' });
    expect(c.message).toContain('postgres.wt-deps.svc.cluster.local:5432'); // the Secret's address, as written
    expect(seen[0]).toBe('postgres.wt-deps.svc.cluster.local:5432@wt-deps');
    // (Without the route the name would go to DNS, which this test must not query; the HostNotFound reason for
    // ENOTFOUND is a unit test of pgReason.)
  });

  test('saturation: a warning once connections in use reach connectionWarnPercent', async () => {
    const h = harness(new Map([['wt-deps/db', dbSecret()]]));
    // Hold extra connections so our share is known to be above 1% of max_connections.
    const max = await admin(async (x) => Number((await x.query('SHOW max_connections')).rows[0].max_connections));
    const held: pg.Client[] = [];
    for (let i = 0; i < Math.ceil(max / 100) + 1; i++) {
      const c = new pg.Client({ ...postgresEnv(), database: DB, user: ROLE, password: PASSWORD });
      await c.connect();
      held.push(c);
    }
    try {
      const a = app({ database: { secretRef: { name: 'db' }, connectionWarnPercent: 1 } });
      const c = (await eventually(
        () => check(h.source.observe(a), 'postgres'),
        (x) => x !== undefined,
      ))!;
      expect(c).toMatchObject({ ok: true, reason: 'ConnectionSaturation', warning: true });
      expect(Number(c.details!.connectionsInUse)).toBeGreaterThanOrEqual(held.length + 1);
      expect(c.message).toContain('at or above the warning threshold of 1%');
    } finally {
      await Promise.all(held.map((c) => c.end()));
    }
  });
});

describe('Redis', () => {
  let server: ChildProcess;
  let dir: string;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wt-deps-redis-'));
    port = await freePort();
    // the password from a 0600 config file, never on a command line
    const conf = join(dir, 'redis.conf');
    writeFileSync(conf, `requirepass ${REDIS_PASSWORD}\n`, { mode: 0o600 });
    server = spawn(
      'redis-server',
      [conf, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    // ready once the port accepts connections
    const deadline = Date.now() + 15_000;
    for (;;) {
      const up = await new Promise<boolean>((res) => {
        const sock = net.connect(port, '127.0.0.1', () => {
          sock.destroy();
          res(true);
        });
        sock.on('error', () => res(false));
      });
      if (up) break;
      if (Date.now() > deadline) throw new Error('redis-server did not start');
      await new Promise((res) => setTimeout(res, 100));
    }
  });

  afterAll(async () => {
    // SIGKILL: a throwaway server with nothing to keep (on SIGTERM Redis would first try to write the RDB the
    // corrected `save` setting asks for, and refuse to exit if it cannot)
    const exited = new Promise((res) => server.once('exit', res));
    server.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });

  const redisSecret = (over: Record<string, string> = {}) =>
    secret('cache', { host: '127.0.0.1', port: String(port), password: REDIS_PASSWORD, ...over });
  const cached = () =>
    app({ cache: { secretRef: { name: 'cache' }, config: { maxmemoryPolicy: 'allkeys-lru', save: '900 1 300 10' } } });

  test('PING passes; a maxmemory-policy set by hand is put back once, with one Event', async () => {
    const h = harness(
      new Map([
        ['wt-deps/db', dbSecret()],
        ['wt-deps/cache', redisSecret()],
      ]),
    );
    const a = cached();
    h.source.observe(a);
    const first = await eventually(
      () => h.source.observe(a),
      (s) => check(s, 'redis') !== undefined && s.redisConfig !== undefined,
    );
    expect(check(first, 'redis')).toMatchObject({ ok: true, reason: 'Healthy' });
    // Our server started with save "" and noeviction: the first check puts both in place.
    expect(first.redisConfig!.inSync).toBe(true);
    expect(first.events).toHaveLength(1);
    const admin = new Redis({ port, host: '127.0.0.1', password: REDIS_PASSWORD });
    try {
      expect(await admin.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'allkeys-lru']);
      expect(await admin.config('GET', 'save')).toEqual(['save', '900 1 300 10']);
      await admin.config('SET', 'maxmemory-policy', 'noeviction'); // drift, by hand
      const s = await eventually(
        () => h.source.observe(a),
        (x) => (x.events?.length ?? 0) >= 2,
      );
      expect(await admin.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'allkeys-lru']);
      expect(s.redisConfig).toMatchObject({
        inSync: true,
        drift: [{ key: 'maxmemory-policy', live: 'noeviction', want: 'allkeys-lru' }],
      });
      expect(s.events![1]).toMatchObject({ type: 'Normal', reason: 'RedisConfigCorrected' });
      expect(s.events![1]!.message).toContain('maxmemory-policy was "noeviction", set to "allkeys-lru"');
      await new Promise((r) => setTimeout(r, 800)); // more checks: in sync, nothing more
      expect(h.source.observe(a).events).toHaveLength(2);
      const out = await h.metrics.registry.getSingleMetricAsString('smartcloudops_redis_config_corrections_total');
      expect(out).toContain('{key="maxmemory-policy"} 2'); // once at start, once after the hand edit
      expect(out).toContain('{key="save"} 1');
    } finally {
      admin.disconnect();
    }
  });

  test('a wrong password is AuthenticationFailed without the password', async () => {
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    const h = harness(
      new Map([
        ['wt-deps/db', dbSecret()],
        ['wt-deps/cache', redisSecret({ password: wrong })],
      ]),
    );
    const c = (await eventually(
      () => check(h.source.observe(cached()), 'redis'),
      (x) => x !== undefined,
    ))!;
    expect(c).toMatchObject({ ok: false, reason: 'AuthenticationFailed' });
    expect(JSON.stringify(c) + h.logs.join('')).not.toContain(wrong);
  });

  test('unreachable Redis is ConnectionRefused', async () => {
    const closed = await freePort();
    const h = harness(
      new Map([
        ['wt-deps/db', dbSecret()],
        ['wt-deps/cache', redisSecret({ port: String(closed) })],
      ]),
    );
    const c = (await eventually(
      () => check(h.source.observe(cached()), 'redis'),
      (x) => x !== undefined,
    ))!;
    expect(c).toMatchObject({ ok: false, reason: 'ConnectionRefused' });
  });
});

describe('VACUUM ANALYZE', () => {
  // croner's seconds field (6 fields) makes the schedule fire every second; admission only lets 5 fields through,
  // the runner hands the pattern to croner as it is.
  const everySecond = () => app({ maintenance: { vacuumAnalyzeSchedule: '* * * * * *' } });

  test('runs with its duration; skipped while another session holds the lock', async () => {
    const lockHolder = new pg.Client({ ...postgresEnv(), database: DB, user: ROLE, password: PASSWORD });
    await lockHolder.connect();
    try {
      await lockHolder.query('SELECT pg_advisory_lock(7347281001)');
      const h = harness(new Map([['wt-deps/db', dbSecret()]]));
      const a = everySecond();
      const skipped = await eventually(
        () => h.source.observe(a),
        (s) => s.vacuumSkipped !== undefined,
        5_000,
      );
      expect(skipped.vacuumSkipped!.message).toContain(`another VACUUM ANALYZE of ${DB} holds the lock`);
      expect(skipped.maintenance!.lastRun).toBeUndefined();
      await lockHolder.query('SELECT pg_advisory_unlock(7347281001)');
      const ran = await eventually(
        () => h.source.observe(a).maintenance!,
        (m) => m.lastRun !== undefined,
        5_000,
      );
      expect(ran.lastRun).toMatchObject({ result: 'Succeeded' });
      expect(ran.lastRun!.durationMs).toBeGreaterThan(0);
      expect(Date.parse(ran.lastRun!.finishedAt)).toBeGreaterThanOrEqual(Date.parse(ran.lastRun!.startedAt));
      expect(Date.parse(ran.nextRunAt!)).toBeGreaterThan(Date.parse(ran.lastRun!.startedAt));
      // the server agrees: our table was vacuumed and analyzed
      const stats = await admin(
        async (c) =>
          (await c.query(`SELECT last_vacuum, last_analyze FROM pg_stat_user_tables WHERE relname = 'items'`)).rows[0],
        DB,
      );
      expect(stats.last_vacuum).not.toBeNull();
      expect(stats.last_analyze).not.toBeNull();
    } finally {
      await lockHolder.end();
    }
  });

  test('never two at once: two sources (two replicas) on one database', async () => {
    const secrets = new Map([['wt-deps/db', dbSecret()]]);
    const hs = [harness(secrets), harness(secrets)];
    const a = everySecond();
    // The server's view, sampled while both run: how many VACUUMs of our role are active at once.
    const watcher = new pg.Client({ ...postgresEnv(), database: DB });
    await watcher.connect();
    let maxAtOnce = 0;
    const lockSkips = new Set<string>();
    let samples = 0;
    try {
      const deadline = Date.now() + 6_500;
      while (Date.now() < deadline) {
        for (const [i, h] of hs.entries()) {
          const skipped = h.source.observe(a).vacuumSkipped;
          if (skipped?.message.includes('holds the lock')) lockSkips.add(`${i}/${skipped.at}`);
        }
        const r = await watcher.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE usename = $1 AND query ILIKE 'VACUUM ANALYZE%' AND state = 'active'`,
          [ROLE],
        );
        maxAtOnce = Math.max(maxAtOnce, Number(r.rows[0]!.n));
        samples++;
        await new Promise((res) => setTimeout(res, 5));
      }
    } finally {
      await watcher.end();
    }
    const vacuumMetrics = await Promise.all(
      hs.map((h) => h.metrics.registry.getSingleMetricAsString('smartcloudops_vacuum_analyze_runs_total')),
    );
    const count = (result: string) =>
      vacuumMetrics.reduce((n, out) => n + Number(new RegExp(`result="${result}"} (\\d+)`).exec(out)?.[1] ?? 0), 0);
    // Both fire every second: one takes the lock and runs, the other finds it taken and skips that slot.
    expect(samples).toBeGreaterThan(50);
    expect(maxAtOnce).toBe(1); // seen running, never two at once
    expect(count('Succeeded')).toBeGreaterThanOrEqual(2);
    expect(lockSkips.size).toBeGreaterThanOrEqual(1); // a slot the other source held the lock for
    expect(count('Skipped')).toBeGreaterThanOrEqual(lockSkips.size);
    expect(count('Failed')).toBe(0);
    for (const h of hs) {
      const m = h.source.observe(a).maintenance!;
      if (m.lastRun) expect(m.lastRun.durationMs).toBeGreaterThan(0);
    }
  });
});

async function eventuallyAsync<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await fn();
  while (!ok(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    last = await fn();
  }
  return last;
}
