import { describe, expect, test } from '@jest/globals';
import { failsRequest, parseBehaviour, versionTraits } from './behaviour.js';

describe('stand-in behaviour from the environment', () => {
  test('a plain version is healthy; the pre-release names the behaviour', () => {
    expect(versionTraits('1.0.0')).toEqual({ mode: 'healthy', errorRate: 0, delayMs: 0 });
    expect(versionTraits('1.1.0-crash').mode).toBe('crash');
    expect(versionTraits('1.1.0-notready').mode).toBe('notready');
    expect(versionTraits('1.1.0-errors')).toMatchObject({ mode: 'healthy', errorRate: 0.5 });
    expect(versionTraits('1.1.0-slow').delayMs).toBe(800);
    expect(versionTraits('2.0.0-errors.slow')).toEqual({ mode: 'healthy', errorRate: 0.5, delayMs: 800 });
    expect(versionTraits('crash').mode).toBe('healthy'); // not a version: nothing is inferred from it
  });

  test('listens on the backend and frontend ports unless told otherwise; env wins over the version', () => {
    expect(parseBehaviour({ STANDIN_VERSION: '1.1.0-errors' })).toMatchObject({
      role: 'app',
      ports: [5000, 3000],
      errorRate: 0.5,
    });
    expect(parseBehaviour({ PORT: '8080' }).ports).toEqual([8080]);
    expect(parseBehaviour({ PORTS: '5001, 3001' }).ports).toEqual([5001, 3001]);
    const front = parseBehaviour({
      STANDIN_ROLE: 'frontend',
      STANDIN_VERSION: '1.1.0-errors',
      STANDIN_ERROR_RATE: '0.1',
    });
    expect(front).toMatchObject({ role: 'frontend', errorRate: 0.1 });
    expect(parseBehaviour({ STANDIN_VERSION: '1.0.0', STANDIN_MODE: 'crash' }).mode).toBe('crash');
    expect(parseBehaviour({ STANDIN_BURN_MS: '25', STANDIN_DELAY_MS: '10' })).toMatchObject({
      burnMs: 25,
      delayMs: 10,
    });
  });

  test('database and cache come from URLs or discrete variables (as secretKeyRef env provides them)', () => {
    expect(parseBehaviour({}).postgres).toBeUndefined();
    expect(parseBehaviour({ DATABASE_URL: 'postgres://u:p@db:5432/app' }).postgres).toEqual({
      connectionString: 'postgres://u:p@db:5432/app',
    });
    expect(parseBehaviour({ PGHOST: 'db', PGUSER: 'app', PGPASSWORD: 's3cret' }).postgres).toEqual({
      host: 'db',
      port: 5432,
      user: 'app',
      password: 's3cret',
      database: 'app',
    });
    expect(parseBehaviour({ REDIS_HOST: 'cache', REDIS_PASSWORD: 'pw' }).redis).toEqual({
      host: 'cache',
      port: 6379,
      password: 'pw',
    });
    expect(parseBehaviour({ REDIS_URL: 'redis://:pw@cache:6379' }).redis).toEqual({ url: 'redis://:pw@cache:6379' });
  });

  test('TLS from a mounted Secret directory or explicit files', () => {
    expect(parseBehaviour({ TLS_DIR: '/tls' }).tls).toEqual({
      certFile: '/tls/tls.crt',
      keyFile: '/tls/tls.key',
      port: 8443,
    });
    expect(() => parseBehaviour({ TLS_CERT_FILE: '/a.crt' })).toThrow(/must be set together/);
  });

  test('bad values name the variable', () => {
    expect(() => parseBehaviour({ STANDIN_ERROR_RATE: '1.5' })).toThrow(/STANDIN_ERROR_RATE: "1.5" must be/);
    expect(() => parseBehaviour({ STANDIN_MODE: 'sleepy' })).toThrow(/STANDIN_MODE/);
    expect(() => parseBehaviour({ STANDIN_ROLE: 'db' })).toThrow(/STANDIN_ROLE/);
    expect(() => parseBehaviour({ PORT: 'http' })).toThrow(/PORT/);
    expect(() => parseBehaviour({ PORTS: '5000,x' })).toThrow(/PORTS: "x"/);
  });

  test('an error rate is exact over any prefix of requests', () => {
    for (const rate of [0, 0.1, 0.25, 0.5, 1]) {
      for (const total of [1, 7, 10, 100]) {
        let failed = 0;
        for (let n = 0; n < total; n++) if (failsRequest(n, rate)) failed++;
        expect(failed).toBe(Math.floor(total * rate + 1e-9));
      }
    }
  });
});
