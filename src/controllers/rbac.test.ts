// RBAC derived from controller definitions: owned kinds get what apply, prune and re-create need, watched kinds
// read-only access, a finalizer the right to patch its object.
import { describe, expect, test } from '@jest/globals';
import { resourceRefOf } from '../crds/kinds.js';
import { Resources } from '../kube/index.js';
import { capabilityController } from '../runtime/children-capability.js';
import { operatorRules } from './rbac.js';

describe('operatorRules', () => {
  test('owns, watches and finalize give exactly the verbs they need', () => {
    const app = resourceRefOf('SmartCloudOpsApp');
    const def = capabilityController({
      name: 'app',
      for: app,
      owns: [Resources.Deployment, Resources.Job],
      watches: [{ resource: Resources.Secret, map: () => [] }],
      desired: () => [],
      status: () => ({ status: {} }),
      finalize: async () => undefined,
    });
    const rules = operatorRules([def]);
    const verbs = (group: string, resource: string) =>
      rules.find((r) => r.apiGroups[0] === group && r.resources[0] === resource)?.verbs;
    expect(verbs('apps', 'deployments')).toEqual(['create', 'delete', 'get', 'list', 'patch', 'watch']);
    expect(verbs('batch', 'jobs')).toEqual(['create', 'delete', 'get', 'list', 'patch', 'watch']);
    expect(verbs('', 'secrets')).toEqual(['get', 'list', 'watch']);
    expect(verbs(app.group, app.plural)).toEqual(['get', 'list', 'patch', 'update', 'watch']);
    expect(verbs(app.group, `${app.plural}/finalizers`)).toEqual(['update']);
    expect(verbs(app.group, `${app.plural}/status`)).toEqual(['get', 'patch', 'update']);
    // Without owns/watches/finalize: nothing beyond the object and its status (the five kinds today).
    const plain = operatorRules([
      capabilityController({ name: 'x', for: app, desired: () => [], status: () => ({ status: {} }) }),
    ]);
    expect(plain.map((r) => r.resources[0]).sort()).toEqual(['events', app.plural, `${app.plural}/status`].sort());
  });
});
