// The status of an app from what was observed and decided: conditions, components, dependencies, monitoring.
import { describe, expect, test } from '@jest/globals';
import type { Condition } from '../../kube/types.js';
import type { CheckResult } from './contracts.js';
import type { ComponentObservation } from './rollout.js';
import { appStatus, type StatusView } from './status.js';

const now = new Date('2026-03-01T10:00:00Z');
const comp = (name: 'backend' | 'frontend', available = true): ComponentObservation => ({
  name,
  exists: true,
  revision: 'abc',
  image: `reg/${name}:1.0.0`,
  observedCurrent: true,
  replicas: 2,
  statusReplicas: 2,
  updatedReplicas: 2,
  readyReplicas: available ? 2 : 1,
  availableReplicas: available ? 2 : 1,
  progressDeadlineExceeded: false,
  podFailures: [],
});
const check = (name: string, ok: boolean, reason: string): CheckResult => ({
  name,
  kind: name === 'postgres' ? 'postgres' : 'http',
  ok,
  reason,
  message: `${name} ${reason}`,
  checkedAt: '2026-03-01T09:59:59Z',
});

function view(o: Partial<StatusView> = {}): StatusView {
  return {
    name: 'shop',
    now,
    generation: 3,
    previous: undefined,
    errors: [],
    pausedByAnnotation: false,
    suspended: undefined,
    secretProblems: [],
    components: [comp('backend'), comp('frontend')],
    health: { backend: check('backend', true, 'Healthy'), frontend: check('frontend', true, 'Healthy') },
    deps: { checks: [check('postgres', true, 'Healthy')] },
    analysis: { state: 'NotConfigured', reason: 'NotConfigured', message: '' },
    monitoring: { wanted: true, support: { prometheusRule: false, serviceMonitor: false } },
    yielded: [],
    ...o,
  };
}
const cond = (s: { conditions?: Condition[] }, type: string) => s.conditions?.find((c) => c.type === type);

describe('appStatus', () => {
  test('no decision yet but everything up: the shared contract plus the app conditions', () => {
    const { status } = appStatus(view());
    expect(cond(status, 'Ready')).toMatchObject({ status: 'True', reason: 'Available', observedGeneration: 3 });
    expect(cond(status, 'Available')?.status).toBe('True');
    expect(cond(status, 'Degraded')?.status).toBe('False');
    expect(cond(status, 'DependenciesReady')).toMatchObject({ status: 'True', reason: 'Healthy' });
    expect(cond(status, 'Monitoring')).toMatchObject({ status: 'False', reason: 'PrometheusOperatorAbsent' });
    expect(cond(status, 'Stalled')?.status).toBe('False');
    expect(status.readyComponents).toBe('2/2');
    expect(status.components?.[0]).toMatchObject({ name: 'backend', deployment: 'shop-backend', available: true });
    expect(status.dependencies?.[0]).toMatchObject({ name: 'postgres', ok: true });
  });

  test('a missing Secret: Ready=False SecretMissing, Stalled, DependenciesReady=False', () => {
    const { status } = appStatus(
      view({ secretProblems: ['Secret pg (spec.database.secretRef) not found'], components: [] }),
    );
    expect(cond(status, 'Ready')).toMatchObject({ status: 'False', reason: 'SecretMissing' });
    expect(cond(status, 'Ready')?.message).toMatch(/Secret pg .* not found/);
    expect(cond(status, 'Stalled')?.status).toBe('True');
    expect(cond(status, 'DependenciesReady')).toMatchObject({ status: 'False', reason: 'SecretMissing' });
  });

  test('failing dependency and health: Degraded with the reasons; a replica owner is named', () => {
    const { status } = appStatus(
      view({
        deps: { checks: [check('postgres', false, 'ConnectionRefused')] },
        health: { backend: check('backend', false, 'HttpStatus') },
        yielded: ['Deployment/shop-frontend:spec.replicas'],
      }),
    );
    expect(cond(status, 'Ready')).toMatchObject({ status: 'False', reason: 'DependenciesNotReady' });
    expect(cond(status, 'Degraded')).toMatchObject({ status: 'True' });
    expect(cond(status, 'Degraded')?.message).toMatch(/backend health.*postgres/);
    expect(cond(status, 'DependenciesReady')).toMatchObject({ status: 'False', reason: 'ConnectionRefused' });
    expect(status.components?.[1]?.replicasOwner).toBeDefined();
    expect(status.components?.[0]?.replicasOwner).toBeUndefined();
  });

  test('status.analysis names the revision its verdict is about, not the one now rolling out', () => {
    const kept = { state: 'Passing', reason: 'WithinThresholds', message: 'ok', revision: 'old' } as const;
    expect(appStatus(view({ analysis: kept })).status.analysis).toMatchObject({ revision: 'old', state: 'Passing' });
    const notBaking = { state: 'Unknown', reason: 'NotBaking', message: 'no revision is baking' } as const;
    expect(appStatus(view({ analysis: notBaking })).status.analysis?.revision).toBeUndefined();
  });

  test('spec.paused says so', () => {
    const { status } = appStatus(view({ suspended: 'SpecPaused' }));
    expect(cond(status, 'Suspended')).toMatchObject({ status: 'True', reason: 'SpecPaused' });
    expect(cond(status, 'Ready')?.reason).toBe('SpecPaused');
    expect(cond(status, 'Ready')?.message).toMatch(/frozen/);
  });

  test('an invalid spec: InvalidSpec and an event, nothing else decided', () => {
    const out = appStatus(view({ errors: [{ field: 'spec.backend.resources.requests.cpu', message: 'too big' }] }));
    expect(cond(out.status, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(out.invalidEvent).toMatch(/too big/);
  });
});
