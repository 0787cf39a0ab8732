import { describe, expect, test } from '@jest/globals';
import {
  cachingCronFactory,
  clampBounds,
  cronSteps,
  evaluateWindow,
  evaluateWindows,
  MAX_STEPS_PER_WINDOW,
  requeueAfterMs,
  type CronSteps,
  type WindowSpec,
} from './windows.js';

const at = (iso: string): Date => new Date(iso);
const win = (name: string, schedule: string, duration: string, timeZone?: string, min = 1, max = 5): WindowSpec => ({
  name,
  schedule,
  duration,
  ...(timeZone ? { timeZone } : {}),
  minReplicas: min,
  maxReplicas: max,
});
const iso = (d: Date | undefined): string | undefined => d?.toISOString();
const occ = (s: ReturnType<typeof evaluateWindow>) =>
  s.occurrence ? [iso(s.occurrence.start), iso(s.occurrence.end)] : undefined;

describe('one window', () => {
  test('UTC business hours: open, occurrence, next transition is the end', () => {
    const s = evaluateWindow(win('day', '0 8 * * 1-5', '10h'), 0, at('2026-06-01T12:00:00Z'));
    expect(s.active).toBe(true);
    expect(occ(s)).toEqual(['2026-06-01T08:00:00.000Z', '2026-06-01T18:00:00.000Z']);
    expect(iso(s.nextStart)).toBe('2026-06-02T08:00:00.000Z');
    expect(iso(s.nextTransition)).toBe('2026-06-01T18:00:00.000Z');
    expect(s.steps).toBe(2);
  });

  test('closed: next transition is the next start (Friday evening → Monday)', () => {
    const s = evaluateWindow(win('day', '0 8 * * 1-5', '10h'), 0, at('2026-11-27T19:00:00Z'));
    expect(s.active).toBe(false);
    expect(s.occurrence).toBeUndefined();
    expect(iso(s.nextTransition)).toBe('2026-11-30T08:00:00.000Z');
  });

  test('the start instant is inside, the end instant is outside (half-open), milliseconds count', () => {
    const w = win('w', '0 8 * * *', '1h');
    expect(evaluateWindow(w, 0, at('2026-06-01T08:00:00.000Z')).active).toBe(true);
    expect(evaluateWindow(w, 0, at('2026-06-01T07:59:59.999Z')).active).toBe(false);
    expect(evaluateWindow(w, 0, at('2026-06-01T08:59:59.999Z')).active).toBe(true);
    expect(evaluateWindow(w, 0, at('2026-06-01T09:00:00.000Z')).active).toBe(false);
    const justAfter = evaluateWindow(w, 0, at('2026-06-01T08:00:00.500Z'));
    expect(occ(justAfter)).toEqual(['2026-06-01T08:00:00.000Z', '2026-06-01T09:00:00.000Z']);
    expect(iso(justAfter.nextStart)).toBe('2026-06-02T08:00:00.000Z');
    // Just before the start the next transition is the start itself.
    expect(iso(evaluateWindow(w, 0, at('2026-06-01T07:59:59.999Z')).nextTransition)).toBe('2026-06-01T08:00:00.000Z');
  });

  test('spanning midnight: opened yesterday 22:00, open at 02:00, closes 06:00', () => {
    const s = evaluateWindow(win('night', '0 22 * * *', '8h'), 0, at('2026-06-02T02:00:00Z'));
    expect(occ(s)).toEqual(['2026-06-01T22:00:00.000Z', '2026-06-02T06:00:00.000Z']);
    expect(iso(s.nextTransition)).toBe('2026-06-02T06:00:00.000Z');
    expect(evaluateWindow(win('night', '0 22 * * *', '8h'), 0, at('2026-06-02T06:00:00Z')).active).toBe(false);
  });

  test('a weekend window over two midnights (Friday 22:00 for 56h) is open on Sunday', () => {
    const s = evaluateWindow(win('weekend', '0 22 * * 5', '56h'), 0, at('2026-11-29T20:00:00Z'));
    expect(occ(s)).toEqual(['2026-11-27T22:00:00.000Z', '2026-11-30T06:00:00.000Z']);
  });

  test('longer than its period (hourly for 90m): overlapping occurrences, the latest start is current', () => {
    const w = win('h', '0 * * * *', '90m');
    const a = evaluateWindow(w, 0, at('2026-06-01T10:20:00Z'));
    expect(occ(a)).toEqual(['2026-06-01T10:00:00.000Z', '2026-06-01T11:30:00.000Z']);
    // The next start comes before the end: that is the next transition (still open after it).
    expect(iso(a.nextTransition)).toBe('2026-06-01T11:00:00.000Z');
    const b = evaluateWindow(w, 0, at('2026-06-01T11:10:00Z'));
    expect(b.active).toBe(true);
    expect(occ(b)).toEqual(['2026-06-01T11:00:00.000Z', '2026-06-01T12:30:00.000Z']);
  });

  test('a weekly window of 168h is continuous: its end is the next start', () => {
    const w = win('w', '0 0 * * 1', '168h');
    const s = evaluateWindow(w, 0, at('2026-06-07T23:59:59Z'));
    expect(occ(s)).toEqual(['2026-06-01T00:00:00.000Z', '2026-06-08T00:00:00.000Z']);
    // end == next start: the transition is that instant, and then it is open again.
    expect(iso(s.nextTransition)).toBe('2026-06-08T00:00:00.000Z');
    expect(evaluateWindow(w, 0, at('2026-06-08T00:00:00Z')).active).toBe(true);
  });

  test('Europe/Berlin business hours before and on the spring-forward day (CET → CEST)', () => {
    const w = win('day', '0 8 * * *', '10h', 'Europe/Berlin');
    expect(occ(evaluateWindow(w, 0, at('2026-03-28T12:00:00Z')))).toEqual([
      '2026-03-28T07:00:00.000Z',
      '2026-03-28T17:00:00.000Z',
    ]);
    expect(occ(evaluateWindow(w, 0, at('2026-03-29T12:00:00Z')))).toEqual([
      '2026-03-29T06:00:00.000Z',
      '2026-03-29T16:00:00.000Z',
    ]);
    // 06:30Z on the 29th is 08:30 CEST (open); on the 28th it was 07:30 CET (closed).
    expect(evaluateWindow(w, 0, at('2026-03-28T06:30:00Z')).active).toBe(false);
    expect(evaluateWindow(w, 0, at('2026-03-29T06:30:00Z')).active).toBe(true);
  });

  test('Europe/Berlin 02:30 on the spring-forward day (02:00 → 03:00): opens when the clock jumps', () => {
    const w = win('maint', '30 2 * * *', '1h', 'Europe/Berlin');
    // 00:45Z = 01:45 CET, before the jump: closed, opens at 01:00Z = 03:00 CEST.
    const before = evaluateWindow(w, 0, at('2026-03-29T00:45:00Z'));
    expect(before.active).toBe(false);
    expect(iso(before.nextStart)).toBe('2026-03-29T01:00:00.000Z');
    const during = evaluateWindow(w, 0, at('2026-03-29T01:30:00Z'));
    expect(occ(during)).toEqual(['2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z']);
    // The next day, 02:30 CEST = 00:30Z.
    expect(iso(during.nextStart)).toBe('2026-03-30T00:30:00.000Z');
  });

  test('Europe/Berlin fall-back (03:00 CEST → 02:00 CET): 02:30 opens once, on the first pass', () => {
    const w = win('maint', '30 2 * * *', '20m', 'Europe/Berlin');
    // 2026-10-25: 02:30 CEST = 00:30Z, the repeated 02:30 CET = 01:30Z.
    expect(occ(evaluateWindow(w, 0, at('2026-10-25T00:40:00Z')))).toEqual([
      '2026-10-25T00:30:00.000Z',
      '2026-10-25T00:50:00.000Z',
    ]);
    const second = evaluateWindow(w, 0, at('2026-10-25T01:40:00Z'));
    expect(second.active).toBe(false);
    expect(iso(second.nextStart)).toBe('2026-10-26T01:30:00.000Z');
  });

  test('America/New_York: a 2h window from 00:30 EDT over the repeated hour closes at 01:30 EST (elapsed time)', () => {
    // 2026-11-01: 02:00 EDT → 01:00 EST. 00:30 EDT = 04:30Z; +2h = 06:30Z = 01:30 EST.
    const w = win('batch', '30 0 * * *', '2h', 'America/New_York');
    const firstPass = evaluateWindow(w, 0, at('2026-11-01T05:15:00Z')); // 01:15 EDT
    const secondPass = evaluateWindow(w, 0, at('2026-11-01T06:15:00Z')); // 01:15 EST
    expect(occ(firstPass)).toEqual(['2026-11-01T04:30:00.000Z', '2026-11-01T06:30:00.000Z']);
    expect(occ(secondPass)).toEqual(occ(firstPass));
    expect(evaluateWindow(w, 0, at('2026-11-01T06:45:00Z')).active).toBe(false); // 01:45 EST
    // The next day's 00:30 is EST: 05:30Z.
    expect(iso(firstPass.nextStart)).toBe('2026-11-02T05:30:00.000Z');
  });

  test('America/New_York: 01:30 on fall-back day opens once (EDT), not again at 01:30 EST', () => {
    const w = win('w', '30 1 * * *', '30m', 'America/New_York');
    expect(occ(evaluateWindow(w, 0, at('2026-11-01T05:45:00Z')))).toEqual([
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T06:00:00.000Z',
    ]);
    const repeated = evaluateWindow(w, 0, at('2026-11-01T06:40:00Z')); // 01:40 EST
    expect(repeated.active).toBe(false);
    expect(iso(repeated.nextStart)).toBe('2026-11-02T06:30:00.000Z');
  });

  test('America/New_York spring-forward day: 08:00 is 12:00Z (EDT), the day before 13:00Z (EST)', () => {
    const w = win('day', '0 8 * * *', '1h', 'America/New_York');
    expect(iso(evaluateWindow(w, 0, at('2026-03-07T00:00:00Z')).nextStart)).toBe('2026-03-07T13:00:00.000Z');
    expect(iso(evaluateWindow(w, 0, at('2026-03-08T00:00:00Z')).nextStart)).toBe('2026-03-08T12:00:00.000Z');
  });

  test('Asia/Kolkata (UTC+05:30): 09:30 IST is 04:00Z', () => {
    const w = win('w', '30 9 * * *', '1h', 'Asia/Kolkata');
    expect(occ(evaluateWindow(w, 0, at('2026-06-01T04:29:00Z')))).toEqual([
      '2026-06-01T04:00:00.000Z',
      '2026-06-01T05:00:00.000Z',
    ]);
    expect(evaluateWindow(w, 0, at('2026-06-01T03:59:00Z')).active).toBe(false);
    expect(evaluateWindow(w, 0, at('2026-06-01T05:00:00Z')).active).toBe(false);
    // A midnight-IST window is 18:30Z the previous UTC day.
    expect(
      iso(evaluateWindow(win('m', '0 0 * * *', '1h', 'Asia/Kolkata'), 0, at('2026-06-01T12:00:00Z')).nextStart),
    ).toBe('2026-06-01T18:30:00.000Z');
  });

  test('29 February: open on a leap day, next start four years on', () => {
    const s = evaluateWindow(win('leap', '0 0 29 2 *', '24h'), 0, at('2028-02-29T12:00:00Z'));
    expect(occ(s)).toEqual(['2028-02-29T00:00:00.000Z', '2028-03-01T00:00:00.000Z']);
    expect(iso(s.nextStart)).toBe('2032-02-29T00:00:00.000Z');
  });

  test('bad duration, time zone or cron: closed, with the reason, no cron steps', () => {
    const now = at('2026-06-01T12:00:00Z');
    for (const w of [
      win('a', '0 8 * * *', '169h'),
      win('b', '0 8 * * *', '0s'),
      win('c', '0 8 * * *', 'ten hours'),
      win('d', '0 8 * * *', '1h', 'Mars/Olympus'),
      win('e', '0 25 * * *', '1h'),
    ]) {
      const s = evaluateWindow(w, 0, now);
      expect(s.active).toBe(false);
      expect(s.error).toMatch(/duration|time zone|cron/);
      expect(s.nextTransition).toBeUndefined();
      expect(s.steps).toBe(0);
    }
  });
  test('the backwards step agrees with a forwards enumeration across DST weeks in five zones', () => {
    // The latest start ≤ now found by one backwards cron step must be the last of the starts enumerated forwards
    // (24h windows: the current occurrence is the latest start of the last 24h).
    const patterns = ['0 8 * * 1-5', '30 2 * * *', '30 1 * * *', '*/20 * * * *', '0 8 1 * 1', '30 0-4 * * *'];
    const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe'];
    const days = ['2026-03-08T00:00:00Z', '2026-03-29T00:00:00Z', '2026-10-25T00:00:00Z', '2026-11-01T00:00:00Z'];
    const cronFor = cachingCronFactory();
    let compared = 0;
    const mismatches: string[] = [];
    for (const p of patterns) {
      for (const tz of zones) {
        const c = cronSteps(p, tz);
        for (const day of days) {
          const from = Date.parse(day) - 25 * 3_600_000;
          const starts: number[] = [];
          for (let t = c.earliestAfter(from); t !== undefined && t < Date.parse(day) + 2 * 24 * 3_600_000;) {
            starts.push(t);
            t = c.earliestAfter(t);
          }
          // Every 97 minutes over two days, plus the first starts themselves and the instant just before each.
          const samples = [
            ...Array.from({ length: 30 }, (_, i) => Date.parse(day) + i * 97 * 60_000),
            ...starts
              .filter((t) => t >= Date.parse(day))
              .slice(0, 12)
              .flatMap((t) => [t, t - 1]),
          ];
          for (const now of samples) {
            const expected = starts.filter((t) => t <= now && t + 24 * 3_600_000 > now).pop();
            const got = evaluateWindow(win('w', p, '24h', tz), 0, new Date(now), cronFor).occurrence?.start.getTime();
            if (got !== expected) mismatches.push(`${p} ${tz} ${new Date(now).toISOString()}: ${got} != ${expected}`);
            compared++;
          }
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(4000);
  });
});

describe('several windows', () => {
  const base = { min: 2, max: 10 };

  test('no window open: the base bounds, the earliest next start', () => {
    const e = evaluateWindows(
      [win('night', '0 22 * * *', '8h', undefined, 1, 3), win('day', '0 8 * * 1-5', '10h', undefined, 4, 10)],
      base,
      at('2026-06-01T07:00:00Z'),
    );
    expect(e.active).toBeUndefined();
    expect(e.effective).toEqual({ min: 2, max: 10 });
    expect(iso(e.nextTransition)).toBe('2026-06-01T08:00:00.000Z');
  });

  test('a night window lowers both bounds below the base (1–3 under base 2–10)', () => {
    const e = evaluateWindows([win('night', '0 22 * * *', '8h', undefined, 1, 3)], base, at('2026-06-02T01:00:00Z'));
    expect(e.active?.name).toBe('night');
    expect(e.effective).toEqual({ min: 1, max: 3 });
  });

  test('overlap: the first open window in list order wins, whatever started last', () => {
    const blackFriday = win('black-friday', '0 0 27 11 *', '48h', undefined, 20, 50);
    const business = win('business', '0 8 * * 1-5', '10h', undefined, 4, 10);
    const now = at('2026-11-27T09:00:00Z'); // business opened at 08:00, black-friday at 00:00
    const a = evaluateWindows([blackFriday, business], base, now);
    expect(a.active?.name).toBe('black-friday');
    expect(a.overridden).toEqual(['business']);
    expect(a.effective).toEqual({ min: 20, max: 50 });
    const b = evaluateWindows([business, blackFriday], base, now);
    expect(b.active?.name).toBe('business');
    expect(b.overridden).toEqual(['black-friday']);
    expect(b.effective).toEqual({ min: 4, max: 10 });
    // The next transition is business closing at 18:00 (black-friday closes on the 29th).
    expect(iso(a.nextTransition)).toBe('2026-11-27T18:00:00.000Z');
  });

  test('a closed first window does not hide an open second one', () => {
    const e = evaluateWindows(
      [win('night', '0 22 * * *', '8h', undefined, 1, 3), win('day', '0 8 * * *', '10h', 'Europe/Berlin', 6, 12)],
      base,
      at('2026-06-01T10:00:00Z'),
    );
    expect(e.active?.name).toBe('day');
    expect(e.active?.index).toBe(1);
    expect(e.effective).toEqual({ min: 6, max: 12 });
  });

  test('time zones mixed: the next transition is the earliest instant, not the earliest wall clock', () => {
    const e = evaluateWindows(
      [
        win('ny', '0 9 * * *', '1h', 'America/New_York'), // 13:00Z in June
        win('in', '0 18 * * *', '1h', 'Asia/Kolkata'), // 12:30Z
        win('de', '0 14 * * *', '1h', 'Europe/Berlin'), // 12:00Z
      ],
      base,
      at('2026-06-01T11:00:00Z'),
    );
    expect(e.windows.map((w) => iso(w.nextStart))).toEqual([
      '2026-06-01T13:00:00.000Z',
      '2026-06-01T12:30:00.000Z',
      '2026-06-01T12:00:00.000Z',
    ]);
    expect(iso(e.nextTransition)).toBe('2026-06-01T12:00:00.000Z');
  });

  test('clampBounds keeps 1 ≤ min ≤ max', () => {
    expect(clampBounds({ min: 5, max: 3 })).toEqual({ min: 3, max: 3 });
    expect(clampBounds({ min: 0, max: 0 })).toEqual({ min: 1, max: 1 });
    expect(clampBounds({ min: 2, max: 10 })).toEqual({ min: 2, max: 10 });
  });

  test('20 never-open windows evaluate in a bounded number of cron steps, counted at the cron', () => {
    let calls = 0;
    const counting = (schedule: string, tz: string | undefined): CronSteps => {
      const c = cronSteps(schedule, tz);
      return {
        latestAtOrBefore: (t) => (calls++, c.latestAtOrBefore(t)),
        earliestAfter: (t) => (calls++, c.earliestAfter(t)),
      };
    };
    // Every minute of 1 January for 1 minute, long windows of rare schedules, leap days: all closed in June,
    // some with the maximum look-back of 168h.
    const windows = Array.from({ length: 20 }, (_, i) =>
      i % 3 === 0
        ? win(`y${i}`, '* * 1 1 *', '1m', 'Asia/Kolkata')
        : i % 3 === 1
          ? win(`l${i}`, '0 0 29 2 *', '168h', 'America/New_York')
          : win(`q${i}`, `${i} 3 1 1,4,7,10 *`, '168h', 'Europe/Berlin'),
    );
    const e = evaluateWindows(windows, base, at('2026-06-20T12:00:00Z'), counting);
    expect(e.active).toBeUndefined();
    expect(e.windows.every((w) => !w.active && w.nextTransition)).toBe(true);
    expect(calls).toBe(e.steps);
    expect(e.steps).toBeLessThanOrEqual(20 * MAX_STEPS_PER_WINDOW);
    expect(e.steps).toBe(40);
  });

  test('a minutely window of 168h (the longest look-back) still takes two steps', () => {
    const s = evaluateWindow(win('m', '* * * * *', '168h'), 0, at('2026-06-01T12:00:30Z'));
    expect(s.steps).toBe(MAX_STEPS_PER_WINDOW);
    expect(occ(s)).toEqual(['2026-06-01T12:00:00.000Z', '2026-06-08T12:00:00.000Z']);
    expect(iso(s.nextTransition)).toBe('2026-06-01T12:01:00.000Z');
  });
});

describe('compiled schedules', () => {
  test('the caching factory compiles each (schedule, zone) once, caches errors, drops the oldest when full', () => {
    const made: string[] = [];
    const make = (schedule: string, tz: string | undefined): CronSteps => {
      made.push(`${tz ?? 'UTC'}|${schedule}`);
      return cronSteps(schedule, tz);
    };
    const f = cachingCronFactory(2, make);
    const a = f('0 8 * * *', 'Europe/Berlin');
    expect(f('0 8 * * *', 'Europe/Berlin')).toBe(a);
    expect(f('0 8 * * *', undefined)).not.toBe(a);
    expect(() => f('0 8 * * *', 'Mars/Olympus')).toThrow('unknown time zone "Mars/Olympus"');
    expect(made).toEqual(['Europe/Berlin|0 8 * * *', 'UTC|0 8 * * *', 'Mars/Olympus|0 8 * * *']);
    // Capacity 2: Berlin (the oldest) was dropped when Mars came in; the cached error is not recompiled.
    expect(() => f('0 8 * * *', 'Mars/Olympus')).toThrow('unknown time zone');
    f('0 8 * * *', 'Europe/Berlin');
    expect(made).toHaveLength(4);
  });

  test('evaluations through the cache equal evaluations without it', () => {
    const f = cachingCronFactory();
    const w = win('d', '0 8 * * *', '10h', 'America/New_York');
    for (const iso of ['2026-11-01T05:00:00Z', '2026-11-01T14:00:00Z', '2026-11-02T02:00:00Z']) {
      expect(evaluateWindow(w, 0, at(iso), f)).toEqual(evaluateWindow(w, 0, at(iso)));
    }
  });
});

describe('requeue', () => {
  const now = at('2026-06-01T12:00:00Z');
  test('the delay to the next transition', () => {
    expect(requeueAfterMs({ nextTransition: at('2026-06-01T12:10:00Z') }, now)).toBe(600_000);
  });
  test('never below the minimum delay (no hot loop), never above the maximum', () => {
    expect(requeueAfterMs({ nextTransition: at('2026-06-01T12:00:00.003Z') }, now)).toBe(1000);
    expect(requeueAfterMs({ nextTransition: at('2026-06-01T11:00:00Z') }, now)).toBe(1000);
    expect(requeueAfterMs({ nextTransition: at('2032-02-29T00:00:00Z') }, now)).toBe(3_600_000);
    expect(requeueAfterMs({}, now)).toBe(3_600_000);
    expect(requeueAfterMs({}, now, { minRequeueMs: 5, maxRequeueMs: 60_000 })).toBe(60_000);
  });
  test('from an evaluation: a window opening in 90 s', () => {
    const e = evaluateWindows([win('w', '2 12 * * *', '1h')], { min: 2, max: 10 }, at('2026-06-01T12:00:30Z'));
    expect(requeueAfterMs(e, at('2026-06-01T12:00:30Z'))).toBe(90_000);
  });
});
