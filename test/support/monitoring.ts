// The monitoring group for tests: the Prometheus build (hack/kubebins/prometheus.sh: prometheus, promtool, the
// Prometheus Operator CRDs), installing and removing those CRDs, and the Prometheus URL (SCO_PROMETHEUS_URL, else
// env.json's prometheus.url, written by the cluster's monitoring group).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { readServicesEnv } from '../../hack/cluster/env.js';
import { prometheusBinDir } from '../../hack/cluster/prometheus.js';
import { isNotFound, Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { condition, eventually } from './kube.js';

/** The directory of the Prometheus build for the current pins (fails with how to build it when missing). */
export const prometheusBuild = (): string => prometheusBinDir({ build: false });

export const MONITORING_CRDS = ['prometheusrules.monitoring.coreos.com', 'servicemonitors.monitoring.coreos.com'];

function crdObjects(): KubeObject[] {
  const dir = join(prometheusBuild(), 'crds');
  return readdirSync(dir)
    .filter((f) => MONITORING_CRDS.some((n) => f === `monitoring.coreos.com_${n.split('.')[0]}.yaml`))
    .map((f) => parse(readFileSync(join(dir, f), 'utf8')) as KubeObject);
}

/** Installs PrometheusRule and ServiceMonitor (the pinned Prometheus Operator's CRDs) and waits until Established. */
export async function installMonitoringCrds(client: KubeClient): Promise<void> {
  const crds = crdObjects();
  if (crds.length !== MONITORING_CRDS.length) throw new Error(`expected ${MONITORING_CRDS.join(', ')} in the build`);
  for (const crd of crds)
    await client.apply(Resources.CustomResourceDefinition, crd, { fieldManager: 'smartcloudops-e2e', force: true });
  for (const name of MONITORING_CRDS)
    await eventually(`CRD ${name} Established`, async () => {
      const crd = await client.get<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>(
        Resources.CustomResourceDefinition,
        undefined,
        name,
      );
      return condition(crd, 'Established')?.status === 'True';
    });
}

/** Deletes both CRDs (their objects go with them) and waits until they are gone. */
export async function deleteMonitoringCrds(client: KubeClient): Promise<void> {
  for (const name of MONITORING_CRDS) {
    try {
      await client.delete(Resources.CustomResourceDefinition, undefined, name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  for (const name of MONITORING_CRDS)
    await eventually(
      `CRD ${name} gone`,
      () =>
        client.get(Resources.CustomResourceDefinition, undefined, name).then(
          () => false,
          (err: unknown) => isNotFound(err),
        ),
      { timeoutMs: 120_000 },
    );
}

/** The test Prometheus: SCO_PROMETHEUS_URL, else the cluster's monitoring group (env.json). */
export function prometheusUrl(): string {
  const url = process.env.SCO_PROMETHEUS_URL || readServicesEnv().prometheus?.url;
  if (!url)
    throw new Error(
      'no Prometheus: start the monitoring group (npm run cluster:up; --only=monitoring with SCO_PROMETHEUS_KUBECONFIG ' +
        'for another cluster) or set SCO_PROMETHEUS_URL',
    );
  return url;
}
