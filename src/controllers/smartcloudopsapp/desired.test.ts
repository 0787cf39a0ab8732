// The children builders and the revision hash.
import { describe, expect, test } from '@jest/globals';
import type { SmartCloudOpsAppSpec } from '../../crds/smartcloudopsapp.js';
import { validateSpec } from '../../crds/validate.js';
import type { KubeObject } from '../../kube/index.js';
import { appChildren, REVISION_LABEL } from './desired.js';
import { configHashOf, releaseOf, revisionOf } from './revision.js';

type Obj = KubeObject & { spec: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

function specOf(extra: Record<string, unknown> = {}): SmartCloudOpsAppSpec {
  const { spec, errors } = validateSpec<SmartCloudOpsAppSpec>('SmartCloudOpsApp', {
    version: '1.0.0',
    backend: { image: 'reg/backend', env: [{ name: 'FLASK_ENV', value: 'production' }] },
    frontend: { image: 'reg/frontend', replicas: 1 },
    database: { secretRef: { name: 'pg' } },
    cache: { secretRef: { name: 'redis' } },
    ...extra,
  });
  expect(errors).toEqual([]);
  return spec;
}

const build = (spec: SmartCloudOpsAppSpec, keys = { database: ['uri'], cache: ['host', 'password', 'port'] }) => {
  const release = releaseOf(spec, keys);
  const revision = revisionOf(release);
  return { release, revision, children: appChildren({ name: 'shop', spec, release, revision }) as Obj[] };
};

describe('children', () => {
  test('a Deployment, a Service and a PDB per component, named <app>-<component>', () => {
    const { children } = build(specOf());
    expect(children.map((c) => `${c.kind}/${c.metadata.name}`)).toEqual([
      'Deployment/shop-backend',
      'Service/shop-backend',
      'PodDisruptionBudget/shop-backend',
      'Deployment/shop-frontend',
      'Service/shop-frontend',
      'PodDisruptionBudget/shop-frontend',
    ]);
    const svc = children.find((c) => c.kind === 'Service' && c.metadata.name === 'shop-frontend') as Obj;
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 3000, targetPort: 'http', protocol: 'TCP' }]);
    expect(svc.spec.selector).toEqual({
      'app.kubernetes.io/name': 'smartcloudops',
      'app.kubernetes.io/instance': 'shop',
      'app.kubernetes.io/component': 'frontend',
    });
  });

  test('restricted pods, probes on the health path, runbook resources, /tmp emptyDir, secrets only by reference', () => {
    const { children, revision } = build(specOf());
    const d = children[0] as Obj;
    expect(d.spec.replicas).toBe(2);
    expect(d.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
    const pod = d.spec.template.spec;
    expect(d.spec.template.metadata.labels[REVISION_LABEL]).toBe(revision);
    expect(pod.securityContext).toEqual({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const c = pod.containers[0];
    expect(c.image).toBe('reg/backend:1.0.0');
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/health', port: 'http', scheme: 'HTTP' });
    expect(c.livenessProbe.httpGet.path).toBe('/health');
    expect(c.resources).toEqual({
      requests: { cpu: '100m', memory: '256Mi' },
      limits: { cpu: '500m', memory: '512Mi' },
    });
    expect(c.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(pod.volumes).toEqual([{ name: 'tmp', emptyDir: {} }]);
    expect(c.env).toEqual([
      { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'pg', key: 'uri' } } },
      { name: 'REDIS_HOST', valueFrom: { secretKeyRef: { name: 'redis', key: 'host' } } },
      { name: 'REDIS_PORT', valueFrom: { secretKeyRef: { name: 'redis', key: 'port' } } },
      { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'redis', key: 'password' } } },
      { name: 'FLASK_ENV', value: 'production' },
    ]);
    // no env var carries a value from a Secret
    for (const e of c.env) if (/PG|REDIS|DATABASE/.test(e.name)) expect(e.value).toBeUndefined();
    const front = (children[3] as Obj).spec.template.spec.containers[0];
    expect(front.readinessProbe.httpGet.path).toBe('/api/health');
    expect(front.env).toBeUndefined();
  });

  test('per-key PG* variables when the Secret has no uri', () => {
    const { children } = build(specOf(), { database: ['database', 'host', 'password', 'port', 'username'], cache: [] });
    const env = (children[0] as Obj).spec.template.spec.containers[0].env.map((e: { name: string }) => e.name);
    expect(env).toEqual(['PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD', 'FLASK_ENV']);
  });

  test('podTemplate places both components (nodeSelector, tolerations); validated', () => {
    const podTemplate = {
      nodeSelector: { 'smartcloudops.ai/node': 'real' },
      tolerations: [{ key: 'smartcloudops.ai/real-node', operator: 'Exists', effect: 'NoSchedule' }],
    };
    const { children, revision } = build(specOf({ podTemplate }));
    for (const d of children.filter((c) => c.kind === 'Deployment')) {
      expect(d.spec.template.spec.nodeSelector).toEqual(podTemplate.nodeSelector);
      expect(d.spec.template.spec.tolerations).toEqual(podTemplate.tolerations);
    }
    // scheduling is not part of the revision
    expect(revision).toBe(build(specOf()).revision);
    const bad = validateSpec('SmartCloudOpsApp', {
      ...specOf(),
      podTemplate: { tolerations: [{ operator: 'Sometimes' }] },
    });
    expect(bad.errors.map((e) => e.field)).toContain('spec.podTemplate.tolerations[0].operator');
  });
});

describe('revision', () => {
  test('changes with images, config and secret key layout; not with replicas', () => {
    const base = build(specOf()).revision;
    expect(base).toMatch(/^[0-9a-f]{10}$/);
    expect(build(specOf()).revision).toBe(base);
    expect(build(specOf({ version: '1.1.0' })).revision).not.toBe(base);
    expect(build(specOf({ frontend: { image: 'reg/frontend', replicas: 5 } })).revision).toBe(base);
    expect(build(specOf({ frontend: { image: 'reg/frontend', env: [{ name: 'A', value: 'b' }] } })).revision).not.toBe(
      base,
    );
    expect(build(specOf(), { database: ['host'], cache: [] }).revision).not.toBe(base);
  });

  test('the config hash ignores images', () => {
    const a = build(specOf()).release;
    const b = build(specOf({ version: '2.0.0' })).release;
    expect(configHashOf(a)).toBe(configHashOf(b));
    expect(a.backend.image).not.toBe(b.backend.image);
  });
});
