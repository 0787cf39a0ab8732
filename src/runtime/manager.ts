// The Manager wires the runtime together: one shared informer per watched resource (per namespace when a list of
// namespaces is watched), controllers fed by those informers, leader election, the health and metrics endpoints,
// and an orderly shutdown. Caches start right away, also on a standby, so that a takeover finds them warm; only
// the leader runs controllers.
// Like controller-runtime's builder: `for` enqueues the object itself, `owns` enqueues a child's controlling owner
// (handler.EnqueueRequestForOwner with OnlyControllerOwner, matched by ownerReference group + kind; the old and the
// new owner on an update) from a child cache scoped by the managed-by label and shrunk by children.ts'
// transform, and `watches` enqueues the keys a map function returns (handler.EnqueueRequestsFromMapFunc, old and
// new object on an update). An informer requested after start starts at once; a controller added after start, or
// a watch added from a running controller, waits for its caches to sync first (WaitForCacheSync).
// Like controller-runtime's CacheSyncTimeout (2 min), caches that have not synced in
// time are fatal: the process exits naming the informer and its last error instead of holding the Lease idle.
// Shutdown (controller-runtime's GracefulShutdownTimeout) stops the workers first and releases the Lease only once
// they have stopped: a standby must not start while our reconciles still write.
// `ownsOptional` (no controller-runtime equivalent; its Owns() needs the kind at start): child kinds that may not be
// served. Their scoped caches exist only while served-kinds.ts sees their CRD served and Established: started then
// (every `for` object enqueued once the cache synced, so desired children can be applied and pruned), stopped and
// dropped when the CRD goes away (every `for` object enqueued again). They never hold up the caches' sync.
// `allNamespaces` (a cache scope): one cluster-wide list/watch even when a list of namespaces is watched, as
// controller-runtime's cache.Options.ByObject with cache.AllNamespaces; only with a label selector (objects the
// operator labelled itself in namespaces it creates at run time, e.g. a DR drill's namespace).
import http from 'node:http';
import type net from 'node:net';
import type { KubeClient, KubeObject, ResourceRef } from '../kube/index.js';
import { Applier, FIELD_MANAGER } from './apply.js';
import { childTransform, controllerOwnerKey, MANAGED_BY_SELECTOR, ownerKeysOnUpdate } from './children.js';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { Controller, type ReconcileFn } from './controller.js';
import { EventRecorder } from './events.js';
import { Informer, objectKey, type InformerHandlers } from './informer.js';
import { LeaderElector, type LeaseClient, type LeaseConfig } from './leader.js';
import { ServedKinds } from './served-kinds.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** The informers of one resource across the watched namespaces, read as one cache. */
export class InformerSet<T extends KubeObject = KubeObject> {
  constructor(readonly informers: Informer<T>[]) {}
  get(namespace: string | undefined, name: string): T | undefined {
    for (const i of this.informers) {
      const o = i.get(namespace, name);
      if (o) return o;
    }
    return undefined;
  }
  list(namespace?: string): T[] {
    return this.informers.flatMap((i) => i.list(namespace));
  }
  ownedBy(uid: string): T[] {
    return this.informers.flatMap((i) => i.ownedBy(uid));
  }
  hasSynced(): boolean {
    return this.informers.every((i) => i.hasSynced());
  }
  async waitForSync(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.waitForSync()));
  }
  addHandlers(h: InformerHandlers<T>): void {
    for (const i of this.informers) i.addHandlers(h);
  }
  get size(): number {
    return this.informers.reduce((n, i) => n + i.size, 0);
  }
}

export interface ControllerDeps {
  client: KubeClient;
  applier: Applier;
  events: EventRecorder;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  /** The cache of the primary resource. */
  cache: InformerSet;
  /**
   * The cache of any resource (declared in `watches`, or requested now: it starts at once), scoped by a label
   * selector (a string is one) and/or a field selector, or shrunk by a named transform: one cache per scope, the
   * one a watch with the same scope fills.
   */
  informer(ref: ResourceRef, scope?: string | CacheScope): InformerSet;
  /** The scoped cache of an owned kind: only objects labelled managed-by us, shrunk by `childTransform`. */
  children(ref: ResourceRef): InformerSet;
  /** Adds a watch while running (its informer starts at once); resolves once its cache has synced. */
  watch(w: WatchDef): Promise<void>;
  /**
   * Enqueues a key of `for` (namespace/name) now or after `afterMs`: for background work outside the caches (a probe
   * of a database, an S3 listing) that has a new result (like controller-runtime's source.Channel / GenericEvent).
   */
  enqueue(key: string, afterMs?: number): void;
  /** Registers clean-up run once when the manager stops (before the caches stop): timers, pools, connections. */
  onStop(fn: () => void | Promise<void>): void;
  /**
   * Which custom kinds the API server serves now (a shared CRD watch, started with the manager); an `ownsOptional`
   * kind's scoped cache (`children(ref)`) may only be read while `servedKinds().served(ref)` is true.
   */
  servedKinds(): ServedKinds;
}

/** A watch of any kind: `map` turns a watched object into the keys (namespace/name) of `for` objects to enqueue. */
export interface WatchDef {
  resource: ResourceRef;
  map(obj: KubeObject): string[];
  /** Scope the watch's cache (and its list/watch) by label. */
  labelSelector?: string;
  /** Scope it by field, e.g. `metadata.name=db-creds` (one object by name, as client-go's fields.OneTermEqualSelector). */
  fieldSelector?: string;
  /** Shrink what the watch's cache keeps (client-go's SetTransform); one cache per resource and transform id. */
  transform?: NamedTransform;
  /** One cluster-wide watch even when namespaces are listed (needs a labelSelector). */
  allNamespaces?: boolean;
}

/** How a cache is scoped (client-go's ListOptions label/field selectors) and shrunk (SetTransform). */
export interface CacheScope {
  labelSelector?: string;
  fieldSelector?: string;
  transform?: NamedTransform;
  /** One cluster-wide list/watch even when namespaces are listed (needs a labelSelector). */
  allNamespaces?: boolean;
}

/**
 * An informer transform (client-go's cache.TransformFunc) with an id naming its cache: it sees managedFields (which
 * are dropped after it), so it can keep a digest of them, as the child caches do.
 */
export interface NamedTransform {
  id: string;
  fn: (obj: KubeObject) => KubeObject;
}

export interface ControllerDef {
  name: string;
  for: ResourceRef;
  /**
   * Child kinds (group + kind; version and plural locate the API): a change to a child enqueues its controlling
   * owner of kind `for`. Their caches hold only children labelled `app.kubernetes.io/managed-by:
   * smartcloudops-operator`.
   */
  owns?: ResourceRef[];
  /**
   * Child kinds that may not be served (a CRD installed or not): as `owns` while their CRD is served and
   * Established, absent otherwise (no informer, nothing applied or pruned).
   */
  ownsOptional?: ResourceRef[];
  /** Other kinds to watch, each with a map function to the keys to enqueue. */
  watches?: WatchDef[];
  /** RBAC beyond get/list/watch/patch of `for`, its status, the owned and the watched kinds. */
  rbac?: PolicyRule[];
  workers?: number;
  setup(deps: ControllerDeps): ReconcileFn;
}

export interface LeaderElectionConfig extends LeaseConfig {
  enabled: boolean;
}

export interface ManagerOptions {
  client: KubeClient;
  log: Logger;
  metrics: Metrics;
  /** Namespaces to watch; empty means all. */
  namespaces: string[];
  leaderElection: LeaderElectionConfig;
  concurrency: number;
  metricsAddr?: string;
  healthAddr?: string;
  clock?: Clock;
  resyncMs?: number;
  identity: string;
  /** The leader elector's own client (own connection and rate limiter, no Retry-After retries); default `client`. */
  leaderClient?: LeaseClient;
  /** Caches not synced within this are fatal (controller-runtime's CacheSyncTimeout); default 2 min. */
  cacheSyncTimeoutMs?: number;
}

/** Caches that did not sync in time, each with its resource, namespace and last list/watch error. */
export class CacheSyncError extends Error {
  constructor(
    readonly timeoutMs: number,
    readonly informers: Informer[],
  ) {
    super(
      `caches did not sync within ${timeoutMs / 1000}s: ` +
        informers
          .map(
            (i) =>
              `${i.resource.kind} (${i.name}) in ${i.namespace ? `namespace ${i.namespace}` : 'all namespaces'}: ` +
              (i.lastError ? `last error: ${i.lastError.message}` : 'no error reported (still listing)'),
          )
          .join('; '),
    );
    this.name = 'CacheSyncError';
  }
}

/** True when an update of a primary object needs a reconcile: not for status-only changes (our own writes). */
export function primaryChanged(oldObj: KubeObject, newObj: KubeObject): boolean {
  const a = oldObj.metadata;
  const b = newObj.metadata;
  return (
    a.generation !== b.generation ||
    a.deletionTimestamp !== b.deletionTimestamp ||
    JSON.stringify(a.labels ?? {}) !== JSON.stringify(b.labels ?? {}) ||
    JSON.stringify(a.annotations ?? {}) !== JSON.stringify(b.annotations ?? {}) ||
    JSON.stringify(a.finalizers ?? []) !== JSON.stringify(b.finalizers ?? [])
  );
}

export class Manager {
  readonly metrics: Metrics;
  readonly events: EventRecorder;
  readonly applier: Applier;
  private readonly informers = new Map<string, InformerSet>();
  private readonly defs: ControllerDef[] = [];
  private readonly controllers: Controller[] = [];
  private elector?: LeaderElector;
  private servers: http.Server[] = [];
  private readonly bound: {
    health?: Promise<net.AddressInfo | undefined>;
    metrics?: Promise<net.AddressInfo | undefined>;
  } = {};
  private leading = false;
  private stopping = false;
  private readonly stopHooks: (() => void | Promise<void>)[] = [];
  private readonly clock: Clock;
  private lostLeadership?: () => void;
  private started = false;
  private synced?: Promise<void>;
  private syncTimer?: NodeJS.Timeout;
  private served?: ServedKinds;

  constructor(private readonly o: ManagerOptions) {
    this.metrics = o.metrics;
    this.clock = o.clock ?? systemClock;
    this.applier = new Applier(o.client, FIELD_MANAGER);
    this.events = new EventRecorder({
      client: o.client,
      component: 'smartcloudops-operator',
      instance: o.identity,
      log: o.log,
      metrics: o.metrics,
      clock: this.clock,
    });
  }

  /** The shared cache of `ref` (full objects); started at once when the manager already runs. */
  informer<T extends KubeObject = KubeObject>(ref: ResourceRef, scope?: string | CacheScope): InformerSet<T> {
    const sc: CacheScope = typeof scope === 'string' ? { labelSelector: scope } : (scope ?? {});
    if (sc.allNamespaces && !sc.labelSelector)
      throw new Error(`a cluster-wide cache of ${ref.kind} needs a label selector`);
    return this.cacheOf<T>(ref, sc.labelSelector, false, sc.fieldSelector, sc.transform, sc.allNamespaces);
  }

  /** The shared watch of served custom kinds (created on first use, started with the manager). */
  servedKinds(): ServedKinds {
    if (!this.served) {
      this.served = new ServedKinds({ client: this.o.client, log: this.o.log });
      if (this.started) this.served.start();
    }
    return this.served;
  }

  /** Stops and forgets a cache (an optional kind no longer served). */
  private dropChildren(ref: ResourceRef): void {
    const id = `${ref.group}/${ref.version}/${ref.plural}?${MANAGED_BY_SELECTOR}#children`;
    const set = this.informers.get(id);
    if (!set) return;
    this.informers.delete(id);
    for (const i of set.informers) void i.stop();
  }

  /** The scoped child cache of an owned kind. */
  children<T extends KubeObject = KubeObject>(ref: ResourceRef): InformerSet<T> {
    return this.cacheOf<T>(ref, MANAGED_BY_SELECTOR, true);
  }

  private cacheOf<T extends KubeObject>(
    ref: ResourceRef,
    labelSelector: string | undefined,
    child: boolean,
    fieldSelector?: string,
    named?: NamedTransform,
    allNamespaces = false,
  ) {
    const fields = fieldSelector ? `&fields=${fieldSelector}` : '';
    const id = `${ref.group}/${ref.version}/${ref.plural}?${labelSelector ?? ''}${fields}${child ? '#children' : ''}${named ? `#t:${named.id}` : ''}${allNamespaces ? '#all' : ''}`;
    let set = this.informers.get(id);
    if (!set) {
      const scopes = ref.namespaced && this.o.namespaces.length && !allNamespaces ? this.o.namespaces : [undefined];
      set = new InformerSet(
        scopes.map(
          (namespace) =>
            new Informer({
              client: this.o.client,
              resource: ref,
              namespace,
              labelSelector,
              ...(fieldSelector ? { fieldSelector } : {}),
              transform: child ? childTransform : named?.fn,
              resyncMs: this.o.resyncMs,
              log: this.o.log,
              observer: this.metrics.informerObserver(),
            }),
        ),
      );
      this.informers.set(id, set);
      if (this.started) for (const i of set.informers) i.start();
    }
    return set as unknown as InformerSet<T>;
  }

  add(def: ControllerDef): void {
    this.defs.push(def);
    const cache = this.informer(def.for);
    let built = false;
    const deps: ControllerDeps = {
      client: this.o.client,
      applier: this.applier,
      events: this.events,
      clock: this.clock,
      log: this.o.log,
      metrics: this.metrics,
      cache,
      informer: (ref, scope) => this.informer(ref, scope),
      children: (ref) => this.children(ref),
      watch: (w) => {
        const set = addWatch(w);
        return set.waitForSync();
      },
      enqueue: (key, afterMs) => {
        // Called during setup, before the controller exists: deliver once it does.
        const deliver = () => {
          if (afterMs && afterMs > 0) controller.queue.addAfter(key, afterMs);
          else controller.queue.add(key);
        };
        if (built) deliver();
        else queueMicrotask(deliver);
      },
      onStop: (fn) => {
        this.stopHooks.push(fn);
      },
      servedKinds: () => this.servedKinds(),
    };
    const controller = new Controller({
      name: def.name,
      reconcile: def.setup(deps),
      workers: def.workers ?? this.o.concurrency,
      log: this.o.log,
      metrics: this.metrics,
    });
    built = true;
    const q = controller.queue;
    cache.addHandlers({
      add: (o) => q.add(objectKey(o)),
      update: (a, b) => primaryChanged(a, b) && q.add(objectKey(b)),
      delete: (o) => q.add(objectKey(o)),
      resync: (o) => q.add(objectKey(o), 'low'),
    });
    const sets = [cache];
    for (const child of def.owns ?? []) {
      const enqueueOwner = (o: KubeObject) => {
        const key = controllerOwnerKey(o, def.for);
        if (key) q.add(key);
      };
      const set = this.children(child);
      sets.push(set);
      set.addHandlers({
        add: enqueueOwner,
        update: (a, b) => ownerKeysOnUpdate(a, b, def.for).forEach((k) => q.add(k)),
        delete: enqueueOwner,
      });
    }
    const addWatch = (w: WatchDef): InformerSet => {
      const set = this.informer(w.resource, w);
      const enqueue = (...objs: KubeObject[]) => new Set(objs.flatMap((o) => w.map(o))).forEach((k) => q.add(k));
      set.addHandlers({ add: enqueue, update: (a, b) => enqueue(a, b), delete: enqueue });
      return set;
    };
    for (const w of def.watches ?? []) sets.push(addWatch(w));
    const wired = new WeakSet<InformerSet>();
    const enqueueAll = () => cache.list().forEach((o) => q.add(objectKey(o)));
    for (const ref of def.ownsOptional ?? []) {
      this.servedKinds().track(ref, (r, served) => {
        if (!served) {
          this.o.log.info(
            { controller: def.name, kind: r.kind, group: r.group },
            'optional owned kind no longer served',
          );
          this.dropChildren(r);
          enqueueAll();
          return;
        }
        this.o.log.info({ controller: def.name, kind: r.kind, group: r.group }, 'optional owned kind served');
        const set = this.children(r);
        if (!wired.has(set)) {
          wired.add(set);
          const enqueueOwner = (o: KubeObject) => {
            const key = controllerOwnerKey(o, def.for);
            if (key) q.add(key);
          };
          set.addHandlers({
            add: enqueueOwner,
            update: (a, b) => ownerKeysOnUpdate(a, b, def.for).forEach((k) => q.add(k)),
            delete: enqueueOwner,
          });
        }
        void set.waitForSync().then(enqueueAll);
      });
    }
    this.controllers.push(controller);
    // Added while leading: start once its own caches have synced.
    if (this.leading) {
      void Promise.all(sets.map((s) => s.waitForSync())).then(() => {
        if (this.leading && !this.stopping) controller.start();
      });
    }
  }

  /** Where the health and metrics servers listen, once they do (undefined: disabled or failed). */
  async addresses(): Promise<{ health?: net.AddressInfo; metrics?: net.AddressInfo }> {
    return { health: await this.bound.health, metrics: await this.bound.metrics };
  }

  allSynced(): boolean {
    return [...this.informers.values()].every((s) => s.hasSynced());
  }

  /**
   * Starts caches, servers and (once leading) controllers. `onLost` runs when leadership is lost, `onFatal` when the
   * caches did not sync within the cache-sync timeout (a CacheSyncError) or an endpoint cannot listen (by default
   * either is thrown as unhandled).
   */
  async start(onLost: () => void, onFatal?: (err: Error) => void): Promise<void> {
    this.lostLeadership = onLost;
    this.startServers((err) => {
      // As controller-runtime's manager: an endpoint that cannot listen (a taken port, a bad address) is fatal — a
      // pod whose probes or metrics can never answer must not hold the Lease.
      if (this.stopping) return;
      if (onFatal) onFatal(err);
      else throw err;
    });
    this.started = true;
    for (const set of this.informers.values()) for (const i of set.informers) i.start();
    this.served?.start();
    this.synced = this.waitForCacheSync(this.o.cacheSyncTimeoutMs ?? 120_000);
    this.synced.catch((err: Error) => {
      if (this.stopping) return;
      this.o.log.error({ err: err.message }, 'caches did not sync');
      if (onFatal) onFatal(err);
      else throw err;
    });
    const le = this.o.leaderElection;
    this.metrics.leaderStatus.set({ name: le.name }, 0);
    if (!le.enabled) {
      await this.startControllers();
      return;
    }
    this.elector = new LeaderElector({
      ...le,
      client: this.o.leaderClient ?? this.o.client,
      log: this.o.log,
      clock: this.clock,
      onStartedLeading: () => {
        this.metrics.leaderStatus.set({ name: le.name }, 1);
        void this.startControllers();
      },
      onStoppedLeading: () => {
        this.metrics.leaderStatus.set({ name: le.name }, 0);
        this.leading = false;
        for (const c of this.controllers) void c.stop(0);
        this.lostLeadership?.();
      },
      onNewLeader: (id) => this.o.log.info({ leader: id }, 'another instance leads'),
    });
    this.elector.start();
  }

  private async startControllers(): Promise<void> {
    if (this.stopping) return;
    // Reconcile from a complete cache only: a half-filled cache would look like deleted objects.
    try {
      await this.synced;
    } catch {
      return; // reported by start()
    }
    if (this.stopping) return;
    this.leading = true;
    for (const c of this.controllers) c.start();
    this.o.log.info({ controllers: this.controllers.map((c) => c.name) }, 'controllers started');
  }

  private waitForCacheSync(timeoutMs: number): Promise<void> {
    const all = [...this.informers.values()].flatMap((s) => s.informers);
    return new Promise<void>((resolve, reject) => {
      const unsynced = () => all.filter((i) => !i.hasSynced());
      this.syncTimer = setTimeout(() => reject(new CacheSyncError(timeoutMs, unsynced())), timeoutMs);
      this.syncTimer.unref();
      void Promise.all(all.map((i) => i.waitForSync())).then(() => {
        clearTimeout(this.syncTimer);
        resolve();
      });
    });
  }

  /**
   * Graceful shutdown within `timeoutMs`: stop the workers (reconciles in flight may finish), then — only if they all
   * stopped — release the Lease; then flush Events and stop watches and servers. Workers still running at the end
   * of their share of the budget keep the Lease held: it expires after the process exits, never under live work.
   */
  async stop(timeoutMs = 8_000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.syncTimer);
    const deadline = performance.now() + timeoutMs;
    const left = () => Math.max(0, deadline - performance.now());
    // Keep a fifth of the budget (at most 5 s) for the release, Events and watches.
    const graceMs = Math.max(0, timeoutMs - Math.min(5_000, timeoutMs / 5));
    const stopped = await Promise.all(this.controllers.map((c) => c.stop(graceMs)));
    if (stopped.every(Boolean)) {
      await this.elector?.release(left());
    } else if (this.elector) {
      this.o.log.warn(
        { graceMs },
        'workers still running at the end of the grace period; not releasing the lease (it will expire)',
      );
      await this.elector.release(0, false);
    }
    this.metrics.leaderStatus.set({ name: this.o.leaderElection.name }, 0);
    this.leading = false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      (async () => {
        await Promise.all(
          this.stopHooks.splice(0).map(async (fn) => {
            try {
              await fn();
            } catch (err) {
              this.o.log.warn({ err: (err as Error).message }, 'a stop hook failed');
            }
          }),
        );
        await this.events.flush();
        await Promise.all([...this.informers.values()].flatMap((s) => s.informers.map((i) => i.stop())));
        await this.served?.stop();
        await Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
      })(),
      new Promise((r) => (timer = setTimeout(r, left()))),
    ]);
    clearTimeout(timer);
  }

  private startServers(fatal: (err: Error) => void): void {
    const listen = (which: 'health' | 'metrics', addr: string | undefined, handler: http.RequestListener) => {
      if (!addr || addr === '0') return;
      const { host, port } = parseAddr(addr);
      const srv = http.createServer(handler);
      this.servers.push(srv);
      this.bound[which] = listenDualStack(srv, host, port).then(
        (a) => {
          srv.on('error', (err) => this.o.log.error({ err: err.message, addr }, 'server error'));
          return a;
        },
        (err: Error) => {
          this.o.log.error({ err: err.message, addr }, `cannot listen for ${which}`);
          fatal(new Error(`cannot listen for ${which} on ${addr}: ${err.message}`));
          return undefined;
        },
      );
    };
    listen('health', this.o.healthAddr, (req, res) => {
      if (req.url === '/healthz' || req.url === '/livez') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      } else if (req.url === '/readyz') {
        const ok = this.allSynced();
        res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok' : 'informers not synced');
      } else {
        res.writeHead(404).end();
      }
    });
    listen('metrics', this.o.metricsAddr, (req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      this.metrics.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(body),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    });
  }
}

/** `host:port`, `[v6]:port` or `:port`; an empty host means every address (see listenDualStack). */
export function parseAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const host = i > 0 ? addr.slice(0, i).replace(/^\[|\]$/g, '') : '';
  const port = Number(addr.slice(i + 1));
  if (i < 0 || addr.slice(i + 1) === '' || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`invalid address "${addr}" (want host:port or :port)`);
  return { host, port };
}

const IPV6_UNAVAILABLE = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EPROTONOSUPPORT']);

/**
 * Listens on host:port. An empty host (`:8080`, as controller-runtime's bind addresses) or `::` means every address:
 * `::` with IPv4 mapped (dual-stack, so the port answers on IPv6-only and IPv4 clusters alike), falling back to
 * 0.0.0.0 only when the kernel has no IPv6. An explicit address (0.0.0.0, 127.0.0.1, ::1) is used as given.
 */
export async function listenDualStack(srv: net.Server, host: string, port: number): Promise<net.AddressInfo> {
  const attempt = (o: net.ListenOptions) =>
    new Promise<net.AddressInfo>((resolve, reject) => {
      const onError = (err: Error) => {
        srv.off('listening', onListening);
        reject(err);
      };
      const onListening = () => {
        srv.off('error', onError);
        resolve(srv.address() as net.AddressInfo);
      };
      srv.once('error', onError);
      srv.once('listening', onListening);
      srv.listen(o);
    });
  if (host !== '' && host !== '::') return attempt({ host, port });
  try {
    return await attempt({ host: '::', port, ipv6Only: false });
  } catch (err) {
    if (!IPV6_UNAVAILABLE.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    return attempt({ host: '0.0.0.0', port });
  }
}
