// Which custom kinds the API server serves right now, from a watch of CustomResourceDefinitions — for kinds a
// controller owns only when they exist (the Prometheus Operator's PrometheusRule and ServiceMonitor).
// controller-runtime has no built-in for this: its builder's Owns() needs the kind at start (an informer of an
// unserved kind never syncs, and WaitForCacheSync fails the manager). The usual workaround — watch CRDs and add the
// informer once the CRD is Established (as kube-state-metrics' CRD discovery and the Prometheus Operator's own
// "--watch-crds" do) — is what this does:
// - one informer of apiextensions.k8s.io/v1 customresourcedefinitions, shrunk by a transform to group, kind, served
//   versions and the Established condition (a CRD object can weigh hundreds of KiB);
// - a kind is served when its CRD has the version in spec.versions with served: true and Established=True (the
//   condition the API server sets once the REST endpoint is installed), and is not being deleted;
// - listeners hear each flip (served / no longer served).
// It is kept apart from the manager's caches on purpose: when CRDs cannot be listed (RBAC bound only in some
// namespaces, a 403), the optional kinds just read as not served — it never blocks the caches' sync or /readyz.
import type { KubeClient, KubeObject, ResourceRef } from '../kube/index.js';
import { Informer } from './informer.js';
import type { Logger } from './logger.js';

export const CRD_RESOURCE: ResourceRef = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  plural: 'customresourcedefinitions',
  kind: 'CustomResourceDefinition',
  namespaced: false,
};

type Crd = KubeObject & { spec?: CrdSpec; status?: { conditions?: { type: string; status: string }[] } };

interface CrdSpec {
  group?: string;
  names?: { kind?: string; plural?: string };
  versions?: { name: string; served?: boolean }[];
}

/** Keeps what `served` reads: group, names, served versions, Established (client-go's SetTransform). */
export function shrinkCrd(o: KubeObject): KubeObject {
  const obj = o as Crd;
  const spec = obj.spec ?? {};
  const conditions = obj.status?.conditions ?? [];
  const out: Crd = {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: {
      name: obj.metadata.name,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      deletionTimestamp: obj.metadata.deletionTimestamp,
    },
    spec: {
      group: spec.group,
      names: { kind: spec.names?.kind, plural: spec.names?.plural },
      versions: (spec.versions ?? []).map((v) => ({ name: v.name, served: v.served })),
    },
    status: {
      conditions: conditions.filter((c) => c.type === 'Established').map((c) => ({ type: c.type, status: c.status })),
    },
  };
  return out;
}

/** True when `crd` (shrunk or not) serves `ref`. Pure. */
export function crdServes(o: KubeObject | undefined, ref: ResourceRef): boolean {
  const crd = o as Crd | undefined;
  if (!crd || crd.metadata.deletionTimestamp) return false;
  const spec = crd.spec ?? {};
  if (spec.group !== ref.group || spec.names?.kind !== ref.kind || spec.names?.plural !== ref.plural) return false;
  if (!spec.versions?.some((v) => v.name === ref.version && v.served)) return false;
  const conds = crd.status?.conditions ?? [];
  return conds.some((c) => c.type === 'Established' && c.status === 'True');
}

const crdName = (ref: ResourceRef) => `${ref.plural}.${ref.group}`;
const refId = (ref: ResourceRef) => `${ref.group}/${ref.version}/${ref.plural}`;

export type ServedListener = (ref: ResourceRef, served: boolean) => void;

/** Served custom kinds, from a CRD informer. Start once; `served` is false until its first list. */
export class ServedKinds {
  private readonly informer: Informer;
  private readonly tracked = new Map<string, { ref: ResourceRef; served: boolean; listeners: ServedListener[] }>();
  private started = false;

  constructor(o: { client: KubeClient; log: Logger; resyncMs?: number }) {
    this.informer = new Informer({
      client: o.client,
      resource: CRD_RESOURCE,
      transform: shrinkCrd,
      resyncMs: 0,
      log: o.log,
    });
    const check = () => this.recheck();
    this.informer.addHandlers({ add: check, update: check, delete: check });
  }

  /** Whether the API server serves `ref` now (false before the first list, or when CRDs cannot be listed). */
  served(ref: ResourceRef): boolean {
    return crdServes(this.informer.get(undefined, crdName(ref)), ref);
  }

  /** Calls `fn(ref, served)` on every flip of `ref` (and once at once when it is already served). */
  track(ref: ResourceRef, fn: ServedListener): void {
    const id = refId(ref);
    let t = this.tracked.get(id);
    if (!t) {
      t = { ref, served: this.served(ref), listeners: [] };
      this.tracked.set(id, t);
    }
    t.listeners.push(fn);
    if (t.served) fn(ref, true);
  }

  hasSynced(): boolean {
    return this.informer.hasSynced();
  }

  async waitForSync(): Promise<void> {
    await this.informer.waitForSync();
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.informer.start();
  }

  async stop(): Promise<void> {
    await this.informer.stop();
  }

  private recheck(): void {
    for (const t of this.tracked.values()) {
      const now = this.served(t.ref);
      if (now === t.served) continue;
      t.served = now;
      for (const fn of t.listeners) fn(t.ref, now);
    }
  }
}
