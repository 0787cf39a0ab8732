// Operator configuration: flags, then environment variables, then defaults. Every bad value is reported with the
// flag that carries it.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { parseDuration } from './crds/validate.js';
import { parseAddr } from './runtime/manager.js';

interface Flag {
  env: string;
  default: string;
  help: string;
  type?: 'boolean';
}

const FLAGS: Record<string, Flag> = {
  kubeconfig: {
    env: 'KUBECONFIG',
    default: '',
    help: "Kubeconfig path(s), ':'-separated and merged as kubectl does; in-cluster config when empty",
  },
  context: { env: 'KUBE_CONTEXT', default: '', help: 'Kubeconfig context to use instead of current-context' },
  namespaces: { env: 'WATCH_NAMESPACES', default: '', help: 'Comma-separated namespaces to watch; all when empty' },
  'leader-elect': { env: 'LEADER_ELECT', default: 'true', help: 'Elect a leader through a Lease (true|false)' },
  'leader-elect-namespace': {
    env: 'POD_NAMESPACE',
    default: 'smartcloudops-system',
    help: 'Namespace of the leader election Lease',
  },
  'leader-elect-id': { env: 'LEADER_ELECT_ID', default: 'smartcloudops-operator-leader', help: 'Name of the Lease' },
  'leader-elect-lease-duration': {
    env: 'LEADER_ELECT_LEASE_DURATION',
    default: '60s',
    help: 'How long a Lease is valid',
  },
  'leader-elect-renew-deadline': {
    env: 'LEADER_ELECT_RENEW_DEADLINE',
    default: '40s',
    help: 'The leader gives up when it could not renew within this',
  },
  'leader-elect-retry-period': {
    env: 'LEADER_ELECT_RETRY_PERIOD',
    default: '15s',
    help: 'How often to try to acquire or renew',
  },
  identity: { env: 'POD_NAME', default: '', help: 'Identity in the Lease; hostname_pid when empty' },
  'metrics-bind-address': { env: 'METRICS_BIND_ADDRESS', default: ':8080', help: 'Address of /metrics; 0 disables' },
  'health-probe-bind-address': {
    env: 'HEALTH_PROBE_BIND_ADDRESS',
    default: ':8081',
    help: 'Address of /healthz and /readyz; 0 disables',
  },
  'log-level': { env: 'LOG_LEVEL', default: 'info', help: 'trace|debug|info|warn|error|silent' },
  concurrency: { env: 'MAX_CONCURRENT_RECONCILES', default: '4', help: 'Workers per controller' },
  'kube-api-qps': { env: 'KUBE_API_QPS', default: '50', help: 'Client-side rate limit, requests per second' },
  'kube-api-burst': { env: 'KUBE_API_BURST', default: '100', help: 'Client-side rate limit burst' },
  'resync-period': { env: 'RESYNC_PERIOD', default: '10m', help: 'Periodic re-reconcile of every object' },
  'shutdown-timeout': {
    env: 'SHUTDOWN_TIMEOUT',
    default: '20s',
    help: 'Bound of the whole graceful shutdown (keep it below the pod terminationGracePeriodSeconds)',
  },
  'agent-image': {
    env: 'SCO_OPERATOR_IMAGE',
    default: '',
    help: "Image of the backup agent run by BackupSchedule Jobs: the operator's own image",
  },
  'cache-sync-timeout': {
    env: 'CACHE_SYNC_TIMEOUT',
    default: '2m',
    help: 'Exit non-zero when the caches have not synced within this',
  },
};

export function usage(): string {
  const lines = Object.entries(FLAGS).map(
    ([k, f]) => `  --${k.padEnd(30)} ${f.help} (env ${f.env}, default "${f.default}")`,
  );
  return `Usage: smartcloudops-operator [flags]\n${lines.join('\n')}\n  --help`;
}

export interface Config {
  kubeconfig?: string;
  context?: string;
  namespaces: string[];
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  identity: string;
  metricsAddr: string;
  healthAddr: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
  concurrency: number;
  qps: number;
  burst: number;
  resyncMs: number;
  shutdownTimeoutMs: number;
  cacheSyncTimeoutMs: number;
  /** The operator's own image, for backup Jobs; empty when unknown. */
  agentImage: string;
}

export class ConfigError extends Error {}

/** Flags, then environment, then defaults. Every bad value is reported with the flag that carries it. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): Config | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(Object.keys(FLAGS).map((k) => [k, { type: 'string' as const }])),
      help: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const get = (k: string): string => {
    const v = (values as Record<string, string | undefined>)[k];
    const f = FLAGS[k] as Flag;
    return v ?? env[f.env] ?? f.default;
  };
  const dur = (k: string) => {
    const ms = parseDuration(get(k));
    if (ms === undefined || ms <= 0)
      throw new ConfigError(`--${k}: "${get(k)}" is not a positive duration (e.g. 15s, 1m)`);
    return ms;
  };
  const int = (k: string, min: number, max: number) => {
    const n = Number(get(k));
    if (!Number.isInteger(n) || n < min || n > max)
      throw new ConfigError(`--${k}: "${get(k)}" must be an integer from ${min} to ${max}`);
    return n;
  };
  const bool = (k: string) => {
    const v = get(k).toLowerCase();
    if (v !== 'true' && v !== 'false') throw new ConfigError(`--${k}: "${get(k)}" must be true or false`);
    return v === 'true';
  };
  const addr = (k: string) => {
    const v = get(k);
    if (v !== '0') {
      try {
        parseAddr(v);
      } catch {
        throw new ConfigError(`--${k}: "${v}" is not host:port, :port or 0`);
      }
    }
    return v;
  };
  const level = get('log-level');
  if (!['trace', 'debug', 'info', 'warn', 'error', 'silent'].includes(level)) {
    throw new ConfigError(`--log-level: "${level}" must be one of trace, debug, info, warn, error, silent`);
  }
  const namespaces = get('namespaces')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const ns of namespaces) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns) || ns.length > 63) {
      throw new ConfigError(`--namespaces: "${ns}" is not a valid namespace name`);
    }
  }
  const cfg: Config = {
    kubeconfig: get('kubeconfig') || undefined,
    context: get('context') || undefined,
    namespaces,
    leaderElect: bool('leader-elect'),
    leaseNamespace: get('leader-elect-namespace'),
    leaseName: get('leader-elect-id'),
    leaseDurationMs: dur('leader-elect-lease-duration'),
    renewDeadlineMs: dur('leader-elect-renew-deadline'),
    retryPeriodMs: dur('leader-elect-retry-period'),
    identity: get('identity') || `${os.hostname()}_${process.pid}`,
    metricsAddr: addr('metrics-bind-address'),
    healthAddr: addr('health-probe-bind-address'),
    logLevel: level as Config['logLevel'],
    concurrency: int('concurrency', 1, 256),
    qps: int('kube-api-qps', 1, 10_000),
    burst: int('kube-api-burst', 1, 20_000),
    resyncMs: dur('resync-period'),
    shutdownTimeoutMs: dur('shutdown-timeout'),
    cacheSyncTimeoutMs: dur('cache-sync-timeout'),
    agentImage: get('agent-image'),
  };
  if (!(cfg.leaseDurationMs > cfg.renewDeadlineMs && cfg.renewDeadlineMs > cfg.retryPeriodMs)) {
    throw new ConfigError(
      '--leader-elect-lease-duration must exceed --leader-elect-renew-deadline, which must exceed --leader-elect-retry-period',
    );
  }
  return cfg;
}
