// The pure decisions around renewal: reload of the consumers (never at the first sight, never under AlertOnly, never
// for an unusable Secret), the rollout-restart patch, the probe schedule (no hot loop) and ConsumersReloaded.
import { describe, expect, test } from '@jest/globals';
import type { CertObservation } from './policy.js';
import {
  consumersReloadedCondition,
  endpointId,
  nextProbeTime,
  probeDue,
  probeStamp,
  reloadPlan,
  restartPatch,
  serialsOf,
  type EndpointResult,
  type ProbeMemo,
} from './plan.js';
import type { CertInfo, CertProblem } from './x509.js';

const leaf = (serial: string): CertInfo => ({
  subject: 'CN=a',
  issuer: 'CN=ca',
  serial,
  notBefore: new Date('2026-01-01T00:00:00Z'),
  notAfter: new Date('2026-02-01T00:00:00Z'),
  fingerprint256: 'AA',
  isCA: false,
  dnsNames: ['a.test'],
  ipAddresses: [],
});

function obs(name: string, serial: string | undefined, problems: CertProblem[] = []): CertObservation {
  return {
    name,
    source: 'cert-manager',
    secretName: `${name}-tls`,
    ...(serial === undefined
      ? { missing: 'Secret' as const }
      : { inspection: { leaf: leaf(serial), chain: [], ca: [], keyMatches: true, problems } }),
  };
}

const deploy = [{ kind: 'Deployment' as const, name: 'web' }];

describe('serialsOf', () => {
  test('name=serial in target order', () => {
    expect(serialsOf([obs('a', '1A'), obs('b', '2B')])).toBe('a=1A,b=2B');
  });
  test('undefined when a Secret is missing or unusable (a restart would load a broken certificate)', () => {
    expect(serialsOf([obs('a', '1A'), obs('b', undefined)])).toBeUndefined();
    expect(
      serialsOf([obs('a', '1A', [{ type: 'KeyMismatch', field: 'tls.key', message: 'key does not match' }])]),
    ).toBeUndefined();
    // An expired certificate is still what the workload should serve if it is the newest one.
    expect(serialsOf([obs('a', '1A', [{ type: 'Expired', field: 'tls.crt', message: 'expired' }])])).toBe('a=1A');
  });
});

describe('reloadPlan', () => {
  test('first sight records a baseline and restarts nothing', () => {
    const p = reloadPlan({
      method: 'CertManager',
      workloads: deploy,
      observations: [obs('a', '1')],
      previous: undefined,
    });
    expect(p).toMatchObject({ restart: false, record: 'a=1' });
  });
  test('a changed serial restarts the workloads; the record moves only once the restart is done', () => {
    const p = reloadPlan({ method: 'CertManager', workloads: deploy, observations: [obs('a', '2')], previous: 'a=1' });
    expect(p).toMatchObject({ restart: true, record: 'a=1', current: 'a=2' });
  });
  test('AlertOnly never restarts and keeps the old record, so a later switch to CertManager restarts', () => {
    const p = reloadPlan({ method: 'AlertOnly', workloads: deploy, observations: [obs('a', '2')], previous: 'a=1' });
    expect(p).toMatchObject({ restart: false, record: 'a=1' });
  });
  test('unchanged serials, no workloads, or an unusable Secret: no restart', () => {
    expect(
      reloadPlan({ method: 'CertManager', workloads: deploy, observations: [obs('a', '1')], previous: 'a=1' }).restart,
    ).toBe(false);
    expect(
      reloadPlan({ method: 'CertManager', workloads: [], observations: [obs('a', '2')], previous: 'a=1' }),
    ).toMatchObject({ restart: false, record: 'a=2' });
    expect(
      reloadPlan({ method: 'CertManager', workloads: deploy, observations: [obs('a', undefined)], previous: 'a=1' }),
    ).toMatchObject({ restart: false, record: 'a=1' });
  });
});

test('restartPatch is kubectl rollout restart', () => {
  expect(restartPatch(new Date('2026-03-01T10:00:00.123Z'))).toEqual({
    spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-03-01T10:00:00Z' } } } },
  });
});

describe('probe schedule', () => {
  const timing = { intervalMs: 600_000, retryBaseMs: 2_000, retryMaxMs: 300_000 };
  const now = new Date('2026-01-01T00:00:00Z');
  const at = (ms: number) => new Date(now.getTime() + ms);
  const memo = (stamp: string, failedRounds: number): ProbeMemo => ({ stamp, results: [], at: now, failedRounds });

  test('due at once without a memo or when what it compares with changed (new serial, restart)', () => {
    expect(probeDue(undefined, 's', now, timing)).toBe(true);
    expect(probeDue(memo('old', 0), 'new', now, timing)).toBe(true);
  });
  test('healthy: next round after the interval; failing: backoff 2 s, 4 s, … capped at 5 min', () => {
    expect(nextProbeTime(memo('s', 0), 's', timing)).toEqual(at(600_000));
    expect(nextProbeTime(memo('s', 1), 's', timing)).toEqual(at(2_000));
    expect(nextProbeTime(memo('s', 3), 's', timing)).toEqual(at(8_000));
    expect(nextProbeTime(memo('s', 40), 's', timing)).toEqual(at(300_000));
    expect(probeDue(memo('s', 1), 's', at(1_999), timing)).toBe(false);
    expect(probeDue(memo('s', 1), 's', at(2_000), timing)).toBe(true);
  });
  test('the stamp covers endpoints, expected serials and the last restart', () => {
    const a = [
      { endpoint: { host: '10.96.0.5', port: 8443, serverName: 'web.test' }, certificate: 'a', expected: '1' },
    ];
    expect(probeStamp(a, undefined)).not.toBe(probeStamp(a, '2026-01-01T00:00:00Z'));
    expect(probeStamp(a, undefined)).not.toBe(probeStamp([{ ...a[0]!, expected: '2' }], undefined));
    expect(endpointId(a[0]!.endpoint)).toBe('10.96.0.5:8443 (web.test)');
    expect(endpointId({ host: '::1' })).toBe('[::1]:443');
  });
});

describe('ConsumersReloaded', () => {
  const result = (serial: string | undefined, expected: string, error?: string): EndpointResult => ({
    endpoint: 'web:8443',
    certificate: 'a',
    expected,
    at: new Date(0),
    ...(serial ? { serial } : {}),
    ...(error ? { error } : {}),
  });
  const plan = { record: 'a=2', restart: false, current: 'a=2', why: '' };
  test('an endpoint serving another serial than the Secret: False StaleCertificateServed, both serials named', () => {
    const c = consumersReloadedCondition({
      method: 'CertManager',
      workloads: deploy,
      results: [result('1', '2')],
      plan,
      lastReloadTime: '2026-01-01T00:00:00Z',
    });
    expect(c).toMatchObject({ status: 'False', reason: 'StaleCertificateServed' });
    expect(c.message).toContain('serves serial 1, a holds 2');
    expect(c.message).toContain('restarted at 2026-01-01T00:00:00Z');
  });
  test('AlertOnly says the workloads are not restarted', () => {
    const c = consumersReloadedCondition({
      method: 'AlertOnly',
      workloads: deploy,
      results: [result('1', '2')],
      plan,
      lastReloadTime: undefined,
    });
    expect(c.message).toContain('AlertOnly');
  });
  test('a failed probe: False ProbeFailed; a failed restart: False RestartFailed', () => {
    expect(
      consumersReloadedCondition({
        method: 'CertManager',
        workloads: deploy,
        results: [result(undefined, '2', 'Timeout: no answer')],
        plan,
        lastReloadTime: undefined,
      }),
    ).toMatchObject({ status: 'False', reason: 'ProbeFailed' });
    expect(
      consumersReloadedCondition({
        method: 'CertManager',
        workloads: deploy,
        results: [],
        plan,
        restartError: 'Deployment web not found',
        lastReloadTime: undefined,
      }),
    ).toMatchObject({ status: 'False', reason: 'RestartFailed' });
  });
  test('all endpoints serve the Secret serial: True ServingCurrent; nothing to check: True NoConsumers', () => {
    expect(
      consumersReloadedCondition({
        method: 'CertManager',
        workloads: deploy,
        results: [result('2', '2')],
        plan,
        lastReloadTime: undefined,
      }),
    ).toMatchObject({ status: 'True', reason: 'ServingCurrent' });
    expect(
      consumersReloadedCondition({
        method: 'CertManager',
        workloads: [],
        results: [],
        plan,
        lastReloadTime: undefined,
      }),
    ).toMatchObject({ status: 'True', reason: 'NoConsumers' });
  });
  test('a restart still to do: False', () => {
    expect(
      consumersReloadedCondition({
        method: 'CertManager',
        workloads: deploy,
        results: [],
        plan: { record: 'a=1', restart: true, current: 'a=2', why: '' },
        lastReloadTime: undefined,
      }),
    ).toMatchObject({ status: 'False' });
  });
});
