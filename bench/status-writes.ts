// Benchmark: the runtime's cost per custom resource, against the local cluster (or KUBECONFIG).
//
//   npm run bench                      N = 1000 and 10000
//   npm run bench -- --n=1000          one size
//
// For each N, in fresh namespaces, N ScalingPolicy objects are created first (not timed). Then, timed:
//   baseline  a bare script with the same KubeClient, rate limit and concurrency performs exactly the status
//             writes the operator makes (one server-side apply to /status per object, same body) — the floor;
//   operator  the compiled operator (dist/main.js) starts, lists, and reconciles every object until each has its
//             status written with observedGeneration current.
// Printed: wall times and their ratio (from the operator's start, and from its first status write), writes per
// CR, GET/LIST requests per reconcile after the caches synced, and the operator's peak RSS (VmHWM).
// Nothing here is asserted: the numbers are for humans and the closing notes.
import { spawn, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { readServicesEnv } from '../hack/cluster/env.js';
import { repoRoot } from '../hack/cluster/config.js';
import { resourceRefOf } from '../src/crds/kinds.js';
import { ready } from '../src/controllers/scalingpolicy/controller.js';
import { decideStatus } from '../src/controllers/status.js';
import { KubeClient, type KubeObject } from '../src/kube/index.js';
import { FIELD_MANAGER } from '../src/runtime/apply.js';
import { OPERATOR_NODE_OPTIONS } from '../src/node-options.js';
import { installCrds } from '../test/support/crds.js';
import {
  deleteNamespaceAndWait,
  freshNamespace,
  peakRssMiB,
  pool,
  readsOf,
  scrape,
  sum,
  readsAtSync,
} from './common.js';

const QPS = 1000;
const BURST = 2000;
const CONCURRENCY = 8;
const ref = resourceRefOf('ScalingPolicy');

interface CR extends KubeObject {
  spec: Record<string, unknown>;
  status?: { observedGeneration?: number };
}

function policy(ns: string, name: string): CR {
  return {
    apiVersion: 'ops.smartcloudops.ai/v1alpha1',
    kind: 'ScalingPolicy',
    metadata: { name, namespace: ns, labels: { 'app.kubernetes.io/part-of': 'smartcloudops-bench' } },
    spec: {
      targetRef: { kind: 'SmartCloudOpsApp', name: 'smartcloudops', component: 'backend' },
      mode: 'Auto',
      minReplicas: 3,
      maxReplicas: 12,
      metrics: { cpu: 70, memory: 80 },
      windows: [{ name: 'business-hours', schedule: '0 8 * * 1-5', duration: '10h', minReplicas: 5, maxReplicas: 20 }],
    },
  };
}

async function populate(client: KubeClient, ns: string, n: number): Promise<string[]> {
  await freshNamespace(client, ns);
  const names = Array.from({ length: n }, (_, i) => `p-${String(i).padStart(5, '0')}`);
  await pool(names, 32, (name) => client.create(ref, policy(ns, name)));
  return names;
}

/** The exact status body the operator writes for a valid, new object. */
function statusFor(generation: number) {
  return decideStatus({
    kind: 'ScalingPolicy',
    generation,
    previous: undefined,
    errors: [],
    paused: false,
    now: new Date(),
    readiness: ready,
  }).status;
}

async function baseline(client: KubeClient, ns: string, names: string[]): Promise<number> {
  const t0 = performance.now();
  await pool(names, CONCURRENCY, (name) =>
    client.apply(
      ref,
      {
        apiVersion: 'ops.smartcloudops.ai/v1alpha1',
        kind: 'ScalingPolicy',
        metadata: { name, namespace: ns },
        status: statusFor(1),
      } as CR,
      { fieldManager: FIELD_MANAGER, force: true, subresource: 'status' },
    ),
  );
  return performance.now() - t0;
}

async function operatorRun(client: KubeClient, kubeconfig: string, ns: string, n: number) {
  const metricsPort = 20000 + Math.floor(Math.random() * 10000);
  const healthPort = metricsPort + 1;
  const t0 = performance.now();
  const proc = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
      ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean),
      join(repoRoot, 'dist', 'main.js'),
      `--kubeconfig=${kubeconfig}`,
      `--namespaces=${ns}`,
      '--leader-elect=false',
      `--concurrency=${CONCURRENCY}`,
      `--kube-api-qps=${QPS}`,
      `--kube-api-burst=${BURST}`,
      `--metrics-bind-address=127.0.0.1:${metricsPort}`,
      `--health-probe-bind-address=127.0.0.1:${healthPort}`,
      '--log-level=warn',
    ],
    { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, NODE_OPTIONS: OPERATOR_NODE_OPTIONS } },
  );
  const synced = readsAtSync(healthPort, metricsPort);
  // Completion from the operator's own counters (no extra watch loading the API server during the timed run):
  // every status write is counted; then one list checks that each object really carries its observedGeneration.
  const statusWrites = (mm: Map<string, number>) =>
    sum(
      mm,
      'smartcloudops_kube_requests_total',
      (k) => k.includes('resource="scalingpolicies/status"') && k.includes('code="200"'),
    );
  let first = 0;
  for (;;) {
    let w = 0;
    try {
      w = statusWrites(await scrape(metricsPort));
    } catch {
      /* not listening yet */
    }
    if (w > 0 && !first) first = performance.now();
    if (w >= n) break;
    // Scraping costs the operator CPU (default process metrics): 50 ms keeps that small and the error under 50 ms.
    await new Promise((r) => setTimeout(r, 50));
  }
  const last = performance.now();
  const wall = last - t0;
  const m = await scrape(metricsPort);
  const rssMiB = peakRssMiB(proc.pid as number);
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  const written = await client.list<CR>(ref, { namespace: ns, limit: 500 });
  const current = written.items.filter((o) => o.status?.observedGeneration === o.metadata.generation).length;
  if (current !== n) throw new Error(`only ${current} of ${n} objects carry a current status`);
  if (process.env.BENCH_HEAP) {
    for (const [k, v] of m)
      if (/^nodejs_heap|^nodejs_external|^process_resident/.test(k))
        console.log(`  ${k} ${(v / 1048576).toFixed(1)} MiB`);
  }
  const reconciles = sum(m, 'controller_runtime_reconcile_total', (k) => k.includes('controller="scalingpolicy"'));
  const writes = sum(m, 'smartcloudops_kube_requests_total', (k) => /verb="(create|update|patch|delete)"/.test(k));
  return {
    wall,
    work: last - first,
    reconciles,
    writesPerCr: writes / n,
    readsPerReconcile: synced.value < 0 ? NaN : (readsOf(m) - synced.value) / reconciles,
    rssMiB,
  };
}

async function main(): Promise<void> {
  const arg = process.argv.find((a) => a.startsWith('--n='));
  const sizes = arg ? arg.slice(4).split(',').map(Number) : [1000, 10000];
  const kubeconfig = readServicesEnv().kubeconfig;
  if (!kubeconfig) throw new Error('no cluster: run npm run cluster:up --only=cluster (or set KUBECONFIG)');
  console.log('building dist/ ...');
  execFileSync('npm', ['run', '-s', 'build'], { cwd: repoRoot, stdio: 'inherit' });
  const client = await KubeClient.create({ kubeconfig, qps: QPS, burst: BURST, userAgent: 'smartcloudops-bench' });
  await installCrds(client);
  const rows: string[] = [];
  const repeatArg = process.argv.find((a) => a.startsWith('--repeat='));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  for (const n of sizes) {
    // Runs on a shared 2-core machine are noisy: repeat small sizes and compare medians.
    const repeat = repeatArg ? Number(repeatArg.slice(9)) : n <= 2000 ? 3 : 1;
    const base: number[] = [];
    const runs: Awaited<ReturnType<typeof operatorRun>>[] = [];
    for (let r = 0; r < repeat; r++) {
      console.log(
        `\nN=${n} run ${r + 1}/${repeat}: creating ${n} ScalingPolicies in each of two namespaces (not timed) ...`,
      );
      const baseNs = `bench-baseline-${n}`;
      const opNs = `bench-operator-${n}`;
      const names = await populate(client, baseNs, n);
      await populate(client, opNs, n);
      base.push(await baseline(client, baseNs, names));
      runs.push(await operatorRun(client, kubeconfig, opNs, n));
      console.log(
        `  baseline ${((base.at(-1) as number) / 1000).toFixed(2)}s, operator ${((runs.at(-1)?.wall ?? 0) / 1000).toFixed(2)}s ` +
          `(${((runs.at(-1)?.work ?? 0) / 1000).toFixed(2)}s first→last write)`,
      );
      // Wait until both namespaces are really gone: the namespace controller deleting thousands of objects in the
      // background would slow the next run down.
      await Promise.all([baseNs, opNs].map((ns) => deleteNamespaceAndWait(client, ns)));
    }
    const b = median(base);
    const wall = median(runs.map((o) => o.wall));
    const work = median(runs.map((o) => o.work));
    const row =
      `N=${n} (median of ${repeat}): baseline ${(b / 1000).toFixed(2)}s | operator ${(wall / 1000).toFixed(2)}s from start ` +
      `(ratio ${(wall / b).toFixed(2)}x), ${(work / 1000).toFixed(2)}s first→last status write (ratio ${(work / b).toFixed(2)}x) | ` +
      `writes/CR ${Math.max(...runs.map((o) => o.writesPerCr)).toFixed(2)} | ` +
      `GET+LIST per reconcile ${Math.max(...runs.map((o) => o.readsPerReconcile)).toFixed(3)} | ` +
      `peak RSS ${Math.max(...runs.map((o) => o.rssMiB)).toFixed(0)} MiB`;
    console.log(row);
    rows.push(row);
  }
  console.log(`\nsummary (qps ${QPS}, burst ${BURST}, concurrency ${CONCURRENCY}):\n${rows.join('\n')}`);
  client.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
