import { describe, expect, test } from '@jest/globals';
import type { ScalingPolicySpec } from '../../crds/scalingpolicy.js';
import {
  baseBounds,
  componentDeploymentName,
  desiredHpa,
  desiredState,
  freezeOf,
  hpaBehavior,
  resolveTarget,
  rolloutInProgress,
  type PolicyObject,
} from './desired.js';

const policy = (spec: Partial<ScalingPolicySpec>, name = 'backend-scaling'): PolicyObject => ({
  apiVersion: 'ops.smartcloudops.ai/v1alpha1',
  kind: 'ScalingPolicy',
  metadata: { name, namespace: 'shop', uid: 'uid-1', generation: 3 },
  spec: { targetRef: { kind: 'SmartCloudOpsApp', name: 'shop', component: 'backend' }, ...spec },
});

describe('target', () => {
  test('a SmartCloudOpsApp component is the Deployment <app>-<component>', () => {
    expect(componentDeploymentName('shop', 'frontend')).toBe('shop-frontend');
    expect(resolveTarget({ kind: 'SmartCloudOpsApp', name: 'shop', component: 'frontend' })).toEqual({
      deployment: 'shop-frontend',
      app: 'shop',
      component: 'frontend',
    });
  });
  test('a plain Deployment is itself', () => {
    expect(resolveTarget({ kind: 'Deployment', name: 'legacy-api' })).toEqual({ deployment: 'legacy-api' });
  });
});

describe('Auto: the HPA', () => {
  test('the runbook policy (CPU 70 %, memory 80 %, 2–10) gives exactly this HPA', () => {
    const p = policy({});
    expect(desiredHpa(p, baseBounds(p.spec), undefined)).toEqual({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: {
        name: 'backend-scaling',
        namespace: 'shop',
        labels: {
          'app.kubernetes.io/managed-by': 'smartcloudops-operator',
          'ops.smartcloudops.ai/scalingpolicy': 'backend-scaling',
        },
        ownerReferences: [
          {
            apiVersion: 'ops.smartcloudops.ai/v1alpha1',
            kind: 'ScalingPolicy',
            name: 'backend-scaling',
            uid: 'uid-1',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'shop-backend' },
        minReplicas: 2,
        maxReplicas: 10,
        metrics: [
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
          { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 80 } } },
        ],
        behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
      },
    });
  });

  test('bounds come from the effective bounds (a window), metrics from the spec, target a plain Deployment', () => {
    const p = policy({
      targetRef: { kind: 'Deployment', name: 'legacy-api' },
      minReplicas: 3,
      maxReplicas: 8,
      metrics: { cpu: 55, memory: 90 },
    });
    const hpa = desiredHpa(p, { min: 1, max: 4 }, undefined);
    expect(hpa.spec.scaleTargetRef.name).toBe('legacy-api');
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([1, 4]);
    expect(hpa.spec.metrics.map((m) => [m.resource.name, m.resource.target.averageUtilization])).toEqual([
      ['cpu', 55],
      ['memory', 90],
    ]);
  });

  test('behavior is passed through; only a missing scale-down stabilization is defaulted', () => {
    const behavior = {
      scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
      scaleDown: { stabilizationWindowSeconds: 600, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] },
    };
    expect(hpaBehavior(behavior, undefined)).toEqual(behavior);
    expect(hpaBehavior({ scaleUp: { selectPolicy: 'Max' } }, undefined)).toEqual({
      scaleUp: { selectPolicy: 'Max' },
      scaleDown: { stabilizationWindowSeconds: 300 },
    });
    expect(hpaBehavior({ scaleDown: { stabilizationWindowSeconds: 0 } }, undefined)).toEqual({
      scaleDown: { stabilizationWindowSeconds: 0 },
    });
    // The input is not modified.
    const input = { scaleDown: { policies: [] } };
    hpaBehavior(input, { reason: 'RolloutInProgress', message: '' });
    expect(input).toEqual({ scaleDown: { policies: [] } });
  });

  test('a freeze disables scale-down only, keeping the rest of behavior', () => {
    const freeze = { reason: 'DrillInProgress' as const, message: 'x' };
    expect(hpaBehavior({ scaleDown: { policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } }, freeze)).toEqual({
      scaleDown: {
        policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }],
        stabilizationWindowSeconds: 300,
        selectPolicy: 'Disabled',
      },
    });
    const p = policy({});
    expect(desiredHpa(p, { min: 2, max: 10 }, freeze).spec.behavior).toEqual({
      scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: 'Disabled' },
    });
  });
});

describe('freeze signals', () => {
  const app = resolveTarget({ kind: 'SmartCloudOpsApp', name: 'shop', component: 'backend' });
  test('rollout first, then drill; each can be switched off', () => {
    expect(freezeOf({}, app)).toBeUndefined();
    expect(freezeOf({ rollingOut: true, drillRestoring: 'monthly' }, app)).toEqual({
      reason: 'RolloutInProgress',
      message: "scale-down frozen while app 'shop' rolls out",
    });
    expect(freezeOf({ drillRestoring: 'monthly' }, app)).toEqual({
      reason: 'DrillInProgress',
      message: "scale-down frozen while DR drill 'monthly' restores into app 'shop'",
    });
    expect(freezeOf({ rollingOut: true }, app, { duringRollout: false, duringDrill: true })).toBeUndefined();
    expect(freezeOf({ drillRestoring: 'm' }, app, { duringRollout: true, duringDrill: false })).toBeUndefined();
  });

  test('rolloutInProgress follows kubectl rollout status, not HPA scale-ups', () => {
    const d = (gen: number, observed: number, replicas: number, total: number, updated: number, available: number) => ({
      metadata: { generation: gen },
      spec: { replicas },
      status: { observedGeneration: observed, replicas: total, updatedReplicas: updated, availableReplicas: available },
    });
    expect(rolloutInProgress(undefined)).toBe(false);
    expect(rolloutInProgress(d(2, 2, 3, 3, 3, 3))).toBe(false); // settled
    expect(rolloutInProgress(d(3, 2, 3, 3, 3, 3))).toBe(true); // new generation not observed yet
    expect(rolloutInProgress(d(3, 3, 3, 4, 1, 3))).toBe(true); // surge: 1 updated, old pods remain
    expect(rolloutInProgress(d(3, 3, 3, 3, 3, 3))).toBe(false);
    expect(rolloutInProgress(d(3, 3, 3, 4, 3, 3))).toBe(true); // old pods still terminating
    expect(rolloutInProgress(d(3, 3, 6, 6, 6, 3))).toBe(false); // HPA scale-up 3 → 6: new pods not ready yet
  });
});

describe('modes', () => {
  test('Auto: an HPA and no replica write', () => {
    const d = desiredState(policy({ mode: 'Auto' }), { min: 2, max: 10 }, undefined);
    expect(d.mode).toBe('Auto');
    expect(d.hpa?.spec.maxReplicas).toBe(10);
    expect(d.replicas).toBeUndefined();
  });
  test('mode defaults to Auto', () => {
    expect(desiredState(policy({}), { min: 2, max: 10 }, undefined).mode).toBe('Auto');
  });
  test('Manual: only spec.replicas of the target Deployment, no HPA, windows do not apply', () => {
    const d = desiredState(policy({ mode: 'Manual', replicas: 4 }), { min: 1, max: 2 }, undefined);
    expect(d).toEqual({
      mode: 'Manual',
      replicas: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'shop-backend', namespace: 'shop' },
        spec: { replicas: 4 },
      },
    });
  });
  test('Manual with replicas 0 scales to zero', () => {
    expect(
      desiredState(policy({ mode: 'Manual', replicas: 0 }), { min: 2, max: 10 }, undefined).replicas?.spec,
    ).toEqual({
      replicas: 0,
    });
  });
  test('Paused: nothing', () => {
    expect(desiredState(policy({ mode: 'Paused' }), { min: 2, max: 10 }, undefined)).toEqual({ mode: 'Paused' });
  });
});
