// The PrometheusRule monitoring.ts builds (and the monitoring group's scrape config), checked by promtool from the
// same pinned Prometheus module:
// `promtool check rules` parses every expression and template, and `promtool test rules` evaluates the alerts over
// synthetic series — each fires past the runbook's threshold and stays silent below it.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AppObject } from '../../src/controllers/smartcloudopsapp/contracts.js';
import { prometheusRule } from '../../src/controllers/smartcloudopsapp/monitoring.js';
import { prometheusConfig, REAL_NODE_POD_IP_REGEX } from '../../hack/cluster/prometheus.js';
import { prometheusBuild } from '../support/monitoring.js';

const run = promisify(execFile);

/** One alert expected at 15 min with these labels (plus app=web) and annotations [summary, description, runbook]. */
const fires = (alertname: string, labels: Record<string, string>, [summary, description, runbook]: string[]) => ({
  eval_time: '15m',
  alertname,
  exp_alerts: [
    {
      exp_labels: { app: 'web', ...labels },
      exp_annotations: { summary, description, runbook: `Monitoring & Alerting → ${runbook}` },
    },
  ],
});

const app = {
  apiVersion: 'ops.smartcloudops.ai/v1alpha1',
  kind: 'SmartCloudOpsApp',
  metadata: { name: 'web', namespace: 'shop', uid: 'u1' },
  spec: {
    version: '1.0.0',
    backend: { image: 'x/backend' },
    frontend: { image: 'x/frontend' },
    database: { secretRef: { name: 'db' }, connectionWarnPercent: 80 },
  },
} as unknown as AppObject;

describe('the PrometheusRule under promtool', () => {
  let dir: string;
  let promtool: string;
  let rules: string;
  beforeAll(() => {
    promtool = join(prometheusBuild(), 'promtool');
    dir = mkdtempSync(join(tmpdir(), 'prom-rules-'));
    rules = join(dir, 'rules.json');
    // A PrometheusRule's spec is a Prometheus rule file ({groups: [...]}); JSON is YAML.
    writeFileSync(rules, JSON.stringify(prometheusRule(app).spec));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("promtool check config accepts the monitoring group's config, which keeps only real-node pod IPs", async () => {
    const cfg = join(dir, 'prometheus.yml');
    writeFileSync(cfg, prometheusConfig(join(dir, 'kubeconfig'), 2));
    const { stdout } = await run(promtool, ['check', 'config', cfg]);
    expect(stdout).toMatch(/SUCCESS/);
    const keep = new RegExp(`^(?:${REAL_NODE_POD_IP_REGEX})$`); // Prometheus anchors relabel regexes the same way
    expect(['10.250.0.2', '10.250.0.254'].every((ip) => keep.test(ip))).toBe(true);
    expect(['10.244.0.5', '10.96.0.10', '10.250.1.2', '110.250.0.2', '10.250.0.2.9'].some((ip) => keep.test(ip))).toBe(
      false,
    );
  });

  test('promtool check rules accepts every expression and template', async () => {
    const { stdout } = await run(promtool, ['check', 'rules', rules]);
    expect(stdout).toMatch(/SUCCESS: 8 rules found/);
  });

  test('promtool test rules: each alert fires past its threshold and not below it', async () => {
    const sel = 'namespace="shop",app_kubernetes_io_instance="web"';
    const backend = `${sel},app_kubernetes_io_component="backend",path="/other"`;
    const frontend = `${sel},app_kubernetes_io_component="frontend",path="/other"`;
    const pod = (p: string) => `namespace="shop",pod="${p}",container="app"`;
    const tests = {
      rule_files: [rules],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            // Backend: 100 requests/min, 20 of them 5xx (20% > 5%); frontend: 100/min, 1 5xx (1%).
            { series: `http_requests_total{${backend},code="200"}`, values: '0+80x20' },
            { series: `http_requests_total{${backend},code="500"}`, values: '0+20x20' },
            { series: `http_requests_total{${frontend},code="200"}`, values: '0+99x20' },
            { series: `http_requests_total{${frontend},code="500"}`, values: '0+1x20' },
            // Frontend latency: all under 0.25 s; backend: all between 1 and 2.5 s (p95 > 1 s).
            ...['0.25', '1', '2.5', '+Inf'].map((le) => ({
              series: `http_request_duration_seconds_bucket{${frontend},le="${le}"}`,
              values: '0+100x20',
            })),
            ...[
              ['0.25', '0+0x20'],
              ['1', '0+0x20'],
              ['2.5', '0+100x20'],
              ['+Inf', '0+100x20'],
            ].map(([le, values]) => ({
              series: `http_request_duration_seconds_bucket{${backend},le="${le}"}`,
              values,
            })),
            { series: `up{${sel},app_kubernetes_io_component="backend",pod="web-backend-1"}`, values: '1 1 0x20' },
            { series: `up{${sel},app_kubernetes_io_component="frontend",pod="web-frontend-1"}`, values: '1x22' },
            { series: 'pg_up{namespace="shop",instance="pg:9187"}', values: '1x22' },
            {
              series: 'pg_stat_database_numbackends{namespace="shop",instance="pg:9187",datname="app"}',
              values: '170x20',
            },
            { series: 'pg_settings_max_connections{namespace="shop",instance="pg:9187"}', values: '200x20' },
            // Memory: backend at 95% of its limit, frontend at 50%; another app's pod at 99% is not ours.
            { series: `container_memory_usage_bytes{${pod('web-backend-5d9f-abcde')}}`, values: '950x20' },
            { series: `container_spec_memory_limit_bytes{${pod('web-backend-5d9f-abcde')}}`, values: '1000x20' },
            { series: `container_memory_usage_bytes{${pod('web-frontend-5d9f-abcde')}}`, values: '500x20' },
            { series: `container_spec_memory_limit_bytes{${pod('web-frontend-5d9f-abcde')}}`, values: '1000x20' },
            { series: `container_memory_usage_bytes{${pod('other-backend-1-x')}}`, values: '990x20' },
            { series: `container_spec_memory_limit_bytes{${pod('other-backend-1-x')}}`, values: '1000x20' },
            // No limit (0): no alert however much is used.
            { series: `container_memory_usage_bytes{${pod('web-frontend-nolimit-x')}}`, values: '5000x20' },
            { series: `container_spec_memory_limit_bytes{${pod('web-frontend-nolimit-x')}}`, values: '0x20' },
            // CPU: backend 0.9 cores (54 s per minute), frontend 0.3.
            { series: `container_cpu_usage_seconds_total{${pod('web-backend-5d9f-abcde')}}`, values: '0+54x20' },
            { series: `container_cpu_usage_seconds_total{${pod('web-frontend-5d9f-abcde')}}`, values: '0+18x20' },
            // Disk: 90% used on /data, 50% on /.
            { series: 'node_filesystem_size_bytes{instance="n1",mountpoint="/data"}', values: '100x20' },
            { series: 'node_filesystem_free_bytes{instance="n1",mountpoint="/data"}', values: '10x20' },
            { series: 'node_filesystem_size_bytes{instance="n1",mountpoint="/"}', values: '100x20' },
            { series: 'node_filesystem_free_bytes{instance="n1",mountpoint="/"}', values: '50x20' },
          ],
          alert_rule_test: [
            fires(
              'SmartCloudOpsHighErrorRate',
              { severity: 'critical', namespace: 'shop', app_kubernetes_io_component: 'backend' },
              ['web: backend answers more than 5% 5xx', '5xx ratio 20% over 5 minutes.', 'High Error Rate'],
            ),
            fires(
              'SmartCloudOpsSlowResponses',
              { severity: 'warning', namespace: 'shop', app_kubernetes_io_component: 'backend' },
              ['web: backend p95 latency above 1s', 'p95 latency 2.425s over 5 minutes.', 'Slow Response Times'],
            ),
            fires(
              'SmartCloudOpsApplicationDown',
              {
                severity: 'critical',
                namespace: 'shop',
                app_kubernetes_io_instance: 'web',
                app_kubernetes_io_component: 'backend',
                pod: 'web-backend-1',
              },
              ['web: a backend target is down', 'Prometheus cannot scrape web-backend-1 in shop.', 'Application Down'],
            ),
            { eval_time: '15m', alertname: 'SmartCloudOpsDatabaseDown', exp_alerts: [] },
            fires(
              'SmartCloudOpsDatabaseConnectionsHigh',
              { severity: 'critical', namespace: 'shop', instance: 'pg:9187' },
              [
                'web: PostgreSQL connections at 85% of max_connections',
                'Connections in use reached spec.database.connectionWarnPercent (80%) of max_connections.',
                'Database Issues',
              ],
            ),
            fires(
              'SmartCloudOpsHighMemoryUsage',
              { severity: 'warning', namespace: 'shop', pod: 'web-backend-5d9f-abcde', container: 'app' },
              [
                'web: web-backend-5d9f-abcde uses more than 90% of its memory limit',
                'Memory usage 95% of the limit.',
                'High Memory Usage',
              ],
            ),
            fires(
              'SmartCloudOpsHighCpuUsage',
              { severity: 'warning', namespace: 'shop', pod: 'web-backend-5d9f-abcde', container: 'app' },
              [
                'web: web-backend-5d9f-abcde uses more than 0.8 CPU',
                'CPU usage 0.90 cores over 5 minutes.',
                'High CPU Usage',
              ],
            ),
            fires('SmartCloudOpsDiskSpaceLow', { severity: 'warning', instance: 'n1', mountpoint: '/data' }, [
              'Disk space low on n1 /data',
              'More than 85% of the filesystem is used (90%).',
              'Disk Space Low',
            ]),
          ],
        },
      ],
    };
    const file = join(dir, 'tests.json');
    writeFileSync(file, JSON.stringify(tests));
    const r = await run(promtool, ['test', 'rules', file]).catch((err: { stdout?: string; stderr?: string }) => err);
    expect(`${r.stdout ?? ''}${r.stderr ?? ''}`).toMatch(/SUCCESS/);
  });
});
