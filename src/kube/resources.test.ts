import { describe, expect, test } from '@jest/globals';
import { apiVersionOf, resourcePath, Resources } from './resources.js';

describe('resourcePath', () => {
  test('core, grouped, cluster-scoped and subresource paths', () => {
    expect(resourcePath(Resources.Pod, 'ns1', 'p')).toBe('/api/v1/namespaces/ns1/pods/p');
    expect(resourcePath(Resources.Pod)).toBe('/api/v1/pods');
    expect(resourcePath(Resources.Deployment, 'ns', 'd', 'status')).toBe(
      '/apis/apps/v1/namespaces/ns/deployments/d/status',
    );
    expect(resourcePath(Resources.Namespace, 'ignored', 'n')).toBe('/api/v1/namespaces/n');
  });
  test('apiVersion', () => {
    expect(apiVersionOf(Resources.Pod)).toBe('v1');
    expect(apiVersionOf(Resources.Job)).toBe('batch/v1');
  });
});
