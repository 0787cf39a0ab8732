// SCAFFOLD (this session's split of the work): the monitoring branch replaces this file entirely.
import type { KubeObject } from '../../kube/index.js';
import type { AppObject, MonitoringSupport } from './contracts.js';

/** The PrometheusRule and ServiceMonitor children of an app, for the kinds the API server serves. */
export function monitoringChildren(_app: AppObject, _support: MonitoringSupport): KubeObject[] {
  return [];
}
