// The stand-in app against the real PostgreSQL and Redis, configured the way a pod's secretKeyRef env configures it:
// /health is 200 only while both answer, 503 naming the one that does not (a wrong password, a connection cut by
// a proxy that stops), and 200 again once it is back.
import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import net from 'node:net';
import { postgresEnv, redisEnv } from '../support/env.js';
import { bundleOnce, startStandIn, type RunningStandIn } from '../support/standin.js';

jest.setTimeout(60_000);
let bundle: { file: string; cleanup: () => void };
const running: RunningStandIn[] = [];
beforeAll(async () => {
  bundle = await bundleOnce();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});
afterAll(() => bundle.cleanup());

const start = async (env: Record<string, string>) => {
  const s = await startStandIn(bundle.file, env);
  running.push(s);
  return s;
};

function pgEnv(): Record<string, string> {
  const p = postgresEnv();
  return { PGHOST: p.host, PGPORT: String(p.port), PGUSER: p.user, PGPASSWORD: p.password, PGDATABASE: p.database };
}
function redisVars(): Record<string, string> {
  const r = redisEnv();
  return { REDIS_HOST: r.host, REDIS_PORT: String(r.port), REDIS_PASSWORD: r.password };
}

async function health(s: RunningStandIn): Promise<{ status: number; checks: Record<string, string> }> {
  const res = await fetch(`${s.url}/health`);
  const body = (await res.json()) as { checks: Record<string, string> };
  return { status: res.status, checks: body.checks };
}

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await fn();
  while (!ok(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    last = await fn();
  }
  return last;
}

/** A loopback TCP proxy that can be cut (every connection destroyed, the port closed) and restored on its port. */
class Proxy {
  private server?: net.Server;
  private sockets = new Set<net.Socket>();
  port = 0;
  constructor(private readonly target: { host: string; port: number }) {}
  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', () => r()));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }
  async cut(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

describe('stand-in with PostgreSQL and Redis', () => {
  test('healthy when both answer with the credentials from the environment', async () => {
    const s = await start({ STANDIN_VERSION: '1.0.0', ...pgEnv(), ...redisVars() });
    const h = await eventually(
      () => health(s),
      (x) => x.status === 200,
    );
    expect(h).toEqual({ status: 200, checks: { database: 'ok', cache: 'ok' } });
  });

  test('a connection URL works as well as discrete variables', async () => {
    const p = postgresEnv();
    const r = redisEnv();
    const s = await start({
      DATABASE_URL: `postgres://${p.user}:${encodeURIComponent(p.password)}@${p.host}:${p.port}/${p.database}`,
      REDIS_URL: `redis://:${encodeURIComponent(r.password)}@${r.host}:${r.port}/0`,
    });
    expect(
      (
        await eventually(
          () => health(s),
          (x) => x.status === 200,
        )
      ).checks,
    ).toEqual({ database: 'ok', cache: 'ok' });
  });

  test('a wrong database password makes /health fail and say why', async () => {
    const s = await start({ ...pgEnv(), PGPASSWORD: 'wrong-password', ...redisVars() });
    // Redis connects in the background after start: wait until its check settles, then judge the database's.
    const h = await eventually(
      () => health(s),
      (x) => x.checks.cache === 'ok',
    );
    expect(h.status).toBe(503);
    expect(h.checks.database).toMatch(/password authentication failed/);
    expect(h.checks.cache).toBe('ok');
  });

  test('unreachable dependencies fail /health; it recovers when they return', async () => {
    const pgProxy = new Proxy(postgresEnv());
    const redisProxy = new Proxy(redisEnv());
    await pgProxy.open();
    await redisProxy.open();
    try {
      const s = await start({
        ...pgEnv(),
        PGHOST: '127.0.0.1',
        PGPORT: String(pgProxy.port),
        ...redisVars(),
        REDIS_HOST: '127.0.0.1',
        REDIS_PORT: String(redisProxy.port),
      });
      expect(
        (
          await eventually(
            () => health(s),
            (x) => x.status === 200,
          )
        ).status,
      ).toBe(200);

      await redisProxy.cut();
      const noCache = await eventually(
        () => health(s),
        (x) => x.status === 503,
      );
      expect(noCache.status).toBe(503);
      expect(noCache.checks.cache).not.toBe('ok');
      expect(noCache.checks.database).toBe('ok');

      await pgProxy.cut();
      const noDb = await eventually(
        () => health(s),
        (x) => x.checks.database !== 'ok',
      );
      expect(noDb.status).toBe(503);
      expect(noDb.checks.database).toMatch(/ECONNREFUSED|timeout|terminated|Connection/i);

      await pgProxy.open();
      await redisProxy.open();
      const back = await eventually(
        () => health(s),
        (x) => x.status === 200,
      );
      expect(back).toEqual({ status: 200, checks: { database: 'ok', cache: 'ok' } });
    } finally {
      await pgProxy.cut();
      await redisProxy.cut();
    }
  });
});
