// What an e2e test of a SmartCloudOpsApp prints when it times out: the app's conditions, rollout and analysis as the
// operator wrote them, the pods as the kubelet reports them, what the test's own traffic got, what Prometheus
// discovered and scraped for the namespace (targets with their last error, `up`, the request series, the analysis's
// own queries for the baking revision), and the operator's last warnings. Every part is best effort: a part that
// cannot be read says why instead of hiding the rest.
import { readFileSync } from 'node:fs';
import { analysisQueries, queryPrometheus, windowSeconds } from '../../src/controllers/smartcloudopsapp/analysis.js';
import { resourceRefOf } from '../../src/crds/kinds.js';
import { Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';

type Cond = { type: string; status: string; reason?: string; message?: string; observedGeneration?: number };
type AppStatus = {
  observedGeneration?: number;
  conditions?: Cond[];
  currentRevision?: string;
  specRevision?: string;
  lastGoodRevision?: { revision?: string };
  rollout?: { revision?: string; state?: string; startedAt?: string; availableAt?: string; message?: string };
  analysis?: Record<string, unknown>;
  components?: unknown[];
};
interface Pod extends KubeObject {
  spec: { containers: { image: string }[] };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: { restartCount?: number; state?: Record<string, { reason?: string; message?: string }> }[];
  };
}

/** Per pod address: what the test's traffic loop sent and got. */
export interface TrafficStats {
  [address: string]: { sent: number; ok: number; status5xx: number; failed: number; lastError?: string };
}

/** Records one request's outcome in `stats`. */
export function countRequest(stats: TrafficStats, address: string, outcome: number | Error): void {
  const s = (stats[address] ??= { sent: 0, ok: 0, status5xx: 0, failed: 0 });
  s.sent++;
  if (outcome instanceof Error) {
    s.failed++;
    const cause = (outcome as Error & { cause?: { code?: string; message?: string } }).cause;
    s.lastError = `${outcome.name}: ${cause?.code ?? cause?.message ?? outcome.message}`;
  } else if (outcome >= 500) s.status5xx++;
  else s.ok++;
}

const clip = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}…` : s);

async function part(title: string, f: () => Promise<string[]>): Promise<string[]> {
  try {
    const lines = await f();
    return [`${title}:`, ...(lines.length ? lines : ['(none)']).map((l) => `  ${l}`)];
  } catch (err) {
    return [`${title}: (could not read: ${clip((err as Error).message)})`];
  }
}

export interface AppDiagnosticsInput {
  client: KubeClient;
  namespace: string;
  name: string;
  prometheusUrl?: string;
  traffic?: TrafficStats;
  operatorLog?: string;
}

/** A multi-line report of the app, its pods, the traffic, Prometheus and the operator, for a failure message. */
export async function appDiagnostics(i: AppDiagnosticsInput): Promise<string> {
  const { client, namespace: ns, name } = i;
  const ref = resourceRefOf('SmartCloudOpsApp');
  let status: AppStatus | undefined;
  const out: string[] = [`--- diagnostics of SmartCloudOpsApp ${ns}/${name} at ${new Date().toISOString()} ---`];
  out.push(
    ...(await part('app', async () => {
      const app = await client.get<KubeObject & { status?: AppStatus }>(ref, ns, name);
      status = app.status;
      const s = app.status ?? {};
      return [
        `generation ${app.metadata.generation}, observedGeneration ${s.observedGeneration}`,
        ...(s.conditions ?? []).map(
          (c) => `${c.type}=${c.status} ${c.reason ?? ''}: ${clip(c.message ?? '')} (gen ${c.observedGeneration})`,
        ),
        `currentRevision ${s.currentRevision}, specRevision ${s.specRevision}, lastGood ${s.lastGoodRevision?.revision}`,
        `rollout ${JSON.stringify(s.rollout ?? null)}`,
        `analysis ${JSON.stringify(s.analysis ?? null)}`,
        `components ${clip(JSON.stringify(s.components ?? null), 800)}`,
      ];
    })),
  );
  out.push(
    ...(await part('pods', async () => {
      const pods = await client.list<Pod>(Resources.Pod, { namespace: ns });
      return pods.items.map((p) => {
        const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
        const cs = p.status?.containerStatuses?.[0];
        const state = cs?.state
          ? Object.entries(cs.state).map(([k, v]) => `${k}${v.reason ? `(${v.reason})` : ''}`)
          : [];
        const sched = p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status !== 'True');
        return [
          p.metadata.name,
          p.status?.phase,
          `ready=${ready?.status ?? '?'}`,
          `ip=${p.status?.podIP ?? '-'}`,
          p.spec.containers[0]?.image,
          `revision=${p.metadata.labels?.['ops.smartcloudops.ai/revision'] ?? '-'}`,
          `restarts=${cs?.restartCount ?? 0}`,
          state.join(','),
          p.metadata.deletionTimestamp ? 'terminating' : '',
          sched ? `unscheduled: ${clip(sched.message ?? sched.reason ?? '', 200)}` : '',
        ]
          .filter(Boolean)
          .join(' ');
      });
    })),
  );
  if (i.traffic) {
    const t = i.traffic;
    out.push(
      ...(await part('test traffic (per pod address)', async () =>
        Object.entries(t).map(([a, s]) => `${a}: ${JSON.stringify(s)}`),
      )),
    );
  }
  const url = i.prometheusUrl;
  if (url) {
    out.push(
      ...(await part(`Prometheus ${url} targets of ${ns}`, async () => {
        const res = await fetch(`${url}/api/v1/targets?state=any`, { signal: AbortSignal.timeout(5000) });
        const body = (await res.json()) as {
          data: {
            activeTargets: {
              scrapeUrl: string;
              health: string;
              lastError: string;
              lastScrape: string;
              labels: Record<string, string>;
            }[];
            droppedTargets?: { discoveredLabels: Record<string, string> }[];
            droppedTargetCounts?: Record<string, number>;
          };
        };
        const mine = body.data.activeTargets.filter((x) => x.labels.namespace === ns);
        // Pods of the namespace that discovery saw and relabelling dropped, with what the keep rules look at.
        const dropped = (body.data.droppedTargets ?? [])
          .map((x) => x.discoveredLabels)
          .filter((l) => l.__meta_kubernetes_namespace === ns)
          .map(
            (l) =>
              `dropped ${l.__address__} pod=${l.__meta_kubernetes_pod_name} ip=${l.__meta_kubernetes_pod_ip} ` +
              `phase=${l.__meta_kubernetes_pod_phase} managed-by=${l.__meta_kubernetes_pod_label_app_kubernetes_io_managed_by} ` +
              `port=${l.__meta_kubernetes_pod_container_port_number}/${l.__meta_kubernetes_pod_container_port_protocol}`,
          );
        return [
          `active targets: ${body.data.activeTargets.length} in all, ${mine.length} in ${ns}; dropped: ${JSON.stringify(body.data.droppedTargetCounts ?? null)}`,
          ...mine.map(
            (x) =>
              `${x.scrapeUrl} pod=${x.labels.pod} revision=${x.labels.ops_smartcloudops_ai_revision} ${x.health} ` +
              `last scrape ${x.lastScrape}${x.lastError ? ` error: ${clip(x.lastError, 200)}` : ''}`,
          ),
          ...dropped.slice(-10),
        ];
      })),
    );
    const q = async (query: string) =>
      (await queryPrometheus(url, query, new Date(), 5000)).map(
        (s) =>
          `${Object.entries(s.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(',')} → ${s.value}`,
      );
    out.push(...(await part(`up{namespace="${ns}"}`, () => q(`up{namespace="${ns}"}`))));
    out.push(
      ...(await part('request series (sum by pod, revision, path, code)', () =>
        q(`sum by (pod, ops_smartcloudops_ai_revision, path, code) (http_requests_total{namespace="${ns}"})`),
      )),
    );
    const r = status?.rollout;
    if (r?.revision && (r.availableAt || r.startedAt)) {
      const since = new Date(r.availableAt ?? r.startedAt ?? 0);
      const queries = analysisQueries(
        { namespace: ns, app: name, revision: r.revision },
        windowSeconds(since, new Date(), 10),
      );
      for (const [k, query] of Object.entries(queries))
        out.push(...(await part(`analysis query ${k} of revision ${r.revision}: ${query}`, () => q(query))));
    }
  }
  if (i.operatorLog) {
    const log = i.operatorLog;
    out.push(
      ...(await part(`operator log ${log} (warnings, errors, verdict changes; last 25)`, async () =>
        readFileSync(log, 'utf8')
          .split('\n')
          .filter((l) => /"level":"(warn|error|fatal)"|verdict changed/.test(l))
          .slice(-25)
          .map((l) => clip(l, 400)),
      )),
    );
  }
  return out.join('\n');
}

/** Runs `wait`; when it throws, the error's message gets the diagnostics appended. */
export async function withDiagnostics<T>(wait: Promise<T>, diagnose: () => Promise<string>): Promise<T> {
  try {
    return await wait;
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    let d: string;
    try {
      d = await diagnose();
    } catch (derr) {
      d = `(diagnostics failed: ${(derr as Error).message})`;
    }
    e.message = `${e.message}\n${d}`;
    throw e;
  }
}
