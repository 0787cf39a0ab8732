// The background HTTP health checker: interval and timeout, enqueue only on a change, forget/stop end the timers.
import { describe, expect, test } from '@jest/globals';
import http from 'node:http';
import type net from 'node:net';
import { FakeClock } from '../../runtime/clock.js';
import { HealthChecker, httpGet, type HttpGet } from './health.js';

describe('HealthChecker', () => {
  test('checks now and every interval; enqueues only when a result changes', async () => {
    const clock = new FakeClock();
    const enqueued: string[] = [];
    let status = 200;
    const urls: string[] = [];
    const get: HttpGet = async (url) => {
      urls.push(url);
      return { status };
    };
    const h = new HealthChecker({ clock, timers: clock, enqueue: (k) => enqueued.push(k), get });
    const targets = [
      { name: 'backend', url: 'http://10.96.0.5:5000/health' },
      { name: 'frontend', reason: 'NoAvailablePods' },
    ];
    const opts = { intervalMs: 10_000, timeoutMs: 1000 };
    const first = h.observe('u1', 'ns/app', targets, opts);
    expect(first.get('frontend')).toMatchObject({ ok: false, reason: 'NoAvailablePods' });
    await clock.advance(1);
    expect(first.get('backend')).toMatchObject({ ok: true, reason: 'Healthy', details: { statusCode: 200 } });
    expect(enqueued).toEqual(['ns/app']);
    // the same targets again: no new check scheduled, no enqueue
    h.observe('u1', 'ns/app', targets, opts);
    await clock.advance(9_000);
    expect(urls).toHaveLength(1);
    await clock.advance(1_000);
    expect(urls).toHaveLength(2);
    expect(enqueued).toHaveLength(1); // unchanged result
    status = 503;
    await clock.advance(10_000);
    expect(h.observe('u1', 'ns/app', targets, opts).get('backend')).toMatchObject({ ok: false, reason: 'HttpStatus' });
    expect(enqueued).toHaveLength(2);
    for (let i = 0; i < 10; i++) await clock.advance(10_000);
    expect(urls).toHaveLength(13);
    expect(enqueued).toHaveLength(2);
    h.forget('u1');
    expect(clock.pending).toBe(0);
    await h.stop();
  });

  test('the real GET: status, timeout, connection refused', async () => {
    const server = http.createServer((req, res) => {
      if (req.url === '/slow') setTimeout(() => res.end('late'), 2000).unref();
      else {
        res.statusCode = req.url === '/health' ? 200 : 503;
        res.end('x');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    try {
      expect(await httpGet(`http://127.0.0.1:${port}/health`, 1000)).toEqual({ status: 200 });
      expect(await httpGet(`http://127.0.0.1:${port}/other`, 1000)).toEqual({ status: 503 });
      const h = new HealthChecker({ clock: new FakeClock(), enqueue: () => undefined });
      const results = h.observe(
        'u',
        'k',
        [
          { name: 'backend', url: `http://127.0.0.1:${port}/slow` },
          { name: 'frontend', url: `http://127.0.0.1:${closedPort}/health` },
        ],
        { intervalMs: 60_000, timeoutMs: 200 },
      );
      const deadline = Date.now() + 5000;
      while (results.size < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(results.get('backend')).toMatchObject({ ok: false, reason: 'Timeout' });
      expect(results.get('frontend')).toMatchObject({ ok: false, reason: 'ConnectionRefused' });
      await h.stop();
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
