// Monitoring objects of a SmartCloudOpsApp (issue 8, item 8), for the Prometheus Operator when its CRDs exist:
// - a PrometheusRule `<app>-alerts` with the runbook's alerts and thresholds ("Monitoring & Alerting": application
//   down, high error rate, database issues, high memory; warnings: slow responses, high CPU, disk space low), each
//   selecting the app's own series (namespace, the app's pods);
// - a ServiceMonitor per component `<app>-<component>` scraping /metrics on the Service port `http`, with the pods'
//   instance, component and revision labels copied onto the targets (podTargetLabels), which is what the alerts and
//   the rollout analysis (analysis.ts) select on.
// Both honour spec.monitoring.{prometheusRule,serviceMonitor} (default true) and appear only for the kinds the API
// server serves (`MonitoringSupport`): without the CRDs nothing is built and nothing else breaks.
// `createMonitoringDetector` reports which of the two kinds are served, from the manager's CRD watch
// (runtime/served-kinds.ts), and enqueues every app when that changes. The capability lists PROMETHEUS_RULE and
// SERVICE_MONITOR in `ownsOptional`, so the seam caches, applies and prunes them only while they are served.
import type { KubeObject, ResourceRef } from '../../kube/index.js';
import type { ServedKinds } from '../../runtime/served-kinds.js';
import { COMPONENT_LABEL, INSTANCE_LABEL, NON_APP_PATHS, promLabelName, REVISION_LABEL } from './analysis.js';
import type { AppObject, MonitoringSupport } from './contracts.js';

export const PROMETHEUS_RULE: ResourceRef = {
  group: 'monitoring.coreos.com',
  version: 'v1',
  plural: 'prometheusrules',
  kind: 'PrometheusRule',
  namespaced: true,
};

export const SERVICE_MONITOR: ResourceRef = {
  group: 'monitoring.coreos.com',
  version: 'v1',
  plural: 'servicemonitors',
  kind: 'ServiceMonitor',
  namespaced: true,
};

const COMPONENTS = ['backend', 'frontend'] as const;
/** The name of the app's pods' `app.kubernetes.io/name` label and of the Service port the ServiceMonitor scrapes. */
export const APP_NAME_LABEL_VALUE = 'smartcloudops';
export const METRICS_PORT_NAME = 'http';

/** The runbook's thresholds (its "Monitoring & Alerting" section; database saturation from spec). */
export const THRESHOLDS = {
  errorRatio: 0.05,
  p95Seconds: 1,
  memoryRatio: 0.9,
  cpuCores: 0.8,
  diskRatio: 0.85,
} as const;

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const q = (s: string) => JSON.stringify(s);
const reQuote = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The runbook's alerts for one app, as Prometheus rules (pure). */
export function alertRules(app: AppObject): AlertRule[] {
  const ns = app.metadata.namespace as string;
  const name = app.metadata.name as string;
  const inst = `namespace=${q(ns)},${promLabelName(INSTANCE_LABEL)}=${q(name)}`;
  const comp = promLabelName(COMPONENT_LABEL);
  const appPaths = `path!~${q(NON_APP_PATHS.map(reQuote).join('|'))}`;
  // cAdvisor series carry namespace/pod/container: the app's pods are those of its two Deployments.
  const pods = `namespace=${q(ns)},pod=~${q(`${reQuote(name)}-(${COMPONENTS.join('|')})-.+`)},container!=""`;
  const warnPct = app.spec.database.connectionWarnPercent ?? 80;
  const labels = (severity: 'critical' | 'warning') => ({ severity, app: name });
  const doc = (summary: string, description: string, runbook: string) => ({
    summary,
    description,
    runbook: `Monitoring & Alerting → ${runbook}`,
  });
  return [
    {
      alert: 'SmartCloudOpsApplicationDown',
      expr: `up{${inst}} == 0`,
      for: '1m',
      labels: labels('critical'),
      annotations: doc(
        `${name}: a {{ $labels.${comp} }} target is down`,
        'Prometheus cannot scrape {{ $labels.pod }} in {{ $labels.namespace }}.',
        'Application Down',
      ),
    },
    {
      alert: 'SmartCloudOpsHighErrorRate',
      expr:
        `sum by (namespace, ${comp}) (rate(http_requests_total{${inst},${appPaths},code=~"5.."}[5m]))` +
        ` / sum by (namespace, ${comp}) (rate(http_requests_total{${inst},${appPaths}}[5m])) > ${THRESHOLDS.errorRatio}`,
      for: '5m',
      labels: labels('critical'),
      annotations: doc(
        `${name}: {{ $labels.${comp} }} answers more than ${THRESHOLDS.errorRatio * 100}% 5xx`,
        '5xx ratio {{ $value | humanizePercentage }} over 5 minutes.',
        'High Error Rate',
      ),
    },
    {
      alert: 'SmartCloudOpsDatabaseDown',
      expr: `pg_up{namespace=${q(ns)}} == 0`,
      for: '1m',
      labels: labels('critical'),
      annotations: doc(
        `${name}: PostgreSQL is not answering`,
        'The PostgreSQL exporter {{ $labels.instance }} reports pg_up == 0.',
        'Database Issues',
      ),
    },
    {
      alert: 'SmartCloudOpsDatabaseConnectionsHigh',
      expr:
        `100 * sum by (namespace, instance) (pg_stat_database_numbackends{namespace=${q(ns)}})` +
        ` / max by (namespace, instance) (pg_settings_max_connections{namespace=${q(ns)}}) >= ${warnPct}`,
      for: '5m',
      labels: labels('critical'),
      annotations: doc(
        `${name}: PostgreSQL connections at {{ $value | humanize }}% of max_connections`,
        `Connections in use reached spec.database.connectionWarnPercent (${warnPct}%) of max_connections.`,
        'Database Issues',
      ),
    },
    {
      alert: 'SmartCloudOpsHighMemoryUsage',
      expr:
        `container_memory_usage_bytes{${pods}}` +
        ` / (container_spec_memory_limit_bytes{${pods}} > 0) > ${THRESHOLDS.memoryRatio}`,
      for: '5m',
      labels: labels('warning'),
      annotations: doc(
        `${name}: {{ $labels.pod }} uses more than ${THRESHOLDS.memoryRatio * 100}% of its memory limit`,
        'Memory usage {{ $value | humanizePercentage }} of the limit.',
        'High Memory Usage',
      ),
    },
    {
      alert: 'SmartCloudOpsSlowResponses',
      expr:
        `histogram_quantile(0.95, sum by (namespace, ${comp}, le) ` +
        `(rate(http_request_duration_seconds_bucket{${inst},${appPaths}}[5m]))) > ${THRESHOLDS.p95Seconds}`,
      for: '5m',
      labels: labels('warning'),
      annotations: doc(
        `${name}: {{ $labels.${comp} }} p95 latency above ${THRESHOLDS.p95Seconds}s`,
        'p95 latency {{ $value | humanizeDuration }} over 5 minutes.',
        'Slow Response Times',
      ),
    },
    {
      alert: 'SmartCloudOpsHighCpuUsage',
      expr:
        `sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{${pods}}[5m]))` +
        ` > ${THRESHOLDS.cpuCores}`,
      for: '5m',
      labels: labels('warning'),
      annotations: doc(
        `${name}: {{ $labels.pod }} uses more than ${THRESHOLDS.cpuCores} CPU`,
        'CPU usage {{ $value | printf "%.2f" }} cores over 5 minutes.',
        'High CPU Usage',
      ),
    },
    {
      alert: 'SmartCloudOpsDiskSpaceLow',
      expr:
        '(node_filesystem_size_bytes - node_filesystem_free_bytes) / (node_filesystem_size_bytes > 0)' +
        ` > ${THRESHOLDS.diskRatio}`,
      for: '10m',
      labels: labels('warning'),
      annotations: doc(
        'Disk space low on {{ $labels.instance }} {{ $labels.mountpoint }}',
        `More than ${THRESHOLDS.diskRatio * 100}% of the filesystem is used ({{ $value | humanizePercentage }}).`,
        'Disk Space Low',
      ),
    },
  ];
}

/** The PrometheusRule of an app (pure; namespace, owner reference and managed-by label are added by the seam). */
export function prometheusRule(app: AppObject): KubeObject & { spec: { groups: unknown[] } } {
  const name = app.metadata.name as string;
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: `${name}-alerts`,
      labels: { 'app.kubernetes.io/name': APP_NAME_LABEL_VALUE, [INSTANCE_LABEL]: name },
    },
    spec: { groups: [{ name: `smartcloudops.${app.metadata.namespace}.${name}`, rules: alertRules(app) }] },
  };
}

/** The ServiceMonitor of one component (pure). */
export function serviceMonitor(app: AppObject, component: (typeof COMPONENTS)[number]): KubeObject {
  const name = app.metadata.name as string;
  const selector = {
    'app.kubernetes.io/name': APP_NAME_LABEL_VALUE,
    [INSTANCE_LABEL]: name,
    [COMPONENT_LABEL]: component,
  };
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { name: `${name}-${component}`, labels: { ...selector } },
    spec: {
      selector: { matchLabels: selector },
      namespaceSelector: { matchNames: [app.metadata.namespace] },
      endpoints: [{ port: METRICS_PORT_NAME, path: '/metrics', interval: '15s', scheme: 'http' }],
      podTargetLabels: [INSTANCE_LABEL, COMPONENT_LABEL, REVISION_LABEL],
    },
  } as KubeObject;
}

/** The PrometheusRule and ServiceMonitor children of an app, for the kinds the API server serves. */
export function monitoringChildren(app: AppObject, support: MonitoringSupport): KubeObject[] {
  const m = app.spec.monitoring ?? {};
  const out: KubeObject[] = [];
  if (support.prometheusRule && m.prometheusRule !== false) out.push(prometheusRule(app));
  if (support.serviceMonitor && m.serviceMonitor !== false) out.push(...COMPONENTS.map((c) => serviceMonitor(app, c)));
  return out;
}

/** Why monitoring objects are absent, for a condition (undefined when everything wanted is there). */
export function monitoringGap(app: AppObject, support: MonitoringSupport): string | undefined {
  const m = app.spec.monitoring ?? {};
  const missing = [
    m.prometheusRule !== false && !support.prometheusRule ? 'PrometheusRule' : undefined,
    m.serviceMonitor !== false && !support.serviceMonitor ? 'ServiceMonitor' : undefined,
  ].filter(Boolean);
  return missing.length
    ? `the API server does not serve ${missing.join(' and ')} (monitoring.coreos.com/v1): install the Prometheus ` +
        'Operator CRDs to get the runbook alerts and scraping; nothing else is affected'
    : undefined;
}

/**
 * Which Prometheus Operator kinds the API server serves, kept current in the background (the app is reconciled
 * when that changes, through the enqueue it is given); the capability reads `current()` in prepare.
 */
export interface MonitoringDetector {
  current(): MonitoringSupport;
  stop(): Promise<void>;
}

/**
 * `served` is the manager's CRD watch (ControllerDeps.servedKinds()); without it (the scaffold's signature) both
 * kinds read as not served.
 */
export function createMonitoringDetector(deps: {
  enqueueAll(): void;
  served?: Pick<ServedKinds, 'served' | 'track'>;
}): MonitoringDetector {
  const served = deps.served;
  let stopped = false;
  if (served) {
    // track() calls back at once for a kind already served: the apps are enqueued then too, which is harmless.
    const onFlip = () => {
      if (!stopped) deps.enqueueAll();
    };
    served.track(PROMETHEUS_RULE, onFlip);
    served.track(SERVICE_MONITOR, onFlip);
  }
  return {
    current: () => ({
      prometheusRule: !!served?.served(PROMETHEUS_RULE),
      serviceMonitor: !!served?.served(SERVICE_MONITOR),
    }),
    stop: async () => {
      stopped = true;
    },
  };
}
