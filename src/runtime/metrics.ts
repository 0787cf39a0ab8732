// Prometheus metrics with controller-runtime's names and labels, so stock controller-runtime dashboards and alerts
// work unchanged; plus a few of our own (smartcloudops_*). One Registry per Manager: no global state.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ClientObserver } from '../kube/index.js';
import type { InformerObserver } from './informer.js';
import type { QueueObserver, WorkQueue } from './queue.js';

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Metrics {
  readonly registry = new Registry();
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly terminalErrors: Counter<'controller'>;
  readonly reconcilePanics: Counter<'controller'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly maxConcurrent: Gauge<'controller'>;
  readonly activeWorkers: Gauge<'controller'>;
  readonly queueDepth: Gauge<'name' | 'controller'>;
  readonly queueAdds: Counter<'name' | 'controller'>;
  readonly queueDuration: Histogram<'name' | 'controller'>;
  readonly workDuration: Histogram<'name' | 'controller'>;
  readonly queueRetries: Counter<'name' | 'controller'>;
  readonly restRequests: Counter<'code' | 'host' | 'method'>;
  readonly restDuration: Histogram<'verb' | 'host'>;
  readonly rateLimiterDuration: Histogram<'verb' | 'host'>;
  readonly kubeRequests: Counter<'verb' | 'resource' | 'code'>;
  readonly leaderStatus: Gauge<'name'>;
  readonly informerRestarts: Counter<'informer' | 'reason'>;
  readonly informerEvents: Counter<'informer'>;
  readonly informerLists: Counter<'informer'>;
  readonly eventsEmitted: Counter<'type' | 'reason'>;
  readonly eventsSuppressed: Counter<'reason'>;
  readonly dependencyChecks: Counter<'dependency' | 'reason'>;
  readonly dependencyCheckDuration: Histogram<'dependency'>;
  readonly redisConfigCorrections: Counter<'key'>;
  readonly vacuumRuns: Counter<'result'>;
  readonly vacuumDuration: Histogram;
  private readonly queues = new Map<string, WorkQueue>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const r = this.registry;
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: r });
    this.reconcileTotal = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'],
      registers: [r],
    });
    this.reconcileErrors = new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'],
      registers: [r],
    });
    this.terminalErrors = new Counter({
      name: 'controller_runtime_terminal_reconcile_errors_total',
      help: 'Total number of terminal reconciliation errors per controller',
      labelNames: ['controller'],
      registers: [r],
    });
    this.reconcilePanics = new Counter({
      name: 'controller_runtime_reconcile_panics_total',
      help: 'Total number of reconciliations that threw a non-API exception (a bug) per controller',
      labelNames: ['controller'],
      registers: [r],
    });
    this.reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: DURATION_BUCKETS,
      registers: [r],
    });
    this.maxConcurrent = new Gauge({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller',
      labelNames: ['controller'],
      registers: [r],
    });
    this.activeWorkers = new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller',
      labelNames: ['controller'],
      registers: [r],
    });
    this.queueDepth = new Gauge({
      name: 'workqueue_depth',
      help: 'Current depth of workqueue',
      labelNames: ['name', 'controller'],
      registers: [r],
    });
    this.queueAdds = new Counter({
      name: 'workqueue_adds_total',
      help: 'Total number of adds handled by workqueue',
      labelNames: ['name', 'controller'],
      registers: [r],
    });
    this.queueDuration = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: ['name', 'controller'],
      buckets: DURATION_BUCKETS,
      registers: [r],
    });
    this.workDuration = new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes',
      labelNames: ['name', 'controller'],
      buckets: DURATION_BUCKETS,
      registers: [r],
    });
    this.queueRetries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Total number of retries handled by workqueue',
      labelNames: ['name', 'controller'],
      registers: [r],
    });
    const queues = this.queues;
    new Gauge({
      name: 'workqueue_unfinished_work_seconds',
      help: 'How many seconds of work has been done that is in progress and has not been observed by work_duration',
      labelNames: ['name', 'controller'],
      registers: [r],
      collect() {
        const now = performance.now();
        for (const [name, q] of queues) {
          this.set(
            { name, controller: name },
            q.processingSince().reduce((s, t) => s + (now - t) / 1000, 0),
          );
        }
      },
    });
    new Gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: 'How many seconds has the longest running processor for workqueue been running',
      labelNames: ['name', 'controller'],
      registers: [r],
      collect() {
        const now = performance.now();
        for (const [name, q] of queues) {
          const oldest = Math.min(...q.processingSince(), now);
          this.set({ name, controller: name }, (now - oldest) / 1000);
        }
      },
    });
    this.restRequests = new Counter({
      name: 'rest_client_requests_total',
      help: 'Number of HTTP requests, partitioned by status code, method, and host',
      labelNames: ['code', 'host', 'method'],
      registers: [r],
    });
    this.restDuration = new Histogram({
      name: 'rest_client_request_duration_seconds',
      help: 'Request latency in seconds. Broken down by verb and host',
      labelNames: ['verb', 'host'],
      buckets: DURATION_BUCKETS,
      registers: [r],
    });
    this.rateLimiterDuration = new Histogram({
      name: 'rest_client_rate_limiter_duration_seconds',
      help: 'Client side rate limiter latency in seconds. Broken down by verb and host',
      labelNames: ['verb', 'host'],
      buckets: DURATION_BUCKETS,
      registers: [r],
    });
    this.kubeRequests = new Counter({
      name: 'smartcloudops_kube_requests_total',
      help: 'Kubernetes API requests by Kubernetes verb (get, list, watch, create, update, patch, delete), resource and status code',
      labelNames: ['verb', 'resource', 'code'],
      registers: [r],
    });
    this.leaderStatus = new Gauge({
      name: 'leader_election_master_status',
      help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master',
      labelNames: ['name'],
      registers: [r],
    });
    this.informerRestarts = new Counter({
      name: 'smartcloudops_informer_restarts_total',
      help: 'Informer list/watch restarts by reason (error, expired, stale)',
      labelNames: ['informer', 'reason'],
      registers: [r],
    });
    this.informerEvents = new Counter({
      name: 'smartcloudops_informer_events_total',
      help: 'Watch events received per informer',
      labelNames: ['informer'],
      registers: [r],
    });
    this.informerLists = new Counter({
      name: 'smartcloudops_informer_lists_total',
      help: 'Full lists per informer (the first sync, after 410 Gone, and after reconnecting from an error)',
      labelNames: ['informer'],
      registers: [r],
    });
    this.eventsEmitted = new Counter({
      name: 'smartcloudops_events_emitted_total',
      help: 'Kubernetes Events written (created or count-bumped)',
      labelNames: ['type', 'reason'],
      registers: [r],
    });
    this.eventsSuppressed = new Counter({
      name: 'smartcloudops_events_suppressed_total',
      help: 'Kubernetes Events dropped by the spam filter',
      labelNames: ['reason'],
      registers: [r],
    });
    this.dependencyChecks = new Counter({
      name: 'smartcloudops_dependency_checks_total',
      help: 'SmartCloudOpsApp dependency checks (postgres, redis) by outcome reason (Healthy, ConnectionSaturation, Timeout, ...)',
      labelNames: ['dependency', 'reason'],
      registers: [r],
    });
    this.dependencyCheckDuration = new Histogram({
      name: 'smartcloudops_dependency_check_duration_seconds',
      help: 'Latency of SmartCloudOpsApp dependency checks (connect when needed, then the queries), failed ones included',
      labelNames: ['dependency'],
      buckets: DURATION_BUCKETS,
      registers: [r],
    });
    this.redisConfigCorrections = new Counter({
      name: 'smartcloudops_redis_config_corrections_total',
      help: 'Redis settings put back with CONFIG SET after drift from spec.cache.config, by setting',
      labelNames: ['key'],
      registers: [r],
    });
    this.vacuumRuns = new Counter({
      name: 'smartcloudops_vacuum_analyze_runs_total',
      help: 'Scheduled VACUUM ANALYZE runs by result (Succeeded, Failed, Skipped: another run held the lock)',
      labelNames: ['result'],
      registers: [r],
    });
    this.vacuumDuration = new Histogram({
      name: 'smartcloudops_vacuum_analyze_duration_seconds',
      help: 'Duration of VACUUM ANALYZE runs',
      buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200],
      registers: [r],
    });
  }

  clientObserver(): ClientObserver {
    return {
      request: (o) => {
        this.restRequests.inc({ code: o.code, host: o.host, method: o.method });
        this.restDuration.observe({ verb: o.method, host: o.host }, o.seconds);
        this.kubeRequests.inc({ verb: o.verb, resource: resourceOfPath(o.path), code: o.code });
      },
      rateLimited: (verb, seconds) => this.rateLimiterDuration.observe({ verb, host: '' }, seconds),
    };
  }

  queueObserver(name: string): QueueObserver {
    const l = { name, controller: name };
    return {
      depth: (d) => this.queueDepth.set(l, d),
      added: () => this.queueAdds.inc(l),
      queued: (s) => this.queueDuration.observe(l, s),
      worked: (s) => this.workDuration.observe(l, s),
      retried: () => this.queueRetries.inc(l),
    };
  }

  trackQueue(name: string, q: WorkQueue): void {
    this.queues.set(name, q);
  }

  informerObserver(): InformerObserver {
    return {
      restarted: (informer, reason) => this.informerRestarts.inc({ informer, reason }),
      event: (informer) => this.informerEvents.inc({ informer }),
      listed: (informer) => this.informerLists.inc({ informer }),
    };
  }
}

/** "leases", "backupschedules/status"... from an API path, for the resource label. */
export function resourceOfPath(path: string): string {
  const segs = path.split('?')[0]!.split('/').filter(Boolean);
  // /api/v1/... or /apis/<group>/<version>/...
  let rest = segs[0] === 'api' ? segs.slice(2) : segs.slice(3);
  if (rest[0] === 'namespaces' && rest.length > 2) rest = rest.slice(2);
  const [plural, , sub] = rest;
  return sub ? `${plural}/${sub}` : (plural ?? '');
}
