// A work queue of object keys with client-go semantics:
// - a key is queued at most once (adding it again before it is processed is a no-op);
// - a key is never handed to two workers at once: added while processing, it is queued again when done() is called;
// - two lanes: keys from watch events are served before keys from periodic resyncs (a resync of 10,000 objects does
//   not delay a user's new object), and an event promotes a key waiting in the resync lane;
// - delayed adds (requeueAfter) and per-key exponential backoff (addRateLimited / forget); a delay longer than
//   Node's timer limit (2^31−1 ms, ~24.8 days) is re-armed until it is due instead of firing after 1 ms
//   (client-go's delaying queue keeps a heap of deadlines; a chain of timers is the event-loop equivalent).
import { KeyBackoff, type BackoffOptions } from './backoff.js';
import { setLongTimeout, systemClock, systemTimers, type Clock, type Timers } from './clock.js';

export type Priority = 'high' | 'low';

export interface QueueObserver {
  depth?(depth: number): void;
  added?(): void;
  /** Seconds a key waited in the queue before a worker took it. */
  queued?(seconds: number): void;
  /** Seconds a worker spent on a key. */
  worked?(seconds: number): void;
  retried?(): void;
}

export class WorkQueue {
  private readonly high = new Set<string>();
  private readonly low = new Set<string>();
  private readonly processing = new Map<string, number>(); // key → start (monotonic ms)
  /** Keys added while being processed: queued again by done(). Value: the best priority asked for. */
  private readonly dirtyWhileProcessing = new Map<string, Priority>();
  private readonly addedAt = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: { cancel(): void }; priority: Priority }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private readonly backoff: KeyBackoff;
  private shuttingDown = false;

  constructor(
    private readonly observer: QueueObserver = {},
    backoff?: Partial<BackoffOptions>,
    private readonly clock: Clock = systemClock,
    private readonly timers: Timers = systemTimers,
  ) {
    this.backoff = new KeyBackoff({ baseMs: 5, maxMs: 300_000, jitter: 0.1, ...backoff });
  }

  /** Keys waiting for a delayed add (requeueAfter, backoff). */
  get delayedCount(): number {
    return this.delayed.size;
  }

  get length(): number {
    return this.high.size + this.low.size;
  }

  /** Keys being worked on, with their start time (for the longest-running-processor metric). */
  processingSince(): number[] {
    return [...this.processing.values()];
  }

  add(key: string, priority: Priority = 'high'): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      const prev = this.dirtyWhileProcessing.get(key);
      if (prev !== 'high') this.dirtyWhileProcessing.set(key, priority);
      return;
    }
    if (this.high.has(key)) return;
    if (this.low.has(key)) {
      if (priority === 'low') return;
      this.low.delete(key); // promote
    } else {
      this.addedAt.set(key, this.clock.monotonic());
      this.observer.added?.();
    }
    (priority === 'high' ? this.high : this.low).add(key);
    this.observer.depth?.(this.length);
    this.wake();
  }

  /** Adds the key after `ms`. A pending delayed add of the same key is kept if it is due sooner. */
  addAfter(key: string, ms: number, priority: Priority = 'high'): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key, priority);
    const at = this.clock.monotonic() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    pending?.timer.cancel();
    const timer = setLongTimeout(
      () => {
        this.delayed.delete(key);
        this.add(key, priority);
      },
      ms,
      this.clock,
      this.timers,
    );
    this.delayed.set(key, { at, timer, priority });
  }

  /** Adds the key after its next backoff delay (5ms, 10ms, 20ms, ... up to the cap). */
  addRateLimited(key: string): number {
    const delay = this.backoff.next(key);
    this.observer.retried?.();
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the key's failure count: the next failure starts the backoff from the base again. */
  forget(key: string): void {
    this.backoff.forget(key);
  }

  retries(key: string): number {
    return this.backoff.retries(key);
  }

  /** Resolves with the next key, or undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    const key = this.take();
    if (key !== undefined || this.shuttingDown) return Promise.resolve(key);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private take(): string | undefined {
    const lane = this.high.size ? this.high : this.low.size ? this.low : undefined;
    if (!lane) return undefined;
    const key = lane.values().next().value as string;
    lane.delete(key);
    const now = this.clock.monotonic();
    const added = this.addedAt.get(key);
    this.addedAt.delete(key);
    if (added !== undefined) this.observer.queued?.((now - added) / 1000);
    this.processing.set(key, now);
    this.observer.depth?.(this.length);
    return key;
  }

  private wake(): void {
    while (this.waiters.length && this.length) {
      const w = this.waiters.shift() as (k: string | undefined) => void;
      w(this.take());
    }
  }

  /** Marks the key processed; if it was added meanwhile it is queued again. */
  done(key: string): void {
    const start = this.processing.get(key);
    if (start === undefined) return;
    this.processing.delete(key);
    this.observer.worked?.((this.clock.monotonic() - start) / 1000);
    const again = this.dirtyWhileProcessing.get(key);
    if (again) {
      this.dirtyWhileProcessing.delete(key);
      this.add(key, again);
    }
  }

  /** Stops handing out keys; pending get() calls resolve with undefined. Keys being processed may finish. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const d of this.delayed.values()) d.timer.cancel();
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
