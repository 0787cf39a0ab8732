// ScalingPolicy status: the fields, the conditions and a one-line "why N replicas", from what the controller
// observed (policy, HPA, Deployment, windows, freeze, conflicts). Pure; the clock is passed in. No I/O.
//
// Semantics:
// - Fields as domain-anchors §8 (ScalingPolicy) and the HPA's own status (autoscaling/v2
//   HorizontalPodAutoscalerStatus): mode, hpaRef, effective min/max after windows, activeWindow, current/desired
//   replicas, lastScaleTime, currentMetrics [{name, currentUtilization, target}].
// - AbleToScale, ScalingActive, ScalingLimited are copied from the HPA (status, reason, message) in Auto mode; without
//   an HPA (Manual, Paused, refused) they are False with reason NoHPA, so no stale HPA verdict survives a mode switch.
// - ReplicasOwned (abnormal when False): no field manager other than the allowed ones owns the Deployment's
//   spec.replicas in managedFields — in Auto the HPA (it writes through the scale subresource as
//   kube-controller-manager) and our scaling manager (left from Manual mode); in Manual only our scaling manager.
//   Anyone else (kubectl scale, a GitOps applier, the app's own field manager) is a FieldManagerConflict, the
//   kubernetes#25238 / argo-cd#5105 fight made visible. Unknown when managedFields were not observed.
// - Paused: True when scaling is frozen — mode Paused (ModePaused), a rollout (RolloutInProgress) or a DR drill
//   (DrillInProgress); Manual mode is a fixed count, not a freeze, and is said by `mode`.
// - Conflict: several policies on one Deployment (a SmartCloudOpsApp component resolves to its Deployment, so a
//   policy on `shop`/backend and one on Deployment `shop-backend` conflict). The oldest by creationTimestamp wins,
//   ties broken by name; later ones are refused (Ready=False, TargetConflict) and do nothing. A policy being deleted
//   claims nothing, so the next one takes over when the first goes.
// - The "why": the HPA's recommendation is recomputed from its current metrics with the HPA algorithm
//   (ceil(currentReplicas × currentUtilization / target), inside the 10 % tolerance no change; the largest over the
//   metrics) so that the message can say what the bounds, a freeze or the stabilization window hold back.
import type { ScalingPolicySpec } from '../../crds/scalingpolicy.js';
import { rfc3339 } from '../../runtime/clock.js';
import { setConditions, type Condition, type ConditionInput } from '../../runtime/conditions.js';
import {
  metricTargets,
  modeOf,
  resolveTarget,
  SCALING_FIELD_MANAGER,
  type DeploymentView,
  type Freeze,
  type Mode,
  type PolicyObject,
} from './desired.js';
import type { WindowsEvaluation } from './windows.js';

export const HPA_TOLERANCE = 0.1;

export const ScalingCondition = {
  Ready: 'Ready',
  AbleToScale: 'AbleToScale',
  ScalingActive: 'ScalingActive',
  ScalingLimited: 'ScalingLimited',
  ReplicasOwned: 'ReplicasOwned',
  Paused: 'Paused',
} as const;

export const ScalingReason = {
  HPAReconciled: 'HPAReconciled',
  HPAPending: 'HPAPending',
  HPARemoving: 'HPARemoving',
  ManualScaleApplied: 'ManualScaleApplied',
  ManualScalePending: 'ManualScalePending',
  ModePaused: 'ModePaused',
  TargetNotFound: 'TargetNotFound',
  TargetConflict: 'TargetConflict',
  NoHPA: 'NoHPA',
  HPAConditionPending: 'HPAConditionPending',
  FieldManagerConflict: 'FieldManagerConflict',
  OwnedByPolicy: 'OwnedByPolicy',
  NotObserved: 'NotObserved',
  NotPaused: 'NotPaused',
  RolloutInProgress: 'RolloutInProgress',
  DrillInProgress: 'DrillInProgress',
} as const;

// ---- conflicts ---------------------------------------------------------------------------------------------------

export interface PolicyClaim {
  metadata: { name: string; namespace: string; creationTimestamp?: string; deletionTimestamp?: string };
  spec: Pick<ScalingPolicySpec, 'targetRef'>;
}

export interface Conflict {
  /** The policy that owns the target. */
  owner: string;
  deployment: string;
}

function created(p: PolicyClaim): number {
  const t = p.metadata.creationTimestamp ? Date.parse(p.metadata.creationTimestamp) : NaN;
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

/**
 * For each policy (key "namespace/name"), the conflict that refuses it, or undefined when it owns its target.
 * Policies being deleted are left out (they claim nothing, and get no entry).
 */
export function resolveConflicts(policies: readonly PolicyClaim[]): Map<string, Conflict | undefined> {
  const byTarget = new Map<string, PolicyClaim[]>();
  for (const p of policies) {
    if (p.metadata.deletionTimestamp) continue;
    const key = `${p.metadata.namespace}/${resolveTarget(p.spec.targetRef).deployment}`;
    const list = byTarget.get(key) ?? [];
    list.push(p);
    byTarget.set(key, list);
  }
  const out = new Map<string, Conflict | undefined>();
  for (const list of byTarget.values()) {
    list.sort((a, b) => created(a) - created(b) || (a.metadata.name < b.metadata.name ? -1 : 1));
    const [first, ...rest] = list as [PolicyClaim, ...PolicyClaim[]];
    const deployment = resolveTarget(first.spec.targetRef).deployment;
    out.set(`${first.metadata.namespace}/${first.metadata.name}`, undefined);
    for (const p of rest)
      out.set(`${p.metadata.namespace}/${p.metadata.name}`, { owner: first.metadata.name, deployment });
  }
  return out;
}

// ---- managedFields -------------------------------------------------------------------------------------------------

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: Record<string, unknown>;
}

export interface ReplicaWriter {
  manager: string;
  operation: string;
  subresource?: string;
}

/** The managers that own spec.replicas (on the Deployment or through its scale subresource). */
export function replicaWriters(managedFields: readonly ManagedFieldsEntry[] | undefined): ReplicaWriter[] {
  const out: ReplicaWriter[] = [];
  for (const e of managedFields ?? []) {
    const spec = e.fieldsV1?.['f:spec'] as Record<string, unknown> | undefined;
    if (!spec || !('f:replicas' in spec)) continue;
    out.push({
      manager: e.manager ?? '',
      operation: e.operation ?? '',
      ...(e.subresource ? { subresource: e.subresource } : {}),
    });
  }
  return out;
}

function isHpaWriter(w: ReplicaWriter): boolean {
  return (
    (w.manager === 'kube-controller-manager' && w.subresource === 'scale') ||
    w.manager.includes('horizontal-pod-autoscaler')
  );
}

function describeWriter(w: ReplicaWriter): string {
  return `${w.manager || '(unnamed)'} (${w.operation}${w.subresource ? ` on /${w.subresource}` : ''})`;
}

// ---- observed HPA --------------------------------------------------------------------------------------------------

export interface HpaCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
}

export interface HpaMetricStatus {
  type: string;
  resource?: { name: string; current?: { averageUtilization?: number; averageValue?: string } };
}

export interface HpaView {
  metadata: { name: string };
  spec?: { minReplicas?: number; maxReplicas?: number };
  status?: {
    currentReplicas?: number;
    desiredReplicas?: number;
    lastScaleTime?: string;
    currentMetrics?: HpaMetricStatus[] | null;
    conditions?: HpaCondition[];
  };
}

export interface MetricStatus {
  name: 'cpu' | 'memory';
  currentUtilization?: number;
  target: number;
}

export function currentMetrics(spec: ScalingPolicySpec, hpa: HpaView | undefined): MetricStatus[] {
  const targets = metricTargets(spec);
  const util = (name: string) =>
    hpa?.status?.currentMetrics?.find((m) => m.type === 'Resource' && m.resource?.name === name)?.resource?.current
      ?.averageUtilization;
  return (['cpu', 'memory'] as const).map((name) => {
    const u = util(name);
    return { name, ...(u !== undefined ? { currentUtilization: u } : {}), target: targets[name] };
  });
}

/** What the HPA algorithm recommends from one metric, before bounds, behavior and stabilization. */
export function recommendation(current: number, utilization: number, target: number): number {
  const ratio = utilization / target;
  if (Math.abs(ratio - 1) <= HPA_TOLERANCE) return current;
  return Math.ceil(current * ratio);
}

// ---- status --------------------------------------------------------------------------------------------------------

export interface StatusInput {
  policy: PolicyObject;
  evaluation: WindowsEvaluation;
  /** The HPA this policy owns, from the cache. */
  hpa?: HpaView;
  /** The target Deployment, from the cache. */
  deployment?: DeploymentView;
  freeze?: Freeze;
  conflict?: Conflict;
  /** Writers of spec.replicas (replicaWriters of the Deployment's managedFields); undefined when not observed. */
  writers?: ReplicaWriter[];
}

export interface ScalingStatusFields {
  mode: Mode;
  hpaRef?: { name: string };
  effectiveMinReplicas?: number;
  effectiveMaxReplicas?: number;
  activeWindow?: string;
  currentReplicas?: number;
  desiredReplicas?: number;
  lastScaleTime?: string;
  currentMetrics?: MetricStatus[];
  /** One line: why the target runs the replicas it runs. */
  why: string;
}

export interface ScalingStatus {
  fields: ScalingStatusFields;
  conditions: ConditionInput[];
}

const cond = (type: string, status: ConditionInput['status'], reason: string, message: string): ConditionInput => ({
  type,
  status,
  reason,
  message,
});

function mirrored(mode: Mode, hpa: HpaView | undefined, refused: boolean): ConditionInput[] {
  const types = [ScalingCondition.AbleToScale, ScalingCondition.ScalingActive, ScalingCondition.ScalingLimited];
  if (refused || mode !== 'Auto') {
    const why = refused ? 'refused: another policy owns the target' : `mode ${mode}: no HPA`;
    return types.map((t) => cond(t, 'False', ScalingReason.NoHPA, why));
  }
  return types.map((t) => {
    if (!hpa) return cond(t, 'Unknown', ScalingReason.HPAPending, 'the HPA does not exist yet');
    const c = hpa.status?.conditions?.find((x) => x.type === t);
    if (!c)
      return cond(t, 'Unknown', ScalingReason.HPAConditionPending, `HPA ${hpa.metadata.name} has not reported ${t}`);
    return cond(t, c.status, c.reason ?? t, c.message ?? '');
  });
}

function readyCondition(input: StatusInput, mode: Mode, deploymentName: string): ConditionInput {
  const { conflict, deployment, hpa, evaluation, policy } = input;
  const R = ScalingCondition.Ready;
  if (conflict) {
    return cond(
      R,
      'False',
      ScalingReason.TargetConflict,
      `Deployment ${deploymentName} is already scaled by ScalingPolicy ${conflict.owner} (created earlier); this policy does nothing until that one is deleted`,
    );
  }
  if (!deployment) {
    return cond(R, 'False', ScalingReason.TargetNotFound, `Deployment ${deploymentName} not found`);
  }
  if (mode === 'Auto') {
    const { min, max } = evaluation.effective;
    if (!hpa) return cond(R, 'False', ScalingReason.HPAPending, `HPA ${policy.metadata.name} not created yet`);
    if (hpa.spec?.minReplicas !== min || hpa.spec?.maxReplicas !== max) {
      return cond(
        R,
        'False',
        ScalingReason.HPAPending,
        `HPA ${hpa.metadata.name} has bounds ${hpa.spec?.minReplicas ?? '?'}–${hpa.spec?.maxReplicas ?? '?'}, want ${min}–${max}`,
      );
    }
    return cond(
      R,
      'True',
      ScalingReason.HPAReconciled,
      `HPA ${hpa.metadata.name} scales ${deploymentName} between ${min} and ${max}`,
    );
  }
  if (hpa)
    return cond(R, 'False', ScalingReason.HPARemoving, `mode ${mode}: HPA ${hpa.metadata.name} is being removed`);
  if (mode === 'Manual') {
    const want = policy.spec.replicas ?? 0;
    if (deployment.spec?.replicas !== want) {
      return cond(
        R,
        'False',
        ScalingReason.ManualScalePending,
        `Deployment ${deploymentName} has replicas ${deployment.spec?.replicas ?? '?'}, want ${want}`,
      );
    }
    return cond(R, 'True', ScalingReason.ManualScaleApplied, `Deployment ${deploymentName} is set to ${want} replicas`);
  }
  return cond(
    R,
    'True',
    ScalingReason.ModePaused,
    `scaling paused: Deployment ${deploymentName} keeps its replica count`,
  );
}

function ownedCondition(input: StatusInput, mode: Mode, deploymentName: string): ConditionInput {
  const O = ScalingCondition.ReplicasOwned;
  if (input.conflict) {
    return cond(
      O,
      'False',
      ScalingReason.TargetConflict,
      `ScalingPolicy ${input.conflict.owner} owns the replicas of ${deploymentName}`,
    );
  }
  if (mode === 'Paused')
    return cond(O, 'Unknown', ScalingReason.ModePaused, 'mode Paused: the policy does not set spec.replicas');
  if (input.writers === undefined)
    return cond(O, 'Unknown', ScalingReason.NotObserved, 'managedFields of the target not observed');
  const foreign = input.writers.filter(
    (w) => w.manager !== SCALING_FIELD_MANAGER && !(mode === 'Auto' && isHpaWriter(w)),
  );
  if (foreign.length > 0) {
    return cond(
      O,
      'False',
      ScalingReason.FieldManagerConflict,
      `spec.replicas of ${deploymentName} is also written by ${foreign.map(describeWriter).join(', ')}`,
    );
  }
  return cond(
    O,
    'True',
    ScalingReason.OwnedByPolicy,
    mode === 'Auto' ? 'only the HPA writes spec.replicas' : 'only this policy writes spec.replicas',
  );
}

function pausedCondition(mode: Mode, freeze: Freeze | undefined, refused: boolean): ConditionInput {
  const P = ScalingCondition.Paused;
  if (!refused && mode === 'Paused')
    return cond(P, 'True', ScalingReason.ModePaused, 'mode Paused: replicas are left as they are');
  if (!refused && mode === 'Auto' && freeze) return cond(P, 'True', freeze.reason, freeze.message);
  return cond(P, 'False', ScalingReason.NotPaused, 'scaling is not frozen');
}

function boundsSource(evaluation: WindowsEvaluation): string {
  return evaluation.active ? `window '${evaluation.active.name}'` : 'the policy';
}

function autoWhy(input: StatusInput, n: number | undefined, metrics: MetricStatus[]): string {
  const { hpa, evaluation, freeze } = input;
  const { min, max } = evaluation.effective;
  const head = n === undefined ? 'replicas unknown' : `${n} replicas`;
  const win = evaluation.active ? ` (window '${evaluation.active.name}')` : '';
  if (!hpa) return `${head}: HPA not created yet, bounds ${min}–${max}${win}`;
  const current = hpa.status?.currentReplicas ?? n;
  let best: { want: number; m: MetricStatus } | undefined;
  if (current !== undefined && current > 0) {
    for (const m of metrics) {
      if (m.currentUtilization === undefined) continue;
      const want = recommendation(current, m.currentUtilization, m.target);
      if (!best || want > best.want) best = { want, m };
    }
  }
  if (!best) {
    const active = hpa.status?.conditions?.find((c) => c.type === ScalingCondition.ScalingActive);
    const reason =
      active && active.status !== 'True'
        ? ` (ScalingActive=${active.status} ${active.reason ?? ''})`.replace(' )', ')')
        : '';
    return `${head}: HPA has no metrics yet${reason}, bounds ${min}–${max}${win}`;
  }
  const label = best.m.name === 'cpu' ? 'CPU' : 'memory';
  const wants = `HPA wants ${best.want} for ${label} ${best.m.currentUtilization}% (target ${best.m.target}%)`;
  const until = evaluation.active?.occurrence ? ` until ${rfc3339(evaluation.active.occurrence.end)}` : '';
  if (best.want > max) return `${head}: ${wants} but ${boundsSource(evaluation)} caps max at ${max}${until}`;
  if (best.want < min) return `${head}: ${wants} but ${boundsSource(evaluation)} holds min at ${min}${until}`;
  if (freeze && current !== undefined && best.want < current) return `${head}: ${wants} but ${freeze.message}`;
  const desired = hpa.status?.desiredReplicas;
  if (current !== undefined && best.want < current && desired !== undefined && desired >= current) {
    return `${head}: ${wants}; scale-down waits for the stabilization window`;
  }
  if (desired !== undefined && n !== undefined && desired !== n)
    return `${n} replicas, scaling to ${desired}: ${wants}`;
  return `${head}: ${wants}, within ${min}–${max}${win}`;
}

/** Status fields, conditions and the "why" line. The controller adds observedGeneration, Reconciling and Stalled. */
export function scalingStatus(input: StatusInput): ScalingStatus {
  const { policy, evaluation, hpa, deployment, freeze, conflict } = input;
  const mode = modeOf(policy.spec);
  const deploymentName = resolveTarget(policy.spec.targetRef).deployment;
  const n = deployment?.status?.replicas ?? hpa?.status?.currentReplicas ?? deployment?.spec?.replicas;
  const head = n === undefined ? 'replicas unknown' : `${n} replicas`;
  const refused = conflict !== undefined;

  let why: string;
  let desiredReplicas: number | undefined;
  let metrics: MetricStatus[] | undefined;
  if (conflict) {
    why = `${head}: not managed by this policy; ScalingPolicy ${conflict.owner} already scales Deployment ${deploymentName}`;
  } else if (!deployment) {
    why = `no replicas: Deployment ${deploymentName} not found`;
  } else if (mode === 'Auto') {
    metrics = currentMetrics(policy.spec, hpa);
    desiredReplicas = hpa?.status?.desiredReplicas;
    why = autoWhy(input, n, metrics);
  } else if (mode === 'Manual') {
    desiredReplicas = policy.spec.replicas ?? 0;
    why =
      n === desiredReplicas
        ? `${head}: Manual mode sets ${desiredReplicas}`
        : `${head}, scaling to ${desiredReplicas}: Manual mode`;
  } else {
    desiredReplicas = deployment.spec?.replicas;
    why = `${head}: mode Paused, the count is left as it is`;
  }

  const auto = mode === 'Auto' && !refused;
  const fields: ScalingStatusFields = {
    mode,
    ...(auto && hpa ? { hpaRef: { name: hpa.metadata.name } } : {}),
    ...(auto ? { effectiveMinReplicas: evaluation.effective.min, effectiveMaxReplicas: evaluation.effective.max } : {}),
    ...(auto && evaluation.active ? { activeWindow: evaluation.active.name } : {}),
    ...(n !== undefined ? { currentReplicas: n } : {}),
    ...(desiredReplicas !== undefined ? { desiredReplicas } : {}),
    ...(auto && hpa?.status?.lastScaleTime ? { lastScaleTime: hpa.status.lastScaleTime } : {}),
    ...(auto && metrics ? { currentMetrics: metrics } : {}),
    why,
  };
  return {
    fields,
    conditions: [
      readyCondition(input, mode, deploymentName),
      ...mirrored(mode, hpa, refused),
      ownedCondition(input, mode, deploymentName),
      pausedCondition(mode, freeze, refused),
    ],
  };
}

/**
 * The status object to write: fields plus conditions merged into the previous ones with meta.SetStatusCondition
 * semantics (lastTransitionTime moves only on a flip), each stamped with the policy's generation.
 */
export function statusFor(
  input: StatusInput,
  previous: readonly Condition[] | undefined,
  now: Date,
): ScalingStatusFields & { observedGeneration?: number; conditions: Condition[] } {
  const { fields, conditions } = scalingStatus(input);
  const generation = input.policy.metadata.generation;
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    ...fields,
    conditions: setConditions(previous, conditions, generation, now),
  };
}
