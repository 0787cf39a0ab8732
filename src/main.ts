#!/usr/bin/env node
// smartcloudops-operator: the entry point. Every flag has an environment variable (shown in --help); flags win.
import { ConfigError, parseConfig, usage, type Config } from './config.js';
import { controllerDefs } from './controllers/index.js';
import { KubeClient } from './kube/index.js';
import { createLogger } from './runtime/logger.js';
import { CacheSyncError, Manager } from './runtime/manager.js';
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
  // The leader elector's own client: its own connection pool and rate limiter, so renewals never queue behind
  // reconciles, relists or Events; no Retry-After retries (each attempt is bounded by the renew deadline instead).
  const leaderClient = cfg.leaderElect
    ? await KubeClient.create({
        kubeconfig: cfg.kubeconfig,
        context: cfg.context,
        log,
        qps: 5,
        burst: 10,
        maxRetries: 0,
        timeoutMs: cfg.renewDeadlineMs,
        observer: metrics.clientObserver(),
        userAgent: 'smartcloudops-operator/leader-election',
      })
    : undefined;
  const manager = new Manager({
    client,
    leaderClient,
    cacheSyncTimeoutMs: cfg.cacheSyncTimeoutMs,
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
  for (const def of controllerDefs({ agentImage: cfg.agentImage || undefined, operatorNamespace: cfg.leaseNamespace }))
    manager.add(def);

  // The whole shutdown is bounded by --shutdown-timeout (below the pod's terminationGracePeriodSeconds); the
  // manager gets all but a small margin of it, then the process exits regardless.
  let shuttingDown = false;
  const shutdown = (reason: string, code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ reason, timeoutMs: cfg.shutdownTimeoutMs }, 'shutting down');
    const force = setTimeout(() => {
      log.error({ timeoutMs: cfg.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, cfg.shutdownTimeoutMs);
    force.unref();
    manager.stop(cfg.shutdownTimeoutMs - Math.min(1000, cfg.shutdownTimeoutMs / 10)).then(
      () => {
        client.close();
        leaderClient?.close();
        log.info('stopped');
        process.exit(code);
      },
      (err: Error) => {
        log.error({ err: err.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM', 0));
  process.on('SIGINT', () => shutdown('SIGINT', 0));
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
  await manager.start(
    () => {
      log.error('leadership lost: exiting so that work stops at once');
      process.exit(1);
    },
    (err) => {
      // Caches that cannot sync (RBAC, a missing CRD) or an endpoint that cannot listen: say which and why, and leave
      // instead of holding the Lease idle.
      console.error(`smartcloudops-operator: ${err.message}`);
      shutdown(err instanceof CacheSyncError ? 'caches did not sync' : 'fatal', 1);
    },
  );
}

void main();
