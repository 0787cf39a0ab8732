import { describe, expect, test } from '@jest/globals';
import { decideTrigger, manualId, RUN_NOW_ANNOTATION, tickId } from './trigger.js';

const createdAt = new Date('2026-01-01T00:00:00Z');
const base = { annotations: {}, createdAt, busy: false };

describe('decideTrigger', () => {
  test('no schedule, no annotation: nothing starts, nothing is scheduled', () => {
    expect(decideTrigger({ ...base, now: new Date('2026-03-01T00:00:00Z') })).toEqual({});
  });

  test('a new run-now value starts one manual run with a deterministic id and is recorded', () => {
    const d = decideTrigger({
      ...base,
      annotations: { [RUN_NOW_ANNOTATION]: 'a' },
      now: new Date('2026-03-01T00:00:00Z'),
    });
    expect(d.start).toEqual({ id: manualId('a'), trigger: 'Manual' });
    expect(d.start?.id).toMatch(/^manual-[0-9a-f]{8}$/);
    expect(d.lastRunNowValue).toBe('a');
    // The same value again (after a restart, read back from status) starts nothing.
    const again = decideTrigger({
      ...base,
      annotations: { [RUN_NOW_ANNOTATION]: 'a' },
      lastRunNowValue: 'a',
      now: new Date('2026-03-01T00:01:00Z'),
    });
    expect(again.start).toBeUndefined();
    expect(again.lastRunNowValue).toBe('a');
  });

  test('the monthly tick starts a scheduled run named after the tick, once', () => {
    const spec = { schedule: '0 4 1 * *', timeZone: 'Europe/Berlin' };
    const now = new Date('2026-03-01T03:00:30Z'); // 04:00:30 in Berlin (CET)
    const d = decideTrigger({ ...base, ...spec, now });
    expect(d.start).toEqual({ id: '20260301T030000Z', trigger: 'Schedule' });
    expect(d.lastScheduleTime).toBe('2026-03-01T03:00:00.000Z');
    expect(d.nextScheduleTime).toBe('2026-04-01T02:00:00.000Z'); // CEST from 29 March
    const later = decideTrigger({
      ...base,
      ...spec,
      lastScheduleTime: d.lastScheduleTime,
      now: new Date('2026-03-01T03:05:00Z'),
    });
    expect(later.start).toBeUndefined();
  });

  test('a tick missed by more than the starting deadline is skipped, not run late', () => {
    const d = decideTrigger({ ...base, schedule: '0 4 1 * *', now: new Date('2026-03-02T12:00:00Z') });
    expect(d.start).toBeUndefined();
    expect(d.nextScheduleTime).toBe('2026-04-01T04:00:00.000Z');
  });

  test('a due run waits while an earlier one is not cleaned up, and records nothing', () => {
    const d = decideTrigger({
      ...base,
      schedule: '0 4 1 * *',
      annotations: { [RUN_NOW_ANNOTATION]: 'b' },
      lastRunNowValue: 'a',
      now: new Date('2026-03-01T04:00:10Z'),
      busy: true,
    });
    expect(d.start).toBeUndefined();
    expect(d.lastRunNowValue).toBe('a');
    expect(d.lastScheduleTime).toBeUndefined();
    expect(d.waiting).toMatch(/waits for the previous run/);
  });

  test('a manual request and a tick at once make one run, and the tick counts as taken', () => {
    const d = decideTrigger({
      ...base,
      schedule: '0 4 1 * *',
      annotations: { [RUN_NOW_ANNOTATION]: 'c' },
      now: new Date('2026-03-01T04:00:10Z'),
    });
    expect(d.start?.trigger).toBe('Manual');
    expect(d.lastScheduleTime).toBe('2026-03-01T04:00:00.000Z');
  });

  test('tick ids are compact UTC timestamps', () => {
    expect(tickId(new Date('2026-12-01T04:00:00.000Z'))).toBe('20261201T040000Z');
  });
});
