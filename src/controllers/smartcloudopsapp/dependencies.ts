// The dependency checks of SmartCloudOpsApp: a background runner per app (keyed by uid) that the capability drives
// through `observe` on every reconcile, as controller-runtime drives a source.Channel: results are computed off the
// reconcile path and the app is enqueued (deps.enqueue) only when a verdict changed — the way kubelet's prober
// workers run each probe on its own period with its own timeout and hand the status manager only changes.
//   - PostgreSQL, every `postgresIntervalMs` (30 s): `SELECT 1`, then connection saturation (client backends in
//     pg_stat_activity against max_connections; `warning` from spec.database.connectionWarnPercent on), each query
//     bounded by `timeoutMs` (5 s) on the injected timers. One connection per distinct settings (the Secret's
//     fingerprint — host, port, database, user, password — and the routed address), opened lazily and shared by
//     the apps that use them, as client-go shares one transport per rest.Config: 1,000 apps on one database hold
//     one connection, not 1,000 (max_connections is typically 100–200). Each app still runs its own checks on its
//     own period. An app lets go of it when the Secret's settings change, on forget and on stop (the last one
//     closes it); a connection that breaks or times out is dropped for all its apps and made again at their next
//     check.
//   - Redis (with spec.cache), every `redisIntervalMs` (30 s): `PING`, then spec.cache.config against `CONFIG GET`;
//     a live value that differs is put back with `CONFIG SET`, counted, reported in `redisConfig` and as one Event
//     (a new dedupe key per correction; a failing CONFIG SET is reported once per distinct failure, not per tick).
//   - VACUUM ANALYZE on spec.maintenance.vacuumAnalyzeSchedule in spec.maintenance.timeZone (croner, the options
//     validation uses), on a connection of its own for the run (a long VACUUM never makes the check time out),
//     under `pg_try_advisory_lock`: never two at once in one database, also across replicas and apps; a run that
//     finds the lock taken is skipped and reported (`vacuumSkipped`, an Event), not queued.
//   - The Secret is read from the cache on every observe and every tick: a rotation reconnects with the new
//     settings at once; a missing Secret or key is a failing check with no I/O (SecretMissing/SecretKeyMissing),
//     looked at again each interval.
// observe never waits on I/O: it (re)arms timers and returns the latest snapshot. Messages never carry a password
// (settings values are scrubbed from driver messages on top of the logger's redaction).
import { Cron } from 'croner';
import { rfc3339, setLongTimeout, systemTimers, type Timers } from '../../runtime/clock.js';
import type {
  AppObject,
  CheckResult,
  CreateDependencySource,
  DependencySnapshot,
  DependencySource,
  RedisConfigDrift,
  SourceDeps,
} from './contracts.js';
import {
  resolvePostgres,
  resolveRedis,
  scrub,
  type PostgresSettings,
  type RedisSettings,
  type SettingsProblem,
} from './dependencies-config.js';
import { realConnectors, type Connectors, type PgSession, type RedisSession } from './dependencies-io.js';
import {
  configReply,
  DEFAULT_WARN_PERCENT,
  firstLine,
  judgeSaturation,
  pgReason,
  redisDrift,
  redisReason,
  snapshotVerdict,
  wantedRedisConfig,
} from './dependencies-judge.js';

export interface DependencyOptions {
  timers?: Timers;
  connectors?: Connectors;
  /** Period of the PostgreSQL check (SELECT 1 + saturation). Default 30 s. */
  postgresIntervalMs?: number;
  /** Period of the Redis check (PING + config drift). Default 30 s. */
  redisIntervalMs?: number;
  /** Bound of each connect and each query or command. Default 5 s. */
  timeoutMs?: number;
  /** Bound of one VACUUM ANALYZE (statement_timeout). Default 2 h. */
  vacuumTimeoutMs?: number;
  /** Events kept in the snapshot for the capability to record (oldest dropped). Default 10. */
  maxEvents?: number;
  /**
   * Where to connect for a host and port from a Secret (undefined: as written). In the cluster the Secret's
   * addresses are used as they are (Service DNS names resolve there); an operator run outside the cluster for
   * development can map `<service>.<namespace>.svc…` to an address it reaches (a ClusterIP served by a local
   * kube-proxy, a port-forward). Messages keep the Secret's address.
   */
  route?: (address: { host: string; port: number; namespace: string }) => { host: string; port: number } | undefined;
}

export const DEFAULT_INTERVAL_MS = 30_000;
export const DEFAULT_TIMEOUT_MS = 5_000;
export const DEFAULT_VACUUM_TIMEOUT_MS = 2 * 3600_000;
/** The advisory lock VACUUM ANALYZE runs under (advisory locks are scoped to their database). */
export const VACUUM_LOCK_KEY = '7347281001';

export class TimeoutError extends Error {}

type SnapshotEvent = NonNullable<DependencySnapshot['events']>[number];
type Maintenance = NonNullable<DependencySnapshot['maintenance']>;

interface Cancel {
  cancel(): void;
}

/** A PostgreSQL connection shared by the apps whose settings (and route) are the same. */
interface SharedPg {
  key: string;
  /** Apps holding it. */
  refs: number;
  session?: PgSession;
  connecting?: Promise<PgSession>;
  /** The probe (SELECT 1, the connection count) in flight: apps whose checks come meanwhile share its answer. */
  probe?: Promise<PgProbe>;
  /** Dropped (broken, timed out, or no app left): never handed out again. */
  dead: boolean;
}

interface PgProbe {
  latencyMs: number;
  inUse: number;
  max: number;
}

interface PgState {
  /** Which settings (or problem) and spec the state belongs to. */
  key?: string;
  fingerprint?: string;
  shared?: SharedPg;
  timer?: Cancel;
  inFlight: boolean;
  /** Bumped on every settings change: an in-flight result of an older generation is dropped. */
  gen: number;
  result?: CheckResult;
}

interface RedisState extends PgState {
  redisSession?: RedisSession;
  config?: NonNullable<DependencySnapshot['redisConfig']>;
  lastFailureKey?: string;
  /** Keys corrected and found drifted again at the next check: count and the monotonic time of the next try. */
  flaps: Map<string, { count: number; until: number }>;
}

/** The longest wait between corrections of a key that keeps drifting back (another client or app setting it). */
export const MAX_CORRECTION_BACKOFF_MS = 3600_000;

interface MaintState {
  key?: string;
  timer?: Cancel;
  running: boolean;
  /** The connection of the run in progress (closed on forget/stop: stop does not wait out a long VACUUM). */
  session?: PgSession;
  nextRunAt?: Date;
  lastRun?: Maintenance['lastRun'];
  lastSkipped?: DependencySnapshot['vacuumSkipped'];
}

interface AppState {
  uid: string;
  key: string;
  app: AppObject;
  pg: PgState;
  redis?: RedisState;
  maint: MaintState;
  events: SnapshotEvent[];
  verdict: string;
  gone: boolean;
}

/** `p` or a TimeoutError after `ms` on `timers` (a late settlement of `p` is swallowed). */
export function withTimeout<T>(p: Promise<T>, ms: number, timers: Timers, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const h = timers.setTimeout(() => {
      if (done) return;
      done = true;
      reject(new TimeoutError(`${what} timed out after ${ms} ms`));
    }, ms);
    if (typeof h === 'object' && h && 'unref' in h) (h as { unref?: () => void }).unref?.();
    p.then(
      (v) => {
        if (done) return;
        done = true;
        timers.clearTimeout(h);
        resolve(v);
      },
      (err: unknown) => {
        if (done) return;
        done = true;
        timers.clearTimeout(h);
        // as it is: driver errors carry `code` (and under a VM context may not be instanceof this realm's Error)
        reject(err as Error);
      },
    );
  });
}

/**
 * A session whose queries run one after another (a shared connection: node-postgres queues concurrent queries
 * itself, but that is deprecated). A query that fails or is cut by `close` does not stop the ones after it.
 */
function serialized(s: PgSession): PgSession {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    query<R extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]> {
      const run = tail.then(() => s.query<R>(sql, params));
      tail = run.catch(() => undefined);
      return run;
    },
    get broken() {
      return s.broken;
    },
    close: () => s.close(),
  };
}

/** A connect bounded by `ms`; a connection that arrives after the timeout is closed, not leaked. */
async function connectWithin<S extends { close(): void }>(p: Promise<S>, ms: number, timers: Timers): Promise<S> {
  try {
    return await withTimeout(p, ms, timers, 'connect');
  } catch (err) {
    p.then(
      (late) => late.close(),
      () => undefined,
    );
    throw err;
  }
}

const secretProblem = (r: CheckResult | undefined): boolean => r?.reason.startsWith('Secret') ?? false;

export function createDependencySource(deps: SourceDeps, options: DependencyOptions = {}): DependencySource {
  const timers = options.timers ?? systemTimers;
  const connectors = options.connectors ?? realConnectors;
  const pgInterval = options.postgresIntervalMs ?? DEFAULT_INTERVAL_MS;
  const redisInterval = options.redisIntervalMs ?? DEFAULT_INTERVAL_MS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const vacuumTimeoutMs = options.vacuumTimeoutMs ?? DEFAULT_VACUUM_TIMEOUT_MS;
  const maxEvents = options.maxEvents ?? 10;
  const { clock, metrics } = deps;
  const log = deps.log.child({ component: 'dependency-checks' });
  const apps = new Map<string, AppState>();
  const inflight = new Set<Promise<unknown>>();
  let stopped = false;

  const routed = <T extends { host: string; port: number }>(st: AppState, t: T): T => {
    const to = options.route?.({ host: t.host, port: t.port, namespace: st.app.metadata.namespace ?? 'default' });
    return to ? { ...t, host: to.host, port: to.port } : t;
  };
  const after = (ms: number, fn: () => void): Cancel => setLongTimeout(fn, Math.max(0, ms), clock, timers);
  const track = (p: Promise<unknown>) => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  const nowIso = () => rfc3339(clock.now());

  function pushEvent(st: AppState, e: SnapshotEvent): void {
    st.events.push(e);
    if (st.events.length > maxEvents) st.events.splice(0, st.events.length - maxEvents);
  }

  function snapshot(st: AppState): DependencySnapshot {
    const checks: CheckResult[] = [];
    if (st.pg.result) checks.push(st.pg.result);
    if (st.redis?.result) checks.push(st.redis.result);
    const out: DependencySnapshot = { checks };
    if (st.redis?.config) out.redisConfig = st.redis.config;
    if (st.maint.key !== undefined) {
      out.maintenance = {
        running: st.maint.running,
        ...(st.maint.nextRunAt ? { nextRunAt: rfc3339(st.maint.nextRunAt) } : {}),
        ...(st.maint.lastRun ? { lastRun: st.maint.lastRun } : {}),
      };
      if (st.maint.lastSkipped) out.vacuumSkipped = st.maint.lastSkipped;
    }
    if (st.events.length > 0) out.events = [...st.events];
    return out;
  }

  /** A background result landed: enqueue the app when a verdict changed. */
  function changed(st: AppState): void {
    if (st.gone) return;
    const v = snapshotVerdict(snapshot(st));
    if (v === st.verdict) return;
    st.verdict = v;
    deps.enqueue(st.key);
  }

  const problemResult = (name: 'postgres' | 'redis', p: SettingsProblem): CheckResult => ({
    name,
    kind: name,
    ok: false,
    reason: p.reason,
    message: p.message,
    checkedAt: nowIso(),
  });

  // ---------------------------------------------------------------- PostgreSQL

  const pgShared = new Map<string, SharedPg>();

  function discardPg(e: SharedPg): void {
    if (e.dead) return;
    e.dead = true;
    e.session?.close();
    e.session = undefined;
    if (pgShared.get(e.key) === e) pgShared.delete(e.key);
  }

  /** The app lets go of its connection; `broken`: drop it for every app (it failed or timed out). */
  function closePg(s: PgState, broken = false): void {
    const e = s.shared;
    if (!e) return;
    s.shared = undefined;
    e.refs--;
    if (broken || e.refs <= 0) discardPg(e);
  }

  /** Brings the PostgreSQL state in line with the app and its Secret; true when a check should run now. */
  function syncPg(st: AppState): boolean {
    const r = resolvePostgres(st.app, deps.secrets);
    const fingerprint = r.ok ? r.settings.fingerprint : r.problem.fingerprint;
    const key = `${fingerprint}/${st.app.spec.database.connectionWarnPercent ?? DEFAULT_WARN_PERCENT}`;
    const s = st.pg;
    if (s.key === key) return false;
    s.key = key;
    if (s.fingerprint !== fingerprint) {
      s.fingerprint = fingerprint;
      s.gen++;
      closePg(s);
      s.result = r.ok ? undefined : problemResult('postgres', r.problem);
    }
    return true;
  }

  function armPg(st: AppState, ms: number): void {
    st.pg.timer?.cancel();
    st.pg.timer = after(ms, () => track(tickPg(st)));
  }

  async function pgSession(st: AppState, s: PgState, settings: PostgresSettings): Promise<PgSession> {
    const held = s.shared;
    if (held && !held.dead && (held.connecting || (held.session && !held.session.broken)))
      return held.session ?? (held.connecting as Promise<PgSession>);
    closePg(s, !!held?.session?.broken);
    const to = routed(st, settings);
    const key = `${settings.fingerprint}@${to.host}:${to.port}`;
    let e = pgShared.get(key);
    if (e?.session?.broken) discardPg(e);
    e = pgShared.get(key);
    if (!e) {
      e = { key, refs: 0, dead: false };
      pgShared.set(key, e);
    }
    e.refs++;
    s.shared = e;
    if (e.session) return e.session;
    if (!e.connecting) {
      const entry = e;
      entry.connecting = connectWithin(connectors.postgres(to, timeoutMs), timeoutMs, timers).then(
        (session) => {
          entry.connecting = undefined;
          if (entry.dead) {
            session.close(); // every app let go (or a rotation) while it connected: never used
            throw new Error('the connection was dropped while it was made');
          }
          entry.session = serialized(session);
          return entry.session;
        },
        (err: unknown) => {
          entry.connecting = undefined;
          discardPg(entry);
          throw err;
        },
      );
    }
    return e.connecting as Promise<PgSession>;
  }

  async function probePg(session: PgSession): Promise<PgProbe> {
    const started = clock.monotonic();
    await withTimeout(session.query('SELECT 1'), timeoutMs, timers, 'SELECT 1');
    const latencyMs = Math.round(clock.monotonic() - started);
    const rows = await withTimeout(
      session.query<{ in_use: number; max: number }>(
        `SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS in_use,
                current_setting('max_connections')::int AS max`,
      ),
      timeoutMs,
      timers,
      'the connection count',
    );
    return { latencyMs, inUse: Number(rows[0]?.in_use ?? 0), max: Number(rows[0]?.max ?? 0) };
  }

  async function checkPg(st: AppState, s: PgState, settings: PostgresSettings): Promise<CheckResult> {
    const where = `PostgreSQL ${settings.host}:${settings.port}/${settings.database}`;
    const started = clock.monotonic();
    const checkedAt = nowIso();
    const latency = () => Math.round(clock.monotonic() - started);
    try {
      const session = await pgSession(st, s, settings);
      const e = s.shared as SharedPg;
      // One probe at a time per connection: checks of other apps that come while it runs take its answer (the
      // same server, the same numbers) instead of queueing queries behind it, so a thousand apps on one database
      // cost one round of queries, and no check waits out another's queue.
      const probe = (e.probe ??= probePg(session).finally(() => {
        e.probe = undefined;
      }));
      const { latencyMs, inUse, max } = await probe;
      const warnPercent = st.app.spec.database.connectionWarnPercent ?? DEFAULT_WARN_PERCENT;
      const sat = judgeSaturation(inUse, max, warnPercent);
      const numbers = `${sat.inUse} of ${sat.max} connections in use (${Math.round(sat.percent)}%)`;
      return {
        name: 'postgres',
        kind: 'postgres',
        ok: true,
        reason: sat.warning ? 'ConnectionSaturation' : 'Healthy',
        message: sat.warning
          ? `${where}: ${numbers}, at or above the warning threshold of ${warnPercent}%`
          : `${where}: SELECT 1 answered; ${numbers}`,
        checkedAt,
        latencyMs,
        ...(sat.warning ? { warning: true } : {}),
        details: { connectionsInUse: sat.inUse, maxConnections: sat.max },
      };
    } catch (err) {
      closePg(s, true);
      const reason = err instanceof TimeoutError ? 'Timeout' : pgReason(err);
      return {
        name: 'postgres',
        kind: 'postgres',
        ok: false,
        reason,
        message: `${where}: ${scrub(firstLine(err), [settings.password])}`,
        checkedAt,
        latencyMs: latency(),
      };
    }
  }

  async function tickPg(st: AppState): Promise<void> {
    const s = st.pg;
    if (st.gone || s.inFlight) return;
    syncPg(st);
    const r = resolvePostgres(st.app, deps.secrets);
    if (!r.ok) {
      // No I/O without settings; the Secret is looked at again next period.
      armPg(st, pgInterval);
      changed(st);
      return;
    }
    s.inFlight = true;
    const gen = s.gen;
    const started = clock.monotonic();
    let result: CheckResult;
    try {
      result = await checkPg(st, s, r.settings);
    } finally {
      s.inFlight = false;
    }
    if (st.gone || gen !== s.gen) {
      // the settings changed (or the app went) while this check ran: its connection and result are the old ones
      closePg(s);
      if (!st.gone) armPg(st, 0);
      return;
    }
    metrics.dependencyChecks.inc({ dependency: 'postgres', reason: result.reason });
    metrics.dependencyCheckDuration.observe({ dependency: 'postgres' }, (clock.monotonic() - started) / 1000);
    if (s.result?.reason !== result.reason || s.result.ok !== result.ok) {
      const fields = { app: st.key, dependency: 'postgres', reason: result.reason, detail: result.message };
      if (result.ok) log.info(fields, 'dependency check passing');
      else log.warn(fields, 'dependency check failing');
    }
    s.result = result;
    armPg(st, pgInterval);
    changed(st);
  }

  // ---------------------------------------------------------------- Redis

  function closeRedis(s: RedisState): void {
    s.redisSession?.close();
    s.redisSession = undefined;
  }

  function syncRedis(st: AppState): boolean {
    const r = resolveRedis(st.app, deps.secrets);
    if (r === undefined) {
      if (st.redis) {
        st.redis.timer?.cancel();
        st.redis.gen++;
        closeRedis(st.redis);
        st.redis = undefined;
      }
      return false;
    }
    const s: RedisState = (st.redis ??= { inFlight: false, gen: 0, flaps: new Map() });
    const fingerprint = r.ok ? r.settings.fingerprint : r.problem.fingerprint;
    const key = `${fingerprint}/${JSON.stringify(wantedRedisConfig(st.app))}`;
    if (s.key === key) return false;
    s.key = key;
    if (s.fingerprint !== fingerprint) {
      s.fingerprint = fingerprint;
      s.gen++;
      closeRedis(s);
      s.result = r.ok ? undefined : problemResult('redis', r.problem);
    }
    return true;
  }

  function armRedis(st: AppState, ms: number): void {
    const s = st.redis;
    if (!s) return;
    s.timer?.cancel();
    s.timer = after(ms, () => track(tickRedis(st)));
  }

  async function redisSession(st: AppState, s: RedisState, settings: RedisSettings): Promise<RedisSession> {
    if (s.redisSession && !s.redisSession.broken) return s.redisSession;
    closeRedis(s);
    const session = await connectWithin(connectors.redis(routed(st, settings), timeoutMs), timeoutMs, timers);
    s.redisSession = session;
    return session;
  }

  /** spec.cache.config against CONFIG GET; drift put back with CONFIG SET. Errors here do not fail the check. */
  async function tuneRedis(st: AppState, s: RedisState, session: RedisSession, settings: RedisSettings) {
    const want = wantedRedisConfig(st.app);
    const keys = Object.keys(want);
    if (keys.length === 0) {
      s.config = undefined;
      return;
    }
    const scrubbed = (err: unknown) => scrub(firstLine(err), [settings.password]);
    const prev = s.config;
    const lastCorrected = prev?.lastCorrectedAt ? { lastCorrectedAt: prev.lastCorrectedAt } : {};
    const live: Record<string, string> = {};
    try {
      for (const k of keys) {
        Object.assign(live, configReply(await withTimeout(session.call('CONFIG', 'GET', k), timeoutMs, timers, k)));
      }
    } catch (err) {
      s.config = {
        inSync: false,
        drift: prev?.drift ?? [],
        ...lastCorrected,
        message: `cannot read CONFIG: ${scrubbed(err)}`,
      };
      return;
    }
    const drift = redisDrift(want, live);
    for (const k of keys) if (!drift.some((d) => d.key === k)) s.flaps.delete(k);
    if (drift.length === 0) {
      s.config = {
        inSync: true,
        drift: prev?.drift ?? [],
        ...lastCorrected,
        message: prev?.lastCorrectedAt
          ? `${keys.join(', ')} as specified; last corrected at ${prev.lastCorrectedAt}: ${describe(prev.drift)}`
          : `${keys.join(', ')} as specified`,
      };
      s.lastFailureKey = undefined;
      return;
    }
    // A key that drifts back after each correction is being set by someone else (another client, another app on
    // this Redis): corrections of it back off exponentially (one period, two, four, … up to an hour) instead of
    // fighting every period; it is corrected again at once when a check finds it in sync in between.
    const mono = clock.monotonic();
    const held = drift.filter((d) => mono < (s.flaps.get(d.key)?.until ?? -Infinity));
    const fixed: RedisConfigDrift[] = [];
    let failure: string | undefined;
    for (const d of drift.filter((x) => !held.includes(x))) {
      try {
        await withTimeout(session.call('CONFIG', 'SET', d.key, d.want), timeoutMs, timers, `CONFIG SET ${d.key}`);
      } catch (err) {
        failure = `CONFIG SET ${d.key} failed: ${scrubbed(err)}`;
        break;
      }
      metrics.redisConfigCorrections.inc({ key: d.key });
      fixed.push(d);
      const count = (s.flaps.get(d.key)?.count ?? 0) + 1;
      s.flaps.set(d.key, {
        count,
        until: mono + Math.min(redisInterval * 2 ** (count - 1), MAX_CORRECTION_BACKOFF_MS),
      });
    }
    if (held.length > 0) {
      const which = held.map((d) => `${d.key} (corrected ${s.flaps.get(d.key)!.count} times)`).join(', ');
      const flapping = `${which} keeps changing back: another client or app sets it; corrections back off`;
      failure = failure ? `${failure}; ${flapping}` : flapping;
    }
    const at = nowIso();
    const where = `Redis ${settings.host}:${settings.port}`;
    if (fixed.length > 0) {
      pushEvent(st, {
        key: `redis-config-corrected/${at}/${clock.monotonic()}`,
        type: 'Normal',
        reason: 'RedisConfigCorrected',
        message: `${where}: ${describe(fixed)}`,
      });
      log.info({ app: st.key, detail: describe(fixed) }, 'Redis config drift corrected');
    }
    if (failure === undefined) {
      s.config = { inSync: true, drift: fixed, lastCorrectedAt: at, message: `corrected at ${at}: ${describe(fixed)}` };
      s.lastFailureKey = undefined;
      return;
    }
    const message = `drift (${describe(drift)}); ${failure}`;
    s.config = { inSync: false, drift, ...(fixed.length > 0 ? { lastCorrectedAt: at } : lastCorrected), message };
    // once per distinct failure (a held key reports again only when its correction count moved)
    const failureKey = `redis-config-failed/${failure}`;
    if (s.lastFailureKey !== failureKey) {
      s.lastFailureKey = failureKey;
      pushEvent(st, {
        key: `${failureKey}/${at}`,
        type: 'Warning',
        reason: 'RedisConfigDrift',
        message: `${where}: ${message}`,
      });
      log.warn({ app: st.key, detail: message }, 'Redis config drift not corrected');
    }
  }

  async function checkRedis(st: AppState, s: RedisState, settings: RedisSettings): Promise<CheckResult> {
    const where = `Redis ${settings.host}:${settings.port}`;
    const started = clock.monotonic();
    const checkedAt = nowIso();
    try {
      const session = await redisSession(st, s, settings);
      const pong = await withTimeout(session.call('PING'), timeoutMs, timers, 'PING');
      const latencyMs = Math.round(clock.monotonic() - started);
      if (pong !== 'PONG') throw new Error(`PING answered ${JSON.stringify(String(pong)).slice(0, 64)}`);
      await tuneRedis(st, s, session, settings);
      return {
        name: 'redis',
        kind: 'redis',
        ok: true,
        reason: 'Healthy',
        message: `${where}: PONG`,
        checkedAt,
        latencyMs,
      };
    } catch (err) {
      closeRedis(s);
      return {
        name: 'redis',
        kind: 'redis',
        ok: false,
        reason: err instanceof TimeoutError ? 'Timeout' : redisReason(err),
        message: `${where}: ${scrub(firstLine(err), [settings.password])}`,
        checkedAt,
        latencyMs: Math.round(clock.monotonic() - started),
      };
    }
  }

  async function tickRedis(st: AppState): Promise<void> {
    const s = st.redis;
    if (st.gone || !s || s.inFlight) return;
    syncRedis(st);
    if (st.redis !== s) return;
    const r = resolveRedis(st.app, deps.secrets);
    if (!r?.ok) {
      armRedis(st, redisInterval);
      changed(st);
      return;
    }
    s.inFlight = true;
    const gen = s.gen;
    const started = clock.monotonic();
    let result: CheckResult;
    try {
      result = await checkRedis(st, s, r.settings);
    } finally {
      s.inFlight = false;
    }
    if (st.gone || gen !== s.gen || st.redis !== s) {
      closeRedis(s);
      if (!st.gone && st.redis === s) armRedis(st, 0);
      return;
    }
    metrics.dependencyChecks.inc({ dependency: 'redis', reason: result.reason });
    metrics.dependencyCheckDuration.observe({ dependency: 'redis' }, (clock.monotonic() - started) / 1000);
    if (s.result?.reason !== result.reason || s.result.ok !== result.ok) {
      const fields = { app: st.key, dependency: 'redis', reason: result.reason, detail: result.message };
      if (result.ok) log.info(fields, 'dependency check passing');
      else log.warn(fields, 'dependency check failing');
    }
    s.result = result;
    armRedis(st, redisInterval);
    changed(st);
  }

  // ---------------------------------------------------------------- VACUUM ANALYZE

  /** The next start strictly after `after` on the app's schedule, or undefined (no schedule, or it does not parse). */
  function nextVacuum(app: AppObject, after: Date): Date | undefined {
    const m = app.spec.maintenance;
    if (!m?.vacuumAnalyzeSchedule) return undefined;
    try {
      const cron = new Cron(m.vacuumAnalyzeSchedule.trim(), {
        paused: true,
        legacyMode: true,
        ...(m.timeZone ? { timezone: m.timeZone } : {}),
      });
      return cron.nextRun(after) ?? undefined;
    } catch {
      return undefined; // the controller's validation reports the spec as InvalidSpec
    }
  }

  function armVacuum(st: AppState, from: Date): void {
    const m = st.maint;
    m.timer?.cancel();
    m.timer = undefined;
    m.nextRunAt = nextVacuum(st.app, from);
    if (!m.nextRunAt) return;
    const at = m.nextRunAt;
    m.timer = after(at.getTime() - clock.now().getTime(), () => track(runVacuum(st, at)));
  }

  function syncMaint(st: AppState): void {
    const m = st.app.spec.maintenance;
    const key = m?.vacuumAnalyzeSchedule ? `${m.vacuumAnalyzeSchedule}|${m.timeZone ?? ''}` : undefined;
    if (st.maint.key === key) return;
    st.maint.key = key;
    if (key === undefined) {
      st.maint.timer?.cancel();
      st.maint.timer = undefined;
      st.maint.nextRunAt = undefined;
      return;
    }
    armVacuum(st, clock.now());
  }

  async function runVacuum(st: AppState, slot: Date): Promise<void> {
    if (st.gone) return;
    const m = st.maint;
    // The next slot strictly after this one (a timer that fires early on the wall clock cannot run a slot twice).
    const next = () => armVacuum(st, new Date(Math.max(slot.getTime(), clock.now().getTime())));
    const skip = (message: string) => {
      m.lastSkipped = { at: nowIso(), message };
      pushEvent(st, {
        key: `vacuum-skipped/${m.lastSkipped.at}`,
        type: 'Normal',
        reason: 'VacuumAnalyzeSkipped',
        message,
      });
      metrics.vacuumRuns.inc({ result: 'Skipped' });
      log.info({ app: st.key, detail: message }, 'VACUUM ANALYZE skipped');
    };
    if (m.running) {
      skip('the previous VACUUM ANALYZE of this app is still running');
      next();
      changed(st);
      return;
    }
    const r = resolvePostgres(st.app, deps.secrets);
    const startedAt = nowIso();
    const t0 = clock.monotonic();
    const finish = (result: 'Succeeded' | 'Failed', message: string) => {
      const durationMs = Math.round(clock.monotonic() - t0);
      m.lastRun = { startedAt, finishedAt: nowIso(), durationMs, result, message };
      metrics.vacuumRuns.inc({ result });
      metrics.vacuumDuration.observe(durationMs / 1000);
      if (result === 'Failed') {
        pushEvent(st, { key: `vacuum-failed/${startedAt}`, type: 'Warning', reason: 'VacuumAnalyzeFailed', message });
        log.warn({ app: st.key, detail: message }, 'VACUUM ANALYZE failed');
      } else {
        log.info({ app: st.key, durationMs }, 'VACUUM ANALYZE done');
      }
    };
    next();
    if (!r.ok) {
      finish('Failed', `VACUUM ANALYZE not run: ${r.problem.message}`);
      changed(st);
      return;
    }
    const settings = r.settings;
    const where = `PostgreSQL ${settings.host}:${settings.port}/${settings.database}`;
    m.running = true;
    changed(st);
    let session: PgSession | undefined;
    try {
      session = await connectWithin(connectors.postgres(routed(st, settings), timeoutMs), timeoutMs, timers);
      if (st.gone) throw new Error('the app was forgotten');
      m.session = session;
      const lock = await withTimeout(
        session.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${VACUUM_LOCK_KEY}) AS locked`),
        timeoutMs,
        timers,
        'the advisory lock',
      );
      if (!lock[0]?.locked) {
        skip(
          `another VACUUM ANALYZE of ${settings.database} holds the lock (another replica, or another app on this database)`,
        );
      } else {
        await withTimeout(
          session.query(`SET statement_timeout = ${Math.round(vacuumTimeoutMs)}`),
          timeoutMs,
          timers,
          'SET',
        );
        await withTimeout(session.query('VACUUM ANALYZE'), vacuumTimeoutMs + timeoutMs, timers, 'VACUUM ANALYZE');
        finish('Succeeded', `VACUUM ANALYZE of ${where} done`);
        await withTimeout(
          session.query(`SELECT pg_advisory_unlock(${VACUUM_LOCK_KEY})`),
          timeoutMs,
          timers,
          'unlock',
        ).catch(() => undefined); // closing the session releases it anyway
      }
    } catch (err) {
      const reason = err instanceof TimeoutError ? 'Timeout' : pgReason(err);
      finish('Failed', `VACUUM ANALYZE of ${where} failed (${reason}): ${scrub(firstLine(err), [settings.password])}`);
    } finally {
      session?.close();
      m.session = undefined;
      m.running = false;
    }
    changed(st);
  }

  // ---------------------------------------------------------------- the source

  function drop(st: AppState): void {
    st.gone = true;
    st.pg.timer?.cancel();
    st.pg.gen++;
    closePg(st.pg);
    if (st.redis) {
      st.redis.timer?.cancel();
      st.redis.gen++;
      closeRedis(st.redis);
    }
    st.maint.timer?.cancel();
    st.maint.session?.close();
  }

  return {
    observe(app: AppObject): DependencySnapshot {
      if (stopped) return { checks: [] };
      const uid = app.metadata.uid ?? `${app.metadata.namespace}/${app.metadata.name}`;
      let st = apps.get(uid);
      if (!st) {
        st = {
          uid,
          key: `${app.metadata.namespace ?? 'default'}/${app.metadata.name}`,
          app,
          pg: { inFlight: false, gen: 0 },
          maint: { running: false },
          events: [],
          verdict: '',
          gone: false,
        };
        apps.set(uid, st);
      }
      st.app = app;
      if (syncPg(st)) armPg(st, secretProblem(st.pg.result) ? pgInterval : 0);
      if (syncRedis(st)) armRedis(st, secretProblem(st.redis?.result) ? redisInterval : 0);
      syncMaint(st);
      const snap = snapshot(st);
      st.verdict = snapshotVerdict(snap);
      return snap;
    },
    forget(uid: string): void {
      const st = apps.get(uid);
      if (!st) return;
      apps.delete(uid);
      drop(st);
    },
    async stop(): Promise<void> {
      stopped = true;
      for (const st of apps.values()) drop(st);
      apps.clear();
      for (const e of [...pgShared.values()]) discardPg(e);
      await Promise.allSettled([...inflight]);
    },
  };
}

function describe(drift: RedisConfigDrift[]): string {
  return drift.map((d) => `${d.key} was ${JSON.stringify(d.live)}, set to ${JSON.stringify(d.want)}`).join('; ');
}

// The capability calls it with the SourceDeps only (defaults above); tests and the operator's options pass more.
const _contract: CreateDependencySource = createDependencySource;
void _contract;
