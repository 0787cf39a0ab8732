// Proves the test cluster is a real Kubernetes: controllers, scheduler and (fake) nodes make workloads progress.
// Runs against whatever KUBECONFIG points at (the local control plane in CI, or kind).
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { isNotFound, Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { condition, createNamespace, deleteNamespace, eventually, testClient } from '../support/kube.js';

jest.setTimeout(180_000);

const onKwok = await (async () => {
  const c = await testClient();
  try {
    return (await c.list(Resources.Node, { labelSelector: 'type=kwok' })).items.length > 0;
  } finally {
    c.close();
  }
})();

interface Pod extends KubeObject {
  spec: { nodeName?: string };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}
interface WithStatus extends KubeObject {
  status?: Record<string, unknown> & { conditions?: { type: string; status: string }[] };
}

const labels = (app: string) => ({ app });
// Real, small images so the same tests pass on kind, where containers run; under kwok they only change status.
const server = { name: 'main', image: 'busybox:1.36', command: ['sleep', '3600'] };
const task = { name: 'main', image: 'busybox:1.36', command: ['true'] };

function deployment(ns: string, name: string, replicas: number) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: labels(name) },
      template: { metadata: { labels: labels(name) }, spec: { containers: [server] } },
    },
  };
}

function job(ns: string, name: string, annotations: Record<string, string> = {}) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: ns },
    spec: {
      backoffLimit: 0,
      template: { metadata: { annotations }, spec: { restartPolicy: 'Never', containers: [task] } },
    },
  };
}

describe('local cluster harness', () => {
  let client: KubeClient;
  let ns: string;

  beforeAll(async () => {
    client = await testClient();
    ns = await createNamespace(client, 'e2e-harness');
  });
  afterAll(async () => {
    await deleteNamespace(client, ns);
    client.close();
  });

  test('a Deployment with 2 replicas gets 2 Running pods on nodes and becomes Available', async () => {
    await client.create(Resources.Deployment, deployment(ns, 'web', 2));
    const pods = await eventually('2 Running pods', async () => {
      const list = await client.list<Pod>(Resources.Pod, { namespace: ns, labelSelector: 'app=web' });
      const running = list.items.filter((p) => p.status?.phase === 'Running');
      return running.length === 2 ? running : undefined;
    });
    for (const p of pods) {
      expect(p.spec.nodeName).toBeTruthy();
      expect(condition(p, 'Ready')?.status).toBe('True');
    }
    const d = await eventually('Deployment Available', async () => {
      const d = await client.get<WithStatus>(Resources.Deployment, ns, 'web');
      return condition(d, 'Available')?.status === 'True' ? d : undefined;
    });
    expect(d.status?.availableReplicas).toBe(2);
    expect(d.status?.readyReplicas).toBe(2);
  });

  test('a Job completes', async () => {
    await client.create(Resources.Job, job(ns, 'once'));
    const j = await eventually('Job Complete', async () => {
      const j = await client.get<WithStatus>(Resources.Job, ns, 'once');
      return condition(j, 'Complete')?.status === 'True' ? j : undefined;
    });
    expect(j.status?.succeeded).toBe(1);
    const pods = await client.list<Pod>(Resources.Pod, { namespace: ns, labelSelector: 'job-name=once' });
    expect(pods.items.map((p) => p.status?.phase)).toEqual(['Succeeded']);
  });

  // kwok-specific (its pod-fail stage); on kind containers run for real and this one is skipped.
  (onKwok ? test : test.skip)('a Job whose pod exits non-zero fails (kwok pod-fail stage)', async () => {
    await client.create(Resources.Job, job(ns, 'broken', { 'kwok.smartcloudops.ai/exit-code': '3' }));
    const j = await eventually('Job Failed', async () => {
      const j = await client.get<WithStatus>(Resources.Job, ns, 'broken');
      return condition(j, 'Failed')?.status === 'True' ? j : undefined;
    });
    expect(j.status?.failed).toBe(1);
    expect(j.status?.succeeded ?? 0).toBe(0);
  });

  test('a CronJob creates a Job on its schedule and that Job completes', async () => {
    await client.create(Resources.CronJob, {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'tick', namespace: ns },
      spec: { schedule: '* * * * *', concurrencyPolicy: 'Forbid', jobTemplate: { spec: job(ns, 'unused').spec } },
    });
    const cron = await client.get<KubeObject>(Resources.CronJob, ns, 'tick');
    // Schedules have minute granularity: the first tick is at most a minute away.
    const created = await eventually(
      'a Job owned by the CronJob to complete',
      async () => {
        const jobs = await client.list<WithStatus>(Resources.Job, { namespace: ns });
        return jobs.items.find(
          (j) =>
            j.metadata.ownerReferences?.some((o) => o.kind === 'CronJob' && o.uid === cron.metadata.uid) &&
            condition(j, 'Complete')?.status === 'True',
        );
      },
      { timeoutMs: 150_000, intervalMs: 1000 },
    );
    expect(created.metadata.name).toMatch(/^tick-\d+$/);
    const after = await eventually('CronJob lastSuccessfulTime', async () => {
      const c = await client.get<WithStatus>(Resources.CronJob, ns, 'tick');
      return c.status?.lastSuccessfulTime ? c : undefined;
    });
    expect(typeof after.status?.lastSuccessfulTime).toBe('string');
  });

  test('deleting a Deployment garbage-collects its ReplicaSets and Pods through owner references', async () => {
    await client.create(Resources.Deployment, deployment(ns, 'gc', 1));
    await eventually('the gc pod to run', async () => {
      const pods = await client.list<Pod>(Resources.Pod, { namespace: ns, labelSelector: 'app=gc' });
      return pods.items.some((p) => p.status?.phase === 'Running');
    });
    await client.delete(Resources.Deployment, ns, 'gc', { propagationPolicy: 'Background' });
    await eventually('ReplicaSets and Pods of gc to be collected', async () => {
      const rs = await client.list(Resources.ReplicaSet, { namespace: ns, labelSelector: 'app=gc' });
      const pods = await client.list(Resources.Pod, { namespace: ns, labelSelector: 'app=gc' });
      return rs.items.length === 0 && pods.items.length === 0;
    });
  });
});

describe('namespace deletion', () => {
  test('deleting a namespace removes everything in it and then the namespace', async () => {
    const client = await testClient();
    try {
      const ns = await createNamespace(client, 'e2e-nsdel');
      await client.create(Resources.Deployment, deployment(ns, 'app', 2));
      await client.create(Resources.Job, job(ns, 'task'));
      await client.create(Resources.ConfigMap, {
        metadata: { name: 'settings', namespace: ns },
        data: { a: '1' },
      } as KubeObject);
      await eventually('3 pods in the namespace', async () => {
        const pods = await client.list<Pod>(Resources.Pod, { namespace: ns });
        return pods.items.length >= 3;
      });
      await client.delete(Resources.Namespace, undefined, ns);
      await eventually(
        'the namespace to be gone',
        async () => {
          try {
            await client.get(Resources.Namespace, undefined, ns);
            return false;
          } catch (err) {
            if (isNotFound(err)) return true;
            throw err;
          }
        },
        { timeoutMs: 120_000, intervalMs: 500 },
      );
      // Gone means empty: nothing of any kind is left behind under the namespace.
      for (const ref of [
        Resources.Pod,
        Resources.Deployment,
        Resources.ReplicaSet,
        Resources.Job,
        Resources.ConfigMap,
      ]) {
        const left = await client.list(ref, { namespace: ns });
        expect({ kind: ref.kind, count: left.items.length }).toEqual({ kind: ref.kind, count: 0 });
      }
    } finally {
      client.close();
    }
  });
});
