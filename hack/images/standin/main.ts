// Entry point of the stand-in image (bundled into one file by bundle.ts): reads its behaviour from the environment,
// crashes at start when told to, connects to PostgreSQL and Redis when configured, serves until SIGTERM/SIGINT.
import { Redis } from 'ioredis';
import pg from 'pg';
import { BehaviourError, parseBehaviour, type Behaviour } from './behaviour.js';
import { startStandIn, type Check } from './server.js';

const log = (msg: string, extra: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ time: new Date().toISOString(), msg, ...extra }));

function dependencies(b: Behaviour): { checks: Check[]; close: () => Promise<void> } {
  const checks: Check[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  if (b.postgres) {
    const pool = new pg.Pool({ ...b.postgres, max: 2, connectionTimeoutMillis: 2_000, idleTimeoutMillis: 10_000 });
    pool.on('error', (err) => log('postgres connection error', { error: err.message }));
    checks.push({
      name: 'database',
      check: async () => {
        await pool.query('SELECT 1');
      },
    });
    closers.push(() => pool.end());
  }
  if (b.redis) {
    const common = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
      retryStrategy: (n: number) => Math.min(n * 200, 2_000),
    };
    const redis = b.redis.url
      ? new Redis(b.redis.url, common)
      : new Redis({ ...common, host: b.redis.host, port: b.redis.port, password: b.redis.password });
    let lastError = '';
    redis.on('error', (err: Error) => {
      if (err.message !== lastError) log('redis connection error', { error: err.message });
      lastError = err.message;
    });
    redis.connect().catch(() => undefined);
    checks.push({
      name: 'cache',
      check: async () => {
        if (redis.status !== 'ready') throw new Error(`redis ${redis.status}${lastError ? `: ${lastError}` : ''}`);
        const pong = await Promise.race([
          redis.ping(),
          new Promise<never>((_, rej) => setTimeout(() => rej(new Error('redis ping timed out')), 2_000).unref()),
        ]);
        if (pong !== 'PONG') throw new Error(`redis answered ${pong}`);
      },
    });
    closers.push(() => redis.quit().catch(() => redis.disconnect()));
  }
  return { checks, close: async () => void (await Promise.allSettled(closers.map((c) => c()))) };
}

async function main(): Promise<void> {
  let b: Behaviour;
  try {
    b = parseBehaviour(process.env);
  } catch (err) {
    if (!(err instanceof BehaviourError)) throw err;
    console.error(`standin: ${err.message}`);
    process.exit(2);
  }
  if (b.mode === 'crash') {
    console.error(`standin ${b.version}: crashing at start (mode crash)`);
    process.exit(1);
  }
  const deps = dependencies(b);
  const server = await startStandIn(b, deps.checks);
  const stop = (signal: string) => {
    log('stopping', { signal });
    void Promise.all([server.close(), deps.close()]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 5_000).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  log('listening', {
    version: b.version,
    role: b.role,
    mode: b.mode,
    port: server.ports.http[0],
    ports: server.ports.http,
    tlsPort: server.ports.https,
    errorRate: b.errorRate,
    delayMs: b.delayMs,
    burnMs: b.burnMs,
    database: !!b.postgres,
    cache: !!b.redis,
  });
}

main().catch((err: unknown) => {
  console.error('standin: failed to start:', err);
  process.exit(1);
});
