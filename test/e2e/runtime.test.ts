// Runtime write helpers against the real API server: server-side apply of owned children (skipped when the cache
// already matches), status only when changed, finalizers with optimistic concurrency.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { resourceRefOf } from '../../src/crds/kinds.js';
import { KubeApiError, Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { Applier, FIELD_MANAGER } from '../../src/runtime/apply.js';
import { ensureFinalizer, hasFinalizer, removeFinalizer } from '../../src/runtime/finalizers.js';
import { installCrds, readSamples } from '../support/crds.js';
import { createNamespace, deleteNamespace, eventually, testClient } from '../support/kube.js';

jest.setTimeout(120_000);

interface Managed extends KubeObject {
  data?: Record<string, string>;
  status?: unknown;
}

const managedFields = (o: KubeObject) =>
  (o.metadata.managedFields ?? []) as { manager: string; subresource?: string }[];

describe('runtime writes', () => {
  let client: KubeClient;
  let ns: string;
  let owner: KubeObject;
  const ref = resourceRefOf('CertRenewal');

  beforeAll(async () => {
    client = await testClient();
    await installCrds(client);
    ns = await createNamespace(client, 'e2e-runtime');
    const sample = readSamples().find((s) => s.kind === 'CertRenewal') as KubeObject;
    owner = await client.create(ref, { ...sample, metadata: { name: 'owner', namespace: ns } });
  });
  afterAll(async () => {
    await deleteNamespace(client, ns);
    client.close();
  });

  test('a child is applied with a controller owner reference, once; garbage-collected with its owner', async () => {
    const applier = new Applier(client);
    const desired = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'child', namespace: ns },
      data: { a: '1' },
    };
    expect(await applier.child(Resources.ConfigMap, desired, { obj: owner, ref })).toBe(true);
    const cm = await client.get<Managed>(Resources.ConfigMap, ns, 'child');
    expect(cm.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'ops.smartcloudops.ai/v1alpha1',
        kind: 'CertRenewal',
        name: 'owner',
        uid: owner.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(managedFields(cm).map((f) => f.manager)).toEqual([FIELD_MANAGER]);
    // The cached child already says the same: no write.
    expect(await applier.child(Resources.ConfigMap, desired, { obj: owner, ref }, cm)).toBe(false);
    // A drifted child is put back.
    const drifted = await client.patch<Managed>(Resources.ConfigMap, ns, 'child', { data: { a: '2' } }, 'merge');
    expect(await applier.child(Resources.ConfigMap, desired, { obj: owner, ref }, drifted)).toBe(true);
    expect((await client.get<Managed>(Resources.ConfigMap, ns, 'child')).data).toEqual({ a: '1' });
  });

  test('status is written through /status only when it differs', async () => {
    const applier = new Applier(client);
    const status = { observedGeneration: 1, conditions: [] };
    expect(await applier.status(ref, owner, status)).toBe(true);
    const after = await client.get<Managed>(ref, ns, 'owner');
    expect(after.status).toEqual(status);
    expect(managedFields(after).find((f) => f.subresource === 'status')?.manager).toBe(FIELD_MANAGER);
    expect(await applier.status(ref, after, status)).toBe(false);
  });

  test('finalizers: added once, refused on a stale object, removed, and then deletion completes', async () => {
    const fresh = await client.get<Managed>(ref, ns, 'owner');
    expect(await ensureFinalizer(client, ref, fresh, 'ops.smartcloudops.ai/cleanup')).toBe(true);
    const withF = await client.get<Managed>(ref, ns, 'owner');
    expect(hasFinalizer(withF, 'ops.smartcloudops.ai/cleanup')).toBe(true);
    expect(await ensureFinalizer(client, ref, withF, 'ops.smartcloudops.ai/cleanup')).toBe(false);
    // `fresh` is stale now: removing through it must not succeed blindly.
    const stale = { ...fresh, metadata: { ...fresh.metadata, finalizers: ['ops.smartcloudops.ai/cleanup'] } };
    await expect(removeFinalizer(client, ref, stale, 'ops.smartcloudops.ai/cleanup')).rejects.toBeInstanceOf(
      KubeApiError,
    );
    await client.delete(ref, ns, 'owner');
    const deleting = await client.get<Managed>(ref, ns, 'owner');
    expect(deleting.metadata.deletionTimestamp).toBeTruthy();
    expect(await removeFinalizer(client, ref, deleting, 'ops.smartcloudops.ai/cleanup')).toBe(true);
    await eventually('the owner and its child to be gone', async () => {
      const left = await client.list(Resources.ConfigMap, { namespace: ns, fieldSelector: 'metadata.name=child' });
      const owners = await client.list(ref, { namespace: ns });
      return left.items.length === 0 && owners.items.length === 0;
    });
  });
});
