import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CertFactory, tlsSecret, type Issued } from '../../../test/support/certs.js';
import {
  baselineOf,
  certManagerView,
  manualRenewalPatch,
  observeCertificate,
  observeSecret,
  renewalOutcome,
  type CertificateLike,
} from './certmanager.js';
import { certificatesValidCondition, policyFromSpec, summarize } from './policy.js';
import { normalizeSerial } from './x509.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const now = new Date(Math.floor(Date.now() / 1000) * 1000);
const at = (ms: number): Date => new Date(now.getTime() + ms);

let f: CertFactory;
let ca: Issued;
let current: Issued;
let expired: Issued;
let renewed: Issued;

beforeAll(() => {
  f = CertFactory.create();
  ca = f.issue({ cn: 'Test CA', isCA: true, notBefore: at(-10 * DAY), notAfter: at(365 * DAY) });
  current = f.issue({ cn: 'app', sans: ['DNS:app.test'], issuer: ca, notBefore: at(-DAY), notAfter: at(89 * DAY) });
  expired = f.issue({ cn: 'app', sans: ['DNS:app.test'], issuer: ca, notBefore: at(-9 * DAY), notAfter: at(-HOUR) });
  renewed = f.issue({ cn: 'app', sans: ['DNS:app.test'], issuer: ca, notBefore: at(-60_000), notAfter: at(90 * DAY) });
});
afterAll(() => f.cleanup());

function certificate(status: CertificateLike['status'] = {}): CertificateLike {
  return {
    metadata: { name: 'app', namespace: 'prod', generation: 3, resourceVersion: '812' },
    spec: { secretName: 'app-tls' },
    status: {
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Ready',
          message: 'Certificate is up to date and has not expired',
          lastTransitionTime: '2026-01-01T00:00:00Z',
          observedGeneration: 3,
        },
      ],
      revision: 4,
      ...status,
    },
  };
}

describe('observations', () => {
  test('cert-manager#7895: an expired certificate is reported even when the Certificate says Ready=True', () => {
    const o = observeCertificate('app', certificate(), tlsSecret(expired.certPem, expired.keyPem, ca.certPem), { now });
    expect(o.certManager?.ready).toBe(true);
    expect(o.inspection?.problems.map((p) => p.type)).toEqual(['Expired']);
    const c = certificatesValidCondition([o]);
    expect(c).toMatchObject({ status: 'False', reason: 'Expired' });
    expect(c.message).toMatch(
      /^app: the leaf certificate \(serial [0-9A-F]+\) expired at .* \(cert-manager reports Ready=True\)$/,
    );
    const s = summarize({
      namespace: 'prod',
      observations: [o],
      method: 'CertManager',
      now,
      policy: policyFromSpec({}),
    });
    expect(s.ready).toMatchObject({ status: 'False', reason: 'Expired' });
    expect(s.certificates[0]).toMatchObject({ source: 'cert-manager', secretName: 'app-tls', revision: 4 });
    expect(s.certificates[0]?.daysRemaining).toBe(-1);
  });

  test('a valid Certificate and Secret; a missing Certificate; a missing Secret', () => {
    const ok = observeCertificate('app', certificate(), tlsSecret(current.certPem, current.keyPem, ca.certPem), {
      now,
      serverName: 'app.test',
    });
    expect(ok.inspection?.problems).toEqual([]);
    expect(ok.inspection?.leaf?.serial).toBe(normalizeSerial(current.serial));
    expect(observeCertificate('app', undefined, undefined, { now })).toMatchObject({ missing: 'Certificate' });
    expect(observeCertificate('app', certificate(), undefined, { now })).toMatchObject({
      missing: 'Secret',
      secretName: 'app-tls',
    });
    expect(observeSecret('plain', undefined, { now })).toMatchObject({ source: 'secret', missing: 'Secret' });
    expect(observeSecret('plain', tlsSecret(current.certPem, current.keyPem), { now }).inspection?.problems).toEqual(
      [],
    );
  });

  test('the cert-manager view: Ready, Issuing reason, a failed issuance, failure count and time', () => {
    const v = certManagerView(
      certificate({
        conditions: [
          { type: 'Ready', status: 'False', reason: 'Expired' },
          { type: 'Issuing', status: 'False', reason: 'Failed', message: 'The certificate request has failed' },
        ],
        failedIssuanceAttempts: 3,
        lastFailureTime: '2026-02-01T10:00:00Z',
      }),
    );
    expect(v).toEqual({
      ready: false,
      issuingReason: undefined,
      issuingFailed: true,
      revision: 4,
      failedIssuanceAttempts: 3,
      lastFailureTime: new Date('2026-02-01T10:00:00Z'),
    });
  });
});

describe('cmctl renew trigger', () => {
  test('adds Issuing=True ManuallyTriggered, keeps the other conditions, carries the resourceVersion', () => {
    const r = manualRenewalPatch(certificate(), new Date('2026-03-01T12:00:00.250Z'));
    expect(r).toEqual({
      skip: false,
      patch: {
        metadata: { resourceVersion: '812' },
        status: {
          conditions: [
            certificate().status?.conditions?.[0],
            {
              type: 'Issuing',
              status: 'True',
              reason: 'ManuallyTriggered',
              message: 'Certificate re-issuance manually triggered',
              lastTransitionTime: '2026-03-01T12:00:00Z',
              observedGeneration: 3,
            },
          ],
        },
      },
    });
  });

  test('replaces Issuing=False (a failed issuance) in place; skips a Certificate already issuing', () => {
    const failed = certificate({
      conditions: [
        { type: 'Issuing', status: 'False', reason: 'Failed', lastTransitionTime: '2026-02-01T00:00:00Z' },
        { type: 'Ready', status: 'False', reason: 'Failed' },
      ],
    });
    const r = manualRenewalPatch(failed, new Date('2026-03-01T12:00:00Z'));
    if (r.skip) throw new Error('expected a patch');
    expect(r.patch.status.conditions.map((c) => [c.type, c.status, c.reason, c.lastTransitionTime])).toEqual([
      ['Issuing', 'True', 'ManuallyTriggered', '2026-03-01T12:00:00Z'],
      ['Ready', 'False', 'Failed', undefined],
    ]);
    const busy = certificate({ conditions: [{ type: 'Issuing', status: 'True', reason: 'Renewing' }] });
    expect(manualRenewalPatch(busy, now)).toEqual({ skip: true, reason: 'AlreadyIssuing' });
    const noRv = { ...certificate(), metadata: { name: 'app' } };
    expect(manualRenewalPatch(noRv, now)).toEqual({ skip: true, reason: 'NoResourceVersion' });
  });
});

describe('renewal outcome: judged by revision or serial, never by Issuing=False', () => {
  const secretBefore = (): ReturnType<typeof tlsSecret> => tlsSecret(current.certPem, current.keyPem, ca.certPem);

  test('a new revision, or a new serial in the Secret, is Renewed', () => {
    const before = certificate();
    const o = observeCertificate('app', before, secretBefore(), { now });
    const base = baselineOf(before, o, now);
    expect(base).toEqual({ revision: 4, serial: normalizeSerial(current.serial), triggeredAt: now });

    const bumped = certificate({ revision: 5 });
    expect(renewalOutcome(base, bumped, observeCertificate('app', bumped, secretBefore(), { now }))).toBe('Renewed');
    const newSecret = tlsSecret(renewed.certPem, renewed.keyPem, ca.certPem);
    expect(renewalOutcome(base, before, observeCertificate('app', before, newSecret, { now }))).toBe('Renewed');
  });

  test('Issuing=True is in progress; Issuing removed without a new revision is still pending', () => {
    const before = certificate();
    const base = baselineOf(before, observeCertificate('app', before, secretBefore(), { now }), now);
    const issuing = certificate({ conditions: [{ type: 'Issuing', status: 'True', reason: 'ManuallyTriggered' }] });
    expect(renewalOutcome(base, issuing, observeCertificate('app', issuing, secretBefore(), { now }))).toBe('Issuing');
    expect(renewalOutcome(base, before, observeCertificate('app', before, secretBefore(), { now }))).toBe('Pending');
  });

  test('a failure after the trigger is Failed; an older failure still in the cache is not', () => {
    const before = certificate();
    const base = baselineOf(before, observeCertificate('app', before, secretBefore(), { now }), now);
    const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const old = certificate({
      conditions: [{ type: 'Issuing', status: 'False', reason: 'Failed', lastTransitionTime: iso(at(-DAY)) }],
      failedIssuanceAttempts: 1,
      lastFailureTime: iso(at(-DAY)),
    });
    expect(renewalOutcome(base, old, observeCertificate('app', old, secretBefore(), { now }))).toBe('Pending');
    const fresh = certificate({
      conditions: [{ type: 'Issuing', status: 'False', reason: 'Failed', lastTransitionTime: iso(at(2000)) }],
      failedIssuanceAttempts: 2,
      lastFailureTime: iso(at(2000)),
    });
    expect(renewalOutcome(base, fresh, observeCertificate('app', fresh, secretBefore(), { now }))).toBe('Failed');
  });
});
