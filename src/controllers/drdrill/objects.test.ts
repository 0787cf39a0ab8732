import { describe, expect, test } from '@jest/globals';
import type { SmartCloudOpsAppSpec } from '../../crds/smartcloudopsapp.js';
import type { KubeObject } from '../../kube/index.js';
import { DRILL_UID_LABEL } from './guards.js';
import {
  appCopy,
  copySpec,
  DR_DATABASE_SECRET,
  DR_S3_SECRET,
  namespaceObject,
  networkPolicy,
  pgSettingsOf,
  restoreJob,
  runLabel,
} from './objects.js';

const d = { namespace: 'prod', name: 'monthly', uid: 'u-1' };
const spec = {
  version: '1.0.0',
  backend: { image: 'reg/app', replicas: 4 },
  frontend: { image: 'reg/web', replicas: 3 },
  database: { secretRef: { name: 'prod-db' } },
  cache: { secretRef: { name: 'prod-redis' } },
  rollout: { autoRollback: true, analysis: { prometheusUrl: 'http://prom:9090' } },
} as unknown as SmartCloudOpsAppSpec;

type Obj = KubeObject & { spec: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('DR objects', () => {
  test('the namespace carries the drill uid label, restricted Pod Security and the run that created it', () => {
    const ns = namespaceObject(d, 'prod-dr-abc', 'r1');
    expect(ns.metadata.labels).toMatchObject({
      [DRILL_UID_LABEL]: 'u-1',
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    expect(ns.metadata.annotations).toMatchObject({
      'ops.smartcloudops.ai/drill-key': 'prod/monthly',
      'ops.smartcloudops.ai/created-by-run': 'r1',
    });
  });

  test('the NetworkPolicy denies egress to the source namespace and pins the endpoints by address and port', () => {
    const np = networkPolicy(d, 'r1', {
      target: { host: '10.250.0.1', port: 5432 },
      s3: { host: 's3.eu-west-1.amazonaws.com', port: 443 },
    }) as Obj;
    expect(np.spec.policyTypes).toEqual(['Egress']);
    expect(np.spec.podSelector).toEqual({});
    const rules = np.spec.egress as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(rules[1]).toEqual({
      to: [
        {
          namespaceSelector: {
            matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['prod'] }],
          },
        },
      ],
    });
    expect(rules[2]).toEqual({
      to: [{ ipBlock: { cidr: '10.250.0.1/32' } }],
      ports: [{ protocol: 'TCP', port: 5432 }],
    });
    // A host name cannot be resolved into a policy: any address, that port only.
    expect(rules[3]).toEqual({ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ protocol: 'TCP', port: 443 }] });
    // No rule allows every port to everywhere.
    expect(rules.every((r) => r.ports || r.to[0].namespaceSelector)).toBe(true);
  });

  test("the app copy: the DR database Secret, no cache, one replica each, no analysis, the drill's labels", () => {
    const s = copySpec(spec);
    expect(s.database.secretRef.name).toBe(DR_DATABASE_SECRET);
    expect((s as { cache?: unknown }).cache).toBeUndefined();
    expect(s.backend.replicas).toBe(1);
    expect(s.frontend.replicas).toBe(1);
    expect(s.rollout?.analysis).toBeUndefined();
    const objs = appCopy(d, 'r1', 'web', spec) as Obj[];
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'Deployment/web-backend',
      'Deployment/web-frontend',
      'PodDisruptionBudget/web-backend',
      'PodDisruptionBudget/web-frontend',
      'Service/web-backend',
      'Service/web-frontend',
    ]);
    for (const o of objs) expect(o.metadata.labels?.[DRILL_UID_LABEL]).toBe('u-1');
    const backend = objs.find((o) => o.metadata.name === 'web-backend' && o.kind === 'Deployment') as Obj;
    const env = JSON.stringify(backend.spec.template.spec.containers[0].env);
    expect(env).toContain(`"name":"${DR_DATABASE_SECRET}"`);
    expect(env).not.toContain('prod-db');
    expect(env).not.toContain('prod-redis');
    expect(env).not.toContain('REDIS');
  });

  test('the restore Job: the agent restore of the manifest, credentials only by secretKeyRef, restricted', () => {
    const job = restoreJob(d, 'r1', {
      image: 'localhost/op:1',
      manifestKey: 'e2e/prod.nightly/x.manifest.json',
      s3: { bucket: 'b', region: 'eu-west-1', endpoint: 'http://10.250.0.1:9000', forcePathStyle: true },
      jobs: 3,
      activeDeadlineSeconds: 600,
    }) as Obj;
    const c = job.spec.template.spec.containers[0];
    expect(c.args).toEqual([
      'restore',
      '--bucket=b',
      '--manifest=e2e/prod.nightly/x.manifest.json',
      '--region=eu-west-1',
      '--jobs=3',
      '--work-dir=/work',
      '--endpoint=http://10.250.0.1:9000',
      '--force-path-style',
    ]);
    expect(job.spec.backoffLimit).toBe(0);
    for (const e of c.env as { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string } } }[]) {
      if (e.value !== undefined) expect(['LOG_LEVEL', 'HOME', 'MALLOC_ARENA_MAX']).toContain(e.name);
      else expect([DR_S3_SECRET, DR_DATABASE_SECRET]).toContain(e.valueFrom?.secretKeyRef.name);
    }
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    expect(job.spec.template.metadata.labels['ops.smartcloudops.ai/drill-run']).toBe(runLabel('r1'));
  });

  test('run ids as label values', () => {
    expect(runLabel('20260301T030000Z')).toBe('20260301T030000Z');
    expect(runLabel(`manual-${'x'.repeat(80)}`)).toHaveLength(63);
  });

  test('PostgreSQL settings from a Secret name keys, never values', () => {
    expect(pgSettingsOf({ host: 'h', username: 'u', password: 'p' }, 'Secret a', 'postgres')).toEqual({
      ok: true,
      settings: { host: 'h', port: 5432, user: 'u', password: 'p', database: 'postgres' },
    });
    expect(pgSettingsOf({ uri: 'postgres://u:s%40cret@db:6432/app' }, 'Secret a')).toEqual({
      ok: true,
      settings: { host: 'db', port: 6432, user: 'u', password: 's@cret', database: 'app' },
    });
    const bad = pgSettingsOf({ host: 'h', username: 'u', password: 'hunter2', port: 'x' }, 'Secret a');
    expect(bad).toMatchObject({ ok: false, reason: 'SecretInvalid' });
    expect(JSON.stringify(bad)).not.toContain('hunter2');
    expect(pgSettingsOf({ host: 'h', password: 'p' }, 'Secret a')).toMatchObject({
      ok: false,
      reason: 'SecretKeyMissing',
    });
    expect(pgSettingsOf(undefined, 'Secret a')).toMatchObject({ ok: false, reason: 'SecretMissing' });
  });
});
