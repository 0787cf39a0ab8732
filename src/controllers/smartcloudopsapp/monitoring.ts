// SCAFFOLD (this session's split of the work): the monitoring branch replaces this file entirely.
import type { KubeObject } from '../../kube/index.js';
import type { AppObject, MonitoringSupport } from './contracts.js';

/** The PrometheusRule and ServiceMonitor children of an app, for the kinds the API server serves. */
export function monitoringChildren(_app: AppObject, _support: MonitoringSupport): KubeObject[] {
  return [];
}

/**
 * Which Prometheus Operator kinds the API server serves, kept current in the background (the app is reconciled
 * when that changes, through the enqueue it is given); the capability reads `current()` in prepare.
 */
export interface MonitoringDetector {
  current(): MonitoringSupport;
  stop(): Promise<void>;
}

export function createMonitoringDetector(_deps: { enqueueAll(): void }): MonitoringDetector {
  return { current: () => ({ prometheusRule: false, serviceMonitor: false }), stop: async () => undefined };
}
