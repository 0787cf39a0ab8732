// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it, made strict enough that
// two instances can never both believe they lead:
// - a candidate acquires the Lease when it is free, released (empty holder) or expired, measured on *our* monotonic
//   clock from when we last saw the record change (not by the renewTime another machine wrote: clocks differ, and a
//   wall-clock jump must not shorten or stretch a lease);
// - the leader renews every retryPeriod; each acquire/renew attempt is aborted when the time left before the renew
//   deadline runs out (client-go bounds its renew loop by RenewDeadline through a context), and a renewal counts
//   from the moment its attempt *started* (the Lease on the server can only be newer than that). So a leader whose
//   renewals hang stops leading at most renewDeadline after its last successful renewal began, while a standby waits
//   at least leaseDuration (> renewDeadline) after it saw that renewal: never two leaders;
// - the elector gets its own KubeClient (own connection pool and rate limiter, no Retry-After retries), so renewals
//   never queue behind reconciles, relists or Events (cert-manager's client-side rate-limiting design);
// - release() (on SIGTERM, after the workers stopped) empties the holder so a standby takes over at its next retry
//   instead of waiting out the lease;
// - every update is a PUT with the resourceVersion read before, so two candidates can never both win.
import { isConflict, isNotFound, Resources, resourcePath, type KubeClient, type KubeObject } from '../kube/index.js';
import type { Clock, TimerHandle, Timers } from './clock.js';
import { microTime, systemClock, systemTimers } from './clock.js';
import type { Logger } from './logger.js';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

/** Which Lease, who we are, and the timings (client-go's LeaseDuration, RenewDeadline, RetryPeriod). */
export interface LeaseConfig {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** What the elector needs of a client: plain requests that take an AbortSignal. */
export type LeaseClient = Pick<KubeClient, 'request'>;

export interface LeaderElectionOptions extends LeaseConfig {
  /** A client of its own (not the one reconciles use), created with maxRetries 0. */
  client: LeaseClient;
  log: Logger;
  clock?: Clock;
  timers?: Timers;
  random?: () => number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onNewLeader?: (identity: string) => void;
}

class AttemptTimeout extends Error {}

export class LeaderElector {
  private readonly clock: Clock;
  private readonly timers: Timers;
  private observed?: { holder: string; rv: string; at: number };
  private leading = false;
  private stopped = false;
  private timer?: TimerHandle;
  /** Monotonic start of the last successful acquire/renew attempt. */
  private lastRenew = 0;
  private loop?: Promise<void>;
  private wake?: () => void;
  private inFlight?: AbortController;

  constructor(private readonly o: LeaderElectionOptions) {
    if (!(o.leaseDurationMs > o.renewDeadlineMs && o.renewDeadlineMs > o.retryPeriodMs)) {
      throw new Error(
        `leader election needs leaseDuration > renewDeadline > retryPeriod (got ${o.leaseDurationMs}ms, ${o.renewDeadlineMs}ms, ${o.retryPeriodMs}ms)`,
      );
    }
    this.clock = o.clock ?? systemClock;
    this.timers = o.timers ?? systemTimers;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const { renewDeadlineMs: deadline, retryPeriodMs: retry } = this.o;
    while (!this.stopped) {
      const start = this.clock.monotonic();
      if (this.leading && start - this.lastRenew >= deadline) {
        this.leading = false;
        this.o.log.error({ lease: this.o.name }, `could not renew the lease within ${deadline}ms; leadership lost`);
        this.o.onStoppedLeading();
        return;
      }
      // A leader has until its renew deadline; a candidate's attempt is bounded the same way, so that an acquire
      // answered late is never taken for a fresh lease.
      const budget = this.leading ? this.lastRenew + deadline - start : deadline;
      let ok = false;
      try {
        ok = await this.attempt(budget);
      } catch (err) {
        if (!this.stopped) {
          this.o.log.warn(
            { err: (err as Error).message, lease: this.o.name, leading: this.leading },
            'leader election request failed',
          );
        }
      }
      if (ok) {
        this.lastRenew = start;
        if (!this.leading) {
          this.leading = true;
          this.o.log.info({ lease: this.o.name, identity: this.o.identity }, 'acquired leadership');
          this.o.onStartedLeading();
        }
      }
      if (this.stopped) return;
      // The leader renews every retry period counted from the start of the last attempt, and never sleeps past its
      // deadline; candidates wait a retry period with client-go's jitter (factor 1.2 at most).
      const now = this.clock.monotonic();
      const wait = this.leading
        ? Math.min(start + retry, this.lastRenew + deadline) - now
        : retry * (1 + 0.2 * (this.o.random ?? Math.random)());
      if (wait > 0) await this.sleep(wait); // (a deadline reached now is handled at once, not a timer tick later)
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      this.timer = this.timers.setTimeout(resolve, ms);
    });
  }

  /** One acquire/renew, aborted after `budgetMs` (the HTTP request too). */
  private async attempt(budgetMs: number): Promise<boolean> {
    if (budgetMs <= 0) return false;
    const ac = new AbortController();
    this.inFlight = ac;
    let timer: TimerHandle | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = this.timers.setTimeout(() => {
        const err = new AttemptTimeout(`no answer within ${Math.round(budgetMs)}ms (the renew deadline)`);
        ac.abort(err);
        reject(err);
      }, budgetMs);
    });
    try {
      return await Promise.race([this.tryAcquireOrRenew(ac.signal), expired]);
    } finally {
      this.timers.clearTimeout(timer);
      this.inFlight = undefined;
    }
  }

  private path(withName = true): string {
    return resourcePath(Resources.Lease, this.o.namespace, withName ? this.o.name : undefined);
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const { client, namespace, name, identity } = this.o;
    const nowIso = microTime(this.clock.now());
    let lease: Lease;
    try {
      lease = await client.request<Lease>('GET', this.path(), { verb: 'get', signal });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const created = await client.request<Lease>('POST', this.path(false), {
        verb: 'create',
        signal,
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: Math.ceil(this.o.leaseDurationMs / 1000),
            acquireTime: nowIso,
            renewTime: nowIso,
            leaseTransitions: 0,
          },
        },
      });
      this.observe(identity, created?.metadata?.resourceVersion ?? 'created');
      return true;
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const rv = lease.metadata.resourceVersion ?? '';
    if (!this.observed || this.observed.rv !== rv) {
      if (holder !== this.observed?.holder && holder && holder !== identity) this.o.onNewLeader?.(holder);
      this.observe(holder, rv);
    }
    const expired =
      this.clock.monotonic() > (this.observed as { at: number }).at + (spec.leaseDurationSeconds ?? 0) * 1000;
    if (holder && holder !== identity && !expired) return false;

    const next: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.o.leaseDurationMs / 1000),
      acquireTime: holder === identity ? spec.acquireTime : nowIso,
      renewTime: nowIso,
      leaseTransitions: holder === identity ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
    };
    try {
      const updated = await client.request<Lease>('PUT', this.path(), {
        verb: 'update',
        signal,
        body: { ...lease, spec: next },
      });
      this.observe(identity, updated.metadata.resourceVersion ?? '');
      return true;
    } catch (err) {
      if (isConflict(err)) return false; // someone else wrote first: re-read next round
      throw err;
    }
  }

  private observe(holder: string, rv: string): void {
    this.observed = { holder, rv, at: this.clock.monotonic() };
  }

  /**
   * Stops campaigning (aborting an attempt in flight); when still leading, empties the holder so a standby takes over
   * at once. Call it only once the workers have stopped. The release request is bounded by `timeoutMs` and by the
   * renew deadline: a leader that is no longer sure it holds the Lease leaves it to expire. With `release` false it
   * only stops campaigning (workers still running: the Lease must expire rather than be handed over).
   */
  async release(timeoutMs = 5_000, release = true): Promise<void> {
    this.stopped = true;
    this.timers.clearTimeout(this.timer);
    this.wake?.();
    this.inFlight?.abort(new Error('shutting down'));
    await this.loop;
    if (!this.leading || !release) return;
    this.leading = false;
    const left = Math.min(timeoutMs, this.lastRenew + this.o.renewDeadlineMs - this.clock.monotonic());
    if (left <= 0) {
      this.o.log.warn({ lease: this.o.name }, 'not releasing the lease: renew deadline passed; it will expire');
      return;
    }
    const { client, name, identity } = this.o;
    const ac = new AbortController();
    const timer = this.timers.setTimeout(() => ac.abort(new Error(`no answer within ${Math.round(left)}ms`)), left);
    try {
      const lease = await client.request<Lease>('GET', this.path(), { verb: 'get', signal: ac.signal });
      if (lease.spec?.holderIdentity !== identity) return;
      await client.request<Lease>('PUT', this.path(), {
        verb: 'update',
        signal: ac.signal,
        body: {
          ...lease,
          spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(this.clock.now()) },
        },
      });
      this.o.log.info({ lease: name }, 'released leadership');
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message, lease: name }, 'could not release the lease');
    } finally {
      this.timers.clearTimeout(timer);
    }
  }
}
