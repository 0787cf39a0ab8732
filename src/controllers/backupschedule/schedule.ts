// The BackupSchedule's own scheduler, pure: which tick is due now, what its Job is called, when to look again.
// It follows the CronJob controller (pkg/controller/cronjob/utils.go, mostRecentScheduleTime / nextScheduleTime):
// the earliest time to consider is the later of the last scheduled tick and the object's creation, moved up to
// now − startingDeadlineSeconds when that is set, so a tick missed by more than the deadline (the operator was down)
// is skipped, not run late; only the most recent missed tick runs, never a burst of them (found in one backward
// step, not by stepping forward through every missed tick); the next look is at the next tick (requeue, never a poll). Unlike CronJob, the last scheduled tick is also read from the Jobs themselves (their
// `scheduled-at` annotation), so a status write lost to a crash does not make a tick run twice, and the Job name is
// derived from the tick, so creating it is the lock: a second create of the same tick finds it and adopts it.
import { Cron } from 'croner';
import { createHash } from 'node:crypto';

export const MANUAL_ANNOTATION = 'ops.smartcloudops.ai/backup-now';

/** The cron expression in its time zone (UTC when unset); `legacyMode` as the validation uses it (vixie cron OR). */
export function cronOf(expr: string, timeZone: string | undefined): Cron {
  return new Cron(expr.trim(), { paused: true, legacyMode: true, ...(timeZone ? { timezone: timeZone } : {}) });
}

/** The first tick strictly after `after`. */
export function nextTick(cron: Cron, after: Date): Date | undefined {
  return cron.nextRun(after) ?? undefined;
}

export interface DueInput {
  cron: Cron;
  now: Date;
  createdAt: Date;
  /** The latest tick already scheduled (status.lastScheduleTime or a Job's scheduled-at, whichever is later). */
  lastScheduled?: Date;
  startingDeadlineSeconds: number;
}

export interface Due {
  /** The most recent tick at or before now, after the last scheduled one and within the starting deadline. */
  tick?: Date;
  /** The most recent tick, missed by more than startingDeadlineSeconds (skipped, not run late). */
  missed?: Date;
  /** The next tick after now: requeue then. */
  next?: Date;
}

/** The latest tick at or before `at` (croner searches backwards: one step, however long ago). */
export function lastTickAtOrBefore(cron: Cron, at: Date): Date | undefined {
  const ref = new Date(Math.floor(at.getTime() / 1000) * 1000 + 1000);
  return cron.previousRuns(1, ref)[0];
}

export function dueTick(i: DueInput): Due {
  const earliest = i.lastScheduled && i.lastScheduled > i.createdAt ? i.lastScheduled : i.createdAt;
  const recent = lastTickAtOrBefore(i.cron, i.now);
  const next = nextTick(i.cron, i.now);
  const out: Due = next ? { next } : {};
  if (recent && recent > earliest) {
    if (i.now.getTime() - recent.getTime() <= i.startingDeadlineSeconds * 1000) out.tick = recent;
    else out.missed = recent;
  }
  return out;
}

/** The interval of the schedule around `at`: the gap between the two ticks that follow it. */
export function intervalAfter(cron: Cron, at: Date): number | undefined {
  const a = cron.nextRun(at);
  const b = a ? cron.nextRun(a) : null;
  return a && b ? b.getTime() - a.getTime() : undefined;
}

const short = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

/**
 * The stem of this schedule's Job names: the schedule's name when it leaves room for the suffix (Job names feed the
 * pod label `job-name`, at most 63 characters), else a prefix of it and a hash of the whole.
 */
export function jobStem(name: string): string {
  return name.length <= 40 ? name : `${name.slice(0, 31).replace(/[-.]+$/, '')}-${short(name)}`;
}

/** Run ids go into object keys and Job names: the tick in minutes since the epoch, as CronJob names its Jobs. */
export function tickRunId(tick: Date): string {
  return `t${Math.floor(tick.getTime() / 60_000)}`;
}

/** The run id of an on-demand backup: a hash of the annotation's value (each new value is one new backup). */
export function manualRunId(value: string): string {
  return `now-${short(value)}`;
}

export function jobName(scheduleName: string, runId: string): string {
  return `${jobStem(scheduleName)}-${runId}`;
}

/** The agent's schedule folder: namespace and name (namespaces have no dots, so the pair is unambiguous). */
export function scheduleFolderName(namespace: string, name: string): string {
  return `${namespace}.${name}`;
}
