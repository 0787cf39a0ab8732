// HTTP health checks of the components, as the runbook's `curl -f .../health`: a GET of each component's health
// path through its Service (http://<ClusterIP>:<port><path>), with a timeout, every `interval`, in the background.
// Like controller-runtime's source.Channel, the runner enqueues the app (deps.enqueue) only when a result changes
// (ok, reason or status code), never on every check, so a steady app causes no reconciles; reconciles read the
// latest results from memory (`observe`), never wait for a request.
// Reaching ClusterIPs: in the cluster, kube-proxy on the operator's node routes them; outside (development, the
// e2e suite on this machine) the real node's kube-proxy programs the same rules on this host, so ClusterIPs of
// Services backed by real-node pods answer here. A check is skipped (NoAvailablePods) while a component has no
// available pod, so nothing is sent to a Service without endpoints.
import type { Clock, Timers } from '../../runtime/clock.js';
import { rfc3339, setLongTimeout } from '../../runtime/clock.js';
import type { CheckResult } from './contracts.js';

export interface HealthTarget {
  /** backend or frontend. */
  name: string;
  /** undefined: nothing to check now (no Service address yet, or no available pod); `reason` says why. */
  url?: string;
  reason?: string;
}

export interface HealthOptions {
  intervalMs: number;
  timeoutMs: number;
}

export type HttpGet = (url: string, timeoutMs: number) => Promise<{ status: number }>;

/** The real GET: no redirects followed, body discarded, bounded by the timeout. */
export const httpGet: HttpGet = async (url, timeoutMs) => {
  const res = await fetch(url, {
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'manual',
    headers: { 'user-agent': 'smartcloudops-operator' },
  });
  await res.body?.cancel();
  return { status: res.status };
};

interface AppChecks {
  key: string;
  targets: HealthTarget[];
  opts: HealthOptions;
  results: Map<string, CheckResult>;
  timer?: { cancel(): void };
  running: boolean;
}

function classify(err: unknown, timeoutMs: number): { reason: string; message: string } {
  const e = err as { name?: string; cause?: { code?: string; message?: string }; message?: string };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError')
    return { reason: 'Timeout', message: `no answer within ${timeoutMs} ms` };
  const code = e?.cause?.code;
  if (code === 'ECONNREFUSED') return { reason: 'ConnectionRefused', message: 'connection refused' };
  if (code === 'ECONNRESET') return { reason: 'ConnectionReset', message: 'connection reset' };
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH')
    return { reason: 'Unreachable', message: `unreachable (${code})` };
  return { reason: 'RequestFailed', message: (e?.cause?.message ?? e?.message ?? String(err)).slice(0, 200) };
}

const same = (a: CheckResult | undefined, b: CheckResult) =>
  !!a && a.ok === b.ok && a.reason === b.reason && a.details?.statusCode === b.details?.statusCode;

export class HealthChecker {
  private readonly apps = new Map<string, AppChecks>();
  private stopped = false;

  constructor(
    private readonly deps: {
      clock: Clock;
      timers?: Timers;
      enqueue(key: string): void;
      get?: HttpGet;
      /** How many requests may be in flight at once, over all apps. */
      maxInFlight?: number;
    },
  ) {}

  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  /** Starts or updates the checks of one app (cheap, idempotent) and returns the latest results by component. */
  observe(uid: string, key: string, targets: HealthTarget[], opts: HealthOptions): Map<string, CheckResult> {
    let a = this.apps.get(uid);
    const changed =
      !a ||
      JSON.stringify(a.targets) !== JSON.stringify(targets) ||
      a.opts.intervalMs !== opts.intervalMs ||
      a.opts.timeoutMs !== opts.timeoutMs;
    if (!a) {
      a = { key, targets, opts, results: new Map(), running: false };
      this.apps.set(uid, a);
    }
    a.key = key;
    if (changed) {
      a.targets = targets;
      a.opts = opts;
      // Targets without an address get their result at once; the others are checked now and then every interval.
      for (const t of targets) if (!t.url) a.results.set(t.name, this.skipped(t));
      for (const name of [...a.results.keys()]) if (!targets.some((t) => t.name === name)) a.results.delete(name);
      this.schedule(uid, 0);
    }
    return a.results;
  }

  forget(uid: string): void {
    this.apps.get(uid)?.timer?.cancel();
    this.apps.delete(uid);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const uid of [...this.apps.keys()]) this.forget(uid);
  }

  get size(): number {
    return this.apps.size;
  }

  private skipped(t: HealthTarget): CheckResult {
    return {
      name: t.name,
      kind: 'http',
      ok: false,
      reason: t.reason ?? 'NotReachable',
      message: t.reason === 'NoAvailablePods' ? 'no available pod to check' : 'no Service address yet',
      checkedAt: rfc3339(this.deps.clock.now()),
    };
  }

  private schedule(uid: string, delayMs: number): void {
    const a = this.apps.get(uid);
    if (!a || this.stopped) return;
    a.timer?.cancel();
    a.timer = setLongTimeout(() => void this.run(uid), delayMs, this.deps.clock, this.deps.timers);
  }

  private async slot(): Promise<() => void> {
    const max = this.deps.maxInFlight ?? 32;
    if (this.inFlight >= max) await new Promise<void>((r) => this.waiting.push(r));
    this.inFlight++;
    return () => {
      this.inFlight--;
      this.waiting.shift()?.();
    };
  }

  private async run(uid: string): Promise<void> {
    const a = this.apps.get(uid);
    if (!a || a.running || this.stopped) return;
    a.running = true;
    const targets = a.targets;
    let changed = false;
    try {
      await Promise.all(
        targets.map(async (t) => {
          const r = t.url ? await this.check(t.name, t.url, a.opts.timeoutMs) : this.skipped(t);
          if (this.apps.get(uid) !== a || a.targets !== targets) return; // forgotten or re-targeted meanwhile
          const prev = a.results.get(t.name);
          if (!same(prev, r)) changed = true;
          // Consecutive failures (a single refused connection right after a rollout is not a failing component).
          if (!r.ok && t.url) {
            const streak =
              prev && !prev.ok && prev.details?.consecutiveFailures !== undefined
                ? Number(prev.details.consecutiveFailures)
                : 0;
            r.details = { ...r.details, consecutiveFailures: streak + 1 };
          }
          a.results.set(t.name, r);
        }),
      );
    } finally {
      a.running = false;
    }
    if (this.apps.get(uid) !== a) return;
    if (changed) this.deps.enqueue(a.key);
    // Re-targeted while running: check the new targets at once; otherwise again after the interval.
    this.schedule(uid, a.targets === targets ? a.opts.intervalMs : 0);
  }

  private async check(name: string, url: string, timeoutMs: number): Promise<CheckResult> {
    const release = await this.slot();
    const start = this.deps.clock.monotonic();
    try {
      const { status } = await (this.deps.get ?? httpGet)(url, timeoutMs);
      const latencyMs = Math.round(this.deps.clock.monotonic() - start);
      const ok = status >= 200 && status < 400;
      return {
        name,
        kind: 'http',
        ok,
        reason: ok ? 'Healthy' : 'HttpStatus',
        message: `GET ${new URL(url).pathname} answered ${status}`,
        checkedAt: rfc3339(this.deps.clock.now()),
        latencyMs,
        details: { statusCode: status },
      };
    } catch (err) {
      const { reason, message } = classify(err, timeoutMs);
      return {
        name,
        kind: 'http',
        ok: false,
        reason,
        message: `GET ${new URL(url).pathname}: ${message}`,
        checkedAt: rfc3339(this.deps.clock.now()),
      };
    } finally {
      release();
    }
  }
}
