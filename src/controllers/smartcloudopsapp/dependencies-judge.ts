// Pure: what a PostgreSQL or Redis outcome means — the reason of a failure (from the driver's error code or message),
// the saturation judgement, the Redis settings wanted and their drift from the live CONFIG GET, and which parts of a
// snapshot count as a change (only those enqueue the app: a check that keeps its verdict enqueues nothing, even when
// its latency or connection count moved).
import type { AppObject, CheckResult, DependencySnapshot, RedisConfigDrift } from './contracts.js';

/** The reason a PostgreSQL error stands for (libpq/node-postgres codes, SQLSTATE, socket errors). */
export function pgReason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  switch (e?.code) {
    case '28P01':
    case '28000':
      return 'AuthenticationFailed';
    case '3D000':
      return 'DatabaseNotFound';
    case '53300': // too_many_connections
      return 'TooManyConnections';
    case '57P03': // cannot_connect_now
      return 'NotAcceptingConnections';
    case '57014': // query_canceled (statement_timeout)
      return 'Timeout';
    case 'ECONNREFUSED':
      return 'ConnectionRefused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'HostNotFound';
    case 'ETIMEDOUT':
      return 'Timeout';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ECONNRESET':
    case 'EPIPE':
      return 'ConnectionFailed';
  }
  const m = e?.message ?? '';
  if (/timeout/i.test(m)) return 'Timeout';
  if (/terminat|Connection ended|closed/i.test(m)) return 'ConnectionFailed';
  return 'QueryFailed';
}

/** The reason a Redis (ioredis) error stands for. */
export function redisReason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const m = e?.message ?? '';
  if (/^(WRONGPASS|NOAUTH)|invalid password|invalid username-password/i.test(m)) return 'AuthenticationFailed';
  switch (e?.code) {
    case 'ECONNREFUSED':
      return 'ConnectionRefused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'HostNotFound';
    case 'ETIMEDOUT':
      return 'Timeout';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ECONNRESET':
    case 'EPIPE':
      return 'ConnectionFailed';
  }
  if (/ECONNREFUSED/.test(m)) return 'ConnectionRefused';
  if (/timed? ?out/i.test(m)) return 'Timeout';
  if (/Connection is closed|Stream isn't writeable|enableOfflineQueue/i.test(m)) return 'ConnectionFailed';
  if (/^LOADING/.test(m)) return 'NotAcceptingConnections';
  return 'CommandFailed';
}

/** The driver's own words, first line only (a stack or a multi-line server notice is not a status message). */
export function firstLine(err: unknown): string {
  const m = (err as { message?: string })?.message ?? String(err);
  return (m.split('\n')[0] ?? '').slice(0, 300);
}

export interface Saturation {
  inUse: number;
  max: number;
  percent: number;
  warning: boolean;
}

/** Connections in use against max_connections; a warning from warnPercent on (≥, as the CRD says "reach"). */
export function judgeSaturation(inUse: number, max: number, warnPercent: number): Saturation {
  const percent = max > 0 ? (inUse / max) * 100 : 0;
  return { inUse, max, percent, warning: max > 0 && percent >= warnPercent };
}

export const DEFAULT_WARN_PERCENT = 80;

/** The Redis settings spec.cache.config asks for, by their CONFIG names (only the fields that are set). */
export function wantedRedisConfig(app: AppObject): Record<string, string> {
  const cfg = app.spec.cache?.config;
  const out: Record<string, string> = {};
  if (cfg?.maxmemoryPolicy !== undefined) out['maxmemory-policy'] = cfg.maxmemoryPolicy;
  if (cfg?.save !== undefined) out.save = normalizeRedisValue('save', cfg.save);
  return out;
}

/** Redis answers `save` with single spaces and no padding; compare the same way. */
export function normalizeRedisValue(key: string, value: string): string {
  return key === 'save' ? value.trim().split(/\s+/).filter(Boolean).join(' ') : value.trim().toLowerCase();
}

/** The keys whose live value differs from the wanted one (a key Redis did not return counts as drift too). */
export function redisDrift(want: Record<string, string>, live: Record<string, string | undefined>): RedisConfigDrift[] {
  const out: RedisConfigDrift[] = [];
  for (const [key, w] of Object.entries(want)) {
    const l = live[key];
    const liveNorm = l === undefined ? undefined : normalizeRedisValue(key, l);
    if (liveNorm !== normalizeRedisValue(key, w)) out.push({ key, live: l ?? '', want: w });
  }
  return out;
}

/** CONFIG GET's flat [k1, v1, k2, v2, …] (RESP2) or map reply as a record. */
export function configReply(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  } else if (reply && typeof reply === 'object') {
    for (const [k, v] of Object.entries(reply)) out[k] = String(v);
  }
  return out;
}

/** The part of a check that is its verdict: a change here enqueues the app; latency and numbers alone do not. */
function checkVerdict(c: CheckResult): unknown[] {
  return [c.name, c.ok, c.reason, c.warning ?? false, c.ok ? '' : c.message];
}

/** A string that changes exactly when the snapshot's verdicts change. */
export function snapshotVerdict(s: DependencySnapshot): string {
  return JSON.stringify([
    [...s.checks].sort((a, b) => a.name.localeCompare(b.name)).map(checkVerdict),
    s.redisConfig
      ? [s.redisConfig.inSync, s.redisConfig.drift.map((d) => d.key), s.redisConfig.lastCorrectedAt ?? '']
      : null,
    s.maintenance
      ? [s.maintenance.running, s.maintenance.nextRunAt ?? '', s.maintenance.lastRun?.startedAt ?? '']
      : null,
    (s.events ?? []).map((e) => e.key),
  ]);
}
