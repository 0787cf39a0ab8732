import { describe, expect, test } from '@jest/globals';
import {
  DAY,
  HOUR,
  MINUTE,
  certificateStatus,
  certificatesValidCondition,
  decideRenewal,
  effectiveRenewBefore,
  escalation,
  expiringSoonCondition,
  jitterFraction,
  nextRequeue,
  policyFromSpec,
  renewalSchedule,
  renewingCondition,
  retryDelayMs,
  summarize,
  assignEndpoints,
  sanCovers,
  servedFromProbe,
  type CertManagerView,
  type CertObservation,
  type RenewalPolicy,
} from './policy.js';
import type { CertInfo, TlsInspection } from './x509.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const t = (ms: number): Date => new Date(T0.getTime() + ms);
const ns = 'prod';

function info(notBefore: Date, notAfter: Date, serial = 'ABC123'): CertInfo {
  return {
    subject: 'CN=a.test',
    issuer: 'CN=CA',
    serial,
    notBefore,
    notAfter,
    fingerprint256: 'AA',
    isCA: false,
    dnsNames: ['a.test'],
    ipAddresses: [],
  };
}

function inspection(leaf: CertInfo, problems: TlsInspection['problems'] = []): TlsInspection {
  return { leaf, chain: [{ ...leaf, signedByNext: undefined }], ca: [], keyMatches: true, problems };
}

function cm(v: Partial<CertManagerView> = {}): CertManagerView {
  return {
    ready: true,
    issuingReason: undefined,
    issuingFailed: false,
    revision: 1,
    failedIssuanceAttempts: 0,
    lastFailureTime: undefined,
    ...v,
  };
}

function obs(name: string, leaf: CertInfo | undefined, extra: Partial<CertObservation> = {}): CertObservation {
  return {
    name,
    source: 'cert-manager',
    secretName: `${name}-tls`,
    ...(leaf ? { inspection: inspection(leaf) } : {}),
    certManager: cm(),
    ...extra,
  };
}

const noJitter = (spec: Parameters<typeof policyFromSpec>[0] = {}): RenewalPolicy =>
  policyFromSpec(spec, { jitterFraction: 0 });

const cert90d = info(T0, t(90 * DAY));

describe('policyFromSpec', () => {
  test('defaults: renewBefore 720h, warnBefore 168h, jitter 10%, backoff 1h → 32h', () => {
    const p = policyFromSpec({});
    expect(p).toMatchObject({
      renewBeforeMs: 720 * HOUR,
      renewBeforePercentage: undefined,
      warnBeforeMs: 168 * HOUR,
      jitterFraction: 0.1,
      safetyMarginMs: 5 * MINUTE,
      backoff: { baseMs: HOUR, maxMs: 32 * HOUR },
    });
  });

  test('renewBeforePercentage replaces the default renewBefore; overrides apply; jitter is bounded to 0.5', () => {
    expect(policyFromSpec({ renewBeforePercentage: 25, warnBefore: '24h' })).toMatchObject({
      renewBeforeMs: undefined,
      renewBeforePercentage: 25,
      warnBeforeMs: 24 * HOUR,
    });
    expect(policyFromSpec({ renewBefore: '1h30m' }).renewBeforeMs).toBe(90 * MINUTE);
    expect(policyFromSpec({}, { jitterFraction: 3 }).jitterFraction).toBe(0.5);
    expect(policyFromSpec({}, { backoff: { baseMs: 1000, maxMs: 8000 } }).backoff).toEqual({
      baseMs: 1000,
      maxMs: 8000,
    });
  });
});

describe('renewal time (cert-manager semantics)', () => {
  test('renewBefore shorter than the lifetime is used; otherwise the percentage; otherwise a third', () => {
    expect(effectiveRenewBefore(90 * DAY, { renewBeforeMs: 30 * DAY, renewBeforePercentage: undefined })).toBe(
      30 * DAY,
    );
    expect(effectiveRenewBefore(10 * DAY, { renewBeforeMs: 30 * DAY, renewBeforePercentage: undefined })).toBe(
      Math.floor((10 * DAY) / 3),
    );
    expect(effectiveRenewBefore(100 * DAY, { renewBeforeMs: undefined, renewBeforePercentage: 25 })).toBe(25 * DAY);
    expect(effectiveRenewBefore(90 * DAY, { renewBeforeMs: 0, renewBeforePercentage: undefined })).toBe(30 * DAY);
  });

  test('renewal = notAfter − renewBefore, or notBefore + lifetime × (1 − pct/100), truncated to the second', () => {
    expect(renewalSchedule({ namespace: ns, name: 'a', serial: '1' }, cert90d, noJitter()).renewalTime).toEqual(
      t(60 * DAY),
    );
    const day = info(T0, t(DAY));
    const s = renewalSchedule({ namespace: ns, name: 'a', serial: '1' }, day, noJitter({ renewBeforePercentage: 20 }));
    expect(s.renewBeforeMs).toBe(0.2 * DAY);
    expect(s.renewalTime).toEqual(t(0.8 * DAY));
    const odd = info(T0, t(10_000_700)); // lifetime/3 is not a whole second
    expect(renewalSchedule({ namespace: ns, name: 'a', serial: '1' }, odd, noJitter()).renewalTime).toEqual(
      t(6_667_000),
    );
  });

  test('jitter: 1,000 certificates issued together spread over the window, deterministically', () => {
    const p = policyFromSpec({ renewBefore: '720h' }); // 10% of 30 days: up to 3 days earlier
    const nominal = t(60 * DAY).getTime();
    const window = 0.1 * 30 * DAY;
    const times = Array.from({ length: 1000 }, (_, i) =>
      renewalSchedule(
        { namespace: ns, name: `app-${i}`, serial: `5E${i.toString(16)}` },
        cert90d,
        p,
      ).renewalTime.getTime(),
    );
    for (const x of times) {
      expect(x).toBeLessThanOrEqual(nominal);
      expect(x).toBeGreaterThanOrEqual(nominal - window - 1000);
    }
    const buckets = new Array<number>(10).fill(0);
    for (const x of times) buckets[Math.min(9, Math.floor(((nominal - x) / window) * 10))]! += 1;
    for (const b of buckets) {
      expect(b).toBeGreaterThan(60);
      expect(b).toBeLessThan(140);
    }
    expect(new Set(times).size).toBeGreaterThan(990);
    const again = Array.from({ length: 1000 }, (_, i) =>
      renewalSchedule(
        { namespace: ns, name: `app-${i}`, serial: `5E${i.toString(16)}` },
        cert90d,
        p,
      ).renewalTime.getTime(),
    );
    expect(again).toEqual(times);
    // A re-issued certificate (new serial) gets its own offset.
    expect(jitterFraction(ns, 'app-1', 'AAAA')).not.toBe(jitterFraction(ns, 'app-1', 'AAAB'));
  });

  test('never later than notAfter − safety margin, never before notBefore', () => {
    const hour = info(T0, t(HOUR));
    const s = renewalSchedule({ namespace: ns, name: 'a', serial: '1' }, hour, noJitter({ renewBefore: '1m' }));
    expect(s.nominalRenewalTime).toEqual(t(59 * MINUTE));
    expect(s.renewalTime).toEqual(t(55 * MINUTE));
    // A two-minute certificate: the margin shrinks to a tenth of the lifetime.
    const tiny = info(T0, t(2 * MINUTE));
    const m = renewalSchedule({ namespace: ns, name: 'a', serial: '1' }, tiny, noJitter({ renewBefore: '1s' }));
    expect(m.renewalTime).toEqual(t(108_000));
    // Maximum jitter on a certificate with zero lifetime stays at notBefore.
    const zero = info(T0, T0);
    expect(
      renewalSchedule({ namespace: ns, name: 'a', serial: '1' }, zero, policyFromSpec({}, { jitterFraction: 0.5 }))
        .renewalTime,
    ).toEqual(T0);
  });

  test('warning time: notAfter − warnBefore, or half-way through the renew window when warnBefore is not shorter', () => {
    const s = renewalSchedule({ namespace: ns, name: 'a', serial: '1' }, cert90d, noJitter());
    expect(s.warningTime).toEqual(t(83 * DAY));
    const hour = info(T0, t(HOUR)); // renewBefore 720h > lifetime → 20m; warnBefore 168h → 10m before notAfter
    const h = renewalSchedule({ namespace: ns, name: 'a', serial: '1' }, hour, noJitter());
    expect(h.renewalTime).toEqual(t(40 * MINUTE));
    expect(h.warningTime).toEqual(t(50 * MINUTE));
  });
});

describe('backoff and escalation', () => {
  const p = policyFromSpec({});

  test('1h·2^(n−1), capped at 32h; configurable', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 10, 1000].map((n) => retryDelayMs(n, p.backoff) / HOUR)).toEqual([
      0, 1, 2, 4, 8, 16, 32, 32, 32, 32,
    ]);
    expect(retryDelayMs(3, { baseMs: 1000, maxMs: 3000 })).toBe(3000);
  });

  test('escalate when the next retry would come after notAfter − margin; not before', () => {
    const notAfter = t(20 * HOUR);
    const five = escalation({ failedAttempts: 5, lastFailureTime: T0 }, notAfter, T0, p);
    expect(five).toMatchObject({ escalate: false, nextRetry: t(16 * HOUR) });
    const six = escalation({ failedAttempts: 6, lastFailureTime: T0 }, notAfter, T0, p);
    expect(six.escalate).toBe(true);
    expect(six.message).toBe(
      '6 failed renewal attempt(s); the next retry at 2026-01-02T08:00:00Z comes too late for notAfter 2026-01-01T20:00:00Z',
    );
    // Inside the safety margin counts as too late.
    const edge = escalation({ failedAttempts: 1, lastFailureTime: t(19 * HOUR - 4 * MINUTE) }, t(20 * HOUR), T0, p);
    expect(edge.escalate).toBe(true);
    expect(escalation({ failedAttempts: 0 }, notAfter, T0, p).escalate).toBe(false);
    expect(escalation({ failedAttempts: 1, lastFailureTime: T0 }, T0, t(1), p).escalate).toBe(true); // expired
  });

  test('decideRenewal: AlertOnly, in flight, wait, trigger, backoff', () => {
    const s = renewalSchedule({ namespace: ns, name: 'a', serial: '1' }, cert90d, noJitter());
    const base = {
      method: 'CertManager' as const,
      notBefore: cert90d.notBefore,
      schedule: s,
      failure: { failedAttempts: 0 },
      issuing: false,
      policy: p,
    };
    expect(decideRenewal({ ...base, now: t(61 * DAY), method: 'AlertOnly' }).action).toBe('AlertOnly');
    expect(decideRenewal({ ...base, now: t(61 * DAY), issuing: true }).action).toBe('InFlight');
    expect(decideRenewal({ ...base, now: t(DAY) })).toEqual({ action: 'Wait', at: t(60 * DAY) });
    expect(decideRenewal({ ...base, now: t(60 * DAY) }).action).toBe('Trigger');
    const failed = { failedAttempts: 3, lastFailureTime: t(61 * DAY) };
    expect(decideRenewal({ ...base, now: t(61 * DAY + HOUR), failure: failed })).toEqual({
      action: 'Backoff',
      at: t(61 * DAY + 4 * HOUR),
    });
    expect(decideRenewal({ ...base, now: t(61 * DAY + 4 * HOUR), failure: failed }).action).toBe('Trigger');
  });

  test('storm guard: a certificate issued already due is not renewed again before minCertAgeMs', () => {
    // An issuer capping lifetimes (a CA about to expire): a 6-minute certificate is due after 4 minutes.
    const young = info(T0, t(6 * MINUTE));
    const s = renewalSchedule({ namespace: ns, name: 'a', serial: '1' }, young, noJitter());
    expect(s.renewalTime).toEqual(t(4 * MINUTE));
    const input = {
      method: 'CertManager' as const,
      notBefore: young.notBefore,
      schedule: s,
      failure: { failedAttempts: 0 },
      issuing: false,
      policy: p,
    };
    expect(decideRenewal({ ...input, now: t(4 * MINUTE) })).toEqual({ action: 'TooYoung', at: t(5 * MINUTE) });
    expect(decideRenewal({ ...input, now: t(5 * MINUTE) }).action).toBe('Trigger');
  });
});

describe('requeue', () => {
  const p = policyFromSpec({});

  test('the earliest future time; past times ignored; clamped to [5s, 24h]; none ahead → the maximum', () => {
    expect(nextRequeue(T0, [t(3 * HOUR), t(-HOUR), undefined, t(2 * HOUR)], p)).toEqual({
      delayMs: 2 * HOUR,
      at: t(2 * HOUR),
    });
    expect(nextRequeue(T0, [t(100)], p).delayMs).toBe(5_000);
    expect(nextRequeue(T0, [t(30 * DAY)], p).delayMs).toBe(DAY);
    expect(nextRequeue(T0, [T0, t(-1)], p)).toEqual({ delayMs: DAY, at: undefined });
  });

  test('following the requeues through a certificate life: wakes exactly at the interesting times, no hot loop', () => {
    const leaf = info(T0, t(90 * DAY));
    const o = obs('app', leaf);
    const s = renewalSchedule({ namespace: ns, name: 'app', serial: leaf.serial }, leaf, p);
    let now = T0;
    const wakes: number[] = [];
    while (now < t(92 * DAY)) {
      const r = summarize({ namespace: ns, observations: [o], method: 'CertManager', now, policy: p }).requeue;
      expect(r.delayMs).toBeGreaterThanOrEqual(p.minRequeueMs);
      now = new Date(now.getTime() + r.delayMs);
      wakes.push(now.getTime());
    }
    for (const x of [s.renewalTime, s.warningTime, leaf.notAfter]) expect(wakes).toContain(x.getTime());
    expect(wakes.length).toBeLessThanOrEqual(92 + 3);
  });
});

describe('endpoints', () => {
  const web = {
    ...info(T0, t(DAY)),
    dnsNames: ['www.a.test', '*.a.test'],
    ipAddresses: ['10.1.2.3', '0:0:0:0:0:0:0:1'],
  };
  const api = { ...info(T0, t(DAY)), dnsNames: ['api.a.test'], ipAddresses: [] };

  test('sanCovers: exact names (case-insensitive), one-label wildcards, IPs in any IPv6 spelling', () => {
    expect(sanCovers(web, 'WWW.a.test')).toBe('exact');
    expect(sanCovers(web, 'api.a.test')).toBe('wildcard');
    expect(sanCovers(web, 'x.y.a.test')).toBe(false);
    expect(sanCovers(web, 'a.test')).toBe(false);
    expect(sanCovers(web, '10.1.2.3')).toBe('exact');
    expect(sanCovers(web, '::1')).toBe('exact');
    expect(sanCovers(web, '10.1.2.4')).toBe(false);
  });

  test('assignEndpoints: all to a single target; else by SANs, exact before wildcard; the rest unmatched', () => {
    const eps = [
      { host: 'api.a.test' },
      { host: '10.1.2.3', serverName: 'www.a.test' },
      { host: 'other.test', port: 8443 },
    ];
    expect(assignEndpoints([{ name: 'web', leaf: web }], eps).byCert.get('web')).toEqual(eps);
    const two = assignEndpoints(
      [
        { name: 'web', leaf: web },
        { name: 'api', leaf: api },
      ],
      eps,
    );
    expect(two.byCert.get('api')).toEqual([eps[0]]);
    expect(two.byCert.get('web')).toEqual([eps[1]]);
    expect(two.unmatched).toEqual([eps[2]]);
    expect(
      assignEndpoints(
        [
          { name: 'web', leaf: undefined },
          { name: 'api', leaf: api },
        ],
        eps,
      ).unmatched,
    ).toEqual([eps[1], eps[2]]);
  });

  test('servedFromProbe: a served serial or the typed error', () => {
    expect(servedFromProbe({ ok: true, endpoint: 'a:443', serial: 'AB' })).toEqual({ endpoint: 'a:443', serial: 'AB' });
    expect(servedFromProbe({ ok: false, endpoint: 'a:443', kind: 'Timeout', message: 'no answer' })).toEqual({
      endpoint: 'a:443',
      error: 'Timeout: no answer',
    });
  });
});

describe('status and conditions', () => {
  const p = noJitter();

  test('a status entry per certificate', () => {
    const o = obs('app', cert90d, { served: [{ endpoint: 'a.test:443', serial: 'ABC123' }] });
    expect(certificateStatus(o, ns, t(10 * DAY + HOUR), p)).toEqual({
      name: 'app',
      source: 'cert-manager',
      secretName: 'app-tls',
      serial: 'ABC123',
      notBefore: '2026-01-01T00:00:00Z',
      notAfter: '2026-04-01T00:00:00Z',
      renewalTime: '2026-03-02T00:00:00Z',
      daysRemaining: 79,
      servedSerialMatches: true,
      failedAttempts: 0,
      revision: 1,
    });
    const expired = certificateStatus(obs('old', info(T0, t(DAY))), ns, t(DAY + HOUR), p);
    expect(expired.daysRemaining).toBe(-1);
    const old = obs('app', cert90d, { served: [{ endpoint: 'a.test:443', serial: 'OLD' }] });
    expect(certificateStatus(old, ns, T0, p).servedSerialMatches).toBe(false);
    const down = obs('app', cert90d, { served: [{ endpoint: 'a.test:443', error: 'Timeout' }] });
    expect(certificateStatus(down, ns, T0, p).servedSerialMatches).toBe(false);
    expect(certificateStatus(obs('app', cert90d), ns, T0, p).servedSerialMatches).toBeUndefined();
    const missing = certificateStatus(
      { name: 'gone', source: 'secret', secretName: 'gone', missing: 'Secret' },
      ns,
      T0,
      p,
    );
    expect(missing).toEqual({
      name: 'gone',
      source: 'secret',
      secretName: 'gone',
      failedAttempts: 0,
      problems: ['Secret not found'],
    });
  });

  test('CertificatesValid: Valid; the worst problem as reason; cert-manager Ready=True is named; bounded message', () => {
    expect(certificatesValidCondition([obs('a', cert90d)])).toEqual({
      type: 'CertificatesValid',
      status: 'True',
      reason: 'Valid',
      message: '1 certificate(s) valid',
    });
    const expired = obs('b', cert90d, {
      inspection: inspection(cert90d, [{ type: 'Expired', field: 'tls.crt', message: 'the leaf certificate expired' }]),
    });
    const mismatched = obs('c', cert90d, {
      inspection: inspection(cert90d, [{ type: 'HostnameMismatch', field: 'tls.crt', message: 'does not cover x' }]),
      certManager: cm({ ready: false }),
    });
    const c = certificatesValidCondition([obs('a', cert90d), mismatched, expired]);
    expect(c).toEqual({
      type: 'CertificatesValid',
      status: 'False',
      reason: 'Expired',
      message: 'c: does not cover x; b: the leaf certificate expired (cert-manager reports Ready=True)',
    });
    const missing = { name: 'd', source: 'secret' as const, secretName: 'd', missing: 'Secret' as const };
    expect(certificatesValidCondition([expired, missing])).toMatchObject({ reason: 'SecretMissing' });
    const many = Array.from({ length: 8 }, (_, i) => ({ ...expired, name: `x${i}` }));
    expect(certificatesValidCondition(many).message).toMatch(/; and 3 more$/);
  });

  test('ExpiringSoon: False outside the window, True inside and when expired, Unknown when nothing is readable', () => {
    expect(expiringSoonCondition([obs('a', cert90d)], ns, t(82 * DAY), p)).toMatchObject({
      status: 'False',
      reason: 'OutsideWarningWindow',
    });
    expect(expiringSoonCondition([obs('a', cert90d)], ns, t(83 * DAY + 2 * HOUR), p)).toEqual({
      type: 'ExpiringSoon',
      status: 'True',
      reason: 'WithinWarningWindow',
      message: 'a expires in 6d22h (2026-04-01T00:00:00Z)',
    });
    expect(expiringSoonCondition([obs('a', cert90d)], ns, t(91 * DAY), p).message).toBe(
      'a expired 1d0h ago (2026-04-01T00:00:00Z)',
    );
    expect(expiringSoonCondition([obs('a', undefined)], ns, T0, p)).toMatchObject({ status: 'Unknown' });
  });

  test('Renewing: not renewing, manual or scheduled issuance, backoff, and backoff past expiry', () => {
    const now = t(70 * DAY);
    expect(renewingCondition([obs('a', cert90d)], now, p)).toMatchObject({ status: 'False', reason: 'NotRenewing' });
    expect(
      renewingCondition([obs('a', cert90d, { certManager: cm({ issuingReason: 'ManuallyTriggered' }) })], now, p),
    ).toMatchObject({ status: 'True', reason: 'ManuallyTriggered' });
    expect(
      renewingCondition([obs('a', cert90d, { certManager: cm({ issuingReason: 'Renewing' }) })], now, p),
    ).toMatchObject({ status: 'True', reason: 'ScheduledRenewal', message: 'a: issuing (Renewing)' });
    const failing = cm({ failedIssuanceAttempts: 2, lastFailureTime: now });
    expect(renewingCondition([obs('a', cert90d, { certManager: failing })], now, p)).toEqual({
      type: 'Renewing',
      status: 'True',
      reason: 'BackoffActive',
      message: 'a: 2 failed attempt(s), next retry at 2026-03-12T02:00:00Z',
    });
    const late = cm({ failedIssuanceAttempts: 6, lastFailureTime: t(89 * DAY) }); // retry 32h later: past notAfter
    expect(renewingCondition([obs('a', cert90d, { certManager: late })], now, p)).toMatchObject({
      status: 'True',
      reason: 'BackoffPastExpiry',
    });
  });

  test('summarize: Ready, next renewal, soonest expiry, escalations, requeue; AlertOnly schedules no renewal', () => {
    const a = obs('a', cert90d);
    const b = obs('b', info(T0, t(30 * DAY), 'B2'));
    const now = t(DAY);
    const s = summarize({ namespace: ns, observations: [a, b], method: 'CertManager', now, policy: p });
    expect(s.ready).toEqual({ type: 'Ready', status: 'True', reason: 'AllValid', message: '2 certificate(s) valid' });
    expect(s.nextRenewalTime).toBe('2026-01-21T00:00:00Z'); // b: 30 days, renewBefore capped to 10 days
    expect(s.soonestExpiry).toEqual({ name: 'b', notAfter: '2026-01-31T00:00:00Z' });
    expect(s.escalations).toEqual([]);
    expect(s.renewals).toEqual([
      { name: 'a', decision: { action: 'Wait', at: t(60 * DAY) } },
      { name: 'b', decision: { action: 'Wait', at: t(20 * DAY) } },
    ]);
    expect(s.requeue.delayMs).toBe(DAY); // the next interesting time (20 days) is beyond the maximum
    expect(s.conditions.map((c) => [c.type, c.status])).toEqual([
      ['CertificatesValid', 'True'],
      ['ExpiringSoon', 'False'],
      ['Renewing', 'False'],
    ]);
    const near = summarize({
      namespace: ns,
      observations: [a, b],
      method: 'CertManager',
      now: t(20 * DAY - HOUR),
      policy: p,
    });
    expect(near.requeue).toEqual({ delayMs: HOUR, at: t(20 * DAY) });
    const alert = summarize({
      namespace: ns,
      observations: [a, b],
      method: 'AlertOnly',
      now: t(20 * DAY - HOUR),
      policy: p,
    });
    expect(alert.nextRenewalTime).toBeUndefined();
    expect(alert.renewals.map((r) => r.decision.action)).toEqual(['AlertOnly', 'AlertOnly']);
    const due = summarize({ namespace: ns, observations: [a, b], method: 'CertManager', now: t(21 * DAY), policy: p });
    expect(due.renewals[1]).toEqual({ name: 'b', decision: { action: 'Trigger', at: undefined } });
    expect(alert.requeue.at).toEqual(t(23 * DAY)); // b: its warning time, 7 days before notAfter

    const late = obs('b', info(T0, t(30 * DAY), 'B2'), {
      certManager: cm({ failedIssuanceAttempts: 6, lastFailureTime: t(29 * DAY) }),
    });
    const e = summarize({ namespace: ns, observations: [a, late], method: 'CertManager', now: t(29 * DAY), policy: p });
    expect(e.escalations.map((x) => x.name)).toEqual(['b']);
    expect(e.ready).toMatchObject({ status: 'False', reason: 'WithinWarningWindow' });
    const invalid = summarize({
      namespace: ns,
      observations: [{ ...a, missing: 'Secret' }],
      method: 'CertManager',
      now,
      policy: p,
    });
    expect(invalid.ready).toMatchObject({ status: 'False', reason: 'SecretMissing' });
  });
});
