// Thin I/O of the dependency checks: one connection to PostgreSQL (node-postgres Client) and one to Redis (ioredis),
// opened lazily, reused across checks and closed when broken, when the settings change, or when the app is forgotten.
// No pools, no driver-side retries or reconnects (ioredis' retryStrategy and offline queue off, like a readiness probe
// in kubelet: one attempt per period, the verdict is the attempt's); the runner bounds every call with its own
// timeout on the injected timers and destroys the connection of a call that timed out. The drivers' own timeouts
// (connect, command) are set to the same value as a second line, on real timers. Nothing here logs: errors go back
// to the runner, which builds its messages without secret values.
import pg from 'pg';
import { Redis } from 'ioredis';
import type { PostgresSettings, RedisSettings } from './dependencies-config.js';

export interface PgSession {
  query<R extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** The connection failed (an 'error' or 'end' from the driver): do not reuse it. */
  readonly broken: boolean;
  /** Ends the connection (at once: a socket that hangs is destroyed). */
  close(): void;
}

export interface RedisSession {
  call(command: string, ...args: string[]): Promise<unknown>;
  readonly broken: boolean;
  close(): void;
}

export interface Connectors {
  postgres(s: PostgresSettings, timeoutMs: number): Promise<PgSession>;
  redis(s: RedisSettings, timeoutMs: number): Promise<RedisSession>;
}

const APPLICATION_NAME = 'smartcloudops-operator';

async function pgConnect(s: PostgresSettings, timeoutMs: number): Promise<PgSession> {
  const client = new pg.Client({
    host: s.host,
    port: s.port,
    user: s.user,
    password: s.password,
    database: s.database,
    application_name: APPLICATION_NAME,
    connectionTimeoutMillis: Math.max(1, timeoutMs),
    query_timeout: Math.max(1, timeoutMs),
    keepAlive: true,
  });
  let broken = false;
  client.on('error', () => void (broken = true));
  client.on('end', () => void (broken = true));
  const close = () => {
    broken = true;
    const stream = (client as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream;
    client.end().catch(() => undefined);
    stream?.destroy?.();
  };
  try {
    await client.connect();
  } catch (err) {
    close();
    throw err;
  }
  return {
    query: async <R extends Record<string, unknown>>(sql: string, params?: unknown[]) =>
      (await client.query<R>(sql, params)).rows,
    get broken() {
      return broken;
    },
    close,
  };
}

async function redisConnect(s: RedisSettings, timeoutMs: number): Promise<RedisSession> {
  const redis = new Redis({
    host: s.host,
    port: s.port,
    ...(s.username ? { username: s.username } : {}),
    ...(s.password ? { password: s.password } : {}),
    ...(s.tls ? { tls: { servername: s.host } } : {}),
    db: s.db,
    connectionName: APPLICATION_NAME,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    reconnectOnError: () => false,
    connectTimeout: Math.max(1, timeoutMs),
    commandTimeout: Math.max(1, timeoutMs),
  });
  let broken = false;
  // ioredis reports the cause (ECONNREFUSED, WRONGPASS) as an 'error' event and then fails the pending call with a
  // generic "Connection is closed": the cause is what the check reports.
  let cause: unknown;
  redis.on('error', (err: unknown) => {
    cause ??= err;
    broken = true;
  });
  redis.on('end', () => void (broken = true));
  const close = () => {
    broken = true;
    redis.disconnect(false);
  };
  try {
    await redis.connect();
  } catch (err) {
    close();
    throw cause ?? err;
  }
  return {
    call: async (command, ...args) => {
      try {
        return await redis.call(command, ...args);
      } catch (err) {
        throw cause ?? err;
      }
    },
    get broken() {
      return broken;
    },
    close,
  };
}

export const realConnectors: Connectors = { postgres: pgConnect, redis: redisConnect };
