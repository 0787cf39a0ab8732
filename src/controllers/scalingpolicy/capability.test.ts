import { describe, expect, test } from '@jest/globals';
import type { KubeObject } from '../../kube/index.js';
import {
  deploymentRollingOut,
  deploymentTransform,
  DRILL_RESTORE_ANNOTATION,
  freezeSettings,
  policiesTargeting,
  readinessOf,
  statusOf,
  type CachedDeployment,
  type Ext,
} from './capability.js';
import type { PolicyObject } from './desired.js';
import { plan } from './plan.js';

const now = new Date('2026-06-02T12:00:00Z');

const policy = (name: string, spec: Partial<PolicyObject['spec']> = {}): PolicyObject => ({
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, generation: 3, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { targetRef: { kind: 'Deployment', name: 'web' }, ...spec },
});

describe('deploymentTransform', () => {
  const raw = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'ns',
      uid: 'u',
      resourceVersion: '7',
      generation: 4,
      labels: { a: 'b' },
      annotations: { [DRILL_RESTORE_ANNOTATION]: 'drill-1', other: 'x' },
      managedFields: [
        { manager: 'kubectl', operation: 'Update', fieldsV1: { 'f:spec': { 'f:template': {} } } },
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          subresource: 'scale',
          fieldsV1: { 'f:spec': { 'f:replicas': {} } },
        },
        {
          manager: 'smartcloudops-operator-scaling',
          operation: 'Apply',
          fieldsV1: { 'f:spec': { 'f:replicas': {}, 'f:x': {} } },
        },
      ],
    },
    spec: { replicas: 3, template: { spec: { containers: [{ name: 'c' }] } } },
    status: { observedGeneration: 4, replicas: 3, updatedReplicas: 3, conditions: [{ type: 'Available' }] },
  } as unknown as KubeObject;

  test('keeps the replica count, rollout status, drill marker and the managers of spec.replicas only', () => {
    const d = deploymentTransform(structuredClone(raw)) as CachedDeployment;
    expect(d.metadata).toEqual({
      name: 'web',
      namespace: 'ns',
      uid: 'u',
      resourceVersion: '7',
      generation: 4,
      annotations: { [DRILL_RESTORE_ANNOTATION]: 'drill-1' },
    });
    expect(d.spec).toEqual({ replicas: 3 });
    expect(d.status).toEqual({ observedGeneration: 4, replicas: 3, updatedReplicas: 3 });
    expect(d.replicaOwners?.map((o) => [o.manager, o.operation, o.subresource])).toEqual([
      ['kube-controller-manager', 'Update', 'scale'],
      ['smartcloudops-operator-scaling', 'Apply', undefined],
    ]);
  });
});

describe('deploymentRollingOut', () => {
  const dep = (status: Record<string, unknown>) =>
    deploymentTransform({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'ns', generation: 5 },
      spec: { replicas: 3 },
      status,
    } as unknown as KubeObject) as CachedDeployment;
  const progressing = (reason: string, status = 'True') => ({ type: 'Progressing', status, reason, message: 'm' });

  test('a new template being rolled out or old replicas left is a rollout', () => {
    expect(
      deploymentRollingOut(dep({ replicas: 3, updatedReplicas: 1, conditions: [progressing('ReplicaSetUpdated')] })),
    ).toBe(true);
    expect(
      deploymentRollingOut(
        dep({ replicas: 4, updatedReplicas: 3, conditions: [progressing('NewReplicaSetAvailable')] }),
      ),
    ).toBe(true);
  });

  test('a scale (generation ahead, new replicas not counted yet) is not; nor a stuck deadline', () => {
    expect(
      deploymentRollingOut(
        dep({
          observedGeneration: 4,
          replicas: 1,
          updatedReplicas: 1,
          conditions: [progressing('NewReplicaSetAvailable')],
        }),
      ),
    ).toBe(false);
    expect(
      deploymentRollingOut(
        dep({ replicas: 3, updatedReplicas: 3, conditions: [progressing('ProgressDeadlineExceeded', 'False')] }),
      ),
    ).toBe(false);
    expect(deploymentRollingOut(undefined)).toBe(false);
  });
});

describe('policiesTargeting', () => {
  test('a component resolves to <app>-<component>; other namespaces and targets are left out', () => {
    const claims = [
      policy('a'),
      {
        ...policy('b'),
        spec: { targetRef: { kind: 'SmartCloudOpsApp' as const, name: 'web', component: 'backend' as const } },
      },
      {
        ...policy('c'),
        spec: { targetRef: { kind: 'SmartCloudOpsApp' as const, name: 'shop', component: 'frontend' as const } },
      },
      { ...policy('d'), metadata: { ...policy('d').metadata, namespace: 'other' } },
    ];
    expect(policiesTargeting(claims, 'ns', 'web')).toEqual(['ns/a']);
    expect(policiesTargeting(claims, 'ns', 'web-backend')).toEqual(['ns/b']);
    expect(policiesTargeting(claims, 'ns', 'shop-frontend')).toEqual(['ns/c']);
  });
});

describe('freezeSettings', () => {
  test('both on by default, each switchable', () => {
    expect(freezeSettings(policy('a').spec)).toEqual({ duringRollout: true, duringDrill: true });
    expect(freezeSettings(policy('a', { scaleDownFreeze: { duringRollout: false } }).spec)).toEqual({
      duringRollout: false,
      duringDrill: true,
    });
  });
});

describe('statusOf', () => {
  const dep = {
    metadata: { name: 'web', generation: 1, managedFields: [] },
    spec: { replicas: 2 },
    status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2 },
  };

  test('the shared contract plus the scaling fields and mirrored conditions; a conflict is Stalled', () => {
    const a = policy('a');
    const b = { ...policy('b'), metadata: { ...policy('b').metadata, creationTimestamp: '2026-02-01T00:00:00Z' } };
    const ext: Ext = {
      errors: [],
      paused: false,
      suspended: undefined,
      plan: plan(b, { deployment: dep, policies: [a, b] }, now),
    };
    const { status } = statusOf(b, ext, now);
    const types = (status.conditions as { type: string; status: string; reason: string }[]).map(
      (c) => `${c.type}=${c.status}/${c.reason}`,
    );
    expect(types).toEqual([
      'Ready=False/TargetConflict',
      'Reconciling=False/TargetConflict',
      'Stalled=True/TargetConflict',
      'Suspended=False/NotSuspended',
      'AbleToScale=False/NoHPA',
      'ScalingActive=False/NoHPA',
      'ScalingLimited=False/NoHPA',
      'ReplicasOwned=False/TargetConflict',
      'Paused=False/NotPaused',
    ]);
    expect(status).toMatchObject({ observedGeneration: 3, mode: 'Auto', currentReplicas: 2 });
    expect(status.why).toContain('ScalingPolicy a already scales Deployment web');
  });

  test('Auto with the HPA pending: Reconciling; an invalid spec later drops the scaling conditions', () => {
    const a = policy('a');
    const ext: Ext = {
      errors: [],
      paused: false,
      suspended: undefined,
      plan: plan(a, { deployment: dep, policies: [a] }, now),
    };
    const first = statusOf(a, ext, now).status;
    expect(first).toMatchObject({ effectiveMinReplicas: 2, effectiveMaxReplicas: 10 });
    const cond = (s: Record<string, unknown>, t: string) =>
      (s.conditions as { type: string; status: string; reason: string }[]).find((c) => c.type === t);
    expect(cond(first, 'Reconciling')).toMatchObject({ status: 'True', reason: 'HPAPending' });
    const invalid = statusOf(
      { ...a, metadata: { ...a.metadata, generation: 4 }, status: first as never },
      { errors: [{ field: 'spec.windows[0].timeZone', message: 'unknown' }], paused: false, suspended: undefined },
      now,
    );
    expect(invalid.invalidEvent).toContain('spec.windows[0].timeZone');
    expect((invalid.status.conditions as { type: string }[]).map((c) => c.type)).toEqual([
      'Ready',
      'Reconciling',
      'Stalled',
      'Suspended',
    ]);
    expect(invalid.status.why).toBeUndefined();
  });

  test('readiness: pending work is Reconciling, a conflict is Stalled, Ready=True neither', () => {
    expect(readinessOf({ type: 'Ready', status: 'False', reason: 'ManualScalePending', message: '' })).toMatchObject({
      progressing: true,
    });
    expect(readinessOf({ type: 'Ready', status: 'False', reason: 'TargetConflict', message: '' })).toMatchObject({
      stalled: true,
    });
    const ok = readinessOf({ type: 'Ready', status: 'True', reason: 'HPAReconciled', message: '' });
    expect(ok.progressing).toBeUndefined();
    expect(ok.stalled).toBeUndefined();
  });
});
