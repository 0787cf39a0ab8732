// Benchmark: N SmartCloudOpsApps (issue 8), against a kwok-only local cluster (SCO_REAL_NODE=0) or KUBECONFIG.
//
//   npm run bench:apps                   N = 1000 apps
//   npm run bench:apps -- --n=200        another size
//
// Each app has one replica per component (kwok pods: the fake nodes mark them Running and Ready) and a database
// Secret; enough kwok nodes are added for its pods (and removed afterwards). The operator is the real Manager with
// the real SmartCloudOpsApp capability (bench/apps-operator.ts). What a kwok pod cannot answer is configured, not
// skipped:
//   - PostgreSQL: the Secret names a real database on the local cluster's PostgreSQL (role and database created by
//     the bench), so the dependency checks connect, run SELECT 1 and the saturation query for real.
//   - health checks: the operator's GET of each component's health path is routed to a loopback HTTP endpoint the
//     bench serves (200 on /health and /api/health, 404 otherwise; requests counted) instead of the ClusterIP,
//     where no pod listens and whose range this machine must not send to.
//   - rollout.bakeSeconds 0 (a revision is promoted once available and its health checks passed), no Redis (no
//     spec.cache), no monitoring objects (the Prometheus Operator CRDs are not installed).
// Timed:
//   operator  starts, lists, and reconciles until every app's status is current (observedGeneration) and Ready=True
//             (bounded: after --timeout-s, default 600, the apps' Ready reasons are printed instead). The children
//             it made are then read back (not timed).
//   baseline  a bare script with the same KubeClient, rate limit and concurrency makes the same writes for the
//             same number of fresh apps in another namespace: one server-side apply per child the operator made
//             (the child as the server holds it, re-owned by the baseline's app; the server's defaults included,
//             so the bodies are a little larger than the operator's) and the status writes the operator made
//             (its status, once per status write it counted).
// After completion the operator runs 5 s more (child status updates reconcile the apps again) before its counters
// are read. Printed: times and the ratio (target ≤ 1.25×), writes per app (target ≤ children + 2), GET+LIST per
// reconcile after the caches synced (target 0), the operator's peak RSS (VmHWM; target ≤ 160 MiB), the load
// average before and after. Nothing here is asserted: the numbers are for humans and the README.
import { createServer, type Server } from 'node:http';
import pg from 'pg';
import { readServicesEnv, type PostgresEnv } from '../hack/cluster/env.js';
import { smartCloudOpsAppController } from '../src/controllers/smartcloudopsapp/controller.js';
import { KubeClient, Resources, type KubeObject, type ResourceRef } from '../src/kube/index.js';
import { controllerRef, FIELD_MANAGER } from '../src/runtime/apply.js';
import { MANAGED_BY_SELECTOR } from '../src/runtime/children.js';
import { installCrds } from '../test/support/crds.js';
import {
  addKwokNodes,
  bundleOperator,
  deleteNamespaceAndWait,
  freshNamespace,
  listAll,
  loadAverage,
  pool,
  printWrites,
  readsOf,
  removeNodes,
  scrape,
  startOperator,
  sum,
  writesOf,
} from './common.js';

const QPS = 1000;
const BURST = 2000;
const CONCURRENCY = 8;
const SETTLE_MS = 5000;
const def = smartCloudOpsAppController;
const appRef = def.for;
/** The bench's own role and database on the local cluster's PostgreSQL (the apps' `spec.database`). */
const DB = { user: 'appbench', database: 'appbench', password: `appbench-${process.pid}-${Date.now()}` };

type Cond = { type: string; status: string; reason: string; message?: string };
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

/** The bench's role and database (dropped and made again), on the superuser's connection from env.json. */
async function makeDatabase(env: PostgresEnv): Promise<void> {
  const c = new pg.Client({
    host: env.host,
    port: env.port,
    user: env.user,
    password: env.password,
    database: 'postgres',
  });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${DB.database} WITH (FORCE)`);
    await c.query(`DROP ROLE IF EXISTS ${DB.user}`);
    await c.query(`CREATE ROLE ${DB.user} LOGIN PASSWORD '${DB.password}'`);
    await c.query(`CREATE DATABASE ${DB.database} OWNER ${DB.user}`);
  } finally {
    await c.end();
  }
}

async function dropDatabase(env: PostgresEnv): Promise<void> {
  const c = new pg.Client({
    host: env.host,
    port: env.port,
    user: env.user,
    password: env.password,
    database: 'postgres',
  });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${DB.database} WITH (FORCE)`);
    await c.query(`DROP ROLE IF EXISTS ${DB.user}`);
  } finally {
    await c.end();
  }
}

/** The components' health endpoint on loopback: 200 on the default health paths, 404 otherwise; counted. */
async function healthEndpoint(): Promise<{ server: Server; port: number; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = req.url ?? '';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const ok = path === '/health' || path === '/api/health';
    res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' });
    res.end(ok ? '{"status":"healthy"}' : '{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, hits };
}

async function populate(client: KubeClient, ns: string, n: number, env: PostgresEnv): Promise<KubeObject[]> {
  await freshNamespace(client, ns);
  await client.create(Resources.Secret, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'bench-db', namespace: ns },
    stringData: {
      host: env.host,
      port: String(env.port),
      database: DB.database,
      username: DB.user,
      password: DB.password,
    },
  } as KubeObject);
  const names = Array.from({ length: n }, (_, i) => `a-${String(i).padStart(5, '0')}`);
  const out: KubeObject[] = [];
  await pool(names, 32, async (name) => out.push(await client.create(appRef, app(ns, name))));
  return out;
}

const readyOf = (a: App) => a.status?.conditions?.find((c) => c.type === 'Ready');
const settled = (a: App) => a.status?.observedGeneration === a.metadata.generation && readyOf(a)?.status === 'True';

function tally(apps: App[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const a of apps) {
    const c = readyOf(a);
    const k = `Ready=${c?.status}/${c?.reason}`;
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

async function operatorRun(client: KubeClient, kubeconfig: string, ns: string, n: number, healthPort: number) {
  const timeoutMs = Number(process.argv.find((a) => a.startsWith('--timeout-s='))?.slice(12) ?? 600) * 1000;
  const op = startOperator(bundleOperator('apps-operator'), {
    kubeconfig,
    namespace: ns,
    concurrency: CONCURRENCY,
    qps: QPS,
    burst: BURST,
    args: [`--health-endpoint=127.0.0.1:${healthPort}`],
  });
  // Wait for at least one status write per app (the operator's own counter: cheap), then list the apps (the bench's
  // own client) until every status is current and Ready.
  let last: number;
  let first = 0;
  let allSettled = false;
  const load: number[] = [];
  const loadTimer = setInterval(() => load.push(loadAverage()), 5000);
  for (;;) {
    if (performance.now() - op.t0 > timeoutMs) {
      last = performance.now();
      break;
    }
    let m = new Map<string, number>();
    try {
      m = await scrape(op.metricsPort);
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
      allSettled = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  clearInterval(loadTimer);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const m = await scrape(op.metricsPort);
  const rssMiB = op.rssMiB();
  await op.stop();
  const apps = await listAll<App>(client, appRef, ns);
  const reconciles = sum(m, 'controller_runtime_reconcile_total', (k) => k.includes(`controller="${def.name}"`));
  const statusWrites = sum(
    m,
    'smartcloudops_kube_requests_total',
    (k) => /verb="(patch|update)"/.test(k) && k.includes(`resource="${appRef.plural}/status"`),
  );
  printWrites(m);
  for (const [k, v] of m)
    if (/^nodejs_heap_size_used_bytes|^nodejs_external_memory|^process_resident/.test(k))
      console.log(`  ${k} ${(v / 1048576).toFixed(1)} MiB (at the end)`);
  if (!allSettled) {
    const notReady = apps.filter((a) => !settled(a)).slice(0, 3);
    for (const a of notReady) console.log(`  not settled: ${a.metadata.name}: ${JSON.stringify(readyOf(a))}`);
  }
  return {
    allSettled,
    wall: last - op.t0,
    work: last - first,
    apps,
    ready: tally(apps),
    reconciles,
    writes: writesOf(m),
    statusWrites,
    readsPerReconcile: op.synced.value < 0 ? NaN : (readsOf(m) - op.synced.value) / reconciles,
    rssMiB,
    load,
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

/** After the baseline: until every Deployment of `ns` has its replicas available (the control plane's share). */
async function deploymentsAvailable(client: KubeClient, ns: string, want: number): Promise<void> {
  type D = KubeObject & { spec?: { replicas?: number }; status?: { availableReplicas?: number } };
  for (;;) {
    const ds = await listAll<D>(client, Resources.Deployment, ns);
    if (ds.length >= want && ds.every((d) => (d.status?.availableReplicas ?? 0) >= (d.spec?.replicas ?? 0))) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function main(): Promise<void> {
  const arg = process.argv.find((a) => a.startsWith('--n='));
  const n = arg ? Number(arg.slice(4)) : 1000;
  const env = readServicesEnv();
  const kubeconfig = env.kubeconfig;
  if (!kubeconfig || !env.postgres)
    throw new Error('no cluster: SCO_REAL_NODE=0 npm run cluster:up -- --only=cluster,services');
  const client = await KubeClient.create({ kubeconfig, qps: QPS, burst: BURST, userAgent: 'smartcloudops-bench' });
  await installCrds(client);
  await makeDatabase(env.postgres);
  const health = await healthEndpoint();
  const nodes = await addKwokNodes(client, 'bench-apps-node', 2 * n);
  const opNs = `bench-apps-operator-${n}`;
  const baseNs = `bench-apps-baseline-${n}`;
  console.log(`N=${n}: creating ${n} apps in each of two namespaces, ${nodes.length} kwok nodes (not timed) ...`);
  await populate(client, opNs, n, env.postgres);
  const owners = await populate(client, baseNs, n, env.postgres);
  const load0 = loadAverage();
  const op = await operatorRun(client, kubeconfig, opNs, n, health.port);
  const children = await childrenOf(client, opNs);
  const childCount = [...children.values()].reduce((s, c) => s + c.length, 0);
  const statusWritesPerApp = Math.max(1, Math.round(op.statusWrites / n));
  const deployments = [...children.values()].flat().filter((c) => c.obj.kind === 'Deployment').length;
  const b = await baseline(client, owners, baseNs, op.apps, children, statusWritesPerApp);
  const tb = performance.now();
  await deploymentsAvailable(client, baseNs, deployments);
  const bAvailable = b + (performance.now() - tb);
  const childrenPerApp = childCount / n;
  const loads = [load0, ...op.load];
  console.log(
    `  health endpoint: ${[...health.hits].map(([k, v]) => `${k} ${v}`).join(', ')} | load average (1 min) ` +
      `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} during the operator's run`,
  );
  console.log(
    `N=${n} apps (${[...op.ready].map(([k, v]) => `${v} ${k}`).join(', ')}${op.allSettled ? '' : '; NOT ALL READY: timed out'}), ` +
      `${childrenPerApp.toFixed(2)} children/app: baseline ${(b / 1000).toFixed(2)}s (its Deployments available ` +
      `after ${(bAvailable / 1000).toFixed(2)}s) | operator ${(op.wall / 1000).toFixed(2)}s from start ` +
      `(ratio ${(op.wall / b).toFixed(2)}x; target ≤ 1.25x; ${(op.wall / bAvailable).toFixed(2)}x against the baseline's ` +
      `Deployments available), ${(op.work / 1000).toFixed(2)}s first status write → settled ` +
      `(ratio ${(op.work / b).toFixed(2)}x) | writes/app ${(op.writes / n).toFixed(2)} ` +
      `(target ≤ children + 2 = ${(childrenPerApp + 2).toFixed(2)}; incl. ${SETTLE_MS / 1000}s settling; baseline ` +
      `${(childrenPerApp + statusWritesPerApp).toFixed(2)}) | reconciles/app ${(op.reconciles / n).toFixed(2)} | ` +
      `GET+LIST per reconcile ${op.readsPerReconcile.toFixed(3)} | peak RSS ${op.rssMiB.toFixed(0)} MiB ` +
      `(target ≤ 160) (qps ${QPS}, burst ${BURST}, concurrency ${CONCURRENCY})`,
  );
  await Promise.all([baseNs, opNs].map((ns) => deleteNamespaceAndWait(client, ns)));
  await removeNodes(client, nodes);
  await dropDatabase(env.postgres);
  health.server.close();
  client.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
