// Optional owned kinds against the real API server: a test capability (defined here, on SmartCloudOpsApp objects)
// owns a ConfigMap and, optionally, the Prometheus Operator's PrometheusRule and ServiceMonitor built by
// monitoring.ts. It starts with those CRDs absent (the caches sync, the ConfigMap is applied, a condition says what
// is missing), then the CRDs are installed from the pinned Prometheus Operator module (the monitoring children
// appear, validated by the real CRD schemas, and are pruned and corrected like any child), then deleted again
// (their caches go away, reconciles go on). This file installs and deletes cluster-scoped CRDs: nothing else in the
// suite may depend on them (none does).
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { resourceRefOf } from '../../src/crds/kinds.js';
import { isNotFound, KubeClient, Resources, type KubeObject } from '../../src/kube/index.js';
import { capabilityController } from '../../src/runtime/children-capability.js';
import { setConditions } from '../../src/runtime/conditions.js';
import { createLogger } from '../../src/runtime/logger.js';
import { Manager } from '../../src/runtime/manager.js';
import { Metrics } from '../../src/runtime/metrics.js';
import type { AppObject, MonitoringSupport } from '../../src/controllers/smartcloudopsapp/contracts.js';
import {
  createMonitoringDetector,
  monitoringChildren,
  monitoringGap,
  PROMETHEUS_RULE,
  SERVICE_MONITOR,
  type MonitoringDetector,
} from '../../src/controllers/smartcloudopsapp/monitoring.js';
import { installCrds, readSamples } from '../support/crds.js';
import { kubeconfigPath } from '../support/env.js';
import { createNamespace, deleteNamespace, eventually, testClient } from '../support/kube.js';
import { deleteMonitoringCrds, installMonitoringCrds } from '../support/monitoring.js';

jest.setTimeout(240_000);

const ref = resourceRefOf('SmartCloudOpsApp');
type Cond = { type: string; status: string; reason: string; message: string };
type App = AppObject & { status?: { conditions?: Cond[] } };

describe('optional owned kinds (Prometheus Operator CRDs present or not)', () => {
  let client: KubeClient;
  let ns: string;
  let manager: Manager;
  let detector: MonitoringDetector | undefined;
  const lastSupport: MonitoringSupport[] = [];

  beforeAll(async () => {
    client = await testClient();
    await installCrds(client);
    await deleteMonitoringCrds(client);
    ns = await createNamespace(client, 'e2e-seam-optional');
    const managerClient = await KubeClient.create({ kubeconfig: kubeconfigPath(), qps: 200, burst: 400 });
    manager = new Manager({
      client: managerClient,
      log: createLogger((process.env.SCO_TEST_LOG_LEVEL as 'silent') || 'silent'),
      metrics: new Metrics({ defaultMetrics: false }),
      namespaces: [ns],
      concurrency: 2,
      identity: 'e2e-seam-optional',
      cacheSyncTimeoutMs: 60_000,
      leaderElection: {
        enabled: false,
        namespace: ns,
        name: 'unused',
        identity: 'e2e-seam-optional',
        leaseDurationMs: 15000,
        renewDeadlineMs: 10000,
        retryPeriodMs: 2000,
      },
    });
    manager.add(
      capabilityController<App, MonitoringSupport>({
        name: 'seam-optional-test',
        for: ref,
        owns: [Resources.ConfigMap],
        ownsOptional: [PROMETHEUS_RULE, SERVICE_MONITOR],
        bind: (deps) => {
          detector = createMonitoringDetector({
            enqueueAll: () =>
              deps.cache.list().forEach((o) => deps.enqueue(`${o.metadata.namespace}/${o.metadata.name}`)),
            served: deps.servedKinds(),
          });
          deps.onStop(() => detector?.stop());
          return {
            for: ref,
            owns: [Resources.ConfigMap],
            ownsOptional: [PROMETHEUS_RULE, SERVICE_MONITOR],
            prepare: async () => {
              const s = (detector as MonitoringDetector).current();
              lastSupport.push(s);
              return s;
            },
            desired: (app, _observed, support) => [
              {
                apiVersion: 'v1',
                kind: 'ConfigMap',
                metadata: { name: `${app.metadata.name}-cm` },
                data: { k: 'v' },
              } as KubeObject,
              ...monitoringChildren(app, support),
            ],
            status: (app, _observed, o, support) => {
              const gap = monitoringGap(app, support);
              return {
                status: {
                  observedGeneration: app.metadata.generation,
                  conditions: setConditions(
                    app.status?.conditions,
                    [
                      {
                        type: 'Ready',
                        status: o.childrenSynced ? 'True' : 'False',
                        reason: o.childrenSynced ? 'Reconciled' : 'Progressing',
                        message: o.childrenSynced ? 'children applied' : 'applying children',
                      },
                      {
                        type: 'MonitoringAvailable',
                        status: gap ? 'False' : 'True',
                        reason: gap ? 'CRDsMissing' : 'Applied',
                        message: gap ?? 'monitoring objects applied',
                      },
                    ],
                    app.metadata.generation,
                    o.now,
                  ),
                },
              };
            },
          };
        },
        desired: () => [],
        status: () => ({ status: {} }),
      }),
    );
    await manager.start(() => undefined);
  });

  afterAll(async () => {
    await manager?.stop(1000);
    if (ns) await deleteNamespace(client, ns);
    await deleteMonitoringCrds(client).catch(() => undefined);
    client?.close();
  });

  const getApp = () => client.get<App>(ref, ns, 'web');
  const cond = (a: App, type: string) => a.status?.conditions?.find((c) => c.type === type);
  const exists = (r: typeof PROMETHEUS_RULE, name: string) =>
    client.get(r, ns, name).then(
      () => true,
      (err: unknown) => {
        if (isNotFound(err)) return false;
        throw err;
      },
    );

  test('without the CRDs: caches sync, the ConfigMap is applied, a condition names what is missing', async () => {
    const sample = readSamples().find((s) => s.kind === 'SmartCloudOpsApp') as KubeObject;
    await client.create(ref, { ...sample, metadata: { name: 'web', namespace: ns } });
    await eventually('the ConfigMap', () => client.get(Resources.ConfigMap, ns, 'web-cm'));
    const app = await eventually('Ready=True with MonitoringAvailable=False', async () => {
      const a = await getApp();
      return cond(a, 'Ready')?.status === 'True' && cond(a, 'MonitoringAvailable')?.status === 'False' && a;
    });
    expect(cond(app, 'MonitoringAvailable')?.message).toMatch(/does not serve PrometheusRule and ServiceMonitor/);
    expect(manager.allSynced()).toBe(true);
    expect(lastSupport.at(-1)).toEqual({ prometheusRule: false, serviceMonitor: false });
  });

  test('CRDs installed: the PrometheusRule and the ServiceMonitors appear, owned and labelled', async () => {
    await installMonitoringCrds(client);
    const rule = await eventually('the PrometheusRule', () => client.get(PROMETHEUS_RULE, ns, 'web-alerts'), {
      timeoutMs: 90_000,
    });
    const app = await getApp();
    expect(rule.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'SmartCloudOpsApp',
      uid: app.metadata.uid,
      controller: true,
    });
    expect(rule.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('smartcloudops-operator');
    expect(((rule as unknown as { spec: { groups: { rules: unknown[] }[] } }).spec.groups[0]?.rules ?? []).length).toBe(
      8,
    );
    for (const c of ['backend', 'frontend'])
      await eventually(`ServiceMonitor web-${c}`, () => client.get(SERVICE_MONITOR, ns, `web-${c}`));
    await eventually(
      'MonitoringAvailable=True',
      async () => cond(await getApp(), 'MonitoringAvailable')?.status === 'True',
    );
    await eventually('the optional kinds’ caches synced', async () => manager.allSynced());
  });

  test('a child of an optional kind is corrected and pruned like any other', async () => {
    await client.delete(PROMETHEUS_RULE, ns, 'web-alerts');
    await eventually('the PrometheusRule re-created', async () => {
      const r = await client.get(PROMETHEUS_RULE, ns, 'web-alerts').catch(() => undefined);
      return r && r.metadata.deletionTimestamp === undefined;
    });
    await client.patch(ref, ns, 'web', { spec: { monitoring: { serviceMonitor: false } } }, 'merge');
    await eventually(
      'ServiceMonitors pruned',
      async () => !(await exists(SERVICE_MONITOR, 'web-backend')) && !(await exists(SERVICE_MONITOR, 'web-frontend')),
    );
    expect(await exists(PROMETHEUS_RULE, 'web-alerts')).toBe(true);
  });

  test('CRDs deleted: their caches go away, reconciles go on, the condition says so again', async () => {
    await deleteMonitoringCrds(client);
    await eventually(
      'MonitoringAvailable=False',
      async () => cond(await getApp(), 'MonitoringAvailable')?.status === 'False',
    );
    expect(cond(await getApp(), 'MonitoringAvailable')?.message).toMatch(
      /does not serve PrometheusRule$|does not serve PrometheusRule \(/,
    );
    // A spec change is still reconciled (no error from an informer or an apply of a kind that is gone).
    await client.delete(Resources.ConfigMap, ns, 'web-cm');
    await eventually('the ConfigMap re-created', async () => {
      const c = await client.get(Resources.ConfigMap, ns, 'web-cm').catch(() => undefined);
      return c && c.metadata.deletionTimestamp === undefined;
    });
    await eventually('Ready=True', async () => cond(await getApp(), 'Ready')?.status === 'True');
    expect(manager.allSynced()).toBe(true);
  });
});
