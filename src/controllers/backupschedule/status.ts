// The BackupSchedule's status, pure: the shared contract (observedGeneration, Ready, Reconciling, Stalled,
// Suspended: ../status.ts) with Ready as this capability's judgement, and its own conditions — LastBackupSucceeded,
// BackupsFresh (False once the last success is older than twice the schedule's interval; the object is looked at
// again at that moment), RetentionEnforced and Verified (the newest stored backup's manifest matches its object) —
// plus the schedule times, the last success and failure, the active Jobs, a bounded history and the retention summary.
import type { Cron } from 'croner';
import type { Condition } from '../../kube/types.js';
import { setConditions, type ConditionInput } from '../../runtime/conditions.js';
import type { Readiness } from '../status.js';
import { verdictOf, type RunResult, type StoredBackup } from './judge.js';
import type { RetentionPlan } from './retention.js';
import { intervalAfter } from './schedule.js';

export const BackupCondition = {
  LastBackupSucceeded: 'LastBackupSucceeded',
  BackupsFresh: 'BackupsFresh',
  RetentionEnforced: 'RetentionEnforced',
  Verified: 'Verified',
} as const;

export const HISTORY_LIMIT = 10;

export interface SuccessInfo {
  key: string;
  manifestKey?: string;
  size: number;
  sha256: string;
  completedAt: string;
  duration: string;
  job?: string;
}

export interface StoreView {
  listedAt?: Date;
  error?: { reason: string; message: string };
  backups: StoredBackup[];
}

export interface RetentionView {
  plan?: RetentionPlan;
  deletedTotal: number;
  lastDeleted: string[];
  lastRunTime?: Date;
  error?: { reason: string; message: string };
}

export interface BackupStatusInput {
  now: Date;
  generation: number | undefined;
  createdAt: Date;
  cron: Cron;
  previous: { conditions?: Condition[] } | undefined;
  blocked?: { reason: string; message: string };
  waiting?: { reason: string; message: string };
  store: StoreView;
  /** Finished runs, newest first (judged now or remembered). */
  history: RunResult[];
  active: string[];
  retention: RetentionView;
  jobOfRun: Map<string, string>;
}

export function durationText(seconds: number): string {
  return `${Math.round(seconds * 10) / 10}s`;
}

/** The newest verified backup in S3. */
export function lastSuccess(store: StoreView, jobOfRun: Map<string, string>): SuccessInfo | undefined {
  const b = store.backups
    .filter((x) => verdictOf(x).ok)
    .sort((x, y) => y.startedAt.getTime() - x.startedAt.getTime())[0];
  const m = b?.manifest;
  if (!b || !m) return undefined;
  const job = jobOfRun.get(b.runId);
  // Since backup parts (config, data) a manifest may hold no dump: its first part stands for the backup.
  const first = m.parts?.[0];
  return {
    key: m.key ?? first?.key ?? b.manifestKey ?? '',
    ...(b.manifestKey ? { manifestKey: b.manifestKey } : {}),
    size: m.size ?? (m.parts ?? []).reduce((n, p) => n + p.size, 0),
    sha256: m.sha256 ?? first?.sha256 ?? '',
    completedAt: m.completedAt,
    duration: durationText(m.durationSeconds),
    ...(job ? { job } : {}),
  };
}

export interface BackupStatusOut {
  readiness: Readiness;
  conditions: ConditionInput[];
  success?: SuccessInfo;
  lastFailed?: RunResult;
  /** When BackupsFresh turns False (requeue then), if it has not yet. */
  staleAt?: Date;
}

export function backupStatus(i: BackupStatusInput): BackupStatusOut {
  const success = lastSuccess(i.store, i.jobOfRun);
  const last = i.history[0];
  const lastFailed = i.history.find((h) => h.result === 'Failed');
  const conds: ConditionInput[] = [];

  // LastBackupSucceeded: the newest finished run.
  if (!last) {
    conds.push({
      type: BackupCondition.LastBackupSucceeded,
      status: 'Unknown',
      reason: 'NoRunYet',
      message: 'no backup run has finished yet',
    });
  } else if (last.result === 'Succeeded') {
    conds.push({
      type: BackupCondition.LastBackupSucceeded,
      status: 'True',
      reason: 'Succeeded',
      message: `${last.job} stored ${last.key ?? 'its backup'}`,
    });
  } else {
    conds.push({
      type: BackupCondition.LastBackupSucceeded,
      status: 'False',
      reason: last.reason ?? 'Failed',
      message: `${last.job}: ${last.message ?? 'failed'}`,
    });
  }

  // BackupsFresh: twice the schedule's interval after the last success (or after creation, before any).
  const ref = success ? new Date(success.completedAt) : i.createdAt;
  const interval = intervalAfter(i.cron, ref);
  const staleAt = interval ? new Date(ref.getTime() + 2 * interval) : undefined;
  const stale = staleAt !== undefined && i.now >= staleAt;
  if (stale) {
    conds.push({
      type: BackupCondition.BackupsFresh,
      status: 'False',
      reason: success ? 'Stale' : 'NoSuccessfulBackup',
      message: success
        ? `the last good backup completed at ${success.completedAt}, more than twice the schedule's interval ago`
        : `no good backup within twice the schedule's interval of the schedule's creation`,
    });
  } else if (success) {
    conds.push({
      type: BackupCondition.BackupsFresh,
      status: 'True',
      reason: 'Fresh',
      message: `the last good backup completed at ${success.completedAt}`,
    });
  } else {
    conds.push({
      type: BackupCondition.BackupsFresh,
      status: 'Unknown',
      reason: 'NoSuccessfulBackup',
      message: 'no good backup yet',
    });
  }

  // Verified: the newest backup that has a manifest.
  const newest = i.store.backups
    .filter((b) => b.manifestKey)
    .sort((x, y) => y.startedAt.getTime() - x.startedAt.getTime())[0];
  if (i.store.error && !i.store.listedAt) {
    conds.push({
      type: BackupCondition.Verified,
      status: 'Unknown',
      reason: i.store.error.reason,
      message: i.store.error.message,
    });
  } else if (!newest) {
    conds.push({
      type: BackupCondition.Verified,
      status: 'Unknown',
      reason: 'NoBackupYet',
      message: 'no backup manifest in the bucket yet',
    });
  } else {
    const v = verdictOf(newest);
    conds.push(
      v.ok
        ? {
            type: BackupCondition.Verified,
            status: 'True',
            reason: 'Verified',
            message: `${newest.manifest?.key} matches its manifest (size and sha256 ${newest.manifest?.verification === 'full' ? 'read back' : 'recorded'})`,
          }
        : { type: BackupCondition.Verified, status: 'False', reason: v.reason, message: v.message },
    );
  }

  // RetentionEnforced.
  const r = i.retention;
  if (r.error) {
    conds.push({
      type: BackupCondition.RetentionEnforced,
      status: 'False',
      reason: r.error.reason,
      message: r.error.message,
    });
  } else if (i.store.error) {
    conds.push({
      type: BackupCondition.RetentionEnforced,
      status: 'False',
      reason: 'ListFailed',
      message: `nothing deleted: ${i.store.error.message}`,
    });
  } else if (!r.plan) {
    conds.push({
      type: BackupCondition.RetentionEnforced,
      status: 'Unknown',
      reason: 'NotListed',
      message: 'the bucket has not been listed yet',
    });
  } else if (r.plan.held) {
    conds.push({ type: BackupCondition.RetentionEnforced, status: 'False', reason: 'Held', message: r.plan.held });
  } else {
    conds.push({
      type: BackupCondition.RetentionEnforced,
      status: 'True',
      reason: 'Enforced',
      message: `${r.plan.verified} verified backups kept, ${r.deletedTotal} deleted so far, ${r.plan.unverified} unverified objects left alone`,
    });
  }

  // Ready: the capability's judgement.
  let readiness: Readiness;
  const progressing = i.active.length > 0;
  if (i.blocked) {
    readiness = { status: 'False', reason: i.blocked.reason, message: i.blocked.message };
  } else if (i.store.error) {
    readiness = { status: 'False', reason: i.store.error.reason, message: i.store.error.message };
  } else if (last && last.result === 'Failed') {
    readiness = {
      status: 'False',
      reason: last.reason ?? 'BackupFailed',
      message: `the last backup failed: ${last.message ?? ''}`.trim(),
      progressing,
    };
  } else if (stale) {
    readiness = {
      status: 'False',
      reason: 'BackupsStale',
      message: 'no good backup within twice the schedule interval',
      progressing,
    };
  } else if (!success) {
    readiness = {
      status: 'Unknown',
      reason: progressing ? 'BackupRunning' : 'NoBackupYet',
      message: progressing ? `running ${i.active.join(', ')}` : 'waiting for the first backup',
      progressing,
    };
  } else {
    readiness = {
      status: 'True',
      reason: 'BackupsHealthy',
      message: `last good backup ${success.key} at ${success.completedAt}`,
      progressing,
    };
  }
  return {
    readiness,
    conditions: conds,
    ...(success ? { success } : {}),
    ...(lastFailed ? { lastFailed } : {}),
    ...(staleAt && !stale ? { staleAt } : {}),
  };
}

export function withConditions(
  previous: Condition[] | undefined,
  extra: ConditionInput[],
  generation: number | undefined,
  now: Date,
): Condition[] {
  return setConditions(previous, extra, generation, now);
}
