// ScalingPolicy plan: the one pure call the controller makes per reconcile — windows, freeze, conflict, desired
// objects, status and requeue — from the policy and what the informer caches hold. No I/O; the clock is passed in.
//
// Order of decisions: a policy refused by the conflict rule desires nothing (it owns no HPA and writes no replicas);
// otherwise the mode decides (desired.ts). Windows and the scale-down freeze matter in Auto mode only, and only Auto
// mode has a timed requeue (the next window transition); Manual and Paused change only when a watched object does.
import {
  baseBounds,
  DEFAULT_FREEZE,
  desiredState,
  freezeOf,
  modeOf,
  resolveTarget,
  rolloutInProgress,
  type DeploymentView,
  type Desired,
  type Freeze,
  type FreezeSettings,
  type PolicyObject,
} from './desired.js';
import {
  replicaWriters,
  resolveConflicts,
  scalingStatus,
  type Conflict,
  type HpaView,
  type ManagedFieldsEntry,
  type PolicyClaim,
  type ScalingStatus,
} from './status.js';
import {
  DEFAULT_REQUEUE,
  evaluateWindows,
  requeueAfterMs,
  type CronFactory,
  type RequeueBounds,
  type WindowsEvaluation,
} from './windows.js';

export interface Observed {
  /** The HPA this policy owns, if the cache has one. */
  hpa?: HpaView;
  /** The target Deployment; managedFields only when the cache keeps them (else ReplicasOwned is Unknown). */
  deployment?: DeploymentView & { metadata: { managedFields?: ManagedFieldsEntry[] } };
  /** The target app reports a rollout in progress (its Progressing condition); OR-ed with the Deployment's own. */
  appRollingOut?: boolean;
  /**
   * Whether the target Deployment rolls out, when the caller knows it better than rolloutInProgress' reading of
   * generation and replica counts (e.g. from the Deployment's Progressing condition, which a scale does not touch).
   */
  deploymentRollingOut?: boolean;
  /** Name of a DR drill restoring into the target app, if one is. */
  drillRestoring?: string;
  /** Every ScalingPolicy in the namespace (from the cache), this one included: input of the conflict rule. */
  policies: readonly PolicyClaim[];
}

export interface PlanOptions {
  cronFor?: CronFactory;
  freeze?: FreezeSettings;
  requeue?: RequeueBounds;
}

export interface Plan {
  evaluation: WindowsEvaluation;
  freeze?: Freeze;
  conflict?: Conflict;
  /** Undefined when the policy is refused: nothing to apply, and no HPA of its own should exist. */
  desired?: Desired;
  status: ScalingStatus;
  /** Re-reconcile after this long (Auto: the next window transition); undefined: only on watch events. */
  requeueAfterMs?: number;
}

export function plan(policy: PolicyObject, observed: Observed, now: Date, options: PlanOptions = {}): Plan {
  const mode = modeOf(policy.spec);
  const evaluation = evaluateWindows(policy.spec.windows, baseBounds(policy.spec), now, options.cronFor);
  const conflict = resolveConflicts(observed.policies).get(`${policy.metadata.namespace}/${policy.metadata.name}`);
  const target = resolveTarget(policy.spec.targetRef);
  const freeze =
    mode === 'Auto' && !conflict
      ? freezeOf(
          {
            rollingOut:
              observed.appRollingOut === true ||
              (observed.deploymentRollingOut ?? rolloutInProgress(observed.deployment)),
            ...(observed.drillRestoring ? { drillRestoring: observed.drillRestoring } : {}),
          },
          target,
          options.freeze ?? DEFAULT_FREEZE,
        )
      : undefined;
  const managedFields = observed.deployment?.metadata.managedFields;
  const status = scalingStatus({
    policy,
    evaluation,
    ...(observed.hpa ? { hpa: observed.hpa } : {}),
    ...(observed.deployment ? { deployment: observed.deployment } : {}),
    ...(freeze ? { freeze } : {}),
    ...(conflict ? { conflict } : {}),
    ...(managedFields ? { writers: replicaWriters(managedFields) } : {}),
  });
  return {
    evaluation,
    ...(freeze ? { freeze } : {}),
    ...(conflict ? { conflict } : {}),
    ...(conflict ? {} : { desired: desiredState(policy, evaluation.effective, freeze) }),
    status,
    ...(mode === 'Auto' && !conflict
      ? { requeueAfterMs: requeueAfterMs(evaluation, now, options.requeue ?? DEFAULT_REQUEUE) }
      : {}),
  };
}
