import { describe, expect, test } from '@jest/globals';
import { FakeClock, MAX_TIMEOUT_MS } from './clock.js';
import { WorkQueue } from './queue.js';

const next = (q: WorkQueue) => q.get();

describe('WorkQueue', () => {
  test('de-duplicates keys that wait', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('a');
    q.add('b');
    expect(q.length).toBe(2);
    expect([await next(q), await next(q)]).toEqual(['a', 'b']);
  });

  test('a key being processed is not handed out again; re-added, it comes back after done()', async () => {
    const q = new WorkQueue();
    q.add('a');
    expect(await next(q)).toBe('a');
    q.add('a');
    expect(q.length).toBe(0);
    q.add('b');
    expect(await next(q)).toBe('b');
    q.done('a');
    expect(await next(q)).toBe('a');
  });

  test('event keys are served before resync keys, and an event promotes a waiting resync key', async () => {
    const q = new WorkQueue();
    q.add('r1', 'low');
    q.add('r2', 'low');
    q.add('e1', 'high');
    q.add('r2', 'high');
    expect([await next(q), await next(q), await next(q)]).toEqual(['e1', 'r2', 'r1']);
  });

  test('a waiting worker is woken by add', async () => {
    const q = new WorkQueue();
    const p = q.get();
    q.add('x');
    expect(await p).toBe('x');
  });

  test('addAfter delays a key and keeps the earliest of two delays', async () => {
    const q = new WorkQueue();
    q.addAfter('k', 200);
    q.addAfter('k', 20);
    const t0 = performance.now();
    expect(await next(q)).toBe('k');
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(15);
    expect(waited).toBeLessThan(190);
  });

  test('addRateLimited backs off exponentially per key until forget()', () => {
    const q = new WorkQueue({}, { baseMs: 10, maxMs: 1000, jitter: 0 });
    expect([q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a')]).toEqual([10, 20, 40]);
    expect(q.addRateLimited('b')).toBe(10);
    expect(q.retries('a')).toBe(3);
    q.forget('a');
    expect(q.addRateLimited('a')).toBe(10);
    for (let i = 0; i < 20; i++) q.addRateLimited('c');
    expect(q.addRateLimited('c')).toBe(1000);
    q.shutdown();
  });

  test('shutdown releases waiting workers and refuses new keys', async () => {
    const q = new WorkQueue();
    const p = q.get();
    q.shutdown();
    expect(await p).toBeUndefined();
    q.add('late');
    expect(q.length).toBe(0);
  });

  test('reports depth, adds and latencies to its observer', async () => {
    const seen = { depth: [] as number[], added: 0, queued: 0, worked: 0 };
    const q = new WorkQueue({
      depth: (d) => seen.depth.push(d),
      added: () => seen.added++,
      queued: () => seen.queued++,
      worked: () => seen.worked++,
    });
    q.add('a');
    q.add('a');
    const k = await next(q);
    q.done(k as string);
    expect(seen).toEqual({ depth: [1, 0], added: 1, queued: 1, worked: 1 });
  });

  test('addAfter longer than 2^31-1 ms is re-armed until due, not fired after 1 ms', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({}, undefined, clock, clock);
    const day = 24 * 3600_000;
    q.addAfter('far', 60 * day); // ~2.4 × the timer limit
    q.addAfter('near', 1000);
    await clock.advance(1000);
    expect(q.length).toBe(1);
    expect(await next(q)).toBe('near');
    await clock.advance(MAX_TIMEOUT_MS); // first link of the chain fires: not due yet, re-armed
    expect(q.length).toBe(0);
    expect(q.delayedCount).toBe(1);
    await clock.advance(MAX_TIMEOUT_MS);
    expect(q.length).toBe(0);
    await clock.advance(60 * day - 2 * MAX_TIMEOUT_MS - 1001);
    expect(q.length).toBe(0);
    await clock.advance(1);
    expect(q.length).toBe(1);
    expect(await next(q)).toBe('far');
    expect(clock.pending).toBe(0);
  });

  test('a long addAfter on the real timers does not fire early and is cancelled by shutdown', async () => {
    const q = new WorkQueue();
    q.addAfter('far', 2 ** 31 + 5); // Node alone would fire this after 1 ms
    await new Promise((r) => setTimeout(r, 50));
    expect(q.length).toBe(0);
    expect(q.delayedCount).toBe(1);
    q.shutdown();
    expect(q.delayedCount).toBe(0);
  });
});
