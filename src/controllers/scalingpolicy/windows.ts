// ScalingPolicy schedule windows: which windows are open at `now`, the bounds they give, and when to look again.
// Pure; the clock is passed in. No I/O.
//
// Semantics:
// - A window opens at each start of its 5-field cron `schedule` (croner, OR of day-of-month and day-of-week as Vixie
//   cron and Kubernetes CronJobs, in `timeZone`, UTC when unset) and stays open for `duration` of *elapsed* time
//   (a Go duration, ≤ 168h, as the controller validates). Occurrence = [start, start + duration).
// - Open at `now` ⇔ the most recent start ≤ now has start + duration > now. Found with one backwards cron step from
//   `now` (croner's field-wise search, not a minute-by-minute walk) and one forwards step for the next start: at most
//   MAX_STEPS_PER_WINDOW cron evaluations per window, counted in `steps`, whatever the schedule or duration. Any start
//   older than now − duration is irrelevant, so the look-back never needs more than that one step.
// - A window longer than its period (e.g. hourly for 90m) overlaps itself: it stays open, and its current
//   occurrence is the one that started most recently (all occurrences last the same, so that one ends last).
// - DST, as croner and Vixie cron do it: a start in the hour skipped by spring-forward (02:30 in Europe/Berlin on
//   the last Sunday of March) fires when the clock jumps (03:00 CEST); a start in the repeated fall-back hour
//   (01:30 in America/New_York on the first Sunday of November) fires once, on its first pass (EDT). Durations are
//   elapsed time, so a window of 2h opened at 00:30 EDT on fall-back night closes at 01:30 EST (wall clock).
//
// Overlap rule between different windows: the FIRST OPEN WINDOW IN LIST ORDER WINS, and its minReplicas and
// maxReplicas replace the base bounds (both of them, so a window can raise or lower either; KEDA's cron trigger
// cannot go below minReplicaCount, keda#6564). Why list order rather than "the most recently started wins" or a
// max/min merge: it is the priority the SRE wrote down and can read in the manifest (like firewall rules, first
// match), it is what the CRD field's description already says (`kubectl explain scalingpolicy.spec.windows`), and
// it does not flip when an unrelated window opens — with "most recent wins" a daily 08:00 "business-hours" window
// would take over from a 48h "black-friday" window at 08:00 and drop min from 20 to 4. A merge (max of the mins,
// min of the maxes) cannot lower min below a window that raises it and can produce min > max. The effective bounds
// are clamped so that 1 ≤ min ≤ max (a window's own min > max is refused at admission; the clamp keeps the HPA
// valid anyway).
//
// Requeue: the earliest next transition of any window (a next start, or the end of the current occurrence), as a
// delay clamped to [minRequeueMs, maxRequeueMs] — never a hot loop, and a re-check at least every maxRequeueMs bounds
// clock jumps and stays far below setTimeout's 24.8-day limit.
import { Cron } from 'croner';
import type { ScalingPolicySpec } from '../../crds/scalingpolicy.js';
import { parseDuration } from '../../crds/validate.js';

export type WindowSpec = NonNullable<ScalingPolicySpec['windows']>[number];

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
/** The controller refuses longer windows (spec.windows[].duration ≤ 168h). */
export const MAX_WINDOW_MS = 168 * HOUR;
/** One backwards step (latest start ≤ now), one forwards step (next start > now). */
export const MAX_STEPS_PER_WINDOW = 2;

export interface Occurrence {
  start: Date;
  /** Exclusive. */
  end: Date;
}

export interface WindowState {
  name: string;
  /** Position in spec.windows: the priority when windows overlap (lower wins). */
  index: number;
  active: boolean;
  /** The current occurrence, when active. */
  occurrence?: Occurrence;
  /** The first start after now; undefined when the schedule never fires again. */
  nextStart?: Date;
  /** When this window's state next changes: the next start, or the end of the current occurrence if sooner. */
  nextTransition?: Date;
  /** Why the window cannot be evaluated (bad cron, time zone or duration); such a window is never open. */
  error?: string;
  /** Cron evaluations made for this window (≤ MAX_STEPS_PER_WINDOW). */
  steps: number;
}

export interface Bounds {
  min: number;
  max: number;
}

export interface WindowsEvaluation {
  windows: WindowState[];
  /** The window whose bounds apply (first open window in list order), if any. */
  active?: WindowState;
  /** Other open windows, overridden by `active`. */
  overridden: string[];
  base: Bounds;
  effective: Bounds;
  /** Earliest transition of any window. */
  nextTransition?: Date;
  /** Cron evaluations made in all (≤ MAX_STEPS_PER_WINDOW × windows). */
  steps: number;
}

/** A cron schedule as the window arithmetic needs it; every call counts as one step. */
export interface CronSteps {
  /** The latest start ≤ at, or undefined. */
  latestAtOrBefore(at: number): number | undefined;
  /** The earliest start > at, or undefined. */
  earliestAfter(at: number): number | undefined;
}

export type CronFactory = (schedule: string, timeZone: string | undefined) => CronSteps;

/** A time zone Intl does not know. */
export class UnknownTimeZoneError extends Error {}

/**
 * croner with the options the controller validates with (src/crds/validate.ts checkCron). Throws on a bad pattern,
 * and UnknownTimeZoneError on a time zone Intl does not know.
 */
export function cronSteps(schedule: string, timeZone: string | undefined): CronSteps {
  if (timeZone) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone });
    } catch {
      throw new UnknownTimeZoneError(`unknown time zone "${timeZone}"`);
    }
  }
  const cron = new Cron(schedule.trim(), {
    paused: true,
    legacyMode: true,
    ...(timeZone ? { timezone: timeZone } : {}),
  });
  return {
    latestAtOrBefore(at) {
      // previousRuns is strictly before its reference and drops milliseconds; starts fall on whole seconds, so the
      // latest start <= at is the latest one before the next whole second.
      const ref = Math.floor(at / 1000) * 1000 + 1000;
      const run = cron.previousRuns(1, new Date(ref))[0];
      return run ? run.getTime() : undefined;
    },
    earliestAfter(at) {
      // nextRun is strictly after its reference (milliseconds dropped): a start at floor(at) <= at is excluded.
      const run = cron.nextRun(new Date(at));
      return run ? run.getTime() : undefined;
    },
  };
}

/**
 * A CronFactory that keeps up to maxEntries compiled schedules (and their errors), oldest dropped first. Compiling a
 * schedule with a time zone costs a few milliseconds, several times one cron step; the controller owns one of these
 * (no module-level cache) and passes it to evaluateWindows on every reconcile.
 */
export function cachingCronFactory(maxEntries = 1024, make: CronFactory = cronSteps): CronFactory {
  const cache = new Map<string, CronSteps | Error>();
  return (schedule, timeZone) => {
    const key = `${timeZone ?? ''} ${schedule}`;
    let entry = cache.get(key);
    if (entry === undefined) {
      try {
        entry = make(schedule, timeZone);
      } catch (err) {
        entry = err instanceof Error ? err : new Error(String(err));
      }
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
      cache.set(key, entry);
    }
    if (entry instanceof Error) throw entry;
    return entry;
  };
}

/** The state of one window at `now`. */
export function evaluateWindow(w: WindowSpec, index: number, now: Date, cronFor: CronFactory = cronSteps): WindowState {
  const base = { name: w.name, index, active: false, steps: 0 };
  const durationMs = parseDuration(w.duration);
  if (durationMs === undefined || durationMs <= 0 || durationMs > MAX_WINDOW_MS) {
    return { ...base, error: `duration "${w.duration}" must be a positive duration of at most 168h` };
  }
  let cron: CronSteps;
  try {
    cron = cronFor(w.schedule, w.timeZone);
  } catch (err) {
    if (err instanceof UnknownTimeZoneError) return { ...base, error: err.message };
    return { ...base, error: `invalid cron expression "${w.schedule}": ${(err as Error).message}` };
  }
  const t = now.getTime();
  const latest = cron.latestAtOrBefore(t);
  const next = cron.earliestAfter(t);
  const steps = 2;
  const nextStart = next !== undefined ? new Date(next) : undefined;
  if (latest !== undefined && latest + durationMs > t) {
    const end = latest + durationMs;
    return {
      ...base,
      active: true,
      occurrence: { start: new Date(latest), end: new Date(end) },
      ...(nextStart ? { nextStart } : {}),
      nextTransition: new Date(next !== undefined ? Math.min(next, end) : end),
      steps,
    };
  }
  return { ...base, ...(nextStart ? { nextStart, nextTransition: nextStart } : {}), steps };
}

/** Clamp to 1 ≤ min ≤ max (max wins when they cross: a bound is never raised above what was asked as a ceiling). */
export function clampBounds(b: Bounds): Bounds {
  const max = Math.max(1, Math.floor(b.max));
  const min = Math.min(Math.max(1, Math.floor(b.min)), max);
  return { min, max };
}

/** All windows at `now`, the winner by list order, the effective bounds and the next transition. */
export function evaluateWindows(
  windows: readonly WindowSpec[] | undefined,
  base: Bounds,
  now: Date,
  cronFor?: CronFactory,
): WindowsEvaluation {
  const states = (windows ?? []).map((w, i) => evaluateWindow(w, i, now, cronFor));
  const open = states.filter((s) => s.active);
  const active = open[0];
  const spec = active ? (windows ?? [])[active.index] : undefined;
  const effective = clampBounds(spec ? { min: spec.minReplicas, max: spec.maxReplicas } : base);
  let nextTransition: number | undefined;
  for (const s of states) {
    const n = s.nextTransition?.getTime();
    if (n !== undefined && (nextTransition === undefined || n < nextTransition)) nextTransition = n;
  }
  return {
    windows: states,
    ...(active ? { active } : {}),
    overridden: open.slice(1).map((s) => s.name),
    base,
    effective,
    ...(nextTransition !== undefined ? { nextTransition: new Date(nextTransition) } : {}),
    steps: states.reduce((n, s) => n + s.steps, 0),
  };
}

export interface RequeueBounds {
  minRequeueMs: number;
  maxRequeueMs: number;
}

export const DEFAULT_REQUEUE: RequeueBounds = { minRequeueMs: 1000, maxRequeueMs: HOUR };

/** Delay until the next window transition, within [minRequeueMs, maxRequeueMs]. */
export function requeueAfterMs(
  evaluation: Pick<WindowsEvaluation, 'nextTransition'>,
  now: Date,
  bounds: RequeueBounds = DEFAULT_REQUEUE,
): number {
  const at = evaluation.nextTransition?.getTime();
  if (at === undefined) return bounds.maxRequeueMs;
  return Math.min(bounds.maxRequeueMs, Math.max(bounds.minRequeueMs, at - now.getTime()));
}
