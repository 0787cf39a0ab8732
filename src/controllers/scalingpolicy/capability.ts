// ScalingPolicy capability on the seam (runtime/children-capability.ts): validation, then plan.ts decides; the thin
// code here reads the caches and makes the two writes that are not children.
//
// - Auto: the HPA (autoscaling/v2) is the one owned child (controller ownerReference: deleting the policy garbage-
//   collects it, as controller-runtime's Owns + GC do). The policy never writes the Deployment's spec.replicas in
//   Auto mode: the HPA alone does, through the scale subresource (kubernetes#25238, argo-cd#5105).
// - Manual: spec.replicas of the target Deployment by server-side apply of a partial Deployment with its own field
//   manager (SCALING_FIELD_MANAGER, force, as `kubectl scale` would but with an Apply record that other appliers
//   see and leave alone — children.ts' withoutClaimed); no HPA (pruned by the seam first: while our HPA is still in
//   the cache no replica write is made, so the HPA cannot overwrite it). Written only when the cached Deployment's
//   spec.replicas differs or our manager does not own the field; a write the cache has not seen yet is not repeated
//   (the ReplicaSet controller's expectations, as the seam does for children), and every write is counted in
//   smartcloudops_scalingpolicy_replica_writes_total.
// - Paused: nothing desired, nothing written; the HPA is pruned and the count stays (KEDA's paused annotation).
// - Windows: the reconcile is requeued at the next window transition (requeueAfterMs, controller-runtime's
//   Result.RequeueAfter), never polled; the HPA's bounds change by one apply of the child.
// - Scale-down freeze (spec.scaleDownFreeze): while the target Deployment rolls out, or while it carries the DR-drill
//   restore marker annotation DRILL_RESTORE_ANNOTATION (value: the drill's name; set by a DR drill, or by hand),
//   the HPA's behavior.scaleDown.selectPolicy is Disabled.
// - Conflicts: every valid policy in the namespace from the policy cache (resolveConflicts: oldest creationTimestamp,
//   then name, wins; an invalid one claims nothing); a refused policy desires nothing. A policy event enqueues the policies on the same target, so the
//   next one takes over when the owner goes (handler.EnqueueRequestsFromMapFunc).
// - The target Deployment comes from a cache of Deployments shrunk by deploymentTransform (client-go's
//   SetTransform): replica count, rollout status, the drill annotation and which managers own spec.replicas — the
//   only part of managedFields ReplicasOwned needs. Its events enqueue the policies that target it.
// - Deleting the policy: no finalizer. The HPA goes with it (GC); the Deployment keeps the spec.replicas it has at
//   that moment (the HPA's or Manual's last count), and the last writer's managedFields entry stays until another
//   manager takes the field.
import { Counter } from 'prom-client';
import { PAUSE_ANNOTATION, Reason, type SpecSuspendReason } from '../../crds/conditions.js';
import { resourceRefOf } from '../../crds/kinds.js';
import type { ScalingPolicySpec } from '../../crds/scalingpolicy.js';
import { validateSpec } from '../../crds/validate.js';
import { Resources, type KubeObject } from '../../kube/index.js';
import type { Condition } from '../../kube/types.js';
import type { Capability, CapabilityLogic, Observed as SeamObserved } from '../../runtime/children-capability.js';
import { setConditions, type ConditionInput } from '../../runtime/conditions.js';
import type { ControllerDeps, InformerSet, NamedTransform, WatchDef } from '../../runtime/manager.js';
import { decideStatus, type Readiness } from '../status.js';
import { ValidationMemo } from '../validation.js';
import { semantic } from './semantic.js';
import {
  resolveTarget,
  SCALING_FIELD_MANAGER,
  type DeploymentView,
  type FreezeSettings,
  type HpaObject,
  type PolicyObject,
} from './desired.js';
import { plan, type Plan } from './plan.js';
import { ScalingReason, type HpaView, type ManagedFieldsEntry, type PolicyClaim } from './status.js';
import { cachingCronFactory } from './windows.js';

/** The DR-drill restore marker on a target Deployment: its value names the drill restoring into it. */
export const DRILL_RESTORE_ANNOTATION = 'ops.smartcloudops.ai/dr-restore-in-progress';
const EXPECTATION_TTL_MS = 30_000;
const BASE_CONDITIONS = new Set(['Ready', 'Reconciling', 'Stalled', 'Suspended']);

const POLICY = resourceRefOf('ScalingPolicy');
const DEPLOYMENTS = Resources.Deployment;
const HPAS = Resources.HorizontalPodAutoscaler;

/** A Deployment as the shrunk cache holds it. */
export interface CachedDeployment extends KubeObject {
  spec?: { replicas?: number };
  status?: DeploymentView['status'];
  /** The managedFields entries that own spec.replicas, reduced to that field. */
  replicaOwners?: ManagedFieldsEntry[];
}

/**
 * The Deployment cache's transform: identity, generation, the drill annotation, spec.replicas, the rollout status
 * and the managers of spec.replicas. Pod templates, selectors and the rest of managedFields are not kept.
 */
export function deploymentTransform(obj: KubeObject): KubeObject {
  const d = obj as KubeObject & { spec?: { replicas?: number }; status?: Record<string, unknown> };
  const m = d.metadata;
  const drill = m.annotations?.[DRILL_RESTORE_ANNOTATION];
  const owners: ManagedFieldsEntry[] = [];
  for (const e of (m.managedFields ?? []) as ManagedFieldsEntry[]) {
    const spec = e.fieldsV1?.['f:spec'] as Record<string, unknown> | undefined;
    if (!spec || !('f:replicas' in spec)) continue;
    owners.push({
      ...(e.manager !== undefined ? { manager: e.manager } : {}),
      ...(e.operation !== undefined ? { operation: e.operation } : {}),
      ...(e.subresource ? { subresource: e.subresource } : {}),
      fieldsV1: { 'f:spec': { 'f:replicas': {} } },
    });
  }
  const st = d.status ?? {};
  const status: Record<string, unknown> = {};
  for (const k of ['observedGeneration', 'replicas', 'updatedReplicas', 'availableReplicas', 'readyReplicas'])
    if (st[k] !== undefined) status[k] = st[k];
  const progressing = (st.conditions as { type?: string; status?: string; reason?: string }[] | undefined)?.find(
    (c) => c.type === 'Progressing',
  );
  if (progressing)
    status.conditions = [{ type: 'Progressing', status: progressing.status, reason: progressing.reason }];
  const out: CachedDeployment = {
    apiVersion: d.apiVersion,
    kind: d.kind,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      generation: m.generation,
      ...(drill !== undefined ? { annotations: { [DRILL_RESTORE_ANNOTATION]: drill } } : {}),
    },
    spec: d.spec?.replicas !== undefined ? { replicas: d.spec.replicas } : {},
    status,
    replicaOwners: owners,
  };
  return out;
}

const ROLLING_OUT_REASONS = new Set(['NewReplicaSetCreated', 'FoundNewReplicaSet', 'ReplicaSetUpdated']);

/**
 * A rollout of the target, from the Deployment controller's Progressing condition (True with a rollout reason until
 * the new ReplicaSet is available: NewReplicaSetAvailable) or old replicas still running. Not from generation or
 * replica counts: a scale (the HPA's own) bumps the generation and leaves Progressing alone, so it must not count.
 */
export function deploymentRollingOut(d: CachedDeployment | undefined): boolean {
  if (!d) return false;
  const st = (d.status ?? {}) as DeploymentView['status'] & {
    conditions?: { type: string; status?: string; reason?: string }[];
  };
  const p = st?.conditions?.find((c) => c.type === 'Progressing');
  if (p?.status === 'True' && p.reason && ROLLING_OUT_REASONS.has(p.reason)) return true;
  return (st?.replicas ?? 0) > (st?.updatedReplicas ?? 0);
}

export const DEPLOYMENT_TRANSFORM: NamedTransform = { id: 'scalingpolicy-target', fn: deploymentTransform };

/** Keys of the policies in `policies` that target Deployment `namespace/name`. */
export function policiesTargeting(policies: readonly PolicyClaim[], namespace: string, name: string): string[] {
  return policies
    .filter((p) => p.metadata.namespace === namespace && resolveTarget(p.spec.targetRef).deployment === name)
    .map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
}

export function freezeSettings(spec: ScalingPolicySpec): FreezeSettings {
  return {
    duringRollout: spec.scaleDownFreeze?.duringRollout ?? true,
    duringDrill: spec.scaleDownFreeze?.duringDrill ?? true,
  };
}

type Obj = PolicyObject & { status?: { conditions?: Condition[] } & Record<string, unknown> };

/** What prepare found; undefined plan: the spec is invalid or reconciliation is paused by annotation. */
export interface Ext {
  errors: ReturnType<typeof semantic>;
  paused: boolean;
  suspended: SpecSuspendReason | undefined;
  plan?: Plan;
  /** A replica write made this reconcile (Manual). */
  wrote?: number;
}

const suspendedOf = (spec: ScalingPolicySpec): SpecSuspendReason | undefined =>
  (spec.mode ?? 'Auto') === 'Paused' ? Reason.ModePaused : undefined;

/** Readiness (Ready, Reconciling, Stalled) from the plan's Ready condition. */
export function readinessOf(ready: ConditionInput): Readiness {
  const progressing =
    ready.status !== 'True' &&
    [
      ScalingReason.HPAPending,
      ScalingReason.HPARemoving,
      ScalingReason.ManualScalePending,
      ScalingReason.TargetNotFound,
    ].includes(ready.reason as never);
  const stalled = ready.reason === ScalingReason.TargetConflict;
  return {
    status: ready.status,
    reason: ready.reason,
    message: ready.message,
    ...(progressing ? { progressing } : {}),
    ...(stalled ? { stalled } : {}),
  };
}

/** The status to write: the shared contract (Ready, Reconciling, Stalled, Suspended) plus the scaling fields. */
export function statusOf(obj: Obj, ext: Ext, now: Date): { status: Record<string, unknown>; invalidEvent?: string } {
  const previous = obj.status?.conditions;
  const generation = obj.metadata.generation;
  if (!ext.plan) {
    const decision = decideStatus({
      kind: 'ScalingPolicy',
      generation,
      previous: { conditions: previous?.filter((c) => BASE_CONDITIONS.has(c.type)) },
      errors: ext.errors,
      paused: ext.paused,
      suspended: ext.suspended,
      now,
      readiness: { status: 'Unknown', reason: Reason.Paused, message: '' },
    });
    return decision.invalidEvent ? { status: decision.status, invalidEvent: decision.invalidEvent } : decision;
  }
  const { fields, conditions } = ext.plan.status;
  const [ready, ...rest] = conditions as [ConditionInput, ...ConditionInput[]];
  const decision = decideStatus({
    kind: 'ScalingPolicy',
    generation,
    previous: { conditions: previous },
    errors: [],
    paused: false,
    suspended: ext.suspended,
    now,
    readiness: readinessOf(ready),
  });
  const merged = setConditions(decision.status.conditions as Condition[], rest, generation, now);
  return { status: { ...decision.status, ...fields, conditions: merged } };
}

/** The logic, built once per manager. */
export function scalingLogic(deps: ControllerDeps): CapabilityLogic<Obj, Ext> {
  const cronFor = cachingCronFactory();
  const memo = new ValidationMemo<Obj>((obj) => {
    const { spec, errors } = validateSpec<ScalingPolicySpec>('ScalingPolicy', obj.spec);
    if (errors.length === 0) errors.push(...semantic(obj, spec));
    return { errors, suspended: suspendedOf(spec) };
  });
  const writes: Counter<'mode'> =
    (deps.metrics.registry.getSingleMetric('smartcloudops_scalingpolicy_replica_writes_total') as
      Counter<'mode'> | undefined) ??
    new Counter({
      name: 'smartcloudops_scalingpolicy_replica_writes_total',
      help: "Writes of a target Deployment's spec.replicas made by the ScalingPolicy controller (Manual mode only)",
      labelNames: ['mode'],
      registers: [deps.metrics.registry],
    });
  const refused: Counter<'reason'> =
    (deps.metrics.registry.getSingleMetric('smartcloudops_scalingpolicy_refused_total') as
      Counter<'reason'> | undefined) ??
    new Counter({
      name: 'smartcloudops_scalingpolicy_refused_total',
      help: 'Reconciles of a ScalingPolicy refused because another policy owns its target',
      labelNames: ['reason'],
      registers: [deps.metrics.registry],
    });
  const deployments = deps.informer(DEPLOYMENTS, { transform: DEPLOYMENT_TRANSFORM }) as InformerSet<CachedDeployment>;
  // Policies that claim a target: the valid ones (an invalid spec does nothing, so it must not refuse a valid one).
  const claims = (ns: string) =>
    (deps.cache.list(ns) as Obj[]).filter((p) => memo.outcome(p).errors.length === 0) as unknown as PolicyClaim[];
  const watches: WatchDef[] = [
    {
      resource: DEPLOYMENTS,
      transform: DEPLOYMENT_TRANSFORM,
      map: (d) =>
        policiesTargeting(claims(d.metadata.namespace ?? ''), d.metadata.namespace ?? '', d.metadata.name ?? ''),
    },
    {
      // Another policy on the same target appears, changes or goes: the conflict rule may decide otherwise.
      resource: POLICY,
      map: (p) => {
        const target = resolveTarget((p as unknown as PolicyClaim).spec.targetRef).deployment;
        return policiesTargeting(claims(p.metadata.namespace ?? ''), p.metadata.namespace ?? '', target);
      },
    },
  ];
  // Added on the first reconcile (the manager's watch is not callable while the controller is being built).
  let watching: Promise<unknown> | undefined;
  // Replica writes the cache has not seen yet: key → the resourceVersion written over.
  const expectations = new Map<string, { rv: string | undefined; until: number }>();

  return {
    for: POLICY,
    owns: [HPAS],
    forget: (namespace, name) => {
      memo.forget(namespace, name);
      expectations.delete(`${namespace}/${name}`);
    },
    async prepare(obj, observed) {
      watching ??= Promise.all(watches.map((w) => deps.watch(w)));
      await watching;
      const { errors, suspended } = memo.outcome(obj);
      const paused = obj.metadata.annotations?.[PAUSE_ANNOTATION] === 'true';
      if (errors.length || paused) return { errors, paused, suspended };
      const ns = obj.metadata.namespace;
      const target = resolveTarget(obj.spec.targetRef);
      const dep = deployments.get(ns, target.deployment);
      const hpa = observed.get('HorizontalPodAutoscaler', obj.metadata.name, 'autoscaling') as HpaView | undefined;
      const now = deps.clock.now();
      const drill = dep?.metadata.annotations?.[DRILL_RESTORE_ANNOTATION];
      const p = plan(
        obj,
        {
          ...(hpa ? { hpa } : {}),
          ...(dep
            ? {
                deployment: {
                  metadata: {
                    name: dep.metadata.name,
                    generation: dep.metadata.generation,
                    managedFields: dep.replicaOwners ?? [],
                  },
                  ...(dep.spec ? { spec: dep.spec } : {}),
                  ...(dep.status ? { status: dep.status } : {}),
                } as DeploymentView & { metadata: { managedFields: ManagedFieldsEntry[] } },
              }
            : {}),
          ...(drill ? { drillRestoring: drill } : {}),
          deploymentRollingOut: deploymentRollingOut(dep),
          policies: claims(ns),
        },
        now,
        { cronFor, freeze: freezeSettings(obj.spec) },
      );
      if (p.conflict) refused.inc({ reason: ScalingReason.TargetConflict });
      const ext: Ext = { errors, paused, suspended, plan: p };
      const want = p.desired?.replicas;
      if (want && dep && !hpa) {
        const key = `${ns}/${obj.metadata.name}`;
        const owned = (dep.replicaOwners ?? []).some(
          (e) => e.manager === SCALING_FIELD_MANAGER && e.operation === 'Apply' && !e.subresource,
        );
        const exp = expectations.get(key);
        const waiting = exp && exp.until > now.getTime() && exp.rv === dep.metadata.resourceVersion;
        if ((dep.spec?.replicas !== want.spec.replicas || !owned) && !waiting) {
          await deps.client.apply(DEPLOYMENTS, want, {
            fieldManager: SCALING_FIELD_MANAGER,
            force: true,
            discardBody: true,
          });
          writes.inc({ mode: 'Manual' });
          expectations.set(key, { rv: dep.metadata.resourceVersion, until: now.getTime() + EXPECTATION_TTL_MS });
          ext.wrote = want.spec.replicas;
        }
      }
      return ext;
    },
    desired(_obj, _observed: SeamObserved, ext) {
      if (!ext.plan) return undefined; // invalid or paused by annotation: leave the HPA as it is
      const hpa: HpaObject | undefined = ext.plan.desired?.hpa;
      if (!hpa) return [];
      const { ownerReferences: _o, ...metadata } = hpa.metadata;
      return [{ ...hpa, metadata } as KubeObject];
    },
    status(obj, _observed, observations, ext) {
      const { status, invalidEvent } = statusOf(obj, ext, observations.now);
      if (invalidEvent) {
        return {
          status,
          event: { type: 'Warning', reason: Reason.InvalidSpec, message: invalidEvent },
          terminal: `invalid spec: ${invalidEvent}`,
        };
      }
      const event =
        ext.wrote !== undefined
          ? {
              type: 'Normal' as const,
              reason: 'ManualScale',
              message: `set Deployment ${resolveTarget(obj.spec.targetRef).deployment} to ${ext.wrote} replicas`,
            }
          : undefined;
      return {
        status,
        ...(event ? { event } : {}),
        ...(ext.plan?.requeueAfterMs !== undefined ? { requeueAfterMs: ext.plan.requeueAfterMs } : {}),
      };
    },
  };
}

export const scalingPolicyCapability: Capability<Obj, Ext> = {
  name: 'scalingpolicy',
  for: POLICY,
  owns: [HPAS],
  rbac: [
    // The target Deployments: a shrunk cache (watch added at the first reconcile) and the Manual replica apply.
    { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch', 'patch'] },
    { apiGroups: [POLICY.group], resources: [POLICY.plural], verbs: ['get', 'list', 'watch'] },
  ],
  desired: () => undefined,
  status: () => ({ status: {} }),
  bind: (deps) => scalingLogic(deps),
};
