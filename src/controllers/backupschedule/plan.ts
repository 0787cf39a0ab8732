// What Jobs this schedule wants now, pure: the Jobs it has (each rebuilt from the parameters recorded on it, so it
// is never rewritten), plus at most one new Job — for the due tick, the first `immediate` run, or a new value of the
// `backup-now` annotation — minus the finished Jobs beyond historyLimit (only once judged) and, under
// concurrencyPolicy Replace, the running Jobs the new one replaces. The seam applies the new Job (a create of a
// deterministic name: a second create of the same tick finds it and changes nothing) and deletes the dropped ones.
import type { KubeObject } from '../../kube/index.js';
import type { BackupScheduleSpec } from '../../crds/backupschedule.js';
import { jobPhase, jobRun, finishedAt, type JobLike } from './judge.js';
import { backupJob, paramsOf, type JobParams, type Trigger } from './job.js';
import { cronOf, dueTick, jobName, manualRunId, MANUAL_ANNOTATION, tickRunId } from './schedule.js';

export interface PlanInput {
  name: string;
  createdAt: Date;
  spec: BackupScheduleSpec;
  annotations: Record<string, string>;
  status: { lastScheduleTime?: string; lastManualRequest?: string } | undefined;
  jobs: JobLike[];
  now: Date;
  /** Parameters of a new Job; undefined when a new Job cannot be made now (a Secret or the app is missing). */
  params?: JobParams;
  /** Job names whose outcome is known (finished Jobs not in it are kept whatever historyLimit says). */
  judged: Set<string>;
  /** Suspended or paused: no new Jobs. */
  suspended: boolean;
}

export interface NewRun {
  name: string;
  runId: string;
  trigger: Trigger;
  scheduledAt: Date;
}

export interface SchedulePlan {
  /** undefined: leave the Jobs as they are (one has no readable parameters). */
  jobs?: KubeObject[];
  created?: NewRun;
  /** Why a due run was not started now (Forbid with a run active, a missing Secret). */
  waiting?: { reason: string; message: string };
  /** A tick missed by more than startingDeadlineSeconds. */
  missed?: Date;
  replaced: string[];
  pruned: string[];
  active: string[];
  lastScheduleTime?: Date;
  nextScheduleTime?: Date;
  lastManualRequest?: string;
}

export function planSchedule(i: PlanInput): SchedulePlan {
  const spec = i.spec;
  const cron = cronOf(spec.schedule, spec.timeZone);
  const runs = i.jobs.map((j) => ({ job: j, ...jobRun(j), phase: jobPhase(j) }));
  let lastScheduled = i.status?.lastScheduleTime ? new Date(i.status.lastScheduleTime) : undefined;
  for (const r of runs) {
    if (r.trigger !== 'Manual' && r.scheduledAt && (!lastScheduled || r.scheduledAt > lastScheduled)) {
      lastScheduled = r.scheduledAt;
    }
  }
  const due = dueTick({
    cron,
    now: i.now,
    createdAt: i.createdAt,
    ...(lastScheduled ? { lastScheduled } : {}),
    startingDeadlineSeconds: spec.startingDeadlineSeconds ?? 300,
  });
  const out: SchedulePlan = {
    replaced: [],
    pruned: [],
    active: runs.filter((r) => r.phase === 'Active').map((r) => r.job.metadata.name as string),
    ...(due.next ? { nextScheduleTime: due.next } : {}),
    ...(due.missed ? { missed: due.missed } : {}),
  };
  let lastManual = i.status?.lastManualRequest;
  const manual = i.annotations[MANUAL_ANNOTATION];
  if (manual && manual !== lastManual && runs.some((r) => r.runId === manualRunId(manual))) lastManual = manual;

  // The one new run this reconcile may start.
  let want: NewRun | undefined;
  const everScheduled = lastScheduled !== undefined || runs.length > 0;
  const deadlineMs = (spec.startingDeadlineSeconds ?? 300) * 1000;
  if (due.tick) {
    want = { name: '', runId: tickRunId(due.tick), trigger: 'Schedule', scheduledAt: due.tick };
  } else if (spec.immediate && !everScheduled && i.now.getTime() - i.createdAt.getTime() <= deadlineMs) {
    want = { name: '', runId: tickRunId(i.createdAt), trigger: 'Immediate', scheduledAt: i.createdAt };
  } else if (manual && manual !== lastManual) {
    want = { name: '', runId: manualRunId(manual), trigger: 'Manual', scheduledAt: i.now };
  }
  if (want) want.name = jobName(i.name, want.runId);
  const wantName = want?.name;
  if (runs.some((r) => r.job.metadata.name === wantName)) want = undefined; // adopted: it exists

  const keep = new Set(runs.map((r) => r.job.metadata.name as string));
  if (want) {
    if (i.suspended) {
      want = undefined;
    } else if (!i.params) {
      out.waiting = { reason: 'Blocked', message: `run ${want.runId} waits for what it needs (see Ready)` };
      want = undefined;
    } else if (out.active.length && (spec.concurrencyPolicy ?? 'Forbid') === 'Forbid') {
      out.waiting = {
        reason: 'ConcurrencyForbid',
        message: `run ${want.runId} waits: ${out.active.join(', ')} still running (concurrencyPolicy Forbid)`,
      };
      want = undefined;
    } else if (out.active.length) {
      for (const a of out.active) keep.delete(a);
      out.replaced = [...out.active];
      out.active = [];
    }
  }
  // History: the newest `historyLimit` finished Jobs are kept; older ones go once their outcome is known.
  const finished = runs
    .filter((r) => r.phase !== 'Active')
    .sort((a, b) => (finishedAt(b.job) ?? '').localeCompare(finishedAt(a.job) ?? ''));
  for (const r of finished.slice(spec.historyLimit ?? 10)) {
    const n = r.job.metadata.name as string;
    if (i.judged.has(n)) {
      keep.delete(n);
      out.pruned.push(n);
    }
  }
  const jobs: KubeObject[] = [];
  for (const r of runs) {
    const n = r.job.metadata.name as string;
    if (!keep.has(n)) continue;
    const p = paramsOf(r.job);
    if (!p) return { ...out, replaced: [], pruned: [] }; // not ours to rebuild: hold every Job as it is
    jobs.push(
      backupJob({
        name: n,
        scheduleName: i.name,
        runId: r.runId,
        trigger: r.trigger,
        scheduledAt: r.scheduledAt ?? new Date(0),
        params: p,
      }),
    );
  }
  if (want && i.params) {
    jobs.push(backupJob({ ...want, scheduleName: i.name, params: i.params }));
    out.created = want;
    out.active.push(want.name);
    if (want.trigger === 'Manual') lastManual = manual;
    else lastScheduled = want.scheduledAt;
  }
  out.jobs = jobs;
  if (lastScheduled) out.lastScheduleTime = lastScheduled;
  if (lastManual) out.lastManualRequest = lastManual;
  return out;
}
