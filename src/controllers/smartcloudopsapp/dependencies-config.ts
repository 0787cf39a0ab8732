// Pure: the connection settings of an app's PostgreSQL and Redis, read from the Secrets its spec names
// (spec.database.secretRef, spec.cache.secretRef) through the operator's cache. Keys as the CRD documents them:
// host, port, database, username, password — or one `uri` (postgres://, postgresql://; redis://, rediss://), which
// wins when present. A missing Secret or key is a failing check (SecretMissing / SecretKeyMissing) whose message names
// the Secret and the key, never a value; a value that does not parse is SecretInvalid, again naming only the key.
// Settings carry a fingerprint (a hash of every value, the password included, kept in memory only): when it changes
// the runner closes the old connection and checks again at once, as a Secret rotation needs.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../../kube/index.js';
import type { AppObject, SecretReader } from './contracts.js';

export interface PostgresSettings {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /** Where the settings came from, for messages: `Secret ns/name`. */
  source: string;
  fingerprint: string;
}

export interface RedisSettings {
  host: string;
  port: number;
  username?: string;
  password?: string;
  tls: boolean;
  db: number;
  source: string;
  fingerprint: string;
}

/** A Secret that cannot give settings: the check fails with this reason and message (no I/O is attempted). */
export interface SettingsProblem {
  reason: 'SecretMissing' | 'SecretKeyMissing' | 'SecretInvalid';
  message: string;
  fingerprint: string;
}

export type Resolved<T> = { ok: true; settings: T } | { ok: false; problem: SettingsProblem };

/** The string values of a Secret (`data` is base64, `stringData` as written), or undefined when it is not cached. */
export function secretValues(secret: KubeObject | undefined): Record<string, string> | undefined {
  if (!secret) return undefined;
  const out: Record<string, string> = {};
  const data = (secret as { data?: Record<string, string> }).data ?? {};
  for (const [k, v] of Object.entries(data)) out[k] = Buffer.from(v ?? '', 'base64').toString('utf8');
  const stringData = (secret as { stringData?: Record<string, string> }).stringData ?? {};
  for (const [k, v] of Object.entries(stringData)) out[k] = v ?? '';
  return out;
}

const fingerprintOf = (parts: unknown[]): string =>
  createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);

function problem(reason: SettingsProblem['reason'], message: string): { ok: false; problem: SettingsProblem } {
  return { ok: false, problem: { reason, message, fingerprint: fingerprintOf([reason, message]) } };
}

function parsePort(v: string | undefined, dflt: number): number | undefined {
  if (v === undefined || v.trim() === '') return dflt;
  const n = Number(v.trim());
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
}

function readSecret(
  secrets: SecretReader,
  namespace: string,
  name: string,
  what: string,
): { ok: true; values: Record<string, string>; source: string } | { ok: false; problem: SettingsProblem } {
  const source = `Secret ${namespace}/${name}`;
  const values = secretValues(secrets(namespace, name));
  if (!values) return problem('SecretMissing', `${source} (the ${what} connection) does not exist`);
  return { ok: true, values, source };
}

/** The first of `keys` that is absent or empty, for SecretKeyMissing. */
function missingKey(values: Record<string, string>, keys: string[]): string | undefined {
  return keys.find((k) => values[k] === undefined || values[k] === '');
}

export function resolvePostgres(app: AppObject, secrets: SecretReader): Resolved<PostgresSettings> {
  const ns = app.metadata.namespace ?? 'default';
  const name = app.spec.database.secretRef.name;
  const read = readSecret(secrets, ns, name, 'PostgreSQL');
  if (!read.ok) return read;
  const { values, source } = read;
  let s: Omit<PostgresSettings, 'fingerprint' | 'source'>;
  if (values.uri) {
    let u: URL;
    try {
      u = new URL(values.uri);
    } catch {
      return problem('SecretInvalid', `key "uri" of ${source} is not a URL`);
    }
    if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
      return problem('SecretInvalid', `key "uri" of ${source} must be a postgres:// or postgresql:// URL`);
    }
    const port = parsePort(u.port, 5432);
    const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
    if (!u.hostname || port === undefined || !database || !u.username) {
      return problem('SecretInvalid', `key "uri" of ${source} needs a user, a host, a valid port and a database`);
    }
    s = {
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port,
      database,
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
    };
  } else {
    const missing = missingKey(values, ['host', 'database', 'username', 'password']);
    if (missing) return problem('SecretKeyMissing', `${source} has no key "${missing}" (nor "uri")`);
    const port = parsePort(values.port, 5432);
    if (port === undefined) return problem('SecretInvalid', `key "port" of ${source} is not a port number`);
    s = {
      host: values.host!.trim(),
      port,
      database: values.database!,
      user: values.username!,
      password: values.password!,
    };
  }
  return {
    ok: true,
    settings: { ...s, source, fingerprint: fingerprintOf([s.host, s.port, s.database, s.user, s.password]) },
  };
}

export function resolveRedis(app: AppObject, secrets: SecretReader): Resolved<RedisSettings> | undefined {
  const cache = app.spec.cache;
  if (!cache) return undefined;
  const ns = app.metadata.namespace ?? 'default';
  const read = readSecret(secrets, ns, cache.secretRef.name, 'Redis');
  if (!read.ok) return read;
  const { values, source } = read;
  let s: Omit<RedisSettings, 'fingerprint' | 'source'>;
  if (values.uri) {
    let u: URL;
    try {
      u = new URL(values.uri);
    } catch {
      return problem('SecretInvalid', `key "uri" of ${source} is not a URL`);
    }
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
      return problem('SecretInvalid', `key "uri" of ${source} must be a redis:// or rediss:// URL`);
    }
    const port = parsePort(u.port, 6379);
    const dbText = u.pathname.replace(/^\//, '');
    const db = dbText === '' ? 0 : Number(dbText);
    if (!u.hostname || port === undefined || !Number.isInteger(db) || db < 0) {
      return problem('SecretInvalid', `key "uri" of ${source} needs a host, a valid port and a numeric database`);
    }
    s = {
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port,
      ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
      ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
      tls: u.protocol === 'rediss:',
      db,
    };
  } else {
    const missing = missingKey(values, ['host']);
    if (missing) return problem('SecretKeyMissing', `${source} has no key "${missing}" (nor "uri")`);
    const port = parsePort(values.port, 6379);
    if (port === undefined) return problem('SecretInvalid', `key "port" of ${source} is not a port number`);
    s = {
      host: values.host!.trim(),
      port,
      ...(values.username ? { username: values.username } : {}),
      ...(values.password ? { password: values.password } : {}),
      tls: false,
      db: 0,
    };
  }
  return {
    ok: true,
    settings: {
      ...s,
      source,
      fingerprint: fingerprintOf([s.host, s.port, s.username, s.password, s.tls, s.db]),
    },
  };
}

/** Removes `secrets` (passwords) from a message, on top of the logger's own redaction. */
export function scrub(message: string, secrets: (string | undefined)[]): string {
  let out = message;
  for (const s of secrets) {
    if (s && s.length >= 1) out = out.split(s).join('[REDACTED]');
  }
  return out;
}
