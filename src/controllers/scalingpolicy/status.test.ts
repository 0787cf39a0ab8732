import { describe, expect, test } from '@jest/globals';
import type { ScalingPolicySpec } from '../../crds/scalingpolicy.js';
import { baseBounds, SCALING_FIELD_MANAGER, type DeploymentView, type PolicyObject } from './desired.js';
import {
  recommendation,
  replicaWriters,
  resolveConflicts,
  scalingStatus,
  statusFor,
  type HpaCondition,
  type HpaView,
  type PolicyClaim,
  type StatusInput,
} from './status.js';
import { evaluateWindows } from './windows.js';

const NIGHT = { name: 'night', schedule: '0 22 * * *', duration: '8h', minReplicas: 1, maxReplicas: 4 };
const DAY_NOW = new Date('2026-06-01T12:00:00Z');
const NIGHT_NOW = new Date('2026-06-02T01:00:00Z');

const policy = (spec: Partial<ScalingPolicySpec> = {}): PolicyObject => ({
  metadata: { name: 'backend-scaling', namespace: 'shop', uid: 'u1', generation: 4 },
  spec: { targetRef: { kind: 'SmartCloudOpsApp', name: 'shop', component: 'backend' }, windows: [NIGHT], ...spec },
});

const deployment = (replicas: number, statusReplicas = replicas): DeploymentView => ({
  metadata: { name: 'shop-backend', generation: 7 },
  spec: { replicas },
  status: { observedGeneration: 7, replicas: statusReplicas, updatedReplicas: statusReplicas },
});

const hpa = (o: {
  min?: number;
  max?: number;
  current: number;
  desired: number;
  cpu?: number;
  memory?: number;
  conditions?: HpaCondition[];
}): HpaView => ({
  metadata: { name: 'backend-scaling' },
  spec: { minReplicas: o.min ?? 2, maxReplicas: o.max ?? 10 },
  status: {
    currentReplicas: o.current,
    desiredReplicas: o.desired,
    lastScaleTime: '2026-06-01T11:50:00Z',
    currentMetrics: [
      ...(o.cpu !== undefined
        ? [
            {
              type: 'Resource',
              resource: { name: 'cpu', current: { averageUtilization: o.cpu, averageValue: '920m' } },
            },
          ]
        : []),
      ...(o.memory !== undefined
        ? [{ type: 'Resource', resource: { name: 'memory', current: { averageUtilization: o.memory } } }]
        : []),
    ],
    conditions: o.conditions ?? [
      {
        type: 'AbleToScale',
        status: 'True',
        reason: 'ReadyForNewScale',
        message: 'recommended size matches current size',
      },
      { type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound', message: 'the HPA was able to compute' },
      { type: 'ScalingLimited', status: 'False', reason: 'DesiredWithinRange', message: 'within range' },
    ],
  },
});

function input(p: PolicyObject, now: Date, extra: Partial<StatusInput> = {}): StatusInput {
  return { policy: p, evaluation: evaluateWindows(p.spec.windows, baseBounds(p.spec), now), ...extra };
}
const byType = (s: ReturnType<typeof scalingStatus>) =>
  Object.fromEntries(s.conditions.map((c) => [c.type, [c.status, c.reason]]));

describe('why N replicas (Auto)', () => {
  test("a window caps max: 4 replicas, HPA wants 6 for CPU 92% but window 'night' caps max at 4", () => {
    const s = scalingStatus(
      input(policy(), NIGHT_NOW, {
        deployment: deployment(4),
        hpa: hpa({ min: 1, max: 4, current: 4, desired: 4, cpu: 92, memory: 40 }),
      }),
    );
    expect(s.fields.why).toBe(
      "4 replicas: HPA wants 6 for CPU 92% (target 70%) but window 'night' caps max at 4 until 2026-06-02T06:00:00Z",
    );
    expect(s.fields).toMatchObject({
      mode: 'Auto',
      hpaRef: { name: 'backend-scaling' },
      effectiveMinReplicas: 1,
      effectiveMaxReplicas: 4,
      activeWindow: 'night',
      currentReplicas: 4,
      desiredReplicas: 4,
      lastScaleTime: '2026-06-01T11:50:00Z',
      currentMetrics: [
        { name: 'cpu', currentUtilization: 92, target: 70 },
        { name: 'memory', currentUtilization: 40, target: 80 },
      ],
    });
  });

  test('within bounds, settled; memory drives when it asks for more', () => {
    const s = scalingStatus(
      input(policy(), DAY_NOW, {
        deployment: deployment(5),
        hpa: hpa({ current: 5, desired: 5, cpu: 72, memory: 78 }),
      }),
    );
    expect(s.fields.why).toBe('5 replicas: HPA wants 5 for CPU 72% (target 70%), within 2–10');
    expect(s.fields.activeWindow).toBeUndefined();
    const m = scalingStatus(
      input(policy(), DAY_NOW, {
        deployment: deployment(4),
        hpa: hpa({ current: 4, desired: 6, cpu: 50, memory: 120 }),
      }),
    );
    expect(m.fields.why).toBe('4 replicas, scaling to 6: HPA wants 6 for memory 120% (target 80%)');
  });

  test('the policy max caps it (no window open)', () => {
    const s = scalingStatus(
      input(policy(), DAY_NOW, { deployment: deployment(10), hpa: hpa({ current: 10, desired: 10, cpu: 140 }) }),
    );
    expect(s.fields.why).toBe('10 replicas: HPA wants 20 for CPU 140% (target 70%) but the policy caps max at 10');
  });

  test('min holds it up', () => {
    const s = scalingStatus(
      input(policy(), DAY_NOW, {
        deployment: deployment(2),
        hpa: hpa({ current: 2, desired: 2, cpu: 10, memory: 10 }),
      }),
    );
    expect(s.fields.why).toBe('2 replicas: HPA wants 1 for CPU 10% (target 70%) but the policy holds min at 2');
  });

  test('scale-down frozen by a rollout', () => {
    const freeze = { reason: 'RolloutInProgress' as const, message: "scale-down frozen while app 'shop' rolls out" };
    const s = scalingStatus(
      input(policy(), DAY_NOW, {
        deployment: deployment(6),
        hpa: hpa({ current: 6, desired: 6, cpu: 30, memory: 20 }),
        freeze,
      }),
    );
    expect(s.fields.why).toBe(
      "6 replicas: HPA wants 3 for CPU 30% (target 70%) but scale-down frozen while app 'shop' rolls out",
    );
    expect(byType(s).Paused).toEqual(['True', 'RolloutInProgress']);
  });

  test('scale-down waiting for the stabilization window', () => {
    const s = scalingStatus(
      input(policy(), DAY_NOW, {
        deployment: deployment(6),
        hpa: hpa({ current: 6, desired: 6, cpu: 30, memory: 20 }),
      }),
    );
    expect(s.fields.why).toBe(
      '6 replicas: HPA wants 3 for CPU 30% (target 70%); scale-down waits for the stabilization window',
    );
  });

  test('no metrics yet, and no HPA yet', () => {
    const noMetrics = scalingStatus(
      input(policy(), DAY_NOW, {
        deployment: deployment(2),
        hpa: hpa({
          current: 2,
          desired: 2,
          conditions: [{ type: 'ScalingActive', status: 'False', reason: 'FailedGetResourceMetric', message: 'x' }],
        }),
      }),
    );
    expect(noMetrics.fields.why).toBe(
      '2 replicas: HPA has no metrics yet (ScalingActive=False FailedGetResourceMetric), bounds 2–10',
    );
    expect(noMetrics.fields.currentMetrics).toEqual([
      { name: 'cpu', target: 70 },
      { name: 'memory', target: 80 },
    ]);
    const noHpa = scalingStatus(input(policy(), NIGHT_NOW, { deployment: deployment(3) }));
    expect(noHpa.fields.why).toBe("3 replicas: HPA not created yet, bounds 1–4 (window 'night')");
    expect(byType(noHpa).Ready).toEqual(['False', 'HPAPending']);
    expect(byType(noHpa).AbleToScale).toEqual(['Unknown', 'HPAPending']);
  });

  test('the HPA recommendation: tolerance, ceiling', () => {
    expect(recommendation(4, 92, 70)).toBe(6);
    expect(recommendation(4, 75, 70)).toBe(4); // within 10 %
    expect(recommendation(4, 63, 70)).toBe(4);
    expect(recommendation(4, 62, 70)).toBe(4); // ceil(3.54)
    expect(recommendation(4, 30, 70)).toBe(2);
  });
});

describe('conditions', () => {
  test('Auto, HPA at the effective bounds: Ready, mirrored HPA conditions', () => {
    const s = scalingStatus(
      input(policy(), NIGHT_NOW, {
        deployment: deployment(4),
        hpa: hpa({
          min: 1,
          max: 4,
          current: 4,
          desired: 4,
          cpu: 92,
          conditions: [
            { type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale', message: 'ok' },
            { type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound', message: 'm' },
            {
              type: 'ScalingLimited',
              status: 'True',
              reason: 'TooManyReplicas',
              message: 'the desired replica count is more than the maximum replica count',
            },
          ],
        }),
        writers: [{ manager: 'kube-controller-manager', operation: 'Update', subresource: 'scale' }],
      }),
    );
    expect(s.conditions).toEqual([
      {
        type: 'Ready',
        status: 'True',
        reason: 'HPAReconciled',
        message: 'HPA backend-scaling scales shop-backend between 1 and 4',
      },
      { type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale', message: 'ok' },
      { type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound', message: 'm' },
      {
        type: 'ScalingLimited',
        status: 'True',
        reason: 'TooManyReplicas',
        message: 'the desired replica count is more than the maximum replica count',
      },
      { type: 'ReplicasOwned', status: 'True', reason: 'OwnedByPolicy', message: 'only the HPA writes spec.replicas' },
      { type: 'Paused', status: 'False', reason: 'NotPaused', message: 'scaling is not frozen' },
    ]);
  });

  test('Auto, HPA still at the old bounds after a window opened: not Ready', () => {
    const s = scalingStatus(
      input(policy(), NIGHT_NOW, { deployment: deployment(4), hpa: hpa({ current: 4, desired: 4, cpu: 50 }) }),
    );
    expect(s.conditions[0]).toEqual({
      type: 'Ready',
      status: 'False',
      reason: 'HPAPending',
      message: 'HPA backend-scaling has bounds 2–10, want 1–4',
    });
  });

  test('another writer of spec.replicas is a FieldManagerConflict naming it', () => {
    const s = scalingStatus(
      input(policy(), DAY_NOW, {
        deployment: deployment(4),
        hpa: hpa({ current: 4, desired: 4, cpu: 70 }),
        writers: [
          { manager: 'kube-controller-manager', operation: 'Update', subresource: 'scale' },
          { manager: 'kubectl', operation: 'Update', subresource: 'scale' },
          { manager: 'argocd-controller', operation: 'Apply' },
        ],
      }),
    );
    expect(s.conditions.find((c) => c.type === 'ReplicasOwned')).toEqual({
      type: 'ReplicasOwned',
      status: 'False',
      reason: 'FieldManagerConflict',
      message: 'spec.replicas of shop-backend is also written by kubectl (Update on /scale), argocd-controller (Apply)',
    });
  });

  test('managedFields to writers of spec.replicas', () => {
    expect(
      replicaWriters([
        { manager: 'smartcloudops-operator', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:template': {} } } },
        { manager: SCALING_FIELD_MANAGER, operation: 'Apply', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          subresource: 'scale',
          fieldsV1: { 'f:spec': { 'f:replicas': {} } },
        },
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          subresource: 'status',
          fieldsV1: { 'f:status': { 'f:replicas': {} } },
        },
      ]),
    ).toEqual([
      { manager: SCALING_FIELD_MANAGER, operation: 'Apply' },
      { manager: 'kube-controller-manager', operation: 'Update', subresource: 'scale' },
    ]);
    expect(replicaWriters(undefined)).toEqual([]);
  });

  test('Manual: applied, pending, HPA still there; the HPA as a writer is a conflict in Manual', () => {
    const p = policy({ mode: 'Manual', replicas: 3 });
    const ok = scalingStatus(
      input(p, NIGHT_NOW, {
        deployment: deployment(3),
        writers: [{ manager: SCALING_FIELD_MANAGER, operation: 'Apply' }],
      }),
    );
    expect(ok.fields).toEqual({
      mode: 'Manual',
      currentReplicas: 3,
      desiredReplicas: 3,
      why: '3 replicas: Manual mode sets 3',
    });
    expect(byType(ok)).toEqual({
      Ready: ['True', 'ManualScaleApplied'],
      AbleToScale: ['False', 'NoHPA'],
      ScalingActive: ['False', 'NoHPA'],
      ScalingLimited: ['False', 'NoHPA'],
      ReplicasOwned: ['True', 'OwnedByPolicy'],
      Paused: ['False', 'NotPaused'],
    });
    const pending = scalingStatus(input(p, DAY_NOW, { deployment: deployment(6) }));
    expect(pending.fields.why).toBe('6 replicas, scaling to 3: Manual mode');
    expect(byType(pending).Ready).toEqual(['False', 'ManualScalePending']);
    expect(byType(pending).ReplicasOwned).toEqual(['Unknown', 'NotObserved']);
    const hpaLeft = scalingStatus(
      input(p, DAY_NOW, {
        deployment: deployment(3),
        hpa: hpa({ current: 3, desired: 3 }),
        writers: [{ manager: 'kube-controller-manager', operation: 'Update', subresource: 'scale' }],
      }),
    );
    expect(byType(hpaLeft).Ready).toEqual(['False', 'HPARemoving']);
    expect(byType(hpaLeft).ReplicasOwned).toEqual(['False', 'FieldManagerConflict']);
  });

  test('Paused: Ready, Paused=True, the count left as it is', () => {
    const s = scalingStatus(input(policy({ mode: 'Paused' }), DAY_NOW, { deployment: deployment(7) }));
    expect(s.fields).toEqual({
      mode: 'Paused',
      currentReplicas: 7,
      desiredReplicas: 7,
      why: '7 replicas: mode Paused, the count is left as it is',
    });
    expect(byType(s)).toMatchObject({
      Ready: ['True', 'ModePaused'],
      Paused: ['True', 'ModePaused'],
      ReplicasOwned: ['Unknown', 'ModePaused'],
    });
  });

  test('target Deployment missing', () => {
    const s = scalingStatus(input(policy(), DAY_NOW));
    expect(s.fields.why).toBe('no replicas: Deployment shop-backend not found');
    expect(s.conditions[0]).toMatchObject({ status: 'False', reason: 'TargetNotFound' });
  });

  test('refused by a conflict: Ready=False TargetConflict, nothing claimed', () => {
    const s = scalingStatus(
      input(policy(), DAY_NOW, { deployment: deployment(5), conflict: { owner: 'first', deployment: 'shop-backend' } }),
    );
    expect(s.conditions[0]).toEqual({
      type: 'Ready',
      status: 'False',
      reason: 'TargetConflict',
      message:
        'Deployment shop-backend is already scaled by ScalingPolicy first (created earlier); this policy does nothing until that one is deleted',
    });
    expect(byType(s).ReplicasOwned).toEqual(['False', 'TargetConflict']);
    expect(s.fields).toEqual({
      mode: 'Auto',
      currentReplicas: 5,
      why: '5 replicas: not managed by this policy; ScalingPolicy first already scales Deployment shop-backend',
    });
  });

  test('statusFor: observedGeneration, transition time kept while the status does not flip', () => {
    const inp = input(policy(), DAY_NOW, { deployment: deployment(5), hpa: hpa({ current: 5, desired: 5, cpu: 70 }) });
    const first = statusFor(inp, undefined, new Date('2026-06-01T12:00:00Z'));
    expect(first.observedGeneration).toBe(4);
    const ready1 = first.conditions.find((c) => c.type === 'Ready');
    expect(ready1).toMatchObject({ status: 'True', observedGeneration: 4, lastTransitionTime: '2026-06-01T12:00:00Z' });
    const second = statusFor(inp, first.conditions, new Date('2026-06-01T12:05:00Z'));
    expect(second.conditions.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe('2026-06-01T12:00:00Z');
    const flipped = statusFor({ ...inp, hpa: undefined }, second.conditions, new Date('2026-06-01T12:10:00Z'));
    expect(flipped.conditions.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      lastTransitionTime: '2026-06-01T12:10:00Z',
    });
  });
});

describe('two policies on one target', () => {
  const claim = (
    name: string,
    created: string | undefined,
    targetRef: ScalingPolicySpec['targetRef'],
    deleting = false,
    namespace = 'shop',
  ): PolicyClaim => ({
    metadata: {
      name,
      namespace,
      ...(created ? { creationTimestamp: created } : {}),
      ...(deleting ? { deletionTimestamp: '2026-06-01T00:00:00Z' } : {}),
    },
    spec: { targetRef },
  });
  const app = { kind: 'SmartCloudOpsApp' as const, name: 'shop', component: 'backend' as const };

  test('the later one is refused, whatever the list order', () => {
    const a = claim('zeta', '2026-01-01T00:00:00Z', app);
    const b = claim('alpha', '2026-02-01T00:00:00Z', app);
    for (const list of [
      [a, b],
      [b, a],
    ]) {
      const r = resolveConflicts(list);
      expect(r.get('shop/zeta')).toBeUndefined();
      expect(r.has('shop/zeta')).toBe(true);
      expect(r.get('shop/alpha')).toEqual({ owner: 'zeta', deployment: 'shop-backend' });
    }
  });

  test('same creation second: by name', () => {
    const r = resolveConflicts([claim('b', '2026-01-01T00:00:00Z', app), claim('a', '2026-01-01T00:00:00Z', app)]);
    expect(r.get('shop/a')).toBeUndefined();
    expect(r.get('shop/b')).toEqual({ owner: 'a', deployment: 'shop-backend' });
  });

  test('an app component and its plain Deployment are one target; other components and namespaces are not', () => {
    const r = resolveConflicts([
      claim('by-app', '2026-01-01T00:00:00Z', app),
      claim('by-deploy', '2026-01-02T00:00:00Z', { kind: 'Deployment', name: 'shop-backend' }),
      claim('frontend', '2026-01-03T00:00:00Z', { ...app, component: 'frontend' }),
      claim('other-ns', '2026-01-04T00:00:00Z', app, false, 'staging'),
    ]);
    expect(r.get('shop/by-deploy')).toEqual({ owner: 'by-app', deployment: 'shop-backend' });
    expect(r.get('shop/frontend')).toBeUndefined();
    expect(r.get('staging/other-ns')).toBeUndefined();
  });

  test('a policy being deleted hands the target to the next one', () => {
    const r = resolveConflicts([
      claim('old', '2026-01-01T00:00:00Z', app, true),
      claim('new', '2026-01-02T00:00:00Z', app),
    ]);
    expect(r.has('shop/old')).toBe(false);
    expect(r.get('shop/new')).toBeUndefined();
  });

  test('three policies: the oldest wins, both others name it', () => {
    const r = resolveConflicts([
      claim('c', '2026-01-03T00:00:00Z', app),
      claim('a', '2026-01-01T00:00:00Z', app),
      claim('b', '2026-01-02T00:00:00Z', app),
    ]);
    expect([r.get('shop/a'), r.get('shop/b')?.owner, r.get('shop/c')?.owner]).toEqual([undefined, 'a', 'a']);
  });
});
