// The DRDrill capability on the seam (runtime/children-capability.ts). A drill has no children of its own in its
// namespace: everything a run makes lives in the DR namespace (objects.ts), which a namespaced object cannot own, or
// in the restore target's server (the run's database). So it is all effects of `prepare`, each idempotent by a
// deterministic name, and clean-up is the drill's: the plan's Cleanup step, a kept run's TTL, and the finalizer.
//   prepare — validates (memoised per generation); resolves the references (app, BackupSchedule, Secrets) from the
//             caches; decides whether a run starts (trigger.ts); then, for the running run and every finished run
//             not cleaned up yet, observes (observe.ts: caches; the run's database and probes, bounded by timeouts),
//             plans (run.ts, pure) and performs the plan's actions, a few rounds per reconcile.
//   desired — nothing (undefined: no children to hold or prune).
//   status  — the run record, the bounded history and the conditions (status.ts, pure).
// Reads: the drill's own namespace through the manager's caches (app, BackupSchedule, Secrets), the DR namespace
// through cluster-wide caches scoped by the drill-uid label (Jobs, Deployments, Services, Pods), so an operator
// watching a list of namespaces still sees the DR namespaces it creates; Namespaces through one cluster-scoped cache.
// While a run is in progress the drill is reconciled every `pollMs` (health probes and the database have no watch),
// never faster; idle, it wakes at its next tick or a kept run's TTL.
// Nothing here writes to the drill's own (production) namespace except one annotation on the BackupSchedule
// (backup-now, the documented way to ask for a backup) and the drill's own status and finalizer.
import pg from 'pg';
import { manifestKeyOf } from '../../agent/layout.js';
import { Counter, Gauge } from 'prom-client';
import type { BackupScheduleSpec } from '../../crds/backupschedule.js';
import { PAUSE_ANNOTATION, Reason } from '../../crds/conditions.js';
import type { DRDrillSpec } from '../../crds/drdrill.js';
import { resourceRefOf } from '../../crds/kinds.js';
import type { SmartCloudOpsAppSpec } from '../../crds/smartcloudopsapp.js';
import { validateSpec, type FieldError } from '../../crds/validate.js';
import { isNotFound, KubeApiError, Resources, type KubeObject, type ResourceRef } from '../../kube/index.js';
import type { Capability, CapabilityLogic } from '../../runtime/children-capability.js';
import { setConditions } from '../../runtime/conditions.js';
import type { ReconcileContext } from '../../runtime/controller.js';
import type { ControllerDeps, InformerSet } from '../../runtime/manager.js';
import type { CustomObject } from '../base.js';
import { decideStatus, type Readiness } from '../status.js';
import { secretValues } from '../smartcloudopsapp/dependencies-config.js';
import { PodDisruptionBudgetRef } from '../smartcloudopsapp/desired.js';
import { httpGet, type HttpGet } from '../smartcloudopsapp/health.js';
import { releaseOf } from '../smartcloudopsapp/revision.js';
import {
  DRILL_UID_LABEL,
  drDatabaseFor,
  drNamespaceFor,
  mayDeleteNamespace,
  namespaceVerdict,
  provenNotProduction,
} from './guards.js';
import { assertReadOnlyRole, databaseIdentity, runIntegrityQuery } from './integrity.js';
import {
  appCopy,
  copySpec,
  CREATED_BY_RUN_ANNOTATION,
  databaseSecret,
  DRILL_KEY_ANNOTATION,
  DRILL_RUN_LABEL,
  namespaceObject,
  networkPolicy,
  pgSettingsOf,
  PREPARED_ANNOTATION,
  restoreJob,
  restoreJobName,
  runLabel,
  s3Secret,
  urlHostPort,
  type DrillIdentity,
  type PgTarget,
  type S3Target,
} from './objects.js';
import {
  appObservation,
  backupObservation,
  backupRequestPatch,
  restoreObservation,
  type HealthResult,
} from './observe.js';
import { newRun, plan, type DrillAction, type DrillObservations, type DrillRun } from './run.js';
import { drillStatus, recordRun } from './status.js';
import { decideTrigger } from './trigger.js';

export type DrillObject = CustomObject<DRDrillSpec>;

const APP = resourceRefOf('SmartCloudOpsApp');
const BACKUP = resourceRefOf('BackupSchedule');
const NETWORK_POLICY: ResourceRef = {
  group: 'networking.k8s.io',
  version: 'v1',
  plural: 'networkpolicies',
  kind: 'NetworkPolicy',
  namespaced: true,
};
const DRILL_SELECTOR = DRILL_UID_LABEL;
/** An effect whose result only the caches show is not repeated for this long (the cache catches up before). */
const EFFECT_TTL_MS = 15_000;
const MAX_ROUNDS = 6;
/** How long the first reconcile that needs the DR caches waits for them to sync. */
const DR_SYNC_WAIT_MS = 10_000;

export interface DrillOptions {
  agentImage?: string;
  /** The operator's own namespace: never a DR namespace. */
  operatorNamespace?: string;
  semantic(obj: DrillObject, spec: DRDrillSpec): FieldError[];
  /** How often a running drill is looked at (default 3 s; env SCO_DRILL_POLL_MS). */
  pollMs?: number;
  /** Timeout of each database connection and statement of the controller (default 10 s). */
  pgTimeoutMs?: number;
  httpGet?: HttpGet;
}

interface RunMemo {
  db?: DrillObservations['database'];
  dbGone?: boolean;
  source?: Record<string, number | { error: string }>;
  restored?: Record<string, number | { error: string }>;
  readyAt?: string;
  health?: HealthResult[];
  effects: Map<string, number>;
}

interface DrillState {
  uid: string;
  generation?: number;
  spec?: DRDrillSpec;
  errors: FieldError[];
  seeded: boolean;
  current?: DrillRun;
  history: DrillRun[];
  lastRunNowValue?: string;
  lastScheduleTime?: string;
  memos: Map<string, RunMemo>;
}

interface Refs {
  app?: KubeObject & { spec: SmartCloudOpsAppSpec };
  bs?: KubeObject & { spec: BackupScheduleSpec; status?: Record<string, unknown> };
  target?: PgTarget;
  production?: PgTarget;
  readOnly?: PgTarget;
  s3?: S3Target;
  blocked?: { reason: string; message: string };
}

interface Ext {
  now: Date;
  errors: FieldError[];
  paused: boolean;
  spec?: DRDrillSpec;
  drNamespace: string;
  current?: DrillRun;
  history: DrillRun[];
  lastRunNowValue?: string;
  lastScheduleTime?: string;
  nextScheduleTime?: string;
  blocked?: { reason: string; message: string };
  waiting?: string;
  requeueMs?: number;
}

const keyOf = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`;
const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** One connection, bounded by the timeout, always closed. */
async function withPg<T>(s: PgTarget, timeoutMs: number, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    host: s.host,
    port: s.port,
    user: s.user,
    password: s.password,
    database: s.database,
    application_name: 'smartcloudops-operator-drdrill',
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs + 1000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A database error's message without anything a Secret holds (pg messages name roles and databases, not passwords). */
const pgMessage = (err: unknown) => {
  const e = err as { message?: string; code?: string };
  return `${(e.message ?? String(err)).slice(0, 300)}${e.code ? ` (SQLSTATE ${e.code})` : ''}`;
};

export function drillLogic(deps: ControllerDeps, o: DrillOptions): CapabilityLogic<DrillObject, Ext> {
  const pollMs = o.pollMs ?? (Number(process.env.SCO_DRILL_POLL_MS) || 3000);
  const pgTimeoutMs = o.pgTimeoutMs ?? 10_000;
  const get = o.httpGet ?? httpGet;
  const states = new Map<string, DrillState>();
  const apps = deps.informer(APP);
  const schedules = deps.informer(BACKUP);
  const secrets = deps.informer(Resources.Secret);
  // The DR namespace's caches are cluster-wide (label-scoped): made on first need, so an operator without cluster-wide
  // access (a chart installed with watchNamespaces) runs every other kind, and a drill says what it lacks.
  const scope = { labelSelector: DRILL_SELECTOR, allNamespaces: true };
  let namespaces: InformerSet, jobs: InformerSet, pods: InformerSet, deployments: InformerSet, services: InformerSet;
  let drWatch: Promise<unknown> | undefined;
  let drWaited = false;
  /** The DR caches and their watches; true once they have synced. */
  async function drCaches(): Promise<boolean> {
    if (!drWatch) {
      namespaces = deps.informer(Resources.Namespace);
      jobs = deps.informer(Resources.Job, scope);
      pods = deps.informer(Resources.Pod, scope);
      deployments = deps.informer(Resources.Deployment, scope);
      services = deps.informer(Resources.Service, scope);
      drWatch = Promise.all([
        deps.watch({ resource: Resources.Namespace, map: byDrillKey }),
        deps.watch({ resource: Resources.Job, ...scope, map: byDrillKey }),
        deps.watch({ resource: Resources.Deployment, ...scope, map: byDrillKey }),
      ]);
    }
    if (!drWaited) {
      drWaited = true;
      await Promise.race([drWatch, new Promise((r) => setTimeout(r, DR_SYNC_WAIT_MS).unref())]);
    }
    return [namespaces, jobs, pods, deployments, services].every((c) => c.hasSynced());
  }
  const apply = (ref: ResourceRef, body: KubeObject) =>
    deps.client.apply(ref, body, { fieldManager: deps.applier.fieldManager, force: true, discardBody: true });

  const reg = deps.metrics.registry;
  const m = {
    runs: new Counter({
      name: 'smartcloudops_drdrill_runs_total',
      help: 'Finished DR drill runs by result',
      labelNames: ['namespace', 'name', 'result'],
      registers: [reg],
    }),
    result: new Gauge({
      name: 'smartcloudops_drdrill_last_success',
      help: '1 when the last finished drill run succeeded, 0 when it failed',
      labelNames: ['namespace', 'name'],
      registers: [reg],
    }),
    rto: new Gauge({
      name: 'smartcloudops_drdrill_last_rto_seconds',
      help: 'Measured RTO of the last drill run (recovery start to healthy)',
      labelNames: ['namespace', 'name'],
      registers: [reg],
    }),
    rpo: new Gauge({
      name: 'smartcloudops_drdrill_last_rpo_seconds',
      help: 'Measured RPO of the last drill run (age of the restored backup at recovery start)',
      labelNames: ['namespace', 'name'],
      registers: [reg],
    }),
    restore: new Gauge({
      name: 'smartcloudops_drdrill_last_restore_seconds',
      help: 'Duration of the last drill run restore',
      labelNames: ['namespace', 'name'],
      registers: [reg],
    }),
  };

  function stateOf(obj: DrillObject): DrillState {
    const k = keyOf(obj);
    let s = states.get(k);
    if (!s || s.uid !== obj.metadata.uid) {
      s = { uid: obj.metadata.uid as string, errors: [], seeded: false, history: [], memos: new Map() };
      states.set(k, s);
    }
    if (s.generation !== obj.metadata.generation || !s.spec) {
      const { spec, errors } = validateSpec<DRDrillSpec>('DRDrill', obj.spec);
      if (errors.length === 0) errors.push(...o.semantic(obj, spec));
      s.generation = obj.metadata.generation;
      s.spec = spec;
      s.errors = errors;
    }
    if (!s.seeded) {
      // A new leader (or a restart) carries on from what status recorded.
      s.seeded = true;
      const st = obj.status as
        { currentRun?: DrillRun; runs?: DrillRun[]; lastRunNowValue?: string; lastScheduleTime?: string } | undefined;
      if (st?.currentRun) s.current = structuredClone(st.currentRun);
      s.history = structuredClone(st?.runs ?? []);
      s.lastRunNowValue = st?.lastRunNowValue;
      s.lastScheduleTime = st?.lastScheduleTime;
    }
    return s;
  }

  const memoOf = (s: DrillState, runId: string): RunMemo => {
    let memo = s.memos.get(runId);
    if (!memo) s.memos.set(runId, (memo = { effects: new Map() }));
    return memo;
  };

  const secretOf = (ns: string, name: string | undefined) =>
    name ? secretValues(secrets.get(ns, name) as KubeObject | undefined) : undefined;

  /** The references a run needs, from the caches; `blocked` names the first missing one. */
  function resolve(obj: DrillObject, spec: DRDrillSpec): Refs {
    const ns = obj.metadata.namespace as string;
    const app = apps.get(ns, spec.appRef.name) as Refs['app'];
    if (!app)
      return { blocked: { reason: 'AppNotFound', message: `SmartCloudOpsApp ${spec.appRef.name} not found in ${ns}` } };
    const bs = schedules.get(ns, spec.backupScheduleRef.name) as Refs['bs'];
    if (!bs)
      return {
        app,
        blocked: {
          reason: 'BackupScheduleNotFound',
          message: `BackupSchedule ${spec.backupScheduleRef.name} not found in ${ns}`,
        },
      };
    const t = pgSettingsOf(
      secretOf(ns, spec.restore.targetSecretRef.name),
      `Secret ${ns}/${spec.restore.targetSecretRef.name} (spec.restore.targetSecretRef)`,
      'postgres',
    );
    if (!t.ok)
      return {
        app,
        bs,
        blocked: { reason: t.reason === 'SecretMissing' ? 'TargetSecretMissing' : t.reason, message: t.message },
      };
    const dbSecret = app.spec.database?.secretRef?.name;
    const p = pgSettingsOf(secretOf(ns, dbSecret), `Secret ${ns}/${dbSecret} (the app's database)`);
    if (!p.ok) return { app, bs, blocked: { reason: 'DatabaseSecretMissing', message: p.message } };
    let readOnly: PgTarget | undefined;
    if (spec.checks?.queries?.length) {
      const name = spec.checks.readOnlySecretRef?.name;
      const v = secretOf(ns, name);
      if (!v)
        return {
          app,
          bs,
          blocked: {
            reason: 'ReadOnlySecretMissing',
            message: `Secret ${ns}/${name} (spec.checks.readOnlySecretRef) does not exist`,
          },
        };
      const r = v.uri
        ? pgSettingsOf(v, `Secret ${ns}/${name}`, p.settings.database)
        : pgSettingsOf(
            { host: p.settings.host, port: String(p.settings.port), database: p.settings.database, ...v },
            `Secret ${ns}/${name}`,
          );
      if (!r.ok) return { app, bs, blocked: { reason: 'ReadOnlySecretInvalid', message: r.message } };
      readOnly = r.settings;
    }
    const d = bs.spec.destination;
    const cred = secretOf(ns, d.credentialsSecretRef.name);
    if (!cred?.AWS_ACCESS_KEY_ID || !cred.AWS_SECRET_ACCESS_KEY)
      return {
        app,
        bs,
        blocked: {
          reason: 'CredentialsSecretMissing',
          message: `Secret ${ns}/${d.credentialsSecretRef.name} (the BackupSchedule's S3 credentials) is missing or lacks AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY`,
        },
      };
    if (!(bs.spec.jobTemplate?.image ?? o.agentImage))
      return {
        app,
        bs,
        blocked: {
          reason: 'AgentImageUnknown',
          message: "no agent image: set the BackupSchedule's jobTemplate.image or the operator's --agent-image",
        },
      };
    return {
      app,
      bs,
      target: t.settings,
      production: p.settings,
      ...(readOnly ? { readOnly } : {}),
      s3: {
        bucket: d.bucket,
        region: d.region ?? 'us-east-1',
        ...(d.endpoint ? { endpoint: d.endpoint } : {}),
        forcePathStyle: d.forcePathStyle ?? false,
        accessKeyId: cred.AWS_ACCESS_KEY_ID,
        secretAccessKey: cred.AWS_SECRET_ACCESS_KEY,
        ...(cred.AWS_SESSION_TOKEN ? { sessionToken: cred.AWS_SESSION_TOKEN } : {}),
      },
    };
  }

  /** The run's database: absent, or present and proven not to be production (server identity, oid, name). */
  async function observeDatabase(run: DrillRun, refs: Refs, memo: RunMemo): Promise<DrillObservations['database']> {
    if (memo.db && memo.db.state !== 'Absent') return memo.db;
    const target = refs.target as PgTarget;
    const exists = await withPg(target, pgTimeoutMs, async (c) => {
      const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [run.drDatabase]);
      return r.rowCount === 1;
    });
    if (!exists) return (memo.db = { state: 'Absent' });
    const verdict = await (async (): Promise<DrillObservations['database']> => {
      try {
        const mine = await withPg({ ...target, database: run.drDatabase }, pgTimeoutMs, databaseIdentity);
        const prod = await withPg(refs.production as PgTarget, pgTimeoutMs, databaseIdentity);
        const v = provenNotProduction(prod, mine);
        return v.ok ? { state: 'Ready' } : { state: 'Refused', reason: v.reason, message: v.message };
      } catch (err) {
        return {
          state: 'Refused',
          reason: 'TargetUnverifiable',
          message: `the restore target could not be proven not to be production: ${pgMessage(err)}`,
        };
      }
    })();
    return (memo.db = verdict);
  }

  async function databaseGone(run: DrillRun, refs: Refs, memo: RunMemo): Promise<boolean> {
    if (memo.dbGone || !run.createdDatabase) return true;
    if (!refs.target) return false;
    const gone = await withPg(refs.target, pgTimeoutMs, async (c) => {
      const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [run.drDatabase]);
      return r.rowCount === 0;
    });
    if (gone) memo.dbGone = true;
    return gone;
  }

  async function probeHealth(drNs: string, appName: string, spec: SmartCloudOpsAppSpec): Promise<HealthResult[]> {
    const release = releaseOf(copySpec(spec), { database: ['host', 'port', 'database', 'username', 'password'] });
    return Promise.all(
      (['backend', 'frontend'] as const).map(async (component) => {
        const svc = services.get(drNs, `${appName}-${component}`) as
          (KubeObject & { spec?: { clusterIP?: string } }) | undefined;
        const ip = svc?.spec?.clusterIP;
        if (!ip || ip === 'None') return { component, ok: false, message: 'no Service address yet' };
        const c = release[component];
        const url = `http://${ip.includes(':') ? `[${ip}]` : ip}:${c.port}${c.healthPath}`;
        try {
          const r = await get(url, 2000);
          return {
            component,
            ok: r.status >= 200 && r.status < 400,
            message: `GET ${c.healthPath} answered ${r.status}`,
          };
        } catch (err) {
          return { component, ok: false, message: `GET ${c.healthPath}: ${(err as Error).message.slice(0, 200)}` };
        }
      }),
    );
  }

  async function queryAll(
    s: PgTarget,
    queries: NonNullable<NonNullable<DRDrillSpec['checks']>['queries']>,
    timeoutMs: number,
    readOnlyRole: boolean,
  ): Promise<Record<string, number | { error: string }>> {
    const out: Record<string, number | { error: string }> = {};
    try {
      await withPg(s, pgTimeoutMs, async (c) => {
        if (readOnlyRole) await assertReadOnlyRole(c);
        for (const q of queries) {
          try {
            out[q.name] = await runIntegrityQuery(c, q.sql, timeoutMs);
          } catch (err) {
            out[q.name] = { error: (err as Error).message.slice(0, 500) };
          }
        }
      });
    } catch (err) {
      for (const q of queries) out[q.name] ??= { error: pgMessage(err) };
    }
    return out;
  }

  async function observe(
    obj: DrillObject,
    spec: DRDrillSpec,
    run: DrillRun,
    refs: Refs,
    memo: RunMemo,
  ): Promise<DrillObservations> {
    const ns = obj.metadata.namespace as string;
    const step = (n: string) => run.steps.find((x) => x.name === n);
    const done = (n: string) => ['Succeeded', 'Skipped'].includes(step(n)?.phase ?? '');
    const running = run.phase === 'Running';
    const nsObj = namespaces.get(undefined, run.drNamespace);
    const identity = { namespace: ns, uid: obj.metadata.uid as string };
    const obs: DrillObservations = {
      backup:
        running && !done('TakeBackup')
          ? backupObservation(spec.backup ?? 'Fresh', spec.backupScheduleRef.name, refs.bs, run.id)
          : { state: 'Pending' },
      namespace: namespaceVerdict(run.drNamespace, nsObj, identity, o.operatorNamespace),
      namespaceReady: nsObj?.metadata.annotations?.[PREPARED_ANNOTATION] === run.id,
      database: { state: 'Absent' },
      restore: restoreObservation(
        jobs.get(run.drNamespace, restoreJobName(run.id)),
        pods.list(run.drNamespace).filter((p) => p.metadata.labels?.[DRILL_RUN_LABEL] === runLabel(run.id)),
      ),
      app: { state: 'Absent' },
      integrity: {
        ...(memo.source ? { source: memo.source } : {}),
        ...(memo.restored ? { restored: memo.restored } : {}),
      },
      cleanup: { namespaceGone: !nsObj, databaseGone: false },
    };
    if (running && done('PrepareNamespace') && (!done('RestoreData') || !done('DeployApp')) && refs.target)
      obs.database = await observeDatabase(run, refs, memo);
    else if (memo.db) obs.database = memo.db;
    if (running && refs.app) {
      const appName = refs.app.metadata.name as string;
      const deps_ = deployments
        .list(run.drNamespace)
        .filter((d) => d.metadata.labels?.[DRILL_UID_LABEL] === obj.metadata.uid);
      const atHealth =
        done('RestoreData') && done('DeployApp') && !done('HealthCheck') && spec.checks?.health !== false;
      let health: HealthResult[] | undefined;
      if (atHealth && deps_.length) health = memo.health = await probeHealth(run.drNamespace, appName, refs.app.spec);
      // Every object of the copy must be there (an apply cut short by a crash is redone).
      const complete = ['backend', 'frontend'].every((c) => !!services.get(run.drNamespace, `${appName}-${c}`));
      obs.app = appObservation(deps_, 2, atHealth ? health : undefined, memo.readyAt, complete);
      if (obs.app.state === 'Ready' && atHealth && !memo.readyAt) {
        memo.readyAt = deps.clock.now().toISOString();
        obs.app.readyAt = memo.readyAt;
      }
    }
    if (run.phase !== 'Running') obs.cleanup.databaseGone = await databaseGone(run, refs, memo);
    return obs;
  }

  /** Performs the plan's actions; true when one changed something the next round can see at once. */
  async function perform(
    obj: DrillObject,
    spec: DRDrillSpec,
    run: DrillRun,
    refs: Refs,
    memo: RunMemo,
    actions: DrillAction[],
    ctx: ReconcileContext,
  ): Promise<boolean> {
    const ns = obj.metadata.namespace as string;
    const d: DrillIdentity = { namespace: ns, name: obj.metadata.name as string, uid: obj.metadata.uid as string };
    const now = deps.clock.now().getTime();
    const once = (k: string) => {
      const at = memo.effects.get(k);
      if (at !== undefined && now - at < EFFECT_TTL_MS) return false;
      memo.effects.set(k, now);
      return true;
    };
    let again = false;
    for (const a of actions) {
      switch (a.type) {
        case 'RequestBackup': {
          const patch = backupRequestPatch(refs.bs, run.id);
          if (patch && once(a.type)) {
            await deps.client.patch(BACKUP, ns, spec.backupScheduleRef.name, patch, 'merge');
            ctx.log.info({ run: run.id, value: a.value }, 'asked the BackupSchedule for a backup');
          }
          break;
        }
        case 'CaptureSourceValues':
          if (refs.readOnly && spec.checks?.queries?.length) {
            memo.source = await queryAll(
              refs.readOnly,
              spec.checks.queries,
              (spec.checks.statementTimeoutSeconds ?? 30) * 1000,
              true,
            );
            again = true;
          }
          break;
        case 'CreateNamespace':
          if (once(a.type)) {
            try {
              await deps.client.create(Resources.Namespace, namespaceObject(d, run.drNamespace, run.id));
              ctx.log.info({ run: run.id, namespace: run.drNamespace }, 'created the DR namespace');
            } catch (err) {
              if (!(err instanceof KubeApiError && err.code === 409)) throw err;
            }
          }
          break;
        case 'PrepareNamespace': {
          if (!refs.target || !refs.s3 || !once(a.type)) break;
          const s3Endpoint = urlHostPort(refs.s3.endpoint) ?? { host: `s3.${refs.s3.region}.amazonaws.com`, port: 443 };
          const inNs = (x: KubeObject) => ({ ...x, metadata: { ...x.metadata, namespace: run.drNamespace } });
          await apply(NETWORK_POLICY, inNs(networkPolicy(d, run.id, { target: refs.target, s3: s3Endpoint })));
          await apply(Resources.Secret, inNs(databaseSecret(d, run.id, { ...refs.target, database: run.drDatabase })));
          await apply(Resources.Secret, inNs(s3Secret(d, run.id, refs.s3)));
          await deps.client.patch(
            Resources.Namespace,
            undefined,
            run.drNamespace,
            { metadata: { annotations: { [PREPARED_ANNOTATION]: run.id } } },
            'merge',
          );
          break;
        }
        case 'CreateDatabase':
          if (refs.target) {
            await withPg(refs.target, pgTimeoutMs, async (c) => {
              try {
                await c.query(`CREATE DATABASE ${quoteIdent(run.drDatabase)}`);
              } catch (err) {
                if ((err as { code?: string }).code !== '42P04') throw err; // duplicate_database: made before a crash
              }
            });
            ctx.log.info({ run: run.id, database: run.drDatabase }, 'created the DR database');
            memo.db = undefined;
            again = true;
          }
          break;
        case 'StartRestore':
          if (run.backup && refs.s3 && once(a.type)) {
            const bsSpec = refs.bs?.spec;
            const job = restoreJob(d, run.id, {
              image: (bsSpec?.jobTemplate?.image ?? o.agentImage) as string,
              manifestKey: manifestKeyOf(run.backup.key),
              s3: {
                bucket: refs.s3.bucket,
                region: refs.s3.region,
                ...(refs.s3.endpoint ? { endpoint: refs.s3.endpoint } : {}),
                forcePathStyle: refs.s3.forcePathStyle,
              },
              jobs: spec.restore.jobs ?? 2,
              activeDeadlineSeconds: spec.timeoutSeconds ?? 3600,
              ...(bsSpec?.jobTemplate ? { template: bsSpec.jobTemplate } : {}),
            });
            await apply(Resources.Job, { ...job, metadata: { ...job.metadata, namespace: run.drNamespace } });
            ctx.log.info({ run: run.id, job: restoreJobName(run.id) }, 'started the restore');
          }
          break;
        case 'DeployApp':
          if (refs.app && once(a.type)) {
            for (const c of appCopy(d, run.id, refs.app.metadata.name as string, refs.app.spec)) {
              const ref =
                c.kind === 'Deployment'
                  ? Resources.Deployment
                  : c.kind === 'Service'
                    ? Resources.Service
                    : PodDisruptionBudgetRef;
              await apply(ref, { ...c, metadata: { ...c.metadata, namespace: run.drNamespace } });
            }
            ctx.log.info({ run: run.id, namespace: run.drNamespace }, 'deployed the app copy');
          }
          break;
        case 'RunIntegrity':
          if (refs.target && spec.checks?.queries?.length) {
            memo.restored = await queryAll(
              { ...refs.target, database: run.drDatabase },
              spec.checks.queries,
              (spec.checks.statementTimeoutSeconds ?? 30) * 1000,
              false,
            );
            again = true;
          }
          break;
        case 'DeleteNamespace': {
          const existing = namespaces.get(undefined, run.drNamespace);
          if (existing && mayDeleteNamespace(existing, d.uid, [run.drNamespace]) && once(a.type)) {
            await deleteNamespace(existing);
            ctx.log.info({ run: run.id, namespace: run.drNamespace }, 'deleting the DR namespace');
          }
          break;
        }
        case 'DropDatabase':
          if (refs.target && run.createdDatabase) {
            await dropDatabase(refs.target, run.drDatabase);
            memo.dbGone = true;
            ctx.log.info({ run: run.id, database: run.drDatabase }, 'dropped the DR database');
            again = true;
          }
          break;
      }
    }
    return again;
  }

  async function deleteNamespace(existing: KubeObject): Promise<void> {
    try {
      await deps.client.delete(Resources.Namespace, undefined, existing.metadata.name as string, {
        preconditions: { uid: existing.metadata.uid },
      });
    } catch (err) {
      if (!isNotFound(err) && !(err instanceof KubeApiError && err.code === 409)) throw err;
    }
  }

  async function dropDatabase(target: PgTarget, database: string): Promise<void> {
    // Only a database whose name the drill derives (scodr_…): never anything a Secret or a spec names.
    if (!/^scodr_[0-9a-f]{8}_[a-z0-9]+$/.test(database)) throw new Error(`refusing to drop ${database}`);
    await withPg(target, pgTimeoutMs, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`));
  }

  function announce(obj: DrillObject, before: DrillRun, after: DrillRun): void {
    const ns = obj.metadata.namespace as string;
    const name = obj.metadata.name as string;
    if (before.phase === 'Running' && after.phase !== 'Running') {
      const ok = after.phase === 'Succeeded';
      m.runs.inc({ namespace: ns, name, result: after.phase });
      m.result.set({ namespace: ns, name }, ok ? 1 : 0);
      if (after.rtoSeconds !== undefined) m.rto.set({ namespace: ns, name }, after.rtoSeconds);
      if (after.rpoSeconds !== undefined) m.rpo.set({ namespace: ns, name }, after.rpoSeconds);
      if (after.restoreSeconds !== undefined) m.restore.set({ namespace: ns, name }, after.restoreSeconds);
      const figures = `RTO ${after.rtoSeconds ?? '?'}s, RPO ${after.rpoSeconds ?? '?'}s${after.objectivesMet === false ? ' (objectives missed)' : ''}`;
      deps.events.event(
        obj,
        ok ? 'Normal' : 'Warning',
        ok ? 'DrillSucceeded' : 'DrillFailed',
        `run ${after.id}: ${after.message ?? after.phase}; ${figures}`.slice(0, 1000),
      );
    }
    if (!before.cleanedUp && after.cleanedUp)
      deps.events.event(
        obj,
        'Normal',
        'CleanedUp',
        `run ${after.id}: ${after.drNamespace} and ${after.drDatabase} removed`,
      );
  }

  return {
    for: resourceRefOf('DRDrill'),
    forget(namespace, name) {
      states.delete(`${namespace}/${name}`);
    },

    async prepare(obj, _observed, ctx): Promise<Ext> {
      const now = deps.clock.now();
      const s = stateOf(obj);
      const ns = obj.metadata.namespace as string;
      const name = obj.metadata.name as string;
      const drNamespace = drNamespaceFor(ns, name);
      const base: Ext = {
        now,
        errors: s.errors,
        paused: obj.metadata.annotations?.[PAUSE_ANNOTATION] === 'true',
        drNamespace,
        ...(s.current ? { current: s.current } : {}),
        history: s.history,
        ...(s.lastRunNowValue !== undefined ? { lastRunNowValue: s.lastRunNowValue } : {}),
        ...(s.lastScheduleTime ? { lastScheduleTime: s.lastScheduleTime } : {}),
      };
      if (s.errors.length || base.paused || !s.spec) return base;
      const spec = s.spec;
      const refs = resolve(obj, spec);
      const pending = !!s.current || s.history.some((r) => !r.cleanedUp);
      if ((!refs.blocked || pending) && !(await drCaches()))
        return {
          ...base,
          spec,
          blocked: {
            reason: 'ClusterAccessMissing',
            message:
              'the DR caches have not synced: a drill needs cluster-wide list/watch of namespaces, jobs, pods, deployments and services (the ClusterRole bound cluster-wide, not only in watchNamespaces)',
          },
          requeueMs: 30_000,
        };

      // Start a run when one is due and nothing of an earlier run is left.
      const busy = pending || (!refs.blocked && !!namespaces.get(undefined, drNamespace)?.metadata.deletionTimestamp);
      const t = decideTrigger({
        ...(spec.schedule ? { schedule: spec.schedule } : {}),
        ...(spec.timeZone ? { timeZone: spec.timeZone } : {}),
        annotations: obj.metadata.annotations ?? {},
        ...(s.lastRunNowValue !== undefined ? { lastRunNowValue: s.lastRunNowValue } : {}),
        ...(s.lastScheduleTime ? { lastScheduleTime: s.lastScheduleTime } : {}),
        createdAt: new Date(obj.metadata.creationTimestamp as string),
        now,
        busy: busy || !!refs.blocked,
      });
      if (t.start && !refs.blocked) {
        s.current = newRun(t.start.id, t.start.trigger, now, drNamespace, drDatabaseFor(ns, name, t.start.id));
        s.lastRunNowValue = t.lastRunNowValue;
        s.lastScheduleTime = t.lastScheduleTime;
        ctx.log.info({ run: t.start.id, trigger: t.start.trigger }, 'drill run started');
        deps.events.event(obj, 'Normal', 'DrillStarted', `run ${t.start.id} (${t.start.trigger}) into ${drNamespace}`);
      }

      // Plan the running run and every finished run that still has something to clean up.
      let wake: number | undefined;
      const limit = spec.historyLimit ?? 12;
      const work = [...(s.current ? [s.current] : []), ...s.history.filter((r) => !r.cleanedUp)];
      for (const start of work) {
        const memo = memoOf(s, start.id);
        let run = start;
        for (let round = 0; round < MAX_ROUNDS; round++) {
          const obs = await observe(obj, spec, run, refs, memo);
          const p = plan(spec, run, obs, deps.clock.now());
          // Recorded as created by this run even when a crash lost the status write (the name is the run's own).
          if (
            obs.namespace.action === 'use' &&
            namespaces.get(undefined, run.drNamespace)?.metadata.annotations?.[CREATED_BY_RUN_ANNOTATION] === run.id
          )
            p.run.createdNamespace = true;
          if (obs.database.state !== 'Absent' && obs.database.state !== 'Unreachable') p.run.createdDatabase = true;
          announce(obj, run, p.run);
          run = p.run;
          if (p.wakeAt) wake = Math.min(wake ?? Infinity, Date.parse(p.wakeAt));
          if (!p.actions.length) break;
          if (!(await perform(obj, spec, run, refs, memo, p.actions, ctx))) break;
        }
        if (run.phase === 'Running') s.current = run;
        else {
          if (s.current?.id === run.id) s.current = undefined;
          s.history = recordRun(s.history, run, limit);
        }
        if (run.cleanedUp) s.memos.delete(run.id);
      }
      const running = s.current?.phase === 'Running';
      const waits = [
        running ? pollMs : undefined,
        wake ? wake - now.getTime() : undefined,
        t.nextScheduleTime ? Date.parse(t.nextScheduleTime) - now.getTime() : undefined,
      ].filter((x): x is number => x !== undefined && Number.isFinite(x));
      return {
        ...base,
        spec,
        ...(s.current ? { current: s.current } : { current: undefined }),
        history: s.history,
        ...(s.lastRunNowValue !== undefined ? { lastRunNowValue: s.lastRunNowValue } : {}),
        ...(s.lastScheduleTime ? { lastScheduleTime: s.lastScheduleTime } : {}),
        ...(t.nextScheduleTime ? { nextScheduleTime: t.nextScheduleTime } : {}),
        ...(refs.blocked ? { blocked: refs.blocked } : {}),
        ...(t.waiting ? { waiting: t.waiting } : {}),
        ...(waits.length ? { requeueMs: Math.max(1000, Math.min(...waits)) } : {}),
      };
    },

    desired: () => undefined,

    status(obj, _observed, observations, ext) {
      const now = observations.now;
      const gen = obj.metadata.generation;
      const prev = obj.status as Record<string, unknown> | undefined;
      const fields = {
        drNamespace: ext.drNamespace,
        ...(ext.lastScheduleTime ? { lastScheduleTime: ext.lastScheduleTime } : {}),
        ...(ext.nextScheduleTime ? { nextScheduleTime: ext.nextScheduleTime } : {}),
        ...(ext.lastRunNowValue !== undefined ? { lastRunNowValue: ext.lastRunNowValue } : {}),
        ...(ext.current ? { currentRun: ext.current } : {}),
        ...(ext.history.length ? { runs: ext.history } : {}),
      };
      if (ext.errors.length || ext.paused || !ext.spec) {
        const d = decideStatus({
          kind: 'DRDrill',
          generation: gen,
          previous: obj.status,
          errors: ext.errors,
          paused: ext.paused,
          now,
          readiness: { status: 'Unknown', reason: 'NoRunYet', message: '' },
        });
        const keep = Object.fromEntries(
          Object.entries(prev ?? {}).filter(([k]) => k !== 'conditions' && k !== 'observedGeneration'),
        );
        const status = { ...keep, ...fields, ...d.status };
        if (!d.invalidEvent) return { status };
        return {
          status,
          event: { type: 'Warning', reason: Reason.InvalidSpec, message: d.invalidEvent },
          terminal: `invalid spec: ${d.invalidEvent}`,
        };
      }
      const view = drillStatus(ext.current, ext.history);
      let readiness: Readiness = view.readiness;
      if (ext.blocked && !ext.current)
        readiness = { status: 'False', reason: ext.blocked.reason, message: ext.blocked.message, stalled: false };
      else if (ext.waiting && !ext.current)
        readiness = { ...readiness, message: `${readiness.message}; ${ext.waiting}`, progressing: true };
      const d = decideStatus({
        kind: 'DRDrill',
        generation: gen,
        previous: obj.status,
        errors: [],
        paused: false,
        now,
        readiness,
      });
      const conditions = setConditions(d.status.conditions as never, view.conditions, gen, now);
      return {
        status: { observedGeneration: gen, conditions, ...fields },
        ...(ext.requeueMs ? { requeueAfterMs: ext.requeueMs } : {}),
      };
    },

    async finalize(obj, ctx) {
      // Deleting the drill removes what its runs left: the DR namespace (only when it carries this drill's uid and a
      // run recorded creating it) and the runs' databases (only names the drill derives).
      const s = stateOf(obj);
      const ns = obj.metadata.namespace as string;
      const runs = [...(s.current ? [s.current] : []), ...s.history].filter((r) => !r.cleanedUp);
      if (!runs.length) {
        states.delete(keyOf(obj));
        return;
      }
      if (!(await drCaches())) throw new Error('the DR caches have not synced: cannot clean up the drill yet');
      const existing = namespaces.get(undefined, drNamespaceFor(ns, obj.metadata.name as string));
      const recorded = runs.filter((r) => r.createdNamespace).map((r) => r.drNamespace);
      if (existing && mayDeleteNamespace(existing, obj.metadata.uid as string, recorded)) {
        await deleteNamespace(existing);
        ctx.log.info({ namespace: existing.metadata.name }, 'deleted the DR namespace of a deleted drill');
      }
      const dbs = runs.filter((r) => r.createdDatabase).map((r) => r.drDatabase);
      if (dbs.length && s.spec) {
        const t = pgSettingsOf(
          secretOf(ns, s.spec.restore.targetSecretRef.name),
          'the restore target Secret',
          'postgres',
        );
        if (!t.ok) {
          ctx.log.warn({ databases: dbs, reason: t.reason }, 'cannot drop the DR databases of a deleted drill');
          deps.events.event(
            obj,
            'Warning',
            'CleanupIncomplete',
            `databases ${dbs.join(', ')} could not be dropped: ${t.message}`,
          );
        } else for (const db of dbs) await dropDatabase(t.settings, db);
      }
      states.delete(keyOf(obj));
    },
  };
}

/** Drills to reconcile when a watched object changes: by the drill-key annotation on DR objects. */
const byDrillKey = (o: KubeObject) => {
  const k = o.metadata.annotations?.[DRILL_KEY_ANNOTATION];
  return k ? [k] : [];
};

export function drillCapability(o: DrillOptions): Capability<DrillObject, Ext> {
  const stub = (): never => {
    throw new Error('bound per manager');
  };
  const drillsIn = (deps: { list(ns?: string): KubeObject[] } | undefined, ns: string) => deps?.list(ns) ?? [];
  let cache: { list(ns?: string): KubeObject[] } | undefined;
  const referencing = (o2: KubeObject, field: 'appRef' | 'backupScheduleRef') =>
    drillsIn(cache, o2.metadata.namespace as string)
      .filter((d) => (d as DrillObject).spec?.[field]?.name === o2.metadata.name)
      .map(keyOf);
  return {
    name: 'drdrill',
    for: resourceRefOf('DRDrill'),
    watches: [
      { resource: APP, map: (a) => referencing(a, 'appRef') },
      { resource: BACKUP, map: (b) => referencing(b, 'backupScheduleRef') },
      {
        resource: Resources.Secret,
        map: (sec) =>
          drillsIn(cache, sec.metadata.namespace as string)
            .filter((d) => {
              const sp = (d as DrillObject).spec;
              return (
                sp?.restore?.targetSecretRef?.name === sec.metadata.name ||
                sp?.checks?.readOnlySecretRef?.name === sec.metadata.name
              );
            })
            .map(keyOf),
      },
    ],
    rbac: [
      // The DR caches are made on first need (not declared as watches): their list/watch is declared here.
      { apiGroups: [''], resources: ['namespaces'], verbs: ['create', 'delete', 'patch', 'get', 'list', 'watch'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['list', 'watch'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['list', 'watch'] },
      { apiGroups: [''], resources: ['secrets', 'services'], verbs: ['create', 'patch'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['create', 'patch'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'patch'] },
      { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['create', 'patch'] },
      { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['create', 'patch'] },
      { apiGroups: [BACKUP.group], resources: [BACKUP.plural], verbs: ['patch'] },
      { apiGroups: [''], resources: ['pods', 'services'], verbs: ['list', 'watch'] },
    ],
    desired: stub,
    status: stub,
    finalize: stub as never,
    bind: (deps) => {
      cache = deps.cache;
      return drillLogic(deps, o);
    },
  };
}
