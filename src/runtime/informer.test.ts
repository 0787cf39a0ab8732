// The informer against an in-process fake API server, for faults the real one will not produce on demand:
// 410 Gone on a watch, a failing list, a watch that ends. (The real API server is exercised in e2e.)
import { afterEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { KubeClient, type KubeObject, type ResourceRef } from '../kube/index.js';
import { ReconnectBackoff } from './backoff.js';
import { FakeClock } from './clock.js';
import { Informer } from './informer.js';
import { createLogger } from './logger.js';

const ref: ResourceRef = {
  group: 'ops.smartcloudops.ai',
  version: 'v1alpha1',
  plural: 'drdrills',
  kind: 'DRDrill',
  namespaced: true,
};
const obj = (name: string, rv: string): KubeObject => ({
  metadata: { name, namespace: 'ns', resourceVersion: rv, managedFields: [{ manager: 'x' }] },
});

interface Fake {
  lists: number;
  watches: string[];
  server: http.Server;
  client: KubeClient;
}

type Handler = (kind: 'list' | 'watch', url: URL, res: http.ServerResponse, f: Fake) => void;

let fake: Fake | undefined;
afterEach(async () => {
  fake?.client.close();
  await new Promise((r) => fake?.server.close(r));
  fake = undefined;
});

async function startFake(handler: Handler): Promise<Fake> {
  const f = { lists: 0, watches: [] as string[] } as Fake;
  f.server = http.createServer((req, res) => {
    const url = new URL(req.url as string, 'http://x');
    const watch = url.searchParams.get('watch') === '1';
    if (watch) f.watches.push(url.searchParams.get('resourceVersion') ?? '');
    else f.lists++;
    handler(watch ? 'watch' : 'list', url, res, f);
  });
  await new Promise<void>((r) => f.server.listen(0, '127.0.0.1', r));
  const port = (f.server.address() as { port: number }).port;
  const dir = mkdtempSync(join(os.tmpdir(), 'sco-fake-'));
  writeFileSync(
    join(dir, 'kubeconfig'),
    `apiVersion: v1\nkind: Config\nclusters: [{name: f, cluster: {server: "http://127.0.0.1:${port}"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: f, user: u}}]\ncurrent-context: c\n`,
  );
  f.client = await KubeClient.create({ kubeconfig: join(dir, 'kubeconfig'), qps: 1000, burst: 1000 });
  fake = f;
  return f;
}

const list = (res: http.ServerResponse, rv: string, items: KubeObject[]) =>
  res
    .writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify({ metadata: { resourceVersion: rv }, items }));

function informer(f: Fake) {
  return new Informer({
    client: f.client,
    resource: ref,
    log: createLogger('silent'),
    backoff: new ReconnectBackoff(20, 100),
    resyncMs: 0,
  });
}

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Informer', () => {
  test('lists, drops managedFields, then watches from the list resourceVersion and applies events', async () => {
    const f = await startFake((kind, _url, res) => {
      if (kind === 'list') return list(res, '10', [obj('a', '9')]);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'ADDED', object: obj('b', '11') })}\n`);
      res.write(`${JSON.stringify({ type: 'DELETED', object: obj('a', '12') })}\n`);
      res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '20' } } })}\n`);
      // keep the stream open
    });
    const inf = informer(f);
    const seen: string[] = [];
    inf.addHandlers({
      add: (o) => seen.push(`add ${o.metadata.name}`),
      delete: (o) => seen.push(`delete ${o.metadata.name}`),
    });
    inf.start();
    await inf.waitForSync();
    await until('events', () => seen.length === 3);
    expect(seen).toEqual(['add a', 'add b', 'delete a']);
    expect(f.watches[0]).toBe('10');
    expect(inf.get('ns', 'b')?.metadata.managedFields).toBeUndefined();
    expect(inf.list().map((o) => o.metadata.name)).toEqual(['b']);
    await inf.stop();
  });

  test('410 Gone on the watch relists at once; objects missing from the new list are deleted', async () => {
    const f = await startFake((kind, _url, res, ff) => {
      if (kind === 'list')
        return list(
          res,
          ff.lists === 1 ? '10' : '30',
          ff.lists === 1 ? [obj('a', '9'), obj('b', '9')] : [obj('b', '25')],
        );
      res.writeHead(200, { 'content-type': 'application/json' });
      if (ff.watches.length === 1) {
        res.end(
          `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } })}\n`,
        );
      }
    });
    const inf = informer(f);
    const deleted: string[] = [];
    const updated: string[] = [];
    inf.addHandlers({
      delete: (o) => deleted.push(o.metadata.name as string),
      update: (_a, b) => updated.push(b.metadata.name as string),
    });
    inf.start();
    await until('the relist', () => f.lists === 2 && f.watches.length === 2);
    expect(deleted).toEqual(['a']);
    expect(updated).toEqual(['b']);
    expect(f.watches).toEqual(['10', '30']);
    await inf.stop();
  });

  test('a failing list is retried with backoff, not dropped, and the informer syncs once it succeeds', async () => {
    const f = await startFake((kind, _url, res, ff) => {
      if (kind === 'list' && ff.lists <= 3)
        return res.writeHead(500).end('{"kind":"Status","code":500,"message":"etcd down"}');
      if (kind === 'list') return list(res, '5', [obj('a', '4')]);
      res.writeHead(200); // quiet watch
    });
    const inf = informer(f);
    inf.start();
    await until('a failed list', () => f.lists >= 1 && inf.lastError !== undefined);
    expect(inf.lastError?.message).toContain('500');
    expect(inf.lastError?.message).toContain('etcd down');
    await inf.waitForSync();
    expect(inf.lastError).toBeUndefined();
    expect(f.lists).toBe(4);
    expect(inf.get('ns', 'a')).toBeDefined();
    await inf.stop();
  });

  test('a watch the server ends is re-established from the last resourceVersion without a relist', async () => {
    const f = await startFake((kind, _url, res, ff) => {
      if (kind === 'list') return list(res, '10', []);
      res.writeHead(200, { 'content-type': 'application/json' });
      if (ff.watches.length === 1) res.end(`${JSON.stringify({ type: 'ADDED', object: obj('a', '15') })}\n`);
    });
    const inf = informer(f);
    inf.start();
    await until('the second watch', () => f.watches.length === 2);
    expect(f.lists).toBe(1);
    expect(f.watches).toEqual(['10', '15']);
    await inf.stop();
  });

  test('after a broken watch the informer reconnects with a relist, catching deletions it missed', async () => {
    const f = await startFake((kind, _url, res, ff) => {
      if (kind === 'list')
        return list(
          res,
          ff.lists === 1 ? '10' : '40',
          ff.lists === 1 ? [obj('a', '9'), obj('b', '9')] : [obj('a', '9')],
        );
      res.writeHead(200, { 'content-type': 'application/json' });
      if (ff.watches.length === 1) res.destroy(); // the connection dies mid-stream
    });
    const inf = informer(f);
    const deleted: string[] = [];
    inf.addHandlers({ delete: (o) => deleted.push(o.metadata.name as string) });
    inf.start();
    await until('the relist', () => f.lists === 2 && f.watches.length === 2);
    expect(deleted).toEqual(['b']);
    expect(f.watches).toEqual(['10', '40']);
    await inf.stop();
  });

  test('resyncs are spread over the jittered period in slices, each object once per period', async () => {
    const names = Array.from({ length: 60 }, (_, i) => `o${String(i).padStart(2, '0')}`);
    const f = await startFake((kind, _url, res) => {
      if (kind === 'list')
        return list(
          res,
          '10',
          names.map((n) => obj(n, '9')),
        );
      res.writeHead(200); // quiet watch
    });
    const clock = new FakeClock();
    const mk = (random: number) =>
      new Informer({
        client: f.client,
        resource: ref,
        log: createLogger('silent'),
        resyncMs: 1000,
        resyncSliceMinMs: 100,
        timers: clock,
        random: () => random,
      });
    // The period is drawn in [0.9, 1.1) × resyncMs.
    expect(mk(0).resyncPlan()).toEqual({ periodMs: 900, slices: 9 });
    expect(mk(0.999).resyncPlan()?.periodMs).toBeCloseTo(1099.8, 5);
    const inf = mk(0.5); // period 1000 ms, 10 slices of 100 ms
    const seen: string[] = [];
    inf.addHandlers({ resync: (o) => seen.push(o.metadata.name as string) });
    inf.start();
    await inf.waitForSync();
    await clock.advance(999);
    expect(seen).toEqual([]); // nothing before the first period
    const perSlice: number[] = [];
    for (let i = 0; i < 10; i++) {
      const before = seen.length;
      await clock.advance(i === 0 ? 1 : 100);
      perSlice.push(seen.length - before);
    }
    expect(perSlice).toEqual(Array(10).fill(6)); // 60 objects in 10 slices, not one burst
    expect([...seen].sort()).toEqual(names); // each object exactly once in the cycle
    await clock.advance(1000);
    expect(seen).toHaveLength(120); // and once more in the next period
    await inf.stop();
  });
});
