import { describe, expect, test } from '@jest/globals';
import { ConfigError, parseConfig } from './config.js';

describe('parseConfig', () => {
  test('defaults: all namespaces, leader election 60/40/15s', () => {
    const c = parseConfig([], {});
    expect(c).toMatchObject({
      namespaces: [],
      leaderElect: true,
      leaseDurationMs: 60_000,
      renewDeadlineMs: 40_000,
      retryPeriodMs: 15_000,
      concurrency: 4,
      metricsAddr: ':8080',
      healthAddr: ':8081',
      shutdownTimeoutMs: 20_000,
      cacheSyncTimeoutMs: 120_000,
    });
  });
  test('shutdown and cache-sync timeouts from flags or the environment', () => {
    expect(parseConfig(['--shutdown-timeout=5s'], { CACHE_SYNC_TIMEOUT: '30s' })).toMatchObject({
      shutdownTimeoutMs: 5_000,
      cacheSyncTimeoutMs: 30_000,
    });
  });
  test('flags win over the environment, which wins over defaults', () => {
    const c = parseConfig(['--namespaces=a,b'], { WATCH_NAMESPACES: 'x', LOG_LEVEL: 'debug' });
    expect(c).toMatchObject({ namespaces: ['a', 'b'], logLevel: 'debug' });
  });
  test.each([
    [['--concurrency=0'], '--concurrency: "0" must be an integer from 1 to 256'],
    [['--leader-elect=maybe'], '--leader-elect: "maybe" must be true or false'],
    [['--leader-elect-lease-duration=soon'], '--leader-elect-lease-duration: "soon" is not a positive duration'],
    [['--namespaces=Bad_NS'], '--namespaces: "Bad_NS" is not a valid namespace name'],
    [['--metrics-bind-address=nowhere'], '--metrics-bind-address: "nowhere" is not host:port'],
    [['--shutdown-timeout=0s'], '--shutdown-timeout: "0s" is not a positive duration'],
    [['--cache-sync-timeout=never'], '--cache-sync-timeout: "never" is not a positive duration'],
    [['--leader-elect-renew-deadline=90s'], '--leader-elect-lease-duration must exceed --leader-elect-renew-deadline'],
  ])('%s is rejected naming the flag', (argv, msg) => {
    expect(() => parseConfig(argv, {})).toThrow(ConfigError);
    expect(() => parseConfig(argv, {})).toThrow(msg);
  });
  test('--context (KUBE_CONTEXT) selects a kubeconfig context; unset means current-context', () => {
    expect(parseConfig(['--context=kind-a'], { KUBE_CONTEXT: 'kind-b' })).toMatchObject({ context: 'kind-a' });
    expect(parseConfig([], { KUBE_CONTEXT: 'kind-b' })).toMatchObject({ context: 'kind-b' });
    expect((parseConfig([], {}) as { context?: string }).context).toBeUndefined();
  });
  test('unknown flags are rejected', () => {
    expect(() => parseConfig(['--nope'], {})).toThrow(/Unknown option '--nope'/);
  });
});
