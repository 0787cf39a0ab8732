// ScalingPolicy desired state: what the controller applies for each mode. Pure; no I/O.
//
// - Auto: an autoscaling/v2 HorizontalPodAutoscaler owned by the policy (controller ownerReference, so deleting the
//   policy garbage-collects it), scaleTargetRef → the target Deployment, min/max = the effective bounds after
//   schedule windows (windows.ts), Resource metrics cpu and memory with type Utilization (the runbook's `kubectl
//   autoscale`: CPU 70 %, memory 80 %, 2–10). The policy does not write the Deployment's spec.replicas in Auto mode:
//   the HPA alone does (kubernetes#25238, argo-cd#5105: two writers of spec.replicas fight).
// - behavior: spec.behavior passed through as is, with one default filled when absent:
//   scaleDown.stabilizationWindowSeconds = 300 (the HPA's own default, made explicit so status and `kubectl get -o
//   yaml` show it). Scale-down freeze (a rollout of the target app, or a DR drill restoring into it, when enabled):
//   scaleDown.selectPolicy = Disabled, the HPA's documented way to stop scaling in one direction while still scaling
//   the other (pkg/controller/podautoscaler: a Disabled direction keeps the current count as its limit).
// - Manual: a partial Deployment with only spec.replicas, for server-side apply with its own field manager
//   (SCALING_FIELD_MANAGER; never the manager that applies the whole Deployment, or the fields that manager applied
//   before and omits now would be removed), and no HPA. Schedule windows do not apply: Manual means exactly `replicas`.
// - Paused: nothing desired — no HPA and no replica write; the Deployment keeps whatever count it has, as KEDA's
//   `autoscaling.keda.sh/paused` does (it removes the HPA and leaves the replicas). "No HPA" means the controller
//   deletes the HPA it owns, in Manual and in Paused mode.
import type { KubeObject, OwnerReference } from '../../kube/types.js';
import type { ScalingPolicySpec } from '../../crds/scalingpolicy.js';
import type { Bounds } from './windows.js';

export const API_VERSION = 'ops.smartcloudops.ai/v1alpha1';
export const KIND = 'ScalingPolicy';
/** Field manager of the replica write in Manual mode (distinct from the one that applies the app's Deployments). */
export const SCALING_FIELD_MANAGER = 'smartcloudops-operator-scaling';
export const POLICY_LABEL = 'ops.smartcloudops.ai/scalingpolicy';

export const DEFAULTS = {
  mode: 'Auto' as const,
  minReplicas: 2,
  maxReplicas: 10,
  cpu: 70,
  memory: 80,
  scaleDownStabilizationSeconds: 300,
};

export type Mode = NonNullable<ScalingPolicySpec['mode']>;

export interface PolicyObject extends KubeObject {
  metadata: KubeObject['metadata'] & { name: string; namespace: string };
  spec: ScalingPolicySpec;
}

/** The name of the Deployment a SmartCloudOpsApp creates for a component: `<app>-<component>`. */
export function componentDeploymentName(app: string, component: string): string {
  return `${app}-${component}`;
}

export interface ResolvedTarget {
  /** The Deployment whose replicas the policy owns, in the policy's namespace. */
  deployment: string;
  /** Set when the target is a SmartCloudOpsApp component. */
  app?: string;
  component?: string;
}

export function resolveTarget(targetRef: ScalingPolicySpec['targetRef']): ResolvedTarget {
  if (targetRef.kind === 'SmartCloudOpsApp') {
    const component = targetRef.component ?? 'backend';
    return { deployment: componentDeploymentName(targetRef.name, component), app: targetRef.name, component };
  }
  return { deployment: targetRef.name };
}

export function modeOf(spec: ScalingPolicySpec): Mode {
  return spec.mode ?? DEFAULTS.mode;
}

/** Base bounds from the spec (before windows). */
export function baseBounds(spec: ScalingPolicySpec): Bounds {
  return { min: spec.minReplicas ?? DEFAULTS.minReplicas, max: spec.maxReplicas ?? DEFAULTS.maxReplicas };
}

export function metricTargets(spec: ScalingPolicySpec): { cpu: number; memory: number } {
  return { cpu: spec.metrics?.cpu ?? DEFAULTS.cpu, memory: spec.metrics?.memory ?? DEFAULTS.memory };
}

/** Why scale-down is frozen, if it is. */
export interface Freeze {
  reason: 'RolloutInProgress' | 'DrillInProgress';
  message: string;
}

export interface FreezeSettings {
  /** Freeze scale-down while the target app (or Deployment) rolls out. Default true. */
  duringRollout: boolean;
  /** Freeze scale-down while a DR drill restores into the target app. Default true. */
  duringDrill: boolean;
}

export const DEFAULT_FREEZE: FreezeSettings = { duringRollout: true, duringDrill: true };

export interface DeploymentView {
  metadata: { name?: string; generation?: number };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    readyReplicas?: number;
  };
}

/**
 * Whether a Deployment is rolling out, after `kubectl rollout status` (kubectl's DeploymentStatusViewer): the
 * controller has not observed the latest generation, or fewer replicas run the new template than desired, or old
 * replicas remain. kubectl's last clause (updated replicas not all available yet) is left out on purpose: it is also
 * true during every scale-up the HPA makes, and would flip the freeze (and rewrite the HPA) at each one.
 */
export function rolloutInProgress(d: DeploymentView | undefined): boolean {
  if (!d) return false;
  const st = d.status ?? {};
  if ((d.metadata.generation ?? 0) > (st.observedGeneration ?? 0)) return true;
  const desired = d.spec?.replicas ?? 1;
  const updated = st.updatedReplicas ?? 0;
  if (updated < desired) return true;
  return (st.replicas ?? 0) > updated;
}

/** The freeze that applies, rollout before drill. */
export function freezeOf(
  signals: { rollingOut?: boolean; drillRestoring?: string },
  target: ResolvedTarget,
  settings: FreezeSettings = DEFAULT_FREEZE,
): Freeze | undefined {
  const what = target.app ? `app '${target.app}'` : `Deployment '${target.deployment}'`;
  if (settings.duringRollout && signals.rollingOut) {
    return { reason: 'RolloutInProgress', message: `scale-down frozen while ${what} rolls out` };
  }
  if (settings.duringDrill && signals.drillRestoring) {
    return {
      reason: 'DrillInProgress',
      message: `scale-down frozen while DR drill '${signals.drillRestoring}' restores into ${what}`,
    };
  }
  return undefined;
}

type Json = Record<string, unknown>;

/** spec.behavior with the scale-down stabilization default, and scale-down disabled when frozen. */
export function hpaBehavior(behavior: Json | undefined, freeze: Freeze | undefined): Json {
  const out: Json = structuredClone(behavior ?? {});
  const down: Json = { ...((out.scaleDown as Json | undefined) ?? {}) };
  if (down.stabilizationWindowSeconds === undefined) {
    down.stabilizationWindowSeconds = DEFAULTS.scaleDownStabilizationSeconds;
  }
  if (freeze) down.selectPolicy = 'Disabled';
  out.scaleDown = down;
  return out;
}

export function ownerReference(policy: PolicyObject): OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: policy.metadata.name,
    uid: policy.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The HPA is named after the policy (one HPA per policy; a second policy on one target is refused). */
export function hpaName(policy: PolicyObject): string {
  return policy.metadata.name;
}

export interface HpaObject extends KubeObject {
  apiVersion: 'autoscaling/v2';
  kind: 'HorizontalPodAutoscaler';
  metadata: KubeObject['metadata'] & { name: string; namespace: string };
  spec: {
    scaleTargetRef: { apiVersion: 'apps/v1'; kind: 'Deployment'; name: string };
    minReplicas: number;
    maxReplicas: number;
    metrics: {
      type: 'Resource';
      resource: { name: 'cpu' | 'memory'; target: { type: 'Utilization'; averageUtilization: number } };
    }[];
    behavior: Json;
  };
}

export function desiredHpa(policy: PolicyObject, bounds: Bounds, freeze: Freeze | undefined): HpaObject {
  const target = resolveTarget(policy.spec.targetRef);
  const m = metricTargets(policy.spec);
  const resource = (name: 'cpu' | 'memory', averageUtilization: number) => ({
    type: 'Resource' as const,
    resource: { name, target: { type: 'Utilization' as const, averageUtilization } },
  });
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: {
      name: hpaName(policy),
      namespace: policy.metadata.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'smartcloudops-operator', [POLICY_LABEL]: policy.metadata.name },
      ownerReferences: [ownerReference(policy)],
    },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: target.deployment },
      minReplicas: bounds.min,
      maxReplicas: bounds.max,
      metrics: [resource('cpu', m.cpu), resource('memory', m.memory)],
      behavior: hpaBehavior(policy.spec.behavior as Json | undefined, freeze),
    },
  };
}

export interface ReplicasApply extends KubeObject {
  apiVersion: 'apps/v1';
  kind: 'Deployment';
  metadata: { name: string; namespace: string };
  spec: { replicas: number };
}

/** The partial Deployment for server-side apply in Manual mode (field manager SCALING_FIELD_MANAGER). */
export function desiredReplicas(policy: PolicyObject, replicas: number): ReplicasApply {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: resolveTarget(policy.spec.targetRef).deployment, namespace: policy.metadata.namespace },
    spec: { replicas },
  };
}

export type Desired =
  | { mode: 'Auto'; hpa: HpaObject; replicas?: undefined }
  | { mode: 'Manual'; hpa?: undefined; replicas: ReplicasApply }
  | { mode: 'Paused'; hpa?: undefined; replicas?: undefined };

/**
 * What the controller should make true. `hpa` undefined: no HPA owned by this policy should exist (delete it);
 * `replicas` undefined: the policy does not write the Deployment's spec.replicas.
 */
export function desiredState(policy: PolicyObject, bounds: Bounds, freeze: Freeze | undefined): Desired {
  const mode = modeOf(policy.spec);
  if (mode === 'Auto') return { mode, hpa: desiredHpa(policy, bounds, freeze) };
  if (mode === 'Manual') return { mode, replicas: desiredReplicas(policy, policy.spec.replicas ?? 0) };
  return { mode };
}
