// The scheduler (pure): the due tick, the starting deadline, time zones, the Job names.
import { describe, expect, test } from '@jest/globals';
import { cronOf, dueTick, intervalAfter, jobName, jobStem, manualRunId, tickRunId } from './schedule.js';

const at = (s: string) => new Date(s);

describe('dueTick', () => {
  const cron = cronOf('*/5 * * * *', undefined);
  const createdAt = at('2026-01-01T00:00:30Z');

  test('nothing before the first tick; the next tick is where to look again', () => {
    const d = dueTick({ cron, now: at('2026-01-01T00:03:00Z'), createdAt, startingDeadlineSeconds: 60 });
    expect(d.tick).toBeUndefined();
    expect(d.next).toEqual(at('2026-01-01T00:05:00Z'));
  });

  test('the tick just passed is due; once scheduled it is not due again', () => {
    const now = at('2026-01-01T00:05:20Z');
    const d = dueTick({ cron, now, createdAt, startingDeadlineSeconds: 60 });
    expect(d.tick).toEqual(at('2026-01-01T00:05:00Z'));
    expect(dueTick({ cron, now, createdAt, lastScheduled: d.tick!, startingDeadlineSeconds: 60 }).tick).toBeUndefined();
  });

  test('a tick missed by more than startingDeadlineSeconds is skipped and reported, not run late', () => {
    const d = dueTick({
      cron,
      now: at('2026-01-01T00:07:30Z'),
      createdAt,
      lastScheduled: at('2026-01-01T00:00:00Z'),
      startingDeadlineSeconds: 60,
    });
    expect(d.tick).toBeUndefined();
    expect(d.missed).toEqual(at('2026-01-01T00:05:00Z'));
    expect(d.next).toEqual(at('2026-01-01T00:10:00Z'));
  });

  test('after a long outage only the most recent tick runs (no burst)', () => {
    const d = dueTick({
      cron: cronOf('* * * * *', undefined),
      now: at('2026-03-01T12:00:10Z'),
      createdAt: at('2020-01-01T00:00:00Z'),
      lastScheduled: at('2020-01-01T00:00:00Z'),
      startingDeadlineSeconds: 86_400,
    });
    expect(d.tick).toEqual(at('2026-03-01T12:00:00Z'));
  });

  test('time zones: 02:00 Europe/Berlin is 01:00 UTC in winter and 00:00 UTC in summer', () => {
    const berlin = cronOf('0 2 * * *', 'Europe/Berlin');
    expect(
      dueTick({ cron: berlin, now: at('2026-01-10T01:00:30Z'), createdAt, startingDeadlineSeconds: 300 }).tick,
    ).toEqual(at('2026-01-10T01:00:00Z'));
    expect(
      dueTick({
        cron: berlin,
        now: at('2026-07-10T00:00:30Z'),
        createdAt: at('2026-07-01T00:00:00Z'),
        startingDeadlineSeconds: 300,
      }).tick,
    ).toEqual(at('2026-07-10T00:00:00Z'));
  });

  test('interval of the schedule', () => {
    expect(intervalAfter(cron, at('2026-01-01T00:01:00Z'))).toBe(300_000);
    expect(intervalAfter(cronOf('0 2 * * *', undefined), at('2026-01-01T00:00:00Z'))).toBe(86_400_000);
  });
});

describe('names', () => {
  test('Job names are derived from the tick (minutes) or from the annotation value, within 63 characters', () => {
    expect(tickRunId(at('2026-01-01T00:05:00Z'))).toBe(`t${Date.parse('2026-01-01T00:05:00Z') / 60_000}`);
    expect(jobName('nightly', tickRunId(at('2026-01-01T00:05:00Z')))).toBe(
      `nightly-t${Date.parse('2026-01-01T00:05:00Z') / 60_000}`,
    );
    expect(manualRunId('2026-01-01')).toBe(manualRunId('2026-01-01'));
    expect(manualRunId('a')).not.toBe(manualRunId('b'));
    const long = 'a'.repeat(100);
    expect(jobStem(long)).toHaveLength(40);
    expect(jobStem(long)).not.toBe(jobStem(`${'a'.repeat(99)}b`));
    expect(jobName(long, manualRunId('x')).length).toBeLessThanOrEqual(63);
    expect(jobName(long, tickRunId(at('2099-01-01T00:00:00Z'))).length).toBeLessThanOrEqual(63);
  });
});
