// The API server goes away under a running operator and comes back: the informers reconnect (with backoff, not a
// storm), and a CR created right after the restart is reconciled. Needs the local cluster's tooling to restart
// kube-apiserver, so it is skipped on other clusters (kind).
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { readState, restartComponent } from '../../hack/cluster/cluster.js';
import { layout } from '../../hack/cluster/config.js';
import { resourceRefOf } from '../../src/crds/kinds.js';
import type { KubeClient, KubeObject } from '../../src/kube/index.js';
import { installCrds, readSamples } from '../support/crds.js';
import { kubeconfigPath } from '../support/env.js';
import { condition, createNamespace, deleteNamespace, eventually, testClient } from '../support/kube.js';
import { OperatorProcess } from '../support/operator.js';

jest.setTimeout(240_000);

const local = (() => {
  try {
    return readState(layout()) !== undefined && kubeconfigPath() === layout().kubeconfig;
  } catch {
    return false;
  }
})();

interface CR extends KubeObject {
  status?: { conditions?: { type: string; status: string }[] };
}

(local ? describe : describe.skip)('API server restart under a running operator', () => {
  let client: KubeClient;
  let ns: string;
  let op: OperatorProcess;
  const ref = resourceRefOf('DRDrill');
  const sample = readSamples().find((s) => s.kind === 'DRDrill') as KubeObject & { spec: unknown };

  beforeAll(async () => {
    client = await testClient();
    await installCrds(client);
    ns = await createNamespace(client, 'e2e-restart');
    op = await OperatorProcess.start({ identity: 'e2e-restart', namespaces: [ns], leaderElect: false });
  });
  afterAll(async () => {
    await op?.stop();
    await deleteNamespace(client, ns);
    client.close();
  });

  test('reconnects and reconciles a CR created after the server returns', async () => {
    await client.create(ref, { ...sample, metadata: { name: 'before', namespace: ns } });
    await eventually(
      'before Ready',
      async () => condition(await client.get<CR>(ref, ns, 'before'), 'Ready') !== undefined, // reconciled: status written
    );
    // One series per informer that has listed: every kind's cache in the watched namespace (the number grows with
    // the capabilities: children, Pods, Secrets, served CRDs, ...).
    const informers = [...(await op.metrics()).keys()].filter((k) =>
      k.startsWith('smartcloudops_informer_lists_total{'),
    ).length;
    expect(informers).toBeGreaterThanOrEqual(5);
    const restarts0 = await op.sum('smartcloudops_informer_restarts_total');
    const lists0 = await op.sum('smartcloudops_informer_lists_total');

    // Down for 8 s: long enough for every watch to fail and back off.
    const downFor = await restartComponent('kube-apiserver', 8000);
    await client.create(ref, { ...sample, metadata: { name: 'after', namespace: ns } });
    const t0 = Date.now();
    await eventually(
      'after Ready',
      async () => condition(await client.get<CR>(ref, ns, 'after'), 'Ready') !== undefined, // reconciled: status written
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    const converge = Date.now() - t0;
    const restarts = (await op.sum('smartcloudops_informer_restarts_total')) - restarts0;
    // Every informer noticed ...
    expect(restarts).toBeGreaterThanOrEqual(informers);
    // ... and backed off instead of hammering: with a 1 s → 60 s exponential backoff an informer makes about
    // log2(outage seconds) attempts, where a fixed 1 s retry would make one per second.
    const perInformer = Math.ceil(Math.log2(downFor / 1000)) + 3;
    expect(restarts).toBeLessThanOrEqual(informers * perInformer);
    expect(restarts).toBeLessThan((informers * downFor) / 1000);
    // ... and relisted once reconnected (one list per informer at least), so nothing missed in the gap is lost.
    // (each when its own backoff ends: within the longest backoff step after the server is back).
    const relists = await eventually(
      'every informer to relist',
      async () => {
        const n = (await op.sum('smartcloudops_informer_lists_total')) - lists0;
        return n >= informers ? n : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(op.exited).toBeUndefined();
    console.log(
      `apiserver restart: down ${(downFor / 1000).toFixed(1)}s, ${informers} informers, restarts ${restarts}, relists ${relists}, ` +
        `new CR Ready ${(converge / 1000).toFixed(1)}s after the server was back`,
    );
  });
});
