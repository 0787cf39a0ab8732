// The SmartCloudOpsApp capability on the seam (runtime/children-capability.ts):
//   bind     → per manager: the HTTP health checker, the dependency source (dependencies.ts), the analysis source
//              (analysis.ts), the monitoring detector (monitoring.ts), the metrics; all stopped through deps.onStop.
//   prepare  → reads the caches (Secrets, the component pods) and the background runners' latest results, and decides
//              the rollout (rollout.ts, pure) — no API reads, no waiting on a check.
//   desired  → the children of the release the decision names (desired.ts), plus the monitoring children; undefined
//              (children left as they are) while the spec is invalid, paused, or a referenced Secret is missing.
//   status   → status.ts (pure); Events and metrics of the decision are recorded once per decision (a memo keyed by
//              the decision, so a reconcile from a cache that has not seen our status write records nothing twice).
// Watches: Secrets (a change of a referenced Secret reconciles its apps) and the component pods, scoped by the label
// selector POD_SELECTOR (crash loops and start failures are read from pod status; only our apps' pods are cached)
// and shrunk by POD_TRANSFORM (client-go's SetTransform) to what podFailures and the map read: labels, deletion and
// the container states — the pod spec and the rest of the status are never kept (a third of a kwok pod's bytes).
import { Counter, Gauge } from 'prom-client';
import { Reason, PAUSE_ANNOTATION, type SpecSuspendReason } from '../../crds/conditions.js';
import { resourceRefOf } from '../../crds/kinds.js';
import type { SmartCloudOpsAppSpec } from '../../crds/smartcloudopsapp.js';
import { validateSpec, type FieldError } from '../../crds/validate.js';
import { Resources, type KubeObject } from '../../kube/index.js';
import type { Capability, CapabilityLogic, Observed } from '../../runtime/children-capability.js';
import type { CachedChild } from '../../runtime/children.js';
import type { InformerSet, ControllerDeps } from '../../runtime/manager.js';
import type { Metrics } from '../../runtime/metrics.js';
import { ValidationMemo } from '../validation.js';
import { createAnalysisSource } from './analysis.js';
import type { AnalysisVerdict, AppObject, CheckResult, DependencySnapshot, MonitoringSupport } from './contracts.js';
import { createDependencySource } from './dependencies.js';
import { appChildren, childName, PodDisruptionBudgetRef, POD_SELECTOR, REVISION_LABEL } from './desired.js';
import { HealthChecker, type HealthTarget, type HttpGet } from './health.js';
import { createMonitoringDetector, monitoringChildren, PROMETHEUS_RULE, SERVICE_MONITOR } from './monitoring.js';
import {
  COMPONENTS,
  parseRelease,
  releaseOf,
  revisionOf,
  type ComponentName,
  type Release,
  type SecretKeys,
} from './revision.js';
import { decideRollout, type ComponentObservation, type RolloutDecision } from './rollout.js';
import { appStatus } from './status.js';

const APP = resourceRefOf('SmartCloudOpsApp');

export interface AppExt {
  errors: FieldError[];
  pausedByAnnotation: boolean;
  suspended: SpecSuspendReason | undefined;
  secretProblems: string[];
  components: ComponentObservation[];
  health: Partial<Record<ComponentName, CheckResult>>;
  deps: DependencySnapshot;
  analysis: AnalysisVerdict;
  support: MonitoringSupport;
  decision?: RolloutDecision;
  /** desired → undefined: leave the children as they are. */
  hold: boolean;
}

interface Pod extends KubeObject {
  status?: {
    phase?: string;
    containerStatuses?: {
      name: string;
      ready?: boolean;
      restartCount?: number;
      state?: { waiting?: { reason?: string; message?: string } };
      lastState?: { terminated?: { exitCode?: number; reason?: string } };
    }[];
  };
}

/** The parts of a Pod this controller reads (podFailures, podMap): what its cache keeps. */
export function podDigest(obj: KubeObject): KubeObject {
  const p = obj as Pod;
  const m = p.metadata;
  const metadata: KubeObject['metadata'] = {
    name: m.name,
    namespace: m.namespace,
    ...(m.uid ? { uid: m.uid } : {}),
    ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
    ...(m.labels ? { labels: m.labels } : {}),
    ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
  };
  const statuses = p.status?.containerStatuses?.map((c) => {
    const waiting = c.state?.waiting;
    const term = c.lastState?.terminated;
    return {
      name: c.name,
      ...(c.ready !== undefined ? { ready: c.ready } : {}),
      ...(c.restartCount !== undefined ? { restartCount: c.restartCount } : {}),
      ...(waiting ? { state: { waiting: { reason: waiting.reason, message: waiting.message } } } : {}),
      ...(term ? { lastState: { terminated: { exitCode: term.exitCode, reason: term.reason } } } : {}),
    };
  });
  return {
    apiVersion: p.apiVersion,
    kind: p.kind,
    metadata,
    status: {
      ...(p.status?.phase ? { phase: p.status.phase } : {}),
      ...(statuses ? { containerStatuses: statuses } : {}),
    },
  } as KubeObject;
}

/** The Pod cache's scope: our apps' pods, shrunk to podDigest. */
export const POD_TRANSFORM = { id: 'smartcloudopsapp-pod', fn: podDigest };

/** Waiting reasons that mean a container cannot start (besides CrashLoopBackOff). */
const START_FAILURES = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'ErrImageNeverPull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

/** Crash loops (CrashLoopBackOff, or ≥ 2 restarts after a failure) and start failures of pods, by revision. */
export function podFailures(pods: Pod[]): ComponentObservation['podFailures'] {
  const out: ComponentObservation['podFailures'] = [];
  for (const p of pods) {
    if (p.metadata.deletionTimestamp) continue;
    const revision = p.metadata.labels?.[REVISION_LABEL];
    for (const c of p.status?.containerStatuses ?? []) {
      const waiting = c.state?.waiting?.reason;
      const term = c.lastState?.terminated;
      if (waiting === 'CrashLoopBackOff' || ((c.restartCount ?? 0) >= 2 && term && term.exitCode !== 0)) {
        out.push({
          revision,
          reason: 'CrashLooping',
          message: `pod ${p.metadata.name} is crash-looping (${c.restartCount ?? 0} restarts${term?.exitCode !== undefined ? `, last exit code ${term.exitCode}` : ''})`,
        });
      } else if (waiting && START_FAILURES.has(waiting)) {
        out.push({
          revision,
          reason: 'PodsFailing',
          message: `pod ${p.metadata.name} cannot start: ${waiting}${c.state?.waiting?.message ? ` (${c.state.waiting.message.slice(0, 200)})` : ''}`,
        });
      }
    }
  }
  return out;
}

interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  conditions?: { type: string; status: string; reason?: string }[];
}

export function observeComponent(
  name: ComponentName,
  d: CachedChild | undefined,
  pods: Pod[],
  imageOfRevision: (rev: string | undefined) => string | undefined,
): ComponentObservation {
  const s = (d?.status ?? {}) as DeploymentStatus;
  const revision = d?.metadata.labels?.[REVISION_LABEL];
  const image = imageOfRevision(revision);
  return {
    name,
    exists: !!d,
    ...(revision ? { revision } : {}),
    ...(image ? { image } : {}),
    observedCurrent: !!d && (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0),
    replicas: Number(d?.spec?.replicas ?? 0),
    statusReplicas: s.replicas ?? 0,
    updatedReplicas: s.updatedReplicas ?? 0,
    readyReplicas: s.readyReplicas ?? 0,
    availableReplicas: s.availableReplicas ?? 0,
    progressDeadlineExceeded: !!s.conditions?.some(
      (c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded',
    ),
    podFailures: podFailures(pods),
  };
}

/** The key names of a Secret in the cache (never its values), or undefined when it is not there. */
function secretKeys(secrets: InformerSet, ns: string | undefined, name: string): string[] | undefined {
  const s = secrets.get(ns, name) as
    (KubeObject & { data?: Record<string, unknown>; stringData?: Record<string, unknown> }) | undefined;
  if (!s) return undefined;
  return [...new Set([...Object.keys(s.data ?? {}), ...Object.keys(s.stringData ?? {})])].sort();
}

export function secretProblemsOf(spec: SmartCloudOpsAppSpec, keys: SecretKeys): string[] {
  const out: string[] = [];
  const check = (field: string, name: string, k: string[] | undefined) => {
    if (!k) out.push(`Secret ${name} (${field}) not found`);
    else if (!k.includes('uri') && !k.includes('host'))
      out.push(`Secret ${name} (${field}) has neither a "uri" nor a "host" key`);
  };
  check('spec.database.secretRef', spec.database.secretRef.name, keys.database);
  if (spec.cache) check('spec.cache.secretRef', spec.cache.secretRef.name, keys.cache);
  return out;
}

export interface AppCapabilityOptions {
  /** Checks beyond the schema (controller.ts' `semantic`), on the spec with defaults applied. */
  semantic?: (obj: AppObject, spec: SmartCloudOpsAppSpec) => FieldError[];
  /** The HTTP GET of the health checks (tests inject one). */
  httpGet?: HttpGet;
  /** Period of the PostgreSQL and Redis checks (default 30 s; tests set it short). */
  dependencyIntervalMs?: number;
}

/** Options from the environment (test tuning only): SCO_APP_DEPENDENCY_INTERVAL_MS. */
export function appOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Pick<AppCapabilityOptions, 'dependencyIntervalMs'> {
  const n = Number(env.SCO_APP_DEPENDENCY_INTERVAL_MS);
  return env.SCO_APP_DEPENDENCY_INTERVAL_MS && Number.isFinite(n) && n >= 100 ? { dependencyIntervalMs: n } : {};
}

class AppMetrics {
  readonly rollbacks: Counter<'reason' | 'trigger'>;
  readonly revision: Gauge<'namespace' | 'app' | 'revision' | 'version'>;
  private readonly shown = new Map<string, { revision: string; version: string }>();
  constructor(m: Metrics) {
    const r = m.registry;
    this.rollbacks =
      (r.getSingleMetric('smartcloudops_app_rollbacks_total') as Counter<'reason' | 'trigger'> | undefined) ??
      new Counter({
        name: 'smartcloudops_app_rollbacks_total',
        help: 'SmartCloudOpsApp rollbacks decided, by reason (ProgressDeadlineExceeded, CrashLooping, PodsFailing, HealthCheckFailing, AnalysisFailing, AnalysisInconclusive, ManualRollback) and trigger (auto, manual)',
        labelNames: ['reason', 'trigger'],
        registers: [r],
      });
    this.revision =
      (r.getSingleMetric('smartcloudops_app_revision_info') as
        Gauge<'namespace' | 'app' | 'revision' | 'version'> | undefined) ??
      new Gauge({
        name: 'smartcloudops_app_revision_info',
        help: 'The revision (and version) each SmartCloudOpsApp runs; value 1',
        labelNames: ['namespace', 'app', 'revision', 'version'],
        registers: [r],
      });
  }
  setRevision(ns: string, app: string, revision: string, version: string): void {
    const key = `${ns}/${app}`;
    const old = this.shown.get(key);
    if (old && old.revision === revision && old.version === version) return;
    if (old) this.revision.remove({ namespace: ns, app, revision: old.revision, version: old.version });
    this.revision.set({ namespace: ns, app, revision, version }, 1);
    this.shown.set(key, { revision, version });
  }
  forget(ns: string, app: string): void {
    const old = this.shown.get(`${ns}/${app}`);
    if (old) this.revision.remove({ namespace: ns, app, revision: old.revision, version: old.version });
    this.shown.delete(`${ns}/${app}`);
  }
}

/** Event keys recorded per object (bounded), so one decision is recorded once. */
class Recorded {
  private readonly byObj = new Map<string, string[]>();
  firstTime(obj: string, key: string): boolean {
    const list = this.byObj.get(obj) ?? [];
    if (list.includes(key)) return false;
    list.push(key);
    if (list.length > 64) list.shift();
    this.byObj.set(obj, list);
    return true;
  }
  forget(obj: string): void {
    this.byObj.delete(obj);
  }
}

type ValidationWithSpec = {
  errors: FieldError[];
  suspended: SpecSuspendReason | undefined;
  spec: SmartCloudOpsAppSpec;
};

export function appCapability(opts: AppCapabilityOptions = {}): Capability<AppObject, AppExt> {
  // The app caches of the managers this capability is bound to (a Secret maps to the apps that reference it).
  const appCaches = new Set<InformerSet>();
  const secretMap = (secret: KubeObject): string[] => {
    const ns = secret.metadata.namespace;
    const keys: string[] = [];
    for (const cache of appCaches) {
      for (const a of cache.list(ns) as AppObject[]) {
        const s = a.spec;
        if (
          s?.database?.secretRef?.name === secret.metadata.name ||
          s?.cache?.secretRef?.name === secret.metadata.name
        ) {
          keys.push(`${a.metadata.namespace}/${a.metadata.name}`);
        }
      }
    }
    return keys;
  };
  const podMap = (pod: KubeObject): string[] => {
    const app = pod.metadata.labels?.['app.kubernetes.io/instance'];
    return app ? [`${pod.metadata.namespace}/${app}`] : [];
  };

  const cap: Capability<AppObject, AppExt> = {
    name: 'smartcloudopsapp',
    for: APP,
    owns: [Resources.Deployment, Resources.Service, PodDisruptionBudgetRef],
    // The Prometheus Operator's kinds, owned only while the API server serves them (monitoring.ts).
    ownsOptional: [PROMETHEUS_RULE, SERVICE_MONITOR],
    watches: [
      { resource: Resources.Secret, map: secretMap },
      { resource: Resources.Pod, labelSelector: POD_SELECTOR, transform: POD_TRANSFORM, map: podMap },
    ],
    desired: () => undefined,
    status: () => ({ status: {} }),
    bind: (deps) => bindApp(deps, opts, appCaches),
  };
  return cap;
}

function bindApp(
  deps: ControllerDeps,
  opts: AppCapabilityOptions,
  appCaches: Set<InformerSet>,
): CapabilityLogic<AppObject, AppExt> {
  appCaches.add(deps.cache);
  const secrets = deps.informer(Resources.Secret);
  // The cache the Pod watch fills (scoped to our apps' pods), not a second cache of every Pod.
  const pods = deps.informer(Resources.Pod, { labelSelector: POD_SELECTOR, transform: POD_TRANSFORM });
  const enqueue = (key: string) => deps.enqueue(key);
  const health = new HealthChecker({ clock: deps.clock, enqueue, ...(opts.httpGet ? { get: opts.httpGet } : {}) });
  const sourceDeps = {
    clock: deps.clock,
    log: deps.log,
    metrics: deps.metrics,
    events: deps.events,
    secrets: (ns: string, name: string) => secrets.get(ns, name),
    enqueue,
  };
  const dependencies = createDependencySource(
    sourceDeps,
    opts.dependencyIntervalMs
      ? { postgresIntervalMs: opts.dependencyIntervalMs, redisIntervalMs: opts.dependencyIntervalMs }
      : undefined,
  );
  const analysis = createAnalysisSource(sourceDeps);
  const monitoring = createMonitoringDetector({
    served: deps.servedKinds(),
    enqueueAll: () => {
      for (const a of deps.cache.list()) enqueue(`${a.metadata.namespace}/${a.metadata.name}`);
    },
  });
  const metrics = new AppMetrics(deps.metrics);
  const recorded = new Recorded();
  const uids = new Map<string, string>();
  const memo = new ValidationMemo<AppObject>((obj) => {
    const { spec, errors } = validateSpec<SmartCloudOpsAppSpec>('SmartCloudOpsApp', obj.spec);
    if (errors.length === 0) errors.push(...(opts.semantic?.(obj, spec) ?? []));
    return { errors, suspended: spec.paused ? Reason.SpecPaused : undefined, spec } as ValidationWithSpec;
  });
  deps.onStop(async () => {
    appCaches.delete(deps.cache);
    await Promise.all([health.stop(), dependencies.stop(), analysis.stop(), monitoring.stop()]);
  });

  const forgetUid = (uid: string | undefined) => {
    if (!uid) return;
    health.forget(uid);
    dependencies.forget(uid);
    analysis.forget(uid);
    recorded.forget(uid);
  };

  return {
    for: APP,
    owns: [Resources.Deployment, Resources.Service, PodDisruptionBudgetRef],
    ownsOptional: [PROMETHEUS_RULE, SERVICE_MONITOR],
    forget: (ns, name) => {
      const key = `${ns}/${name}`;
      memo.forget(ns, name);
      metrics.forget(ns, name);
      forgetUid(uids.get(key));
      uids.delete(key);
    },

    prepare: async (obj, observed) => {
      const ns = obj.metadata.namespace as string;
      const name = obj.metadata.name as string;
      const uid = obj.metadata.uid as string;
      const key = `${ns}/${name}`;
      const prevUid = uids.get(key);
      if (prevUid && prevUid !== uid) forgetUid(prevUid);
      uids.set(key, uid);
      const v = memo.outcome(obj) as ValidationWithSpec;
      const pausedByAnnotation = obj.metadata.annotations?.[PAUSE_ANNOTATION] === 'true';
      const base: AppExt = {
        errors: v.errors,
        pausedByAnnotation,
        suspended: v.suspended,
        secretProblems: [],
        components: [],
        health: {},
        deps: { checks: [] },
        analysis: { state: 'NotConfigured', reason: 'NotConfigured', message: 'no spec.rollout.analysis' },
        support: { prometheusRule: false, serviceMonitor: false },
        hold: true,
      };
      if (v.errors.length || pausedByAnnotation) {
        forgetUid(uid);
        return base;
      }
      const spec = v.spec;
      const keys: SecretKeys = {
        database: secretKeys(secrets, ns, spec.database.secretRef.name),
        ...(spec.cache ? { cache: secretKeys(secrets, ns, spec.cache.secretRef.name) } : {}),
      };
      const secretProblems = secretProblemsOf(spec, keys);
      const specRelease = releaseOf(spec, keys);
      const specRevision = revisionOf(specRelease);
      const prev = obj.status;
      const releaseOfRevision = (rev: string | undefined): Release | undefined =>
        rev === specRevision ? specRelease : parseRelease(prev?.history?.find((h) => h.revision === rev)?.release);
      const appPods = (pods.list(ns) as Pod[]).filter(
        (p) => p.metadata.labels?.['app.kubernetes.io/instance'] === name,
      );
      const components = COMPONENTS.map((c) =>
        observeComponent(
          c,
          observed.get('Deployment', childName(name, c), 'apps'),
          appPods.filter((p) => p.metadata.labels?.['app.kubernetes.io/component'] === c),
          (rev) => releaseOfRevision(rev)?.[c].image,
        ),
      );
      // Health checks of what runs now (the running revision's port and path, through the Service's ClusterIP).
      const running = releaseOfRevision(prev?.currentRevision) ?? specRelease;
      const targets: HealthTarget[] = COMPONENTS.map((c) => {
        const svc = observed.get('Service', childName(name, c));
        const ip = svc?.spec?.clusterIP as string | undefined;
        const comp = components.find((x) => x.name === c) as ComponentObservation;
        if (!ip || ip === 'None') return { name: c, reason: 'NoServiceAddress' };
        if (comp.availableReplicas < 1) return { name: c, reason: 'NoAvailablePods' };
        const host = ip.includes(':') ? `[${ip}]` : ip;
        return { name: c, url: `http://${host}:${running[c].port}${running[c].healthPath}` };
      });
      const hc = spec.healthCheck ?? {};
      const results = health.observe(uid, key, targets, {
        intervalMs: (hc.intervalSeconds ?? 15) * 1000,
        timeoutMs: (hc.timeoutSeconds ?? 3) * 1000,
      });
      const healthBy: AppExt['health'] = {};
      for (const c of COMPONENTS) {
        const r = results.get(c);
        if (r) healthBy[c] = r;
      }
      const depsSnap = dependencies.observe(obj);
      const r = prev?.rollout;
      let verdict: AnalysisVerdict = base.analysis;
      if (spec.rollout?.analysis) {
        verdict =
          r && r.state === 'Baking' && r.revision === prev?.currentRevision
            ? analysis.observe(obj, r.revision, new Date(r.availableAt ?? r.startedAt))
            : prev?.analysis
              ? { ...prev.analysis }
              : { state: 'Unknown', reason: 'NotBaking', message: 'no revision is baking' };
      }
      const support = monitoring.current();
      const ext: AppExt = {
        ...base,
        secretProblems,
        components,
        health: healthBy,
        deps: depsSnap,
        analysis: verdict,
        support,
        hold: secretProblems.length > 0 || !!v.suspended,
      };
      if (ext.hold) return ext;
      ext.decision = decideRollout({
        now: deps.clock.now(),
        ...(obj.metadata.generation !== undefined ? { generation: obj.metadata.generation } : {}),
        spec,
        specRelease,
        specRevision,
        prev,
        annotations: obj.metadata.annotations,
        components,
        health: healthBy,
        analysis: verdict,
      });
      return ext;
    },

    desired: (obj, _observed: Observed, ext) => {
      if (ext.hold || !ext.decision) return undefined;
      const spec = (memo.outcome(obj) as ValidationWithSpec).spec;
      return [
        ...appChildren({
          name: obj.metadata.name as string,
          spec,
          release: ext.decision.release,
          revision: ext.decision.revision,
        }),
        ...monitoringChildren(obj, ext.support),
      ];
    },

    status: (obj, _observed, observations, ext) => {
      const spec = obj.spec;
      const { status, invalidEvent } = appStatus({
        name: obj.metadata.name as string,
        now: observations.now,
        generation: obj.metadata.generation,
        previous: obj.status,
        errors: ext.errors,
        pausedByAnnotation: ext.pausedByAnnotation,
        suspended: ext.suspended,
        secretProblems: ext.secretProblems,
        components: ext.components,
        health: ext.health,
        ...(ext.decision ? { decision: ext.decision } : {}),
        deps: ext.deps,
        analysis: ext.analysis,
        monitoring: {
          wanted: spec?.monitoring?.prometheusRule !== false || spec?.monitoring?.serviceMonitor !== false,
          support: ext.support,
        },
        yielded: observations.yielded,
      });
      if (invalidEvent) {
        return {
          status,
          event: { type: 'Warning', reason: Reason.InvalidSpec, message: invalidEvent },
          terminal: `invalid spec: ${invalidEvent}`,
        };
      }
      const uid = obj.metadata.uid as string;
      const d = ext.decision;
      if (d) {
        for (const e of d.events) {
          if (recorded.firstTime(uid, e.key)) {
            deps.events.event(obj, e.type, e.reason, e.message);
            if (e.reason === 'RollbackStarted' && d.rollbackStarted) {
              metrics.rollbacks.inc({
                reason: d.rollbackStarted.reason,
                trigger: d.rollbackStarted.manual ? 'manual' : 'auto',
              });
            }
          }
        }
        metrics.setRevision(
          obj.metadata.namespace as string,
          obj.metadata.name as string,
          d.revision,
          d.release.version,
        );
      }
      for (const e of ext.deps.events ?? []) {
        if (recorded.firstTime(uid, `deps/${e.key}`)) deps.events.event(obj, e.type, e.reason, e.message);
      }
      if (ext.secretProblems.length && recorded.firstTime(uid, `secret/${ext.secretProblems.join(';')}`)) {
        deps.events.event(obj, 'Warning', 'SecretMissing', ext.secretProblems.join('; '));
      }
      return { status, ...(requeueOf(ext, spec, observations.now) ?? {}) };
    },
  };
}

/** When to look again without an event: a rollback to act on, the bake's end, the progress deadline. */
function requeueOf(ext: AppExt, spec: SmartCloudOpsAppSpec, now: Date): { requeueAfterMs: number } | undefined {
  const d = ext.decision;
  if (!d) return undefined;
  const times: number[] = [];
  if (d.requeueAfterMs !== undefined) times.push(d.requeueAfterMs);
  const r = d.fields.rollout;
  if (r && r.state === 'Progressing' && !d.fields.rollback) {
    const deadline = Date.parse(r.startedAt) + (spec.rollout?.progressDeadlineSeconds ?? 600) * 1000 - now.getTime();
    times.push(Math.max(deadline, 0) + 1000);
  }
  if (!times.length) return undefined;
  return { requeueAfterMs: Math.max(1, Math.min(...times)) };
}
