// Time is injected so that schedules, backoff and conditions can be tested without waiting.
export interface Clock {
  now(): Date;
  /** Milliseconds since an arbitrary origin, monotonic. */
  monotonic(): number;
}

export const systemClock: Clock = {
  now: () => new Date(),
  monotonic: () => performance.now(),
};

/** Kubernetes timestamps: RFC 3339 in UTC with second precision (metav1.Time). */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** metav1.MicroTime (Leases): six fractional digits. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
