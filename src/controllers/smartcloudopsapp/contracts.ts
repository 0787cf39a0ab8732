// The contracts between the parts of the SmartCloudOpsApp capability that are built apart:
//   - the capability (controller.ts, desired.ts, revision.ts, rollout.ts, status.ts): children, revisions,
//     promotion and rollback, status; it calls the sources below from its `prepare` and reads their snapshots;
//   - dependencies.ts: PostgreSQL and Redis checks, Redis tuning (CONFIG SET), VACUUM ANALYZE, as a background
//     runner per app (interval + timeout per check, never a hot loop) that enqueues the app when a result changes;
//   - analysis.ts: the Prometheus analysis of a revision during its bake window (5xx ratio, p95 latency);
//   - monitoring.ts: the PrometheusRule and ServiceMonitor children, when the Prometheus Operator CRDs exist.
// Types only (and the one factory signature each part exports); no behaviour lives here.
import type { KubeObject } from '../../kube/index.js';
import type { Clock } from '../../runtime/clock.js';
import type { Logger } from '../../runtime/logger.js';
import type { Metrics } from '../../runtime/metrics.js';
import type { EventRecorder } from '../../runtime/events.js';
import type { SmartCloudOpsAppSpec, SmartCloudOpsAppStatus } from '../../crds/smartcloudopsapp.js';

export type AppObject = KubeObject & { spec: SmartCloudOpsAppSpec; status?: SmartCloudOpsAppStatus };

/** Reads a Secret from the operator's cache (never the API, never logged, never copied into a spec or status). */
export type SecretReader = (namespace: string, name: string) => KubeObject | undefined;

/** The latest result of one check. */
export interface CheckResult {
  /** `backend`, `frontend` (HTTP through the component's Service), `postgres`, `redis`. */
  name: string;
  kind: 'http' | 'postgres' | 'redis';
  ok: boolean;
  /** CamelCase: Healthy, Timeout, ConnectionRefused, AuthenticationFailed, SecretMissing, SecretKeyMissing,
   *  HttpStatus, ConnectionSaturation (ok stays true, warning true), ... */
  reason: string;
  /** One human line; never a secret, a password or a full connection URI. */
  message: string;
  /** RFC 3339. */
  checkedAt: string;
  latencyMs?: number;
  /** Passing but past a warning threshold (connections in use ≥ connectionWarnPercent of max_connections). */
  warning?: boolean;
  /** Numbers worth showing: PostgreSQL {connectionsInUse, maxConnections}, HTTP {statusCode}. */
  details?: Record<string, number | string>;
}

export interface RedisConfigDrift {
  key: string;
  live: string;
  want: string;
}

export interface DependencySnapshot {
  /** postgres and (with spec.cache) redis; a check not run yet is absent. */
  checks: CheckResult[];
  /** spec.cache.config against the live CONFIG GET; drift found is corrected with CONFIG SET and reported once. */
  redisConfig?: { inSync: boolean; drift: RedisConfigDrift[]; lastCorrectedAt?: string; message: string };
  /** VACUUM ANALYZE on spec.maintenance.vacuumAnalyzeSchedule (never two at once). */
  maintenance?: {
    running: boolean;
    nextRunAt?: string;
    lastRun?: {
      startedAt: string;
      finishedAt: string;
      durationMs: number;
      result: 'Succeeded' | 'Failed';
      message: string;
    };
  };
  /** The last VACUUM ANALYZE slot not run because another run held it (this app's previous run, or another replica
   *  or app on the same database through the advisory lock). Kept apart from `maintenance`, which status copies. */
  vacuumSkipped?: { at: string; message: string };
  /** An Event the capability should record once (drift corrected, maintenance failed), keyed to dedupe. */
  events?: { key: string; type: 'Normal' | 'Warning'; reason: string; message: string }[];
}

export interface DependencySource {
  /** Starts or updates the background checks for this app (cheap, idempotent) and returns the latest snapshot. */
  observe(app: AppObject): DependencySnapshot;
  /** The app is gone or paused: stop its checks and drop its state. */
  forget(uid: string): void;
  stop(): Promise<void>;
}

export interface SourceDeps {
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  events: EventRecorder;
  secrets: SecretReader;
  /** Reconcile the app (namespace/name) now: a result changed. */
  enqueue(key: string): void;
}

export type CreateDependencySource = (deps: SourceDeps) => DependencySource;

export interface AnalysisVerdict {
  /** NotConfigured: no spec.rollout.analysis. Unknown: no data yet or Prometheus unreachable (never a pass). */
  state: 'Passing' | 'Failing' | 'Unknown' | 'NotConfigured';
  errorRate?: number;
  p95LatencyMs?: number;
  /** ErrorRateHigh, LatencyHigh, NoData, PrometheusUnavailable, WithinThresholds, ... */
  reason: string;
  message: string;
  checkedAt?: string;
  /** The revision this verdict is about (status.analysis.revision), when it is about one. */
  revision?: string;
}

export interface AnalysisSource {
  /** The verdict on `revision` over [since, now] (queries run in the background; this returns the latest). */
  observe(app: AppObject, revision: string, since: Date): AnalysisVerdict;
  forget(uid: string): void;
  stop(): Promise<void>;
}

export type CreateAnalysisSource = (deps: SourceDeps) => AnalysisSource;

/** Which Prometheus Operator kinds the API server serves right now. */
export interface MonitoringSupport {
  prometheusRule: boolean;
  serviceMonitor: boolean;
}
