// The children of a SmartCloudOpsApp (pure): per component a Deployment, a Service and a PodDisruptionBudget,
// named `<app>-backend` / `<app>-frontend` (ScalingPolicy targets these names). The pods run under the restricted
// Pod Security profile (non-root, no privilege escalation, all capabilities dropped, seccomp RuntimeDefault, a
// read-only root filesystem with an emptyDir on /tmp), get readiness and liveness probes on the health path, and see
// database and cache settings only as secretKeyRef env. spec.podTemplate places them (nodeSelector, tolerations).
import type { SmartCloudOpsAppSpec } from '../../crds/smartcloudopsapp.js';
import type { KubeObject, ResourceRef } from '../../kube/index.js';

type Child = KubeObject & { spec: Record<string, unknown> };
import { MANAGED_BY, MANAGED_BY_LABEL } from '../../runtime/children.js';
import { COMPONENTS, type ComponentName, type Release } from './revision.js';

export const PodDisruptionBudgetRef: ResourceRef = {
  group: 'policy',
  version: 'v1',
  plural: 'poddisruptionbudgets',
  kind: 'PodDisruptionBudget',
  namespaced: true,
};

export const APP_NAME = 'smartcloudops';
export const REVISION_LABEL = 'ops.smartcloudops.ai/revision';
/** Pods the operator watches (crash loops, readiness): labelled by their template with both of these. */
export const POD_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY},app.kubernetes.io/name=${APP_NAME}`;

export const childName = (app: string, component: ComponentName): string => `${app}-${component}`;

/** The labels that select a component's pods (the Deployment's immutable selector, the Service, the PDB). */
export function selectorLabels(app: string, component: ComponentName): Record<string, string> {
  return {
    'app.kubernetes.io/name': APP_NAME,
    'app.kubernetes.io/instance': app,
    'app.kubernetes.io/component': component,
  };
}

export function commonLabels(app: string, component: ComponentName, version: string): Record<string, string> {
  return {
    ...selectorLabels(app, component),
    'app.kubernetes.io/part-of': app,
    'app.kubernetes.io/version': version.slice(0, 63).replace(/[^A-Za-z0-9]+$/, ''),
  };
}

export interface DesiredInput {
  name: string;
  spec: SmartCloudOpsAppSpec;
  /** What to run (the spec's release, or the one a rollback targets) and its revision. */
  release: Release;
  revision: string;
}

function deployment(i: DesiredInput, component: ComponentName): Child {
  const c = i.release[component];
  const sc = i.spec[component];
  const labels = commonLabels(i.name, component, i.release.version);
  const probe = (periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path: c.healthPath, port: 'http', scheme: 'HTTP' },
    periodSeconds,
    timeoutSeconds: 2,
    failureThreshold,
  });
  const pt = i.spec.podTemplate;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: childName(i.name, component), labels: { ...labels, [REVISION_LABEL]: i.revision } },
    spec: {
      replicas: sc.replicas ?? 2,
      selector: { matchLabels: selectorLabels(i.name, component) },
      progressDeadlineSeconds: i.spec.rollout?.progressDeadlineSeconds ?? 600,
      revisionHistoryLimit: 3,
      // Old pods stay until new ones are ready: a failing release never takes the service down.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: { ...labels, [MANAGED_BY_LABEL]: MANAGED_BY, [REVISION_LABEL]: i.revision } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          ...(pt?.nodeSelector && Object.keys(pt.nodeSelector).length ? { nodeSelector: pt.nodeSelector } : {}),
          ...(pt?.tolerations?.length ? { tolerations: pt.tolerations } : {}),
          containers: [
            {
              name: component,
              image: c.image,
              imagePullPolicy: 'IfNotPresent',
              ports: [{ name: 'http', containerPort: c.port, protocol: 'TCP' }],
              ...(c.env.length ? { env: c.env } : {}),
              resources: c.resources,
              readinessProbe: probe(5, 3),
              livenessProbe: { ...probe(10, 6), initialDelaySeconds: 10 },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
              },
              terminationMessagePolicy: 'FallbackToLogsOnError',
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: {} }],
        },
      },
    },
  };
}

function service(i: DesiredInput, component: ComponentName): Child {
  const c = i.release[component];
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: childName(i.name, component), labels: commonLabels(i.name, component, i.release.version) },
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(i.name, component),
      ports: [{ name: 'http', port: c.port, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

function pdb(i: DesiredInput, component: ComponentName): Child {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: childName(i.name, component), labels: commonLabels(i.name, component, i.release.version) },
    // maxUnavailable 1 keeps a voluntary eviction possible at one replica (minAvailable 1 would block node drains).
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(i.name, component) } },
  };
}

/** Deployment, Service and PodDisruptionBudget of both components. */
export function appChildren(i: DesiredInput): KubeObject[] {
  return COMPONENTS.flatMap((c) => [deployment(i, c), service(i, c), pdb(i, c)]);
}
