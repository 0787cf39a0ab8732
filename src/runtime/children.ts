// Children of a controller, the pure part: owner mapping, the compact field-ownership digest kept in child caches,
// the write/no-write decision, prune selection and immutable-change detection. children-sync.ts does the I/O.
//
// Owner mapping follows controller-runtime's handler.EnqueueRequestForOwner(OnlyControllerOwner): a child maps to
// the ownerReference with controller=true whose apiVersion *group* and kind equal the owner type (the version is
// ignored, as it is there); on an update both the old and the new controlling owner are enqueued.
//
// The write rule (server-side apply, field manager `smartcloudops-operator`, see KEP-555 and
// sigs.k8s.io/structured-merge-diff). We never compare desired values with live values: the server normalises
// them (`0.5` → `500m`, `1024Mi` → `1Gi`, defaults filled in), so a naive subset would write on every reconcile.
// Instead each applied child carries the annotation `ops.smartcloudops.ai/applied: <hash of the desired
// object>.<hash of its immutable fields>`, and the child cache keeps, per child, the server's record of OUR field set
// (our Apply entry of managedFields) plus the fields other managers claimed. A child is written only when
//   1. it is not in the cache, or
//   2. the desired hash differs from the annotation (our intent changed), or
//   3. our field set no longer covers every field we want (drift: an Update — `kubectl edit`, `kubectl patch`,
//      `kubectl replace` — that changes or removes a field moves or drops its ownership, so it leaves our set).
// A correction re-takes the field with force, after which the set covers it again: one write, no loop.
// Fields claimed by another manager — through its own server-side Apply (a ScalingPolicy's manager applying
// `spec.replicas`) or through the `scale` subresource (an HPA, `kubectl scale`) — and not owned by us are left out
// of our apply, so we never fight over them; being left out is not a change of intent, so it causes no write.
// A change of immutable fields (a Job's pod template, a workload's selector) is a delete (background propagation,
// uid precondition) followed by a create, as is an apply the server rejects with "field is immutable".
import { createHash } from 'node:crypto';
import type { KubeObject, OwnerReference, ResourceRef } from '../kube/index.js';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'smartcloudops-operator';
export const MANAGED_BY_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
export const APPLIED_ANNOTATION = 'ops.smartcloudops.ai/applied';

/** What the child cache keeps of managedFields: JSON of fieldsV1 trees, parsed only when a decision needs them. */
export interface Ownership {
  /** Our Apply entry (no subresource). */
  ours?: string;
  /** Union of other managers' Apply entries and `scale` subresource entries, without status. */
  claimed?: string;
}

export interface CachedChild extends KubeObject {
  ownership?: Ownership;
  spec?: Record<string, unknown>;
  status?: unknown;
}

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsType?: string;
  fieldsV1?: FieldsV1;
}

export type FieldsV1 = { [key: string]: FieldsV1 };

// ---------------------------------------------------------------------------------------------------------------
// Owner mapping

export const groupOf = (apiVersion: string | undefined): string => {
  const i = apiVersion?.indexOf('/') ?? -1;
  return i < 0 ? '' : (apiVersion as string).slice(0, i);
};

/** The key (namespace/name) of `child`'s controlling owner of type `owner`, if it has one. */
export function controllerOwnerKey(child: KubeObject, owner: Pick<ResourceRef, 'group' | 'kind'>): string | undefined {
  const ref = child.metadata.ownerReferences?.find(
    (r) => r.controller === true && r.kind === owner.kind && groupOf(r.apiVersion) === owner.group,
  );
  if (!ref) return undefined;
  return child.metadata.namespace ? `${child.metadata.namespace}/${ref.name}` : ref.name;
}

/** Keys to enqueue for a child update: the old and the new controlling owner (once when they are the same). */
export function ownerKeysOnUpdate(
  oldChild: KubeObject,
  newChild: KubeObject,
  owner: Pick<ResourceRef, 'group' | 'kind'>,
): string[] {
  const keys = [controllerOwnerKey(oldChild, owner), controllerOwnerKey(newChild, owner)];
  return [...new Set(keys.filter((k): k is string => k !== undefined))];
}

// ---------------------------------------------------------------------------------------------------------------
// The child cache's transform

function mergeFields(into: FieldsV1, from: FieldsV1): FieldsV1 {
  for (const [k, v] of Object.entries(from)) into[k] = mergeFields(into[k] ?? {}, v);
  return into;
}

/** The compact ownership digest of managedFields for `manager`. */
export function ownershipOf(managedFields: unknown[] | undefined, manager: string = MANAGED_BY): Ownership {
  const out: Ownership = {};
  let claimed: FieldsV1 | undefined;
  for (const e of (managedFields ?? []) as ManagedFieldsEntry[]) {
    if (!e.fieldsV1 || e.subresource === 'status') continue;
    if (e.manager === manager && e.operation === 'Apply' && !e.subresource) {
      out.ours = JSON.stringify(e.fieldsV1);
    } else if (e.manager !== manager && (e.operation === 'Apply' || e.subresource === 'scale')) {
      const { 'f:status': _status, ...rest } = e.fieldsV1;
      claimed = mergeFields(claimed ?? {}, rest);
    }
  }
  if (claimed && Object.keys(claimed).length) out.claimed = JSON.stringify(claimed);
  return out;
}

const KEEP_META = [
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
] as const;

/**
 * The transform of child caches: metadata controllers read, `status`, the top-level scalar fields of `spec`
 * (`replicas`, `suspend`, `type`, …; nested ones such as pod templates are what we wrote, known from the hash),
 * and the ownership digest. Data of ConfigMaps and Secrets is never kept.
 */
export function childTransform<T extends KubeObject>(obj: T): T {
  const src = obj as unknown as CachedChild;
  const metadata: Record<string, unknown> = {};
  for (const k of KEEP_META) if (src.metadata[k] !== undefined) metadata[k] = src.metadata[k];
  const out: CachedChild = {
    apiVersion: src.apiVersion,
    kind: src.kind,
    metadata: metadata as KubeObject['metadata'],
    ownership: ownershipOf(src.metadata.managedFields),
  };
  if (src.spec && typeof src.spec === 'object') {
    const spec: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(src.spec)) if (v === null || typeof v !== 'object') spec[k] = v;
    out.spec = spec;
  }
  if (src.status !== undefined) out.status = src.status;
  return out as unknown as T;
}

// ---------------------------------------------------------------------------------------------------------------
// Field sets (fieldsV1: `f:<field>`, `k:<json key of a list element>`, `v:<json value>`, `i:<index>`, `.` itself)

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const childKeys = (node: FieldsV1) => Object.keys(node).filter((k) => k !== '.');

/** The node of list element `el` (index `i`) in a list's field set, matched by key, value or index. */
function elementNode(list: FieldsV1, el: unknown, i: number): FieldsV1 | undefined {
  if (!isObj(el)) return list[`v:${JSON.stringify(el)}`] ?? list[`i:${i}`];
  for (const k of childKeys(list)) {
    if (!k.startsWith('k:')) continue;
    let key: Record<string, unknown>;
    try {
      key = JSON.parse(k.slice(2)) as Record<string, unknown>;
    } catch {
      continue;
    }
    // A key field we did not set was defaulted by the server (a port's protocol): it matches.
    const entries = Object.entries(key);
    if (entries.some(([f]) => el[f] !== undefined) && entries.every(([f, v]) => el[f] === undefined || el[f] === v))
      return list[k];
  }
  return list[`i:${i}`];
}

/**
 * True when every field of `value` is in the field set `node` (values themselves are not compared). A node without
 * children is a member as a whole (an atomic list, map or struct such as a label selector).
 */
export function fieldsCover(node: FieldsV1 | undefined, value: unknown): boolean {
  if (node === undefined) return false;
  if (childKeys(node).length === 0) return true;
  if (Array.isArray(value)) return value.every((el, i) => fieldsCover(elementNode(node, el, i), el));
  if (isObj(value)) {
    return Object.entries(value).every(([k, v]) => v === undefined || fieldsCover(node[`f:${k}`], v));
  }
  return true;
}

/** The parts of an object its identity consists of, which managedFields does not list. */
function identityless(obj: KubeObject): Record<string, unknown> {
  const { apiVersion: _a, kind: _k, metadata, ...rest } = obj;
  const { name: _n, namespace: _ns, ...meta } = metadata;
  return { ...rest, metadata: meta };
}

/**
 * `value` without the fields `claimed` holds and `ours` does not. Returns the pruned value and the dotted paths
 * left out. Keyed list elements keep their key fields; an atomic list is left out as a whole.
 */
export function withoutClaimed(
  value: unknown,
  claimed: FieldsV1 | undefined,
  ours: FieldsV1 | undefined,
  path = '',
): { value: unknown; left: string[] } {
  if (!claimed) return { value, left: [] };
  if (Array.isArray(value)) {
    if (childKeys(claimed).length === 0) return { value, left: [] };
    const left: string[] = [];
    const out = value.map((el, i) => {
      const c = elementNode(claimed, el, i);
      if (!c || !isObj(el)) return el;
      const r = withoutClaimed(el, c, ours ? elementNode(ours, el, i) : undefined, `${path}[${i}]`);
      left.push(...r.left);
      // Keep the element's identity (its key fields) even if every other field was left out.
      return { ...pickKeys(claimed, el), ...(r.value as object) };
    });
    return { value: out, left };
  }
  if (!isObj(value)) return { value, left: [] };
  const out: Record<string, unknown> = {};
  const left: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const c = claimed[`f:${k}`];
    const o = ours?.[`f:${k}`];
    const p = path ? `${path}.${k}` : k;
    if (c && !o && (childKeys(c).length === 0 || !(isObj(v) || Array.isArray(v)))) {
      left.push(p);
      continue;
    }
    if (c && (isObj(v) || Array.isArray(v))) {
      const r = withoutClaimed(v, c, o, p);
      out[k] = r.value;
      left.push(...r.left);
    } else {
      out[k] = v;
    }
  }
  return { value: out, left };
}

function pickKeys(list: FieldsV1, el: Record<string, unknown>): Record<string, unknown> {
  for (const k of childKeys(list)) {
    if (!k.startsWith('k:')) continue;
    const key = JSON.parse(k.slice(2)) as Record<string, unknown>;
    if (Object.entries(key).every(([f, v]) => el[f] === undefined || el[f] === v)) {
      return Object.fromEntries(Object.keys(key).flatMap((f) => (el[f] === undefined ? [] : [[f, el[f]]])));
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------------------------
// Hashes and immutable fields

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObj(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export const hashOf = (v: unknown): string =>
  createHash('sha256').update(canonical(v)).digest('base64url').slice(0, 16);

/** Fields the API server refuses to change, per group/kind (dotted paths from the object's root). */
export const IMMUTABLE_FIELDS: Record<string, string[]> = {
  'batch/Job': ['spec.template', 'spec.selector', 'spec.completionMode'],
  'apps/Deployment': ['spec.selector'],
  'apps/ReplicaSet': ['spec.selector'],
  'apps/DaemonSet': ['spec.selector'],
  'apps/StatefulSet': ['spec.selector', 'spec.serviceName', 'spec.volumeClaimTemplates', 'spec.podManagementPolicy'],
  '/Secret': ['immutable'],
  '/ConfigMap': ['immutable'],
};

function at(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const p of path.split('.')) cur = isObj(cur) ? cur[p] : undefined;
  return cur;
}

export function immutableHash(obj: KubeObject): string {
  const paths = IMMUTABLE_FIELDS[`${groupOf(obj.apiVersion)}/${obj.kind}`];
  if (!paths) return '';
  const parts = paths.map((p) => at(obj, p));
  return parts.every((p) => p === undefined) ? '' : hashOf(parts);
}

export function parseApplied(
  annotations: Record<string, string> | undefined,
): { hash: string; immutable: string } | undefined {
  const v = annotations?.[APPLIED_ANNOTATION];
  if (!v) return undefined;
  const i = v.indexOf('.');
  return i < 0 ? { hash: v, immutable: '' } : { hash: v.slice(0, i), immutable: v.slice(i + 1) };
}

/** True when a change of `desired` needs a re-create: its immutable fields differ from what was applied. */
export function immutableChanged(cached: KubeObject | undefined, desired: KubeObject): boolean {
  const applied = parseApplied(cached?.metadata.annotations);
  if (!cached || !applied) return false;
  return applied.immutable !== immutableHash(desired);
}

// ---------------------------------------------------------------------------------------------------------------
// The decision

/** A desired child as it is applied: in the owner's namespace, labelled managed-by us, controlled by the owner. */
export function childObject(desired: KubeObject, namespace: string | undefined, owner: OwnerReference): KubeObject {
  return {
    ...desired,
    metadata: {
      ...desired.metadata,
      namespace,
      labels: { ...desired.metadata.labels, [MANAGED_BY_LABEL]: MANAGED_BY },
      ownerReferences: [owner],
    },
  };
}

export type ChildAction = 'none' | 'apply' | 'recreate';

export interface ChildPlan {
  action: ChildAction;
  /** Why (for logs and tests): absent, changed, drift, immutable, up-to-date. */
  reason: 'absent' | 'changed' | 'drift' | 'immutable' | 'up-to-date';
  /** The apply body: desired + annotation, without the fields other managers claimed. */
  body: KubeObject;
  /** Dotted paths left out because another manager claimed them. */
  yielded: string[];
}

/**
 * Decides what to do with one desired child. `desired` is the full object we want (apiVersion, kind, metadata
 * with name, namespace, labels and the owner reference already set); `cached` is the child cache's entry.
 */
export function planChild(desired: KubeObject, cached: CachedChild | undefined): ChildPlan {
  const applied = `${hashOf(desired)}.${immutableHash(desired)}`;
  const parse = (s: string | undefined) => (s ? (JSON.parse(s) as FieldsV1) : undefined);
  const ours = parse(cached?.ownership?.ours);
  const { value, left } = withoutClaimed(desired, parse(cached?.ownership?.claimed), ours);
  const v = value as KubeObject;
  const body: KubeObject = {
    ...v,
    metadata: { ...v.metadata, annotations: { ...v.metadata.annotations, [APPLIED_ANNOTATION]: applied } },
  };
  const plan = (action: ChildAction, reason: ChildPlan['reason']): ChildPlan => ({
    action,
    reason,
    body,
    yielded: left,
  });
  if (!cached) return plan('apply', 'absent');
  if (immutableChanged(cached, desired)) return plan('recreate', 'immutable');
  if (cached.metadata.annotations?.[APPLIED_ANNOTATION] !== applied) return plan('apply', 'changed');
  if (!fieldsCover(ours, identityless(body))) return plan('apply', 'drift');
  return plan('none', 'up-to-date');
}

/** True when `child` is ours and controlled by the owner with `ownerUid`: both the label and the controller ref. */
export function isControlledChild(child: KubeObject, ownerUid: string): boolean {
  return (
    child.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY &&
    (child.metadata.ownerReferences ?? []).some((r) => r.controller === true && r.uid === ownerUid)
  );
}

/** Children (of one kind) to delete: ours, controlled by this owner, not desired, not already being deleted. */
export function selectPrunable<T extends KubeObject>(children: T[], ownerUid: string, desiredNames: Set<string>): T[] {
  return children.filter(
    (c) =>
      isControlledChild(c, ownerUid) &&
      !desiredNames.has(c.metadata.name as string) &&
      c.metadata.deletionTimestamp === undefined,
  );
}
