// CertRenewal policy: when to renew, when to warn, when to escalate, when to look again. Pure; the clock is passed in.
//
// Semantics followed:
// - Renewal time as cert-manager computes it (pkg/util/pki/renewaltime.go, RenewalTime/RenewBefore): from the
//   certificate's *actual* lifetime; renewBefore when set and shorter than the lifetime, else renewBeforePercentage
//   of the lifetime, else a third of the lifetime; notAfter − renewBefore, truncated to the second. Our spec defaults
//   renewBefore to 720h when neither field is set (src/crds/certrenewal.ts).
// - Jitter (cert-manager#8402: certificates issued together renew together): the renewal moves *earlier* by a
//   deterministic fraction of the renew window, hash(namespace/name/serial) → [0, jitterFraction) × renewBefore, as
//   kubelet's certificate manager and vault-sidekick subtract jitter. Earlier is always safe; the same certificate
//   always gets the same time, so requeues do not drift. Never later than notAfter − safety margin.
// - Failure backoff as cert-manager's trigger controller: 1h·2^(failedAttempts−1), capped at 32h (both configurable).
//   A manual trigger bypasses cert-manager's backoff, so the operator applies it itself before triggering again.
//   Escalation: the next retry would come at or after notAfter − safety margin (or the certificate already expired
//   while renewals fail).
// - Requeue: the earliest of the interesting times still in the future, never below a minimum delay (no hot loop)
//   nor above a maximum (a re-check also bounds clock drift and stays under setTimeout's 24.8-day limit).
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { parseDuration } from '../../crds/validate.js';
import type { CertRenewalSpec } from '../../crds/certrenewal.js';
import { rfc3339 } from '../../runtime/clock.js';
import type { ConditionInput } from '../../runtime/conditions.js';
import { DEFAULT_RENEW_BEFORE } from './defaults.js';
import type { CertInfo, CertProblem, CertProblemType, TlsInspection } from './x509.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export const DEFAULT_WARN_BEFORE = '168h';

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export interface RenewalPolicy {
  /** From spec.renewBefore (720h when neither it nor the percentage is set). */
  renewBeforeMs: number | undefined;
  renewBeforePercentage: number | undefined;
  warnBeforeMs: number;
  /** Largest share of the renew window the renewal moves earlier by; 0 disables jitter. At most 0.5. */
  jitterFraction: number;
  /** The renewal is never scheduled later than notAfter minus this (or a tenth of the lifetime, if shorter). */
  safetyMarginMs: number;
  backoff: BackoffPolicy;
  minRequeueMs: number;
  maxRequeueMs: number;
  /**
   * Never trigger a renewal of a certificate younger than this (from its notBefore). A storm guard: when an issuer
   * keeps issuing certificates that are already due (e.g. a CA about to expire caps each leaf's lifetime, so each
   * renewal comes sooner than the last), renewals stay at most one per this interval.
   */
  minCertAgeMs: number;
}

export const DEFAULT_POLICY: Omit<RenewalPolicy, 'renewBeforeMs' | 'renewBeforePercentage' | 'warnBeforeMs'> = {
  jitterFraction: 0.1,
  safetyMarginMs: 5 * MINUTE,
  backoff: { baseMs: HOUR, maxMs: 32 * HOUR },
  minRequeueMs: 5_000,
  maxRequeueMs: DAY,
  minCertAgeMs: 5 * MINUTE,
};

/** The policy for a spec that passed validation; durations that do not parse fall back to the defaults. */
export function policyFromSpec(
  spec: Pick<CertRenewalSpec, 'renewBefore' | 'renewBeforePercentage' | 'warnBefore'>,
  overrides: Partial<RenewalPolicy> = {},
): RenewalPolicy {
  const pct = spec.renewBeforePercentage;
  const renewBeforeMs =
    spec.renewBefore !== undefined || pct === undefined
      ? (parseDuration(spec.renewBefore) ?? parseDuration(DEFAULT_RENEW_BEFORE))
      : undefined;
  const p: RenewalPolicy = {
    ...DEFAULT_POLICY,
    renewBeforeMs,
    renewBeforePercentage: pct,
    warnBeforeMs: parseDuration(spec.warnBefore) ?? (parseDuration(DEFAULT_WARN_BEFORE) as number),
    ...overrides,
  };
  return { ...p, jitterFraction: Math.min(0.5, Math.max(0, p.jitterFraction)) };
}

/** cert-manager's RenewBefore: how long before notAfter to renew, for a certificate of this actual lifetime. */
export function effectiveRenewBefore(
  lifetimeMs: number,
  p: Pick<RenewalPolicy, 'renewBeforeMs' | 'renewBeforePercentage'>,
): number {
  if (p.renewBeforeMs !== undefined && p.renewBeforeMs > 0 && p.renewBeforeMs < lifetimeMs) return p.renewBeforeMs;
  const pct = p.renewBeforePercentage;
  if (pct !== undefined && pct > 0 && pct < 100) return Math.floor((lifetimeMs * pct) / 100);
  return Math.floor(lifetimeMs / 3);
}

/** A stable number in [0, 1) for a certificate: the same inputs always give the same value. */
export function jitterFraction(namespace: string, name: string, serial: string): number {
  const h = createHash('sha256').update(`${namespace}/${name}/${serial}`).digest();
  return h.readUIntBE(0, 6) / 2 ** 48;
}

export interface CertIdentity {
  namespace: string;
  /** The target's name (Secret or Certificate). */
  name: string;
  serial: string;
}

export interface RenewalSchedule {
  lifetimeMs: number;
  /** After cert-manager's rules (capped by the lifetime). */
  renewBeforeMs: number;
  /** notAfter − renewBefore, truncated to the second: what cert-manager would compute. */
  nominalRenewalTime: Date;
  jitterMs: number;
  /** When to renew: the nominal time moved earlier by the jitter, within [notBefore, notAfter − margin]. */
  renewalTime: Date;
  /** When ExpiringSoon turns True; never before the nominal renewal time. */
  warningTime: Date;
}

const truncSecond = (ms: number): number => Math.floor(ms / 1000) * 1000;

export function renewalSchedule(
  id: CertIdentity,
  t: Pick<CertInfo, 'notBefore' | 'notAfter'>,
  p: RenewalPolicy,
): RenewalSchedule {
  const nb = t.notBefore.getTime();
  const na = t.notAfter.getTime();
  const lifetimeMs = Math.max(0, na - nb);
  const renewBeforeMs = effectiveRenewBefore(lifetimeMs, p);
  const nominal = truncSecond(na - renewBeforeMs);
  const jitterMs = Math.floor(jitterFraction(id.namespace, id.name, id.serial) * p.jitterFraction * renewBeforeMs);
  const margin = Math.min(p.safetyMarginMs, lifetimeMs / 10);
  const renewal = truncSecond(Math.max(nb, Math.min(nominal - jitterMs, na - margin)));
  // A warning says the renewal did not happen in time: when warnBefore is not shorter than the (capped) renew
  // window, warn half-way between the nominal renewal time and notAfter instead.
  const warnBefore = p.warnBeforeMs < renewBeforeMs ? p.warnBeforeMs : renewBeforeMs / 2;
  return {
    lifetimeMs,
    renewBeforeMs,
    nominalRenewalTime: new Date(nominal),
    jitterMs,
    renewalTime: new Date(renewal),
    warningTime: new Date(truncSecond(na - warnBefore)),
  };
}

/** cert-manager's failure backoff: 0 without failures, then base·2^(n−1), capped. */
export function retryDelayMs(failedAttempts: number, b: BackoffPolicy): number {
  if (failedAttempts <= 0) return 0;
  return Math.min(b.maxMs, b.baseMs * 2 ** Math.min(failedAttempts - 1, 52));
}

export interface FailureState {
  failedAttempts: number;
  lastFailureTime?: Date | undefined;
}

export function nextRetryTime(f: FailureState, p: RenewalPolicy): Date | undefined {
  if (f.failedAttempts <= 0 || !f.lastFailureTime) return undefined;
  return new Date(f.lastFailureTime.getTime() + retryDelayMs(f.failedAttempts, p.backoff));
}

export interface Escalation {
  escalate: boolean;
  nextRetry: Date | undefined;
  message: string;
}

/** Whether failing renewals will not finish before the certificate expires. */
export function escalation(f: FailureState, notAfter: Date, now: Date, p: RenewalPolicy): Escalation {
  const nextRetry = nextRetryTime(f, p);
  if (f.failedAttempts <= 0) return { escalate: false, nextRetry, message: 'no failed renewal' };
  const na = notAfter.getTime();
  if (now.getTime() >= na) {
    return {
      escalate: true,
      nextRetry,
      message: `expired at ${rfc3339(notAfter)} after ${f.failedAttempts} failed renewal attempt(s)`,
    };
  }
  const deadline = na - p.safetyMarginMs;
  const retryAt = nextRetry?.getTime() ?? now.getTime();
  if (retryAt >= deadline) {
    return {
      escalate: true,
      nextRetry,
      message: `${f.failedAttempts} failed renewal attempt(s); the next retry at ${rfc3339(new Date(retryAt))} comes too late for notAfter ${rfc3339(notAfter)}`,
    };
  }
  return {
    escalate: false,
    nextRetry,
    message: `${f.failedAttempts} failed renewal attempt(s); next retry at ${rfc3339(new Date(retryAt))}`,
  };
}

export type RenewalAction =
  /** Trigger a renewal now. */
  | 'Trigger'
  /** The renewal time has not come. */
  | 'Wait'
  /** A renewal is in flight (cert-manager Issuing=True). */
  | 'InFlight'
  /** The last renewal failed and its retry time has not come. */
  | 'Backoff'
  /** Due, but the certificate is younger than minCertAgeMs (storm guard). */
  | 'TooYoung'
  /** method AlertOnly: report, change nothing. */
  | 'AlertOnly';

export interface RenewalDecision {
  action: RenewalAction;
  /** The time this decision changes by itself (renewal or retry time), if any. */
  at: Date | undefined;
}

export function decideRenewal(input: {
  now: Date;
  method: 'CertManager' | 'AlertOnly';
  notBefore: Date;
  schedule: RenewalSchedule;
  failure: FailureState;
  issuing: boolean;
  policy: RenewalPolicy;
}): RenewalDecision {
  const { now, schedule, policy } = input;
  if (input.method === 'AlertOnly') return { action: 'AlertOnly', at: undefined };
  if (input.issuing) return { action: 'InFlight', at: undefined };
  if (now < schedule.renewalTime) return { action: 'Wait', at: schedule.renewalTime };
  const retry = nextRetryTime(input.failure, policy);
  if (retry && now < retry) return { action: 'Backoff', at: retry };
  const oldEnough = new Date(input.notBefore.getTime() + policy.minCertAgeMs);
  if (now < oldEnough) return { action: 'TooYoung', at: oldEnough };
  return { action: 'Trigger', at: undefined };
}

export interface Requeue {
  delayMs: number;
  /** The interesting time that was chosen; undefined when none lies ahead (delay is then the maximum). */
  at: Date | undefined;
}

/** The next time worth looking again: the earliest future candidate, clamped to [minRequeueMs, maxRequeueMs]. */
export function nextRequeue(now: Date, candidates: readonly (Date | undefined)[], p: RenewalPolicy): Requeue {
  const t = now.getTime();
  let best: number | undefined;
  for (const c of candidates) {
    const v = c?.getTime();
    if (v !== undefined && Number.isFinite(v) && v > t && (best === undefined || v < best)) best = v;
  }
  if (best === undefined) return { delayMs: p.maxRequeueMs, at: undefined };
  return { delayMs: Math.min(p.maxRequeueMs, Math.max(p.minRequeueMs, best - t)), at: new Date(best) };
}

// ---------------------------------------------------------------------------------------------------------------
// Observations → status entries and conditions.

export type CertSource = 'cert-manager' | 'secret';

/** What cert-manager says about a Certificate (see certmanager.ts); recorded, never trusted for validity. */
export interface CertManagerView {
  ready: boolean | undefined;
  /** Issuing=True: a reason such as Renewing, Expired or ManuallyTriggered; undefined when not issuing. */
  issuingReason: string | undefined;
  /** Issuing=False with reason Failed (the last issuance failed and will be retried). */
  issuingFailed: boolean;
  revision: number | undefined;
  failedIssuanceAttempts: number;
  lastFailureTime: Date | undefined;
}

export interface ServedObservation {
  /** host:port (serverName) as probed. */
  endpoint: string;
  serial?: string | undefined;
  error?: string | undefined;
}

export interface CertObservation {
  /** The target's name: the Secret's for secretRef, the Certificate's for certificateRef. */
  name: string;
  source: CertSource;
  secretName: string | undefined;
  /** The referenced object is not in the cache. */
  missing?: 'Secret' | 'Certificate' | undefined;
  inspection?: TlsInspection | undefined;
  certManager?: CertManagerView | undefined;
  /** Results of probing the endpoints that serve this certificate. */
  served?: ServedObservation[] | undefined;
}

/** Whether the certificate's SANs cover a host name (wildcards in the leftmost label only) or an IP address. */
export function sanCovers(
  info: Pick<CertInfo, 'dnsNames' | 'ipAddresses'>,
  name: string,
): 'exact' | 'wildcard' | false {
  if (isIP(name) !== 0) return info.ipAddresses.some((ip) => canonicalIP(ip) === canonicalIP(name)) ? 'exact' : false;
  const n = name.toLowerCase().replace(/\.$/, '');
  if (info.dnsNames.some((d) => d.toLowerCase() === n)) return 'exact';
  const dot = n.indexOf('.');
  const parent = dot > 0 ? n.slice(dot + 1) : undefined;
  return parent !== undefined && info.dnsNames.some((d) => d.toLowerCase() === `*.${parent}`) ? 'wildcard' : false;
}

function canonicalIP(ip: string): string {
  return isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

export interface EndpointSpec {
  host: string;
  port?: number | undefined;
  serverName?: string | undefined;
}

/**
 * Which endpoints serve which certificate: all of them when there is one target; otherwise each endpoint goes to
 * the certificate whose SANs cover its serverName (or host), an exact name before a wildcard, the first in target
 * order on a tie. Endpoints no certificate covers are returned apart.
 */
export function assignEndpoints(
  certs: readonly { name: string; leaf?: Pick<CertInfo, 'dnsNames' | 'ipAddresses'> | undefined }[],
  endpoints: readonly EndpointSpec[],
): { byCert: Map<string, EndpointSpec[]>; unmatched: EndpointSpec[] } {
  const byCert = new Map<string, EndpointSpec[]>(certs.map((c) => [c.name, []]));
  const unmatched: EndpointSpec[] = [];
  for (const e of endpoints) {
    if (certs.length === 1) {
      byCert.get((certs[0] as { name: string }).name)?.push(e);
      continue;
    }
    const name = e.serverName ?? e.host;
    let best: { cert: string; exact: boolean } | undefined;
    for (const c of certs) {
      const m = c.leaf ? sanCovers(c.leaf, name) : false;
      if (m === 'exact') {
        best = { cert: c.name, exact: true };
        break;
      }
      if (m === 'wildcard' && !best) best = { cert: c.name, exact: false };
    }
    if (best) byCert.get(best.cert)?.push(e);
    else unmatched.push(e);
  }
  return { byCert, unmatched };
}

/** A probe result as recorded in an observation (the probe module's ProbeResult, structurally). */
export function servedFromProbe(
  r: { ok: true; endpoint: string; serial: string } | { ok: false; endpoint: string; kind: string; message: string },
): ServedObservation {
  return r.ok ? { endpoint: r.endpoint, serial: r.serial } : { endpoint: r.endpoint, error: `${r.kind}: ${r.message}` };
}

export interface CertificateStatusEntry {
  name: string;
  source: CertSource;
  secretName?: string;
  serial?: string;
  notBefore?: string;
  notAfter?: string;
  renewalTime?: string;
  daysRemaining?: number;
  servedSerialMatches?: boolean;
  failedAttempts: number;
  revision?: number;
  /** Problems found, as short messages (at most 5). */
  problems?: string[];
}

const MAX_PROBLEMS = 5;

export function failureOf(o: CertObservation): FailureState {
  return {
    failedAttempts: o.certManager?.failedIssuanceAttempts ?? 0,
    lastFailureTime: o.certManager?.lastFailureTime,
  };
}

/** True when every endpoint probe served the Secret's serial; false when any did not; undefined without probes. */
export function servedSerialMatches(o: CertObservation): boolean | undefined {
  const served = o.served ?? [];
  const serial = o.inspection?.leaf?.serial;
  if (served.length === 0) return undefined;
  return serial !== undefined && served.every((s) => s.error === undefined && s.serial === serial);
}

export function problemsOf(o: CertObservation): CertProblem[] {
  if (o.missing) {
    return [{ type: 'NoCertificate', field: 'tls.crt', message: `${o.missing} not found` }];
  }
  return o.inspection?.problems ?? [{ type: 'NoCertificate', field: 'tls.crt', message: 'not inspected' }];
}

export function certificateStatus(
  o: CertObservation,
  namespace: string,
  now: Date,
  p: RenewalPolicy,
): CertificateStatusEntry {
  const leaf = o.inspection?.leaf;
  const entry: CertificateStatusEntry = {
    name: o.name,
    source: o.source,
    failedAttempts: failureOf(o).failedAttempts,
  };
  if (o.secretName !== undefined) entry.secretName = o.secretName;
  if (leaf) {
    const s = renewalSchedule({ namespace, name: o.name, serial: leaf.serial }, leaf, p);
    entry.serial = leaf.serial;
    entry.notBefore = rfc3339(leaf.notBefore);
    entry.notAfter = rfc3339(leaf.notAfter);
    entry.renewalTime = rfc3339(s.renewalTime);
    entry.daysRemaining = Math.floor((leaf.notAfter.getTime() - now.getTime()) / DAY);
  }
  const served = servedSerialMatches(o);
  if (served !== undefined) entry.servedSerialMatches = served;
  if (o.certManager?.revision !== undefined) entry.revision = o.certManager.revision;
  const problems = problemsOf(o);
  if (problems.length > 0) entry.problems = problems.slice(0, MAX_PROBLEMS).map((x) => x.message);
  return entry;
}

export const CertConditionType = {
  CertificatesValid: 'CertificatesValid',
  ExpiringSoon: 'ExpiringSoon',
  Renewing: 'Renewing',
} as const;

export const CertReason = {
  Valid: 'Valid',
  SecretMissing: 'SecretMissing',
  CertificateMissing: 'CertificateMissing',
  WithinWarningWindow: 'WithinWarningWindow',
  OutsideWarningWindow: 'OutsideWarningWindow',
  NoCertificate: 'NoCertificate',
  ScheduledRenewal: 'ScheduledRenewal',
  ManuallyTriggered: 'ManuallyTriggered',
  BackoffActive: 'BackoffActive',
  BackoffPastExpiry: 'BackoffPastExpiry',
  NotRenewing: 'NotRenewing',
  AllValid: 'AllValid',
} as const;

/** Worst first: the condition's reason is the worst problem among the certificates. */
const SEVERITY: CertProblemType[] = [
  'Expired',
  'NoCertificate',
  'GarbagePEM',
  'MissingKey',
  'KeyMismatch',
  'NotYetValid',
  'BrokenChain',
  'HostnameMismatch',
];

const MAX_LISTED = 5;

function listMessage(items: string[]): string {
  const shown = items.slice(0, MAX_LISTED).join('; ');
  return items.length > MAX_LISTED ? `${shown}; and ${items.length - MAX_LISTED} more` : shown;
}

function humanDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs >= DAY) return `${Math.floor(abs / DAY)}d${Math.floor((abs % DAY) / HOUR)}h`;
  if (abs >= HOUR) return `${Math.floor(abs / HOUR)}h${Math.floor((abs % HOUR) / MINUTE)}m`;
  return `${Math.floor(abs / MINUTE)}m${Math.floor((abs % MINUTE) / 1000)}s`;
}

export function certificatesValidCondition(obs: readonly CertObservation[]): ConditionInput {
  const type = CertConditionType.CertificatesValid;
  let worst: string | undefined;
  let worstRank = Infinity;
  const bad: string[] = [];
  for (const o of obs) {
    if (o.missing) {
      const reason = o.missing === 'Secret' ? CertReason.SecretMissing : CertReason.CertificateMissing;
      if (worstRank > -1) {
        worst = reason;
        worstRank = -1;
      }
      bad.push(`${o.name}: ${o.missing === 'Secret' ? `Secret ${o.secretName ?? o.name}` : 'Certificate'} not found`);
      continue;
    }
    const problems = problemsOf(o);
    if (problems.length === 0) continue;
    for (const pr of problems) {
      const rank = SEVERITY.indexOf(pr.type);
      if (rank < worstRank) {
        worstRank = rank;
        worst = pr.type;
      }
    }
    // cert-manager#7895: say so when cert-manager calls an invalid certificate Ready.
    const cm = o.certManager?.ready === true ? ' (cert-manager reports Ready=True)' : '';
    bad.push(`${o.name}: ${problems.map((x) => x.message).join(', ')}${cm}`);
  }
  if (worst === undefined) {
    return { type, status: 'True', reason: CertReason.Valid, message: `${obs.length} certificate(s) valid` };
  }
  return { type, status: 'False', reason: worst, message: listMessage(bad) };
}

export function expiringSoonCondition(
  obs: readonly CertObservation[],
  namespace: string,
  now: Date,
  p: RenewalPolicy,
): ConditionInput {
  const type = CertConditionType.ExpiringSoon;
  const soon: string[] = [];
  let known = 0;
  for (const o of obs) {
    const leaf = o.missing ? undefined : o.inspection?.leaf;
    if (!leaf) continue;
    known++;
    const s = renewalSchedule({ namespace, name: o.name, serial: leaf.serial }, leaf, p);
    if (now >= s.warningTime) {
      const left = leaf.notAfter.getTime() - now.getTime();
      soon.push(
        left > 0
          ? `${o.name} expires in ${humanDuration(left)} (${rfc3339(leaf.notAfter)})`
          : `${o.name} expired ${humanDuration(left)} ago (${rfc3339(leaf.notAfter)})`,
      );
    }
  }
  if (soon.length > 0)
    return { type, status: 'True', reason: CertReason.WithinWarningWindow, message: listMessage(soon) };
  if (known === 0)
    return { type, status: 'Unknown', reason: CertReason.NoCertificate, message: 'no certificate could be read' };
  return {
    type,
    status: 'False',
    reason: CertReason.OutsideWarningWindow,
    message: `no certificate within its warning window${known < obs.length ? ` (${obs.length - known} could not be read)` : ''}`,
  };
}

export function renewingCondition(obs: readonly CertObservation[], now: Date, p: RenewalPolicy): ConditionInput {
  const type = CertConditionType.Renewing;
  const escalated: string[] = [];
  const issuing: string[] = [];
  const backoff: string[] = [];
  let manual = false;
  for (const o of obs) {
    const cm = o.certManager;
    if (!cm) continue;
    const leaf = o.inspection?.leaf;
    const f = failureOf(o);
    if (leaf && f.failedAttempts > 0) {
      const e = escalation(f, leaf.notAfter, now, p);
      if (e.escalate) {
        escalated.push(`${o.name}: ${e.message}`);
        continue;
      }
    }
    if (cm.issuingReason !== undefined) {
      if (cm.issuingReason === CertReason.ManuallyTriggered) manual = true;
      issuing.push(`${o.name}: issuing (${cm.issuingReason})`);
    } else if (f.failedAttempts > 0) {
      const retry = nextRetryTime(f, p);
      backoff.push(
        `${o.name}: ${f.failedAttempts} failed attempt(s)${retry ? `, next retry at ${rfc3339(retry)}` : ''}`,
      );
    }
  }
  if (escalated.length > 0) {
    return { type, status: 'True', reason: CertReason.BackoffPastExpiry, message: listMessage(escalated) };
  }
  if (issuing.length > 0) {
    return {
      type,
      status: 'True',
      reason: manual ? CertReason.ManuallyTriggered : CertReason.ScheduledRenewal,
      message: listMessage(issuing),
    };
  }
  if (backoff.length > 0)
    return { type, status: 'True', reason: CertReason.BackoffActive, message: listMessage(backoff) };
  return { type, status: 'False', reason: CertReason.NotRenewing, message: 'no renewal in progress' };
}

export interface CertRenewalSummary {
  certificates: CertificateStatusEntry[];
  conditions: ConditionInput[];
  /** Ready as this capability sees it: AllValid, or the reason of the failing condition. */
  ready: ConditionInput;
  nextRenewalTime: string | undefined;
  soonestExpiry: { name: string; notAfter: string } | undefined;
  /** Certificates whose failing renewals will not finish before notAfter: one Warning Event each. */
  escalations: { name: string; message: string }[];
  /** What to do about each readable certificate now (see decideRenewal). */
  renewals: { name: string; decision: RenewalDecision }[];
  requeue: Requeue;
}

/** Everything the status needs, from the observations of one CertRenewal's targets. */
export function summarize(input: {
  namespace: string;
  observations: readonly CertObservation[];
  method: 'CertManager' | 'AlertOnly';
  now: Date;
  policy: RenewalPolicy;
}): CertRenewalSummary {
  const { namespace, observations: obs, now, policy: p } = input;
  const certificates = obs.map((o) => certificateStatus(o, namespace, now, p));
  const valid = certificatesValidCondition(obs);
  const expiring = expiringSoonCondition(obs, namespace, now, p);
  const renewing = renewingCondition(obs, now, p);

  const candidates: (Date | undefined)[] = [];
  const escalations: { name: string; message: string }[] = [];
  const renewals: { name: string; decision: RenewalDecision }[] = [];
  let nextRenewal: Date | undefined;
  let soonest: { name: string; notAfter: Date } | undefined;
  for (const o of obs) {
    const leaf = o.missing ? undefined : o.inspection?.leaf;
    if (!leaf) continue;
    const s = renewalSchedule({ namespace, name: o.name, serial: leaf.serial }, leaf, p);
    const f = failureOf(o);
    const retry = nextRetryTime(f, p);
    candidates.push(leaf.notBefore, s.warningTime, leaf.notAfter, retry);
    if (input.method === 'CertManager') {
      candidates.push(s.renewalTime);
      if (!nextRenewal || s.renewalTime < nextRenewal) nextRenewal = s.renewalTime;
    }
    const decision = decideRenewal({
      now,
      method: o.source === 'cert-manager' ? input.method : 'AlertOnly',
      notBefore: leaf.notBefore,
      schedule: s,
      failure: f,
      issuing: o.certManager?.issuingReason !== undefined,
      policy: p,
    });
    renewals.push({ name: o.name, decision });
    candidates.push(decision.at);
    if (!soonest || leaf.notAfter < soonest.notAfter) soonest = { name: o.name, notAfter: leaf.notAfter };
    if (o.certManager && f.failedAttempts > 0) {
      const e = escalation(f, leaf.notAfter, now, p);
      if (e.escalate) escalations.push({ name: o.name, message: e.message });
    }
  }

  let ready: ConditionInput;
  if (valid.status !== 'True') ready = { ...valid, type: 'Ready' };
  else if (expiring.status !== 'False') ready = { ...expiring, type: 'Ready', status: 'False' };
  else if (renewing.reason === CertReason.BackoffPastExpiry) ready = { ...renewing, type: 'Ready', status: 'False' };
  else ready = { type: 'Ready', status: 'True', reason: CertReason.AllValid, message: valid.message };

  return {
    certificates,
    conditions: [valid, expiring, renewing],
    ready,
    nextRenewalTime: nextRenewal ? rfc3339(nextRenewal) : undefined,
    soonestExpiry: soonest ? { name: soonest.name, notAfter: rfc3339(soonest.notAfter) } : undefined,
    escalations,
    renewals,
    requeue: nextRequeue(now, candidates, p),
  };
}
