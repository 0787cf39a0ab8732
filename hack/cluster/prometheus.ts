// The `monitoring` group: one Prometheus (built from its pinned Go module by hack/kubebins/prometheus.sh) on
// 127.0.0.1, for the rollout analysis tests. It discovers pods through the API server (kubernetes_sd, role pod, the
// cluster's admin kubeconfig, or SCO_PROMETHEUS_KUBECONFIG to watch another cluster) and scrapes only pods that
// (a) run on the real node — their IP is on its bridge, 10.250.0.0/24, which this machine serves locally; a kwok pod's
// IP would leave the machine and is never a target — and (b) opt in: labelled
// app.kubernetes.io/managed-by=smartcloudops-operator (the operator's children) or annotated
// prometheus.io/scrape=true. Each declared TCP container port is a target (/metrics). Pod labels become target
// labels (sanitized: ops.smartcloudops.ai/revision → ops_smartcloudops_ai_revision), as the Prometheus Operator's
// podTargetLabels make them, plus namespace, pod and container. Scrape and evaluation every 2 s (SCO_PROMETHEUS_
// SCRAPE_INTERVAL to change), so an analysis in a test has data within seconds. State: <cluster dir>/prometheus
// (config, TSDB), wiped by `down`; its URL goes to env.json as `prometheus.url`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Ctx, Step } from './cluster.js';
import { repoRoot } from './config.js';
import { probeOk } from './http.js';
import { ClusterError, waitFor } from './proc.js';

export const REAL_NODE_POD_IP_REGEX = '10\\.250\\.0\\.[0-9]{1,3}';

/** The Prometheus build directory (prometheus, promtool, crds/), building it when asked and missing. */
export function prometheusBinDir(opts: { build: boolean; log?: (line: string) => void }): string {
  if (process.env.SCO_PROMETHEUS_BIN_DIR && existsSync(join(process.env.SCO_PROMETHEUS_BIN_DIR, 'prometheus')))
    return process.env.SCO_PROMETHEUS_BIN_DIR;
  const script = join(repoRoot, 'hack', 'kubebins', 'prometheus.sh');
  const check = spawnSync('bash', [script, '--check'], { encoding: 'utf8' });
  if (check.status === 0) return check.stdout.trim().split('\n').pop() as string;
  if (!opts.build)
    throw new ClusterError(
      `Prometheus is not built for the current pins (${check.stderr.trim()}); run: bash ${script}`,
    );
  opts.log?.('building Prometheus from its Go module (~7 min cold; once per pin)');
  const b = spawnSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (b.status !== 0) throw new ClusterError(`building Prometheus failed (bash ${script})`);
  return b.stdout.trim().split('\n').pop() as string;
}

/** prometheus.yml (JSON is YAML) for the pods of the cluster behind `kubeconfig`. */
export function prometheusConfig(kubeconfig: string, intervalSeconds: number): string {
  const interval = `${intervalSeconds}s`;
  return JSON.stringify(
    {
      global: {
        scrape_interval: interval,
        evaluation_interval: interval,
        scrape_timeout: `${Math.max(1, Math.floor(intervalSeconds / 2))}s`,
      },
      scrape_configs: [
        {
          job_name: 'smartcloudops-pods',
          metrics_path: '/metrics',
          kubernetes_sd_configs: [{ role: 'pod', kubeconfig_file: kubeconfig }],
          relabel_configs: [
            // Only the real node's pods: their IPs are local (the bridge); nothing else is ever a target.
            { source_labels: ['__meta_kubernetes_pod_ip'], regex: REAL_NODE_POD_IP_REGEX, action: 'keep' },
            { source_labels: ['__meta_kubernetes_pod_phase'], regex: 'Running', action: 'keep' },
            {
              source_labels: [
                '__meta_kubernetes_pod_label_app_kubernetes_io_managed_by',
                '__meta_kubernetes_pod_annotation_prometheus_io_scrape',
              ],
              separator: ';',
              regex: 'smartcloudops-operator;.*|.*;true',
              action: 'keep',
            },
            { source_labels: ['__meta_kubernetes_pod_container_port_protocol'], regex: 'TCP', action: 'keep' },
            { source_labels: ['__meta_kubernetes_pod_container_port_number'], regex: '[0-9]+', action: 'keep' },
            { regex: '__meta_kubernetes_pod_label_(.+)', action: 'labelmap' },
            { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
            { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
            { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
          ],
        },
      ],
    },
    null,
    2,
  );
}

export const prometheusUrl = (ctx: Pick<Ctx, 'ports'>): string => `http://127.0.0.1:${ctx.ports.prometheus}`;

const prometheus: Step = {
  name: 'prometheus',
  group: 'monitoring',
  async run(ctx: Ctx) {
    const dir = prometheusBinDir({ build: true, log: ctx.log });
    const kubeconfig = process.env.SCO_PROMETHEUS_KUBECONFIG || ctx.layout.kubeconfig;
    if (!existsSync(kubeconfig))
      throw new ClusterError(
        `Prometheus discovers pods through ${kubeconfig}, which does not exist: start the cluster group first ` +
          '(or set SCO_PROMETHEUS_KUBECONFIG to another cluster’s kubeconfig)',
      );
    const interval = Number(process.env.SCO_PROMETHEUS_SCRAPE_INTERVAL || 2);
    if (!Number.isInteger(interval) || interval < 1 || interval > 60)
      throw new ClusterError(`SCO_PROMETHEUS_SCRAPE_INTERVAL=${interval} is not a whole number of seconds in 1..60`);
    const base = join(ctx.layout.dir, 'prometheus');
    rmSync(base, { recursive: true, force: true });
    mkdirSync(join(base, 'data'), { recursive: true });
    ctx.state.dataDirs.push(base);
    const config = join(base, 'prometheus.yml');
    writeFileSync(config, prometheusConfig(kubeconfig, interval));
    const url = prometheusUrl(ctx);
    const proc = await ctx.start('monitoring', {
      name: 'prometheus',
      command: join(dir, 'prometheus'),
      args: [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(base, 'data')}`,
        '--storage.tsdb.retention.time=6h',
        `--web.listen-address=127.0.0.1:${ctx.ports.prometheus}`,
        '--log.level=warn',
      ],
      log: join(ctx.layout.logs, 'prometheus.log'),
    });
    await waitFor(() => probeOk(`${url}/-/ready`), { what: 'Prometheus', timeoutMs: 60_000, proc });
    ctx.state.env.prometheus = { url, scrapeIntervalSeconds: interval };
    ctx.save();
  },
  probe: (ctx) => probeOk(`${prometheusUrl(ctx)}/-/ready`),
};

export const monitoringSteps: Step[] = [prometheus];
