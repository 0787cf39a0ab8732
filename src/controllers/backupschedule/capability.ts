// The BackupSchedule capability on the seam (runtime/children-capability.ts):
//   prepare  — the I/O outside the caches, each bounded: validates (memoised per generation), resolves the Secrets
//              from the operator's Secret cache (shared with SmartCloudOpsApp; a change to a referenced Secret
//              enqueues the schedules that reference it), lists this schedule's S3 folder and reads new manifests when a
//              run finished, the listing is older than RELIST_MS or the destination changed, judges finished Jobs
//              (success only from S3: manifest valid, object of its size), and applies retention (deletions are
//              effects, not children: logged, counted, in status); then plans the Jobs (plan.ts, pure).
//   desired  — the planned Jobs: the seam creates the new one by server-side apply under its deterministic name (the
//              lock: after a restart the Job is in the cache and is adopted, a second apply of the same tick changes
//              nothing) and deletes the ones dropped (history beyond historyLimit, a Job replaced under Replace).
//   status   — conditions and fields (status.ts, pure), requeue at the next tick, the staleness deadline or the
//              next listing — never a poll.
// As the CronJob controller (pkg/controller/cronjob/cronjob_controllerv2.go): one Job per tick, startingDeadlineSeconds,
// concurrencyPolicy, historyLimit; unlike it, success is decided from the stored backup, not the Job's exit code.
import { Counter, Gauge } from 'prom-client';
import { scheduleFolder } from '../../agent/layout.js';
import { PAUSE_ANNOTATION, Reason } from '../../crds/conditions.js';
import type { BackupScheduleSpec } from '../../crds/backupschedule.js';
import { resourceRefOf } from '../../crds/kinds.js';
import { validateSpec, type FieldError } from '../../crds/validate.js';
import { Resources, type KubeObject } from '../../kube/index.js';
import type { Capability, CapabilityLogic } from '../../runtime/children-capability.js';
import type { ControllerDeps, InformerSet } from '../../runtime/manager.js';
import type { CustomObject } from '../base.js';
import { decideStatus } from '../status.js';
import { agentAccess, jobParams, LABEL_RUN, ANN_SCHEDULE_NAME, type JobParams } from './job.js';
import {
  runObjects,
  groupByRun,
  judgeJob,
  jobPhase,
  verdictOf,
  type JobLike,
  type PodLike,
  type RunResult,
  type StoredBackup,
} from './judge.js';
import { planSchedule, type SchedulePlan } from './plan.js';
import { planRetention, type RetentionPlan } from './retention.js';
import { cronOf, scheduleFolderName } from './schedule.js';
import { backupStatus, HISTORY_LIMIT, lastSuccess, withConditions, type StoreView } from './status.js';
import { BackupStore, StoreError, type Destination } from './store.js';

export const RELIST_MS = 10 * 60_000;
const ERROR_BACKOFF_MS = [15_000, 30_000, 60_000, 120_000, 300_000];
const WATCH_SYNC_TIMEOUT_MS = 10_000;

export type BackupScheduleObject = CustomObject<BackupScheduleSpec>;

export interface BackupOptions {
  /** The operator's own image: the agent runs from it unless spec.jobTemplate.image says otherwise. */
  agentImage?: string;
  /** The semantic checks of the spec (controller.ts). */
  semantic(obj: BackupScheduleObject, spec: BackupScheduleSpec): FieldError[];
}

interface Ext {
  now: Date;
  errors: FieldError[];
  paused: boolean;
  spec?: BackupScheduleSpec;
  blocked?: { reason: string; message: string };
  plan?: SchedulePlan;
  store: StoreView;
  history: RunResult[];
  retention: ObjState['retention'];
  jobOfRun: Map<string, string>;
  requeueMs?: number;
  verified?: ReturnType<typeof lastVerified>;
}

interface ObjState {
  uid: string;
  generation?: number;
  spec?: BackupScheduleSpec;
  errors: FieldError[];
  destKey?: string;
  store: StoreView;
  errorCount: number;
  nextListAt: number;
  /** Finished runs by Job name (seeded from status.history once). */
  runs: Map<string, RunResult>;
  seeded: boolean;
  retention: {
    plan?: RetentionPlan;
    deletedTotal: number;
    lastDeleted: string[];
    lastRunTime?: Date;
    error?: { reason: string; message: string };
  };
}

const APP = resourceRefOf('SmartCloudOpsApp');
const DRILL = resourceRefOf('DRDrill');
const key = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`;
const b64 = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));

/** A referenced Secret as the cache holds it: null when it does not exist. */
interface SecretSnapshot {
  secret?: (KubeObject & { data?: Record<string, string> }) | null;
  error?: string;
}

/** The schedules (namespace/name) that reference each Secret (namespace/name): the Secret watch's map. */
type SecretOwners = Map<string, Set<string>>;

/** Secrets read from the cache; `want` registers the reference so that a change to the Secret enqueues its owner. */
function cachedSecrets(cache: InformerSet, owners: SecretOwners) {
  return {
    async want(namespace: string, name: string, owner: string): Promise<SecretSnapshot> {
      const k = `${namespace}/${name}`;
      let set = owners.get(k);
      if (!set) owners.set(k, (set = new Set()));
      set.add(owner);
      const secret = cache.get(namespace, name) as (KubeObject & { data?: Record<string, string> }) | undefined;
      return { secret: secret ?? null };
    },
    /** Drops `owner`'s references except `keep` (namespace/name). */
    forget(owner: string, keep: string[] = []): void {
      for (const [k, set] of owners) {
        if (keep.includes(k)) continue;
        set.delete(owner);
        if (!set.size) owners.delete(k);
      }
    },
  };
}

export function backupLogic(
  deps: ControllerDeps,
  o: BackupOptions,
  secretOwners: SecretOwners = new Map(),
): CapabilityLogic<BackupScheduleObject, Ext> {
  const store = new BackupStore();
  deps.onStop(() => store.stop());
  const states = new Map<string, ObjState>();
  const apps = deps.informer(APP);
  const drills = deps.informer(DRILL);
  const pods = deps.informer(Resources.Pod, LABEL_RUN);
  const reg = deps.metrics.registry;
  const m = {
    lastSuccess: new Gauge({
      name: 'smartcloudops_backup_last_success_timestamp_seconds',
      help: 'Completion time of the newest verified backup',
      labelNames: ['namespace', 'name'],
      registers: [reg],
    }),
    duration: new Gauge({
      name: 'smartcloudops_backup_last_duration_seconds',
      help: 'Duration of the newest verified backup',
      labelNames: ['namespace', 'name'],
      registers: [reg],
    }),
    size: new Gauge({
      name: 'smartcloudops_backup_last_size_bytes',
      help: 'Size of the newest verified backup',
      labelNames: ['namespace', 'name'],
      registers: [reg],
    }),
    failures: new Counter({
      name: 'smartcloudops_backup_failures_total',
      help: 'Failed backup runs by reason',
      labelNames: ['namespace', 'name', 'reason'],
      registers: [reg],
    }),
    successes: new Counter({
      name: 'smartcloudops_backup_successes_total',
      help: 'Verified backup runs',
      labelNames: ['namespace', 'name'],
      registers: [reg],
    }),
    deleted: new Counter({
      name: 'smartcloudops_backup_retention_deleted_total',
      help: 'Backups deleted by retention',
      labelNames: ['namespace', 'name'],
      registers: [reg],
    }),
    s3Requests: new Counter({
      name: 'smartcloudops_backup_s3_requests_total',
      help: 'S3 requests of the controller by operation and result',
      labelNames: ['op', 'result'],
      registers: [reg],
    }),
  };

  const enqueueFor = (ns: string, match: (bs: BackupScheduleObject) => boolean) =>
    (deps.cache.list(ns) as BackupScheduleObject[]).filter(match).map(key);

  const secrets = cachedSecrets(deps.informer(Resources.Secret), secretOwners);

  // The app's database Secret changes with the app: reconcile the schedules that back it up (added on first use:
  // watches cannot be added while the manager builds this controller).
  let appWatch: Promise<void> | undefined;
  const watchApps = () =>
    (appWatch ??= deps.watch({
      resource: APP,
      map: (a) => enqueueFor(a.metadata.namespace as string, (bs) => bs.spec?.appRef?.name === a.metadata.name),
    }));

  function stateOf(obj: BackupScheduleObject): ObjState {
    const k = key(obj);
    let s = states.get(k);
    if (!s || s.uid !== obj.metadata.uid) {
      s = {
        uid: obj.metadata.uid as string,
        errors: [],
        store: { backups: [] },
        errorCount: 0,
        nextListAt: 0,
        runs: new Map(),
        seeded: false,
        retention: { deletedTotal: 0, lastDeleted: [] },
      };
      states.set(k, s);
    }
    if (s.generation !== obj.metadata.generation || !s.spec) {
      const { spec, errors } = validateSpec<BackupScheduleSpec>('BackupSchedule', obj.spec);
      if (errors.length === 0) errors.push(...o.semantic(obj, spec));
      s.generation = obj.metadata.generation;
      s.spec = spec;
      s.errors = errors;
    }
    if (!s.seeded) {
      s.seeded = true;
      const st = obj.status as { history?: RunResult[]; retention?: { deleted?: number } } | undefined;
      for (const h of st?.history ?? [])
        s.runs.set(h.job, { ...h, at: (h as { finishedAt?: string }).finishedAt ?? h.at ?? '' });
      s.retention.deletedTotal = st?.retention?.deleted ?? 0;
    }
    return s;
  }

  /** What a new Job needs, or why it cannot be made now. */
  async function resolve(
    obj: BackupScheduleObject,
    spec: BackupScheduleSpec,
  ): Promise<{ params?: JobParams; dest?: Destination; blocked?: { reason: string; message: string } }> {
    const ns = obj.metadata.namespace as string;
    const image = spec.jobTemplate?.image ?? o.agentImage;
    let dbSecret = spec.database?.secretRef.name;
    if (spec.appRef) {
      await Promise.race([watchApps(), new Promise((r) => setTimeout(r, WATCH_SYNC_TIMEOUT_MS).unref())]);
      const app = apps.get(ns, spec.appRef.name) as
        { spec?: { database?: { secretRef?: { name?: string } } } } | undefined;
      if (!app)
        return {
          blocked: { reason: 'AppNotFound', message: `SmartCloudOpsApp ${spec.appRef.name} not found in ${ns}` },
        };
      dbSecret = app.spec?.database?.secretRef?.name;
    }
    const credName = spec.destination.credentialsSecretRef.name;
    const owner = key(obj);
    const wanted = [credName, ...(dbSecret ? [dbSecret] : [])];
    secrets.forget(
      owner,
      wanted.map((n) => `${ns}/${n}`),
    ); // a Secret no longer referenced
    const credSnap = await secrets.want(ns, credName, owner);
    const dbSnap = dbSecret ? await secrets.want(ns, dbSecret, owner) : undefined;
    const unreadable = [credSnap, dbSnap].find((x) => x && x.secret === undefined);
    if (unreadable) {
      return {
        blocked: {
          reason: 'SecretUnreadable',
          message: `a referenced Secret could not be read: ${unreadable.error ?? 'unknown'}`,
        },
      };
    }
    const cred = credSnap.secret;
    if (!cred) {
      return {
        blocked: {
          reason: 'CredentialsSecretMissing',
          message: `Secret ${credName} (spec.destination.credentialsSecretRef) not found in ${ns}`,
        },
      };
    }
    const accessKeyId = b64(cred.data?.AWS_ACCESS_KEY_ID);
    const secretAccessKey = b64(cred.data?.AWS_SECRET_ACCESS_KEY);
    if (!accessKeyId || !secretAccessKey) {
      return {
        blocked: {
          reason: 'CredentialsKeyMissing',
          message: `Secret ${credName} lacks AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY`,
        },
      };
    }
    const sessionToken = b64(cred.data?.AWS_SESSION_TOKEN);
    const d = spec.destination;
    const dest: Destination = {
      bucket: d.bucket,
      region: d.region ?? 'us-east-1',
      ...(d.endpoint ? { endpoint: d.endpoint } : {}),
      forcePathStyle: d.forcePathStyle ?? false,
      credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
    };
    if (dbSecret && spec.include?.database !== false) {
      const db = dbSnap?.secret;
      if (!db)
        return {
          dest,
          blocked: {
            reason: 'DatabaseSecretMissing',
            message: `Secret ${dbSecret} (the database connection) not found in ${ns}`,
          },
        };
      if (!db.data?.uri && !db.data?.host) {
        return {
          dest,
          blocked: { reason: 'DatabaseSecretInvalid', message: `Secret ${dbSecret} has neither "uri" nor "host"` },
        };
      }
    }
    if (!image) {
      return {
        dest,
        blocked: {
          reason: 'AgentImageUnknown',
          message: "no agent image: set spec.jobTemplate.image or the operator's --agent-image",
        },
      };
    }
    const folder = scheduleFolderName(ns, obj.metadata.name as string);
    return {
      dest,
      params: jobParams(spec, { namespace: ns, folder, image, ...(dbSecret ? { databaseSecret: dbSecret } : {}) }),
    };
  }

  async function relist(
    s: ObjState,
    dest: Destination,
    folder: string,
    now: Date,
    ctx: { log: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void } },
  ): Promise<void> {
    try {
      const objects = await store.list(dest, folder);
      m.s3Requests.inc({ op: 'list', result: 'ok' });
      const runs = groupByRun(objects);
      const etags = new Map(objects.map((x) => [x.key, x.etag]));
      const backups: StoredBackup[] = [];
      for (const b of runs.values()) {
        if (b.manifestKey) {
          const r = await store.manifest(dest, b.manifestKey, etags.get(b.manifestKey) ?? '');
          if (r.manifest) b.manifest = r.manifest;
          if (r.error) b.manifestError = r.error;
        }
        backups.push(b);
      }
      s.store = { listedAt: now, backups };
      s.errorCount = 0;
      s.nextListAt = now.getTime() + RELIST_MS;
    } catch (err) {
      const e = err instanceof StoreError ? err : new StoreError('StorageError', (err as Error).message);
      m.s3Requests.inc({ op: 'list', result: e.reason });
      s.store = { ...s.store, error: { reason: e.reason, message: e.message.slice(0, 1000) } };
      const wait = ERROR_BACKOFF_MS[Math.min(s.errorCount, ERROR_BACKOFF_MS.length - 1)] as number;
      s.errorCount++;
      s.nextListAt = now.getTime() + wait;
      ctx.log.warn({ reason: e.reason, retryInMs: wait }, 'listing the backup folder failed');
    }
  }

  return {
    for: resourceRefOf('BackupSchedule'),
    owns: BACKUP_OWNS,
    forget(namespace, name) {
      const k = `${namespace}/${name}`;
      states.delete(k);
      secrets.forget(k);
      for (const g of [m.lastSuccess, m.duration, m.size, m.successes, m.deleted]) g.remove({ namespace, name });
    },

    async prepare(obj, observed, ctx): Promise<Ext> {
      const now = deps.clock.now();
      const s = stateOf(obj);
      const base: Ext = {
        now,
        errors: s.errors,
        paused: obj.metadata.annotations?.[PAUSE_ANNOTATION] === 'true',
        store: s.store,
        history: [],
        retention: s.retention,
        jobOfRun: new Map(),
      };
      if (s.errors.length || base.paused || !s.spec) return base;
      const spec = s.spec;
      const ns = obj.metadata.namespace as string;
      const name = obj.metadata.name as string;
      const { params, dest, blocked } = await resolve(obj, spec);
      const jobs = observed.of('Job', 'batch') as JobLike[];
      const folder = scheduleFolder(spec.destination.prefix ?? '', scheduleFolderName(ns, name));

      // List again when a finished Job awaits judgement, when due, or when the destination changed.
      const unjudged = jobs.filter((j) => jobPhase(j) !== 'Active' && !s.runs.has(j.metadata.name as string));
      const destKey = dest
        ? `${JSON.stringify({ ...dest, credentials: undefined })}/${folder}/${dest.credentials?.accessKeyId}`
        : undefined;
      let listedNow = false;
      if (dest && (destKey !== s.destKey || now.getTime() >= s.nextListAt || (unjudged.length > 0 && !s.store.error))) {
        if (destKey !== s.destKey) s.store = { backups: [] };
        s.destKey = destKey;
        await relist(s, dest, folder, now, ctx);
        listedNow = !s.store.error;
      }
      const byRun = new Map<string, StoredBackup>();
      for (const b of s.store.backups) byRun.set(b.runId, b);
      const lookup = s.store.listedAt && !s.store.error ? (runId: string) => byRun.get(runId) : undefined;

      // Judge finished Jobs (once each); count and announce new outcomes.
      for (const j of unjudged) {
        const runPods = pods
          .list(ns)
          .filter(
            (p) =>
              p.metadata.labels?.[LABEL_RUN] === j.metadata.labels?.[LABEL_RUN] &&
              p.metadata.annotations?.[ANN_SCHEDULE_NAME] === name,
          ) as PodLike[];
        const r = judgeJob(j, runPods, lookup);
        if (!r) continue;
        s.runs.set(r.job, r);
        if (r.result === 'Succeeded') {
          m.successes.inc({ namespace: ns, name });
          ctx.log.info({ job: r.job, key: r.key }, 'backup succeeded');
          deps.events.event(obj, 'Normal', 'BackupSucceeded', `${r.job} stored ${r.key}`);
        } else {
          m.failures.inc({ namespace: ns, name, reason: r.reason ?? 'Failed' });
          ctx.log.warn({ job: r.job, reason: r.reason }, 'backup failed');
          deps.events.event(obj, 'Warning', 'BackupFailed', `${r.job}: ${r.reason}: ${r.message ?? ''}`);
        }
      }
      const history = [...s.runs.values()].sort((a, b) => (b.at || '').localeCompare(a.at || ''));
      // Remember only what history can show, plus the Jobs still in the cache (their outcome must not be counted twice).
      const present = new Set(jobs.map((j) => j.metadata.name as string));
      for (const [n] of s.runs)
        if (!present.has(n) && !history.slice(0, HISTORY_LIMIT).some((h) => h.job === n)) s.runs.delete(n);

      // Retention, after a fresh listing only; never when the listing failed or the newest run failed.
      if (listedNow && dest) {
        const plan = planRetention({
          backups: s.store.backups,
          keepDays: spec.retention?.keepDays ?? 30,
          minKeep: spec.retention?.minKeep ?? 3,
          now,
          lastRun: history[0]?.result,
        });
        s.retention.plan = plan;
        s.retention.lastRunTime = now;
        s.retention.error = undefined;
        const deleted: string[] = [];
        try {
          for (const b of plan.pruned) {
            for (const k of [b.manifestKey, ...Object.keys(runObjects(b))]) {
              if (!k) continue;
              await store.delete(dest, k);
              m.s3Requests.inc({ op: 'delete', result: 'ok' });
              deleted.push(k);
              ctx.log.info({ key: k, startedAt: b.startedAt.toISOString() }, 'retention deleted a backup object');
            }
            m.deleted.inc({ namespace: ns, name });
            s.retention.deletedTotal++;
          }
        } catch (err) {
          const e = err as StoreError;
          s.retention.error = { reason: 'DeleteFailed', message: e.message.slice(0, 1000) };
        }
        if (deleted.length) {
          s.retention.lastDeleted = deleted.slice(-20);
          const gone = new Set(deleted);
          s.store = {
            ...s.store,
            backups: s.store.backups.filter((b) => !gone.has(b.manifestKey ?? '')),
          };
          deps.events.event(
            obj,
            'Normal',
            'BackupsPruned',
            `retention deleted ${plan.pruned.length} backup(s) older than ${spec.retention?.keepDays ?? 30} days`,
          );
        }
      }

      const jobOfRun = new Map<string, string>();
      for (const j of jobs) jobOfRun.set(j.metadata.labels?.[LABEL_RUN] ?? '', j.metadata.name as string);
      for (const h of history) if (!jobOfRun.has(h.runId)) jobOfRun.set(h.runId, h.job);

      const good = lastSuccess(s.store, jobOfRun);
      if (good) {
        m.lastSuccess.set({ namespace: ns, name }, new Date(good.completedAt).getTime() / 1000);
        m.size.set({ namespace: ns, name }, good.size);
        m.duration.set({ namespace: ns, name }, Number.parseFloat(good.duration));
      }
      const plan = planSchedule({
        name,
        createdAt: new Date(obj.metadata.creationTimestamp as string),
        spec,
        annotations: obj.metadata.annotations ?? {},
        status: obj.status as SchedulePlanStatus,
        jobs,
        now,
        ...(params && !blocked ? { params } : {}),
        judged: new Set(s.runs.keys()),
        suspended: !!spec.suspend,
      });
      if (plan.created)
        ctx.log.info(
          { job: plan.created.name, trigger: plan.created.trigger, tick: plan.created.scheduledAt.toISOString() },
          'starting a backup run',
        );
      for (const r of plan.replaced) {
        s.runs.set(r, {
          job: r,
          runId: '',
          trigger: 'Schedule',
          result: 'Failed',
          reason: 'Replaced',
          message: 'replaced by a newer run (concurrencyPolicy Replace)',
          at: now.toISOString(),
        });
        m.failures.inc({ namespace: ns, name, reason: 'Replaced' });
      }
      // Look again at the next tick and, while S3 can be reached with the credentials at hand, at the next listing.
      const waits = [plan.nextScheduleTime?.getTime(), dest ? s.nextListAt : undefined]
        .filter((x): x is number => x !== undefined && x > now.getTime())
        .map((t) => t - now.getTime());
      return {
        ...base,
        spec,
        ...(blocked ? { blocked } : {}),
        plan,
        store: s.store,
        history: [...s.runs.values()].sort((a, b) => (b.at || '').localeCompare(a.at || '')),
        retention: s.retention,
        jobOfRun,
        requeueMs: Math.max(1000, Math.min(...waits, RELIST_MS)),
        verified: lastVerified(drills.list(ns) as DrillLike[], name),
      };
    },

    desired(obj, _observed, ext) {
      const jobs = ext.plan?.jobs;
      if (!jobs) return undefined;
      return [...jobs, ...agentAccess(obj.metadata.name as string, obj.metadata.namespace as string, jobs)];
    },

    status(obj, _observed, observations, ext) {
      const now = observations.now;
      const verified = ext.verified;
      const gen = obj.metadata.generation;
      const prev = obj.status as ({ conditions?: never } & Record<string, unknown>) | undefined;
      const suspended = ext.spec?.suspend ? Reason.SpecSuspended : undefined;
      if (ext.errors.length || ext.paused || !ext.spec || !ext.plan) {
        const d = decideStatus({
          kind: 'BackupSchedule',
          generation: gen,
          previous: obj.status,
          errors: ext.errors,
          paused: ext.paused,
          suspended,
          now,
          readiness: { status: 'Unknown', reason: 'NoBackupYet', message: '' },
        });
        const keepFields = Object.fromEntries(
          Object.entries(prev ?? {}).filter(([k]) => k !== 'conditions' && k !== 'observedGeneration'),
        );
        const status = { ...keepFields, ...d.status };
        if (!d.invalidEvent) return { status };
        return {
          status,
          event: { type: 'Warning', reason: Reason.InvalidSpec, message: d.invalidEvent },
          terminal: `invalid spec: ${d.invalidEvent}`,
        };
      }
      const spec = ext.spec;
      const plan = ext.plan;
      const cron = cronOf(spec.schedule, spec.timeZone);
      const out = backupStatus({
        now,
        generation: gen,
        createdAt: new Date(obj.metadata.creationTimestamp as string),
        cron,
        previous: obj.status,
        ...(ext.blocked ? { blocked: ext.blocked } : {}),
        ...(plan.waiting ? { waiting: plan.waiting } : {}),
        store: ext.store,
        history: ext.history,
        active: plan.active,
        retention: ext.retention,
        jobOfRun: ext.jobOfRun,
      });
      const d = decideStatus({
        kind: 'BackupSchedule',
        generation: gen,
        previous: obj.status,
        errors: [],
        paused: false,
        suspended,
        now,
        readiness: out.readiness,
      });
      const conditions = withConditions(d.status.conditions as never, out.conditions, gen, now);
      const r = ext.retention;
      const status: Record<string, unknown> = {
        observedGeneration: gen,
        conditions,
        ...(plan.lastScheduleTime ? { lastScheduleTime: plan.lastScheduleTime.toISOString() } : {}),
        ...(plan.nextScheduleTime && !spec.suspend ? { nextScheduleTime: plan.nextScheduleTime.toISOString() } : {}),
        ...(plan.lastManualRequest ? { lastManualRequest: plan.lastManualRequest } : {}),
        ...(out.success
          ? { lastSuccessfulBackup: out.success }
          : prev?.lastSuccessfulBackup && !ext.store.listedAt
            ? { lastSuccessfulBackup: prev.lastSuccessfulBackup }
            : {}),
        ...(verified ? { lastVerifiedBackup: verified } : {}),
        ...(out.lastFailed
          ? {
              lastFailedBackup: {
                reason: out.lastFailed.reason ?? 'Failed',
                message: (out.lastFailed.message ?? '').slice(0, 2000),
                job: out.lastFailed.job,
                ...(out.lastFailed.at ? { failedAt: out.lastFailed.at } : {}),
              },
            }
          : {}),
        ...(plan.active.length ? { active: plan.active.slice(0, 16) } : {}),
        ...(ext.history.length
          ? {
              history: ext.history.slice(0, HISTORY_LIMIT).map((h) => ({
                job: h.job,
                ...(h.scheduledAt ? { scheduledAt: h.scheduledAt } : {}),
                trigger: h.trigger,
                result: h.result,
                ...(h.at ? { finishedAt: h.at } : {}),
                ...(h.reason ? { reason: h.reason } : {}),
                ...(h.key ? { key: h.key } : {}),
              })),
            }
          : {}),
        ...(r.plan
          ? {
              retention: {
                verified: ext.store.backups.filter((b) => verdictOf(b).ok).length,
                unverified: r.plan.unverified,
                deleted: r.deletedTotal,
                ...(r.lastDeleted.length ? { lastDeleted: r.lastDeleted } : {}),
                ...(r.lastRunTime ? { lastRunTime: r.lastRunTime.toISOString() } : {}),
                ...(r.plan.oldestKept ? { oldestKept: r.plan.oldestKept.toISOString() } : {}),
              },
            }
          : {}),
      };
      const waits = [ext.requeueMs, out.staleAt ? out.staleAt.getTime() - now.getTime() : undefined].filter(
        (x): x is number => x !== undefined,
      );
      return { status, requeueAfterMs: Math.max(1000, Math.min(...waits)) };
    },
  };
}

type DrillLike = KubeObject & {
  spec?: { backupScheduleRef?: { name?: string } };
  status?: { runs?: { id: string; phase: string; finishedAt?: string; backup?: { key: string } }[] };
};

/** The newest backup of this schedule that a DRDrill restored in a run that succeeded (DR drills feed it back). */
export function lastVerified(
  drills: DrillLike[],
  schedule: string,
): { key: string; verifiedAt: string; drill: string; run: string } | undefined {
  let best: { key: string; verifiedAt: string; drill: string; run: string } | undefined;
  for (const d of drills) {
    if (d.spec?.backupScheduleRef?.name !== schedule) continue;
    for (const r of d.status?.runs ?? []) {
      if (r.phase !== 'Succeeded' || !r.backup?.key || !r.finishedAt) continue;
      if (!best || r.finishedAt > best.verifiedAt)
        best = { key: r.backup.key, verifiedAt: r.finishedAt, drill: d.metadata.name as string, run: r.id };
    }
  }
  return best;
}

type SchedulePlanStatus = { lastScheduleTime?: string; lastManualRequest?: string } | undefined;

/** Jobs, and the agent's ServiceAccount, Role and RoleBinding for config exports (job.ts agentAccess). */
const BACKUP_OWNS = [Resources.Job, Resources.ServiceAccount, Resources.Role, Resources.RoleBinding];

export function backupCapability(o: BackupOptions): Capability<BackupScheduleObject, Ext> {
  const secretOwners: SecretOwners = new Map();
  const stub = (): never => {
    throw new Error('bound per manager');
  };
  return {
    name: 'backupschedule',
    for: resourceRefOf('BackupSchedule'),
    owns: BACKUP_OWNS,
    watches: [
      {
        // The referenced Secrets (the destination's credentials, the database's), from the Secret cache the
        // SmartCloudOpsApp capability shares: a change reconciles the schedules that reference them.
        resource: Resources.Secret,
        map: (sec) => [...(secretOwners.get(`${sec.metadata.namespace}/${sec.metadata.name}`) ?? [])],
      },
      {
        // DR drills that restored this schedule's backups: their results feed status.lastVerifiedBackup.
        resource: DRILL,
        map: (d) => {
          const n = (d as DrillLike).spec?.backupScheduleRef?.name;
          return n ? [`${d.metadata.namespace}/${n}`] : [];
        },
      },
      {
        resource: Resources.Pod,
        labelSelector: LABEL_RUN,
        map: (p) => {
          const n = p.metadata.annotations?.[ANN_SCHEDULE_NAME];
          return n ? [`${p.metadata.namespace}/${n}`] : [];
        },
      },
    ],
    rbac: [
      // The agent's Role grants list on ConfigMaps (and Secrets) in the schedule's namespace: RBAC lets us create it
      // only while we hold those permissions ourselves (no escalate, no bind).
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] },
    ],
    desired: stub,
    status: stub,
    bind: (deps) => backupLogic(deps, o, secretOwners),
  };
}
