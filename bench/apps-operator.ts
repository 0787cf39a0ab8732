// The operator process of the apps benchmark: the real Manager with the real SmartCloudOpsApp controller
// (`smartCloudOpsAppController` from src/controllers, whatever it is on this branch: the capability once merged).
// Bundled by bench/apps.ts with esbuild (packages external) and run with the operator's Node options.
import { smartCloudOpsAppController } from '../src/controllers/smartcloudopsapp/controller.js';
import { KubeClient } from '../src/kube/index.js';
import { createLogger } from '../src/runtime/logger.js';
import { Manager } from '../src/runtime/manager.js';
import { Metrics } from '../src/runtime/metrics.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? '';

async function main(): Promise<void> {
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
  manager.add(smartCloudOpsAppController);
  process.on('SIGTERM', () => {
    void manager.stop(1000).then(() => {
      client.close();
      process.exit(0);
    });
  });
  await manager.start(() => process.exit(1));
}

void main();
