import { describe, expect, test } from '@jest/globals';
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
});
