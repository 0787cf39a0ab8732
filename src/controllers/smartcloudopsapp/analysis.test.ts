import { afterEach, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../runtime/logger.js';
import { Metrics } from '../../runtime/metrics.js';
import { systemClock } from '../../runtime/clock.js';
import {
  analysisQueries,
  createAnalysisSourceWith,
  queryEndpoint,
  queryPrometheus,
  seriesSelector,
  verdictOf,
  windowSeconds,
  type Sample,
} from './analysis.js';
import type { AppObject, SourceDeps } from './contracts.js';

const NOW = new Date('2026-05-01T12:00:00Z');
const sel = { namespace: 'shop', app: 'web', revision: 'abc123' };
const T = { errorRateMax: 0.05, p95LatencyMsMax: 500 };
const s = (component: string, value: number): Sample => ({
  labels: { app_kubernetes_io_component: component },
  value,
});

describe('queries', () => {
  test('select the revision of the app in its namespace, application paths only', () => {
    expect(seriesSelector(sel)).toBe(
      'namespace="shop",app_kubernetes_io_instance="web",ops_smartcloudops_ai_revision="abc123",' +
        'path!~"/health|/api/health|/metrics"',
    );
  });
  test('label values are quoted (no PromQL injection through a name)', () => {
    expect(seriesSelector({ ...sel, app: 'a"b\\c' })).toContain('app_kubernetes_io_instance="a\\"b\\\\c"');
  });
  test('5xx ratio, request count and p95 per component over the window', () => {
    const q = analysisQueries(sel, 42);
    const total = `sum by (app_kubernetes_io_component) (increase(http_requests_total{${seriesSelector(sel)}}[42s]))`;
    expect(q.errorRate).toBe(
      `(sum by (app_kubernetes_io_component) (increase(http_requests_total{${seriesSelector(sel)},code=~"5.."}[42s]))` +
        ` or ${total} * 0) / ${total}`,
    );
    expect(q.requests).toBe(
      `sum by (app_kubernetes_io_component) (increase(http_requests_total{${seriesSelector(sel)}}[42s]))`,
    );
    expect(q.p95).toBe(
      `histogram_quantile(0.95, sum by (app_kubernetes_io_component, le) ` +
        `(rate(http_request_duration_seconds_bucket{${seriesSelector(sel)}}[42s])))`,
    );
  });
  test('the window runs from promotion start to now, rounded up, never below the minimum', () => {
    expect(windowSeconds(new Date(NOW.getTime() - 90_500), NOW, 10)).toBe(91);
    expect(windowSeconds(new Date(NOW.getTime() - 2_000), NOW, 10)).toBe(10);
    expect(windowSeconds(new Date(NOW.getTime() + 5_000), NOW, 10)).toBe(10);
  });
  test('the endpoint keeps a path prefix and turns userinfo into a header, out of the URL', () => {
    const e = queryEndpoint('http://u:p%40ss@prom.example:9090/prometheus/?x=1');
    expect(e.url.toString()).toBe('http://prom.example:9090/prometheus/api/v1/query');
    expect(e.headers.authorization).toBe(`Basic ${Buffer.from('u:p@ss').toString('base64')}`);
    expect(queryEndpoint('http://prom:9090').url.toString()).toBe('http://prom:9090/api/v1/query');
  });
});

describe('verdictOf', () => {
  const cases: [string, Sample[], Sample[], Sample[], string, string][] = [
    [
      'both components within',
      [s('backend', 100), s('frontend', 50)],
      [s('backend', 0), s('frontend', 0.01)],
      [s('backend', 0.05), s('frontend', 0.2)],
      'Passing',
      'WithinThresholds',
    ],
    [
      '20% errors on the backend',
      [s('backend', 100), s('frontend', 50)],
      [s('backend', 0.2), s('frontend', 0)],
      [s('backend', 0.05), s('frontend', 0.05)],
      'Failing',
      'ErrorRateHigh',
    ],
    [
      'slow frontend',
      [s('backend', 100), s('frontend', 50)],
      [s('backend', 0), s('frontend', 0)],
      [s('backend', 0.05), s('frontend', 0.8)],
      'Failing',
      'LatencyHigh',
    ],
    [
      'both bad: error rate named first',
      [s('backend', 10)],
      [s('backend', 0.5)],
      [s('backend', 1.2)],
      'Failing',
      'ErrorRateHigh',
    ],
    ['no series at all', [], [], [], 'Unknown', 'NoData'],
    [
      'no traffic (zero increase, NaN ratio)',
      [s('backend', 0)],
      [s('backend', NaN)],
      [s('backend', NaN)],
      'Unknown',
      'NoData',
    ],
    [
      'a component has traffic but no histogram yet',
      [s('backend', 10), s('frontend', 5)],
      [s('backend', 0), s('frontend', 0)],
      [s('backend', 0.01)],
      'Unknown',
      'NoData',
    ],
    [
      'known failure with the other figure missing still fails',
      [s('backend', 10)],
      [s('backend', 0.3)],
      [],
      'Failing',
      'ErrorRateHigh',
    ],
    [
      'exactly at the threshold passes',
      [s('backend', 100)],
      [s('backend', 0.05)],
      [s('backend', 0.5)],
      'Passing',
      'WithinThresholds',
    ],
    [
      'a component without traffic is not judged',
      [s('backend', 10), s('frontend', 0)],
      [s('backend', 0), s('frontend', NaN)],
      [s('backend', 0.1), s('frontend', NaN)],
      'Passing',
      'WithinThresholds',
    ],
  ];
  test.each(cases)('%s', (_name, requests, errorRate, p95Seconds, state, reason) => {
    const v = verdictOf({ requests, errorRate, p95Seconds }, T, NOW);
    expect([v.state, v.reason]).toEqual([state, reason]);
    expect(v.checkedAt).toBe(NOW.toISOString());
  });
  test('figures are the worst component, latency in ms', () => {
    const v = verdictOf(
      {
        requests: [s('backend', 10), s('frontend', 10)],
        errorRate: [s('backend', 0.2), s('frontend', 0.1)],
        p95Seconds: [s('backend', 0.9), s('frontend', 0.25)],
      },
      T,
      NOW,
    );
    expect(v).toMatchObject({ errorRate: 0.2, p95LatencyMs: 900 });
    expect(v.message).toBe('5xx ratio 20.0% of backend is above 5.0%; p95 latency 900 ms of backend is above 500 ms');
  });
});

// A loopback server answering /api/v1/query as Prometheus does, for the runner's state machine and HTTP handling.
function fakePrometheus(answer: (query: string) => { status: number; body: unknown } | 'hang') {
  const seen: string[] = [];
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const q = u.searchParams.get('query') ?? '';
    seen.push(`${u.pathname} ${req.headers.authorization ?? ''}`);
    const a = answer(q);
    if (a === 'hang') return;
    res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
  });
  return new Promise<{ url: string; seen: string[]; close(): Promise<void> }>((resolve) =>
    srv.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
        seen,
        close: () => {
          srv.closeAllConnections();
          return new Promise((r) => srv.close(() => r()));
        },
      }),
    ),
  );
}

const vector = (values: [string, number][]) => ({
  status: 'success',
  data: {
    resultType: 'vector',
    result: values.map(([c, v]) => ({ metric: { app_kubernetes_io_component: c }, value: [0, String(v)] })),
  },
});

function app(url: string | undefined, uid = 'u1'): AppObject {
  return {
    apiVersion: 'ops.smartcloudops.ai/v1alpha1',
    kind: 'SmartCloudOpsApp',
    metadata: { name: 'web', namespace: 'shop', uid },
    spec: {
      version: '1.0.0',
      backend: { image: 'x/backend' },
      frontend: { image: 'x/frontend' },
      database: { secretRef: { name: 'db' } },
      rollout: url ? { analysis: { prometheusUrl: url, errorRateMax: 0.05, p95LatencyMsMax: 500 } } : {},
    },
  } as unknown as AppObject;
}

describe('the runner', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });
  const depsWith = (enqueued: string[]): SourceDeps => ({
    clock: systemClock,
    log: createLogger('silent'),
    metrics: new Metrics({ defaultMetrics: false }),
    events: undefined as never,
    secrets: () => undefined,
    enqueue: (k) => enqueued.push(k),
  });
  const until = async (cond: () => boolean, ms = 3000) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  test('NotConfigured without spec.rollout.analysis, and no query', async () => {
    const src = createAnalysisSourceWith({ intervalMs: 20 })(depsWith([]));
    closers.push(() => src.stop());
    expect(src.observe(app(undefined), 'r1', NOW).state).toBe('NotConfigured');
  });

  test('Unknown until the first answer, then the verdict, enqueued once per change; a new revision starts over', async () => {
    let errors = 0.2;
    const prom = await fakePrometheus((q) =>
      q.startsWith('histogram_quantile')
        ? { status: 200, body: vector([['backend', 0.05]]) }
        : q.includes('code=~')
          ? { status: 200, body: vector([['backend', errors]]) }
          : { status: 200, body: vector([['backend', 100]]) },
    );
    closers.push(prom.close);
    const enqueued: string[] = [];
    const src = createAnalysisSourceWith({ intervalMs: 20 })(depsWith(enqueued));
    closers.push(() => src.stop());
    const since = new Date(Date.now() - 60_000); // the bake began a minute ago
    const a = app(`${prom.url.replace('http://', 'http://user:pw@')}/`);
    expect(src.observe(a, 'r1', since)).toMatchObject({ state: 'Unknown', reason: 'NoData', revision: 'r1' });
    await until(() => src.observe(a, 'r1', since).state === 'Failing');
    expect(src.observe(a, 'r1', since)).toMatchObject({
      reason: 'ErrorRateHigh',
      errorRate: 0.2,
      p95LatencyMs: 50,
      revision: 'r1', // every verdict names the revision it is about (status.analysis.revision)
    });
    expect(enqueued).toEqual(['shop/web']);
    expect(prom.seen[0]).toBe(`/api/v1/query Basic ${Buffer.from('user:pw').toString('base64')}`);
    const rounds = prom.seen.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(prom.seen.length).toBeGreaterThan(rounds); // it keeps querying on its interval...
    expect(prom.seen.length).toBeLessThan(rounds + 3 * 12); // ...not in a hot loop (≤ ~8 rounds of 3 in 150 ms)
    expect(enqueued).toEqual(['shop/web']); // same verdict: no new enqueue
    errors = 0;
    expect(src.observe(a, 'r2', since)).toMatchObject({ state: 'Unknown', reason: 'NoData', revision: 'r2' });
    await until(() => src.observe(a, 'r2', since).state === 'Passing');
    expect(src.observe(a, 'r2', since).revision).toBe('r2');
    expect(enqueued).toEqual(['shop/web', 'shop/web']);
    src.forget('u1');
    const after = prom.seen.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(prom.seen.length).toBeLessThanOrEqual(after + 3); // at most the round in flight
  });

  test('no query until the shortest window has passed since the bake began: no window reaches back before it', async () => {
    const prom = await fakePrometheus((q) =>
      q.startsWith('histogram_quantile')
        ? { status: 200, body: vector([['backend', 0.05]]) }
        : q.includes('code=~')
          ? { status: 200, body: vector([['backend', 0]]) }
          : { status: 200, body: vector([['backend', 100]]) },
    );
    closers.push(prom.close);
    const src = createAnalysisSourceWith({ intervalMs: 20, minWindowSeconds: 1 })(depsWith([]));
    closers.push(() => src.stop());
    const a = app(prom.url);
    const since = new Date();
    expect(src.observe(a, 'r1', since)).toMatchObject({ state: 'Unknown', reason: 'NoData' });
    await new Promise((r) => setTimeout(r, 500));
    expect(prom.seen).toEqual([]); // 25 intervals went by, none queried
    expect(src.observe(a, 'r1', since).state).toBe('Unknown');
    await until(() => src.observe(a, 'r1', since).state === 'Passing');
    expect(Date.now() - since.getTime()).toBeGreaterThanOrEqual(1000);
    // A bake that began long enough ago is queried at once.
    const early = new Date(Date.now() - 5000);
    const b = app(prom.url, 'u2');
    src.observe(b, 'r2', early);
    await until(() => src.observe(b, 'r2', early).state === 'Passing', 500);
  });

  test('Prometheus down, erroring or hanging is Unknown/PrometheusUnavailable, never a pass', async () => {
    const bad = await fakePrometheus(() => ({ status: 400, body: { status: 'error', error: 'parse error' } }));
    closers.push(bad.close);
    await expect(queryPrometheus(bad.url, 'up', NOW, 1000)).rejects.toThrow(/answered 400: parse error/);
    const hang = await fakePrometheus(() => 'hang');
    closers.push(hang.close);
    await expect(queryPrometheus(hang.url, 'up', NOW, 200)).rejects.toThrow(/no answer within 200 ms/);
    // A port nobody listens on (bound then closed).
    const gone = await fakePrometheus(() => 'hang');
    await gone.close();
    await expect(queryPrometheus(gone.url, 'up', NOW, 1000)).rejects.toThrow(/unreachable: ECONNREFUSED/);
    const enqueued: string[] = [];
    const src = createAnalysisSourceWith({ intervalMs: 20, timeoutMs: 200 })(depsWith(enqueued));
    closers.push(() => src.stop());
    const a = app(gone.url);
    src.observe(a, 'r1', NOW);
    await until(() => src.observe(a, 'r1', NOW).reason === 'PrometheusUnavailable');
    expect(src.observe(a, 'r1', NOW).state).toBe('Unknown');
    expect(enqueued).toEqual(['shop/web']);
  });
});
