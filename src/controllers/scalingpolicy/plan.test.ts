import { describe, expect, test } from '@jest/globals';
import type { ScalingPolicySpec } from '../../crds/scalingpolicy.js';
import { SCALING_FIELD_MANAGER, type PolicyObject } from './desired.js';
import { plan, type Observed } from './plan.js';
import { cachingCronFactory } from './windows.js';

const NIGHT = { name: 'night', schedule: '0 22 * * *', duration: '8h', minReplicas: 1, maxReplicas: 3 };

const policy = (
  spec: Partial<ScalingPolicySpec> = {},
  name = 'p1',
  created = '2026-01-01T00:00:00Z',
): PolicyObject => ({
  metadata: { name, namespace: 'shop', uid: `uid-${name}`, generation: 2, creationTimestamp: created },
  spec: { targetRef: { kind: 'SmartCloudOpsApp', name: 'shop', component: 'backend' }, windows: [NIGHT], ...spec },
});

const settled = {
  metadata: { name: 'shop-backend', generation: 5 },
  spec: { replicas: 3 },
  status: { observedGeneration: 5, replicas: 3, updatedReplicas: 3, availableReplicas: 3 },
};

const observed = (p: PolicyObject, extra: Partial<Observed> = {}): Observed => ({
  deployment: settled,
  policies: [p],
  ...extra,
});

describe('plan', () => {
  test('Auto at night: the HPA gets the window bounds, requeue at the window end', () => {
    const p = policy();
    const now = new Date('2026-06-02T05:00:00Z');
    const r = plan(p, observed(p), now, { cronFor: cachingCronFactory() });
    expect(r.desired?.hpa?.spec).toMatchObject({ minReplicas: 1, maxReplicas: 3 });
    expect(r.desired?.hpa?.spec.behavior).toEqual({ scaleDown: { stabilizationWindowSeconds: 300 } });
    expect(r.status.fields.activeWindow).toBe('night');
    expect(r.requeueAfterMs).toBe(3_600_000); // 06:00Z, one hour away
    expect(r.freeze).toBeUndefined();
  });

  test('Auto by day: base bounds; a rollout of the Deployment freezes scale-down', () => {
    const p = policy();
    const rolling = { ...settled, metadata: { ...settled.metadata, generation: 6 } };
    const r = plan(p, observed(p, { deployment: rolling }), new Date('2026-06-02T12:00:00Z'));
    expect(r.desired?.hpa?.spec).toMatchObject({ minReplicas: 2, maxReplicas: 10 });
    expect(r.freeze?.reason).toBe('RolloutInProgress');
    expect(r.desired?.hpa?.spec.behavior).toEqual({
      scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: 'Disabled' },
    });
    expect(r.status.conditions.find((c) => c.type === 'Paused')?.reason).toBe('RolloutInProgress');
    // 22:00Z is ten hours away: capped at the one-hour maximum.
    expect(r.requeueAfterMs).toBe(3_600_000);
  });

  test('a drill freezes scale-down unless switched off', () => {
    const p = policy();
    const now = new Date('2026-06-02T12:00:00Z');
    expect(plan(p, observed(p, { drillRestoring: 'monthly' }), now).freeze?.reason).toBe('DrillInProgress');
    expect(
      plan(p, observed(p, { drillRestoring: 'monthly' }), now, { freeze: { duringRollout: true, duringDrill: false } })
        .freeze,
    ).toBeUndefined();
  });

  test('Manual: the replica write, no HPA, no timed requeue, ReplicasOwned from managedFields', () => {
    const p = policy({ mode: 'Manual', replicas: 3 });
    const deployment = {
      ...settled,
      metadata: {
        ...settled.metadata,
        managedFields: [
          { manager: SCALING_FIELD_MANAGER, operation: 'Apply', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
        ],
      },
    };
    const r = plan(p, observed(p, { deployment }), new Date('2026-06-02T05:00:00Z'));
    expect(r.desired).toMatchObject({ mode: 'Manual', replicas: { spec: { replicas: 3 } } });
    expect(r.desired?.hpa).toBeUndefined();
    expect(r.requeueAfterMs).toBeUndefined();
    expect(r.status.conditions.find((c) => c.type === 'ReplicasOwned')?.status).toBe('True');
    expect(r.status.fields.why).toBe('3 replicas: Manual mode sets 3');
  });

  test('the second policy on the target desires nothing and says who owns it', () => {
    const first = policy({}, 'first', '2026-01-01T00:00:00Z');
    const second = policy({ mode: 'Manual', replicas: 9 }, 'second', '2026-02-01T00:00:00Z');
    const r = plan(second, { deployment: settled, policies: [second, first] }, new Date('2026-06-02T12:00:00Z'));
    expect(r.desired).toBeUndefined();
    expect(r.conflict).toEqual({ owner: 'first', deployment: 'shop-backend' });
    expect(r.requeueAfterMs).toBeUndefined();
    expect(r.status.conditions[0]).toMatchObject({ type: 'Ready', status: 'False', reason: 'TargetConflict' });
    const owner = plan(first, { deployment: settled, policies: [second, first] }, new Date('2026-06-02T12:00:00Z'));
    expect(owner.conflict).toBeUndefined();
    expect(owner.desired?.mode).toBe('Auto');
  });

  test('Paused: nothing desired, Paused=True', () => {
    const p = policy({ mode: 'Paused' });
    const r = plan(p, observed(p), new Date('2026-06-02T12:00:00Z'));
    expect(r.desired).toEqual({ mode: 'Paused' });
    expect(r.status.conditions.find((c) => c.type === 'Paused')).toMatchObject({
      status: 'True',
      reason: 'ModePaused',
    });
  });
});
