// The dependency runner with a fake clock and fake connections: intervals and timeouts without waiting, change
// detection (enqueue only when a verdict changes), connection reuse and closing, Secret problems, Redis drift
// correction and its Events, and the VACUUM ANALYZE schedule (time zone, lock, never two at once). The real
// PostgreSQL and Redis are in test/integration/app-deps*.test.ts.
import { beforeEach, describe, expect, test } from '@jest/globals';
import { Writable } from 'node:stream';
import type { KubeObject } from '../../kube/index.js';
import { FakeClock } from '../../runtime/clock.js';
import type { EventRecorder } from '../../runtime/events.js';
import { createLogger } from '../../runtime/logger.js';
import { Metrics } from '../../runtime/metrics.js';
import type { AppObject, DependencySnapshot, DependencySource } from './contracts.js';
import { createDependencySource, type DependencyOptions } from './dependencies.js';
import type { Connectors, PgSession, RedisSession } from './dependencies-io.js';

const PASSWORD = 'pw-Sup3rSecret!';
const REDIS_PASSWORD = 'redis-Sup3rSecret!';

function secret(name: string, data: Record<string, string>): KubeObject {
  const enc = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'shop' }, data: enc } as KubeObject;
}

function app(spec: Partial<AppObject['spec']> = {}, uid = 'uid-1'): AppObject {
  return {
    apiVersion: 'ops.smartcloudops.ai/v1alpha1',
    kind: 'SmartCloudOpsApp',
    metadata: { name: 'shop', namespace: 'shop', uid, generation: 1 },
    spec: {
      version: '1.0.0',
      backend: { image: 'example/backend' },
      frontend: { image: 'example/frontend' },
      database: { secretRef: { name: 'db' }, connectionWarnPercent: 80 },
      ...spec,
    },
  } as AppObject;
}

/** A fake PostgreSQL: counts connects/closes, answers the runner's queries, fails or hangs on demand. */
class FakePg {
  connects = 0;
  closes = 0;
  queries: string[] = [];
  inUse = 10;
  max = 100;
  connectError?: Error & { code?: string };
  queryError?: Error & { code?: string };
  hang = false;
  lockHeld = false;
  vacuumMs = 0;
  vacuumsRunning = 0;
  maxConcurrentVacuums = 0;
  lastSettings?: { user: string; password: string; host: string; port: number };
  constructor(private readonly clock: FakeClock) {}

  connectDelayMs = 0;
  /** Answer each query after this long (a server round trip), on the fake clock. */
  queryDelayMs = 0;
  sessions: { password: string; closed: () => boolean }[] = [];
  async connect(settings: { user: string; password: string; host: string; port: number }): Promise<PgSession> {
    this.connects++;
    this.lastSettings = settings;
    if (this.connectDelayMs > 0) await new Promise<void>((r) => this.clock.setTimeout(r, this.connectDelayMs));
    if (this.connectError) throw this.connectError;
    let broken = false;
    const self = this as FakePg;
    const pending: ((err: Error) => void)[] = [];
    self.sessions.push({ password: settings.password, closed: () => broken });
    return Promise.resolve({
      get broken() {
        return broken;
      },
      close: () => {
        if (!broken) self.closes++;
        broken = true;
        // as node-postgres does: queries in flight fail when the connection ends
        for (const reject of pending.splice(0)) reject(new Error('Connection terminated'));
      },
      query: async <R>(sql: string): Promise<R[]> => {
        self.queries.push(sql);
        if (self.queryDelayMs > 0) await new Promise<void>((r) => self.clock.setTimeout(r, self.queryDelayMs));
        if (self.hang) return new Promise<R[]>((_, reject) => void pending.push(reject));
        if (self.queryError) throw self.queryError;
        if (sql.includes('pg_stat_activity')) return [{ in_use: self.inUse, max: self.max } as R];
        if (sql.includes('pg_try_advisory_lock')) return [{ locked: !self.lockHeld } as R];
        if (sql === 'VACUUM ANALYZE') {
          self.vacuumsRunning++;
          self.maxConcurrentVacuums = Math.max(self.maxConcurrentVacuums, self.vacuumsRunning);
          await new Promise<void>((r) => self.clock.setTimeout(r, self.vacuumMs));
          self.vacuumsRunning--;
          return [];
        }
        return [{ '?column?': 1 } as R];
      },
    } as PgSession);
  }
}

class FakeRedis {
  connects = 0;
  closes = 0;
  config: Record<string, string> = { 'maxmemory-policy': 'allkeys-lru', save: '900 1 300 10' };
  sets: string[][] = [];
  setError?: Error;
  pingError?: Error;
  connect(): Promise<RedisSession> {
    this.connects++;
    let broken = false;
    return Promise.resolve({
      get broken() {
        return broken;
      },
      close: () => {
        if (!broken) this.closes++;
        broken = true;
      },
      call: async (command: string, ...args: string[]) => {
        if (command === 'PING') {
          if (this.pingError) throw this.pingError;
          return 'PONG';
        }
        if (command === 'CONFIG' && args[0] === 'GET') return [args[1], this.config[args[1]!]];
        if (command === 'CONFIG' && args[0] === 'SET') {
          if (this.setError) throw this.setError;
          this.sets.push([args[1]!, args[2]!]);
          this.config[args[1]!] = args[2]!;
          return 'OK';
        }
        throw new Error(`unexpected ${command}`);
      },
    });
  }
}

let clock: FakeClock;
let pg: FakePg;
let redis: FakeRedis;
let secrets: Map<string, KubeObject>;
let enqueued: string[];
let logs: string[];
let metrics: Metrics;
let source: DependencySource;

function make(opts: DependencyOptions = {}): DependencySource {
  const connectors: Connectors = {
    postgres: (s) => pg.connect(s),
    redis: () => redis.connect(),
  };
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  return createDependencySource(
    {
      clock,
      log: createLogger('debug', sink),
      metrics,
      events: {} as EventRecorder,
      secrets: (ns, name) => secrets.get(`${ns}/${name}`),
      enqueue: (key) => void enqueued.push(key),
    },
    { timers: clock, connectors, ...opts },
  );
}

const dbSecret = (extra: Record<string, string> = {}) =>
  secret('db', { host: 'db.shop.svc', port: '5432', database: 'shop', username: 'app', password: PASSWORD, ...extra });

const check = (s: DependencySnapshot, name: string) => s.checks.find((c) => c.name === name);

beforeEach(() => {
  clock = new FakeClock(new Date('2026-01-01T00:00:00Z'));
  pg = new FakePg(clock);
  redis = new FakeRedis();
  secrets = new Map([['shop/db', dbSecret()]]);
  enqueued = [];
  logs = [];
  metrics = new Metrics({ defaultMetrics: false });
  source = make();
});

describe('PostgreSQL check', () => {
  test('runs at once, then every interval on one reused connection; unchanged verdicts enqueue nothing', async () => {
    const a = app();
    expect(source.observe(a).checks).toEqual([]); // not run yet: absent
    await clock.advance(1);
    expect(enqueued).toEqual(['shop/shop']);
    const c = check(source.observe(a), 'postgres')!;
    expect(c).toMatchObject({
      kind: 'postgres',
      ok: true,
      reason: 'Healthy',
      checkedAt: '2026-01-01T00:00:00Z',
      details: { connectionsInUse: 10, maxConnections: 100 },
    });
    expect(c.message).toContain('db.shop.svc:5432/shop');
    expect(pg.queries.filter((q) => q === 'SELECT 1')).toHaveLength(1);

    pg.inUse = 12; // numbers move, the verdict does not
    await clock.advance(29_999);
    expect(pg.queries.filter((q) => q === 'SELECT 1')).toHaveLength(1);
    await clock.advance(1);
    expect(pg.queries.filter((q) => q === 'SELECT 1')).toHaveLength(2);
    await clock.advance(30_000 * 3);
    expect(pg.queries.filter((q) => q === 'SELECT 1')).toHaveLength(5);
    expect(pg.connects).toBe(1);
    expect(enqueued).toEqual(['shop/shop']);
    expect(check(source.observe(a), 'postgres')!.details).toEqual({ connectionsInUse: 12, maxConnections: 100 });
    // observe on every reconcile does not add checks or timers
    for (let i = 0; i < 5; i++) source.observe(a);
    expect(clock.pending).toBe(1);
    const out = await metrics.registry.getSingleMetricAsString('smartcloudops_dependency_checks_total');
    expect(out).toContain('smartcloudops_dependency_checks_total{dependency="postgres",reason="Healthy"} 5');
  });

  test('saturation at connectionWarnPercent: passing with a warning, enqueued once', async () => {
    const a = app({ database: { secretRef: { name: 'db' }, connectionWarnPercent: 50 } });
    source.observe(a);
    await clock.advance(1);
    pg.inUse = 49;
    await clock.advance(30_000);
    expect(check(source.observe(a), 'postgres')).toMatchObject({ ok: true, reason: 'Healthy' });
    expect(enqueued).toHaveLength(1);
    pg.inUse = 50; // 50% of 100: reaches the threshold
    await clock.advance(30_000);
    const c = check(source.observe(a), 'postgres')!;
    expect(c).toMatchObject({ ok: true, reason: 'ConnectionSaturation', warning: true });
    expect(c.message).toContain('50 of 100 connections in use (50%)');
    expect(enqueued).toHaveLength(2);
    await clock.advance(30_000);
    expect(enqueued).toHaveLength(2);
  });

  test('a lower threshold in the spec is checked at once, on the same connection', async () => {
    source.observe(app());
    await clock.advance(1);
    source.observe(app({ database: { secretRef: { name: 'db' }, connectionWarnPercent: 5 } }));
    await clock.advance(1);
    expect(check(source.observe(app()), 'postgres')).toMatchObject({ reason: 'ConnectionSaturation' });
    expect(pg.connects).toBe(1);
  });

  test('a query that hangs fails with Timeout after timeoutMs; the connection is closed and made again', async () => {
    source.observe(app());
    await clock.advance(1);
    pg.hang = true;
    await clock.advance(30_000);
    expect(check(source.observe(app()), 'postgres')!.ok).toBe(true); // still waiting
    await clock.advance(4_999);
    expect(check(source.observe(app()), 'postgres')!.ok).toBe(true);
    await clock.advance(1);
    const c = check(source.observe(app()), 'postgres')!;
    expect(c).toMatchObject({ ok: false, reason: 'Timeout', latencyMs: 5_000 });
    expect(pg.closes).toBe(1);
    expect(enqueued).toHaveLength(2);
    pg.hang = false;
    await clock.advance(30_000);
    expect(check(source.observe(app()), 'postgres')).toMatchObject({ ok: true, reason: 'Healthy' });
    expect(pg.connects).toBe(2);
    expect(enqueued).toHaveLength(3);
  });

  test('driver errors map to reasons and never carry the password (messages and logs)', async () => {
    pg.connectError = Object.assign(new Error(`password authentication failed for user "app" (${PASSWORD})`), {
      code: '28P01',
    });
    source.observe(app());
    await clock.advance(1);
    const c = check(source.observe(app()), 'postgres')!;
    expect(c).toMatchObject({ ok: false, reason: 'AuthenticationFailed' });
    expect(c.message).toContain('password authentication failed for user "app"');
    expect(c.message).not.toContain(PASSWORD);
    expect(logs.join('')).toContain('dependency check failing');
    expect(logs.join('')).not.toContain(PASSWORD);

    pg.connectError = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    await clock.advance(30_000);
    expect(check(source.observe(app()), 'postgres')).toMatchObject({ ok: false, reason: 'ConnectionRefused' });
    pg.connectError = undefined;
    await clock.advance(30_000);
    expect(check(source.observe(app()), 'postgres')).toMatchObject({ ok: true, reason: 'Healthy' });
    expect(enqueued).toHaveLength(3);
  });
});

describe('Secrets', () => {
  test('a missing Secret fails at once without I/O, naming it; it is picked up within an interval', async () => {
    secrets.clear();
    const c = check(source.observe(app()), 'postgres')!;
    expect(c).toMatchObject({
      ok: false,
      reason: 'SecretMissing',
      message: 'Secret shop/db (the PostgreSQL connection) does not exist',
    });
    await clock.advance(30_000 * 3);
    expect(pg.connects).toBe(0);
    expect(enqueued).toEqual([]);
    secrets.set('shop/db', dbSecret());
    await clock.advance(30_000);
    expect(enqueued).toEqual(['shop/shop']);
    expect(check(source.observe(app()), 'postgres')).toMatchObject({ ok: true, reason: 'Healthy' });
  });

  test('a missing key names the key, not a value', () => {
    secrets.set('shop/db', secret('db', { host: 'db', database: 'shop', username: 'app' }));
    expect(check(source.observe(app()), 'postgres')).toMatchObject({
      reason: 'SecretKeyMissing',
      message: 'Secret shop/db has no key "password" (nor "uri")',
    });
  });

  test('a uri works; an unparsable one is SecretInvalid without echoing it', async () => {
    secrets.set('shop/db', secret('db', { uri: `postgresql://app:${encodeURIComponent(PASSWORD)}@db:6543/shop` }));
    source.observe(app());
    await clock.advance(1);
    expect(pg.lastSettings).toMatchObject({ user: 'app', password: PASSWORD, host: 'db', port: 6543 });
    secrets.set('shop/db', secret('db', { uri: `mysql://app:${PASSWORD}@db/shop` }));
    const c = check(source.observe(app()), 'postgres')!;
    expect(c.reason).toBe('SecretInvalid');
    expect(c.message).not.toContain(PASSWORD);
    expect(pg.closes).toBe(1); // the old connection went with the old settings
  });

  test('a rotated password closes the old connection and checks again at once, also between reconciles', async () => {
    source.observe(app());
    await clock.advance(1);
    expect(pg.connects).toBe(1);
    secrets.set('shop/db', dbSecret({ password: 'rotated' }));
    await clock.advance(30_000); // the tick reads the Secret from the cache
    expect(pg.closes).toBe(1);
    expect(pg.connects).toBe(2);
    expect(pg.lastSettings?.password).toBe('rotated');
    secrets.set('shop/db', dbSecret({ password: 'rotated-again' }));
    source.observe(app()); // a reconcile sees it first
    await clock.advance(1);
    expect(pg.connects).toBe(3);
    expect(pg.closes).toBe(2);
  });
});

describe('route (an operator outside the cluster)', () => {
  test('connects where route says; messages keep the Secret address', async () => {
    source = make({
      route: ({ host, port }) => (host === 'db.shop.svc' ? { host: '127.0.0.1', port: port + 10000 } : undefined),
    });
    source.observe(app());
    await clock.advance(1);
    expect(pg.lastSettings).toMatchObject({ host: '127.0.0.1', port: 15432 });
    expect(check(source.observe(app()), 'postgres')!.message).toContain('db.shop.svc:5432/shop');
  });
});

describe('a rotation while a check connects', () => {
  test('the old connection is closed when it arrives and never reused; the new password is checked at once', async () => {
    pg.connectDelayMs = 1_000;
    source.observe(app());
    await clock.advance(500); // connecting with the first password
    secrets.set('shop/db', dbSecret({ password: 'rotated' }));
    source.observe(app());
    await clock.advance(2_000);
    expect(pg.sessions.map((x) => [x.password, x.closed()])).toEqual([
      [PASSWORD, true],
      ['rotated', false],
    ]);
    expect(check(source.observe(app()), 'postgres')).toMatchObject({ ok: true, reason: 'Healthy' });
    await clock.advance(30_000);
    expect(pg.sessions).toHaveLength(2);
  });
});

describe('one connection per distinct database, shared by the apps on it', () => {
  const apps = (n: number, spec: Partial<AppObject['spec']> = {}) =>
    Array.from({ length: n }, (_, i) => app(spec, `uid-${i}`));

  test('100 apps on one database hold one connection; checks at the same time share one probe; the last app to go closes it', async () => {
    pg.queryDelayMs = 2;
    const all = apps(100);
    for (const a of all) source.observe(a);
    await clock.advance(10);
    expect(pg.connects).toBe(1);
    expect(pg.queries.filter((q) => q === 'SELECT 1')).toHaveLength(1);
    for (const a of all) expect(check(source.observe(a), 'postgres')).toMatchObject({ ok: true, reason: 'Healthy' });
    pg.inUse = 90; // each app judges the shared numbers against its own threshold
    source.observe(app({ database: { secretRef: { name: 'db' }, connectionWarnPercent: 95 } }, 'uid-0'));
    await clock.advance(30_010);
    expect(pg.connects).toBe(1);
    // uid-0 at once (its threshold changed) and at its own period; the other 99 together at theirs
    expect(pg.queries.filter((q) => q === 'SELECT 1').length).toBeLessThanOrEqual(4);
    expect(check(source.observe(all[1]!), 'postgres')).toMatchObject({ ok: true, reason: 'ConnectionSaturation' });
    expect(
      check(
        source.observe(app({ database: { secretRef: { name: 'db' }, connectionWarnPercent: 95 } }, 'uid-0')),
        'postgres',
      ),
    ).toMatchObject({ ok: true, reason: 'Healthy' });
    for (const a of all.slice(0, 99)) source.forget(a.metadata.uid as string);
    expect(pg.closes).toBe(0);
    source.forget('uid-99');
    expect(pg.closes).toBe(1);
  });

  test('another database (or user, or password) gets a connection of its own', async () => {
    secrets.set(
      'shop/db2',
      secret('db2', { host: 'db.shop.svc', database: 'other', username: 'app', password: PASSWORD }),
    );
    source.observe(app({}, 'uid-a'));
    source.observe(app({ database: { secretRef: { name: 'db2' } } }, 'uid-b'));
    await clock.advance(1);
    expect(pg.connects).toBe(2);
  });

  test('a connection that times out is dropped for every app on it and made again once at their next checks', async () => {
    source.observe(app({}, 'uid-1'));
    source.observe(app({}, 'uid-2'));
    await clock.advance(1);
    pg.hang = true;
    await clock.advance(35_000);
    expect(check(source.observe(app({}, 'uid-1')), 'postgres')).toMatchObject({ ok: false, reason: 'Timeout' });
    expect(check(source.observe(app({}, 'uid-2')), 'postgres')!.ok).toBe(false);
    expect(pg.closes).toBe(1);
    pg.hang = false;
    await clock.advance(30_000);
    expect(check(source.observe(app({}, 'uid-1')), 'postgres')).toMatchObject({ ok: true, reason: 'Healthy' });
    expect(check(source.observe(app({}, 'uid-2')), 'postgres')).toMatchObject({ ok: true, reason: 'Healthy' });
    expect(pg.connects).toBe(2);
  });

  test('a rotation moves the app to a connection with the new settings; the others keep the old one', async () => {
    secrets.set('shop/db2', dbSecret());
    source.observe(app({}, 'uid-1'));
    source.observe(app({ database: { secretRef: { name: 'db2' } } }, 'uid-2'));
    await clock.advance(1);
    expect(pg.connects).toBe(1); // two Secrets, the same settings
    secrets.set('shop/db2', dbSecret({ password: 'rotated' }));
    source.observe(app({ database: { secretRef: { name: 'db2' } } }, 'uid-2'));
    await clock.advance(1);
    expect(pg.connects).toBe(2);
    expect(pg.closes).toBe(0);
    expect(pg.sessions.map((x) => [x.password, x.closed()])).toEqual([
      [PASSWORD, false],
      ['rotated', false],
    ]);
  });
});

describe('lifecycle', () => {
  test('forget and stop close connections and timers; no result lands afterwards', async () => {
    const a = app({ cache: { secretRef: { name: 'cache' } } });
    secrets.set('shop/cache', secret('cache', { host: 'redis', password: REDIS_PASSWORD }));
    source.observe(a);
    source.observe(app({}, 'uid-2'));
    await clock.advance(1);
    expect(pg.connects).toBe(1); // the same database: one shared connection
    expect(redis.connects).toBe(1);
    source.forget('uid-1');
    expect(pg.closes).toBe(0); // uid-2 still uses it
    expect(redis.closes).toBe(1);
    expect(clock.pending).toBe(1); // uid-2's
    pg.hang = true;
    await clock.advance(30_000); // uid-2's check in flight
    const stopped = enqueued.length;
    await source.stop(); // closing the connection ends the query in flight: stop does not wait for its timeout
    expect(pg.closes).toBe(1);
    await clock.advance(60_000);
    expect(clock.pending).toBe(0);
    expect(enqueued.length).toBe(stopped);
    expect(source.observe(a)).toEqual({ checks: [] });
  });
});

describe('Redis', () => {
  const cached = (config?: NonNullable<AppObject['spec']['cache']>['config']) =>
    app({ cache: { secretRef: { name: 'cache' }, ...(config ? { config } : {}) } });

  beforeEach(() => {
    secrets.set('shop/cache', secret('cache', { host: 'redis.shop.svc', port: '6379', password: REDIS_PASSWORD }));
  });

  test('PING passes; drift is corrected once with CONFIG SET and reported with one Event', async () => {
    const a = cached({ maxmemoryPolicy: 'allkeys-lru', save: '900 1 300 10' });
    source.observe(a);
    await clock.advance(1);
    let s = source.observe(a);
    expect(check(s, 'redis')).toMatchObject({ ok: true, reason: 'Healthy', kind: 'redis' });
    expect(s.redisConfig).toMatchObject({ inSync: true, drift: [] });
    expect(s.events).toBeUndefined();
    const before = enqueued.length;

    redis.config['maxmemory-policy'] = 'noeviction'; // someone changed it by hand
    redis.config.save = '900   1 300 10'; // same setting, other spacing: not drift
    await clock.advance(30_000);
    expect(redis.sets).toEqual([['maxmemory-policy', 'allkeys-lru']]);
    s = source.observe(a);
    expect(s.redisConfig).toMatchObject({
      inSync: true,
      drift: [{ key: 'maxmemory-policy', live: 'noeviction', want: 'allkeys-lru' }],
      lastCorrectedAt: '2026-01-01T00:00:30Z',
    });
    expect(s.events).toHaveLength(1);
    expect(s.events![0]).toMatchObject({ type: 'Normal', reason: 'RedisConfigCorrected' });
    expect(s.events![0]!.message).toContain('maxmemory-policy was "noeviction", set to "allkeys-lru"');
    expect(enqueued.length).toBe(before + 1);

    await clock.advance(30_000 * 3); // in sync now: no more SETs, no more Events
    expect(redis.sets).toHaveLength(1);
    expect(source.observe(a).events).toHaveLength(1);
    const out = await metrics.registry.getSingleMetricAsString('smartcloudops_redis_config_corrections_total');
    expect(out).toContain('{key="maxmemory-policy"} 1');
  });

  test('a key someone keeps setting back is corrected with a backoff, not every period; in sync again resets it', async () => {
    const a = cached({ maxmemoryPolicy: 'allkeys-lru' });
    source.observe(a);
    redis.config['maxmemory-policy'] = 'noeviction';
    await clock.advance(1); // t≈0: corrected (1)
    for (let i = 0; i < 9; i++) {
      redis.config['maxmemory-policy'] = 'noeviction'; // the other client sets it back before each check
      await clock.advance(30_000);
    }
    // checks at 30 s, 60 s, … 270 s: corrected at 30 s (2), held at 60 s, corrected at 90 s (3), held at 120–180 s,
    // corrected at 210 s (4), held at 240–270 s
    expect(redis.sets).toHaveLength(4);
    let s = source.observe(a);
    expect(s.redisConfig!.inSync).toBe(false);
    expect(s.redisConfig!.message).toContain('maxmemory-policy (corrected 4 times) keeps changing back');
    const warnings = s.events!.filter((e) => e.type === 'Warning');
    expect(warnings.map((e) => e.reason)).toEqual(['RedisConfigDrift', 'RedisConfigDrift', 'RedisConfigDrift']); // one per backoff step
    // nobody fights any more: the next correction sticks, a check in sync resets the backoff
    await clock.advance(30_000 * 8);
    s = source.observe(a);
    expect(s.redisConfig!.inSync).toBe(true);
    redis.config['maxmemory-policy'] = 'noeviction';
    await clock.advance(30_000);
    expect(redis.config['maxmemory-policy']).toBe('allkeys-lru'); // corrected at once again
  });

  test('a CONFIG SET that fails is reported once per distinct failure, the check still passes', async () => {
    redis.config['maxmemory-policy'] = 'noeviction';
    redis.setError = new Error("ERR unknown command 'CONFIG'");
    const a = cached({ maxmemoryPolicy: 'volatile-lru' });
    source.observe(a);
    await clock.advance(30_000 * 4);
    const s = source.observe(a);
    expect(check(s, 'redis')!.ok).toBe(true);
    expect(s.redisConfig).toMatchObject({ inSync: false, drift: [{ key: 'maxmemory-policy' }] });
    expect(s.events!.map((e) => [e.type, e.reason])).toEqual([['Warning', 'RedisConfigDrift']]);
  });

  test('a wrong password is AuthenticationFailed without the password', async () => {
    redis.pingError = new Error(`WRONGPASS invalid username-password pair or user is disabled. ${REDIS_PASSWORD}`);
    const a = cached();
    source.observe(a);
    await clock.advance(1);
    const c = check(source.observe(a), 'redis')!;
    expect(c).toMatchObject({ ok: false, reason: 'AuthenticationFailed' });
    expect(c.message).not.toContain(REDIS_PASSWORD);
    expect(logs.join('')).not.toContain(REDIS_PASSWORD);
  });

  test('removing spec.cache stops the Redis check and closes its connection', async () => {
    source.observe(cached());
    await clock.advance(1);
    const s = source.observe(app());
    expect(check(s, 'redis')).toBeUndefined();
    expect(redis.closes).toBe(1);
    await clock.advance(60_000);
    expect(redis.connects).toBe(1);
  });
});

describe('VACUUM ANALYZE', () => {
  const scheduled = (schedule: string, timeZone?: string) =>
    app({ maintenance: { vacuumAnalyzeSchedule: schedule, ...(timeZone ? { timeZone } : {}) } });

  test('runs at the schedule in its time zone, with duration and the next run', async () => {
    pg.vacuumMs = 2_000;
    const a = scheduled('0 3 * * *', 'Europe/Berlin'); // 03:00 in Berlin is 02:00 UTC in January
    expect(source.observe(a).maintenance).toEqual({ running: false, nextRunAt: '2026-01-01T02:00:00Z' });
    await clock.advance(2 * 3600_000 - 1);
    expect(pg.queries).not.toContain('VACUUM ANALYZE');
    await clock.advance(1);
    expect(source.observe(a).maintenance).toMatchObject({ running: true, nextRunAt: '2026-01-02T02:00:00Z' });
    await clock.advance(2_000);
    const m = source.observe(a).maintenance!;
    expect(m).toEqual({
      running: false,
      nextRunAt: '2026-01-02T02:00:00Z',
      lastRun: {
        startedAt: '2026-01-01T02:00:00Z',
        finishedAt: '2026-01-01T02:00:02Z',
        durationMs: 2_000,
        result: 'Succeeded',
        message: 'VACUUM ANALYZE of PostgreSQL db.shop.svc:5432/shop done',
      },
    });
    expect(pg.queries.filter((q) => q.startsWith('SELECT pg_advisory_unlock'))).toHaveLength(1);
    expect(pg.closes).toBeGreaterThanOrEqual(1); // its own connection, closed after the run
  });

  test('the summer offset is used in summer', () => {
    clock = new FakeClock(new Date('2026-07-01T00:00:00Z'));
    pg = new FakePg(clock);
    source = make();
    expect(source.observe(scheduled('0 3 * * *', 'Europe/Berlin')).maintenance!.nextRunAt).toBe('2026-07-01T01:00:00Z');
  });

  test('never two at once: a run still going skips the next slot; a lock held elsewhere skips the run', async () => {
    pg.vacuumMs = 90_000; // longer than the every-minute schedule
    const a = scheduled('* * * * *');
    source.observe(a);
    await clock.advance(60_000); // 00:01 starts
    await clock.advance(60_000); // 00:02: still running
    let m = source.observe(a).maintenance!;
    expect(m.running).toBe(true);
    expect(source.observe(a).vacuumSkipped).toEqual({
      at: '2026-01-01T00:02:00Z',
      message: 'the previous VACUUM ANALYZE of this app is still running',
    });
    await clock.advance(30_000); // 00:02:30 the first finishes
    m = source.observe(a).maintenance!;
    expect(m.lastRun).toMatchObject({ startedAt: '2026-01-01T00:01:00Z', durationMs: 90_000, result: 'Succeeded' });
    expect(pg.maxConcurrentVacuums).toBe(1);

    pg.lockHeld = true; // another replica (or app on this database) is vacuuming
    await clock.advance(30_000); // 00:03
    const snap = source.observe(a);
    m = snap.maintenance!;
    expect(m.running).toBe(false);
    expect(snap.vacuumSkipped!.at).toBe('2026-01-01T00:03:00Z');
    expect(snap.vacuumSkipped!.message).toContain('holds the lock');
    expect(m.lastRun!.startedAt).toBe('2026-01-01T00:01:00Z');
    expect(m).not.toHaveProperty('lastSkipped'); // status copies maintenance as its schema has it
    expect(snap.events!.filter((e) => e.reason === 'VacuumAnalyzeSkipped')).toHaveLength(2);
    const out = await metrics.registry.getSingleMetricAsString('smartcloudops_vacuum_analyze_runs_total');
    expect(out).toContain('{result="Skipped"} 2');
    expect(out).toContain('{result="Succeeded"} 1');
  });

  test('a failed run is reported with a Warning Event; changing the schedule re-arms; removing it disarms', async () => {
    pg.queryError = Object.assign(new Error('must be owner of database'), { code: '42501' });
    const a = scheduled('30 0 * * *');
    source.observe(a);
    await clock.advance(30 * 60_000);
    let s = source.observe(a);
    expect(s.maintenance!.lastRun).toMatchObject({ result: 'Failed' });
    expect(s.maintenance!.lastRun!.message).toContain('must be owner of database');
    expect(s.events!.map((e) => [e.type, e.reason])).toContainEqual(['Warning', 'VacuumAnalyzeFailed']);
    s = source.observe(scheduled('0 12 * * *'));
    expect(s.maintenance!.nextRunAt).toBe('2026-01-01T12:00:00Z');
    s = source.observe(app());
    expect(s.maintenance).toBeUndefined();
    pg.queries = [];
    await clock.advance(24 * 3600_000);
    expect(pg.queries.filter((q) => q === 'VACUUM ANALYZE')).toEqual([]);
  });
});
