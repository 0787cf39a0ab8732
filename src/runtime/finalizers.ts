// Finalizers, for external things only (S3 objects, databases). Patches carry a resourceVersion test so that a
// concurrent change fails with a conflict instead of dropping someone else's finalizer.
import type { KubeClient, KubeObject, ResourceRef } from '../kube/index.js';

export const hasFinalizer = (obj: KubeObject, name: string): boolean =>
  obj.metadata.finalizers?.includes(name) ?? false;

/** Adds the finalizer unless present or the object is being deleted. Returns true when a write was made. */
export async function ensureFinalizer(
  client: KubeClient,
  ref: ResourceRef,
  obj: KubeObject,
  name: string,
): Promise<boolean> {
  if (hasFinalizer(obj, name) || obj.metadata.deletionTimestamp) return false;
  const ops: unknown[] = [{ op: 'test', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion }];
  ops.push(
    obj.metadata.finalizers
      ? { op: 'add', path: '/metadata/finalizers/-', value: name }
      : { op: 'add', path: '/metadata/finalizers', value: [name] },
  );
  await client.patch(ref, obj.metadata.namespace, obj.metadata.name as string, ops, 'json');
  return true;
}

/** Removes the finalizer if present. Returns true when a write was made. */
export async function removeFinalizer(
  client: KubeClient,
  ref: ResourceRef,
  obj: KubeObject,
  name: string,
): Promise<boolean> {
  const i = obj.metadata.finalizers?.indexOf(name) ?? -1;
  if (i < 0) return false;
  await client.patch(
    ref,
    obj.metadata.namespace,
    obj.metadata.name as string,
    [
      { op: 'test', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion },
      { op: 'test', path: `/metadata/finalizers/${i}`, value: name },
      { op: 'remove', path: `/metadata/finalizers/${i}` },
    ],
    'json',
  );
  return true;
}
