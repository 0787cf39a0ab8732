// Per-key exponential backoff (client-go's ItemExponentialFailureRateLimiter): base·2^failures, capped, with jitter.

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Fraction of the delay added at random (0.1 = up to +10%), so that many failing keys do not retry in lockstep. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 5, maxMs: 300_000, jitter: 0.1 };

export class KeyBackoff {
  private readonly failures = new Map<string, number>();
  constructor(
    private readonly opts: BackoffOptions = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {}

  /** Records a failure of `key` and returns how long to wait before retrying it. */
  next(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const raw = Math.min(this.opts.maxMs, this.opts.baseMs * 2 ** n);
    return Math.round(raw * (1 + this.opts.jitter * this.random()));
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }
}

/** A delay for reconnect loops (informers, leader election): 1s → max, reset by success. */
export class ReconnectBackoff {
  private attempt = 0;
  constructor(
    private readonly baseMs = 1000,
    private readonly maxMs = 60_000,
    private readonly random: () => number = Math.random,
  ) {}
  next(): number {
    const raw = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt++);
    // Full jitter in the upper half: between raw/2 and raw.
    return Math.round(raw / 2 + (raw / 2) * this.random());
  }
  reset(): void {
    this.attempt = 0;
  }
  get attempts(): number {
    return this.attempt;
  }
}
