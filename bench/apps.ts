// Benchmark: N SmartCloudOpsApps (issue 8), against a kwok-only local cluster (SCO_REAL_NODE=0) or KUBECONFIG.
//
//   npm run bench:apps                   N = 1000 apps
//   npm run bench:apps -- --n=200        another size
//
// Each app has one replica per component and a database Secret; enough kwok nodes are added for its pods (and
// removed afterwards). The operator is the real Manager with the real `smartCloudOpsAppController` from
// src/controllers (bench/apps-operator.ts): whatever that is on the checked-out branch — the status-only spec
// controller before the SmartCloudOpsApp capability is merged, the capability with its children after. Timed:
//   operator  starts, lists, and reconciles until every app's status is current (observedGeneration) and settled:
//             Ready=True — or, for the spec controller that cannot be Ready, Ready=Unknown reason NotImplemented
//             (the bench prints which). The children it made are then read back (not timed).
//   baseline  a bare script with the same KubeClient, rate limit and concurrency makes the same writes for the
//             same number of fresh apps in another namespace: one server-side apply per child the operator made
//             (the child as the server holds it, re-owned by the baseline's app; the server's defaults included,
//             so the bodies are a little larger than the operator's) and the status writes the operator made
//             (its status, once per status write it counted).
// After completion the operator runs 5 s more (child status updates reconcile the apps again) before its counters
// are read. Printed: times and the ratio (target ≤ 1.25×), writes per app (target ≤ children + 2), GET+LIST per
// reconcile after the caches synced (target 0), the operator's peak RSS (VmHWM; target ≤ 160 MiB). Nothing here is
// asserted: the numbers are for humans and the README.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { readServicesEnv } from '../hack/cluster/env.js';
import { repoRoot } from '../hack/cluster/config.js';
import { smartCloudOpsAppController } from '../src/controllers/smartcloudopsapp/controller.js';
import { KubeClient, Resources, type KubeObject, type ResourceRef } from '../src/kube/index.js';
import { controllerRef, FIELD_MANAGER } from '../src/runtime/apply.js';
import { MANAGED_BY_SELECTOR } from '../src/runtime/children.js';
import { OPERATOR_NODE_OPTIONS } from '../src/node-options.js';
import { installCrds } from '../test/support/crds.js';
import {
  deleteNamespaceAndWait,
  freshNamespace,
  peakRssMiB,
  pool,
  readsAtSync,
  readsOf,
  scrape,
  sum,
} from './common.js';

const QPS = 1000;
const BURST = 2000;
const CONCURRENCY = 8;
const SETTLE_MS = 5000;
const PODS_PER_NODE = 250;
const def = smartCloudOpsAppController;
const appRef = def.for;

type Cond = { type: string; status: string; reason: string };
type App = KubeObject & { status?: { observedGeneration?: number; conditions?: Cond[] } };

function app(ns: string, name: string): KubeObject {
  return {
    apiVersion: 'ops.smartcloudops.ai/v1alpha1',
    kind: 'SmartCloudOpsApp',
    metadata: { name, namespace: ns },
    spec: {
      version: '1.0.0',
      backend: { image: 'localhost/smartcloudops/standin', replicas: 1 },
      frontend: { image: 'localhost/smartcloudops/standin', replicas: 1 },
      database: { secretRef: { name: 'bench-db' } },
      rollout: { bakeSeconds: 0 },
      monitoring: { prometheusRule: false, serviceMonitor: false },
    },
  } as KubeObject;
}

async function populate(client: KubeClient, ns: string, n: number): Promise<KubeObject[]> {
  await freshNamespace(client, ns);
  await client.create(Resources.Secret, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'bench-db', namespace: ns },
    stringData: { host: '127.0.0.1', port: '5432', database: 'bench', username: 'bench', password: 'bench' },
  } as KubeObject);
  const names = Array.from({ length: n }, (_, i) => `a-${String(i).padStart(5, '0')}`);
  const out: KubeObject[] = [];
  await pool(names, 32, async (name) => out.push(await client.create(appRef, app(ns, name))));
  return out;
}

/** kwok nodes for 2 pods per app (created only where none of ours exist; removed by `removeNodes`). */
async function addNodes(client: KubeClient, n: number): Promise<string[]> {
  const count = Math.ceil((2 * n) / PODS_PER_NODE);
  const names = Array.from({ length: count }, (_, i) => `bench-apps-node-${i}`);
  await pool(names, 8, (name) =>
    client
      .create(Resources.Node, {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', type: 'kwok' },
        },
        spec: {},
        status: {
          allocatable: { cpu: '1000', memory: '4Ti', pods: String(PODS_PER_NODE) },
          capacity: { cpu: '1000', memory: '4Ti', pods: String(PODS_PER_NODE) },
        },
      } as KubeObject)
      .catch(() => undefined),
  );
  return names;
}

const settled = (a: App) => {
  const ready = a.status?.conditions?.find((c) => c.type === 'Ready');
  return (
    a.status?.observedGeneration === a.metadata.generation &&
    (ready?.status === 'True' || ready?.reason === 'NotImplemented')
  );
};

async function listAll<T extends KubeObject>(client: KubeClient, ref: ResourceRef, ns: string, selector?: string) {
  return (await client.list<T>(ref, { namespace: ns, limit: 500, labelSelector: selector })).items; // all pages
}

async function operatorRun(client: KubeClient, kubeconfig: string, ns: string, n: number) {
  const bundle = join(repoRoot, 'dist', 'bench', 'apps-operator.mjs');
  const metricsPort = 20000 + Math.floor(Math.random() * 10000);
  const healthPort = metricsPort + 1;
  const t0 = performance.now();
  const proc = spawn(
    process.execPath,
    [
      bundle,
      `--kubeconfig=${kubeconfig}`,
      `--namespace=${ns}`,
      `--concurrency=${CONCURRENCY}`,
      `--qps=${QPS}`,
      `--burst=${BURST}`,
      `--metrics=127.0.0.1:${metricsPort}`,
      `--health=127.0.0.1:${healthPort}`,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, NODE_OPTIONS: OPERATOR_NODE_OPTIONS } },
  );
  const synced = readsAtSync(healthPort, metricsPort);
  // Wait for at least one status write per app (the operator's own counter: cheap), then list the apps (the bench's
  // own client) until every status is current and settled.
  let last: number;
  let first = 0;
  for (;;) {
    let m = new Map<string, number>();
    try {
      m = await scrape(metricsPort);
    } catch {
      /* not listening yet */
    }
    const statusOk = sum(
      m,
      'smartcloudops_kube_requests_total',
      (k) => k.includes(`resource="${appRef.plural}/status"`) && k.includes('code="200"'),
    );
    if (statusOk > 0 && !first) first = performance.now();
    if (statusOk < n) {
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    const apps = await listAll<App>(client, appRef, ns);
    if (apps.length === n && apps.every(settled)) {
      last = performance.now();
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const m = await scrape(metricsPort);
  const rssMiB = peakRssMiB(proc.pid as number);
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  const apps = await listAll<App>(client, appRef, ns);
  const ready = new Map<string, number>();
  for (const a of apps) {
    const c = a.status?.conditions?.find((x) => x.type === 'Ready');
    const k = `Ready=${c?.status}/${c?.reason}`;
    ready.set(k, (ready.get(k) ?? 0) + 1);
  }
  const reconciles = sum(m, 'controller_runtime_reconcile_total', (k) => k.includes(`controller="${def.name}"`));
  const writes = sum(m, 'smartcloudops_kube_requests_total', (k) => /verb="(create|update|patch|delete)"/.test(k));
  const statusWrites = sum(
    m,
    'smartcloudops_kube_requests_total',
    (k) => /verb="(patch|update)"/.test(k) && k.includes(`resource="${appRef.plural}/status"`),
  );
  for (const [k, v] of m)
    if (k.startsWith('smartcloudops_kube_requests_total{') && /verb="(create|update|patch|delete)"/.test(k))
      console.log(`  ${k} ${v}`);
  return {
    wall: last - t0,
    work: last - first,
    apps,
    ready,
    reconciles,
    writes,
    statusWrites,
    readsPerReconcile: synced.value < 0 ? NaN : (readsOf(m) - synced.value) / reconciles,
    rssMiB,
  };
}

/** The operator's children in `ns`, by owner name (read back after its run). */
async function childrenOf(
  client: KubeClient,
  ns: string,
): Promise<Map<string, { ref: ResourceRef; obj: KubeObject }[]>> {
  const by = new Map<string, { ref: ResourceRef; obj: KubeObject }[]>();
  for (const ref of [...(def.owns ?? []), ...(def.ownsOptional ?? [])]) {
    let objs: KubeObject[];
    try {
      objs = await listAll(client, ref, ns, MANAGED_BY_SELECTOR);
    } catch {
      continue; // an optional kind the server does not serve
    }
    for (const obj of objs) {
      const owner = obj.metadata.ownerReferences?.find((o) => o.controller)?.name;
      if (!owner) continue;
      by.set(owner, [...(by.get(owner) ?? []), { ref, obj }]);
    }
  }
  return by;
}

/** A child as the server holds it, made into an apply body for another owner. */
function reapplyBody(child: KubeObject, ns: string, owner: KubeObject): KubeObject {
  const { status: _status, ...rest } = child as KubeObject & { status?: unknown };
  const spec = (rest as { spec?: Record<string, unknown> }).spec;
  if (child.kind === 'Service' && spec) {
    delete spec.clusterIP;
    delete spec.clusterIPs;
  }
  return {
    ...rest,
    metadata: {
      name: child.metadata.name,
      namespace: ns,
      labels: child.metadata.labels,
      annotations: child.metadata.annotations,
      ownerReferences: [controllerRef(owner, appRef)],
    },
  } as KubeObject;
}

async function baseline(
  client: KubeClient,
  owners: KubeObject[],
  ns: string,
  template: App[],
  children: Map<string, { ref: ResourceRef; obj: KubeObject }[]>,
  statusWritesPerApp: number,
): Promise<number> {
  const byName = new Map(template.map((a) => [a.metadata.name as string, a]));
  const t0 = performance.now();
  await pool(owners, CONCURRENCY, async (o) => {
    const name = o.metadata.name as string;
    for (const c of children.get(name) ?? [])
      await client.apply(c.ref, reapplyBody(c.obj, ns, o), {
        fieldManager: FIELD_MANAGER,
        force: true,
        discardBody: true,
      });
    const status = byName.get(name)?.status ?? {};
    for (let i = 0; i < statusWritesPerApp; i++)
      await client.apply(
        appRef,
        {
          apiVersion: 'ops.smartcloudops.ai/v1alpha1',
          kind: 'SmartCloudOpsApp',
          metadata: { name, namespace: ns },
          status: { ...status, observedGeneration: o.metadata.generation },
        } as KubeObject,
        { fieldManager: FIELD_MANAGER, force: true, subresource: 'status', discardBody: true },
      );
  });
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const arg = process.argv.find((a) => a.startsWith('--n='));
  const n = arg ? Number(arg.slice(4)) : 1000;
  const kubeconfig = readServicesEnv().kubeconfig;
  if (!kubeconfig)
    throw new Error('no cluster: SCO_REAL_NODE=0 npm run cluster:up -- --only=cluster (or set KUBECONFIG)');
  console.log('bundling bench/apps-operator.ts ...');
  execFileSync(
    join(repoRoot, 'node_modules', '.bin', 'esbuild'),
    [
      'bench/apps-operator.ts',
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--packages=external',
      '--log-level=warning',
      '--outfile=dist/bench/apps-operator.mjs',
    ],
    { cwd: repoRoot, stdio: 'inherit' },
  );
  const client = await KubeClient.create({ kubeconfig, qps: QPS, burst: BURST, userAgent: 'smartcloudops-bench' });
  await installCrds(client);
  const nodes = await addNodes(client, n);
  const opNs = `bench-apps-operator-${n}`;
  const baseNs = `bench-apps-baseline-${n}`;
  console.log(`N=${n}: creating ${n} apps in each of two namespaces, ${nodes.length} kwok nodes (not timed) ...`);
  await populate(client, opNs, n);
  const owners = await populate(client, baseNs, n);
  const op = await operatorRun(client, kubeconfig, opNs, n);
  const children = await childrenOf(client, opNs);
  const childCount = [...children.values()].reduce((s, c) => s + c.length, 0);
  const statusWritesPerApp = Math.max(1, Math.round(op.statusWrites / n));
  const b = await baseline(client, owners, baseNs, op.apps, children, statusWritesPerApp);
  const childrenPerApp = childCount / n;
  console.log(
    `N=${n} apps (${[...op.ready].map(([k, v]) => `${v} ${k}`).join(', ')}), ${childrenPerApp.toFixed(2)} children/app: ` +
      `baseline ${(b / 1000).toFixed(2)}s | operator ${(op.wall / 1000).toFixed(2)}s from start ` +
      `(ratio ${(op.wall / b).toFixed(2)}x; target ≤ 1.25x), ${(op.work / 1000).toFixed(2)}s first status write → ` +
      `settled (ratio ${(op.work / b).toFixed(2)}x) | writes/app ${(op.writes / n).toFixed(2)} ` +
      `(target ≤ children + 2 = ${(childrenPerApp + 2).toFixed(2)}; incl. ${SETTLE_MS / 1000}s settling; baseline ` +
      `${(childrenPerApp + statusWritesPerApp).toFixed(2)}) | reconciles/app ${(op.reconciles / n).toFixed(2)} | ` +
      `GET+LIST per reconcile ${op.readsPerReconcile.toFixed(3)} | peak RSS ${op.rssMiB.toFixed(0)} MiB ` +
      `(target ≤ 160) (qps ${QPS}, burst ${BURST}, concurrency ${CONCURRENCY})`,
  );
  await Promise.all([baseNs, opNs].map((ns) => deleteNamespaceAndWait(client, ns)));
  await pool(nodes, 8, (name) => client.delete(Resources.Node, undefined, name).catch(() => undefined));
  client.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
