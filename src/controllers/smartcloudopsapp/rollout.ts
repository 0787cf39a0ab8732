// The rollout and rollback policy of a SmartCloudOpsApp (pure; table-tested in rollout.test.ts).
//
// Status is the memory. Each reconcile reads the previous status and what the caches and checks show, and returns
// the next rollout state plus the release the children must run:
//   - target: the spec's revision, unless it is quarantined (then the revision that runs now stays), or a rollback
//     is in progress (then its `to`).
//   - a new target starts a rollout (Progressing). Once every component has all its replicas updated and available it
//     bakes (Baking) for rollout.bakeSeconds; it is promoted (lastGoodRevision) when the bake is over, both
//     components' health checks passed after it became available and the analysis (when configured) is Passing.
//   - it fails when pods of the new revision crash-loop or cannot start, when it is not available within
//     rollout.progressDeadlineSeconds (pods never ready), when a health check fails during the bake, or when the
//     analysis says Failing. With rollout.autoRollback and a last good revision the failed revision is quarantined
//     and a rollback to lastGoodRevision is *recorded in status first*; the children move to it only on a later
//     reconcile that reads the record, so a leader killed in between leaves the record to its successor, which
//     finishes it (once: the target is in status, and applying the same children again is not a write).
//   - a quarantined revision is not tried again until the spec describes another revision or the annotation
//     ops.smartcloudops.ai/retry gets a new value: an upgrade → rollback → upgrade loop cannot happen.
//   - the annotation ops.smartcloudops.ai/rollback-to: <revision> (from status.history) is a manual rollback with
//     the same semantics; the spec's revision is held (quarantined, reason ManualRollback) so it is not rolled
//     forward again until the spec changes or retry is set.
import type { SmartCloudOpsAppSpec, SmartCloudOpsAppStatus } from '../../crds/smartcloudopsapp.js';
import { rfc3339 } from '../../runtime/clock.js';
import type { AnalysisVerdict, CheckResult } from './contracts.js';
import { COMPONENTS, configHashOf, imagesOf, parseRelease, type ComponentName, type Release } from './revision.js';

export const RETRY_ANNOTATION = 'ops.smartcloudops.ai/retry';
export const ROLLBACK_ANNOTATION = 'ops.smartcloudops.ai/rollback-to';
/** After a rollback is recorded, look again this soon (once the status write is in the cache) to act on it. */
export const ROLLBACK_ACT_DELAY_MS = 1000;
const QUARANTINE_MAX = 20;
/** Consecutive failed health checks (the checker counts them in details.consecutiveFailures) that fail a bake. */
export const HEALTH_FAILURES = 3;

export type RolloutState = NonNullable<SmartCloudOpsAppStatus['rollout']>;
export type RollbackRecord = NonNullable<SmartCloudOpsAppStatus['rollback']>;
export type HistoryEntry = NonNullable<SmartCloudOpsAppStatus['history']>[number];
export type Quarantine = NonNullable<SmartCloudOpsAppStatus['quarantined']>[number];

export const FailureReason = {
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  CrashLooping: 'CrashLooping',
  PodsFailing: 'PodsFailing',
  HealthCheckFailing: 'HealthCheckFailing',
  AnalysisFailing: 'AnalysisFailing',
  AnalysisInconclusive: 'AnalysisInconclusive',
  ManualRollback: 'ManualRollback',
} as const;

/** One component as its Deployment (child cache) and pods (pod cache) show it. */
export interface ComponentObservation {
  name: ComponentName;
  exists: boolean;
  /** The revision label of the Deployment (what we last applied). */
  revision?: string;
  /** The image of that revision. */
  image?: string;
  /** The Deployment controller has seen its latest spec (status.observedGeneration ≥ metadata.generation). */
  observedCurrent: boolean;
  replicas: number;
  statusReplicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  /** Condition Progressing=False reason ProgressDeadlineExceeded. */
  progressDeadlineExceeded: boolean;
  /** Pods of this component by revision label: crash loops and start failures, with a message. */
  podFailures: { revision?: string; reason: 'CrashLooping' | 'PodsFailing'; message: string }[];
}

export interface RolloutInput {
  now: Date;
  /** metadata.generation of the app (part of the Events' dedupe keys). */
  generation?: number;
  spec: SmartCloudOpsAppSpec;
  specRelease: Release;
  specRevision: string;
  prev: SmartCloudOpsAppStatus | undefined;
  annotations: Record<string, string> | undefined;
  components: ComponentObservation[];
  /** Latest HTTP health check per component (absent: not checked yet). */
  health: Partial<Record<ComponentName, CheckResult>>;
  analysis: AnalysisVerdict;
}

export interface RolloutEvent {
  key: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface RolloutDecision {
  /** What the children must run now. */
  release: Release;
  revision: string;
  fields: Pick<
    SmartCloudOpsAppStatus,
    | 'currentRevision'
    | 'specRevision'
    | 'lastGoodRevision'
    | 'rollout'
    | 'rollback'
    | 'lastRollback'
    | 'quarantined'
    | 'history'
    | 'observedRetry'
    | 'observedRollbackTo'
  >;
  /** Every component runs `revision`, all replicas updated and available. */
  available: boolean;
  events: RolloutEvent[];
  /** A rollback was decided in this step (for the metric). */
  rollbackStarted?: { reason: string; manual: boolean };
  requeueAfterMs?: number;
  /** Why the spec's revision is not what runs (quarantine), for conditions. */
  held?: Quarantine;
  /** A manual rollback annotation that names no revision of the history. */
  rollbackRefused?: string;
}

const ms = (iso: string | undefined): number => (iso ? Date.parse(iso) : NaN);

/** Every replica of `revision` updated and available, nothing of another template left. */
export function componentOn(c: ComponentObservation, revision: string): boolean {
  return (
    c.exists &&
    c.revision === revision &&
    c.observedCurrent &&
    c.updatedReplicas >= c.replicas &&
    c.availableReplicas >= c.replicas &&
    c.statusReplicas <= c.replicas
  );
}

function failureOf(
  i: RolloutInput,
  revision: string,
  rollout: RolloutState,
  allOn: boolean,
): { reason: string; message: string } | undefined {
  for (const c of i.components) {
    const f = c.podFailures.find((p) => p.revision === revision);
    if (f) return { reason: f.reason, message: `${c.name}: ${f.message}` };
  }
  const deadline = (i.spec.rollout?.progressDeadlineSeconds ?? 600) * 1000;
  if (!allOn) {
    const late = i.now.getTime() - ms(rollout.startedAt) > deadline;
    const stuck = i.components.find((c) => c.revision === revision && c.progressDeadlineExceeded);
    if (late || stuck) {
      const notReady = i.components
        .filter((c) => !componentOn(c, revision))
        .map((c) => `${c.name} ${c.availableReplicas}/${c.replicas} available, ${c.updatedReplicas} updated`);
      return {
        reason: FailureReason.ProgressDeadlineExceeded,
        message: `not available within ${deadline / 1000}s (${notReady.join('; ')})`,
      };
    }
    return undefined;
  }
  if (rollout.state === 'Baking' && rollout.availableAt) {
    for (const name of COMPONENTS) {
      const h = i.health[name];
      const failures = Number(h?.details?.consecutiveFailures ?? 0);
      if (h && !h.ok && failures >= HEALTH_FAILURES && ms(h.checkedAt) >= ms(rollout.availableAt)) {
        return { reason: FailureReason.HealthCheckFailing, message: `${name}: ${h.message}` };
      }
    }
    if (i.analysis.state === 'Failing') {
      return { reason: FailureReason.AnalysisFailing, message: i.analysis.message };
    }
    // An analysis still Unknown (no data, Prometheus unreachable) a progress deadline after the bake is over fails
    // the revision like one that never became available: it does not wait forever.
    const inconclusiveAt = analysisDeadline(i, rollout.availableAt);
    if (i.analysis.state === 'Unknown' && i.now.getTime() >= inconclusiveAt) {
      return {
        reason: FailureReason.AnalysisInconclusive,
        message: `no analysis verdict within ${deadline / 1000}s after the bake (${i.analysis.reason}: ${i.analysis.message})`,
      };
    }
  }
  return undefined;
}

/** When an analysis that is still Unknown fails the revision: the bake's end plus the progress deadline. */
function analysisDeadline(i: RolloutInput, availableAt: string): number {
  const bakeMs = (i.spec.rollout?.bakeSeconds ?? 300) * 1000;
  return ms(availableAt) + bakeMs + (i.spec.rollout?.progressDeadlineSeconds ?? 600) * 1000;
}

function historyEntry(revision: string, release: Release, now: Date): HistoryEntry {
  return {
    revision,
    version: release.version,
    images: imagesOf(release),
    configHash: configHashOf(release),
    deployedAt: rfc3339(now),
    result: 'Progressing',
    release: release as unknown as Record<string, unknown>,
  };
}

/** Newest first, at most `limit`, but never dropping the current and the last good revision. */
export function boundHistory(history: HistoryEntry[], limit: number, keep: (string | undefined)[]): HistoryEntry[] {
  const out = [...history];
  for (let i = out.length - 1; i >= 0 && out.length > limit; i--) {
    if (!keep.includes(out[i]?.revision)) out.splice(i, 1);
  }
  return out;
}

export function decideRollout(i: RolloutInput): RolloutDecision {
  const now = rfc3339(i.now);
  const prev = i.prev ?? {};
  const events: RolloutEvent[] = [];
  let history: HistoryEntry[] = [...(prev.history ?? [])];
  let quarantined: Quarantine[] = [...(prev.quarantined ?? [])];
  let lastGood = prev.lastGoodRevision;
  let rollback = prev.rollback;
  let lastRollback = prev.lastRollback;
  let rollout = prev.rollout;
  let observedRetry = prev.observedRetry;
  let observedRollbackTo = prev.observedRollbackTo;
  let rollbackStarted: RolloutDecision['rollbackStarted'];
  let rollbackRefused: string | undefined;
  let requeueAfterMs: number | undefined;
  const releaseOfRevision = (rev: string | undefined): Release | undefined =>
    rev === i.specRevision ? i.specRelease : parseRelease(history.find((h) => h.revision === rev)?.release);
  const setHistory = (rev: string, patch: Partial<HistoryEntry>) => {
    history = history.map((h) => (h.revision === rev ? { ...h, ...patch } : h));
  };
  const quarantine = (rev: string, reason: string, message: string) => {
    quarantined = [
      { revision: rev, reason, message: message.slice(0, 1024), at: now },
      ...quarantined.filter((q) => q.revision !== rev),
    ].slice(0, QUARANTINE_MAX);
  };
  const byName = new Map(i.components.map((c) => [c.name, c]));
  const allOn = (rev: string) =>
    COMPONENTS.every((n) => {
      const c = byName.get(n);
      return !!c && componentOn(c, rev);
    });

  // 1. retry annotation: lift the quarantine of the spec's revision once per new value.
  const retry = i.annotations?.[RETRY_ANNOTATION];
  if (retry !== undefined && retry !== observedRetry) {
    observedRetry = retry;
    if (quarantined.some((q) => q.revision === i.specRevision)) {
      quarantined = quarantined.filter((q) => q.revision !== i.specRevision);
      events.push({
        key: `retry/${retry}`,
        type: 'Normal',
        reason: 'RetryRequested',
        message: `revision ${i.specRevision} is tried again (${RETRY_ANNOTATION}=${retry})`,
      });
    }
  }

  const current = prev.currentRevision;
  // Event keys of decisions: the same decision taken again from a cache that has not seen our status write yet (a
  // later `now`) has the same key, so it is recorded once; a new generation or retry value is a new decision.
  const once = `${i.generation ?? ''}/${observedRetry ?? ''}`;
  // A rollout that failed with nothing to roll back to is judged again on a new retry value.
  if (retry !== undefined && retry === observedRetry && retry !== i.prev?.observedRetry) {
    if (rollout?.state === 'Failed' && rollout.revision === i.specRevision && !rollback) rollout = undefined;
  }

  // 2. manual rollback annotation, once per new value.
  const rollbackTo = i.annotations?.[ROLLBACK_ANNOTATION];
  if (rollbackTo !== undefined && rollbackTo !== observedRollbackTo && !rollback) {
    observedRollbackTo = rollbackTo;
    const entry = history.find((h) => h.revision === rollbackTo) ?? history.find((h) => h.version === rollbackTo);
    const release = entry ? parseRelease(entry.release) : undefined;
    if (!entry || !release) {
      rollbackRefused = `${ROLLBACK_ANNOTATION}=${rollbackTo} names no revision in status.history`;
      events.push({
        key: `rollback-refused/${rollbackTo}`,
        type: 'Warning',
        reason: 'RollbackRefused',
        message: rollbackRefused,
      });
    } else if (entry.revision === current) {
      events.push({
        key: `rollback-noop/${rollbackTo}`,
        type: 'Normal',
        reason: 'RollbackNotNeeded',
        message: `revision ${entry.revision} already runs`,
      });
    } else {
      rollback = {
        from: current ?? i.specRevision,
        to: entry.revision,
        reason: FailureReason.ManualRollback,
        message: `requested by ${ROLLBACK_ANNOTATION}=${rollbackTo}`,
        manual: true,
        startedAt: now,
      };
      quarantined = quarantined.filter((q) => q.revision !== entry.revision);
      if (i.specRevision !== entry.revision)
        quarantine(i.specRevision, FailureReason.ManualRollback, `held by the manual rollback to ${entry.revision}`);
      rollbackStarted = { reason: FailureReason.ManualRollback, manual: true };
      events.push({
        key: `rollback/manual/${rollbackTo}`,
        type: 'Warning',
        reason: 'RollbackStarted',
        message: `rolling both components back from ${rollback.from} to ${rollback.to}: ${rollback.message}`,
      });
      requeueAfterMs = ROLLBACK_ACT_DELAY_MS;
      // Recorded only: the children move on the next reconcile, which reads this record from status.
      return finish(current ?? i.specRevision);
    }
  }

  // 3. a rollback in progress: run its target until both components are on it.
  if (rollback) {
    const release = releaseOfRevision(rollback.to);
    if (!release) {
      events.push({
        key: `rollback-lost/${rollback.to}`,
        type: 'Warning',
        reason: 'RollbackAbandoned',
        message: `revision ${rollback.to} is no longer in status.history`,
      });
      rollback = undefined;
    } else if (allOn(rollback.to)) {
      lastRollback = { ...rollback, completedAt: now };
      events.push({
        key: `rolledback/${rollback.from}/${rollback.to}/${rollback.startedAt}`,
        type: 'Normal',
        reason: 'RolledBack',
        message: `both components run revision ${rollback.to} again (${rollback.reason})`,
      });
      const entry = history.find((h) => h.revision === rollback?.to);
      if (entry?.result === 'Good')
        lastGood = {
          revision: entry.revision,
          version: entry.version,
          images: entry.images,
          configHash: entry.configHash,
          promotedAt: entry.promotedAt ?? now,
        };
      rollout = {
        revision: rollback.to,
        state: rollback.to === i.specRevision && entry?.result === 'Good' ? 'Promoted' : 'Held',
        startedAt: rollout?.revision === rollback.to ? rollout.startedAt : now,
        availableAt: now,
        message: `rolled back from ${rollback.from}`,
      };
      rollback = undefined;
      return finish(lastRollback.to);
    } else {
      rollout = {
        revision: rollback.to,
        state: 'Progressing',
        startedAt: rollout?.revision === rollback.to ? rollout.startedAt : rollback.startedAt,
        message: `rolling back from ${rollback.from} (${rollback.reason})`,
      };
      return finish(rollback.to);
    }
  }

  // 4. which revision should run.
  const held = quarantined.find((q) => q.revision === i.specRevision);
  let target = i.specRevision;
  if (held && current && current !== i.specRevision && releaseOfRevision(current)) target = current;
  if (target !== current || !rollout || rollout.revision !== target) {
    // A new rollout (or the first one).
    const release = releaseOfRevision(target) as Release;
    if (!history.some((h) => h.revision === target)) history = [historyEntry(target, release, i.now), ...history];
    else {
      history = [...history.filter((h) => h.revision === target), ...history.filter((h) => h.revision !== target)];
      if (history[0]?.result === 'Failed') setHistory(target, { result: 'Progressing' });
    }
    const good = history.find((h) => h.revision === target)?.result === 'Good';
    rollout = {
      revision: target,
      state: good && lastGood?.revision === target ? 'Promoted' : 'Progressing',
      startedAt: now,
    };
    if (target !== current)
      events.push({
        key: `rollout/${target}/${current ?? ''}/${once}`,
        type: 'Normal',
        reason: 'RolloutStarted',
        message: `rolling out revision ${target} (version ${release.version})`,
      });
    if (rollout.state === 'Progressing') return finish(target);
  }
  if (held && target !== i.specRevision) {
    rollout = {
      ...(rollout as RolloutState),
      state: 'Held',
      message: `revision ${i.specRevision} is quarantined (${held.reason}); change the spec or set ${RETRY_ANNOTATION}`,
    };
    return finish(target);
  }

  // 5. judge the rollout of the target.
  const r = rollout as RolloutState;
  if (r.state === 'Progressing' || r.state === 'Baking') {
    const on = allOn(target);
    const failure = failureOf(i, target, r, on);
    if (failure) {
      setHistory(target, { result: 'Failed' });
      const to = lastGood?.revision;
      if ((i.spec.rollout?.autoRollback ?? true) && to && to !== target && releaseOfRevision(to)) {
        quarantine(target, failure.reason, failure.message);
        rollback = {
          from: target,
          to,
          reason: failure.reason,
          message: failure.message.slice(0, 1024),
          manual: false,
          startedAt: now,
        };
        rollbackStarted = { reason: failure.reason, manual: false };
        rollout = { ...r, state: 'Failed', message: `${failure.reason}: ${failure.message}`.slice(0, 1024) };
        events.push({
          key: `rollback/${target}/${to}/${failure.reason}/${once}`,
          type: 'Warning',
          reason: 'RollbackStarted',
          message: `revision ${target} failed (${failure.reason}: ${failure.message}); rolling both components back to ${to}`,
        });
        requeueAfterMs = ROLLBACK_ACT_DELAY_MS;
      } else {
        rollout = { ...r, state: 'Failed', message: `${failure.reason}: ${failure.message}`.slice(0, 1024) };
        events.push({
          key: `failed/${target}/${once}`,
          type: 'Warning',
          reason: 'RolloutFailed',
          message: `revision ${target} failed (${failure.reason}: ${failure.message})${to ? '' : '; no good revision to roll back to'}`,
        });
      }
      return finish(target);
    }
    if (!on) return finish(target);
    if (r.state === 'Progressing') {
      rollout = { ...r, state: 'Baking', availableAt: now, message: undefined };
    }
    const rr = rollout as RolloutState;
    const bakeMs = (i.spec.rollout?.bakeSeconds ?? 300) * 1000;
    const left = ms(rr.availableAt) + bakeMs - i.now.getTime();
    if (left > 0) {
      requeueAfterMs = left;
      return finish(target);
    }
    const unchecked = COMPONENTS.filter((n) => {
      const h = i.health[n];
      return (byName.get(n)?.replicas ?? 0) > 0 && !(h && h.ok && ms(h.checkedAt) >= ms(rr.availableAt));
    });
    const analysisOk = i.analysis.state === 'NotConfigured' || i.analysis.state === 'Passing';
    if (unchecked.length || !analysisOk) {
      rollout = {
        ...rr,
        message: unchecked.length
          ? `waiting for a passing health check of ${unchecked.join(', ')} after the bake`
          : `waiting for the analysis (${i.analysis.state}/${i.analysis.reason}: ${i.analysis.message}); ` +
            `without a verdict by ${rfc3339(new Date(analysisDeadline(i, rr.availableAt as string)))} the revision fails`,
      };
      requeueAfterMs = 5000;
      return finish(target);
    }
    const release = releaseOfRevision(target) as Release;
    lastGood = {
      revision: target,
      version: release.version,
      images: imagesOf(release),
      configHash: configHashOf(release),
      promotedAt: now,
    };
    setHistory(target, { result: 'Good', promotedAt: now });
    rollout = { ...rr, state: 'Promoted', message: undefined };
    events.push({
      key: `promoted/${target}/${once}`,
      type: 'Normal',
      reason: 'Promoted',
      message: `revision ${target} (version ${release.version}) is good after ${bakeMs / 1000}s`,
    });
  }
  return finish(target);

  function finish(revision: string): RolloutDecision {
    const release = releaseOfRevision(revision) ?? i.specRelease;
    const limit = i.spec.rollout?.revisionHistoryLimit ?? 10;
    const heldNow = quarantined.find((q) => q.revision === i.specRevision);
    return {
      release,
      revision,
      fields: {
        currentRevision: revision,
        specRevision: i.specRevision,
        lastGoodRevision: lastGood,
        rollout,
        rollback,
        lastRollback,
        quarantined: quarantined.length ? quarantined : undefined,
        history: boundHistory(history, limit, [revision, lastGood?.revision, rollback?.to]),
        observedRetry,
        observedRollbackTo,
      },
      available: allOn(revision),
      events,
      rollbackStarted,
      requeueAfterMs,
      held: heldNow && revision !== i.specRevision ? heldNow : undefined,
      rollbackRefused,
    };
  }
}
