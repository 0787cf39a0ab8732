// A controller: a work queue of keys and N workers that run the reconciler, one key at a time per key.
// Outcomes (controller-runtime semantics):
//   returns {}                 → done; the key's backoff is reset
//   returns {requeueAfterMs}   → done; the key comes back after that delay
//   throws TerminalError       → logged and counted; no retry until the object changes
//   throws a 409 Conflict      → retried with backoff, logged at debug (someone else wrote first; benign)
//   throws anything else       → retried with per-key exponential backoff; a non-API exception counts as a panic
// Fair scheduling on one event loop: Go's workers are goroutines the runtime preempts; ours share one thread, and a
// reconcile that never awaits real I/O (a no-op on an unchanged object) would drain a whole resync in microtasks
// while timers, Lease renewals, /healthz and /metrics wait. So workers yield to the event loop (setImmediate, which
// lets timers and I/O callbacks run first) once they have run for `yieldAfterMs` since the last yield — by default
// after every time slice of 5 ms, 0 = after every item.
import { randomUUID } from 'node:crypto';
import { isConflict, KubeApiError, KubeTransportError } from '../kube/index.js';
import { isTerminal } from './errors.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { WorkQueue } from './queue.js';

export interface Request {
  namespace: string;
  name: string;
  key: string;
}

export interface Result {
  requeueAfterMs?: number;
}

export interface ReconcileContext {
  log: Logger;
  reconcileId: string;
}

export type ReconcileFn = (req: Request, ctx: ReconcileContext) => Promise<Result | void>;

export interface ControllerOptions {
  name: string;
  reconcile: ReconcileFn;
  workers: number;
  log: Logger;
  metrics: Metrics;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Time slice after which the workers yield to the event loop (default 5 ms; 0 = after every item). */
  yieldAfterMs?: number;
}

/**
 * Hands the event loop back (timers, sockets, servers) once a time slice is used up. One yielder is shared by a
 * controller's workers: they share the slice, and once it is used up they all wait for the same next turn (a
 * per-worker slice would let N workers run N slices back to back in one check phase).
 */
export class EventLoopYielder {
  private sliceStart = performance.now();
  private turn?: Promise<void>;
  constructor(private readonly sliceMs = 5) {}
  /** Undefined while the slice lasts (no cost); otherwise a promise of the next turn of the event loop. */
  maybeYield(): Promise<void> | undefined {
    if (this.turn) return this.turn;
    if (performance.now() - this.sliceStart < this.sliceMs) return undefined;
    this.turn = new Promise((resolve) =>
      setImmediate(() => {
        this.turn = undefined;
        this.sliceStart = performance.now();
        resolve();
      }),
    );
    return this.turn;
  }
}

export function parseKey(key: string): Request {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key, key } : { namespace: key.slice(0, i), name: key.slice(i + 1), key };
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private workers: Promise<void>[] = [];
  private started = false;
  private readonly yielder: EventLoopYielder;

  constructor(private readonly o: ControllerOptions) {
    this.name = o.name;
    this.yielder = new EventLoopYielder(o.yieldAfterMs ?? 5);
    this.queue = new WorkQueue(o.metrics.queueObserver(o.name), {
      baseMs: o.backoffBaseMs ?? 5,
      maxMs: o.backoffMaxMs ?? 300_000,
    });
    o.metrics.trackQueue(o.name, this.queue);
    o.metrics.maxConcurrent.set({ controller: o.name }, o.workers);
    o.metrics.activeWorkers.set({ controller: o.name }, 0);
    for (const result of ['success', 'error', 'requeue', 'requeue_after']) {
      o.metrics.reconcileTotal.inc({ controller: o.name, result }, 0);
    }
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (let i = 0; i < this.o.workers; i++) this.workers.push(this.worker());
  }

  /**
   * Stops taking keys and waits for reconciles in flight, at most `graceMs`. Resolves true when every worker has
   * stopped, false when some were still running at the end of the grace period.
   */
  async stop(graceMs = 10_000): Promise<boolean> {
    this.queue.shutdown();
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      Promise.all(this.workers).then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs))),
    ]);
    clearTimeout(timer);
    return stopped;
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.process(key);
      await this.yielder.maybeYield();
    }
  }

  private async process(key: string): Promise<void> {
    const { metrics, log: base, name } = this.o;
    const req = parseKey(key);
    const reconcileId = randomUUID();
    // The child logger is built on first use: most reconciles of an idle object never log.
    let child: Logger | undefined;
    const bindings = { controller: name, namespace: req.namespace, name: req.name, reconcileID: reconcileId };
    const ctx: ReconcileContext = {
      reconcileId,
      get log() {
        return (child ??= base.child(bindings));
      },
    };
    metrics.activeWorkers.inc({ controller: name });
    const end = metrics.reconcileTime.startTimer({ controller: name });
    try {
      const res = await this.o.reconcile(req, ctx);
      this.queue.forget(key);
      if (res?.requeueAfterMs && res.requeueAfterMs > 0) {
        metrics.reconcileTotal.inc({ controller: name, result: 'requeue_after' });
        this.queue.addAfter(key, res.requeueAfterMs);
      } else {
        metrics.reconcileTotal.inc({ controller: name, result: 'success' });
      }
    } catch (err) {
      metrics.reconcileTotal.inc({ controller: name, result: 'error' });
      metrics.reconcileErrors.inc({ controller: name });
      if (isTerminal(err)) {
        metrics.terminalErrors.inc({ controller: name });
        this.queue.forget(key);
        ctx.log.info({ err: err.message }, 'terminal error; waiting for the object to change');
      } else if (isConflict(err)) {
        this.queue.addRateLimited(key);
        ctx.log.debug({ err: (err as Error).message }, 'conflict; retrying');
      } else {
        if (!(err instanceof KubeApiError) && !(err instanceof KubeTransportError)) {
          metrics.reconcilePanics.inc({ controller: name });
        }
        const delay = this.queue.addRateLimited(key);
        ctx.log.error(
          {
            err: err instanceof Error ? err.message : String(err),
            stack: err instanceof Error ? err.stack : undefined,
            retryInMs: delay,
          },
          'reconcile failed',
        );
      }
    } finally {
      end();
      metrics.activeWorkers.dec({ controller: name });
      this.queue.done(key);
    }
  }
}
