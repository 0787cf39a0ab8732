import { describe, expect, test } from '@jest/globals';
import type { ResourceRef } from '../../kube/index.js';
import type { AppObject } from './contracts.js';
import {
  alertRules,
  createMonitoringDetector,
  monitoringChildren,
  monitoringGap,
  PROMETHEUS_RULE,
  SERVICE_MONITOR,
} from './monitoring.js';

function app(monitoring?: { prometheusRule?: boolean; serviceMonitor?: boolean }, warn?: number): AppObject {
  return {
    apiVersion: 'ops.smartcloudops.ai/v1alpha1',
    kind: 'SmartCloudOpsApp',
    metadata: { name: 'web', namespace: 'shop', uid: 'u1' },
    spec: {
      version: '1.0.0',
      backend: { image: 'x/backend' },
      frontend: { image: 'x/frontend' },
      database: { secretRef: { name: 'db' }, connectionWarnPercent: warn },
      monitoring,
    },
  } as unknown as AppObject;
}
const both = { prometheusRule: true, serviceMonitor: true };
const names = (objs: { kind?: string; metadata: { name?: string } }[]) =>
  objs.map((o) => `${o.kind}/${o.metadata.name}`);

describe('monitoringChildren', () => {
  test('a PrometheusRule and a ServiceMonitor per component when both kinds are served', () => {
    expect(names(monitoringChildren(app(), both))).toEqual([
      'PrometheusRule/web-alerts',
      'ServiceMonitor/web-backend',
      'ServiceMonitor/web-frontend',
    ]);
  });
  test('only what the server serves, and only what spec.monitoring asks for', () => {
    expect(monitoringChildren(app(), { prometheusRule: false, serviceMonitor: false })).toEqual([]);
    expect(names(monitoringChildren(app(), { prometheusRule: true, serviceMonitor: false }))).toEqual([
      'PrometheusRule/web-alerts',
    ]);
    expect(names(monitoringChildren(app({ prometheusRule: false }), both))).toEqual([
      'ServiceMonitor/web-backend',
      'ServiceMonitor/web-frontend',
    ]);
    expect(monitoringChildren(app({ prometheusRule: false, serviceMonitor: false }), both)).toEqual([]);
  });
  test('the ServiceMonitor selects the component Service port http and copies instance, component, revision', () => {
    const sm = monitoringChildren(app(), { prometheusRule: false, serviceMonitor: true })[0] as unknown as {
      spec: Record<string, unknown>;
    };
    expect(sm.spec).toEqual({
      selector: {
        matchLabels: {
          'app.kubernetes.io/name': 'smartcloudops',
          'app.kubernetes.io/instance': 'web',
          'app.kubernetes.io/component': 'backend',
        },
      },
      namespaceSelector: { matchNames: ['shop'] },
      endpoints: [{ port: 'http', path: '/metrics', interval: '15s', scheme: 'http' }],
      podTargetLabels: ['app.kubernetes.io/instance', 'app.kubernetes.io/component', 'ops.smartcloudops.ai/revision'],
    });
  });
  test('a condition message names what is missing, and nothing when all wanted is served', () => {
    expect(monitoringGap(app(), both)).toBeUndefined();
    expect(monitoringGap(app({ serviceMonitor: false }), { prometheusRule: true, serviceMonitor: false })).toBe(
      undefined,
    );
    expect(monitoringGap(app(), { prometheusRule: false, serviceMonitor: false })).toMatch(
      /^the API server does not serve PrometheusRule and ServiceMonitor \(monitoring.coreos.com\/v1\)/,
    );
  });
});

describe('alertRules', () => {
  test("the runbook's alerts (database issues as two: down, connections) with its thresholds and severities", () => {
    const rules = alertRules(app());
    expect(rules.map((r) => [r.alert, r.labels.severity])).toEqual([
      ['SmartCloudOpsApplicationDown', 'critical'],
      ['SmartCloudOpsHighErrorRate', 'critical'],
      ['SmartCloudOpsDatabaseDown', 'critical'],
      ['SmartCloudOpsDatabaseConnectionsHigh', 'critical'],
      ['SmartCloudOpsHighMemoryUsage', 'warning'],
      ['SmartCloudOpsSlowResponses', 'warning'],
      ['SmartCloudOpsHighCpuUsage', 'warning'],
      ['SmartCloudOpsDiskSpaceLow', 'warning'],
    ]);
    const expr = Object.fromEntries(rules.map((r) => [r.alert, r.expr]));
    expect(expr.SmartCloudOpsApplicationDown).toBe('up{namespace="shop",app_kubernetes_io_instance="web"} == 0');
    expect(expr.SmartCloudOpsHighErrorRate).toMatch(/code=~"5\.\."\}\[5m\]\)\) \/ sum by .* > 0\.05$/);
    expect(expr.SmartCloudOpsSlowResponses).toMatch(/^histogram_quantile\(0\.95, .*\) > 1$/);
    expect(expr.SmartCloudOpsHighMemoryUsage).toMatch(/> 0\) > 0\.9$/);
    expect(expr.SmartCloudOpsHighCpuUsage).toMatch(/container_cpu_usage_seconds_total\{.*\}\[5m\]\)\) > 0\.8$/);
    expect(expr.SmartCloudOpsDiskSpaceLow).toMatch(/> 0\.85$/);
    expect(expr.SmartCloudOpsDatabaseConnectionsHigh).toMatch(/>= 80$/);
    expect(
      alertRules(app(undefined, 65)).find((r) => r.alert === 'SmartCloudOpsDatabaseConnectionsHigh')?.expr,
    ).toMatch(/>= 65$/);
  });
  test('container alerts select only the app’s pods (regex-quoted name)', () => {
    const a = app();
    a.metadata.name = 'web.v2';
    const mem = alertRules(a).find((r) => r.alert === 'SmartCloudOpsHighMemoryUsage')?.expr;
    expect(mem).toContain('pod=~"web\\\\.v2-(backend|frontend)-.+"');
  });
});

describe('createMonitoringDetector', () => {
  test('reports the served kinds and enqueues every app on a flip', () => {
    const served = new Set<string>();
    const listeners: ((ref: ResourceRef, s: boolean) => void)[] = [];
    const fake = {
      served: (r: ResourceRef) => served.has(r.plural),
      track: (_r: ResourceRef, fn: (ref: ResourceRef, s: boolean) => void) => void listeners.push(fn),
    };
    let enqueued = 0;
    const d = createMonitoringDetector({ enqueueAll: () => enqueued++, served: fake });
    expect(d.current()).toEqual({ prometheusRule: false, serviceMonitor: false });
    served.add('prometheusrules');
    listeners[0]?.(PROMETHEUS_RULE, true);
    expect(d.current()).toEqual({ prometheusRule: true, serviceMonitor: false });
    served.add('servicemonitors');
    listeners[1]?.(SERVICE_MONITOR, true);
    expect(d.current()).toEqual(both);
    expect(enqueued).toBe(2);
  });
  test('without the CRD watch both read as not served', () => {
    expect(createMonitoringDetector({ enqueueAll: () => undefined }).current()).toEqual({
      prometheusRule: false,
      serviceMonitor: false,
    });
  });
});
