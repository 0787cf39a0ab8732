#!/usr/bin/env node
// smartcloudops-operator: the entry point. Every flag has an environment variable (shown in --help); flags win.
import { ConfigError, parseConfig, usage, type Config } from './config.js';
import { controllerDefs } from './controllers/index.js';
import { KubeClient } from './kube/index.js';
import { createLogger } from './runtime/logger.js';
import { Manager } from './runtime/manager.js';
import { Metrics } from './runtime/metrics.js';

async function main(): Promise<void> {
  let cfg: Config | 'help';
  try {
    cfg = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof ConfigError) && !(err instanceof TypeError)) throw err;
    console.error(`smartcloudops-operator: ${(err as Error).message}\n\n${usage()}`);
    process.exit(2);
  }
  if (cfg === 'help') {
    console.log(usage());
    return;
  }
  const log = createLogger(cfg.logLevel);
  const metrics = new Metrics();
  const client = await KubeClient.create({
    kubeconfig: cfg.kubeconfig,
    context: cfg.context,
    log,
    qps: cfg.qps,
    burst: cfg.burst,
    observer: metrics.clientObserver(),
    userAgent: 'smartcloudops-operator',
  });
  const manager = new Manager({
    client,
    log,
    metrics,
    namespaces: cfg.namespaces,
    concurrency: cfg.concurrency,
    metricsAddr: cfg.metricsAddr,
    healthAddr: cfg.healthAddr,
    resyncMs: cfg.resyncMs,
    identity: cfg.identity,
    leaderElection: {
      enabled: cfg.leaderElect,
      namespace: cfg.leaseNamespace,
      name: cfg.leaseName,
      identity: cfg.identity,
      leaseDurationMs: cfg.leaseDurationMs,
      renewDeadlineMs: cfg.renewDeadlineMs,
      retryPeriodMs: cfg.retryPeriodMs,
    },
  });
  for (const def of controllerDefs()) manager.add(def);

  let shuttingDown = false;
  const shutdown = (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    manager.stop().then(
      () => {
        client.close();
        log.info('stopped');
        process.exit(0);
      },
      (err: Error) => {
        log.error({ err: err.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('unhandledRejection', (reason) => log.error({ err: String(reason) }, 'unhandled rejection'));

  log.info(
    {
      identity: cfg.identity,
      namespaces: cfg.namespaces.length ? cfg.namespaces : 'all',
      leaderElection: cfg.leaderElect,
      server: client.server.host,
      credentials: client.credentialSource,
    },
    'starting',
  );
  await manager.start(() => {
    log.error('leadership lost: exiting so that work stops at once');
    process.exit(1);
  });
}

void main();
