// What the stand-in app does, decided from its environment only (pure). One image serves as the backend and as the
// frontend: it listens on 5000 and 3000 (PORT, or PORTS=a,b, to change that) and answers both health paths (/health
// and /api/health); STANDIN_ROLE only labels it. The image carries STANDIN_VERSION (its tag); the version's
// pre-release names a behaviour, and each behaviour can also be set or tuned through the environment, which wins
// over the version:
//   1.0.0, 1.1.0, …         healthy
//   <v>-crash               exits with status 1 at start                       STANDIN_MODE=crash
//   <v>-notready            runs, but its health endpoint always answers 503   STANDIN_MODE=notready
//   <v>-errors              answers 5xx to a share of requests (default 0.5)  STANDIN_ERROR_RATE=0..1
//   <v>-slow                answers every request after a delay (800 ms)      STANDIN_DELAY_MS=<ms>
//   any                     burns CPU for each request                         STANDIN_BURN_MS=<ms>; GET /burn?ms=
// Health checks PostgreSQL (DATABASE_URL, or PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE) and Redis (REDIS_URL, or
// REDIS_HOST/REDIS_PORT/REDIS_PASSWORD) when configured, as the real backend's /health does. TLS_CERT_FILE and
// TLS_KEY_FILE (or TLS_DIR with tls.crt/tls.key) add an HTTPS listener on TLS_PORT (default 8443) that keeps the
// certificate it read at start until the process restarts.

export type Mode = 'healthy' | 'crash' | 'notready';
export type Role = 'backend' | 'frontend' | 'app';

export interface PostgresConfig {
  connectionString?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
}

export interface RedisConfig {
  url?: string;
  host?: string;
  port?: number;
  password?: string;
}

export interface Behaviour {
  version: string;
  role: Role;
  ports: number[];
  mode: Mode;
  errorRate: number;
  delayMs: number;
  burnMs: number;
  postgres?: PostgresConfig;
  redis?: RedisConfig;
  tls?: { certFile: string; keyFile: string; port: number };
}

export class BehaviourError extends Error {}

type Env = Record<string, string | undefined>;

function num(env: Env, key: string, fallback: number, min: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new BehaviourError(`${key}: "${raw}" must be a number from ${min} to ${max}`);
  }
  return n;
}

/** Behaviour named by a version's pre-release part: '1.1.0-errors' → errors. */
export function versionTraits(version: string): { mode: Mode; errorRate: number; delayMs: number } {
  const pre = /^[0-9]+\.[0-9]+\.[0-9]+(?:-([0-9A-Za-z.-]+))?$/.exec(version)?.[1] ?? '';
  const words = new Set(pre.split('.').flatMap((p) => p.split('-')));
  return {
    mode: words.has('crash') ? 'crash' : words.has('notready') ? 'notready' : 'healthy',
    errorRate: words.has('errors') ? 0.5 : 0,
    delayMs: words.has('slow') ? 800 : 0,
  };
}

export function parseBehaviour(env: Env): Behaviour {
  const version = env.STANDIN_VERSION || '0.0.0-dev';
  const traits = versionTraits(version);
  const roleRaw = env.STANDIN_ROLE || 'app';
  if (roleRaw !== 'backend' && roleRaw !== 'frontend' && roleRaw !== 'app') {
    throw new BehaviourError(`STANDIN_ROLE: "${roleRaw}" must be backend, frontend or app`);
  }
  const role: Role = roleRaw;
  const modeRaw = env.STANDIN_MODE || traits.mode;
  if (modeRaw !== 'healthy' && modeRaw !== 'crash' && modeRaw !== 'notready') {
    throw new BehaviourError(`STANDIN_MODE: "${modeRaw}" must be healthy, crash or notready`);
  }
  const b: Behaviour = {
    version,
    role,
    ports: env.PORT
      ? [num(env, 'PORT', 0, 0, 65535)]
      : (env.PORTS || '5000,3000').split(',').map((p) => num({ PORTS: p.trim() }, 'PORTS', 0, 0, 65535)),
    mode: modeRaw,
    errorRate: num(env, 'STANDIN_ERROR_RATE', traits.errorRate, 0, 1),
    delayMs: num(env, 'STANDIN_DELAY_MS', traits.delayMs, 0, 600_000),
    burnMs: num(env, 'STANDIN_BURN_MS', 0, 0, 60_000),
  };
  if (env.DATABASE_URL) b.postgres = { connectionString: env.DATABASE_URL };
  else if (env.PGHOST) {
    b.postgres = {
      host: env.PGHOST,
      port: num(env, 'PGPORT', 5432, 1, 65535),
      user: env.PGUSER || 'postgres',
      password: env.PGPASSWORD ?? '',
      database: env.PGDATABASE || env.PGUSER || 'postgres',
    };
  }
  if (env.REDIS_URL) b.redis = { url: env.REDIS_URL };
  else if (env.REDIS_HOST) {
    b.redis = { host: env.REDIS_HOST, port: num(env, 'REDIS_PORT', 6379, 1, 65535) };
    if (env.REDIS_PASSWORD) b.redis.password = env.REDIS_PASSWORD;
  }
  const dir = env.TLS_DIR;
  const certFile = env.TLS_CERT_FILE || (dir ? `${dir}/tls.crt` : undefined);
  const keyFile = env.TLS_KEY_FILE || (dir ? `${dir}/tls.key` : undefined);
  if (!!certFile !== !!keyFile) throw new BehaviourError('TLS_CERT_FILE and TLS_KEY_FILE must be set together');
  if (certFile && keyFile) b.tls = { certFile, keyFile, port: num(env, 'TLS_PORT', 8443, 0, 65535) };
  return b;
}

/** Whether request number `n` (0, 1, 2, …) is answered with a 5xx: exactly ⌊(n+1)·rate⌋ of the first n+1 are,
 * spread evenly, so a rate is exact over any run and tests need no randomness. */
export function failsRequest(n: number, rate: number): boolean {
  return Math.floor((n + 1) * rate + 1e-9) > Math.floor(n * rate + 1e-9);
}
