// CertRenewal and cert-manager: what a Certificate and its Secret say, the `cmctl renew` trigger, and whether a
// triggered renewal happened. Pure; the clock is passed in.
//
// Semantics followed (cert-manager v1.21, pkg/apis/certmanager/v1 and cmd/ctl renew):
// - Validity is judged from the Secret's certificate, not from the Certificate's Ready condition: cert-manager#7895
//   and #4683 show Ready=True on an expired certificate. Ready is recorded only to say so in messages.
// - `cmctl renew` adds the condition Issuing=True, reason ManuallyTriggered, message "Certificate re-issuance
//   manually triggered", observedGeneration = metadata.generation, through the status subresource with the object's
//   resourceVersion (UpdateStatus: optimistic concurrency), and skips a Certificate that is already Issuing. We build
//   the equivalent JSON merge patch for /status: the whole conditions list (merge patches replace lists) plus
//   metadata.resourceVersion, so a concurrent change makes the API server answer 409 instead of losing it.
// - cert-manager removes Issuing when issuance succeeds (it does not set it False), sets Issuing=False reason Failed
//   and bumps status.failedIssuanceAttempts / lastFailureTime when it fails, and increments status.revision for each
//   issued certificate. So "renewed" is judged by status.revision or the Secret's serial, never by Issuing=False.
import { rfc3339 } from '../../runtime/clock.js';
import type { CertManagerView, CertObservation } from './policy.js';
import { inspectTlsSecret, normalizeSerial, type SecretLike } from './x509.js';

export const CERT_MANAGER_GROUP = 'cert-manager.io';

export interface CertManagerCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

/** The parts of a cert-manager.io/v1 Certificate this module reads. */
export interface CertificateLike {
  metadata: { name: string; namespace?: string; generation?: number; resourceVersion?: string };
  spec?: { secretName?: string };
  status?: {
    conditions?: CertManagerCondition[];
    revision?: number;
    notBefore?: string;
    notAfter?: string;
    renewalTime?: string;
    failedIssuanceAttempts?: number;
    lastFailureTime?: string;
  };
}

function date(s: string | undefined): Date | undefined {
  if (!s) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function certManagerView(cert: CertificateLike): CertManagerView {
  const conds = cert.status?.conditions ?? [];
  const ready = conds.find((c) => c.type === 'Ready');
  const issuing = conds.find((c) => c.type === 'Issuing');
  return {
    ready: ready ? ready.status === 'True' : undefined,
    issuingReason: issuing?.status === 'True' ? (issuing.reason ?? 'Issuing') : undefined,
    issuingFailed: issuing?.status === 'False' && issuing.reason === 'Failed',
    revision: cert.status?.revision,
    failedIssuanceAttempts: cert.status?.failedIssuanceAttempts ?? 0,
    lastFailureTime: date(cert.status?.lastFailureTime),
  };
}

/**
 * The observation of a certificateRef target. `certificate` and `secret` come from the informer caches; either may
 * be missing. The Secret is inspected whatever the Certificate's Ready says.
 */
export function observeCertificate(
  name: string,
  certificate: CertificateLike | undefined,
  secret: SecretLike | undefined,
  opts: { now: Date; serverName?: string | undefined },
): CertObservation {
  if (!certificate) return { name, source: 'cert-manager', secretName: undefined, missing: 'Certificate' };
  const secretName = certificate.spec?.secretName;
  const certManager = certManagerView(certificate);
  if (!secret) return { name, source: 'cert-manager', secretName, missing: 'Secret', certManager };
  return { name, source: 'cert-manager', secretName, certManager, inspection: inspectTlsSecret(secret, opts) };
}

/** The observation of a secretRef target. */
export function observeSecret(
  name: string,
  secret: SecretLike | undefined,
  opts: { now: Date; serverName?: string | undefined },
): CertObservation {
  if (!secret) return { name, source: 'secret', secretName: name, missing: 'Secret' };
  return { name, source: 'secret', secretName: name, inspection: inspectTlsSecret(secret, opts) };
}

export const MANUAL_TRIGGER_REASON = 'ManuallyTriggered';
export const MANUAL_TRIGGER_MESSAGE = 'Certificate re-issuance manually triggered';

export type ManualRenewal =
  | {
      skip: false;
      /** JSON merge patch (application/merge-patch+json) for the Certificate's /status subresource. */
      patch: {
        metadata: { resourceVersion: string };
        status: { conditions: CertManagerCondition[] };
      };
    }
  | { skip: true; reason: 'AlreadyIssuing' | 'NoResourceVersion' };

/** The `cmctl renew` trigger for one Certificate. */
export function manualRenewalPatch(cert: CertificateLike, now: Date): ManualRenewal {
  const conds = cert.status?.conditions ?? [];
  if (conds.some((c) => c.type === 'Issuing' && c.status === 'True')) return { skip: true, reason: 'AlreadyIssuing' };
  const rv = cert.metadata.resourceVersion;
  if (!rv) return { skip: true, reason: 'NoResourceVersion' };
  const prev = conds.find((c) => c.type === 'Issuing');
  const issuing: CertManagerCondition = {
    type: 'Issuing',
    status: 'True',
    reason: MANUAL_TRIGGER_REASON,
    message: MANUAL_TRIGGER_MESSAGE,
    // Like apiutil.SetCertificateCondition: the transition time moves only when the status flips.
    lastTransitionTime: prev?.status === 'True' && prev.lastTransitionTime ? prev.lastTransitionTime : rfc3339(now),
    ...(cert.metadata.generation !== undefined ? { observedGeneration: cert.metadata.generation } : {}),
  };
  const conditions = prev ? conds.map((c) => (c.type === 'Issuing' ? issuing : c)) : [...conds, issuing];
  return { skip: false, patch: { metadata: { resourceVersion: rv }, status: { conditions } } };
}

/** What was true when the renewal was triggered. */
export interface RenewalBaseline {
  revision: number | undefined;
  serial: string | undefined;
  triggeredAt: Date;
}

export function baselineOf(cert: CertificateLike, observation: CertObservation, now: Date): RenewalBaseline {
  return { revision: cert.status?.revision, serial: observation.inspection?.leaf?.serial, triggeredAt: now };
}

export type RenewalOutcome =
  /** A new revision or a new serial: done. */
  | 'Renewed'
  /** cert-manager reports the issuance failed after the trigger. */
  | 'Failed'
  /** Issuing=True: in progress. */
  | 'Issuing'
  /** Neither yet (e.g. the cache has not seen cert-manager's writes). */
  | 'Pending';

export function renewalOutcome(
  baseline: RenewalBaseline,
  cert: CertificateLike | undefined,
  observation: CertObservation,
): RenewalOutcome {
  const revision = cert?.status?.revision;
  if (revision !== undefined && (baseline.revision === undefined || revision > baseline.revision)) return 'Renewed';
  const serial = observation.inspection?.leaf?.serial;
  if (
    serial !== undefined &&
    baseline.serial !== undefined &&
    normalizeSerial(serial) !== normalizeSerial(baseline.serial)
  ) {
    return 'Renewed';
  }
  const view = cert ? certManagerView(cert) : undefined;
  if (view?.issuingReason !== undefined) return 'Issuing';
  // Only failures after the trigger count: the cache may still hold an older Issuing=False/Failed.
  const since = Math.floor(baseline.triggeredAt.getTime() / 1000) * 1000;
  const after = (d: Date | undefined): boolean => d !== undefined && d.getTime() >= since;
  const issuing = cert?.status?.conditions?.find((c) => c.type === 'Issuing');
  if (after(view?.lastFailureTime) || (view?.issuingFailed && after(date(issuing?.lastTransitionTime))))
    return 'Failed';
  return 'Pending';
}
