// Shutdown order against the real API server (issue 6 §3): the Lease is released only after the workers have
// stopped, and not at all when a reconcile is still running at the end of the grace period (it then expires, so a
// standby never starts while our reconcile still writes); the whole stop() stays within its timeout.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { resourceRefOf } from '../../src/crds/kinds.js';
import { Resources, type KubeClient, type KubeObject, type RequestOptions } from '../../src/kube/index.js';
import type { LeaseClient } from '../../src/runtime/leader.js';
import { createLogger } from '../../src/runtime/logger.js';
import { Manager } from '../../src/runtime/manager.js';
import { Metrics } from '../../src/runtime/metrics.js';
import { installCrds, readSamples } from '../support/crds.js';
import { createNamespace, deleteNamespace, eventually, testClient } from '../support/kube.js';

jest.setTimeout(120_000);

interface Lease extends KubeObject {
  spec?: { holderIdentity?: string };
}

describe('Manager shutdown', () => {
  let client: KubeClient;
  let ns: string;
  const ref = resourceRefOf('CertRenewal');
  const sample = () => readSamples().find((s) => s.kind === 'CertRenewal') as KubeObject;

  beforeAll(async () => {
    client = await testClient();
    await installCrds(client);
    ns = await createNamespace(client, 'e2e-shutdown');
  });
  afterAll(async () => {
    await deleteNamespace(client, ns);
    client.close();
  });

  /** A manager whose reconcile of `name` waits for `gate`; the elector's requests are recorded. */
  async function managerWithSlowReconcile(leaseName: string, name: string, gate: Promise<void>) {
    const log: { what: string; at: number }[] = [];
    const leaderClient: LeaseClient = {
      request: <T>(method: string, path: string, ro: RequestOptions) => {
        const body = ro.body as Lease | undefined;
        if (method === 'PUT' && body?.spec?.holderIdentity === '') log.push({ what: 'release', at: performance.now() });
        return client.request<T>(method, path, ro);
      },
    };
    const manager = new Manager({
      client,
      leaderClient,
      log: createLogger('silent'),
      metrics: new Metrics({ defaultMetrics: false }),
      namespaces: [ns],
      concurrency: 1,
      identity: leaseName,
      leaderElection: {
        enabled: true,
        namespace: ns,
        name: leaseName,
        identity: leaseName,
        leaseDurationMs: 15_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 1_000,
      },
    });
    manager.add({
      name: 'slow',
      for: ref,
      setup: () => async (req) => {
        if (req.name !== name) return;
        log.push({ what: 'reconcile started', at: performance.now() });
        await gate;
        log.push({ what: 'reconcile finished', at: performance.now() });
      },
    });
    await manager.start(() => undefined);
    await client.create(ref, { ...sample(), metadata: { name, namespace: ns } });
    await eventually('the slow reconcile to start', async () => log.some((l) => l.what === 'reconcile started'));
    return { manager, log };
  }

  const holder = async (lease: string) => (await client.get<Lease>(Resources.Lease, ns, lease)).spec?.holderIdentity;

  test('the Lease is released only after the reconcile in flight has finished', async () => {
    let open: () => void = () => undefined;
    const gate = new Promise<void>((r) => (open = r));
    const { manager, log } = await managerWithSlowReconcile('shutdown-a', 'slow-a', gate);
    const stopping = manager.stop(10_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await holder('shutdown-a')).toBe('shutdown-a'); // still held while the worker runs
    expect(log.map((l) => l.what)).toEqual(['reconcile started']);
    open();
    await stopping;
    expect(log.map((l) => l.what)).toEqual(['reconcile started', 'reconcile finished', 'release']);
    expect(await holder('shutdown-a')).toBe('');
  });

  test('a reconcile still running at the end of the grace period keeps the Lease held (it will expire)', async () => {
    const never = new Promise<void>(() => undefined);
    const { manager, log } = await managerWithSlowReconcile('shutdown-b', 'slow-b', never);
    // stop() returns although the reconcile never ends: the grace period bounds it.
    await manager.stop(2_000);
    expect(log.map((l) => l.what)).toEqual(['reconcile started']);
    expect(await holder('shutdown-b')).toBe('shutdown-b');
  });
});
