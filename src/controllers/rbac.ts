// RBAC derived from what the controllers declare (least privilege: no wildcards). Generated into config/rbac/.
import type { ControllerDef, PolicyRule } from '../runtime/manager.js';
import { controllerDefs } from './index.js';

export const OPERATOR_NAME = 'smartcloudops-operator';

function merge(rules: PolicyRule[]): PolicyRule[] {
  // One rule per (group, resource), verbs unioned and sorted; rules sorted for stable output.
  const by = new Map<string, Set<string>>();
  for (const r of rules) {
    for (const g of r.apiGroups) {
      for (const res of r.resources) {
        const k = `${g}\u0000${res}`;
        const set = by.get(k) ?? new Set<string>();
        r.verbs.forEach((v) => set.add(v));
        by.set(k, set);
      }
    }
  }
  return [...by.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, verbs]) => {
      const [g, res] = k.split('\u0000') as [string, string];
      return { apiGroups: [g], resources: [res], verbs: [...verbs].sort() };
    });
}

export function operatorRules(defs: ControllerDef[] = controllerDefs()): PolicyRule[] {
  const rules: PolicyRule[] = [
    // Events on the watched objects (the recorder creates, and bumps counts with a merge patch).
    { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  ];
  for (const d of defs) {
    rules.push({ apiGroups: [d.for.group], resources: [d.for.plural], verbs: ['get', 'list', 'watch'] });
    rules.push({ apiGroups: [d.for.group], resources: [`${d.for.plural}/status`], verbs: ['get', 'patch', 'update'] });
    for (const o of d.owns ?? []) {
      // Server-side apply is a patch (create when absent); prune and re-create delete.
      rules.push({
        apiGroups: [o.group],
        resources: [o.plural],
        verbs: ['create', 'delete', 'get', 'list', 'patch', 'watch'],
      });
    }
    for (const o of d.ownsOptional ?? []) {
      rules.push({
        apiGroups: [o.group],
        resources: [o.plural],
        verbs: ['create', 'delete', 'get', 'list', 'patch', 'watch'],
      });
    }
    if (d.ownsOptional?.length) {
      // Whether an optional kind is served: a watch of CRDs (runtime/served-kinds.ts).
      rules.push({
        apiGroups: ['apiextensions.k8s.io'],
        resources: ['customresourcedefinitions'],
        verbs: ['list', 'watch'],
      });
    }
    if (d.owns?.length || d.ownsOptional?.length) {
      // blockOwnerDeletion on a child needs update of the owner's finalizers (OwnerReferencesPermissionEnforcement).
      rules.push({ apiGroups: [d.for.group], resources: [`${d.for.plural}/finalizers`], verbs: ['update'] });
    }
    for (const w of d.watches ?? []) {
      rules.push({ apiGroups: [w.resource.group], resources: [w.resource.plural], verbs: ['get', 'list', 'watch'] });
    }
    rules.push(...(d.rbac ?? []));
  }
  return merge(rules);
}

export function rbacManifests() {
  const labels = { 'app.kubernetes.io/name': OPERATOR_NAME };
  return {
    clusterRole: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: OPERATOR_NAME, labels },
      rules: operatorRules(),
    },
    leaderElectionRole: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: `${OPERATOR_NAME}-leader-election`, labels },
      rules: [
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create', 'get', 'update'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      ],
    },
  };
}
