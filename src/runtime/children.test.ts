// The pure part of the seam with fixtures shaped like the API server's output (managedFields as kube-apiserver 1.35
// writes them for a server-side apply, a `kubectl edit`, an HPA's scale update).
import { describe, expect, test } from '@jest/globals';
import type { KubeObject } from '../kube/index.js';
import {
  APPLIED_ANNOTATION,
  childTransform,
  controllerOwnerKey,
  fieldsCover,
  immutableChanged,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  ownerKeysOnUpdate,
  ownershipOf,
  planChild,
  selectPrunable,
  withoutClaimed,
  type CachedChild,
  type FieldsV1,
} from './children.js';

const owner = { group: 'ops.smartcloudops.ai', kind: 'SmartCloudOpsApp' };
const ref = (
  name: string,
  uid: string,
  o: Partial<{ apiVersion: string; kind: string; controller: boolean }> = {},
) => ({
  apiVersion: o.apiVersion ?? 'ops.smartcloudops.ai/v1alpha1',
  kind: o.kind ?? 'SmartCloudOpsApp',
  name,
  uid,
  controller: o.controller ?? true,
});
const child = (ownerReferences: ReturnType<typeof ref>[], labels?: Record<string, string>, name = 'c'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, ownerReferences, labels },
});

describe('owner mapping', () => {
  test('by the controller reference whose group and kind match; the version does not matter', () => {
    expect(controllerOwnerKey(child([ref('app', 'u1')]), owner)).toBe('ns/app');
    expect(controllerOwnerKey(child([ref('app', 'u1', { apiVersion: 'ops.smartcloudops.ai/v1' })]), owner)).toBe(
      'ns/app',
    );
    // Same kind, another group: not ours.
    expect(controllerOwnerKey(child([ref('app', 'u1', { apiVersion: 'other.example.com/v1' })]), owner)).toBe(
      undefined,
    );
    // Not the controller: not mapped.
    expect(controllerOwnerKey(child([ref('app', 'u1', { controller: false })]), owner)).toBe(undefined);
    expect(controllerOwnerKey(child([]), owner)).toBe(undefined);
  });

  test('an update enqueues the old and the new owner, once each', () => {
    const a = child([ref('old', 'u1')]);
    const b = child([ref('new', 'u2')]);
    expect(ownerKeysOnUpdate(a, b, owner)).toEqual(['ns/old', 'ns/new']);
    expect(ownerKeysOnUpdate(a, a, owner)).toEqual(['ns/old']);
    expect(ownerKeysOnUpdate(child([]), b, owner)).toEqual(['ns/new']);
  });
});

describe('prune selection', () => {
  test('only children with our label AND a controller reference to this owner, not desired, not deleting', () => {
    const ours = { [MANAGED_BY_LABEL]: MANAGED_BY };
    const keep = child([ref('app', 'u1')], ours, 'keep');
    const stale = child([ref('app', 'u1')], ours, 'stale');
    const lookAlike = child([ref('app', 'u1')], undefined, 'look-alike'); // no label
    const otherLabel = child([ref('app', 'u1')], { [MANAGED_BY_LABEL]: 'helm' }, 'helm');
    const otherOwner = child([ref('app2', 'u2')], ours, 'other-owner');
    const notController = child([ref('app', 'u1', { controller: false })], ours, 'not-controller');
    const going = child([ref('app', 'u1')], ours, 'going');
    going.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    const all = [keep, stale, lookAlike, otherLabel, otherOwner, notController, going];
    expect(selectPrunable(all, 'u1', new Set(['keep'])).map((c) => c.metadata.name)).toEqual(['stale']);
  });
});

// A Deployment as the server holds it after our apply, an HPA's scale update and a `kubectl edit` of the image.
const ourDeploymentFields: FieldsV1 = {
  'f:metadata': {
    'f:annotations': { [`f:${APPLIED_ANNOTATION}`]: {} },
    'f:labels': { [`f:${MANAGED_BY_LABEL}`]: {}, 'f:app': {} },
    'f:ownerReferences': { 'k:{"uid":"u1"}': {} },
  },
  'f:spec': {
    'f:replicas': {},
    'f:selector': {},
    'f:template': {
      'f:metadata': { 'f:labels': { 'f:app': {} } },
      'f:spec': {
        'f:containers': {
          'k:{"name":"app"}': {
            '.': {},
            'f:args': {},
            'f:image': {},
            'f:name': {},
            'f:ports': { 'k:{"containerPort":5000,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
            'f:resources': { 'f:requests': { 'f:cpu': {}, 'f:memory': {} } },
          },
        },
      },
    },
  },
};

function desiredDeployment(image = 'app:1', replicas: number | undefined = 2): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'ns',
      labels: { app: 'web', [MANAGED_BY_LABEL]: MANAGED_BY },
      ownerReferences: [ref('app', 'u1')],
    },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'app',
              image,
              args: ['--port', '5000'],
              ports: [{ containerPort: 5000 }], // protocol defaulted to TCP by the server
              resources: { requests: { cpu: 0.5, memory: '1024Mi' } }, // server: 500m, 1Gi
            },
          ],
        },
      },
    },
  } as KubeObject;
}

function cachedAfterApply(desired: KubeObject, managedFields: unknown[]): CachedChild {
  const body = planChild(desired, undefined).body;
  const server = {
    ...body,
    metadata: { ...body.metadata, uid: 'd1', resourceVersion: '7', managedFields },
    // The server's normalised form: differs from what we sent, and must not matter.
    spec: {
      ...(body as unknown as { spec: Record<string, unknown> }).spec,
      replicas: 5,
      progressDeadlineSeconds: 600,
      template: { spec: { containers: [{ name: 'app', image: 'app:1', resources: { requests: { cpu: '500m' } } }] } },
    },
    status: { readyReplicas: 2 },
  };
  return childTransform(server as KubeObject) as CachedChild;
}

const applyEntry = (fields: FieldsV1) => ({
  manager: MANAGED_BY,
  operation: 'Apply',
  apiVersion: 'apps/v1',
  fieldsType: 'FieldsV1',
  fieldsV1: fields,
});

describe('managed-field projection', () => {
  test('ours is our Apply entry; others claim by Apply or through the scale subresource; Updates and status do not', () => {
    const o = ownershipOf([
      applyEntry({ 'f:spec': { 'f:replicas': {} } }),
      { manager: 'scaling', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:minReadySeconds': {} } } },
      {
        manager: 'kube-controller-manager',
        operation: 'Update',
        subresource: 'scale',
        fieldsV1: { 'f:spec': { 'f:replicas': {} } },
      },
      { manager: 'kubectl-edit', operation: 'Update', fieldsV1: { 'f:spec': { 'f:paused': {} } } },
      {
        manager: 'kube-controller-manager',
        operation: 'Update',
        subresource: 'status',
        fieldsV1: { 'f:status': { 'f:replicas': {} } },
      },
      { manager: 'other', operation: 'Apply', fieldsV1: { 'f:status': { 'f:x': {} }, 'f:data': { 'f:k': {} } } },
    ]);
    expect(JSON.parse(o.ours as string)).toEqual({ 'f:spec': { 'f:replicas': {} } });
    expect(JSON.parse(o.claimed as string)).toEqual({
      'f:spec': { 'f:minReadySeconds': {}, 'f:replicas': {} },
      'f:data': { 'f:k': {} },
    });
  });

  test('coverage matches keyed lists (a defaulted key field included), atomic lists and nested maps', () => {
    const { apiVersion: _a, kind: _k, ...rest } = planChild(desiredDeployment(), undefined).body;
    const { name: _n, namespace: _ns, ...metadata } = rest.metadata;
    const d = { ...rest, metadata };
    expect(fieldsCover(ourDeploymentFields, d)).toBe(true);
    // A field we want that our set lacks is not covered.
    const { 'f:image': _i, ...noImage } = (ourDeploymentFields['f:spec'] as FieldsV1)['f:template']?.['f:spec']?.[
      'f:containers'
    ]?.['k:{"name":"app"}'] as FieldsV1;
    const edited = structuredClone(ourDeploymentFields);
    (edited['f:spec'] as FieldsV1)['f:template']!['f:spec']!['f:containers']!['k:{"name":"app"}'] = noImage;
    expect(fieldsCover(edited, d)).toBe(false);
    // A second container the set does not know is not covered.
    const two = structuredClone(d) as unknown as { spec: { template: { spec: { containers: unknown[] } } } };
    two.spec.template.spec.containers.push({ name: 'sidecar', image: 's' });
    expect(fieldsCover(ourDeploymentFields, two)).toBe(false);
    expect(fieldsCover(undefined, d)).toBe(false);
  });

  test('a field claimed by another manager and not ours is left out; a shared one is kept', () => {
    const claimed: FieldsV1 = { 'f:spec': { 'f:replicas': {} } };
    const d = desiredDeployment();
    const r = withoutClaimed(d, claimed, { 'f:spec': { 'f:selector': {} } });
    expect(r.left).toEqual(['spec.replicas']);
    expect((r.value as { spec: Record<string, unknown> }).spec.replicas).toBeUndefined();
    expect((r.value as { spec: Record<string, unknown> }).spec.selector).toEqual({ matchLabels: { app: 'web' } });
    const shared = withoutClaimed(d, claimed, { 'f:spec': { 'f:replicas': {} } });
    expect(shared.left).toEqual([]);
    expect((shared.value as { spec: Record<string, unknown> }).spec.replicas).toBe(2);
  });

  test('the child transform keeps metadata, status, scalar spec fields and the digest; never data', () => {
    const cm = childTransform({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', namespace: 'ns', uid: 'u', managedFields: [applyEntry({ 'f:data': { 'f:k': {} } })] },
      data: { k: 'a large value' },
    } as KubeObject) as CachedChild & { data?: unknown };
    expect(cm.data).toBeUndefined();
    expect(cm.metadata.managedFields).toBeUndefined();
    expect(cm.ownership).toEqual({ ours: JSON.stringify({ 'f:data': { 'f:k': {} } }) });
    const dep = cachedAfterApply(desiredDeployment(), [applyEntry(ourDeploymentFields)]);
    expect(dep.spec).toEqual({ replicas: 5, progressDeadlineSeconds: 600 });
    expect(dep.status).toEqual({ readyReplicas: 2 });
  });
});

describe('planChild', () => {
  const applied = [applyEntry(ourDeploymentFields)];

  test('absent → apply, with the applied annotation', () => {
    const p = planChild(desiredDeployment(), undefined);
    expect([p.action, p.reason]).toEqual(['apply', 'absent']);
    expect(p.body.metadata.annotations?.[APPLIED_ANNOTATION]).toMatch(/^[\w-]{16}\.[\w-]{16}$/);
  });

  test('server-normalised values (500m, 1Gi, defaults) and a moved status cause no write', () => {
    const cached = cachedAfterApply(desiredDeployment(), applied);
    expect(planChild(desiredDeployment(), cached)).toMatchObject({ action: 'none', reason: 'up-to-date' });
  });

  test('a changed desired object → apply (not a re-create: the image is mutable)', () => {
    const cached = cachedAfterApply(desiredDeployment(), applied);
    expect(planChild(desiredDeployment('app:2'), cached)).toMatchObject({ action: 'apply', reason: 'changed' });
  });

  test('a hand edit of a field we own (it left our set) → apply once; after it our set covers it again', () => {
    const edited = structuredClone(ourDeploymentFields);
    delete (edited['f:spec'] as FieldsV1)['f:replicas'];
    const cached = cachedAfterApply(desiredDeployment(), [
      applyEntry(edited),
      { manager: 'kubectl-edit', operation: 'Update', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
    ]);
    expect(planChild(desiredDeployment(), cached)).toMatchObject({ action: 'apply', reason: 'drift' });
    const fixed = cachedAfterApply(desiredDeployment(), applied);
    expect(planChild(desiredDeployment(), fixed).action).toBe('none');
  });

  test('replicas claimed by another manager: left out of the body and no write', () => {
    const withoutReplicas = structuredClone(ourDeploymentFields);
    delete (withoutReplicas['f:spec'] as FieldsV1)['f:replicas'];
    const cached = cachedAfterApply(desiredDeployment(), [
      applyEntry(withoutReplicas),
      { manager: 'scalingpolicy', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
    ]);
    const p = planChild(desiredDeployment(), cached);
    expect(p).toMatchObject({ action: 'none', yielded: ['spec.replicas'] });
    expect((p.body as unknown as { spec: Record<string, unknown> }).spec.replicas).toBeUndefined();
    // When our intent changes we apply, still without replicas.
    const q = planChild(desiredDeployment('app:2'), cached);
    expect(q.action).toBe('apply');
    expect((q.body as unknown as { spec: Record<string, unknown> }).spec.replicas).toBeUndefined();
  });

  test("a Job whose pod template changed → re-create; other kinds' immutable fields likewise", () => {
    const job = (cmd: string): KubeObject =>
      ({
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'backup', namespace: 'ns', labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
        spec: {
          backoffLimit: 2,
          template: { spec: { restartPolicy: 'Never', containers: [{ name: 'b', image: 'i', command: [cmd] }] } },
        },
      }) as KubeObject;
    const jobFields: FieldsV1 = {
      'f:metadata': {
        'f:annotations': { [`f:${APPLIED_ANNOTATION}`]: {} },
        'f:labels': { [`f:${MANAGED_BY_LABEL}`]: {} },
      },
      'f:spec': {
        'f:backoffLimit': {},
        'f:template': {
          'f:spec': {
            'f:restartPolicy': {},
            'f:containers': { 'k:{"name":"b"}': { 'f:name': {}, 'f:image': {}, 'f:command': {} } },
          },
        },
      },
    };
    const cached = cachedAfterApply(job('dump'), [applyEntry(jobFields)]);
    expect(planChild(job('dump'), cached).action).toBe('none');
    expect(immutableChanged(cached, job('dump-v2'))).toBe(true);
    expect(planChild(job('dump-v2'), cached)).toMatchObject({ action: 'recreate', reason: 'immutable' });
    // A mutable Job field changes by apply.
    const more = { ...job('dump'), spec: { ...(job('dump') as unknown as { spec: object }).spec, backoffLimit: 3 } };
    expect(planChild(more as KubeObject, cached).action).toBe('apply');
    // A Deployment's selector is immutable; its template is not.
    const dep = cachedAfterApply(desiredDeployment(), applied);
    const sel = desiredDeployment() as unknown as { spec: { selector: unknown } };
    sel.spec.selector = { matchLabels: { app: 'web2' } };
    expect(planChild(sel as unknown as KubeObject, dep).action).toBe('recreate');
  });
});
