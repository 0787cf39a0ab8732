// The health and metrics listeners bind dual-stack: `:port` answers on 127.0.0.1 and ::1 alike (IPv6-only clusters),
// falling back to 0.0.0.0 only where the kernel has no IPv6; an explicit address is used as given.
import { afterEach, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import net from 'node:net';
import type { KubeClient } from '../kube/index.js';
import { createLogger } from './logger.js';
import { listenDualStack, Manager, parseAddr } from './manager.js';
import { Metrics } from './metrics.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

function manager(healthAddr: string, metricsAddr: string): Manager {
  const m = new Manager({
    client: {} as KubeClient, // no informers, no leader election: the client is never used
    log: createLogger('silent'),
    metrics: new Metrics({ defaultMetrics: false }),
    namespaces: [],
    concurrency: 1,
    healthAddr,
    metricsAddr,
    identity: 'listen-test',
    leaderElection: {
      enabled: false,
      namespace: 'x',
      name: 'x',
      identity: 'x',
      leaseDurationMs: 3,
      renewDeadlineMs: 2,
      retryPeriodMs: 1,
    },
  });
  cleanup.push(() => m.stop(10));
  return m;
}

const get = (host: string, port: number, path: string) =>
  new Promise<number>((resolve, reject) => {
    http
      .get({ host, port, path, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });

describe('listeners', () => {
  test('parseAddr: an empty host means every address', () => {
    expect(parseAddr(':8080')).toEqual({ host: '', port: 8080 });
    expect(parseAddr('[::1]:9')).toEqual({ host: '::1', port: 9 });
    expect(parseAddr('0.0.0.0:8081')).toEqual({ host: '0.0.0.0', port: 8081 });
    expect(() => parseAddr('8080')).toThrow('invalid address "8080"');
    expect(() => parseAddr('host:')).toThrow('invalid address');
  });

  test(':port listens on :: with IPv4 mapped: 127.0.0.1 and ::1 both answer', async () => {
    const m = manager(':0', ':0');
    await m.start(() => undefined);
    const { health, metrics } = await m.addresses();
    expect(health).toMatchObject({ address: '::', family: 'IPv6' });
    expect(metrics).toMatchObject({ address: '::', family: 'IPv6' });
    for (const host of ['127.0.0.1', '::1']) {
      expect(await get(host, health?.port as number, '/healthz')).toBe(200);
      expect(await get(host, metrics?.port as number, '/metrics')).toBe(200);
    }
  });

  test('an explicit address is used as given', async () => {
    const m = manager('127.0.0.1:0', '0');
    await m.start(() => undefined);
    const { health, metrics } = await m.addresses();
    expect(metrics).toBeUndefined();
    expect(health).toMatchObject({ address: '127.0.0.1' });
    await expect(get('::1', health?.port as number, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });

  test('without IPv6 in the kernel it falls back to 0.0.0.0', async () => {
    // A server whose IPv6 listen fails as on a kernel booted with ipv6.disable=1.
    const srv = new (class extends net.Server {
      override listen(...args: unknown[]): this {
        const o = args[0] as net.ListenOptions;
        if (o.host === '::') {
          process.nextTick(() =>
            this.emit('error', Object.assign(new Error('listen EAFNOSUPPORT'), { code: 'EAFNOSUPPORT' })),
          );
          return this;
        }
        return super.listen(o);
      }
    })((s) => s.end('ok'));
    cleanup.push(() => new Promise((r) => srv.close(r)));
    const a = await listenDualStack(srv, '', 0);
    expect(a).toMatchObject({ address: '0.0.0.0', family: 'IPv4' });
    // Any other error is not mistaken for a missing IPv6.
    const taken = net.createServer();
    cleanup.push(() => new Promise((r) => taken.close(r)));
    await expect(listenDualStack(taken, '', a.port)).rejects.toThrow(/EADDRINUSE/);
  });
});
