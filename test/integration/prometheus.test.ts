// The rollout analysis against a real Prometheus (the monitoring group, built from its Go module) scraping stand-in
// pods on the real node: three pods labelled as three revisions of one app — 1.0.0 (healthy), 1.1.0-errors with a
// 20% error rate, 1.1.0-slow (800 ms) — get the same application traffic from this process (their IPs are on the
// real node's bridge, 10.250.0.0/24, which this machine serves; nothing else is ever sent to), Prometheus scrapes
// them through kubernetes_sd, and the analysis source (analysis.ts, as the capability runs it) returns Passing for
// 1.0.0, Failing/ErrorRateHigh for -errors, Failing/LatencyHigh for -slow, and Unknown when Prometheus does not
// answer. Needs the cluster's real node and the monitoring group (or SCO_PROMETHEUS_URL); on the shared cluster:
//   SCO_CLUSTER_DIR=/tmp/m SCO_PORT_PROMETHEUS=… SCO_PROMETHEUS_KUBECONFIG=<cluster>/kubeconfig npm run cluster:up -- --only=monitoring
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import net from 'node:net';
import { REAL_NODE_POD_IP_REGEX } from '../../hack/cluster/prometheus.js';
import { Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { systemClock } from '../../src/runtime/clock.js';
import { createLogger } from '../../src/runtime/logger.js';
import { Metrics } from '../../src/runtime/metrics.js';
import { createAnalysisSourceWith, queryPrometheus } from '../../src/controllers/smartcloudopsapp/analysis.js';
import type { AnalysisSource, AnalysisVerdict, AppObject } from '../../src/controllers/smartcloudopsapp/contracts.js';
import { createNamespace, deleteNamespace, eventually, testClient } from '../support/kube.js';
import { prometheusUrl } from '../support/monitoring.js';

jest.setTimeout(240_000);

const REPO = 'localhost/smartcloudops/standin';
const POD_IP = new RegExp(`^${REAL_NODE_POD_IP_REGEX}$`);
interface Pod extends KubeObject {
  status?: { podIP?: string; conditions?: { type: string; status: string }[] };
}

function pod(ns: string, revision: string, tag: string, env: Record<string, string> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `web-${revision}`,
      namespace: ns,
      labels: {
        'app.kubernetes.io/name': 'smartcloudops',
        'app.kubernetes.io/instance': 'web',
        'app.kubernetes.io/component': 'backend',
        'ops.smartcloudops.ai/revision': revision,
      },
      annotations: { 'prometheus.io/scrape': 'true' },
    },
    spec: {
      nodeSelector: { 'smartcloudops.ai/node': 'real' },
      tolerations: [{ key: 'smartcloudops.ai/real-node', operator: 'Exists', effect: 'NoSchedule' }],
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'backend',
          image: `${REPO}:${tag}`,
          imagePullPolicy: 'IfNotPresent',
          env: [{ name: 'PORTS', value: '5000' }, ...Object.entries(env).map(([name, value]) => ({ name, value }))],
          ports: [{ name: 'http', containerPort: 5000 }],
          readinessProbe: { httpGet: { path: '/health', port: 5000 }, periodSeconds: 1 },
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
        },
      ],
    },
  } as unknown as Pod;
}

function app(ns: string, url: string): AppObject {
  return {
    apiVersion: 'ops.smartcloudops.ai/v1alpha1',
    kind: 'SmartCloudOpsApp',
    metadata: { name: 'web', namespace: ns, uid: `uid-${ns}` },
    spec: {
      version: '1.0.0',
      backend: { image: REPO },
      frontend: { image: REPO },
      database: { secretRef: { name: 'db' } },
      rollout: { analysis: { prometheusUrl: url, errorRateMax: 0.05, p95LatencyMsMax: 500 } },
    },
  } as unknown as AppObject;
}

/**
 * `count` GETs of application paths, `parallel` at a time, spread over at least `spreadMs` (bounded in number and
 * time). Spread over several scrapes on purpose: a series that first appears already holding all its requests
 * has no increase within the window (Prometheus sees no sample before them), as with any new series.
 */
async function traffic(ip: string, count: number, parallel: number, spreadMs = 8000): Promise<number[]> {
  if (!POD_IP.test(ip)) throw new Error(`${ip} is not a real-node pod IP: refusing to send traffic`);
  const codes: number[] = [];
  const gapMs = (spreadMs * parallel) / count;
  let i = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (i < count) {
        i++;
        const r = await fetch(`http://${ip}:5000/api/orders`, { signal: AbortSignal.timeout(5000) });
        await r.arrayBuffer();
        codes.push(r.status);
        await new Promise((res) => setTimeout(res, gapMs));
      }
    }),
  );
  return codes;
}

// Needs a real node and a Prometheus: CI always has both (npm test starts the monitoring group with the cluster), so
// there a missing one fails; elsewhere (KUBECONFIG at kind, only the data services) the file says so and skips.
async function missing(): Promise<string | undefined> {
  try {
    prometheusUrl();
  } catch (err) {
    return (err as Error).message;
  }
  const c = await testClient();
  try {
    const nodes = await c.list(Resources.Node, { labelSelector: 'smartcloudops.ai/node=real' });
    return nodes.items.length ? undefined : 'no node labelled smartcloudops.ai/node=real';
  } finally {
    c.close();
  }
}
const why = await missing();
if (why) {
  if (process.env.CI) throw new Error(`test/integration/prometheus.test.ts: ${why}`);
  console.warn(`SKIPPED test/integration/prometheus.test.ts: ${why}`);
}

(why ? describe.skip : describe)('rollout analysis against Prometheus scraping real-node pods', () => {
  let client: KubeClient;
  let ns: string;
  let url: string;
  let source: AnalysisSource;
  const enqueued: string[] = [];
  const ips: Record<string, string> = {};
  let since: Date;

  beforeAll(async () => {
    url = prometheusUrl();
    client = await testClient();
    ns = await createNamespace(client, 'prom-analysis');
    const pods = [
      pod(ns, 'good', '1.0.0'),
      pod(ns, 'errors', '1.1.0-errors', { STANDIN_ERROR_RATE: '0.2' }),
      pod(ns, 'slow', '1.1.0-slow'),
    ];
    for (const p of pods) await client.create(Resources.Pod, p);
    for (const p of pods) {
      const name = p.metadata.name as string;
      const ready = await eventually(
        `${name} ready`,
        async () => {
          const got = await client.get<Pod>(Resources.Pod, ns, name);
          return got.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && got;
        },
        { timeoutMs: 90_000 },
      );
      ips[name.replace('web-', '')] = ready.status?.podIP as string;
    }
    source = createAnalysisSourceWith({ intervalMs: 1000, timeoutMs: 3000, minWindowSeconds: 10 })({
      clock: systemClock,
      log: createLogger('silent'),
      metrics: new Metrics({ defaultMetrics: false }),
      events: undefined as never,
      secrets: () => undefined,
      enqueue: (k) => enqueued.push(k),
    });
  });

  afterAll(async () => {
    await source?.stop();
    if (ns) await deleteNamespace(client, ns);
    client?.close();
  });

  test('Prometheus discovers and scrapes the three pods (and only real-node pods)', async () => {
    for (const ip of Object.values(ips)) expect(ip).toMatch(POD_IP);
    await eventually(
      'three targets up',
      async () => {
        const up = await queryPrometheus(url, `up{namespace="${ns}"} == 1`, new Date(), 3000);
        return up.length === 3 && up;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    const targets = (await (await fetch(`${url}/api/v1/targets?state=active`)).json()) as {
      data: { activeTargets: { scrapeUrl: string }[] };
    };
    for (const t of targets.data.activeTargets) expect(new URL(t.scrapeUrl).hostname).toMatch(POD_IP);
  });

  test('before any traffic the verdict is Unknown (no data is never a pass)', async () => {
    since = new Date(Date.now() - 1000);
    const a = app(ns, url);
    expect(source.observe(a, 'good', since).state).toBe('Unknown');
    await new Promise((r) => setTimeout(r, 2500));
    expect(source.observe(a, 'good', since)).toMatchObject({ state: 'Unknown', reason: 'NoData' });
  });

  test('1.0.0 passes, -errors fails on its 5xx ratio, -slow fails on its p95', async () => {
    const [good, errors, slow] = await Promise.all([
      traffic(ips.good as string, 200, 4),
      traffic(ips.errors as string, 200, 4),
      traffic(ips.slow as string, 40, 4),
    ]);
    expect(good.every((c) => c === 200)).toBe(true);
    expect(errors.filter((c) => c === 500).length).toBe(40); // exactly ⌊n·rate⌋
    expect(slow.every((c) => c === 200)).toBe(true);
    const a = app(ns, url);
    const verdicts: Record<string, AnalysisVerdict> = {};
    for (const [rev, want] of [
      ['good', 'Passing'],
      ['errors', 'Failing'],
      ['slow', 'Failing'],
    ] as const) {
      const uid = `uid-${rev}`;
      const ofRev = { ...a, metadata: { ...a.metadata, uid } } as AppObject;
      verdicts[rev] = await eventually(
        `${rev}: ${want}`,
        async () => {
          const v = source.observe(ofRev, rev, since);
          return v.state === want && v;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
    }
    expect(verdicts.good).toMatchObject({ reason: 'WithinThresholds', errorRate: 0 });
    expect(verdicts.errors?.reason).toBe('ErrorRateHigh');
    expect(verdicts.errors?.errorRate).toBeCloseTo(0.2, 1);
    expect(verdicts.slow?.reason).toBe('LatencyHigh');
    expect(verdicts.slow?.p95LatencyMs).toBeGreaterThan(500);
    expect(verdicts.slow?.errorRate).toBe(0);
    expect(enqueued.length).toBeGreaterThanOrEqual(3); // each verdict change reconciles the app
  });

  test('Prometheus unreachable: Unknown with PrometheusUnavailable', async () => {
    // A loopback port nobody listens on: bound, then closed.
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise((r) => srv.close(r));
    const down = { ...app(ns, `http://127.0.0.1:${port}`), metadata: { name: 'web', namespace: ns, uid: 'uid-down' } };
    const v = await eventually(
      'PrometheusUnavailable',
      async () => {
        const x = source.observe(down as AppObject, 'good', since);
        return x.reason === 'PrometheusUnavailable' && x;
      },
      { timeoutMs: 20_000 },
    );
    expect(v.state).toBe('Unknown');
    expect(v.message).toMatch(/unreachable: ECONNREFUSED/);
  });
});
