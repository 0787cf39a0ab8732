// ScalingPolicy end to end on the shared cluster's real node (metrics-server, the HPA controller of
// kube-controller-manager, the stand-in image 1.0.0 and its CPU-burning /burn): the operator runs as a process
// (src/main.ts) watching one namespace of our own. Load is driven from this host to the pods' IPs on the real node's
// bridge (10.250.0.0/24, local: real-node.md), never to any other address.
// Skipped, saying so, when the cluster has no node labelled smartcloudops.ai/node=real.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { installCrds } from '../support/crds.js';
import { condition, createNamespace, deleteNamespace, eventually, testClient } from '../support/kube.js';
import { OperatorProcess } from '../support/operator.js';
import { driveLoad, POLICY, policyObject, replicaWriters, standinDeployment, type Policy } from '../support/scaling.js';
import { realNodeFor } from '../support/realnode.js';

jest.setTimeout(300_000);

const E2E_MANAGER = 'scaling-e2e';
const SCALING_MANAGER = 'smartcloudops-operator-scaling';
const DRILL_ANNOTATION = 'ops.smartcloudops.ai/dr-restore-in-progress';

interface Deployment extends KubeObject {
  spec: { replicas?: number };
  status?: { replicas?: number; readyReplicas?: number };
}
interface Hpa extends KubeObject {
  spec: {
    minReplicas: number;
    maxReplicas: number;
    scaleTargetRef: { kind: string; name: string };
    metrics: unknown[];
    behavior?: Record<string, unknown>;
  };
  status?: { currentReplicas?: number; desiredReplicas?: number };
}

const hasRealNode = await realNodeFor('test/e2e/scaling.test.ts');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

(hasRealNode ? describe : describe.skip)('ScalingPolicy on the real node', () => {
  let client: KubeClient;
  let ns: string;
  let op: OperatorProcess;
  // The window policy's HPA minReplicas over time, sampled from the start (the window opens while other tests run).
  const winSamples: { at: number; min?: number }[] = [];
  let winStart = 0;
  let winEnd = 0;
  let sampler: Promise<void> | undefined;
  let sampling = true;

  const getPolicy = (name: string) => client.get<Policy>(POLICY, ns, name);
  const getDeployment = (name: string) => client.get<Deployment>(Resources.Deployment, ns, name);
  const getHpa = (name: string) => client.get<Hpa>(Resources.HorizontalPodAutoscaler, ns, name);
  const hpaGone = async (name: string) => {
    try {
      await getHpa(name);
      return false;
    } catch (err) {
      return (err as { code?: number }).code === 404;
    }
  };
  const apply = (obj: KubeObject) =>
    client.apply(obj.kind === 'Deployment' ? Resources.Deployment : POLICY, obj, {
      fieldManager: E2E_MANAGER,
      force: true,
    });
  const cond = async (name: string, type: string) =>
    (await getPolicy(name)).status?.conditions?.find((c) => c.type === type);

  beforeAll(async () => {
    client = await testClient();
    await installCrds(client);
    ns = await createNamespace(client, 'scaling-e2e');
    op = await OperatorProcess.start({ identity: `${ns}-op`, namespaces: [ns] });
    await apply(standinDeployment('web', ns));
    await apply(standinDeployment('win', ns));
    await eventually(
      'web and win ready',
      async () =>
        (await getDeployment('web')).status?.readyReplicas === 1 &&
        (await getDeployment('win')).status?.readyReplicas === 1,
      { timeoutMs: 120_000 },
    );
    // A window opening at the next whole minute at least 25 s away, open for 30 s: min 1 below the base min 2.
    const now = Date.now();
    let start = Math.ceil(now / 60_000) * 60_000;
    if (start - now < 25_000) start += 60_000;
    const s = new Date(start);
    winStart = start;
    winEnd = start + 30_000;
    await apply(
      policyObject('win', ns, {
        targetRef: { kind: 'Deployment', name: 'win' },
        minReplicas: 2,
        maxReplicas: 4,
        windows: [
          {
            name: 'quiet',
            schedule: `${s.getUTCMinutes()} ${s.getUTCHours()} * * *`,
            duration: '30s',
            minReplicas: 1,
            maxReplicas: 4,
          },
        ],
      }),
    );
    sampler = (async () => {
      while (sampling) {
        const at = Date.now();
        const min = await getHpa('win').then(
          (h) => h.spec.minReplicas,
          () => undefined,
        );
        winSamples.push({ at, ...(min !== undefined ? { min } : {}) });
        await sleep(250);
      }
    })();
  });

  afterAll(async () => {
    sampling = false;
    await sampler;
    await op?.stop();
    if (ns) await deleteNamespace(client, ns);
    client?.close();
  });

  test('Auto creates the HPA with the right spec and a controller owner; the operator writes no replicas', async () => {
    await apply(
      policyObject('web', ns, {
        targetRef: { kind: 'Deployment', name: 'web' },
        mode: 'Auto',
        minReplicas: 1,
        maxReplicas: 3,
        metrics: { cpu: 50, memory: 90 },
        behavior: {
          scaleUp: { stabilizationWindowSeconds: 0 },
          scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 5 }] },
        },
      }),
    );
    const policy = await getPolicy('web');
    const hpa = await eventually('HPA web', () => getHpa('web'), { timeoutMs: 30_000 });
    expect(hpa.spec).toMatchObject({
      minReplicas: 1,
      maxReplicas: 3,
      scaleTargetRef: { kind: 'Deployment', name: 'web' },
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } },
        { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 90 } } },
      ],
      behavior: { scaleUp: { stabilizationWindowSeconds: 0 }, scaleDown: { stabilizationWindowSeconds: 0 } },
    });
    expect(hpa.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'ScalingPolicy', name: 'web', uid: policy.metadata.uid, controller: true }),
    ]);
    const ready = await eventually('policy web Ready', async () => {
      const c = await cond('web', 'Ready');
      return c?.status === 'True' ? c : undefined;
    });
    expect(ready.reason).toBe('HPAReconciled');
    const st = (await getPolicy('web')).status ?? {};
    expect(st).toMatchObject({
      mode: 'Auto',
      hpaRef: { name: 'web' },
      effectiveMinReplicas: 1,
      effectiveMaxReplicas: 3,
    });
    expect(typeof st.why).toBe('string');
    expect(await op.sum('smartcloudops_kube_requests_total', { resource: 'deployments', verb: 'patch' })).toBe(0);
  });

  test('load makes the HPA scale the Deployment up, and down again when it stops; only the HPA writes replicas', async () => {
    const stop = driveLoad(client, ns, 'web');
    let sent: number;
    try {
      await eventually('HPA scales web up', async () => ((await getDeployment('web')).spec.replicas ?? 0) > 1, {
        timeoutMs: 180_000,
        intervalMs: 1000,
      });
    } finally {
      sent = await stop();
    }
    expect(sent).toBeGreaterThan(0);
    // The HPA's scale of a field nobody owned may be recorded for no one; in any case only the HPA may appear.
    const onlyHpa = (d: KubeObject) => replicaWriters(d).filter((w) => w !== 'kube-controller-manager/scale');
    expect(onlyHpa(await getDeployment('web'))).toEqual([]);
    const scaled = await eventually('status shows the scale', async () => {
      const s = (await getPolicy('web')).status ?? {};
      return typeof s.lastScaleTime === 'string' && (s.currentMetrics as unknown[] | undefined)?.length === 2
        ? s
        : undefined;
    });
    expect(condition(await getPolicy('web'), 'AbleToScale')?.status).toBe('True');
    expect(scaled.why).toMatch(/replicas/);
    await eventually('HPA scales web back down', async () => (await getDeployment('web')).spec.replicas === 1, {
      timeoutMs: 180_000,
      intervalMs: 1000,
    });
    expect(onlyHpa(await getDeployment('web'))).toEqual([]);
    expect(condition(await getPolicy('web'), 'ReplicasOwned')).toMatchObject({ status: 'True' });
    expect(await op.sum('smartcloudops_scalingpolicy_replica_writes_total')).toBe(0);
    expect(await op.sum('smartcloudops_kube_requests_total', { resource: 'deployments', verb: 'patch' })).toBe(0);
  });

  test('scale-down is frozen while a DR drill restores into the target (annotation), and released after', async () => {
    const web = standinDeployment('web', ns);
    const marked = { ...web, metadata: { ...web.metadata, annotations: { [DRILL_ANNOTATION]: 'drill-e2e' } } };
    await apply(marked as KubeObject);
    const frozen = await eventually('HPA scale-down disabled', async () => {
      const h = await getHpa('web');
      return (h.spec.behavior?.scaleDown as { selectPolicy?: string } | undefined)?.selectPolicy === 'Disabled'
        ? h
        : undefined;
    });
    expect(frozen.spec.behavior?.scaleUp).toMatchObject({ stabilizationWindowSeconds: 0 }); // scale-up untouched
    const paused = await eventually('Paused=True', async () => {
      const c = await cond('web', 'Paused');
      return c?.status === 'True' ? c : undefined;
    });
    expect(paused.reason).toBe('DrillInProgress');
    await apply(web);
    await eventually('HPA scale-down enabled again', async () => {
      const h = await getHpa('web');
      // Our Disabled is withdrawn; the API server defaults selectPolicy to Max.
      return (h.spec.behavior?.scaleDown as { selectPolicy?: string } | undefined)?.selectPolicy !== 'Disabled';
    });
    // Status is written after the HPA in the same reconcile.
    await eventually('Paused=False', async () => (await cond('web', 'Paused'))?.status === 'False');
  });

  test('a window lowers min below the base min at its start and restores it at its end', async () => {
    await eventually('window over', async () => Date.now() > winEnd + 5_000, { timeoutMs: 150_000, intervalMs: 1000 });
    const before = winSamples.filter((s) => s.at < winStart - 1_000 && s.min !== undefined);
    const during = winSamples.filter((s) => s.at > winStart + 3_000 && s.at < winEnd - 1_000);
    const after = winSamples.filter((s) => s.at > winEnd + 3_000);
    expect(before.length).toBeGreaterThan(0);
    expect(new Set(before.map((s) => s.min))).toEqual(new Set([2]));
    expect(during.length).toBeGreaterThan(0);
    expect(new Set(during.map((s) => s.min))).toEqual(new Set([1]));
    expect(after.length).toBeGreaterThan(0);
    expect(new Set(after.map((s) => s.min))).toEqual(new Set([2]));
    const st = (await getPolicy('win')).status ?? {};
    expect(st.activeWindow).toBeUndefined();
    expect(st.effectiveMinReplicas).toBe(2);
  });

  test('Manual scales the Deployment and removes the HPA', async () => {
    const gen0 = (await getDeployment('web')).metadata.generation ?? 0;
    await apply(
      policyObject('web', ns, { targetRef: { kind: 'Deployment', name: 'web' }, mode: 'Manual', replicas: 2 }),
    );
    await eventually('HPA web deleted', () => hpaGone('web'));
    const d = await eventually('web at 2', async () => {
      const x = await getDeployment('web');
      return x.spec.replicas === 2 ? x : undefined;
    });
    expect(replicaWriters(d)).toEqual([SCALING_MANAGER]);
    expect(d.metadata.generation).toBe(gen0 + 1);
    await eventually(
      'policy web Ready (Manual)',
      async () => (await cond('web', 'Ready'))?.reason === 'ManualScaleApplied',
    );
    const st = (await getPolicy('web')).status ?? {};
    expect(st.mode).toBe('Manual');
    expect(st.hpaRef).toBeUndefined();
    expect(condition(await getPolicy('web'), 'AbleToScale')).toMatchObject({ status: 'False', reason: 'NoHPA' });
    expect(await op.sum('smartcloudops_scalingpolicy_replica_writes_total')).toBe(1);
    expect(await cond('web', 'ReplicasOwned')).toMatchObject({ status: 'True', reason: 'OwnedByPolicy' });

    // Another manager applies the same count: it shares the field, and ReplicasOwned names it; it lets go again.
    const web = standinDeployment('web', ns);
    await apply({ ...web, spec: { ...web.spec, replicas: 2 } } as KubeObject);
    const conflict = await eventually('ReplicasOwned=False', async () => {
      const c = await cond('web', 'ReplicasOwned');
      return c?.status === 'False' ? c : undefined;
    });
    expect(conflict.reason).toBe('FieldManagerConflict');
    expect(conflict.message).toContain(E2E_MANAGER);
    await apply(web);
    await eventually('ReplicasOwned=True again', async () => (await cond('web', 'ReplicasOwned'))?.status === 'True');
    expect((await getDeployment('web')).spec.replicas).toBe(2);
    expect(await op.sum('smartcloudops_scalingpolicy_replica_writes_total')).toBe(1);
  });

  test('switching modes back and forth never leaves two writers of spec.replicas, and nothing fights', async () => {
    const maxWriters: string[][] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const w = replicaWriters(await getDeployment('web'));
        if (w.length > 1) maxWriters.push(w);
        await sleep(150);
      }
    })();
    const auto = {
      targetRef: { kind: 'Deployment', name: 'web' },
      mode: 'Auto',
      minReplicas: 1,
      maxReplicas: 3,
      behavior: { scaleDown: { stabilizationWindowSeconds: 0 } },
    };
    try {
      // Manual 2 → Auto (idle: the HPA takes the count down to 1) → Manual 3 → Auto → Manual 2.
      for (const [spec, want] of [
        [auto, 1],
        [{ ...auto, mode: 'Manual', replicas: 3 }, 3],
        [auto, 1],
        [{ ...auto, mode: 'Manual', replicas: 2 }, 2],
      ] as const) {
        await apply(policyObject('web', ns, spec));
        await eventually(
          `web at ${want} in ${spec.mode}`,
          async () => {
            const d = await getDeployment('web');
            const writers = replicaWriters(d);
            const expected = spec.mode === 'Auto' ? 'kube-controller-manager/scale' : SCALING_MANAGER;
            return d.spec.replicas === want && writers.length === 1 && writers[0] === expected;
          },
          { timeoutMs: 120_000, intervalMs: 500 },
        );
        // Settled: no writer fights, the generation stays put.
        const g = (await getDeployment('web')).metadata.generation;
        await sleep(spec.mode === 'Auto' ? 16_000 : 5_000); // Auto: longer than one HPA sync period (15 s)
        expect((await getDeployment('web')).metadata.generation).toBe(g);
      }
    } finally {
      watching = false;
      await watcher;
    }
    expect(maxWriters).toEqual([]);
  });

  test('a second policy on the same target is refused with a clear condition; an app component resolves to its Deployment', async () => {
    await apply(
      policyObject('web-2', ns, { targetRef: { kind: 'Deployment', name: 'web' }, mode: 'Manual', replicas: 3 }),
    );
    const refused = await eventually('web-2 refused', async () => {
      const c = await cond('web-2', 'Ready');
      return c?.reason === 'TargetConflict' ? c : undefined;
    });
    expect(refused.status).toBe('False');
    expect(refused.message).toContain('ScalingPolicy web');
    expect(await cond('web-2', 'Stalled')).toMatchObject({ status: 'True' });
    expect(await cond('web-2', 'ReplicasOwned')).toMatchObject({ status: 'False', reason: 'TargetConflict' });
    // The owner keeps its count; the refused one writes nothing.
    await sleep(3_000);
    expect((await getDeployment('web')).spec.replicas).toBe(2);
    expect(await cond('web', 'Ready')).toMatchObject({ status: 'True' });

    // A SmartCloudOpsApp component `shop`/backend is the Deployment shop-backend: one policy per form, the older wins.
    await apply({
      ...standinDeployment('shop-backend', ns),
      spec: { ...(standinDeployment('shop-backend', ns).spec as object), replicas: 0 },
    } as KubeObject);
    await apply(
      policyObject('shop', ns, {
        targetRef: { kind: 'SmartCloudOpsApp', name: 'shop', component: 'backend' },
        mode: 'Paused',
      }),
    );
    await sleep(1100); // creationTimestamp has a resolution of one second
    await apply(
      policyObject('shop-direct', ns, { targetRef: { kind: 'Deployment', name: 'shop-backend' }, mode: 'Paused' }),
    );
    await eventually(
      'shop-direct refused',
      async () => (await cond('shop-direct', 'Ready'))?.reason === 'TargetConflict',
    );
    expect(await cond('shop', 'Ready')).toMatchObject({ status: 'True', reason: 'ModePaused' });

    // The owner goes: the refused one takes over.
    await client.delete(POLICY, ns, 'shop');
    await eventually(
      'shop-direct takes over',
      async () => (await cond('shop-direct', 'Ready'))?.reason === 'ModePaused',
    );
    await client.delete(POLICY, ns, 'web-2');
  });

  test('deleting the policy leaves the replica count it had (Manual: spec.replicas), and the HPA goes', async () => {
    const before = await getDeployment('web');
    expect(before.spec.replicas).toBe(2);
    await client.delete(POLICY, ns, 'web');
    await eventually('policy web gone', async () => {
      try {
        await getPolicy('web');
        return false;
      } catch (err) {
        return (err as { code?: number }).code === 404;
      }
    });
    await sleep(5_000);
    const after = await getDeployment('web');
    expect(after.spec.replicas).toBe(2);
    expect(after.metadata.generation).toBe(before.metadata.generation);
    expect(await hpaGone('web')).toBe(true);
  });
});
