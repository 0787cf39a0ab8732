// The validation memo, through the real reconcile function of a kind (ScalingPolicy) with in-memory stand-ins for
// the cache, applier and event recorder: an unchanged generation is not validated again.
import { describe, expect, test } from '@jest/globals';
import { CronDate } from 'croner';
import type { ScalingPolicySpec } from '../crds/scalingpolicy.js';
import { validateSpec } from '../crds/validate.js';
import type { KubeObject } from '../kube/index.js';
import type { ControllerDeps } from '../runtime/manager.js';
import { specController, type CustomObject } from './base.js';
import { scalingPolicyKind } from './scalingpolicy/controller.js';
import { ValidationMemo } from './validation.js';

type Policy = CustomObject<ScalingPolicySpec>;

function policy(generation: number, spec: Partial<ScalingPolicySpec> = {}, uid = 'uid-1'): Policy {
  return {
    apiVersion: 'ops.smartcloudops.ai/v1alpha1',
    kind: 'ScalingPolicy',
    metadata: { namespace: 'ns', name: 'web', uid, generation },
    spec: { targetRef: { kind: 'Deployment', name: 'web' }, ...spec } as ScalingPolicySpec,
  };
}

function harness() {
  const objects = new Map<string, Policy>();
  const statuses: Record<string, unknown>[] = [];
  const events: string[] = [];
  let validations = 0;
  let resourceVersion = 0;
  const counting = <S>(kind: Parameters<typeof validateSpec>[0], spec: unknown) => {
    validations++;
    return validateSpec<S>(kind, spec);
  };
  const deps = {
    cache: { get: (ns: string, name: string) => objects.get(`${ns}/${name}`) },
    applier: {
      status: async (_ref: unknown, obj: KubeObject & { status?: unknown }, status: Record<string, unknown>) => {
        statuses.push(status);
        // As the API server and the watch do: the write lands as a new object with a new resourceVersion.
        const next = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++resourceVersion) }, status };
        objects.set(`${obj.metadata.namespace}/${obj.metadata.name}`, next as Policy);
        return true;
      },
    },
    events: { event: (_o: unknown, _t: string, reason: string) => events.push(reason) },
    clock: { now: () => new Date('2026-03-01T00:00:00Z') },
    log: { isLevelEnabled: () => false },
  } as unknown as ControllerDeps;
  const reconcile = specController(scalingPolicyKind, counting).setup(deps);
  const ctx = { log: deps.log, reconcileId: 'r' } as never;
  return {
    put: (o: Policy) => objects.set(`${o.metadata.namespace}/${o.metadata.name}`, o),
    remove: (o: Policy) => objects.delete(`${o.metadata.namespace}/${o.metadata.name}`),
    reconcile: () => reconcile({ namespace: 'ns', name: 'web', key: 'ns/web' }, ctx),
    validations: () => validations,
    statuses,
    events,
  };
}

const conditionOf = (status: Record<string, unknown> | undefined, type: string) =>
  (status?.conditions as { type: string; status: string; reason: string }[] | undefined)?.find((c) => c.type === type);

describe('an unchanged generation is not re-validated', () => {
  test('a second reconcile of the same generation does not call the validator; a new generation does', async () => {
    const h = harness();
    h.put(policy(1));
    await h.reconcile();
    expect(h.validations()).toBe(1);
    expect(conditionOf(h.statuses.at(-1), 'Ready')).toMatchObject({ status: 'Unknown', reason: 'NotImplemented' });

    await h.reconcile(); // a resync, or an update of metadata/status only
    await h.reconcile();
    expect(h.validations()).toBe(1);
    expect(h.statuses).toHaveLength(3); // the status contract is still decided (and written when it changed)

    h.put(policy(2, { mode: 'Paused' }));
    await h.reconcile();
    expect(h.validations()).toBe(2);
    expect(conditionOf(h.statuses.at(-1), 'Suspended')).toMatchObject({ status: 'True', reason: 'ModePaused' });
  });

  test('an invalid outcome is remembered too: no second validation, no second Warning Event', async () => {
    const h = harness();
    h.put(
      policy(1, { windows: [{ name: 'w', schedule: '0 0 31 2 *', duration: '1h', minReplicas: 1, maxReplicas: 2 }] }),
    );
    await expect(h.reconcile()).rejects.toThrow(/never fires/);
    await h.reconcile();
    expect(h.validations()).toBe(1);
    expect(h.events).toEqual(['InvalidSpec']);
    expect(conditionOf(h.statuses.at(-1), 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
  });

  test('a re-created object (same name and generation, new uid) is validated again', async () => {
    const h = harness();
    h.put(policy(1, {}, 'uid-1'));
    await h.reconcile();
    h.put(policy(1, { mode: 'Paused' }, 'uid-2'));
    await h.reconcile();
    expect(h.validations()).toBe(2);
    expect(conditionOf(h.statuses.at(-1), 'Suspended')).toMatchObject({ status: 'True', reason: 'ModePaused' });
  });
});

describe('ValidationMemo', () => {
  test('entries are dropped on delete, so memory follows the objects', () => {
    let calls = 0;
    const memo = new ValidationMemo<Policy>(() => {
      calls++;
      return { errors: [], suspended: undefined };
    });
    for (let i = 0; i < 100; i++) memo.outcome({ ...policy(1), metadata: { ...policy(1).metadata, name: `p${i}` } });
    expect(memo.size).toBe(100);
    for (let i = 0; i < 100; i++) memo.forget('ns', `p${i}`);
    expect(memo.size).toBe(0);
    expect(calls).toBe(100);
  });

  test('a missing generation is never remembered', () => {
    let calls = 0;
    const memo = new ValidationMemo<Policy>(() => {
      calls++;
      return { errors: [], suspended: undefined };
    });
    const o = policy(1);
    delete o.metadata.generation;
    memo.outcome(o);
    memo.outcome(o);
    expect(calls).toBe(2);
    expect(memo.size).toBe(0);
  });

  test('the reconcile of a deleted object forgets it', async () => {
    const h = harness();
    const o = policy(1);
    h.put(o);
    await h.reconcile();
    h.remove(o);
    await h.reconcile();
    h.put(o); // the same uid and generation seen again after a forget: validated anew
    await h.reconcile();
    expect(h.validations()).toBe(2);
  });
});

describe('cost per object is bounded', () => {
  test('more windows than the schema allows are refused before any cron is evaluated', async () => {
    const proto = CronDate.prototype as unknown as { recurseStep: (...a: unknown[]) => unknown };
    const original = proto.recurseStep;
    let steps = 0;
    proto.recurseStep = function (this: unknown, ...a: unknown[]) {
      steps++;
      return original.apply(this, a);
    };
    try {
      const h = harness();
      const windows = Array.from({ length: 500 }, (_, i) => ({
        name: `w${i}`,
        schedule: '0 0 31 2 *',
        duration: '1h',
        minReplicas: 1,
        maxReplicas: 2,
      }));
      h.put(policy(1, { windows }));
      await expect(h.reconcile()).rejects.toThrow(/spec\.windows: must NOT have more than 20 items/);
      expect(steps).toBe(0);
    } finally {
      proto.recurseStep = original;
    }
  });
});
