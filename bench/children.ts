// Benchmark: the capability seam with children, against the local cluster (or KUBECONFIG).
//
//   npm run bench:children                   N = 1000 owners
//   npm run bench:children -- --n=200        another size
//
// Per owner (a ScalingPolicy object) the bench capability (bench/children-app.ts) owns a ConfigMap, a Service and a
// Deployment. Owners are created first in two fresh namespaces (not timed). Then, timed:
//   baseline  a bare script with the same KubeClient, rate limit and concurrency makes exactly the writes the
//             operator makes for a new owner: three server-side applies (same bodies) and one status apply;
//   operator  the Manager + seam with only the bench capability (bench/children-operator.ts, bundled with esbuild,
//             run with the operator's Node options) starts, lists, and reconciles until every owner has its three
//             children and its status.
// After completion the operator runs 5 s more, so that the Deployment controller's status updates (each one
// reconciles the owner) are included: writes per owner must stay 4. Printed: times and ratios, writes per owner,
// GET+LIST per reconcile after the caches synced, the operator's peak RSS (VmHWM; budget ≤ 128 MiB at 1,000).
// Nothing here is asserted: the numbers are for humans and the closing notes.
import { readServicesEnv } from '../hack/cluster/env.js';
import { KubeClient, type KubeObject } from '../src/kube/index.js';
import { controllerRef, FIELD_MANAGER } from '../src/runtime/apply.js';
import { childObject, MANAGED_BY_SELECTOR, planChild } from '../src/runtime/children.js';
import { installCrds } from '../test/support/crds.js';
import { benchStatus, desiredChildren, ownedKinds, ownerRef } from './children-app.js';
import {
  bundleOperator,
  deleteNamespaceAndWait,
  freshNamespace,
  pool,
  printWrites,
  readsOf,
  scrape,
  startOperator,
  sum,
  writesOf,
} from './common.js';

const QPS = 1000;
const BURST = 2000;
const CONCURRENCY = 8;
const SETTLE_MS = 5000;

function owner(ns: string, name: string): KubeObject {
  return {
    apiVersion: 'ops.smartcloudops.ai/v1alpha1',
    kind: 'ScalingPolicy',
    metadata: { name, namespace: ns },
    spec: {
      targetRef: { kind: 'SmartCloudOpsApp', name: 'smartcloudops', component: 'backend' },
      mode: 'Auto',
      minReplicas: 3,
      maxReplicas: 12,
    },
  } as KubeObject;
}

async function populate(client: KubeClient, ns: string, n: number): Promise<KubeObject[]> {
  await freshNamespace(client, ns);
  const names = Array.from({ length: n }, (_, i) => `o-${String(i).padStart(5, '0')}`);
  const out: KubeObject[] = [];
  await pool(names, 32, async (name) => out.push(await client.create(ownerRef, owner(ns, name))));
  return out;
}

async function baseline(client: KubeClient, owners: KubeObject[]): Promise<number> {
  const t0 = performance.now();
  await pool(owners, CONCURRENCY, async (o) => {
    for (const d of desiredChildren(o)) {
      const body = planChild(childObject(d, o.metadata.namespace, controllerRef(o, ownerRef)), undefined).body;
      const ref = ownedKinds.find((r) => r.kind === d.kind) as (typeof ownedKinds)[number];
      await client.apply(ref, body, { fieldManager: FIELD_MANAGER, force: true, discardBody: true });
    }
    await client.apply(
      ownerRef,
      {
        apiVersion: 'ops.smartcloudops.ai/v1alpha1',
        kind: 'ScalingPolicy',
        metadata: { name: o.metadata.name, namespace: o.metadata.namespace },
        status: benchStatus(o, { now: new Date(), childrenSynced: true }),
      } as KubeObject,
      { fieldManager: FIELD_MANAGER, force: true, subresource: 'status', discardBody: true },
    );
  });
  return performance.now() - t0;
}

async function settle(client: KubeClient, ns: string, n: number): Promise<void> {
  const t0 = performance.now();
  const rs = { ...ownedKinds[2], plural: 'replicasets', kind: 'ReplicaSet' } as (typeof ownedKinds)[number];
  while ((await client.list(rs, { namespace: ns, limit: 500 })).items.length < n) {
    await new Promise((r) => setTimeout(r, 1000));
  }
  console.log(`  baseline's ReplicaSets all created ${((performance.now() - t0) / 1000).toFixed(1)}s after it ended`);
}

async function operatorRun(client: KubeClient, kubeconfig: string, ns: string, n: number) {
  const op = startOperator(bundleOperator('children-operator'), {
    kubeconfig,
    namespace: ns,
    concurrency: CONCURRENCY,
    qps: QPS,
    burst: BURST,
  });
  const ok = (m: Map<string, number>, resource: string) =>
    sum(
      m,
      'smartcloudops_kube_requests_total',
      (k) => k.includes(`resource="${resource}"`) && k.includes('code="200"'),
    );
  let first = 0;
  for (;;) {
    let m = new Map<string, number>();
    try {
      m = await scrape(op.metricsPort);
    } catch {
      /* not listening yet */
    }
    const status = ok(m, 'scalingpolicies/status');
    const children =
      ok(m, 'configmaps') +
      ok(m, 'services') +
      ok(m, 'deployments') +
      sum(
        m,
        'smartcloudops_kube_requests_total',
        (k) => /resource="(configmaps|services|deployments)"/.test(k) && k.includes('code="201"'),
      );
    if (children > 0 && !first) first = performance.now();
    if (status >= n && children >= 3 * n) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const last = performance.now();
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const m = await scrape(op.metricsPort);
  const rssMiB = op.rssMiB();
  await op.stop();
  const owners = await client.list<KubeObject & { status?: { observedGeneration?: number } }>(ownerRef, {
    namespace: ns,
    limit: 500,
  });
  const current = owners.items.filter((o) => o.status?.observedGeneration === o.metadata.generation).length;
  if (current !== n) throw new Error(`only ${current} of ${n} owners carry a current status`);
  for (const ref of ownedKinds) {
    const got = (await client.list(ref, { namespace: ns, labelSelector: MANAGED_BY_SELECTOR, limit: 500 })).items
      .length;
    if (got !== n) throw new Error(`${got} ${ref.plural} instead of ${n}`);
  }
  const reconciles = sum(m, 'controller_runtime_reconcile_total', (k) => k.includes('controller="bench-children"'));
  const writes = writesOf(m);
  printWrites(m);
  return {
    wall: last - op.t0,
    work: last - first,
    reconciles,
    writesPerOwner: writes / n,
    readsPerReconcile: op.synced.value < 0 ? NaN : (readsOf(m) - op.synced.value) / reconciles,
    rssMiB,
  };
}

async function main(): Promise<void> {
  const arg = process.argv.find((a) => a.startsWith('--n='));
  const n = arg ? Number(arg.slice(4)) : 1000;
  const kubeconfig = readServicesEnv().kubeconfig;
  if (!kubeconfig) throw new Error('no cluster: run npm run cluster:up --only=cluster (or set KUBECONFIG)');
  const client = await KubeClient.create({ kubeconfig, qps: QPS, burst: BURST, userAgent: 'smartcloudops-bench' });
  await installCrds(client);
  const baseNs = `bench-children-baseline-${n}`;
  const opNs = `bench-children-operator-${n}`;
  console.log(`N=${n}: creating ${n} owners in each of two namespaces (not timed) ...`);
  const owners = await populate(client, baseNs, n);
  await populate(client, opNs, n);
  const b = await baseline(client, owners);
  // The control plane's reaction to the baseline (ReplicaSets, EndpointSlices) must not overlap the operator's run.
  await settle(client, baseNs, n);
  const op = await operatorRun(client, kubeconfig, opNs, n);
  console.log(
    `N=${n} owners × 3 children: baseline ${(b / 1000).toFixed(2)}s | operator ${(op.wall / 1000).toFixed(2)}s from start ` +
      `(ratio ${(op.wall / b).toFixed(2)}x), ${(op.work / 1000).toFixed(2)}s first→last write (ratio ${(op.work / b).toFixed(2)}x) | ` +
      `writes/owner ${op.writesPerOwner.toFixed(2)} (baseline 4; incl. ${SETTLE_MS / 1000}s settling) | ` +
      `reconciles/owner ${(op.reconciles / n).toFixed(2)} | GET+LIST per reconcile ${op.readsPerReconcile.toFixed(3)} | ` +
      `peak RSS ${op.rssMiB.toFixed(0)} MiB (qps ${QPS}, burst ${BURST}, concurrency ${CONCURRENCY})`,
  );
  await Promise.all([baseNs, opNs].map((ns) => deleteNamespaceAndWait(client, ns)));
  client.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
