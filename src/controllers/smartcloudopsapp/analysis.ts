// The Prometheus analysis of a revision during its bake window (issue 8, item 3): the 5xx ratio and the p95
// latency of the revision's pods since promotion started, against spec.rollout.analysis.{errorRateMax,
// p95LatencyMsMax}. Like Argo Rollouts' AnalysisRun with a Prometheus provider (successCondition/failureCondition
// over an instant query), with one difference kept on purpose: a query that returns nothing, or a Prometheus that
// does not answer, is `Unknown` (Argo's "inconclusive"), never a pass.
// Pure parts: `analysisQueries` (PromQL from the selector and the window) and `verdictOf` (samples + thresholds →
// verdict). Thin I/O: `queryPrometheus` (one GET of /api/v1/query with a timeout) and the runner per app in
// `createAnalysisSource` (one query pair every `intervalMs`, never overlapping, never a hot loop; the app is enqueued
// when the verdict's state or reason changes — controller-runtime's source.Channel pattern through deps.enqueue).
// Which series belong to a revision: the pods' labels as Prometheus sees them after the Prometheus Operator's
// `podTargetLabels` (or a `labelmap` of `__meta_kubernetes_pod_label_(.+)`): `namespace`, the app's instance label
// and the revision label, sanitized (`ops.smartcloudops.ai/revision` → `ops_smartcloudops_ai_revision`). The pods
// of a revision must carry REVISION_LABEL = the revision and INSTANCE_LABEL = the app's name.
import type { Counter } from 'prom-client';
import { Counter as PromCounter } from 'prom-client';
import { redactText } from '../../runtime/logger.js';
import type { AnalysisSource, AnalysisVerdict, AppObject, CreateAnalysisSource, SourceDeps } from './contracts.js';

/** Pod labels the analysis selects on (the app capability puts them on every pod of a revision). */
export const REVISION_LABEL = 'ops.smartcloudops.ai/revision';
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';

/** A Kubernetes label name as a Prometheus label name (what podTargetLabels and labelmap produce). */
export function promLabelName(label: string): string {
  return label.replace(/[^a-zA-Z0-9_]/g, '_');
}

/** Requests that are not application traffic (probes, scrapes) do not count. */
export const NON_APP_PATHS = ['/health', '/api/health', '/metrics'];

export interface AnalysisSelector {
  namespace: string;
  app: string;
  revision: string;
}

export interface AnalysisThresholds {
  errorRateMax: number;
  p95LatencyMsMax: number;
}

const quote = (s: string) => JSON.stringify(s); // a PromQL string literal (Go-style escapes)
const reQuote = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The label matchers of a revision's application traffic. */
export function seriesSelector(sel: AnalysisSelector): string {
  return [
    `namespace=${quote(sel.namespace)}`,
    `${promLabelName(INSTANCE_LABEL)}=${quote(sel.app)}`,
    `${promLabelName(REVISION_LABEL)}=${quote(sel.revision)}`,
    `path!~${quote(NON_APP_PATHS.map(reQuote).join('|'))}`,
  ].join(',');
}

/** The query window: the time since promotion started, in whole seconds, at least `minSeconds`. */
export function windowSeconds(since: Date, now: Date, minSeconds: number): number {
  return Math.max(minSeconds, Math.ceil((now.getTime() - since.getTime()) / 1000));
}

/**
 * PromQL, per component (a bad frontend is not hidden by a busy backend): the ratio of 5xx responses and the p95
 * latency in seconds over the last `window` seconds, plus the request count (to tell "no traffic" from "no errors").
 */
export function analysisQueries(
  sel: AnalysisSelector,
  window: number,
): { errorRate: string; p95: string; requests: string } {
  const s = seriesSelector(sel);
  const by = promLabelName(COMPONENT_LABEL);
  const w = `[${window}s]`;
  const total = `sum by (${by}) (increase(http_requests_total{${s}}${w}))`;
  return {
    requests: total,
    // A revision that answered no 5xx has no 5xx series at all: `or … * 0` makes that a ratio of 0, not "no data".
    errorRate: `(sum by (${by}) (increase(http_requests_total{${s},code=~"5.."}${w})) or ${total} * 0) / ${total}`,
    p95: `histogram_quantile(0.95, sum by (${by}, le) (rate(http_request_duration_seconds_bucket{${s}}${w})))`,
  };
}

/** One series of an instant-vector answer. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface Samples {
  requests: Sample[];
  errorRate: Sample[];
  p95Seconds: Sample[];
}

const finite = (xs: Sample[]) => xs.filter((x) => Number.isFinite(x.value));
const fmtPct = (r: number) => `${(r * 100).toFixed(r < 0.01 ? 2 : 1)}%`;

/**
 * The verdict from the samples: Failing when any component is above a threshold (known data is enough to fail),
 * Passing only when every component with traffic has both figures and both are within, Unknown otherwise.
 */
export function verdictOf(samples: Samples, t: AnalysisThresholds, now: Date): AnalysisVerdict {
  const checkedAt = now.toISOString();
  const comp = (x: Sample) => x.labels[promLabelName(COMPONENT_LABEL)] ?? 'app';
  const withTraffic = new Set(
    finite(samples.requests)
      .filter((x) => x.value > 0)
      .map(comp),
  );
  const rates = finite(samples.errorRate).filter((x) => withTraffic.has(comp(x)));
  const p95s = finite(samples.p95Seconds).filter((x) => withTraffic.has(comp(x)));
  const worstRate = rates.reduce<Sample | undefined>((a, x) => (!a || x.value > a.value ? x : a), undefined);
  const worstP95 = p95s.reduce<Sample | undefined>((a, x) => (!a || x.value > a.value ? x : a), undefined);
  const errorRate = worstRate?.value;
  const p95LatencyMs = worstP95 ? Math.round(worstP95.value * 1000) : undefined;
  const figures = { errorRate, p95LatencyMs, checkedAt };
  const failing: string[] = [];
  if (worstRate && worstRate.value > t.errorRateMax)
    failing.push(`5xx ratio ${fmtPct(worstRate.value)} of ${comp(worstRate)} is above ${fmtPct(t.errorRateMax)}`);
  if (worstP95 && p95LatencyMs !== undefined && p95LatencyMs > t.p95LatencyMsMax)
    failing.push(`p95 latency ${p95LatencyMs} ms of ${comp(worstP95)} is above ${t.p95LatencyMsMax} ms`);
  if (failing.length) {
    const reason = worstRate && worstRate.value > t.errorRateMax ? 'ErrorRateHigh' : 'LatencyHigh';
    return { state: 'Failing', reason, message: failing.join('; '), ...figures };
  }
  if (withTraffic.size === 0)
    return {
      state: 'Unknown',
      reason: 'NoData',
      message: 'no requests of this revision in Prometheus yet',
      ...figures,
    };
  const missing = [...withTraffic].filter((c) => !rates.some((x) => comp(x) === c) || !p95s.some((x) => comp(x) === c));
  if (missing.length)
    return {
      state: 'Unknown',
      reason: 'NoData',
      message: `no error rate or p95 latency yet for ${missing.sort().join(', ')}`,
      ...figures,
    };
  return {
    state: 'Passing',
    reason: 'WithinThresholds',
    message: `5xx ratio ${fmtPct(errorRate ?? 0)} ≤ ${fmtPct(t.errorRateMax)}, p95 latency ${p95LatencyMs} ms ≤ ${t.p95LatencyMsMax} ms`,
    ...figures,
  };
}

/** Thresholds with the CRD's defaults (the API server applies them too; this covers objects built in code). */
export function thresholdsOf(app: AppObject): AnalysisThresholds {
  const a = app.spec.rollout?.analysis;
  return { errorRateMax: a?.errorRateMax ?? 0.01, p95LatencyMsMax: a?.p95LatencyMsMax ?? 500 };
}

/** Thrown by queryPrometheus: Prometheus did not answer, or answered with an error. */
export class PrometheusError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrometheusError';
  }
}

/** The URL of /api/v1/query under `base` (a path prefix is kept) and its basic-auth header from userinfo, if any. */
export function queryEndpoint(base: string): { url: URL; headers: Record<string, string> } {
  const u = new URL(base);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (u.username || u.password) {
    const cred = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
    headers.authorization = `Basic ${Buffer.from(cred).toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/api/v1/query`;
  u.search = '';
  u.hash = '';
  return { url: u, headers };
}

/** One instant query (GET /api/v1/query) with a timeout; the vector's samples. */
export async function queryPrometheus(base: string, query: string, time: Date, timeoutMs: number): Promise<Sample[]> {
  const { url, headers } = queryEndpoint(base);
  url.searchParams.set('query', query);
  url.searchParams.set('time', (time.getTime() / 1000).toFixed(3));
  url.searchParams.set('timeout', `${Math.max(1, Math.floor(timeoutMs / 1000))}s`);
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message);
    throw new PrometheusError(`Prometheus at ${url.origin} is unreachable: ${why}`);
  }
  const text = await res.text().catch(() => '');
  let body: { status?: string; error?: string; data?: { resultType?: string; result?: unknown } } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON: reported below with the status code
  }
  if (!res.ok || body.status !== 'success')
    throw new PrometheusError(
      `Prometheus at ${url.origin} answered ${res.status}${body.error ? `: ${body.error.slice(0, 200)}` : ''}`,
    );
  if (body.data?.resultType !== 'vector' || !Array.isArray(body.data.result))
    throw new PrometheusError(`Prometheus answered a ${body.data?.resultType ?? 'missing'} result, not a vector`);
  return (body.data.result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({
    labels: r.metric ?? {},
    value: Number(r.value?.[1]),
  }));
}

export interface AnalysisOptions {
  /** Between two query rounds of one app; default 10 s. */
  intervalMs?: number;
  /** Of each HTTP request to Prometheus; default 5 s. */
  timeoutMs?: number;
  /**
   * The shortest query window (a window shorter than two scrapes has no rate); default 10 s. The first query waits
   * until this long after `since`, so no window reaches back before it.
   */
  minWindowSeconds?: number;
  /** A runner not asked about for this long stops (observe() restarts it); default 15 min. */
  idleMs?: number;
  /** The HTTP query; default queryPrometheus (tests of the runner pass their own). */
  query?: typeof queryPrometheus;
}

interface Runner {
  uid: string;
  key: string;
  url: string;
  sel: AnalysisSelector;
  since: Date;
  thresholds: AnalysisThresholds;
  configHash: string;
  verdict: AnalysisVerdict;
  timer?: NodeJS.Timeout;
  running: boolean;
  lastObserved: number;
  generation: number;
}

const NOT_CONFIGURED: AnalysisVerdict = {
  state: 'NotConfigured',
  reason: 'NotConfigured',
  message: 'no spec.rollout.analysis',
};

function queryCounter(deps: SourceDeps): Counter<'result'> {
  const name = 'smartcloudops_analysis_queries_total';
  return (
    (deps.metrics.registry.getSingleMetric(name) as Counter<'result'> | undefined) ??
    new PromCounter({
      name,
      help: 'Prometheus analysis query rounds by result (Passing, Failing, Unknown)',
      labelNames: ['result'],
      registers: [deps.metrics.registry],
    })
  );
}

/** The analysis source: a background runner per app while a revision is being analysed. */
export function createAnalysisSourceWith(opts: AnalysisOptions = {}): CreateAnalysisSource {
  const intervalMs = opts.intervalMs ?? 10_000;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const minWindow = opts.minWindowSeconds ?? 10;
  const idleMs = opts.idleMs ?? 15 * 60_000;
  const query = opts.query ?? queryPrometheus;
  return (deps) => {
    const runners = new Map<string, Runner>();
    const counter = queryCounter(deps);
    let stopped = false;
    const inflight = new Set<Promise<void>>();

    const schedule = (r: Runner, ms: number) => {
      clearTimeout(r.timer);
      if (stopped) return;
      r.timer = setTimeout(() => {
        const p = round(r).finally(() => inflight.delete(p));
        inflight.add(p);
      }, ms);
      r.timer.unref();
    };

    const round = async (r: Runner): Promise<void> => {
      const uid = r.uid;
      if (stopped || runners.get(uid) !== r) return;
      if (deps.clock.monotonic() - r.lastObserved > idleMs) {
        runners.delete(uid);
        return;
      }
      const now = deps.clock.now();
      // Not before `since` + the shortest window: an earlier query's window would reach back before the revision was
      // available and judge the traffic of its pods while they were starting.
      const earlyMs = r.since.getTime() + minWindow * 1000 - now.getTime();
      if (earlyMs > 0) {
        schedule(r, Math.min(intervalMs, earlyMs));
        return;
      }
      r.running = true;
      const gen = r.generation;
      const q = analysisQueries(r.sel, windowSeconds(r.since, now, minWindow));
      let verdict: AnalysisVerdict;
      try {
        const [requests, errorRate, p95Seconds] = await Promise.all([
          query(r.url, q.requests, now, timeoutMs),
          query(r.url, q.errorRate, now, timeoutMs),
          query(r.url, q.p95, now, timeoutMs),
        ]);
        verdict = verdictOf({ requests, errorRate, p95Seconds }, r.thresholds, now);
      } catch (err) {
        const message = redactText(err instanceof Error ? err.message : String(err));
        verdict = {
          state: 'Unknown',
          reason: 'PrometheusUnavailable',
          message,
          checkedAt: now.toISOString(),
        };
      } finally {
        r.running = false;
      }
      if (stopped || runners.get(uid) !== r) return;
      if (gen !== r.generation) {
        schedule(r, 0); // the revision or settings changed while querying: query again for the new one
        return;
      }
      verdict.revision = r.sel.revision;
      counter.inc({ result: verdict.state });
      const changed = verdict.state !== r.verdict.state || verdict.reason !== r.verdict.reason;
      r.verdict = verdict;
      if (changed) {
        deps.log.debug({ app: r.key, revision: r.sel.revision, state: verdict.state }, 'analysis verdict changed');
        deps.enqueue(r.key);
      }
      schedule(r, intervalMs);
    };

    const source: AnalysisSource = {
      observe(app, revision, since) {
        const uid = app.metadata.uid as string;
        const a = app.spec.rollout?.analysis;
        if (!a) {
          source.forget(uid);
          return NOT_CONFIGURED;
        }
        const sel = { namespace: app.metadata.namespace as string, app: app.metadata.name as string, revision };
        const thresholds = thresholdsOf(app);
        const configHash = JSON.stringify([a.prometheusUrl, sel, since.getTime(), thresholds]);
        let r = runners.get(uid);
        if (r && r.configHash === configHash) {
          r.lastObserved = deps.clock.monotonic();
          return r.verdict;
        }
        const verdict: AnalysisVerdict = {
          state: 'Unknown',
          reason: 'NoData',
          message: `analysis of revision ${revision} has not queried Prometheus yet`,
          revision,
        };
        if (r) {
          Object.assign(r, { url: a.prometheusUrl, sel, since, thresholds, configHash, verdict });
          r.generation++;
          r.lastObserved = deps.clock.monotonic();
          if (!r.running) schedule(r, 0);
        } else {
          r = {
            uid,
            key: `${sel.namespace}/${sel.app}`,
            url: a.prometheusUrl,
            sel,
            since,
            thresholds,
            configHash,
            verdict,
            running: false,
            lastObserved: deps.clock.monotonic(),
            generation: 0,
          };
          runners.set(uid, r);
          schedule(r, 0);
        }
        return r.verdict;
      },
      forget(uid) {
        const r = runners.get(uid);
        if (!r) return;
        clearTimeout(r.timer);
        runners.delete(uid);
      },
      async stop() {
        stopped = true;
        for (const r of runners.values()) clearTimeout(r.timer);
        runners.clear();
        await Promise.allSettled([...inflight]);
      },
    };
    return source;
  };
}

export const createAnalysisSource: CreateAnalysisSource = createAnalysisSourceWith();
