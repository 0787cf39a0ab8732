// The capability seam against the real API server: a test capability (defined here) owning a ConfigMap, a Deployment
// and a Job per owner (a CertRenewal object stands in as the owner), driven by annotations on the owner. Writes are
// counted by a client observer, so "no write" is measured, not assumed.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { resourceRefOf } from '../../src/crds/kinds.js';
import { KubeClient, Resources, type KubeObject, type RequestObservation } from '../../src/kube/index.js';
import { controllerRef, FIELD_MANAGER } from '../../src/runtime/apply.js';
import { capabilityController, type Observations } from '../../src/runtime/children-capability.js';
import { APPLIED_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL } from '../../src/runtime/children.js';
import { setConditions } from '../../src/runtime/conditions.js';
import { createLogger } from '../../src/runtime/logger.js';
import { Manager } from '../../src/runtime/manager.js';
import { Metrics } from '../../src/runtime/metrics.js';
import { installCrds, readSamples } from '../support/crds.js';
import { kubeconfigPath } from '../support/env.js';
import { createNamespace, deleteNamespace, eventually, testClient } from '../support/kube.js';

jest.setTimeout(180_000);

const ref = resourceRefOf('CertRenewal');
const CHILDREN = 'test.smartcloudops.ai/children';
const JOB_CMD = 'test.smartcloudops.ai/job-cmd';
const POKE = 'test.smartcloudops.ai/poke';
const OWNER_LABEL = 'test.smartcloudops.ai/owner';

interface Deployment extends KubeObject {
  spec: { replicas?: number; template: { spec: { containers: { resources?: unknown }[] } } };
}
interface Job extends KubeObject {
  spec: { template: { spec: { containers: { command: string[] }[] } } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The pure desired state of the test capability. */
function desired(owner: KubeObject): KubeObject[] {
  const a = owner.metadata.annotations ?? {};
  const wanted = (a[CHILDREN] ?? '').split(',').filter(Boolean);
  const name = owner.metadata.name as string;
  const out: KubeObject[] = [];
  if (wanted.includes('cm'))
    out.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${name}-cm` }, data: { k: 'v' } } as KubeObject);
  if (wanted.includes('deploy'))
    out.push({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: `${name}-web`, labels: { app: `${name}-web` } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: `${name}-web` } },
        template: {
          metadata: { labels: { app: `${name}-web` } },
          spec: {
            containers: [
              {
                name: 'web',
                image: 'busybox:1.36',
                command: ['sleep', '3600'],
                ports: [{ containerPort: 5000 }],
                // The server stores 500m and 1Gi: it must not make us write again.
                resources: { requests: { cpu: 0.5, memory: '1024Mi' }, limits: { cpu: '1000m' } },
              },
            ],
          },
        },
      },
    } as KubeObject);
  if (wanted.includes('job'))
    out.push({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: `${name}-job` },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            restartPolicy: 'Never',
            containers: [{ name: 'job', image: 'busybox:1.36', command: ['sh', '-c', a[JOB_CMD] ?? 'true'] }],
          },
        },
      },
    } as KubeObject);
  return out;
}

describe('capability seam', () => {
  let client: KubeClient;
  let observed: KubeClient;
  let ns: string;
  let manager: Manager;
  const writes: RequestObservation[] = [];
  const reconciled: string[] = [];
  const lastObs = new Map<string, Observations>();
  const finalized: string[] = [];
  const lateSeen: string[] = [];

  beforeAll(async () => {
    client = await testClient();
    await installCrds(client);
    ns = await createNamespace(client, 'e2e-seam');
    observed = await KubeClient.create({
      kubeconfig: kubeconfigPath(),
      qps: 200,
      burst: 400,
      observer: {
        request: (o) => {
          if (o.method !== 'GET' && o.code.startsWith('2')) writes.push(o);
        },
      },
    });
    manager = new Manager({
      client: observed,
      log: createLogger('silent'),
      metrics: new Metrics({ defaultMetrics: false }),
      namespaces: [ns],
      concurrency: 2,
      identity: 'e2e-seam',
      leaderElection: {
        enabled: false,
        namespace: ns,
        name: 'unused',
        identity: 'e2e-seam',
        leaseDurationMs: 15000,
        renewDeadlineMs: 10000,
        retryPeriodMs: 2000,
      },
    });
    manager.add(
      capabilityController<KubeObject & { status?: { conditions?: never[] } }>({
        name: 'seam-test',
        for: ref,
        owns: [Resources.ConfigMap, Resources.Deployment, Resources.Job],
        watches: [
          {
            resource: Resources.Secret,
            map: (s) =>
              s.metadata.labels?.[OWNER_LABEL] ? [`${s.metadata.namespace}/${s.metadata.labels[OWNER_LABEL]}`] : [],
          },
        ],
        desired: (obj) => desired(obj),
        status: (obj, _children, o) => {
          reconciled.push(`${obj.metadata.namespace}/${obj.metadata.name}`);
          lastObs.set(obj.metadata.name as string, o);
          return {
            status: {
              observedGeneration: obj.metadata.generation,
              conditions: setConditions(
                obj.status?.conditions,
                [
                  {
                    type: 'Ready',
                    status: o.childrenSynced ? 'True' : 'False',
                    reason: o.childrenSynced ? 'Reconciled' : 'Progressing',
                    message: o.childrenSynced ? 'children applied' : 'applying children',
                  },
                ],
                obj.metadata.generation,
                o.now,
              ),
            },
          };
        },
        finalize: async (obj) => {
          finalized.push(obj.metadata.name as string);
        },
      }),
    );
    await manager.start(() => undefined);
  });

  afterAll(async () => {
    await manager?.stop(1000);
    await deleteNamespace(client, ns);
    observed?.close();
    client?.close();
  });

  const sample = () => readSamples().find((s) => s.kind === 'CertRenewal') as KubeObject;
  const childWrites = (plural: string, name?: string) =>
    writes.filter((w) => w.path.includes(`/${plural}`) && (!name || w.path.endsWith(`/${name}`))).length;
  const reconcileCount = (name: string) => reconciled.filter((k) => k === `${ns}/${name}`).length;
  const annotate = (name: string, annotations: Record<string, string>) =>
    client.patch(ref, ns, name, { metadata: { annotations } }, 'merge');
  /** Changes an unrelated annotation and waits for the reconcile it causes. */
  async function poke(name: string): Promise<void> {
    const before = reconcileCount(name);
    await annotate(name, { [POKE]: String(Date.now()) });
    await eventually(`a reconcile of ${name}`, async () => reconcileCount(name) > before);
  }
  async function createOwner(name: string, annotations: Record<string, string>): Promise<KubeObject> {
    const owner = await client.create(ref, { ...sample(), metadata: { name, namespace: ns, annotations } });
    await eventually(`the finalizer on ${name}`, async () =>
      (await client.get(ref, ns, name)).metadata.finalizers?.includes('ops.smartcloudops.ai/cleanup'),
    );
    return owner;
  }

  test('children are created with a controller ownerReference, the label and the applied annotation', async () => {
    const owner = await createOwner('a', { [CHILDREN]: 'cm,deploy' });
    const cm = await eventually('the ConfigMap', () => client.get(Resources.ConfigMap, ns, 'a-cm'));
    const dep = await eventually('the Deployment', () => client.get<Deployment>(Resources.Deployment, ns, 'a-web'));
    for (const c of [cm, dep]) {
      expect(c.metadata.labels?.[MANAGED_BY_LABEL]).toBe(MANAGED_BY);
      expect(c.metadata.ownerReferences).toEqual([
        { ...controllerRef(owner, ref), apiVersion: 'ops.smartcloudops.ai/v1alpha1', kind: 'CertRenewal' },
      ]);
      expect(c.metadata.annotations?.[APPLIED_ANNOTATION]).toBeDefined();
      expect(
        (c.metadata.managedFields as { manager: string; operation: string }[]).some(
          (m) => m.manager === FIELD_MANAGER && m.operation === 'Apply',
        ),
      ).toBe(true);
    }
    await eventually('Ready', async () => {
      const o = await client.get<KubeObject & { status?: { conditions?: { status: string }[] } }>(ref, ns, 'a');
      return o.status?.conditions?.[0]?.status === 'True';
    });
  });

  test('server-normalised quantities cause no second write', async () => {
    const dep = await client.get<Deployment>(Resources.Deployment, ns, 'a-web');
    expect(dep.spec.template.spec.containers[0]?.resources).toEqual({
      requests: { cpu: '500m', memory: '1Gi' },
      limits: { cpu: '1' },
    });
    // Let the Deployment controller's status updates arrive (each one reconciles the owner), then poke twice.
    await sleep(2000);
    await poke('a');
    await poke('a');
    expect(childWrites('deployments', 'a-web')).toBe(1);
    expect(childWrites('configmaps', 'a-cm')).toBe(1);
  });

  test('a field another manager owns (spec.replicas, applied like an HPA would) is not overwritten; no write', async () => {
    await client.apply(
      Resources.Deployment,
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'a-web', namespace: ns }, spec: { replicas: 5 } },
      { fieldManager: 'e2e-autoscaler', force: true },
    );
    await poke('a');
    await sleep(1000);
    await poke('a');
    const dep = await client.get<Deployment>(Resources.Deployment, ns, 'a-web');
    expect(dep.spec.replicas).toBe(5);
    expect(childWrites('deployments', 'a-web')).toBe(1);
    expect(lastObs.get('a')?.yielded).toEqual(['Deployment/a-web:spec.replicas']);
  });

  test('a hand edit of a field we own is put back, with one write', async () => {
    const before = childWrites('configmaps', 'a-cm');
    await client.patch(Resources.ConfigMap, ns, 'a-cm', { data: { k: 'edited' } }, 'merge', {
      fieldManager: 'kubectl-patch',
    });
    await eventually('the edit to be reverted', async () => {
      const cm = await client.get<KubeObject & { data: Record<string, string> }>(Resources.ConfigMap, ns, 'a-cm');
      return cm.data.k === 'v';
    });
    await sleep(1000);
    await poke('a');
    expect(childWrites('configmaps', 'a-cm') - before).toBe(1);
  });

  test('a child no longer desired is deleted; an unlabelled look-alike is not', async () => {
    const owner = await client.get(ref, ns, 'a');
    await client.create(Resources.ConfigMap, {
      metadata: { name: 'a-lookalike', namespace: ns, ownerReferences: [controllerRef(owner, ref)] },
      data: { k: 'v' },
    } as KubeObject);
    await annotate('a', { [CHILDREN]: 'deploy' });
    await eventually('the ConfigMap to be deleted', () =>
      client.get(Resources.ConfigMap, ns, 'a-cm').then(
        () => false,
        () => true,
      ),
    );
    await poke('a');
    expect((await client.get(Resources.ConfigMap, ns, 'a-lookalike')).metadata.name).toBe('a-lookalike');
    expect(writes.filter((w) => w.method === 'DELETE' && w.path.includes('/configmaps/')).map((w) => w.path)).toEqual([
      `/api/v1/namespaces/${ns}/configmaps/a-cm`,
    ]);
  });

  test('a Job whose pod template changes is re-created', async () => {
    await annotate('a', { [CHILDREN]: 'deploy,job', [JOB_CMD]: 'echo one' });
    const first = await eventually('the Job', () => client.get<Job>(Resources.Job, ns, 'a-job'));
    await annotate('a', { [JOB_CMD]: 'echo two' });
    const second = await eventually('a new Job', async () => {
      const j = await client.get<Job>(Resources.Job, ns, 'a-job');
      return j.metadata.uid !== first.metadata.uid && j;
    });
    expect(second.spec.template.spec.containers[0]?.command).toEqual(['sh', '-c', 'echo two']);
    await sleep(1000);
    await poke('a');
    expect(writes.filter((w) => w.method === 'DELETE' && w.path.endsWith('/jobs/a-job'))).toHaveLength(1);
    // Applied, deleted, applied again: three writes, and none since.
    expect(childWrites('jobs', 'a-job')).toBe(3);
  });

  test('a `watches` map enqueues the mapped key', async () => {
    const before = reconcileCount('a');
    await client.create(Resources.Secret, {
      metadata: { name: 'creds', namespace: ns, labels: { [OWNER_LABEL]: 'a' } },
      stringData: { x: 'y' },
    } as KubeObject);
    await eventually('a reconcile of the mapped owner', async () => reconcileCount('a') > before);
  });

  test('a controller with a watch added after start: its new informer starts, it reconciles existing and mapped keys', async () => {
    let leaseWatch: Promise<void> | undefined;
    manager.add({
      name: 'late',
      for: ref,
      watches: [
        { resource: Resources.ServiceAccount, map: (sa) => [`${sa.metadata.namespace}/sa-${sa.metadata.name}`] },
      ],
      setup: (deps) => async (req) => {
        lateSeen.push(req.name);
        // A watch added from a running controller: its informer starts at once; the promise resolves on sync.
        leaseWatch ??= deps.watch({
          resource: Resources.Lease,
          map: (l) => [`${l.metadata.namespace}/lease-${l.metadata.name}`],
        });
        await leaseWatch;
      },
    });
    await eventually('the existing owner reconciled by the late controller', async () => lateSeen.includes('a'));
    await client.create(Resources.ServiceAccount, { metadata: { name: 'robot', namespace: ns } });
    await eventually('the mapped key', async () => lateSeen.includes('sa-robot'));
    await leaseWatch;
    await client.create(Resources.Lease, { metadata: { name: 'l1', namespace: ns }, spec: {} } as KubeObject);
    await eventually('the key mapped from the runtime watch', async () => lateSeen.includes('lease-l1'));
  });

  test('bind builds the logic once with deps; prepare feeds desired and status; a background enqueue reconciles', async () => {
    const seen: { desiredExt: string[]; statusExt: string[]; binds: number; stops: number } = {
      desiredExt: [],
      statusExt: [],
      binds: 0,
      stops: 0,
    };
    let probe = 'first';
    let enqueue: ((key: string) => void) | undefined;
    manager.add(
      capabilityController<KubeObject & { status?: unknown }, string>({
        name: 'bound',
        for: ref,
        bind: (deps) => {
          seen.binds++;
          enqueue = (k) => deps.enqueue(k);
          deps.onStop(() => {
            seen.stops++;
          });
          return {
            for: ref,
            // A background probe's snapshot, read without I/O of the API.
            prepare: async () => probe,
            desired: (_o, _obs, ext) => {
              seen.desiredExt.push(ext);
              return undefined;
            },
            status: (o, _obs, _x, ext) => {
              seen.statusExt.push(ext);
              return { status: (o.status ?? {}) as Record<string, unknown> };
            },
          };
        },
        desired: () => {
          throw new Error('the bound logic is used, not the capability itself');
        },
        status: () => {
          throw new Error('the bound logic is used, not the capability itself');
        },
      }),
    );
    await eventually('the bound controller reconciles a', async () => seen.statusExt.includes('first'));
    expect(seen.binds).toBe(1);
    expect(seen.desiredExt).toContain('first');
    probe = 'second';
    enqueue?.(`${ns}/a`);
    await eventually('the key enqueued from outside the caches', async () => seen.statusExt.includes('second'));
    expect(seen.desiredExt).toContain('second');
    expect(seen.stops).toBe(0);
  });

  test('finalize runs on deletion and the finalizer is removed', async () => {
    await createOwner('b', { [CHILDREN]: 'cm' });
    await client.delete(ref, ns, 'b');
    await eventually('the owner to be gone', () =>
      client.get(ref, ns, 'b').then(
        () => false,
        () => true,
      ),
    );
    // At least once, as controller-runtime promises (a retry after a failed finalizer removal runs it again):
    // finalize must be idempotent; what matters is that it ran before the object went away.
    expect(finalized.length).toBeGreaterThanOrEqual(1);
    expect(new Set(finalized)).toEqual(new Set(['b']));
  });
});
