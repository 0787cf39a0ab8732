// The Manager in-process against the real API server: a change to an owned child enqueues its controlling owner,
// status-only changes of the primary do not, and a reconcile error is retried with backoff.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { resourceRefOf } from '../../src/crds/kinds.js';
import { Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { controllerRef } from '../../src/runtime/apply.js';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../../src/runtime/children.js';
import { createLogger } from '../../src/runtime/logger.js';
import { Manager } from '../../src/runtime/manager.js';
import { Metrics } from '../../src/runtime/metrics.js';
import { installCrds, readSamples } from '../support/crds.js';
import { createNamespace, deleteNamespace, eventually, testClient } from '../support/kube.js';

jest.setTimeout(120_000);

describe('Manager', () => {
  let client: KubeClient;
  let ns: string;
  let manager: Manager;
  const seen: string[] = [];
  let failFirst = true;
  const ref = resourceRefOf('CertRenewal');

  beforeAll(async () => {
    client = await testClient();
    await installCrds(client);
    ns = await createNamespace(client, 'e2e-manager');
    manager = new Manager({
      client,
      log: createLogger('silent'),
      metrics: new Metrics({ defaultMetrics: false }),
      namespaces: [ns],
      concurrency: 2,
      identity: 'e2e-manager',
      leaderElection: {
        enabled: false,
        namespace: ns,
        name: 'unused',
        identity: 'e2e-manager',
        leaseDurationMs: 15000,
        renewDeadlineMs: 10000,
        retryPeriodMs: 2000,
      },
    });
    manager.add({
      name: 'probe',
      for: ref,
      owns: [Resources.ConfigMap],
      setup: () => async (req) => {
        seen.push(req.key);
        if (req.name === 'flaky' && failFirst) {
          failFirst = false;
          throw new Error('transient failure');
        }
      },
    });
    await manager.start(() => undefined);
  });
  afterAll(async () => {
    await manager.stop(1000);
    await deleteNamespace(client, ns);
    client.close();
  });

  const sample = () => readSamples().find((s) => s.kind === 'CertRenewal') as KubeObject;
  const count = (key: string) => seen.filter((k) => k === key).length;

  test('a new primary is reconciled; a status-only change is not; a child change enqueues the owner', async () => {
    const owner = await client.create(ref, { ...sample(), metadata: { name: 'parent', namespace: ns } });
    const key = `${ns}/parent`;
    await eventually('the first reconcile', async () => count(key) === 1);

    await client.patch(ref, ns, 'parent', { status: { observedGeneration: 1 } }, 'merge', { subresource: 'status' });
    await new Promise((r) => setTimeout(r, 1000));
    expect(count(key)).toBe(1);

    await client.create(Resources.ConfigMap, {
      // Child caches hold only objects labelled managed-by us.
      metadata: {
        name: 'child',
        namespace: ns,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
        ownerReferences: [controllerRef(owner, ref)],
      },
      data: { a: '1' },
    } as KubeObject);
    await eventually('the owner to be reconciled for its child', async () => count(key) === 2);
    await client.patch(Resources.ConfigMap, ns, 'child', { data: { a: '2' } }, 'merge');
    await eventually('again for the child update', async () => count(key) === 3);

    // A ConfigMap without an owner of this kind enqueues nothing.
    await client.create(Resources.ConfigMap, { metadata: { name: 'stranger', namespace: ns } } as KubeObject);
    await new Promise((r) => setTimeout(r, 1000));
    expect(seen.filter((k) => k.endsWith('/stranger'))).toEqual([]);
  });

  test('a failed reconcile is retried with backoff until it succeeds', async () => {
    await client.create(ref, { ...sample(), metadata: { name: 'flaky', namespace: ns } });
    await eventually('the retry', async () => count(`${ns}/flaky`) === 2);
    expect(await manager.metrics.registry.getSingleMetricAsString('controller_runtime_reconcile_errors_total')).toMatch(
      /controller_runtime_reconcile_errors_total\{controller="probe"\} 1/,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(count(`${ns}/flaky`)).toBe(2);
  });
});
