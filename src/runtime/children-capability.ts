// The capability seam: what a kind does is two pure functions and, when it needs one, a finalizer.
//   prepare(obj, observed, ctx)               → optional, async: what lies outside the caches (a database, S3, an
//                                               HTTP endpoint) and effects that are not children; its result `ext`
//                                               goes to desired and status. Every I/O in it is bounded by a
//                                               timeout; periodic or slow probes run in a background runner (built
//                                               in `bind`) that enqueues the key when its result changes
//                                               (deps.enqueue, like controller-runtime's source.Channel) and whose
//                                               snapshot `prepare` returns.
//   desired(obj, observed, ext)               → the children it wants (undefined: leave the children as they are)
//   status(obj, observed, observations, ext)  → the status to write (+ an Event, a terminal stop, a requeue)
//   finalize(obj, ctx)                        → clean-up garbage collection cannot do (other namespaces, S3,
//                                               databases) (at least once, as in controller-runtime: idempotent)
//   bind(deps)                                → optional: the logic built once per manager with its clients,
//                                               clock and background runners (stopped through deps.onStop)
// The thin runtime code here reads children from the scoped child caches (never from the API), applies the desired
// ones by server-side apply (field manager `smartcloudops-operator`, a controller ownerReference, the label
// `app.kubernetes.io/managed-by: smartcloudops-operator`), deletes this owner's children that are no longer desired
// (label AND controller ownerReference to this owner's uid; nothing else is ever deleted), re-creates a child whose
// immutable fields changed, and writes status only when it changed. The write/no-write rule is children.ts'.
// As in controller-runtime, a finalizer is added only when `finalize` is defined and removed once it succeeded
// (controllerutil.AddFinalizer/RemoveFinalizer); a write the cache has not seen yet is not repeated (the
// ReplicaSet controller's "expectations"): an applied child is skipped until its cached resourceVersion moves,
// a deleted one until it leaves the cache, for at most 30 s; the same status is not written again while the cache
// still holds the resourceVersion it was written over.
// `ownsOptional`: child kinds that may not be served (a CRD that may be absent, e.g. the Prometheus Operator's). The
// manager keeps their caches only while the CRD is served (served-kinds.ts); while it is not, such children are
// neither observed nor applied nor pruned (a desired one is skipped and childrenSynced is false), so `desired` should
// leave them out then — ControllerDeps.servedKinds() tells it.
import { apiVersionOf, isNotFound, KubeApiError, type KubeObject, type ResourceRef } from '../kube/index.js';
import { controllerRef } from './apply.js';
import { childObject, hashOf, isControlledChild, planChild, selectPrunable, type CachedChild } from './children.js';
import type { ReconcileContext, ReconcileFn, Result } from './controller.js';
import { TerminalError } from './errors.js';
import { ensureFinalizer, hasFinalizer, removeFinalizer } from './finalizers.js';
import type { ControllerDef, ControllerDeps, PolicyRule, WatchDef } from './manager.js';

export const DEFAULT_FINALIZER = 'ops.smartcloudops.ai/cleanup';
const EXPECTATION_TTL_MS = 30_000;

/** Children as the caches hold them, by kind (`Deployment`, `apps/Deployment` for a non-core group). */
export interface Observed {
  children: CachedChild[];
  of(kind: string, group?: string): CachedChild[];
  get(kind: string, name: string, group?: string): CachedChild | undefined;
}

/** What the runtime did this reconcile, for `status`. */
export interface Observations {
  now: Date;
  /** Children written (applied or re-created), deleted, and fields left to other managers (`Kind/name:path`). */
  applied: string[];
  recreated: string[];
  deleted: string[];
  yielded: string[];
  /** Every desired child is as wanted, or was written this reconcile without error. */
  childrenSynced: boolean;
  /** `desired` returned undefined: children were left alone. */
  childrenHeld: boolean;
}

export interface StatusOutcome {
  status: Record<string, unknown>;
  event?: { type: 'Normal' | 'Warning'; reason: string; message: string };
  /** Stop retrying until the object changes (TerminalError), e.g. an invalid spec. */
  terminal?: string;
  requeueAfterMs?: number;
}

/** What a kind does: the pure functions and the optional clean-up. */
export interface CapabilityLogic<O extends KubeObject = KubeObject, X = undefined> {
  for: ResourceRef;
  owns?: ResourceRef[];
  /** Owned kinds that may not be served: as `owns` while their CRD is served and Established, ignored otherwise. */
  ownsOptional?: ResourceRef[];
  /**
   * Async, before desired and status: reads outside the caches and effects that are not children, each bounded by
   * a timeout. Its result is passed to desired and status. An error here fails the reconcile (per-key backoff).
   */
  prepare?(obj: O, observed: Observed, ctx: ReconcileContext): Promise<X>;
  /** Pure: the children wanted now (namespace, owner reference and label are added), or undefined to hold. */
  desired(obj: O, observed: Observed, ext: X): KubeObject[] | undefined;
  /** Pure: the status from the object, its observed children, what the runtime did and what prepare found. */
  status(obj: O, observed: Observed, observations: Observations, ext: X): StatusOutcome;
  /** Clean-up GC cannot do; the finalizer is added only when this is defined and removed after it succeeds. */
  finalize?(obj: O, ctx: ReconcileContext): Promise<void>;
  finalizer?: string;
  /** Called when the object is gone or being deleted (drop per-object memos). */
  forget?(namespace: string, name: string): void;
}

/** A capability with what its ControllerDef needs besides. */
export interface Capability<O extends KubeObject = KubeObject, X = undefined> extends CapabilityLogic<O, X> {
  name: string;
  watches?: WatchDef[];
  rbac?: PolicyRule[];
  workers?: number;
  /**
   * Builds the logic once per manager (clients, clock, background runners; register their stop with
   * deps.onStop). Without it the capability itself is the logic.
   */
  bind?(deps: ControllerDeps): CapabilityLogic<O, X>;
}

function observedOf(children: CachedChild[]): Observed {
  const groupKind = (c: KubeObject) => {
    const g = c.apiVersion?.includes('/') ? (c.apiVersion.split('/')[0] as string) : '';
    return g ? `${g}/${c.kind}` : (c.kind as string);
  };
  return {
    children,
    of: (kind, group) => children.filter((c) => groupKind(c) === (group ? `${group}/${kind}` : kind)),
    get: (kind, name, group) =>
      children.find((c) => c.metadata.name === name && groupKind(c) === (group ? `${group}/${kind}` : kind)),
  };
}

const isImmutableRejection = (err: unknown) =>
  err instanceof KubeApiError && err.code === 422 && /immutable/i.test(err.message);

/** Applies, prunes and re-creates the children of one owner. One instance per controller (it holds expectations). */
export class ChildSync {
  private readonly applied = new Map<string, { rv: string | undefined; until: number }>();
  private readonly deleting = new Map<string, number>();
  private forgotAt = 0;

  constructor(
    private readonly deps: ControllerDeps,
    private readonly ownerRef: ResourceRef,
    private readonly owns: ResourceRef[],
    private readonly optional: ResourceRef[] = [],
  ) {}

  /** The owned kinds whose caches exist now: every `owns`, and the optional ones while served. */
  private active(): ResourceRef[] {
    if (!this.optional.length) return this.owns;
    const served = this.deps.servedKinds();
    return [...this.owns, ...this.optional.filter((r) => served.served(r))];
  }

  /** The owner's children from the scoped caches (ours by label and controller reference). */
  observe(owner: KubeObject): CachedChild[] {
    const uid = owner.metadata.uid as string;
    return this.active().flatMap((r) =>
      this.deps
        .children(r)
        .ownedBy(uid)
        .filter((c) => isControlledChild(c, uid)),
    ) as CachedChild[];
  }

  private refOf(child: KubeObject): ResourceRef {
    const ref = [...this.owns, ...this.optional].find(
      (r) => apiVersionOf(r) === child.apiVersion && r.kind === child.kind,
    );
    if (!ref) throw new TerminalError(`${child.apiVersion} ${child.kind} is not among the owned kinds`);
    return ref;
  }

  async sync(owner: KubeObject, desired: KubeObject[], obs: Observations, ctx: ReconcileContext): Promise<void> {
    const ns = owner.metadata.namespace;
    const now = this.deps.clock.now().getTime();
    const active = this.active();
    const byRef = new Map<ResourceRef, Set<string>>(active.map((r) => [r, new Set<string>()]));
    let synced = true;
    for (const d of desired) {
      const ref = this.refOf(d);
      if (!byRef.has(ref)) {
        synced = false; // an optional kind the server does not serve (now): nothing to apply it to
        continue;
      }
      const name = d.metadata.name as string;
      byRef.get(ref)?.add(name);
      const full = childObject(d, ns, controllerRef(owner, this.ownerRef));
      const cached = this.deps.children(ref).get(ns, name) as CachedChild | undefined;
      const plan = planChild(full, cached);
      const id = `${d.kind}/${name}`;
      obs.yielded.push(...plan.yielded.map((p) => `${id}:${p}`));
      const key = `${ref.plural}.${ref.group}/${ns}/${name}`;
      const exp = this.applied.get(key);
      // The cache has seen a version other than the one we wrote over: the expectation is met. Forgetting it here
      // (not only at its TTL) lets a child deleted soon after we created it be re-created at once — otherwise its
      // absence would look like "the cache has not seen our create yet" for up to 30 s, with nothing to requeue.
      if (exp && exp.rv !== cached?.metadata.resourceVersion) this.applied.delete(key);
      if (plan.action === 'none') continue;
      if (exp && this.applied.has(key) && exp.until > now && exp.rv === cached?.metadata.resourceVersion) continue; // cache not caught up
      if (cached && this.deleting.has(cached.metadata.uid as string)) {
        synced = false; // the old one is still going away
        continue;
      }
      if (plan.action === 'recreate') {
        await this.recreate(ref, cached as CachedChild, plan.body);
        obs.recreated.push(id);
      } else {
        try {
          await this.deps.client.apply(ref, plan.body, {
            fieldManager: this.deps.applier.fieldManager,
            force: true,
            discardBody: true,
          });
          obs.applied.push(id);
        } catch (err) {
          if (!cached || !isImmutableRejection(err)) throw err;
          await this.recreate(ref, cached, plan.body);
          obs.recreated.push(id);
        }
      }
      const rv = obs.recreated.at(-1) === id ? undefined : cached?.metadata.resourceVersion;
      this.applied.set(key, { rv, until: now + EXPECTATION_TTL_MS });
      if (this.deps.log.isLevelEnabled('debug')) ctx.log.debug({ child: id, why: plan.reason }, 'child written');
    }
    for (const [ref, names] of byRef) {
      const children = this.deps.children(ref).ownedBy(owner.metadata.uid as string);
      for (const c of selectPrunable(children, owner.metadata.uid as string, names)) {
        const uid = c.metadata.uid as string;
        const since = this.deleting.get(uid);
        if (since !== undefined && since + EXPECTATION_TTL_MS > now) continue;
        await this.delete(ref, c);
        this.deleting.set(uid, now);
        obs.deleted.push(`${c.kind}/${c.metadata.name}`);
      }
    }
    this.forget(now);
    obs.childrenSynced = synced;
  }

  private async delete(ref: ResourceRef, c: KubeObject): Promise<void> {
    try {
      await this.deps.client.delete(ref, c.metadata.namespace, c.metadata.name as string, {
        propagationPolicy: 'Background',
        preconditions: { uid: c.metadata.uid },
      });
    } catch (err) {
      if (!isNotFound(err) && !(err instanceof KubeApiError && err.code === 409)) throw err;
    }
  }

  private async recreate(ref: ResourceRef, cached: KubeObject, body: KubeObject): Promise<void> {
    await this.delete(ref, cached);
    this.deleting.set(cached.metadata.uid as string, this.deps.clock.now().getTime());
    // Background propagation removes the object itself at once (its dependents follow); create the new one by
    // apply, so that the field set is recorded as ours (a POST would record an Update and look like drift).
    await this.deps.client.apply(ref, body, {
      fieldManager: this.deps.applier.fieldManager,
      force: true,
      discardBody: true,
    });
  }

  /** Drops expired expectations (at most once a second: a sweep is linear in their number). */
  private forget(now: number): void {
    if (now - this.forgotAt < 1000) return;
    this.forgotAt = now;
    for (const [k, e] of this.applied) if (e.until <= now) this.applied.delete(k);
    for (const [uid, since] of this.deleting) if (since + EXPECTATION_TTL_MS <= now) this.deleting.delete(uid);
  }
}

/**
 * A status without its conditions' transition times: reconciled again from a cache that has not seen our write,
 * a condition is new once more and gets a new transition time, but it is the same status.
 */
function statusDigest(status: Record<string, unknown>): string {
  const conditions = status.conditions;
  if (!Array.isArray(conditions)) return hashOf(status);
  return hashOf({
    ...status,
    conditions: conditions.map((c: Record<string, unknown>) => ({ ...c, lastTransitionTime: undefined })),
  });
}

/** The seam's reconcile loop for one capability (a ControllerDef's `setup` returns it). */
export function seamReconciler<O extends KubeObject & { status?: unknown }, X = undefined>(
  deps: ControllerDeps,
  cap: CapabilityLogic<O, X>,
): ReconcileFn {
  const owns = cap.owns ?? [];
  const optional = cap.ownsOptional ?? [];
  const sync = new ChildSync(deps, cap.for, owns, optional);
  const finalizer = cap.finalizer ?? DEFAULT_FINALIZER;
  // The status last written per object and the resourceVersion it was written over: while the cache still holds
  // that version, the same status is not written again (a child event can reconcile before our write is seen).
  const statusWritten = new Map<string, { rv: string | undefined; hash: string }>();
  // Objects whose finalizer we removed, with the resourceVersion we removed it from: while the cache still holds
  // that version (an event queued before our patch was seen), the clean-up is not run a second time.
  const finalized = new Map<string, { uid: string | undefined; rv: string | undefined }>();
  return async (req, ctx): Promise<Result | void> => {
    const obj = deps.cache.get(req.namespace, req.name) as O | undefined;
    if (!obj || obj.metadata.deletionTimestamp) {
      cap.forget?.(req.namespace, req.name);
      statusWritten.delete(req.key);
    }
    if (!obj) {
      finalized.delete(req.key);
      return;
    }
    if (obj.metadata.deletionTimestamp) {
      const done = finalized.get(req.key);
      if (done && done.uid === obj.metadata.uid && done.rv === obj.metadata.resourceVersion) return;
      if (cap.finalize && hasFinalizer(obj, finalizer)) {
        await cap.finalize(obj, ctx);
        await removeFinalizer(deps.client, cap.for, obj, finalizer);
        finalized.set(req.key, { uid: obj.metadata.uid, rv: obj.metadata.resourceVersion });
      }
      return;
    }
    if (cap.finalize && (await ensureFinalizer(deps.client, cap.for, obj, finalizer))) return; // back on its event
    const observed = observedOf(owns.length || optional.length ? sync.observe(obj) : []);
    const obs: Observations = {
      now: deps.clock.now(),
      applied: [],
      recreated: [],
      deleted: [],
      yielded: [],
      childrenSynced: true,
      childrenHeld: false,
    };
    const ext = (cap.prepare ? await cap.prepare(obj, observed, ctx) : undefined) as X;
    const want = cap.desired(obj, observed, ext);
    if (want === undefined) obs.childrenHeld = true;
    else await sync.sync(obj, want, obs, ctx);
    const out = cap.status(obj, observed, obs, ext);
    const hash = statusDigest(out.status);
    const rv = obj.metadata.resourceVersion;
    const last = statusWritten.get(req.key);
    const seen = last && last.rv === rv && last.hash === hash;
    const written = !seen && (await deps.applier.status(cap.for, obj, out.status));
    if (written) statusWritten.set(req.key, { rv, hash });
    else if (!seen) statusWritten.delete(req.key);
    if (written && deps.log.isLevelEnabled('debug'))
      ctx.log.debug({ generation: obj.metadata.generation }, 'status written');
    if (out.event) deps.events.event(obj, out.event.type, out.event.reason, out.event.message);
    if (out.terminal) throw new TerminalError(out.terminal);
    if (out.requeueAfterMs) return { requeueAfterMs: out.requeueAfterMs };
  };
}

/** A ControllerDef from a capability. */
export function capabilityController<O extends KubeObject & { status?: unknown }, X = undefined>(
  cap: Capability<O, X>,
): ControllerDef {
  return {
    name: cap.name,
    for: cap.for,
    owns: cap.owns ?? [],
    ownsOptional: cap.ownsOptional,
    watches: cap.watches,
    // A finalizer is added and removed by patching the object itself.
    rbac: [
      ...(cap.rbac ?? []),
      ...(cap.finalize
        ? [{ apiGroups: [cap.for.group], resources: [cap.for.plural], verbs: ['patch', 'update'] }]
        : []),
    ],
    workers: cap.workers,
    setup: (deps) => seamReconciler(deps, cap.bind ? cap.bind(deps) : cap),
  };
}
