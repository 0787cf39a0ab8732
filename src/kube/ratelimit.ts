// A token bucket like client-go's flowcontrol: `qps` tokens per second, up to `burst` saved. take() resolves when a
// token is available and reports how long the caller waited (for rest_client_rate_limiter_duration_seconds).
import { setTimeout as sleep } from 'node:timers/promises';

export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly qps: number;
  private readonly burst: number;
  private readonly now: () => number;

  constructor(qps: number, burst: number, now: () => number = () => performance.now()) {
    if (!(qps > 0) || !(burst >= 1)) throw new Error(`invalid rate limit qps=${qps} burst=${burst}`);
    this.qps = qps;
    this.burst = burst;
    this.tokens = burst;
    this.now = now;
    this.last = now();
  }

  /** Reserves a token now; returns the milliseconds until it may be used (0 when available). */
  reserve(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.qps);
    this.last = t;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  async take(): Promise<number> {
    const wait = this.reserve();
    if (wait > 0) await sleep(wait);
    return wait;
  }
}
