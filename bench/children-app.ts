// The capability the children benchmark runs: per owner (a ScalingPolicy object stands in) a ConfigMap, a Service
// and a Deployment (0 replicas: the fake nodes would otherwise carry 1,000 pods on a shared 2-core machine; the
// Deployment controller still creates a ReplicaSet and updates status, whose events reach the owner).
import { resourceRefOf } from '../src/crds/kinds.js';
import { Resources, type KubeObject } from '../src/kube/index.js';
import { capabilityController, type Observations } from '../src/runtime/children-capability.js';
import { setConditions } from '../src/runtime/conditions.js';
import type { Condition } from '../src/kube/types.js';

export const ownerRef = resourceRefOf('ScalingPolicy');
export const ownedKinds = [Resources.ConfigMap, Resources.Service, Resources.Deployment];

export function desiredChildren(owner: KubeObject): KubeObject[] {
  const name = owner.metadata.name as string;
  const labels = { 'app.kubernetes.io/name': 'bench', 'app.kubernetes.io/instance': name };
  return [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${name}-config`, labels },
      data: { APP_ENV: 'production', LOG_LEVEL: 'info', DATABASE_POOL: '10' },
    } as KubeObject,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `${name}-svc`, labels },
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 5000 }] },
    } as KubeObject,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: `${name}-web`, labels },
      spec: {
        replicas: 0,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              {
                name: 'backend',
                image: 'busybox:1.36',
                command: ['sleep', '3600'],
                ports: [{ containerPort: 5000 }],
                envFrom: [{ configMapRef: { name: `${name}-config` } }],
                resources: { requests: { cpu: 0.25, memory: '256Mi' }, limits: { cpu: 0.5, memory: '512Mi' } },
                readinessProbe: { httpGet: { path: '/health', port: 5000 } },
              },
            ],
          },
        },
      },
    } as KubeObject,
  ];
}

type Owner = KubeObject & { status?: { conditions?: Condition[] } };

/** The status the capability writes once its children are applied (the baseline writes the same). */
export function benchStatus(owner: Owner, o: Pick<Observations, 'now' | 'childrenSynced'>): Record<string, unknown> {
  return {
    observedGeneration: owner.metadata.generation,
    conditions: setConditions(
      owner.status?.conditions,
      [
        o.childrenSynced
          ? { type: 'Ready', status: 'True', reason: 'Reconciled', message: 'children applied' }
          : { type: 'Ready', status: 'False', reason: 'Progressing', message: 'applying children' },
      ],
      owner.metadata.generation,
      o.now,
    ),
  };
}

export const benchCapability = () =>
  capabilityController<Owner>({
    name: 'bench-children',
    for: ownerRef,
    owns: ownedKinds,
    desired: (owner) => desiredChildren(owner),
    status: (owner, _observed, o) => ({ status: benchStatus(owner, o) }),
  });
