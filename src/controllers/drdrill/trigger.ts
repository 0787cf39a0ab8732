// When a drill run starts (pure): on demand by the annotation ops.smartcloudops.ai/run-now (each new value is one
// run; the value acted on is recorded in status.lastRunNowValue, so a restart never runs it twice), or at the
// schedule's tick (spec.schedule/timeZone, the BackupSchedule's cron rules: the most recent missed tick only, within
// a starting deadline, never a burst). Run ids are deterministic — the tick as YYYYMMDDTHHMMSSZ, or
// manual-<hash of the value> — so the run's DR database, restore Job and backup request are the same after a crash.
// A run never starts while an earlier one still has a namespace or database to clean up (the DR namespace is one per
// drill): the due run waits, said in status, and starts once the clean-up is done.
import { createHash } from 'node:crypto';
import { cronOf, dueTick } from '../backupschedule/schedule.js';

export const RUN_NOW_ANNOTATION = 'ops.smartcloudops.ai/run-now';
/** A tick missed by more than this (the operator was down) is skipped, not run late. */
export const STARTING_DEADLINE_SECONDS = 6 * 3600;

export interface TriggerInput {
  schedule?: string;
  timeZone?: string;
  annotations: Record<string, string>;
  lastRunNowValue?: string;
  lastScheduleTime?: string;
  createdAt: Date;
  now: Date;
  /** A run is in progress or an earlier run is not cleaned up yet. */
  busy: boolean;
}

export interface TriggerDecision {
  start?: { id: string; trigger: 'Schedule' | 'Manual' };
  /** What status records after this decision. */
  lastRunNowValue?: string;
  lastScheduleTime?: string;
  nextScheduleTime?: string;
  /** A due run waits for the previous one's clean-up. */
  waiting?: string;
}

const short = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

export function tickId(tick: Date): string {
  return tick
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

export const manualId = (value: string) => `manual-${short(value)}`;

export function decideTrigger(i: TriggerInput): TriggerDecision {
  const out: TriggerDecision = {
    ...(i.lastRunNowValue !== undefined ? { lastRunNowValue: i.lastRunNowValue } : {}),
    ...(i.lastScheduleTime ? { lastScheduleTime: i.lastScheduleTime } : {}),
  };
  let due: TriggerDecision['start'];
  let tick: Date | undefined;
  if (i.schedule) {
    const d = dueTick({
      cron: cronOf(i.schedule, i.timeZone),
      now: i.now,
      createdAt: i.createdAt,
      ...(i.lastScheduleTime ? { lastScheduled: new Date(i.lastScheduleTime) } : {}),
      startingDeadlineSeconds: STARTING_DEADLINE_SECONDS,
    });
    if (d.next) out.nextScheduleTime = d.next.toISOString();
    if (d.tick) {
      tick = d.tick;
      due = { id: tickId(d.tick), trigger: 'Schedule' };
    }
  }
  const value = i.annotations[RUN_NOW_ANNOTATION];
  const manual = value && value !== i.lastRunNowValue ? value : undefined;
  // A manual request goes first; a tick due at the same time is then recorded as taken by it (one drill, not two).
  const start = manual ? { id: manualId(manual), trigger: 'Manual' as const } : due;
  if (!start) return out;
  if (i.busy) {
    out.waiting = `${start.trigger === 'Manual' ? 'the requested run' : `the run due at ${tick?.toISOString()}`} waits for the previous run to finish and be cleaned up`;
    return out;
  }
  out.start = start;
  if (manual) out.lastRunNowValue = manual;
  if (tick) out.lastScheduleTime = tick.toISOString();
  return out;
}
