// Leader election on a fake clock against an in-memory Lease "server" with per-client latency and hangs: a hung
// renew makes the leader stop before a standby could take over, a slow API server, wall-clock jumps. The real API
// server is exercised by test/e2e/leader.test.ts.
import { describe, expect, test } from '@jest/globals';
import { KubeApiError, type RequestOptions } from '../kube/index.js';
import { FakeClock } from './clock.js';
import { LeaderElector, type Lease, type LeaseClient } from './leader.js';
import { createLogger } from './logger.js';

const LEASE_MS = 15_000;
const DEADLINE_MS = 10_000;
const RETRY_MS = 2_000;

/** One Lease with optimistic concurrency. Requests are applied when they arrive and answered after a latency. */
class FakeLeaseServer {
  lease?: Lease;
  rv = 0;
  latency = new Map<string, number>();
  hung = new Set<string>();
  /** Successful writes: who and when (monotonic ms). */
  writes: { who: string; at: number; holder: string }[] = [];

  constructor(readonly clock: FakeClock) {}

  client(who: string): LeaseClient {
    return {
      request: <T>(method: string, path: string, ro: RequestOptions): Promise<T> =>
        new Promise<T>((resolve, reject) => {
          const abort = () => reject(ro.signal?.reason ?? new Error('aborted'));
          if (ro.signal?.aborted) return abort();
          ro.signal?.addEventListener('abort', abort, { once: true });
          if (this.hung.has(who)) return; // never answers; only the abort ends it
          let result: { ok: T } | { err: Error };
          try {
            result = { ok: this.handle(who, method, path, ro.body as Lease) as T };
          } catch (err) {
            result = { err: err as Error };
          }
          const answer = () => ('ok' in result ? resolve(result.ok) : reject(result.err));
          const ms = this.latency.get(who) ?? 0;
          if (ms > 0) this.clock.setTimeout(answer, ms);
          else answer();
        }),
    };
  }

  private handle(who: string, method: string, path: string, body?: Lease): Lease {
    const err = (code: number, reason: string) => new KubeApiError(method, path, code, { code, reason });
    if (method === 'GET') {
      if (!this.lease) throw err(404, 'NotFound');
      return structuredClone(this.lease);
    }
    if (method === 'POST') {
      if (this.lease) throw err(409, 'AlreadyExists');
    } else if (method === 'PUT') {
      if (!this.lease) throw err(404, 'NotFound');
      if (body?.metadata.resourceVersion !== this.lease.metadata.resourceVersion) throw err(409, 'Conflict');
    }
    this.lease = { ...(body as Lease), metadata: { ...(body as Lease).metadata, resourceVersion: String(++this.rv) } };
    this.writes.push({ who, at: this.clock.monotonic(), holder: this.lease.spec?.holderIdentity ?? '' });
    return structuredClone(this.lease);
  }

  lastWriteBy(who: string): number {
    return this.writes.filter((w) => w.who === who).at(-1)?.at ?? NaN;
  }
}

interface Candidate {
  elector: LeaderElector;
  started: number[];
  stopped: number[];
}

function candidate(server: FakeLeaseServer, identity: string): Candidate {
  const c: Candidate = { started: [], stopped: [] } as unknown as Candidate;
  c.elector = new LeaderElector({
    namespace: 'ns',
    name: 'lease',
    identity,
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: DEADLINE_MS,
    retryPeriodMs: RETRY_MS,
    client: server.client(identity),
    log: createLogger('silent'),
    clock: server.clock,
    timers: server.clock,
    random: () => 0.5,
    onStartedLeading: () => c.started.push(server.clock.monotonic()),
    onStoppedLeading: () => c.stopped.push(server.clock.monotonic()),
  });
  return c;
}

/** Advances in small steps so that "when" is known to 100 ms. */
async function advance(clock: FakeClock, ms: number, step = 100): Promise<void> {
  for (let t = 0; t < ms; t += step) await clock.advance(Math.min(step, ms - t));
}

async function leaderAndStandby() {
  const clock = new FakeClock();
  const server = new FakeLeaseServer(clock);
  const a = candidate(server, 'a');
  const b = candidate(server, 'b');
  a.elector.start();
  await advance(clock, 500);
  b.elector.start();
  await advance(clock, 3 * RETRY_MS);
  expect(a.started).toHaveLength(1);
  expect(b.started).toHaveLength(0);
  expect(server.lease?.spec?.holderIdentity).toBe('a');
  return { clock, server, a, b };
}

describe('LeaderElector', () => {
  test('one leader renews every retry period; the standby never takes a live lease', async () => {
    const { clock, server, a, b } = await leaderAndStandby();
    const before = server.writes.length;
    await advance(clock, 10 * LEASE_MS, 500);
    expect(a.stopped).toEqual([]);
    expect(b.started).toEqual([]);
    const renewals = server.writes.length - before;
    expect(renewals).toBeGreaterThanOrEqual((10 * LEASE_MS) / RETRY_MS - 1);
    expect(server.writes.every((w) => w.who === 'a')).toBe(true);
    await a.elector.release();
    await b.elector.release();
  });

  test('a hung renew makes the leader stop leading before a standby could take over', async () => {
    const { clock, server, a, b } = await leaderAndStandby();
    await advance(clock, 1_300);
    server.hung.add('a'); // from now on a's requests are never answered (a half-open connection)
    const lastRenew = server.lastWriteBy('a');
    await advance(clock, 3 * LEASE_MS);

    expect(a.stopped).toHaveLength(1);
    expect(b.started).toHaveLength(1);
    const stoppedAt = a.stopped[0] as number;
    const takenAt = b.started[0] as number;
    // a gave up within its renew deadline of its last successful renewal (which began before it was written) ...
    expect(stoppedAt - lastRenew).toBeLessThanOrEqual(DEADLINE_MS);
    // ... strictly before the lease could expire for anyone else, and b waited out the whole lease.
    expect(stoppedAt).toBeLessThan(lastRenew + LEASE_MS);
    expect(takenAt).toBeGreaterThanOrEqual(lastRenew + LEASE_MS);
    expect(stoppedAt).toBeLessThan(takenAt);
    expect(server.lease?.spec?.holderIdentity).toBe('b');
    expect(server.lease?.spec?.leaseTransitions).toBe(1);
    await b.elector.release();
  });

  test('a slow API server: renewals that finish in time keep the lead; ones that cannot are abandoned in time', async () => {
    const { clock, server, a, b } = await leaderAndStandby();
    // Each request of a takes 20% of the renew deadline (GET + PUT = 40%): a keeps leading.
    server.latency.set('a', 0.2 * DEADLINE_MS);
    await advance(clock, 6 * LEASE_MS, 250);
    expect(a.stopped).toEqual([]);
    expect(b.started).toEqual([]);
    expect(server.writes.at(-1)?.who).toBe('a');

    // Now 60% (GET + PUT = 120% of the deadline): no renewal can finish in time.
    server.latency.set('a', 0.6 * DEADLINE_MS);
    const slowFrom = clock.monotonic();
    await advance(clock, 4 * LEASE_MS, 250);
    expect(a.stopped).toHaveLength(1);
    expect(b.started).toHaveLength(1);
    const lastRenew = server.writes.filter((w) => w.who === 'a' && w.at <= (a.stopped[0] as number)).at(-1)
      ?.at as number;
    expect(lastRenew).toBeLessThanOrEqual(slowFrom + 0.2 * DEADLINE_MS); // (a renewal begun before the change)
    expect((a.stopped[0] as number) - lastRenew).toBeLessThanOrEqual(DEADLINE_MS);
    expect(a.stopped[0] as number).toBeLessThan(b.started[0] as number);
    await b.elector.release();
  });

  test('wall-clock jumps do not shorten or stretch the lease: expiry is measured on the monotonic clock', async () => {
    const { clock, server, a, b } = await leaderAndStandby();
    clock.jumpWall(3600_000); // NTP steps the wall clock an hour forward ...
    await advance(clock, 3 * LEASE_MS, 250);
    clock.jumpWall(-2 * 3600_000); // ... then two hours back
    await advance(clock, 3 * LEASE_MS, 250);
    expect(a.stopped).toEqual([]);
    expect(b.started).toEqual([]);

    // The leader dies (no release); the wall clock jumps forward again at that moment.
    server.hung.add('a');
    const lastRenew = server.lastWriteBy('a');
    clock.jumpWall(24 * 3600_000);
    await advance(clock, LEASE_MS - 1_000);
    expect(b.started).toEqual([]); // a day "passed" on the wall clock, but not the lease
    await advance(clock, 2 * LEASE_MS);
    expect(b.started).toHaveLength(1);
    expect(b.started[0] as number).toBeGreaterThanOrEqual(lastRenew + LEASE_MS);
    await b.elector.release();
  });

  test('release empties the holder, so the standby takes over at its next retry', async () => {
    const { clock, server, a, b } = await leaderAndStandby();
    const releasedAt = clock.monotonic();
    await a.elector.release();
    expect(server.lease?.spec?.holderIdentity).toBe('');
    await advance(clock, 1.5 * RETRY_MS);
    expect(b.started).toHaveLength(1);
    expect((b.started[0] as number) - releasedAt).toBeLessThanOrEqual(1.2 * RETRY_MS + 100);
    expect(a.stopped).toEqual([]); // a released on purpose: not a loss
    await b.elector.release();
  });

  test('release while a renewal hangs aborts it and does not wait for it', async () => {
    const { clock, server, a, b } = await leaderAndStandby();
    await b.elector.release();
    server.hung.add('a');
    await advance(clock, RETRY_MS + 100); // a renewal is in flight and hanging
    let released = false;
    void a.elector.release(1_000).then(() => (released = true));
    await advance(clock, 1_100);
    expect(released).toBe(true);
    expect(server.lease?.spec?.holderIdentity).toBe('a'); // could not release: it will expire
    expect(clock.pending).toBe(0); // no timer left behind
  });
});
