// Time is injected so that schedules, backoff, conditions and leader election can be tested without waiting.
// - `Clock` reads time: wall time (`now`, for timestamps written to objects) and a monotonic clock (`monotonic`, for
//   every duration we measure ourselves — lease expiry, backoff, latency — so that a wall-clock jump, NTP step or
//   suspend does not shorten or stretch them; client-go's leader election uses Go's monotonic time the same way).
// - `Timers` schedules callbacks. Node's setTimeout fires after 1 ms when asked for more than 2^31−1 ms (~24.8 days,
//   with a TimeoutOverflowWarning); `setLongTimeout` re-arms a chain of shorter timers instead.
// - `FakeClock` implements both for tests: time moves only through `advance()`, which fires due timers in order and
//   lets the promise callbacks they trigger run before moving on.
export interface Clock {
  now(): Date;
  /** Milliseconds since an arbitrary origin, monotonic. */
  monotonic(): number;
}

export const systemClock: Clock = {
  now: () => new Date(),
  monotonic: () => performance.now(),
};

/** An opaque timer handle. */
export type TimerHandle = { unref?(): unknown } | number | object;

export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout | undefined),
};

/** The longest delay Node's setTimeout honours (2^31−1 ms); longer ones fire after 1 ms. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Runs `fn` once `ms` have passed on `clock`'s monotonic time, also for delays longer than MAX_TIMEOUT_MS: the
 * timer is re-armed with what is left until the deadline. Timers are unref'd (they never keep the process alive).
 */
export function setLongTimeout(
  fn: () => void,
  ms: number,
  clock: Clock = systemClock,
  timers: Timers = systemTimers,
): { cancel(): void } {
  const at = clock.monotonic() + ms;
  let handle: TimerHandle | undefined;
  let cancelled = false;
  const arm = (delay: number) => {
    handle = timers.setTimeout(
      () => {
        if (cancelled) return;
        const left = at - clock.monotonic();
        if (left > 0) arm(left);
        else fn();
      },
      Math.min(Math.max(delay, 0), MAX_TIMEOUT_MS),
    );
    if (typeof handle === 'object' && 'unref' in handle) handle.unref?.();
  };
  arm(ms);
  return {
    cancel: () => {
      cancelled = true;
      timers.clearTimeout(handle);
    },
  };
}

/** Kubernetes timestamps: RFC 3339 in UTC with second precision (metav1.Time). */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** metav1.MicroTime (Leases): six fractional digits. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock and timers for tests. `advance(ms)` moves monotonic and wall time together, firing due timers in order;
 * `jumpWall(ms)` moves only the wall clock (an NTP step). Like Node, a delay above MAX_TIMEOUT_MS fires after 1 ms,
 * so code that forgets to chain long timers fails its tests here too.
 */
export class FakeClock implements Clock, Timers {
  private mono = 0;
  private wallOffset: number;
  private seq = 0;
  private timers: FakeTimer[] = [];

  constructor(start = new Date('2026-01-01T00:00:00Z')) {
    this.wallOffset = start.getTime();
  }

  now(): Date {
    return new Date(this.wallOffset + this.mono);
  }

  monotonic(): number {
    return this.mono;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const delay = ms > MAX_TIMEOUT_MS || !(ms >= 1) ? 1 : ms;
    const t = { id: ++this.seq, at: this.mono + delay, fn };
    this.timers.push(t);
    return { id: t.id };
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (!handle || typeof handle !== 'object' || !('id' in handle)) return;
    const id = (handle as { id: number }).id;
    this.timers = this.timers.filter((t) => t.id !== id);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves the wall clock only (monotonic time and timers are unaffected). */
  jumpWall(ms: number): void {
    this.wallOffset += ms;
  }

  /** Moves time forward by `ms`, firing due timers in order and settling promise callbacks after each one. */
  async advance(ms: number): Promise<void> {
    const target = this.mono + ms;
    await settle();
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > target) break;
      this.timers.shift();
      this.mono = Math.max(this.mono, next.at);
      next.fn();
      await settle();
    }
    this.mono = target;
    await settle();
  }
}

/** Lets pending promise callbacks (and what they schedule, including setImmediate yields) run: a few real turns. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}
