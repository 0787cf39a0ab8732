import { describe, expect, test } from '@jest/globals';
import { Metrics, resourceOfPath } from './metrics.js';

describe('metrics', () => {
  test('resource labels from API paths', () => {
    expect(resourceOfPath('/apis/coordination.k8s.io/v1/namespaces/x/leases/l')).toBe('leases');
    expect(resourceOfPath('/apis/ops.smartcloudops.ai/v1alpha1/namespaces/ns/backupschedules/b/status')).toBe(
      'backupschedules/status',
    );
    expect(resourceOfPath('/api/v1/pods')).toBe('pods');
    expect(resourceOfPath('/api/v1/namespaces/ns')).toBe('namespaces');
  });
  test('exports controller-runtime metric names', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.clientObserver().request?.({
      method: 'PATCH',
      verb: 'patch',
      code: '200',
      host: 'h',
      path: '/api/v1/namespaces/a/pods/p',
      seconds: 0.01,
    });
    m.leaderStatus.set({ name: 'l' }, 1);
    const text = await m.registry.metrics();
    for (const name of [
      'controller_runtime_reconcile_total',
      'controller_runtime_reconcile_errors_total',
      'controller_runtime_terminal_reconcile_errors_total',
      'controller_runtime_reconcile_time_seconds',
      'controller_runtime_max_concurrent_reconciles',
      'controller_runtime_active_workers',
      'workqueue_depth',
      'workqueue_adds_total',
      'workqueue_queue_duration_seconds',
      'workqueue_work_duration_seconds',
      'workqueue_unfinished_work_seconds',
      'workqueue_longest_running_processor_seconds',
      'workqueue_retries_total',
      'rest_client_requests_total',
      'rest_client_request_duration_seconds',
      'leader_election_master_status',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain('rest_client_requests_total{code="200",host="h",method="PATCH"} 1');
    expect(text).toContain('smartcloudops_kube_requests_total{verb="patch",resource="pods",code="200"} 1');
  });
});
