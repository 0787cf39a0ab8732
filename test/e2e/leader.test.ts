// Two operator processes, one Lease: exactly one reconciles; SIGKILL of the leader hands over after the lease
// expires, SIGTERM hands over at once because the leader releases the Lease. Takeover times are printed.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { resourceRefOf } from '../../src/crds/kinds.js';
import { Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { installCrds, readSamples } from '../support/crds.js';
import { condition, createNamespace, deleteNamespace, eventually, testClient } from '../support/kube.js';
import { OperatorProcess } from '../support/operator.js';

jest.setTimeout(240_000);

// Short timings keep the test quick; the ratios are the defaults' (60s/40s/15s scaled down).
const LEASE = { duration: '9s', renewDeadline: '6s', retryPeriod: '1s' };
const LEASE_MS = 9000;
const RETRY_MS = 1000;

interface CR extends KubeObject {
  status?: { conditions?: { type: string; status: string }[] };
}
interface Lease extends KubeObject {
  spec?: { holderIdentity?: string; leaseTransitions?: number };
}

describe('leader election', () => {
  let client: KubeClient;
  let ns: string;
  const ops: OperatorProcess[] = [];
  const ref = resourceRefOf('ScalingPolicy');
  const sample = readSamples().find((s) => s.kind === 'ScalingPolicy') as KubeObject & { spec: unknown };
  const leaseName = 'e2e-leader';

  const start = async (identity: string) => {
    const op = await OperatorProcess.start({
      identity,
      namespaces: [ns],
      leaderElect: true,
      leaseNamespace: ns,
      leaseName,
      lease: LEASE,
    });
    ops.push(op);
    return op;
  };
  const create = (name: string) => client.create(ref, { ...sample, metadata: { name, namespace: ns } });
  const ready = (name: string) =>
    eventually(
      `${name} Ready`,
      async () => condition(await client.get<CR>(ref, ns, name), 'Ready') !== undefined, // reconciled: status written
      { timeoutMs: 60_000, intervalMs: 100 },
    );
  const holder = async () => (await client.get<Lease>(Resources.Lease, ns, leaseName)).spec?.holderIdentity;
  const reconciles = (op: OperatorProcess) =>
    op.sum('controller_runtime_reconcile_total', { controller: 'scalingpolicy' });

  beforeAll(async () => {
    client = await testClient();
    await installCrds(client);
    ns = await createNamespace(client, 'e2e-leader');
  });
  afterAll(async () => {
    await Promise.all(ops.map((o) => o.stop()));
    await deleteNamespace(client, ns);
    client.close();
  });

  test('one leader reconciles; SIGKILL and SIGTERM hand over to a standby', async () => {
    const a = await start('op-a');
    await eventually('op-a to lead', () => a.isLeader());
    const b = await start('op-b');
    // b has synced its cache and campaigns, but a holds the Lease.
    await new Promise((r) => setTimeout(r, 3 * RETRY_MS));
    expect([await a.isLeader(), await b.isLeader()]).toEqual([true, false]);
    expect(await holder()).toBe('op-a');

    await create('first');
    await ready('first');
    // The reconcile is counted when it returns, just after its status write: the counter may lag the condition.
    await eventually('op-a counted the reconcile', async () => (await reconciles(a)) >= 1, { timeoutMs: 10_000 });
    expect(await reconciles(b)).toBe(0);

    // SIGKILL: no release. b must wait for the lease to expire.
    const killedAt = Date.now();
    await a.kill('SIGKILL');
    await create('after-kill');
    await ready('after-kill');
    const killTakeover = Date.now() - killedAt;
    expect(await b.isLeader()).toBe(true);
    expect(await holder()).toBe('op-b');
    await eventually('op-b counted the reconcile', async () => (await reconciles(b)) >= 1, { timeoutMs: 10_000 });
    // Budget (CNPG-style): lease + 2.2 retry periods + 5 s.
    expect(killTakeover).toBeLessThan(LEASE_MS + 2.2 * RETRY_MS + 5000);

    // SIGTERM: b releases the Lease on the way out, so c takes over within about a retry period.
    const c = await start('op-c');
    await new Promise((r) => setTimeout(r, 2 * RETRY_MS));
    expect(await c.isLeader()).toBe(false);
    const termAt = Date.now();
    await b.kill('SIGTERM');
    const exitMs = Date.now() - termAt;
    expect(b.exited).toEqual({ code: 0, signal: null });
    await create('after-term');
    await ready('after-term');
    const termTakeover = Date.now() - termAt;
    expect(await holder()).toBe('op-c');
    expect(termTakeover).toBeLessThan(8000);
    expect(exitMs).toBeLessThan(10_000);

    const lease = await client.get<Lease>(Resources.Lease, ns, leaseName);
    expect(lease.spec?.leaseTransitions).toBe(2);
    console.log(
      `leader takeover: after SIGKILL ${(killTakeover / 1000).toFixed(1)}s (lease ${LEASE.duration}, retry ${LEASE.retryPeriod}); ` +
        `after SIGTERM ${(termTakeover / 1000).toFixed(1)}s (leader exited in ${(exitMs / 1000).toFixed(1)}s)`,
    );
  });
});
