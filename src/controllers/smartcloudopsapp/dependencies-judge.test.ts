// The pure parts of the dependency checks: Secret parsing (keys, uri, problems that name keys, never values), error
// reasons, saturation, Redis drift and what counts as a change.
import { describe, expect, test } from '@jest/globals';
import type { KubeObject } from '../../kube/index.js';
import type { AppObject, DependencySnapshot } from './contracts.js';
import { resolvePostgres, resolveRedis, scrub, secretValues } from './dependencies-config.js';
import {
  configReply,
  judgeSaturation,
  pgReason,
  redisDrift,
  redisReason,
  snapshotVerdict,
  wantedRedisConfig,
} from './dependencies-judge.js';

const secret = (data: Record<string, string>): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's', namespace: 'ns' },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  }) as KubeObject;

const app = (spec: Partial<AppObject['spec']> = {}): AppObject =>
  ({
    metadata: { name: 'a', namespace: 'ns', uid: 'u' },
    spec: { version: '1', backend: {}, frontend: {}, database: { secretRef: { name: 's' } }, ...spec },
  }) as unknown as AppObject;

describe('Secret settings', () => {
  test('keys, with the default port; uri wins; every value goes into the fingerprint', () => {
    const keys = resolvePostgres(app(), () =>
      secret({ host: 'db', database: 'shop', username: 'app', password: 'p1' }),
    );
    expect(keys).toMatchObject({ ok: true, settings: { host: 'db', port: 5432, database: 'shop', user: 'app' } });
    const rotated = resolvePostgres(app(), () =>
      secret({ host: 'db', database: 'shop', username: 'app', password: 'p2' }),
    );
    expect(rotated.ok && keys.ok && rotated.settings.fingerprint !== keys.settings.fingerprint).toBe(true);
    const uri = resolvePostgres(app(), () => secret({ host: 'ignored', uri: 'postgres://u:p%40ss@[::1]:6000/d' }));
    expect(uri).toMatchObject({ ok: true, settings: { host: '::1', port: 6000, user: 'u', password: 'p@ss' } });
  });

  test('problems name the Secret and key, never a value', () => {
    expect(resolvePostgres(app(), () => undefined)).toMatchObject({
      ok: false,
      problem: { reason: 'SecretMissing', message: 'Secret ns/s (the PostgreSQL connection) does not exist' },
    });
    expect(resolvePostgres(app(), () => secret({ host: 'db', username: 'u', password: 'hunter2' }))).toMatchObject({
      problem: { reason: 'SecretKeyMissing', message: 'Secret ns/s has no key "database" (nor "uri")' },
    });
    const bad = resolvePostgres(app(), () =>
      secret({ host: 'db', database: 'd', username: 'u', password: 'hunter2', port: 'hunter2' }),
    );
    expect(bad).toMatchObject({
      problem: { reason: 'SecretInvalid', message: 'key "port" of Secret ns/s is not a port number' },
    });
    const badUri = resolvePostgres(app(), () => secret({ uri: 'hunter2 is not a url' }));
    expect(JSON.stringify(badUri)).not.toContain('hunter2');
  });

  test('Redis: no cache, keys with optional password, redis(s):// uri', () => {
    expect(resolveRedis(app(), () => undefined)).toBeUndefined();
    const cache = { secretRef: { name: 'c' } };
    expect(resolveRedis(app({ cache }), () => secret({ host: 'r' }))).toMatchObject({
      ok: true,
      settings: { host: 'r', port: 6379, tls: false, db: 0 },
    });
    expect(resolveRedis(app({ cache }), () => secret({ uri: 'rediss://:pw@r:6380/2' }))).toMatchObject({
      ok: true,
      settings: { host: 'r', port: 6380, password: 'pw', tls: true, db: 2 },
    });
    expect(resolveRedis(app({ cache }), () => secret({ port: '1' }))).toMatchObject({
      problem: { reason: 'SecretKeyMissing', message: 'Secret ns/c has no key "host" (nor "uri")' },
    });
  });

  test('stringData counts; scrub removes values', () => {
    expect(secretValues({ metadata: {}, stringData: { a: 'b' } } as unknown as KubeObject)).toEqual({ a: 'b' });
    expect(scrub('auth failed for pw123 at db', ['pw123', undefined])).toBe('auth failed for [REDACTED] at db');
  });
});

describe('reasons', () => {
  test.each([
    [{ code: '28P01' }, 'AuthenticationFailed'],
    [{ code: '3D000' }, 'DatabaseNotFound'],
    [{ code: '53300' }, 'TooManyConnections'],
    [{ code: 'ECONNREFUSED' }, 'ConnectionRefused'],
    [{ code: 'ENOTFOUND' }, 'HostNotFound'],
    [{ message: 'Connection terminated unexpectedly' }, 'ConnectionFailed'],
    [{ message: 'Query read timeout' }, 'Timeout'],
    [{ code: '42P01', message: 'relation does not exist' }, 'QueryFailed'],
  ])('PostgreSQL %j → %s', (err, reason) => expect(pgReason(err)).toBe(reason));

  test.each([
    [{ message: 'WRONGPASS invalid username-password pair or user is disabled.' }, 'AuthenticationFailed'],
    [{ message: 'NOAUTH Authentication required.' }, 'AuthenticationFailed'],
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' }, 'ConnectionRefused'],
    [{ code: 'ETIMEDOUT', message: 'connect ETIMEDOUT' }, 'Timeout'],
    [{ message: 'Connection is closed.' }, 'ConnectionFailed'],
    [{ message: "ERR unknown command 'CONFIG'" }, 'CommandFailed'],
  ])('Redis %j → %s', (err, reason) => expect(redisReason(err)).toBe(reason));
});

describe('saturation and drift', () => {
  test('the warning starts where the percentage is reached', () => {
    expect(judgeSaturation(79, 100, 80).warning).toBe(false);
    expect(judgeSaturation(80, 100, 80)).toEqual({ inUse: 80, max: 100, percent: 80, warning: true });
    expect(judgeSaturation(5, 0, 80).warning).toBe(false);
  });

  test('drift compares normalized values; only the keys the spec sets are managed', () => {
    const want = wantedRedisConfig(app({ cache: { secretRef: { name: 'c' }, config: { save: ' 900  1 ' } } }));
    expect(want).toEqual({ save: '900 1' });
    expect(redisDrift(want, configReply(['save', '900 1']))).toEqual([]);
    expect(redisDrift(want, configReply({ save: '' }))).toEqual([{ key: 'save', live: '', want: '900 1' }]);
    expect(redisDrift({ 'maxmemory-policy': 'allkeys-lru' }, {})).toEqual([
      { key: 'maxmemory-policy', live: '', want: 'allkeys-lru' },
    ]);
  });

  test('a verdict ignores latency, timestamps and the numbers of a passing check', () => {
    const base: DependencySnapshot = {
      checks: [
        { name: 'postgres', kind: 'postgres', ok: true, reason: 'Healthy', message: '1 of 100', checkedAt: 't1' },
      ],
    };
    const moved: DependencySnapshot = {
      checks: [
        {
          name: 'postgres',
          kind: 'postgres',
          ok: true,
          reason: 'Healthy',
          message: '7 of 100',
          checkedAt: 't2',
          latencyMs: 9,
        },
      ],
    };
    expect(snapshotVerdict(moved)).toBe(snapshotVerdict(base));
    const warned: DependencySnapshot = {
      checks: [{ ...moved.checks[0]!, reason: 'ConnectionSaturation', warning: true }],
    };
    expect(snapshotVerdict(warned)).not.toBe(snapshotVerdict(base));
    expect(snapshotVerdict({ ...base, events: [{ key: 'k', type: 'Normal', reason: 'R', message: 'm' }] })).not.toBe(
      snapshotVerdict(base),
    );
  });
});
