// A list-watch cache of one resource, built to survive what @kubernetes/client-node's informer does not:
// - every list or watch error restarts it, after a jittered exponential backoff (1s → 60s) that a success resets;
// - 410 Gone (expired resourceVersion) relists at once; after any other failure the informer relists once it
//   reconnects, as client-go's reflector does, so that nothing changed during an outage is missed (deletions
//   included); a watch that the server simply ends re-watches from the last resourceVersion without relisting;
// - watches ask for bookmarks and time out server-side after a random 5-10 minutes, like client-go's reflector;
// - a staleness watchdog restarts a list or watch that has shown no sign of life for too long (half-open sockets);
// - a periodic resync hands every cached object to the handlers again (level-triggered safety net), spread over the
//   period instead of in one burst: the period is jittered per informer by ±10% (controller-runtime's
//   calculateResyncPeriod) and each cycle hands out the cache in up to 60 slices, one per period/60 (≥ 1 s apart),
//   so 10,000 objects become ~170 every 10 s rather than 10,000 at once;
// - managedFields and the last-applied annotation are dropped before caching, to keep memory flat; a `transform`
//   (client-go's SetTransform) sees the object as the server sent it first, so it can keep a compact digest of
//   managedFields (children.ts keeps our own field set), and a `labelSelector` scopes list and watch.
// Handlers run synchronously and must only enqueue work.
import { isGone, type KubeClient, type KubeObject, type ResourceRef } from '../kube/index.js';
import { ReconnectBackoff } from './backoff.js';
import { systemTimers, type TimerHandle, type Timers } from './clock.js';
import type { Logger } from './logger.js';

export interface InformerHandlers<T extends KubeObject> {
  add?(obj: T): void;
  update?(oldObj: T, newObj: T): void;
  delete?(obj: T): void;
  /** Called for every cached object on each periodic resync. */
  resync?(obj: T): void;
}

export interface InformerObserver {
  restarted?(resource: string, reason: string): void;
  event?(resource: string): void;
  listed?(resource: string, items: number): void;
}

export interface InformerOptions<T extends KubeObject> {
  client: KubeClient;
  resource: ResourceRef;
  /** Watch one namespace; all namespaces when unset. */
  namespace?: string;
  labelSelector?: string;
  /** Interval of the periodic resync; 0 disables it. */
  resyncMs?: number;
  /** Jitter of the resync period: a factor drawn once in [1 − j, 1 + j). Default 0.1. */
  resyncJitter?: number;
  /** Shortest interval between two slices of a resync (default 1 s); at most 60 slices per period. */
  resyncSliceMinMs?: number;
  /** Timers of the resync (injected in tests). */
  timers?: Timers;
  random?: () => number;
  /** Restart when nothing (event, bookmark, reconnect) arrived for this long. */
  staleAfterMs?: number;
  /** Bounds of the random server-side watch timeout, in seconds. */
  watchTimeoutSeconds?: [number, number];
  /** Page size of the initial list. */
  pageSize?: number;
  backoff?: ReconnectBackoff;
  /**
   * Shrinks objects before they are cached. It receives the object as the server sent it (managedFields
   * included); managedFields and the last-applied annotation are then dropped from what it returns.
   */
  transform?: (obj: T) => T;
  log: Logger;
  observer?: InformerObserver;
}

export const objectKey = (obj: KubeObject): string =>
  obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : (obj.metadata.name as string);

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export class Informer<T extends KubeObject = KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly ownerIndex = new Map<string, Set<string>>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly opts: Required<Omit<InformerOptions<T>, 'namespace' | 'labelSelector' | 'transform' | 'observer'>> &
    InformerOptions<T>;
  private resyncTimer?: TimerHandle;
  private resourceVersion: string | undefined;
  private relistNeeded = false;
  private synced = false;
  private stopped = true;
  private current?: { stop(): void };
  private lastActivity = 0;
  private wake?: () => void;
  private loop?: Promise<void>;
  private timers: NodeJS.Timeout[] = [];
  private syncWaiters: (() => void)[] = [];
  private lastErr?: Error;
  readonly name: string;

  constructor(opts: InformerOptions<T>) {
    this.opts = {
      resyncMs: 10 * 60_000,
      staleAfterMs: 12 * 60_000,
      watchTimeoutSeconds: [300, 600],
      pageSize: 500,
      backoff: new ReconnectBackoff(1000, 60_000),
      resyncJitter: 0.1,
      resyncSliceMinMs: 1000,
      timers: systemTimers,
      random: Math.random,
      ...opts,
    };
    const r = opts.resource;
    this.name = `${r.plural}${r.group ? `.${r.group}` : ''}`;
  }

  /** Adds handlers; as client-go's AddEventHandler, a handler added to a synced cache gets an add per object. */
  addHandlers(h: InformerHandlers<T>): void {
    this.handlers.push(h);
    if (this.synced) for (const obj of this.cache.values()) h.add?.(obj);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** The namespace watched; undefined for all namespaces. */
  get namespace(): string | undefined {
    return this.opts.namespace;
  }

  get resource(): ResourceRef {
    return this.opts.resource;
  }

  /** The last list/watch error since the last successful list (e.g. 403 Forbidden, 404 NotFound), if any. */
  get lastError(): Error | undefined {
    return this.lastErr;
  }

  /** Resolves once the first list has filled the cache. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** Milliseconds since the last sign of life from the API server. */
  idleMs(): number {
    return this.lastActivity ? performance.now() - this.lastActivity : Infinity;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace ? all.filter((o) => o.metadata.namespace === namespace) : all;
  }

  get size(): number {
    return this.cache.size;
  }

  /** Cached objects with an owner reference to `ownerUid`. */
  ownedBy(ownerUid: string): T[] {
    return [...(this.ownerIndex.get(ownerUid) ?? [])].map((k) => this.cache.get(k)).filter((o): o is T => !!o);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.lastActivity = performance.now();
    this.loop = this.run();
    this.startResync();
    const watchdog = setInterval(
      () => {
        if (!this.stopped && this.idleMs() > this.opts.staleAfterMs) {
          this.opts.log.warn(
            { informer: this.name, idleMs: Math.round(this.idleMs()) },
            'informer stale; restarting watch',
          );
          this.opts.observer?.restarted?.(this.name, 'stale');
          this.lastActivity = performance.now();
          this.current?.stop();
        }
      },
      Math.min(30_000, this.opts.staleAfterMs / 2),
    );
    watchdog.unref();
    this.timers.push(watchdog);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.opts.timers.clearTimeout(this.resyncTimer);
    this.current?.stop();
    this.wake?.();
    await this.loop;
  }

  /** The jittered resync period and the number of slices each cycle is handed out in. */
  resyncPlan(): { periodMs: number; slices: number } | undefined {
    const { resyncMs, resyncJitter, resyncSliceMinMs } = this.opts;
    if (resyncMs <= 0) return undefined;
    const periodMs = resyncMs * (1 - resyncJitter + 2 * resyncJitter * this.opts.random());
    return { periodMs, slices: Math.max(1, Math.min(60, Math.floor(periodMs / resyncSliceMinMs))) };
  }

  private startResync(): void {
    const plan = this.resyncPlan();
    if (!plan) return;
    const { periodMs, slices } = plan;
    const sliceMs = periodMs / slices;
    // Cycle c starts at (c+1)·period with a snapshot of the keys; slice k of it is handed out at + k·period/slices.
    let tick = 0;
    let snapshot: string[] = [];
    const next = () => {
      if (this.stopped) return;
      tick++;
      const slice = tick % slices;
      if (tick >= slices) {
        if (slice === 0) snapshot = [...this.cache.keys()];
        const size = Math.ceil(snapshot.length / slices);
        for (const key of snapshot.slice(slice * size, (slice + 1) * size)) {
          const obj = this.cache.get(key);
          if (obj) for (const h of this.handlers) h.resync?.(obj);
        }
        if (slice === slices - 1) snapshot = [];
      }
      arm();
    };
    const arm = () => {
      this.resyncTimer = this.opts.timers.setTimeout(next, sliceMs);
      const t = this.resyncTimer;
      if (typeof t === 'object' && 'unref' in t) t.unref?.();
    };
    arm();
  }

  private async run(): Promise<void> {
    const { log, backoff } = this.opts;
    while (!this.stopped) {
      try {
        if (this.resourceVersion === undefined || this.relistNeeded) await this.relist();
        await this.watchOnce();
        // The server ended the watch (its timeout): alive. Re-watch from the last resourceVersion, no relist.
        this.lastActivity = performance.now();
        backoff.reset();
      } catch (err) {
        if (this.stopped) break;
        this.lastErr = err as Error;
        if (isGone(err)) {
          log.info({ informer: this.name }, 'watch expired (410); relisting');
          this.opts.observer?.restarted?.(this.name, 'expired');
          this.resourceVersion = undefined;
          continue;
        }
        this.relistNeeded = true;
        const delay = backoff.next();
        this.opts.observer?.restarted?.(this.name, 'error');
        log.warn(
          { informer: this.name, err: (err as Error).message, retryInMs: delay, attempt: backoff.attempts },
          'list/watch failed; retrying',
        );
        await this.sleep(delay);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async relist(): Promise<void> {
    const list = await this.opts.client.list<T>(this.opts.resource, {
      namespace: this.opts.namespace,
      labelSelector: this.opts.labelSelector,
      limit: this.opts.pageSize,
    });
    this.lastActivity = performance.now();
    const seen = new Set<string>();
    for (const raw of list.items) {
      const obj = this.clean(raw);
      seen.add(objectKey(obj));
      this.upsert(obj);
    }
    for (const [key, obj] of this.cache) {
      if (!seen.has(key)) this.remove(obj);
    }
    this.resourceVersion = list.metadata.resourceVersion;
    this.relistNeeded = false;
    this.lastErr = undefined;
    this.opts.observer?.listed?.(this.name, list.items.length);
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private async watchOnce(): Promise<void> {
    const [lo, hi] = this.opts.watchTimeoutSeconds;
    const timeoutSeconds = Math.round(lo + Math.random() * (hi - lo));
    const handle = this.opts.client.watch<T>(
      this.opts.resource,
      {
        namespace: this.opts.namespace,
        labelSelector: this.opts.labelSelector,
        resourceVersion: this.resourceVersion,
        timeoutSeconds,
        allowWatchBookmarks: true,
      },
      (event) => {
        this.lastActivity = performance.now();
        const rv = event.object?.metadata?.resourceVersion;
        if (event.type === 'BOOKMARK') {
          if (rv) this.resourceVersion = rv;
          return;
        }
        this.opts.observer?.event?.(this.name);
        const obj = this.clean(event.object);
        if (event.type === 'DELETED') this.remove(obj);
        else this.upsert(obj);
        if (rv) this.resourceVersion = rv;
      },
    );
    this.current = handle;
    if (this.stopped) handle.stop();
    try {
      await handle.done;
    } finally {
      this.current = undefined;
    }
  }

  private clean(raw: T): T {
    raw.apiVersion ??= this.opts.resource.group ? `${this.opts.resource.group}/${this.opts.resource.version}` : 'v1';
    raw.kind ??= this.opts.resource.kind;
    const obj = this.opts.transform ? this.opts.transform(raw) : raw;
    // Rebuild rather than `delete`: deleting a property turns a V8 object into a slower, larger dictionary.
    const { managedFields: _mf, ...metadata } = obj.metadata;
    if (metadata.annotations?.[LAST_APPLIED] !== undefined) {
      const { [LAST_APPLIED]: _la, ...annotations } = metadata.annotations;
      metadata.annotations = annotations;
    }
    obj.metadata = metadata;
    return obj;
  }

  private upsert(obj: T): void {
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) return;
    this.cache.set(key, obj);
    if (old) this.unindex(key, old);
    this.index(key, obj);
    for (const h of this.handlers) {
      if (old) h.update?.(old, obj);
      else h.add?.(obj);
    }
  }

  private remove(obj: T): void {
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (!old) return;
    this.cache.delete(key);
    this.unindex(key, old);
    for (const h of this.handlers) h.delete?.(old);
  }

  private index(key: string, obj: T): void {
    for (const ref of obj.metadata.ownerReferences ?? []) {
      let set = this.ownerIndex.get(ref.uid);
      if (!set) this.ownerIndex.set(ref.uid, (set = new Set()));
      set.add(key);
    }
  }

  private unindex(key: string, obj: T): void {
    for (const ref of obj.metadata.ownerReferences ?? []) {
      const set = this.ownerIndex.get(ref.uid);
      set?.delete(key);
      if (set && set.size === 0) this.ownerIndex.delete(ref.uid);
    }
  }
}
