// The Manager wires the runtime together: one shared informer per watched resource (per namespace when a list of
// namespaces is watched), controllers fed by those informers, leader election, the health and metrics endpoints,
// and an orderly shutdown. Caches start right away, also on a standby, so that a takeover finds them warm; only
// the leader runs controllers.
import http from 'node:http';
import type net from 'node:net';
import type { KubeClient, KubeObject, ResourceRef } from '../kube/index.js';
import { Applier, FIELD_MANAGER } from './apply.js';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { Controller, type ReconcileFn } from './controller.js';
import { EventRecorder } from './events.js';
import { Informer, objectKey, type InformerHandlers } from './informer.js';
import { LeaderElector, type LeaseConfig } from './leader.js';
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
  /** The cache of any resource the controller owns or declared in `watches`. */
  informer(ref: ResourceRef): InformerSet;
}

export interface ControllerDef {
  name: string;
  for: ResourceRef;
  /** Child kinds: a change to a child enqueues its controlling owner of kind `for`. */
  owns?: ResourceRef[];
  /** RBAC beyond get/list/watch/patch of `for`, its status and the owned kinds. */
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
  private readonly clock: Clock;
  private lostLeadership?: () => void;

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

  informer<T extends KubeObject = KubeObject>(ref: ResourceRef): InformerSet<T> {
    const id = `${ref.group}/${ref.version}/${ref.plural}`;
    let set = this.informers.get(id);
    if (!set) {
      const scopes = ref.namespaced && this.o.namespaces.length ? this.o.namespaces : [undefined];
      set = new InformerSet(
        scopes.map(
          (namespace) =>
            new Informer({
              client: this.o.client,
              resource: ref,
              namespace,
              resyncMs: this.o.resyncMs,
              log: this.o.log,
              observer: this.metrics.informerObserver(),
            }),
        ),
      );
      this.informers.set(id, set);
    }
    return set as unknown as InformerSet<T>;
  }

  add(def: ControllerDef): void {
    this.defs.push(def);
    const cache = this.informer(def.for);
    const deps: ControllerDeps = {
      client: this.o.client,
      applier: this.applier,
      events: this.events,
      clock: this.clock,
      log: this.o.log,
      metrics: this.metrics,
      cache,
      informer: (ref) => this.informer(ref),
    };
    const controller = new Controller({
      name: def.name,
      reconcile: def.setup(deps),
      workers: def.workers ?? this.o.concurrency,
      log: this.o.log,
      metrics: this.metrics,
    });
    const q = controller.queue;
    cache.addHandlers({
      add: (o) => q.add(objectKey(o)),
      update: (a, b) => primaryChanged(a, b) && q.add(objectKey(b)),
      delete: (o) => q.add(objectKey(o)),
      resync: (o) => q.add(objectKey(o), 'low'),
    });
    for (const child of def.owns ?? []) {
      const enqueueOwner = (o: KubeObject) => {
        const ref = o.metadata.ownerReferences?.find((r) => r.controller && r.kind === def.for.kind);
        if (ref && o.metadata.namespace) q.add(`${o.metadata.namespace}/${ref.name}`);
      };
      this.informer(child).addHandlers({ add: enqueueOwner, update: (_a, b) => enqueueOwner(b), delete: enqueueOwner });
    }
    this.controllers.push(controller);
  }

  /** Where the health and metrics servers listen, once they do (undefined: disabled or failed). */
  async addresses(): Promise<{ health?: net.AddressInfo; metrics?: net.AddressInfo }> {
    return { health: await this.bound.health, metrics: await this.bound.metrics };
  }

  allSynced(): boolean {
    return [...this.informers.values()].every((s) => s.hasSynced());
  }

  /** Starts caches, servers and (once leading) controllers. `onLost` runs when leadership is lost. */
  async start(onLost: () => void): Promise<void> {
    this.lostLeadership = onLost;
    this.startServers();
    for (const set of this.informers.values()) for (const i of set.informers) i.start();
    const le = this.o.leaderElection;
    this.metrics.leaderStatus.set({ name: le.name }, 0);
    if (!le.enabled) {
      await this.startControllers();
      return;
    }
    this.elector = new LeaderElector({
      ...le,
      client: this.o.client,
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
    await Promise.all([...this.informers.values()].flatMap((s) => s.informers.map((i) => i.waitForSync())));
    if (this.stopping) return;
    this.leading = true;
    for (const c of this.controllers) c.start();
    this.o.log.info({ controllers: this.controllers.map((c) => c.name) }, 'controllers started');
  }

  /** Graceful shutdown: finish reconciles in flight, release the Lease, stop watches and servers. */
  async stop(graceMs = 8_000): Promise<void> {
    this.stopping = true;
    await Promise.all(this.controllers.map((c) => c.stop(graceMs)));
    await this.elector?.release();
    this.metrics.leaderStatus.set({ name: this.o.leaderElection.name }, 0);
    this.leading = false;
    await this.events.flush();
    await Promise.all([...this.informers.values()].flatMap((s) => s.informers.map((i) => i.stop())));
    await Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
  }

  private startServers(): void {
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
