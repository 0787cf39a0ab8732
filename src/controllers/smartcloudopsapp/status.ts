// The status of a SmartCloudOpsApp (pure): the shared contract (observedGeneration, Ready, Reconciling, Stalled,
// Suspended — controllers/status.ts) plus Progressing, Available, Degraded, RolledBack, DependenciesReady and
// Monitoring, components[], the rollout fields decided by rollout.ts, and the dependency/analysis results.
import type { SmartCloudOpsAppStatus } from '../../crds/smartcloudopsapp.js';
import type { FieldError } from '../../crds/validate.js';
import type { Condition } from '../../kube/types.js';
import { setConditions, type ConditionInput } from '../../runtime/conditions.js';
import { decideStatus, type Readiness } from '../status.js';
import type { SpecSuspendReason } from '../../crds/conditions.js';
import type { AnalysisVerdict, CheckResult, DependencySnapshot, MonitoringSupport } from './contracts.js';
import { childName } from './desired.js';
import { COMPONENTS, type ComponentName } from './revision.js';
import { componentOn, type ComponentObservation, type RolloutDecision } from './rollout.js';

export const AppCondition = {
  Progressing: 'Progressing',
  Available: 'Available',
  Degraded: 'Degraded',
  RolledBack: 'RolledBack',
  DependenciesReady: 'DependenciesReady',
  Monitoring: 'Monitoring',
} as const;

export interface StatusView {
  name: string;
  now: Date;
  generation: number | undefined;
  previous: SmartCloudOpsAppStatus | undefined;
  errors: FieldError[];
  pausedByAnnotation: boolean;
  suspended: SpecSuspendReason | undefined;
  /** Referenced Secrets or keys that do not exist (children are held until they do). */
  secretProblems: string[];
  components: ComponentObservation[];
  health: Partial<Record<ComponentName, CheckResult>>;
  /** Since when each component's health has had its current outcome (kept from the previous status). */
  decision?: RolloutDecision;
  deps: DependencySnapshot;
  analysis: AnalysisVerdict;
  monitoring: { wanted: boolean; support: MonitoringSupport };
  /** `Kind/name:path` fields another manager owns (the seam's observations.yielded). */
  yielded: string[];
}

type Status = SmartCloudOpsAppStatus & Record<string, unknown>;

function componentStatus(
  v: StatusView,
  c: ComponentObservation,
): NonNullable<SmartCloudOpsAppStatus['components']>[number] {
  const h = v.health[c.name];
  const prevHealth = v.previous?.components?.find((p) => p.name === c.name)?.health;
  const owner = v.yielded.some((y) => y === `Deployment/${childName(v.name, c.name)}:spec.replicas`);
  return {
    name: c.name,
    deployment: childName(v.name, c.name),
    ...(c.image ? { image: c.image } : {}),
    ...(c.revision ? { revision: c.revision } : {}),
    replicas: c.replicas,
    readyReplicas: c.readyReplicas,
    updatedReplicas: c.updatedReplicas,
    availableReplicas: c.availableReplicas,
    available: c.revision !== undefined && componentOn(c, c.revision),
    ...(owner ? { replicasOwner: 'another field manager (e.g. a ScalingPolicy or an HPA)' } : {}),
    ...(h
      ? {
          health: {
            ok: h.ok,
            reason: h.reason,
            message: h.message.slice(0, 1024),
            since:
              prevHealth && prevHealth.ok === h.ok && prevHealth.reason === h.reason && prevHealth.since
                ? prevHealth.since
                : h.checkedAt,
          },
        }
      : {}),
  };
}

function dependencyStatus(c: CheckResult): NonNullable<SmartCloudOpsAppStatus['dependencies']>[number] {
  return {
    name: c.name,
    kind: c.kind,
    ok: c.ok,
    reason: c.reason,
    message: c.message.slice(0, 1024),
    checkedAt: c.checkedAt,
    ...(c.latencyMs !== undefined ? { latencyMs: Math.round(c.latencyMs) } : {}),
    ...(c.warning !== undefined ? { warning: c.warning } : {}),
    ...(c.details ? { details: Object.fromEntries(Object.entries(c.details).map(([k, x]) => [k, String(x)])) } : {}),
  };
}

function dependenciesCondition(v: StatusView): ConditionInput {
  const type = AppCondition.DependenciesReady;
  if (v.secretProblems.length)
    return { type, status: 'False', reason: 'SecretMissing', message: v.secretProblems.join('; ') };
  const failing = v.deps.checks.filter((c) => !c.ok);
  if (failing.length)
    return {
      type,
      status: 'False',
      reason: (failing[0] as CheckResult).reason,
      message: failing.map((c) => `${c.name}: ${c.message}`).join('; '),
    };
  if (!v.deps.checks.length)
    return { type, status: 'Unknown', reason: 'NotChecked', message: 'no dependency check has run yet' };
  const warn = v.deps.checks.filter((c) => c.warning);
  return {
    type,
    status: 'True',
    reason: warn.length ? (warn[0] as CheckResult).reason : 'Healthy',
    message: v.deps.checks.map((c) => `${c.name}: ${c.message}`).join('; '),
  };
}

function monitoringCondition(v: StatusView): ConditionInput {
  const type = AppCondition.Monitoring;
  const { wanted, support } = v.monitoring;
  if (!wanted) return { type, status: 'False', reason: 'Disabled', message: 'spec.monitoring turns both objects off' };
  if (!support.prometheusRule && !support.serviceMonitor)
    return {
      type,
      status: 'False',
      reason: 'PrometheusOperatorAbsent',
      message:
        'the Prometheus Operator CRDs (PrometheusRule, ServiceMonitor) are not served: no monitoring objects are created',
    };
  const kinds = [support.prometheusRule && 'PrometheusRule', support.serviceMonitor && 'ServiceMonitor'].filter(
    Boolean,
  );
  return { type, status: 'True', reason: 'Configured', message: `${kinds.join(' and ')} managed` };
}

export function appStatus(v: StatusView): { status: Status; invalidEvent?: string } {
  const d = v.decision;
  const comps = COMPONENTS.map((n) => v.components.find((c) => c.name === n)).filter(
    (c): c is ComponentObservation => !!c,
  );
  const availableCount = comps.filter((c) => c.revision !== undefined && componentOn(c, c.revision)).length;
  const available = comps.length === COMPONENTS.length && availableCount === COMPONENTS.length;
  const failingHealth = COMPONENTS.filter((n) => v.health[n] && !v.health[n]?.ok);
  const failingDeps = v.deps.checks.filter((c) => !c.ok);
  const podFailures = comps.flatMap((c) => c.podFailures.map((f) => `${c.name}: ${f.message}`));
  const state = d?.fields.rollout?.state;
  const rollingBack = !!d?.fields.rollback;
  const held = d?.held;
  const lastRollback = d?.fields.lastRollback;

  let readiness: Readiness;
  if (v.secretProblems.length) {
    readiness = {
      status: 'False',
      reason: 'SecretMissing',
      message: `${v.secretProblems.join('; ')}; the children are held until it exists`,
      stalled: true,
    };
  } else if (v.suspended) {
    readiness = {
      status: available ? 'True' : 'False',
      reason: 'SpecPaused',
      message: `spec.paused: the children are frozen as they are (${availableCount}/${COMPONENTS.length} components available)`,
    };
  } else if (rollingBack) {
    const rb = d?.fields.rollback;
    readiness = {
      status: 'False',
      reason: 'RollingBack',
      message: `rolling both components back from ${rb?.from} to ${rb?.to} (${rb?.reason}: ${rb?.message})`,
      progressing: true,
    };
  } else if (held) {
    readiness = {
      status: 'False',
      reason: 'RolledBack',
      message: `revision ${held.revision} of the spec is quarantined (${held.reason}: ${held.message ?? ''}); revision ${d?.revision} runs; change the spec or set the annotation ops.smartcloudops.ai/retry`,
      stalled: true,
    };
  } else if (state === 'Failed') {
    readiness = {
      status: 'False',
      reason: 'RolloutFailed',
      message: d?.fields.rollout?.message ?? 'the rollout failed',
      stalled: true,
    };
  } else if (state === 'Progressing' || state === 'Baking') {
    readiness = {
      status: 'False',
      reason: state === 'Baking' ? 'Baking' : 'Progressing',
      message:
        state === 'Baking'
          ? `revision ${d?.revision} is available and baking${d?.fields.rollout?.message ? `: ${d.fields.rollout.message}` : ''}`
          : `rolling out revision ${d?.revision} (${availableCount}/${COMPONENTS.length} components available)`,
      progressing: true,
    };
  } else if (!available) {
    readiness = {
      status: 'False',
      reason: 'Unavailable',
      message: `${availableCount}/${COMPONENTS.length} components available${podFailures.length ? `: ${podFailures.join('; ')}` : ''}`,
    };
  } else if (failingDeps.length) {
    readiness = {
      status: 'False',
      reason: 'DependenciesNotReady',
      message: failingDeps.map((c) => `${c.name}: ${c.message}`).join('; '),
    };
  } else if (failingHealth.length) {
    readiness = {
      status: 'False',
      reason: 'HealthCheckFailing',
      message: failingHealth.map((n) => `${n}: ${v.health[n]?.message}`).join('; '),
    };
  } else {
    readiness = {
      status: 'True',
      reason: 'Available',
      message: `revision ${d?.revision} is good and every component is available`,
    };
  }

  const base = decideStatus({
    kind: 'SmartCloudOpsApp',
    generation: v.generation,
    previous: v.previous,
    errors: v.errors,
    paused: v.pausedByAnnotation,
    suspended: v.suspended,
    now: v.now,
    readiness,
  });
  const conditions = base.status.conditions as Condition[];
  if (v.errors.length || v.pausedByAnnotation) {
    return { status: { ...(v.previous ?? {}), ...base.status } as Status, invalidEvent: base.invalidEvent };
  }

  const degradedWhy = [
    ...podFailures,
    ...failingHealth.map((n) => `${n} health: ${v.health[n]?.message}`),
    ...failingDeps.map((c) => `${c.name}: ${c.message}`),
    ...(state === 'Failed' && !rollingBack ? [d?.fields.rollout?.message ?? 'rollout failed'] : []),
  ];
  const extra: ConditionInput[] = [
    rollingBack || state === 'Progressing' || state === 'Baking'
      ? {
          type: AppCondition.Progressing,
          status: 'True',
          reason: rollingBack ? 'RollingBack' : state === 'Baking' ? 'Baking' : 'RolloutInProgress',
          message: readiness.message,
        }
      : {
          type: AppCondition.Progressing,
          status: 'False',
          reason:
            state === 'Failed'
              ? 'RolloutFailed'
              : held
                ? 'RevisionQuarantined'
                : v.suspended
                  ? 'SpecPaused'
                  : 'RolloutComplete',
          message: state === 'Failed' || held ? readiness.message : `revision ${d?.revision ?? '-'} rolled out`,
        },
    {
      type: AppCondition.Available,
      status: available ? 'True' : 'False',
      reason: available ? 'MinimumReplicasAvailable' : 'ComponentsUnavailable',
      message: comps.map((c) => `${c.name} ${c.availableReplicas}/${c.replicas}`).join(', ') || 'no components yet',
    },
    degradedWhy.length
      ? {
          type: AppCondition.Degraded,
          status: 'True',
          reason: podFailures.length
            ? 'PodsFailing'
            : failingHealth.length
              ? 'HealthCheckFailing'
              : failingDeps.length
                ? 'DependencyFailing'
                : 'RolloutFailed',
          message: degradedWhy.join('; ').slice(0, 2000),
        }
      : { type: AppCondition.Degraded, status: 'False', reason: 'AsExpected', message: 'no failing check' },
    lastRollback && held && d?.revision === lastRollback.to
      ? {
          type: AppCondition.RolledBack,
          status: 'True',
          reason: lastRollback.reason,
          message: `rolled back from ${lastRollback.from} to ${lastRollback.to} at ${lastRollback.completedAt}: ${lastRollback.message}`,
        }
      : {
          type: AppCondition.RolledBack,
          status: 'False',
          reason: rollingBack ? 'RollingBack' : d?.rollbackRefused ? 'RollbackRefused' : 'NotRolledBack',
          message: rollingBack ? readiness.message : (d?.rollbackRefused ?? 'the spec revision runs'),
        },
    dependenciesCondition(v),
    monitoringCondition(v),
  ];
  const phase: SmartCloudOpsAppStatus['phase'] = rollingBack
    ? 'RollingBack'
    : held
      ? 'RolledBack'
      : state === 'Progressing' || state === 'Baking'
        ? 'Progressing'
        : degradedWhy.length
          ? 'Degraded'
          : readiness.status === 'True'
            ? 'Healthy'
            : 'Pending';
  const status: Status = {
    ...base.status,
    conditions: setConditions(conditions, extra, v.generation, v.now) as Status['conditions'],
    phase,
    readyComponents: `${availableCount}/${COMPONENTS.length}`,
    ...(d ? d.fields : pickRollout(v.previous)),
    components: comps.map((c) => componentStatus(v, c)),
    ...(v.deps.checks.length ? { dependencies: v.deps.checks.map(dependencyStatus) } : {}),
    ...(v.deps.redisConfig
      ? {
          redisConfig: {
            inSync: v.deps.redisConfig.inSync,
            ...(v.deps.redisConfig.drift.length ? { drift: v.deps.redisConfig.drift.slice(0, 16) } : {}),
            ...(v.deps.redisConfig.lastCorrectedAt ? { lastCorrectedAt: v.deps.redisConfig.lastCorrectedAt } : {}),
            message: v.deps.redisConfig.message.slice(0, 1024),
          },
        }
      : {}),
    ...(v.deps.maintenance ? { maintenance: v.deps.maintenance } : {}),
    ...(v.analysis.state !== 'NotConfigured'
      ? {
          analysis: {
            // The revision the verdict is about (a verdict kept from the last bake is not the new revision's).
            ...(v.analysis.revision ? { revision: v.analysis.revision } : {}),
            state: v.analysis.state,
            ...(v.analysis.errorRate !== undefined ? { errorRate: v.analysis.errorRate } : {}),
            ...(v.analysis.p95LatencyMs !== undefined ? { p95LatencyMs: v.analysis.p95LatencyMs } : {}),
            reason: v.analysis.reason,
            message: v.analysis.message.slice(0, 1024),
            ...(v.analysis.checkedAt ? { checkedAt: v.analysis.checkedAt } : {}),
          },
        }
      : {}),
  };
  return { status: stripUndefined(status), invalidEvent: base.invalidEvent };
}

/** The rollout fields of a previous status, kept while no decision is taken (paused, Secrets missing). */
function pickRollout(prev: SmartCloudOpsAppStatus | undefined): Partial<SmartCloudOpsAppStatus> {
  if (!prev) return {};
  const {
    currentRevision,
    specRevision,
    lastGoodRevision,
    rollout,
    rollback,
    lastRollback,
    quarantined,
    history,
    observedRetry,
    observedRollbackTo,
  } = prev;
  return {
    currentRevision,
    specRevision,
    lastGoodRevision,
    rollout,
    rollback,
    lastRollback,
    quarantined,
    history,
    observedRetry,
    observedRollbackTo,
  };
}

function stripUndefined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as T;
}
