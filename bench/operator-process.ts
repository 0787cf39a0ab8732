// The operator process of the benchmarks with children (bench/children-operator.ts, bench/apps-operator.ts): the
// real Manager (leader election off, one namespace) running the controllers an entry passes, with the flags
// bench/common.ts' `startOperator` gives: --kubeconfig, --namespace, --concurrency, --qps, --burst, --metrics,
// --health. Each entry is bundled with esbuild (packages external) and run with the operator's Node options.
import { KubeClient } from '../src/kube/index.js';
import type { ControllerDef } from '../src/runtime/manager.js';
import { createLogger } from '../src/runtime/logger.js';
import { Manager } from '../src/runtime/manager.js';
import { Metrics } from '../src/runtime/metrics.js';

export const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? '';

export async function runBenchOperator(controllers: ControllerDef[]): Promise<void> {
  const log = createLogger('warn');
  const metrics = new Metrics();
  const client = await KubeClient.create({
    kubeconfig: arg('kubeconfig'),
    qps: Number(arg('qps')),
    burst: Number(arg('burst')),
    observer: metrics.clientObserver(),
    userAgent: 'smartcloudops-operator',
  });
  const manager = new Manager({
    client,
    log,
    metrics,
    namespaces: [arg('namespace')],
    concurrency: Number(arg('concurrency')),
    metricsAddr: arg('metrics'),
    healthAddr: arg('health'),
    identity: 'bench',
    leaderElection: {
      enabled: false,
      namespace: arg('namespace'),
      name: 'bench',
      identity: 'bench',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    },
  });
  for (const c of controllers) manager.add(c);
  process.on('SIGTERM', () => {
    void manager.stop(1000).then(() => {
      client.close();
      process.exit(0);
    });
  });
  await manager.start(() => process.exit(1));
}
