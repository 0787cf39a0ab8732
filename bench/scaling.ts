// Benchmark: ScalingPolicy on the cluster in KUBECONFIG with a real node (the shared cluster: set SCO_CLUSTER_DIR,
// KUBECONFIG and SCO_E2E_CRDS=scalingpolicies), the operator as a process (src/main.ts) watching one namespace.
//
//   npm run bench:scaling                    a 4-minute scaling run
//   npm run bench:scaling -- --minutes=10    the 10 minutes
//
// Figures (the issue's; printed, not asserted):
//   1. the operator's writes to a Deployment's spec.replicas in Auto mode over a load-driven run: the counter
//      smartcloudops_scalingpolicy_replica_writes_total and every PATCH/PUT of deployments the operator sent
//      (smartcloudops_kube_requests_total), while the HPA scales the Deployment up and down (its scale count shown);
//   2. how long after the policy is created its HPA exists (K policies, each on its own Deployment; time from the
//      create's response to the HPA seen by a 20 ms poll);
//   3. how long after a window's start (and end) the HPA's bounds are the window's (a window every minute for 30 s on
//      the load-driven policy: each start and each end measured by a 20 ms poll from 2 s before the boundary).
// Baseline in the same run for 2: the HPA created directly by this script (one apply): its create→seen time is what
// the API server and the poll cost without the operator. Load: bursts of /burn at the pods' bridge IPs (on 75 s, off
// 75 s), each pod limited to 200m CPU.
import { isNotFound, KubeClient, Resources, type KubeObject } from '../src/kube/index.js';
import { installCrds } from '../test/support/crds.js';
import { kubeconfigPath } from '../test/support/env.js';
import { OperatorProcess } from '../test/support/operator.js';
import { driveLoad, POLICY, policyObject, standinDeployment } from '../test/support/scaling.js';
import { deleteNamespaceAndWait, freshNamespace } from './common.js';

const arg = (name: string, dflt: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : dflt;
};
const MINUTES = arg('minutes', 4);
const K = arg('policies', 5);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Hpa extends KubeObject {
  spec: { minReplicas: number; maxReplicas: number };
}

function stats(xs: number[]): string {
  if (!xs.length) return 'n=0';
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
  return `n=${s.length} median ${q(0.5).toFixed(0)} ms, max ${(s.at(-1) as number).toFixed(0)} ms, min ${(s[0] as number).toFixed(0)} ms`;
}

async function main(): Promise<void> {
  const client = await KubeClient.create({
    kubeconfig: kubeconfigPath(),
    userAgent: 'scaling-bench',
    qps: 200,
    burst: 400,
  });
  const ns = `scaling-bench-${process.pid}`;
  await installCrds(client);
  await freshNamespace(client, ns);
  const op = await OperatorProcess.start({ identity: `${ns}-op`, namespaces: [ns] });
  const apply = (obj: KubeObject) =>
    client.apply(obj.kind === 'Deployment' ? Resources.Deployment : POLICY, obj, {
      fieldManager: 'scaling-bench',
      force: true,
    });
  const getHpa = (name: string) => client.get<Hpa>(Resources.HorizontalPodAutoscaler, ns, name);
  const pollHpa = async (name: string, ok: (h: Hpa) => boolean, timeoutMs = 10_000): Promise<number> => {
    const t0 = performance.now();
    for (;;) {
      try {
        if (ok(await getHpa(name))) return performance.now();
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (performance.now() - t0 > timeoutMs) throw new Error(`HPA ${name}: not as wanted after ${timeoutMs} ms`);
      await sleep(20);
    }
  };
  try {
    // 2. HPA appearance, K policies on Deployments with 0 replicas (no pods needed), and the direct baseline.
    const appear: number[] = [];
    const direct: number[] = [];
    for (let i = 0; i < K; i++) {
      const d = standinDeployment(`idle-${i}`, ns);
      await apply({ ...d, spec: { ...d.spec, replicas: 0 } } as KubeObject);
      await sleep(500);
      await apply(policyObject(`idle-${i}`, ns, { targetRef: { kind: 'Deployment', name: `idle-${i}` } }));
      const t0 = performance.now();
      appear.push((await pollHpa(`idle-${i}`, () => true)) - t0);
      const h0 = performance.now();
      await client.apply(
        Resources.HorizontalPodAutoscaler,
        {
          apiVersion: 'autoscaling/v2',
          kind: 'HorizontalPodAutoscaler',
          metadata: { name: `direct-${i}`, namespace: ns },
          spec: {
            scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: `idle-${i}` },
            minReplicas: 1,
            maxReplicas: 2,
          },
        },
        { fieldManager: 'scaling-bench', force: true },
      );
      direct.push((await pollHpa(`direct-${i}`, () => true)) - h0);
      await client.delete(Resources.HorizontalPodAutoscaler, ns, `direct-${i}`);
    }

    // 1 and 3. The load-driven run with a window every minute (:00–:30, min 2) on a base of 1–3.
    await apply(standinDeployment('web', ns));
    await apply(
      policyObject('web', ns, {
        targetRef: { kind: 'Deployment', name: 'web' },
        minReplicas: 1,
        maxReplicas: 3,
        metrics: { cpu: 50, memory: 90 },
        behavior: {
          scaleUp: { stabilizationWindowSeconds: 0 },
          scaleDown: { stabilizationWindowSeconds: 0 },
        },
        windows: [{ name: 'half', schedule: '* * * * *', duration: '30s', minReplicas: 2, maxReplicas: 3 }],
      }),
    );
    await pollHpa('web', () => true);
    const writes0 = await op.sum('smartcloudops_scalingpolicy_replica_writes_total');
    const patches0 =
      (await op.sum('smartcloudops_kube_requests_total', { resource: 'deployments', verb: 'patch' })) +
      (await op.sum('smartcloudops_kube_requests_total', { resource: 'deployments', verb: 'update' }));
    const end = Date.now() + MINUTES * 60_000;
    const windowLag: number[] = [];
    const replicaSeen: number[] = [];
    let loadStop: (() => Promise<number>) | undefined;
    let loadToggle = Date.now();
    let sent = 0;
    let lastReplicas: number | undefined;
    let scales = 0;
    while (Date.now() < end) {
      // Next boundary: :00 (start, min 2) or :30 (end, min 1).
      const next = Math.ceil((Date.now() + 2_500) / 30_000) * 30_000;
      const startOfWindow = next % 60_000 === 0;
      while (Date.now() < next - 2_000) {
        if (Date.now() - loadToggle > 75_000) {
          if (loadStop) {
            sent += await loadStop();
            loadStop = undefined;
          } else loadStop = driveLoad(client, ns, 'web', 40, 2);
          loadToggle = Date.now();
        }
        const d = await client.get<KubeObject & { spec: { replicas?: number } }>(Resources.Deployment, ns, 'web');
        if (d.spec.replicas !== lastReplicas) {
          if (lastReplicas !== undefined) scales++;
          lastReplicas = d.spec.replicas;
          replicaSeen.push(d.spec.replicas ?? 0);
        }
        await sleep(500);
      }
      if (next > end) break;
      const want = startOfWindow ? 2 : 1;
      const seen = await pollHpa('web', (h) => h.spec.minReplicas === want, 15_000);
      windowLag.push(performance.timeOrigin + seen - next);
    }
    if (loadStop) sent += await loadStop();
    const writes = (await op.sum('smartcloudops_scalingpolicy_replica_writes_total')) - writes0;
    const patches =
      (await op.sum('smartcloudops_kube_requests_total', { resource: 'deployments', verb: 'patch' })) +
      (await op.sum('smartcloudops_kube_requests_total', { resource: 'deployments', verb: 'update' })) -
      patches0;
    console.log(`ScalingPolicy bench: ${MINUTES} min load-driven run, ${K} policies for the HPA appearance`);
    console.log(
      `  1. operator writes to spec.replicas in Auto: ${writes} (replica-write counter), ${patches} deployment PATCH/PUT; the HPA changed the count ${scales} times (${replicaSeen.join('→')}), ${sent} /burn requests`,
    );
    console.log(`  2. HPA after the policy: ${stats(appear)}; baseline (HPA applied directly): ${stats(direct)}`);
    console.log(`  3. window bounds after the boundary (starts and ends): ${stats(windowLag)}`);
  } finally {
    await op.stop();
    await deleteNamespaceAndWait(client, ns);
    client.close();
  }
}

await main();
