// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// - a candidate acquires the Lease when it is free, released (empty holder) or expired, measured by *our* clock
//   from when we last saw the record change (not by the renewTime written by another machine: clocks differ);
// - the leader renews every retryPeriod; if it cannot renew within renewDeadline it stops leading;
// - release() (on SIGTERM) empties the holder so a standby takes over at its next retry instead of waiting out
//   the lease;
// - every update is a PUT with the resourceVersion read before, so two candidates can never both win.
import { isConflict, isNotFound, Resources, type KubeClient, type KubeObject } from '../kube/index.js';
import type { Clock } from './clock.js';
import { microTime, systemClock } from './clock.js';
import type { Logger } from './logger.js';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease extends KubeObject {
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

export interface LeaderElectionOptions extends LeaseConfig {
  client: KubeClient;
  log: Logger;
  clock?: Clock;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onNewLeader?: (identity: string) => void;
}

export class LeaderElector {
  private readonly clock: Clock;
  private observed?: { holder: string; rv: string; at: number };
  private leading = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private lastRenew = 0;
  private loop?: Promise<void>;
  private wake?: () => void;

  constructor(private readonly o: LeaderElectionOptions) {
    if (!(o.leaseDurationMs > o.renewDeadlineMs && o.renewDeadlineMs > o.retryPeriodMs)) {
      throw new Error(
        `leader election needs leaseDuration > renewDeadline > retryPeriod (got ${o.leaseDurationMs}ms, ${o.renewDeadlineMs}ms, ${o.retryPeriodMs}ms)`,
      );
    }
    this.clock = o.clock ?? systemClock;
  }

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message, lease: this.o.name }, 'leader election request failed');
      }
      const now = this.clock.monotonic();
      if (ok) {
        this.lastRenew = now;
        if (!this.leading) {
          this.leading = true;
          this.o.log.info({ lease: this.o.name, identity: this.o.identity }, 'acquired leadership');
          this.o.onStartedLeading();
        }
      } else if (this.leading && now - this.lastRenew > this.o.renewDeadlineMs) {
        this.leading = false;
        this.o.log.error(
          { lease: this.o.name },
          `could not renew the lease within ${this.o.renewDeadlineMs}ms; leadership lost`,
        );
        this.o.onStoppedLeading();
        return;
      }
      // A leader that failed to renew retries quickly; everyone else waits a retry period (jittered for candidates).
      const wait = this.leading ? this.o.retryPeriodMs : this.o.retryPeriodMs * (1 + Math.random() * 0.2);
      await new Promise<void>((resolve) => {
        this.timer = setTimeout(resolve, wait);
        this.wake = resolve;
      });
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { client, namespace, name, identity } = this.o;
    const nowIso = microTime(this.clock.now());
    let lease: Lease;
    try {
      lease = await client.get<Lease>(Resources.Lease, namespace, name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await client.create<Lease>(Resources.Lease, {
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
      });
      this.observe(identity, 'created');
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
      const updated = await client.replace<Lease>(Resources.Lease, { ...lease, spec: next });
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

  /** Stops campaigning; when leading, empties the holder so a standby takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
    if (!this.leading) return;
    this.leading = false;
    const { client, namespace, name, identity } = this.o;
    try {
      const lease = await client.get<Lease>(Resources.Lease, namespace, name);
      if (lease.spec?.holderIdentity !== identity) return;
      await client.replace<Lease>(Resources.Lease, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(this.clock.now()) },
      });
      this.o.log.info({ lease: name }, 'released leadership');
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message, lease: name }, 'could not release the lease');
    }
  }
}
