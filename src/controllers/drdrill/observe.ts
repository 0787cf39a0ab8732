// What the drill's planner sees, from cached objects (pure): the run's backup from the BackupSchedule's status, the
// restore Job's outcome, the app copy's state. The capability does the I/O (caches, probes) and passes them in.
import type { KubeObject } from '../../kube/index.js';
import { failureOf, finishedAt, jobPhase, type JobLike, type PodLike } from '../backupschedule/judge.js';
import { jobName, manualRunId, MANUAL_ANNOTATION } from '../backupschedule/schedule.js';
import type { BackupRef, DrillObservations } from './run.js';

/** The backup-now value a run asks its BackupSchedule for (one backup per run, whatever restarts happen). */
export const backupRequestValue = (runId: string) => `drill-${runId}`;

interface BackupScheduleLike extends KubeObject {
  spec?: { suspend?: boolean };
  status?: {
    lastManualRequest?: string;
    lastSuccessfulBackup?: { key?: string; size?: number; sha256?: string; completedAt?: string };
    history?: { job: string; result: string; finishedAt?: string; reason?: string; key?: string }[];
  };
}

/**
 * The run's backup. Fresh: the BackupSchedule's run for this drill run's request (its Job name is derived from the
 * request value, as the BackupSchedule names it), judged by that controller from S3 (manifest and object). Latest:
 * the newest verified backup in its status.
 */
export function backupObservation(
  mode: 'Fresh' | 'Latest',
  bsName: string,
  bs: BackupScheduleLike | undefined,
  runId: string,
): DrillObservations['backup'] {
  if (!bs)
    return { state: 'Failed', reason: 'BackupScheduleNotFound', message: `BackupSchedule ${bsName} does not exist` };
  const last = bs.status?.lastSuccessfulBackup;
  const refOf = (key: string, completedAt: string): BackupRef => ({
    key,
    completedAt,
    ...(last?.key === key && last.sha256 ? { sha256: last.sha256 } : {}),
    ...(last?.key === key && last.size !== undefined ? { size: last.size } : {}),
  });
  if (mode === 'Latest') {
    if (!last?.key || !last.completedAt)
      return { state: 'None', reason: 'NoVerifiedBackup', message: `BackupSchedule ${bsName} has no verified backup` };
    return { state: 'Succeeded', ref: refOf(last.key, last.completedAt) };
  }
  const job = jobName(bsName, manualRunId(backupRequestValue(runId)));
  const h = bs.status?.history?.find((x) => x.job === job);
  if (!h) return { state: 'Pending', message: `waiting for backup ${job} of BackupSchedule ${bsName}` };
  if (h.result === 'Succeeded' && h.key)
    return { state: 'Succeeded', ref: refOf(h.key, h.finishedAt ?? new Date(0).toISOString()) };
  return {
    state: 'Failed',
    reason: 'BackupFailed',
    message: `backup ${job} of BackupSchedule ${bsName} failed${h.reason ? `: ${h.reason}` : ''}`,
  };
}

/** The annotation patch that asks the BackupSchedule for the run's backup, or undefined when it was asked already. */
export function backupRequestPatch(
  bs: BackupScheduleLike | undefined,
  runId: string,
): Record<string, unknown> | undefined {
  const value = backupRequestValue(runId);
  if (!bs) return undefined;
  if (bs.metadata.annotations?.[MANUAL_ANNOTATION] === value || bs.status?.lastManualRequest === value)
    return undefined;
  return { metadata: { annotations: { [MANUAL_ANNOTATION]: value } } };
}

/** The restore Job's outcome; a failure's reason is the agent's result line (the backup judge's reading). */
export function restoreObservation(job: KubeObject | undefined, pods: KubeObject[]): DrillObservations['restore'] {
  if (!job) return { state: 'Absent' };
  const j = job as JobLike;
  const phase = jobPhase(j);
  if (phase === 'Active') return { state: 'Running' };
  if (phase === 'Complete') {
    const at = finishedAt(j);
    return { state: 'Succeeded', ...(at ? { finishedAt: at } : {}) };
  }
  const f = failureOf(j, pods as PodLike[]);
  return {
    state: 'Failed',
    reason: f.reason === 'DeadlineExceeded' ? 'RestoreTimedOut' : f.reason,
    message: f.message.replace('backup Job', 'restore Job'),
  };
}

interface DeploymentLike extends KubeObject {
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export interface HealthResult {
  component: string;
  ok: boolean;
  message: string;
}

/**
 * The app copy: Absent (not deployed, or only partly: `complete` false or Deployments missing), Failed (a Deployment passed its progress deadline), Ready (every Deployment
 * available with its updated replicas, and — when checks.health — each component's health endpoint answered 2xx),
 * else Progressing.
 */
export function appObservation(
  deployments: DeploymentLike[],
  expected: number,
  health: HealthResult[] | undefined,
  readyAt: string | undefined,
  complete = true,
): DrillObservations['app'] {
  // Not all of the copy's objects exist (none yet, or an apply cut short by a crash): deploy it (again).
  if (!deployments.length || deployments.length < expected || !complete) return { state: 'Absent' };
  const stuck = deployments.find((d) =>
    d.status?.conditions?.some(
      (c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded',
    ),
  );
  if (stuck)
    return {
      state: 'Failed',
      reason: 'ProgressDeadlineExceeded',
      message: `Deployment ${stuck.metadata.name} did not become available in time`,
    };
  const available = deployments.filter((d) => {
    const want = d.spec?.replicas ?? 1;
    return (
      (d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
      (d.status?.updatedReplicas ?? 0) >= want &&
      (d.status?.availableReplicas ?? 0) >= want
    );
  });
  if (available.length < expected)
    return {
      state: 'Progressing',
      message: `${available.length} of ${expected} Deployments available`,
    };
  const failing = (health ?? []).filter((h) => !h.ok);
  if (health && (failing.length || health.length === 0))
    return {
      state: 'Progressing',
      reason: 'HealthCheckFailing',
      message: failing.map((h) => `${h.component}: ${h.message}`).join('; ') || 'health not checked yet',
    };
  return { state: 'Ready', ...(readyAt ? { readyAt } : {}) };
}
