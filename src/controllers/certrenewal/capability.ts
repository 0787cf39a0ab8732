// CertRenewal on the capability seam (runtime/children-capability.ts). It has no children; `prepare` does the
// bounded I/O and the effects that are not children, `status` is pure:
//   prepare  reads the targets from label-scoped caches (cert-manager Certificates; kubernetes.io/tls Secrets labelled
//            by cert-manager `controller.cert-manager.io/fao=true` or by the user `ops.smartcloudops.ai/certrenewal=
//            true` — only those Secrets are cached, never all Secrets of a namespace), triggers due renewals the way
//            `cmctl renew` does (Issuing=True/ManuallyTriggered through the Certificate's status subresource with
//            optimistic concurrency; certmanager.ts), restarts the reloadWorkloads after a renewal (a strategic merge
//            patch with its own field manager, as `kubectl rollout restart`; plan.ts) and probes the endpoints when a
//            probe is due (probe.ts: TLS handshake only, short timeout, SNI, no redirects, no credentials).
//   status   policy.ts' summary + the ConsumersReloaded condition + the status contract (controllers/status.ts).
// Caches: informers requested while running start at once (controller-runtime's dynamic watches, as `Watch` on a
// started controller); the Certificate cache is requested only when a CertRenewal names a Certificate, so clusters
// without cert-manager's CRDs are not affected. Requeue at the next interesting time (policy.ts nextRequeue, probe
// backoff), never a polling loop. Key material is never logged nor written to status: only serials and dates.
import { Gauge } from 'prom-client';
import { PAUSE_ANNOTATION, Reason } from '../../crds/conditions.js';
import type { CertRenewalSpec, CertRenewalStatus } from '../../crds/certrenewal.js';
import { resourceRefOf } from '../../crds/kinds.js';
import { validateSpec } from '../../crds/validate.js';
import { isNotFound, KubeApiError, Resources, type KubeObject, type ResourceRef } from '../../kube/index.js';
import { rfc3339 } from '../../runtime/clock.js';
import type { Capability, CapabilityLogic, StatusOutcome } from '../../runtime/children-capability.js';
import { setConditions, type ConditionInput } from '../../runtime/conditions.js';
import type { ReconcileContext } from '../../runtime/controller.js';
import type { ControllerDeps, InformerSet } from '../../runtime/manager.js';
import type { CustomObject } from '../base.js';
import { decideStatus, type Readiness } from '../status.js';
import { ValidationMemo } from '../validation.js';
import {
  baselineOf,
  manualRenewalPatch,
  observeCertificate,
  observeSecret,
  renewalOutcome,
  type CertificateLike,
  type RenewalBaseline,
} from './certmanager.js';
import { semantic } from './semantic.js';
import {
  consumersReloadedCondition,
  DEFAULT_PROBE_TIMING,
  endpointId,
  nextProbeTime,
  probeDue,
  probeStamp,
  RELOAD_FIELD_MANAGER,
  reloadPlan,
  restartPatch,
  roundFailed,
  type EndpointResult,
  type ProbeAssignment,
  type ProbeMemo,
  type ProbeTiming,
  type ReloadPlan,
} from './plan.js';
import {
  assignEndpoints,
  policyFromSpec,
  summarize,
  CertReason,
  type CertObservation,
  type CertRenewalSummary,
  type RenewalPolicy,
} from './policy.js';
import { probeTls, type ProbeOptions, type ProbeResult, type ProbeTarget } from './probe.js';
import type { SecretLike } from './x509.js';

export const CERTIFICATE: ResourceRef = {
  group: 'cert-manager.io',
  version: 'v1',
  plural: 'certificates',
  kind: 'Certificate',
  namespaced: true,
};
/** cert-manager labels every Secret it writes (apis/certmanager/v1 PartOfCertManagerControllerLabelKey). */
export const CERT_MANAGER_SECRET_SELECTOR = 'controller.cert-manager.io/fao=true';
/** A plain kubernetes.io/tls Secret named by a secretRef must carry this label to be seen (Secrets are not all cached). */
export const WATCH_LABEL = 'ops.smartcloudops.ai/certrenewal';
export const WATCHED_SECRET_SELECTOR = `${WATCH_LABEL}=true`;
export const NOT_AFTER_METRIC = 'smartcloudops_certrenewal_not_after_timestamp_seconds';
export const RENEWALS_METRIC = 'smartcloudops_certrenewal_renewals_triggered_total';

const WORKLOADS: Record<'Deployment' | 'StatefulSet' | 'DaemonSet', ResourceRef> = {
  Deployment: Resources.Deployment,
  StatefulSet: Resources.StatefulSet,
  DaemonSet: { group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true },
};

type CertRenewalObject = CustomObject<CertRenewalSpec> & { status?: CertRenewalStatus };

export interface CertRenewalOptions {
  /** Overrides of the renewal policy (tests shorten backoff, storm guard, requeue bounds). */
  policy?: Partial<RenewalPolicy>;
  probeTiming?: ProbeTiming;
  probe?: ProbeOptions;
  /** How long a reconcile waits for a newly requested cache to sync. */
  cacheSyncWaitMs?: number;
  /** How long a triggered renewal is not triggered again while the cache has not seen cert-manager react. */
  triggerGraceMs?: number;
  /** Probe implementation (tests). */
  probeFn?: (target: ProbeTarget, opts: ProbeOptions) => Promise<ProbeResult>;
}

/** Reads options from the environment (the operator's process): all optional, for tests and tuning. */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): CertRenewalOptions {
  const num = (k: string): number | undefined => {
    const v = env[k];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    return Number.isFinite(n) && n >= 0 ? n : undefined;
  };
  const policy: Partial<RenewalPolicy> = {};
  const minCertAge = num('SCO_CERT_MIN_CERT_AGE_MS');
  if (minCertAge !== undefined) policy.minCertAgeMs = minCertAge;
  const minRequeue = num('SCO_CERT_MIN_REQUEUE_MS');
  if (minRequeue !== undefined) policy.minRequeueMs = minRequeue;
  const jitter = num('SCO_CERT_JITTER_FRACTION');
  if (jitter !== undefined) policy.jitterFraction = jitter;
  const timing = { ...DEFAULT_PROBE_TIMING };
  const interval = num('SCO_CERT_PROBE_INTERVAL_MS');
  if (interval !== undefined) timing.intervalMs = interval;
  const timeout = num('SCO_CERT_PROBE_TIMEOUT_MS');
  return { policy, probeTiming: timing, ...(timeout !== undefined ? { probe: { timeoutMs: timeout } } : {}) };
}

/** What prepare found and did, for status. */
export interface CertExt {
  valid: boolean;
  paused: boolean;
  observations: CertObservation[];
  summary?: CertRenewalSummary;
  results: EndpointResult[];
  reload?: ReloadPlan;
  restarted: boolean;
  restartError?: string;
  triggered: string[];
  renewalsTriggered: Record<string, number>;
  cacheProblem?: string;
  /** A Warning Event to record: a certificate newly escalated / the warning window newly opened. */
  escalationEvent?: string;
  lastReloadTime?: string | undefined;
  expiringEvent?: boolean;
  requeueMs?: number;
}

interface ObjectMemo {
  uid: string | undefined;
  probes?: ProbeMemo;
  /** Renewals triggered and not yet seen through the cache, by target name. */
  inFlight: Map<string, RenewalBaseline>;
  /** Metric label sets written for this object (removed when it goes). */
  series: Set<string>;
  /** Renewals triggered per target: the status may lag behind our own write in the cache. */
  renewals: Map<string, number>;
  /** Targets already reported as escalated / whether ExpiringSoon was reported (one Event per turn). */
  escalated?: Set<string>;
  expiring?: boolean;
  /** What this process last recorded as reloaded (the cached status may not show our write yet). */
  reloaded?: string;
  lastReload?: string;
}

const keyOf = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`;

/** The CertRenewal capability; one instance per registration (its logic is built per manager in bind). */
export function certRenewalCapability(opts: CertRenewalOptions = {}): Capability<CertRenewalObject, CertExt> {
  const ref = resourceRefOf('CertRenewal');
  return {
    name: 'certrenewal',
    for: ref,
    rbac: [
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [CERTIFICATE.group], resources: ['certificates'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [CERTIFICATE.group], resources: ['certificates/status'], verbs: ['patch'] },
      { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets'], verbs: ['patch'] },
    ],
    // Without bind (never used by the manager): a logic that only validates.
    desired: () => [],
    status: () => ({ status: {} }),
    bind: (deps) => bindLogic(deps, ref, opts),
  };
}

function bindLogic(
  deps: ControllerDeps,
  ref: ResourceRef,
  opts: CertRenewalOptions,
): CapabilityLogic<CertRenewalObject, CertExt> {
  const probeFn = opts.probeFn ?? probeTls;
  const timing = opts.probeTiming ?? DEFAULT_PROBE_TIMING;
  const syncWaitMs = opts.cacheSyncWaitMs ?? 15_000;
  const graceMs = opts.triggerGraceMs ?? 60_000;
  const memos = new Map<string, ObjectMemo>();
  const validation = new ValidationMemo<CertRenewalObject>((obj) => {
    const { spec, errors } = validateSpec<CertRenewalSpec>('CertRenewal', obj.spec);
    if (errors.length === 0) errors.push(...semantic(obj, spec));
    return { errors, suspended: undefined };
  });
  const registry = deps.metrics.registry;
  const notAfter =
    (registry.getSingleMetric(NOT_AFTER_METRIC) as Gauge<'namespace' | 'certrenewal' | 'certificate'> | undefined) ??
    new Gauge({
      name: NOT_AFTER_METRIC,
      help: 'notAfter of each certificate a CertRenewal tracks, as a Unix timestamp (read from its Secret)',
      labelNames: ['namespace', 'certrenewal', 'certificate'],
      registers: [registry],
    });
  const renewals =
    (registry.getSingleMetric(RENEWALS_METRIC) as Gauge<'namespace' | 'certrenewal' | 'certificate'> | undefined) ??
    new Gauge({
      name: RENEWALS_METRIC,
      help: 'Renewals a CertRenewal triggered (cmctl renew), per certificate, since the operator started',
      labelNames: ['namespace', 'certrenewal', 'certificate'],
      registers: [registry],
    });

  // The CertRenewals of a namespace that name a Secret or a Certificate (the map functions of the watches).
  const keysFor = (kind: 'Secret' | 'Certificate', o: KubeObject): string[] => {
    const ns = o.metadata.namespace;
    const name = o.metadata.name as string;
    const out: string[] = [];
    for (const cr of deps.cache.list(ns) as CertRenewalObject[]) {
      const hit = (cr.spec?.targets ?? []).some((t) => {
        if (kind === 'Certificate') return t.certificateRef?.name === name;
        if (t.secretRef?.name === name) return true;
        const certName = t.certificateRef?.name;
        if (!certName) return false;
        const cert = deps.informer(CERTIFICATE).get(ns, certName) as CertificateLike | undefined;
        return cert?.spec?.secretName === name;
      });
      if (hit) out.push(keyOf(ns, cr.metadata.name as string));
    }
    return out;
  };
  const requested = new Map<string, Promise<void>>();
  const ensureWatch = (
    id: string,
    resource: ResourceRef,
    kind: 'Secret' | 'Certificate',
    labelSelector?: string,
  ): Promise<void> => {
    let p = requested.get(id);
    if (!p) {
      p = deps.watch({ resource, labelSelector, map: (o) => keysFor(kind, o) });
      requested.set(id, p);
    }
    return p;
  };
  const synced = async (
    sets: { id: string; resource: ResourceRef; kind: 'Secret' | 'Certificate'; selector?: string }[],
  ): Promise<string | undefined> => {
    const waits = sets.map((s) => ensureWatch(s.id, s.resource, s.kind, s.selector));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), syncWaitMs);
    });
    try {
      const r = await Promise.race([Promise.all(waits), timeout]);
      if (r !== 'timeout') return undefined;
    } finally {
      clearTimeout(timer);
    }
    const unsynced = sets.filter((s) => !deps.informer(s.resource, s.selector).hasSynced());
    return unsynced
      .map((s) =>
        s.kind === 'Certificate'
          ? 'the cert-manager Certificate cache has not synced (are the cert-manager CRDs installed?)'
          : `the Secret cache (${s.selector}) has not synced`,
      )
      .join('; ');
  };

  const secretCaches = (): InformerSet[] => [
    deps.informer(Resources.Secret, CERT_MANAGER_SECRET_SELECTOR),
    deps.informer(Resources.Secret, WATCHED_SECRET_SELECTOR),
  ];
  const secretOf = (ns: string, name: string | undefined): SecretLike | undefined => {
    if (!name) return undefined;
    for (const c of secretCaches()) {
      const s = c.get(ns, name) as (KubeObject & SecretLike) | undefined;
      if (s) return s;
    }
    return undefined;
  };

  const memoOf = (obj: CertRenewalObject): ObjectMemo => {
    const key = keyOf(obj.metadata.namespace, obj.metadata.name as string);
    let m = memos.get(key);
    if (!m || m.uid !== obj.metadata.uid) {
      m = { uid: obj.metadata.uid, inFlight: new Map(), series: new Set(), renewals: new Map() };
      memos.set(key, m);
    }
    return m;
  };

  const observe = (obj: CertRenewalObject, now: Date): CertObservation[] => {
    const ns = obj.metadata.namespace as string;
    return obj.spec.targets.map((t) => {
      if (t.certificateRef) {
        const cert = deps.informer(CERTIFICATE).get(ns, t.certificateRef.name) as CertificateLike | undefined;
        return observeCertificate(t.certificateRef.name, cert, secretOf(ns, cert?.spec?.secretName), { now });
      }
      const name = t.secretRef?.name as string;
      return observeSecret(name, secretOf(ns, name), { now });
    });
  };

  async function trigger(
    obj: CertRenewalObject,
    o: CertObservation,
    memo: ObjectMemo,
    now: Date,
    ctx: ReconcileContext,
  ): Promise<boolean> {
    const ns = obj.metadata.namespace as string;
    const cert = deps.informer(CERTIFICATE).get(ns, o.name) as CertificateLike | undefined;
    if (!cert) return false;
    const pending = memo.inFlight.get(o.name);
    if (pending) {
      const outcome = renewalOutcome(pending, cert, o);
      if (outcome === 'Pending' && now.getTime() - pending.triggeredAt.getTime() < graceMs) return false;
      memo.inFlight.delete(o.name);
      if (outcome === 'Issuing') return false;
    }
    const m = manualRenewalPatch(cert, now);
    if (m.skip) return false;
    try {
      await deps.client.patch(CERTIFICATE, ns, o.name, m.patch, 'merge', {
        subresource: 'status',
        fieldManager: deps.applier.fieldManager,
      });
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 409) return false; // changed meanwhile: its event requeues us
      throw err;
    }
    memo.inFlight.set(o.name, baselineOf(cert, o, now));
    ctx.log.info({ certificate: o.name }, 'renewal triggered');
    deps.events.event(
      obj,
      'Normal',
      'RenewalTriggered',
      `renewal of Certificate ${o.name} triggered (serial ${o.inspection?.leaf?.serial ?? 'unknown'})`,
    );
    return true;
  }

  async function restart(obj: CertRenewalObject, now: Date): Promise<string | undefined> {
    const ns = obj.metadata.namespace as string;
    for (const w of obj.spec.reloadWorkloads ?? []) {
      try {
        await deps.client.patch(WORKLOADS[w.kind], ns, w.name, restartPatch(now), 'strategic', {
          fieldManager: RELOAD_FIELD_MANAGER,
        });
      } catch (err) {
        if (isNotFound(err)) return `${w.kind} ${w.name} not found`;
        throw err;
      }
    }
    return undefined;
  }

  async function probeAll(assignments: ProbeAssignment[], now: Date): Promise<EndpointResult[]> {
    return Promise.all(
      assignments.map(async (a) => {
        const base = { endpoint: endpointId(a.endpoint), certificate: a.certificate, expected: a.expected, at: now };
        const r = await probeFn(
          { host: a.endpoint.host, port: a.endpoint.port ?? 443, serverName: a.endpoint.serverName },
          opts.probe ?? {},
        );
        return r.ok ? { ...base, serial: r.serial } : { ...base, error: `${r.kind}: ${r.message}` };
      }),
    );
  }

  function recordMetrics(
    obj: CertRenewalObject,
    memo: ObjectMemo,
    obs: CertObservation[],
    counts: Record<string, number>,
  ) {
    const ns = obj.metadata.namespace as string;
    const cr = obj.metadata.name as string;
    const now = new Set<string>();
    for (const o of obs) {
      const leaf = o.missing ? undefined : o.inspection?.leaf;
      if (!leaf) continue;
      notAfter.set({ namespace: ns, certrenewal: cr, certificate: o.name }, Math.floor(leaf.notAfter.getTime() / 1000));
      renewals.set({ namespace: ns, certrenewal: cr, certificate: o.name }, counts[o.name] ?? 0);
      now.add(o.name);
    }
    for (const name of memo.series) {
      if (!now.has(name)) {
        notAfter.remove({ namespace: ns, certrenewal: cr, certificate: name });
        renewals.remove({ namespace: ns, certrenewal: cr, certificate: name });
      }
    }
    memo.series = now;
  }

  const logic: CapabilityLogic<CertRenewalObject, CertExt> = {
    for: ref,
    forget: (namespace, name) => {
      validation.forget(namespace, name);
      const key = keyOf(namespace, name);
      const m = memos.get(key);
      if (m) {
        for (const c of m.series) {
          notAfter.remove({ namespace, certrenewal: name, certificate: c });
          renewals.remove({ namespace, certrenewal: name, certificate: c });
        }
      }
      memos.delete(key);
    },

    async prepare(obj, _observed, ctx): Promise<CertExt> {
      const none: CertExt = {
        valid: true,
        paused: false,
        observations: [],
        results: [],
        restarted: false,
        triggered: [],
        renewalsTriggered: {},
      };
      if (validation.outcome(obj).errors.length > 0) return { ...none, valid: false };
      if (obj.metadata.annotations?.[PAUSE_ANNOTATION] === 'true') return { ...none, paused: true };
      const spec = obj.spec;
      const method = spec.method ?? 'CertManager';
      const needsCertificates = spec.targets.some((t) => t.certificateRef);
      const cacheProblem = await synced([
        { id: 'secrets-cm', resource: Resources.Secret, kind: 'Secret', selector: CERT_MANAGER_SECRET_SELECTOR },
        { id: 'secrets-label', resource: Resources.Secret, kind: 'Secret', selector: WATCHED_SECRET_SELECTOR },
        ...(needsCertificates ? [{ id: 'certificates', resource: CERTIFICATE, kind: 'Certificate' as const }] : []),
      ]);
      const now = deps.clock.now();
      const memo = memoOf(obj);
      const policy = policyFromSpec(spec, opts.policy);
      const ns = obj.metadata.namespace as string;
      let observations = observe(obj, now);
      let summary = summarize({ namespace: ns, observations, method, now, policy });

      // Renewals due now (CertManager only; summarize decides AlertOnly and plain Secrets never trigger).
      const counts: Record<string, number> = {};
      for (const c of obj.status?.certificates ?? []) counts[c.name] = c.renewalsTriggered ?? 0;
      for (const [name, n] of memo.renewals) counts[name] = Math.max(counts[name] ?? 0, n);
      const triggered: string[] = [];
      if (!cacheProblem) {
        for (const r of summary.renewals) {
          if (r.decision.action !== 'Trigger') continue;
          const o = observations.find((x) => x.name === r.name) as CertObservation;
          if (await trigger(obj, o, memo, now, ctx)) {
            triggered.push(r.name);
            counts[r.name] = (counts[r.name] ?? 0) + 1;
            memo.renewals.set(r.name, counts[r.name] as number);
          }
        }
      }
      for (const name of memo.inFlight.keys())
        if (!triggered.includes(name) && !observations.some((o) => o.name === name)) memo.inFlight.delete(name);

      // Reload the consumers after a renewal.
      const workloads = spec.reloadWorkloads ?? [];
      const reload = reloadPlan({
        method,
        workloads,
        observations,
        previous: memo.reloaded ?? obj.status?.reloadedForSerials,
      });
      let restarted = false;
      let restartError: string | undefined;
      let lastReload = memo.lastReload ?? obj.status?.lastReloadTime;
      if (reload.restart && !cacheProblem) {
        restartError = await restart(obj, now);
        if (!restartError) {
          restarted = true;
          lastReload = rfc3339(now);
          ctx.log.info({ workloads: workloads.map((w) => `${w.kind}/${w.name}`) }, 'reloadWorkloads restarted');
          deps.events.event(
            obj,
            'Normal',
            'WorkloadsRestarted',
            `restarted ${workloads.map((w) => `${w.kind}/${w.name}`).join(', ')} for ${reload.current}`,
          );
        }
      }

      memo.reloaded = restarted ? reload.current : reload.record;
      if (lastReload) memo.lastReload = lastReload;

      // Endpoint probes, when due.
      const leaves = observations.map((o) => ({ name: o.name, leaf: o.missing ? undefined : o.inspection?.leaf }));
      const { byCert, unmatched } = assignEndpoints(leaves, spec.endpoints ?? []);
      const assignments: ProbeAssignment[] = [];
      for (const e of spec.endpoints ?? []) {
        const certName = [...byCert.entries()].find(([, es]) => es.includes(e))?.[0];
        const leaf = leaves.find((l) => l.name === certName)?.leaf;
        assignments.push({
          endpoint: e,
          certificate: unmatched.includes(e) ? undefined : certName,
          expected: leaf?.serial,
        });
      }
      // Only endpoints with a certificate to compare with are probed; the others open no connection, are not
      // retried and carry no probe time (their status changes only when a certificate appears).
      const probeable = assignments.filter((a) => a.certificate !== undefined && a.expected !== undefined);
      const stamp = probeStamp(probeable, lastReload);
      let probed = memo.probes?.stamp === stamp ? memo.probes.results : [];
      if (probeable.length > 0 && probeDue(memo.probes, stamp, now, timing)) {
        probed = await probeAll(probeable, now);
        const failedRounds = roundFailed(probed)
          ? (memo.probes?.stamp === stamp ? memo.probes.failedRounds : 0) + 1
          : 0;
        memo.probes = { stamp, results: probed, at: now, failedRounds };
      } else if (probeable.length === 0) {
        memo.probes = undefined;
      }
      const results: EndpointResult[] = assignments.flatMap((a): EndpointResult[] => {
        const id = endpointId(a.endpoint);
        if (probeable.includes(a)) return probed.filter((r) => r.endpoint === id);
        const error =
          a.certificate === undefined
            ? 'NotProbed: no target certificate covers it'
            : `NotProbed: ${a.certificate} has no readable certificate`;
        return [{ endpoint: id, certificate: a.certificate, expected: a.expected, error }];
      });
      observations = observations.map((o) => ({
        ...o,
        served: results
          .filter((r) => r.certificate === o.name)
          .map((r) => ({ endpoint: r.endpoint, serial: r.serial, error: r.error })),
      }));
      summary = summarize({ namespace: ns, observations, method, now, policy });
      // Warning Events when a certificate newly escalates or the warning window opens — decided against what this
      // process reported (seeded from the status on first sight), not the cached status, which may lag our writes.
      const escalatedNow = new Set(summary.escalations.map((e) => e.name));
      const prevConds = obj.status?.conditions ?? [];
      memo.escalated ??= prevConds.some((c) => c.type === 'Renewing' && c.reason === CertReason.BackoffPastExpiry)
        ? new Set(escalatedNow)
        : new Set();
      const newlyEscalated = summary.escalations.filter((e) => !memo.escalated?.has(e.name));
      memo.escalated = escalatedNow;
      const expiringNow = summary.conditions.some((c) => c.type === 'ExpiringSoon' && c.status === 'True');
      memo.expiring ??= prevConds.some((c) => c.type === 'ExpiringSoon' && c.status === 'True');
      const expiringEvent = expiringNow && !memo.expiring;
      memo.expiring = expiringNow;
      recordMetrics(obj, memo, observations, counts);

      const candidates: number[] = [summary.requeue.delayMs];
      const nextProbe = probeable.length > 0 ? nextProbeTime(memo.probes, stamp, timing) : undefined;
      if (nextProbe) candidates.push(Math.max(policy.minRequeueMs, nextProbe.getTime() - now.getTime()));
      for (const b of memo.inFlight.values()) {
        candidates.push(Math.max(policy.minRequeueMs, b.triggeredAt.getTime() + graceMs - now.getTime()));
      }
      if (restartError || cacheProblem) candidates.push(30_000);
      return {
        valid: true,
        paused: false,
        observations,
        summary,
        results,
        reload: restarted ? { ...reload, record: reload.current, restart: false } : reload,
        restarted,
        restartError,
        triggered,
        renewalsTriggered: counts,
        lastReloadTime: lastReload,
        ...(newlyEscalated.length > 0
          ? { escalationEvent: newlyEscalated.map((e) => `${e.name}: ${e.message}`).join('; ') }
          : {}),
        expiringEvent,
        cacheProblem,
        requeueMs: Math.min(...candidates),
      };
    },

    desired: () => [],

    status(obj, _observed, observations, ext): StatusOutcome {
      const { errors } = validation.outcome(obj);
      const spec = obj.spec;
      const method = spec.method ?? 'CertManager';
      let readiness: Readiness = { status: 'Unknown', reason: 'Pending', message: 'not observed yet' };
      const extra: ConditionInput[] = [];
      const s = ext.summary;
      if (s && errors.length === 0) {
        const consumers = consumersReloadedCondition({
          method,
          workloads: spec.reloadWorkloads ?? [],
          results: ext.results,
          plan: ext.reload as ReloadPlan,
          restartError: ext.restartError,
          lastReloadTime: ext.lastReloadTime,
        });
        extra.push(...s.conditions, consumers);
        const renewing = s.conditions.find((c) => c.type === 'Renewing');
        const inFlight = renewing?.status === 'True' && renewing.reason !== 'BackoffPastExpiry';
        if (ext.cacheProblem) {
          readiness = { status: 'Unknown', reason: 'CacheNotSynced', message: ext.cacheProblem };
        } else if (s.ready.status !== 'True') {
          readiness = {
            status: s.ready.status,
            reason: s.ready.reason,
            message: s.ready.message,
            progressing: inFlight,
          };
        } else if (consumers.status !== 'True') {
          readiness = {
            status: 'False',
            reason: consumers.reason,
            message: consumers.message,
            progressing: method === 'CertManager',
          };
        } else {
          readiness = { status: 'True', reason: s.ready.reason, message: s.ready.message, progressing: inFlight };
        }
      }
      const decision = decideStatus({
        kind: 'CertRenewal',
        generation: obj.metadata.generation,
        previous: obj.status,
        errors,
        paused: ext.paused,
        now: observations.now,
        readiness,
      });
      const status: Record<string, unknown> = { ...decision.status };
      if (s && errors.length === 0 && !ext.paused) {
        status.conditions = setConditions(
          status.conditions as CertRenewalStatus['conditions'],
          extra,
          obj.metadata.generation,
          observations.now,
        );
        status.certificates = s.certificates.map((c) => ({
          ...c,
          ...(ext.renewalsTriggered[c.name] ? { renewalsTriggered: ext.renewalsTriggered[c.name] } : {}),
        }));
        if (ext.results.length > 0) {
          status.endpoints = ext.results.map((r) => ({
            endpoint: r.endpoint,
            ...(r.certificate ? { certificate: r.certificate } : {}),
            ...(r.serial ? { serial: r.serial } : {}),
            ...(r.error ? { error: r.error } : {}),
            ...(r.at ? { probeTime: rfc3339(r.at) } : {}),
          }));
        }
        if (s.nextRenewalTime) status.nextRenewalTime = s.nextRenewalTime;
        const record = ext.reload?.record;
        if (record !== undefined) status.reloadedForSerials = record;
        if (ext.lastReloadTime) status.lastReloadTime = ext.lastReloadTime;
      } else if (obj.status) {
        // Paused or invalid: keep what was observed before, untouched.
        for (const k of [
          'certificates',
          'endpoints',
          'nextRenewalTime',
          'reloadedForSerials',
          'lastReloadTime',
        ] as const) {
          if (obj.status[k] !== undefined) status[k] = obj.status[k];
        }
      }
      const out: StatusOutcome = { status };
      if (decision.invalidEvent) {
        out.event = { type: 'Warning', reason: Reason.InvalidSpec, message: decision.invalidEvent };
        out.terminal = `invalid spec: ${decision.invalidEvent}`;
        return out;
      }
      // One Warning Event when a condition turns bad (not on every reconcile: each Event is a write).
      const expiring = extra.find((c) => c.type === 'ExpiringSoon');
      if (ext.escalationEvent) {
        out.event = { type: 'Warning', reason: 'RenewalEscalated', message: ext.escalationEvent };
      } else if (ext.expiringEvent && expiring) {
        out.event = { type: 'Warning', reason: 'ExpiringSoon', message: expiring.message };
      }
      if (ext.requeueMs !== undefined) out.requeueAfterMs = ext.requeueMs;
      return out;
    },
  };
  return logic;
}
