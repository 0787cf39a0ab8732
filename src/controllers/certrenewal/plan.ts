// CertRenewal: the pure decisions of one reconcile besides the renewal policy (policy.ts) — which endpoint probes
// are due, whether the reloadWorkloads must be restarted, the ConsumersReloaded condition, the rollout-restart patch
// and the status. No I/O; the clock is passed in.
//
// Semantics followed:
// - Rollout restart as `kubectl rollout restart` does it (kubectl/pkg/polymorphichelpers/objectrestarter.go): the
//   pod template annotation `kubectl.kubernetes.io/restartedAt` set to the current time by a strategic merge patch,
//   so the workload controller rolls new pods and nothing else in the spec changes. Our patch has its own field
//   manager (RELOAD_FIELD_MANAGER), as kubectl's has `kubectl-rollout`.
// - cert-manager does not restart consumers (cert-manager#1440): the serials the workloads were last restarted for
//   are recorded in status (`reloadedForSerials`); a restart happens when the Secrets' serials differ from that
//   record, never at the first observation (the record starts as a baseline), never under method AlertOnly (which
//   changes nothing), and never for a Secret that does not hold a usable certificate and key.
// - Endpoint probes are re-run when the serial they are compared with changes, after a restart, on a backoff while an
//   endpoint serves a stale certificate or fails (retryBase·2^(n−1), capped), and otherwise every `intervalMs`:
//   the requeue goes to the earliest of these times, never a polling loop.
import { rfc3339 } from '../../runtime/clock.js';
import type { ConditionInput } from '../../runtime/conditions.js';
import type { CertObservation, EndpointSpec, ServedObservation } from './policy.js';
import { problemsOf } from './policy.js';

export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
export const RELOAD_FIELD_MANAGER = 'smartcloudops-operator-reload';

export const ConsumersReason = {
  NoConsumers: 'NoConsumers',
  ServingCurrent: 'ServingCurrent',
  Restarted: 'Restarted',
  UpToDate: 'UpToDate',
  StaleCertificateServed: 'StaleCertificateServed',
  ProbeFailed: 'ProbeFailed',
  RestartFailed: 'RestartFailed',
} as const;

export interface Workload {
  kind: 'Deployment' | 'StatefulSet' | 'DaemonSet';
  name: string;
}

/** The serials a set of observations holds, `name=serial` in target order; undefined when any is unusable. */
export function serialsOf(obs: readonly CertObservation[]): string | undefined {
  const parts: string[] = [];
  for (const o of obs) {
    const leaf = o.missing ? undefined : o.inspection?.leaf;
    if (!leaf) return undefined;
    // A Secret whose key or certificate cannot be used must not reach the workloads through a restart.
    const unusable = problemsOf(o).some((p) =>
      ['NoCertificate', 'GarbagePEM', 'MissingKey', 'KeyMismatch'].includes(p.type),
    );
    if (unusable) return undefined;
    parts.push(`${o.name}=${leaf.serial}`);
  }
  return parts.join(',');
}

export interface ReloadPlan {
  /** What status.reloadedForSerials should say after this reconcile (before a restart succeeds: the old value). */
  record: string | undefined;
  /** Restart the workloads now, for `current`. */
  restart: boolean;
  current: string | undefined;
  why: string;
}

export function reloadPlan(i: {
  method: 'CertManager' | 'AlertOnly';
  workloads: readonly Workload[];
  observations: readonly CertObservation[];
  previous: string | undefined;
}): ReloadPlan {
  const current = serialsOf(i.observations);
  if (current === undefined) {
    return { record: i.previous, restart: false, current, why: 'not every certificate is usable' };
  }
  if (i.previous === undefined) return { record: current, restart: false, current, why: 'baseline recorded' };
  if (current === i.previous) return { record: current, restart: false, current, why: 'serials unchanged' };
  if (i.workloads.length === 0) return { record: current, restart: false, current, why: 'no reloadWorkloads' };
  if (i.method === 'AlertOnly') {
    return { record: i.previous, restart: false, current, why: 'method AlertOnly: workloads are not restarted' };
  }
  return { record: i.previous, restart: true, current, why: `serials changed from ${i.previous} to ${current}` };
}

/** The strategic merge patch of `kubectl rollout restart`. */
export function restartPatch(now: Date): { spec: { template: { metadata: { annotations: Record<string, string> } } } } {
  return { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: rfc3339(now) } } } } };
}

/** One endpoint and the certificate it must serve. */
export interface ProbeAssignment {
  endpoint: EndpointSpec;
  /** The target name; undefined when no certificate covers the endpoint. */
  certificate: string | undefined;
  /** The serial the endpoint must serve (the Secret's). */
  expected: string | undefined;
}

export interface EndpointResult extends ServedObservation {
  certificate: string | undefined;
  expected: string | undefined;
  /** When it was probed; undefined for an endpoint not probed (nothing to compare it with). */
  at?: Date | undefined;
}

export interface ProbeMemo {
  /** What the probes were compared with: changes re-run them at once. */
  stamp: string;
  results: EndpointResult[];
  at: Date;
  /** Consecutive probe rounds with a stale or failed endpoint. */
  failedRounds: number;
}

export interface ProbeTiming {
  intervalMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

export const DEFAULT_PROBE_TIMING: ProbeTiming = {
  intervalMs: 10 * 60_000,
  retryBaseMs: 2_000,
  retryMaxMs: 5 * 60_000,
};

/** What the probes compare with: endpoints, expected serials and the last restart. */
export function probeStamp(assignments: readonly ProbeAssignment[], lastReload: string | undefined): string {
  const parts = assignments.map((a) => `${endpointId(a.endpoint)}>${a.certificate ?? '-'}=${a.expected ?? '-'}`);
  return `${parts.join(',')}|${lastReload ?? ''}`;
}

export function endpointId(e: EndpointSpec): string {
  const host = e.host.includes(':') ? `[${e.host}]` : e.host;
  return `${host}:${e.port ?? 443}${e.serverName && e.serverName !== e.host ? ` (${e.serverName})` : ''}`;
}

export function roundFailed(results: readonly EndpointResult[]): boolean {
  return results.some((r) => r.error !== undefined || r.serial !== r.expected);
}

/** When the next probe round is due (now or later). */
export function nextProbeTime(memo: ProbeMemo | undefined, stamp: string, t: ProbeTiming): Date | undefined {
  if (!memo || memo.stamp !== stamp) return undefined; // due now
  if (memo.failedRounds > 0) {
    const delay = Math.min(t.retryMaxMs, t.retryBaseMs * 2 ** Math.min(memo.failedRounds - 1, 30));
    return new Date(memo.at.getTime() + delay);
  }
  return new Date(memo.at.getTime() + t.intervalMs);
}

export function probeDue(memo: ProbeMemo | undefined, stamp: string, now: Date, t: ProbeTiming): boolean {
  const next = nextProbeTime(memo, stamp, t);
  return next === undefined || next <= now;
}

export function consumersReloadedCondition(i: {
  method: 'CertManager' | 'AlertOnly';
  workloads: readonly Workload[];
  results: readonly EndpointResult[];
  plan: ReloadPlan;
  restartError?: string | undefined;
  lastReloadTime: string | undefined;
}): ConditionInput {
  const type = 'ConsumersReloaded';
  if (i.restartError) {
    return { type, status: 'False', reason: ConsumersReason.RestartFailed, message: i.restartError };
  }
  const stale = i.results.filter((r) => r.error === undefined && r.serial !== r.expected);
  const failed = i.results.filter((r) => r.error !== undefined);
  if (stale.length > 0) {
    const list = stale
      .slice(0, 5)
      .map(
        (r) =>
          `${r.endpoint} serves serial ${r.serial ?? '?'}, ${r.certificate ?? 'no certificate'} holds ${r.expected ?? '?'}`,
      )
      .join('; ');
    const note =
      i.method === 'AlertOnly'
        ? ' (method AlertOnly: workloads are not restarted)'
        : i.lastReloadTime
          ? ` (reloadWorkloads restarted at ${i.lastReloadTime})`
          : '';
    return { type, status: 'False', reason: ConsumersReason.StaleCertificateServed, message: `${list}${note}` };
  }
  if (failed.length > 0) {
    const list = failed
      .slice(0, 5)
      .map((r) => `${r.endpoint}: ${r.error}`)
      .join('; ');
    return { type, status: 'False', reason: ConsumersReason.ProbeFailed, message: list };
  }
  if (i.plan.restart) {
    return {
      type,
      status: 'False',
      reason: ConsumersReason.StaleCertificateServed,
      message: `reloadWorkloads not yet restarted for ${i.plan.current}`,
    };
  }
  if (i.results.length > 0) {
    return {
      type,
      status: 'True',
      reason: ConsumersReason.ServingCurrent,
      message: `${i.results.length} endpoint(s) serve the current certificate`,
    };
  }
  if (i.workloads.length === 0) {
    return { type, status: 'True', reason: ConsumersReason.NoConsumers, message: 'no endpoints or reloadWorkloads' };
  }
  if (i.lastReloadTime) {
    return {
      type,
      status: 'True',
      reason: ConsumersReason.Restarted,
      message: `reloadWorkloads restarted at ${i.lastReloadTime} for ${i.plan.record ?? 'the current certificates'}`,
    };
  }
  return { type, status: 'True', reason: ConsumersReason.UpToDate, message: 'no renewal since the workloads started' };
}
