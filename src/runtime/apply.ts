// Writes with one field manager: server-side apply for children and for status (through the /status subresource),
// each skipped when the cached object already says the same thing, and counted by the client's metrics.
import {
  apiVersionOf,
  isNotFound,
  type KubeClient,
  type KubeObject,
  type OwnerReference,
  type ResourceRef,
} from '../kube/index.js';
import { isSubset, jsonEqual } from './equality.js';

export const FIELD_MANAGER = 'smartcloudops-operator';

export function controllerRef(owner: KubeObject, ownerRef: ResourceRef): OwnerReference {
  return {
    apiVersion: owner.apiVersion ?? apiVersionOf(ownerRef),
    kind: owner.kind ?? ownerRef.kind,
    name: owner.metadata.name as string,
    uid: owner.metadata.uid as string,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export class Applier {
  constructor(
    private readonly client: KubeClient,
    readonly fieldManager: string = FIELD_MANAGER,
  ) {}

  /**
   * Writes `status` unless `current.status` already equals it. Returns true when a write was made (false when
   * unchanged, or the object is gone). The cache learns the result from the watch.
   */
  async status<T extends KubeObject & { status?: unknown }>(
    ref: ResourceRef,
    current: T,
    status: Record<string, unknown>,
  ): Promise<boolean> {
    if (jsonEqual(current.status ?? {}, status)) return false;
    try {
      await this.client.apply<T>(
        ref,
        {
          apiVersion: apiVersionOf(ref),
          kind: ref.kind,
          metadata: { name: current.metadata.name, namespace: current.metadata.namespace },
          status,
        } as unknown as T,
        { fieldManager: this.fieldManager, force: true, subresource: 'status', discardBody: true },
      );
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * Server-side applies a child owned by `owner`, unless the cached child already has every desired field.
   * Returns true when a write was made.
   */
  async child<T extends KubeObject>(
    ref: ResourceRef,
    desired: T,
    owner: { obj: KubeObject; ref: ResourceRef },
    cached?: KubeObject,
  ): Promise<boolean> {
    const body: T = {
      ...desired,
      apiVersion: apiVersionOf(ref),
      kind: ref.kind,
      metadata: { ...desired.metadata, ownerReferences: [controllerRef(owner.obj, owner.ref)] },
    };
    if (cached && isSubset(body, cached)) return false;
    await this.client.apply(ref, body, { fieldManager: this.fieldManager, force: true, discardBody: true });
    return true;
  }
}
