import { afterEach, describe, expect, test } from '@jest/globals';
import { Cron, CronDate } from 'croner';
import { semantic as scalingSemantic } from '../controllers/scalingpolicy/controller.js';
import type { ScalingPolicySpec } from './scalingpolicy.js';
import {
  checkCron,
  checkTimeZone,
  CRON_LOOKAHEAD_YEARS,
  fieldPath,
  parseDuration,
  parseQuantity,
  validateSpec,
} from './validate.js';

describe('validateSpec', () => {
  test('fills in defaults, nested ones included', () => {
    const { spec, errors } = validateSpec<Record<string, Record<string, unknown>>>('ScalingPolicy', {
      targetRef: { kind: 'Deployment', name: 'web' },
    });
    expect(errors).toEqual([]);
    expect(spec).toMatchObject({ mode: 'Auto', minReplicas: 2, maxReplicas: 10, metrics: { cpu: 70, memory: 80 } });
  });

  test('names the field of every problem', () => {
    const { errors } = validateSpec('BackupSchedule', {
      schedule: '0 2 * * *',
      destination: { bucket: 'UPPER', credentialsSecretRef: { name: 's' } },
      format: 'zip',
      retention: { keepDays: 0 },
    });
    expect(errors).toEqual(
      expect.arrayContaining([
        { field: 'spec.destination.bucket', message: 'must match pattern "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"' },
        { field: 'spec.format', message: 'must be one of "plain", "custom"' },
        { field: 'spec.retention.keepDays', message: 'must be >= 1' },
      ]),
    );
  });

  test('reports missing required fields with their path', () => {
    const { errors } = validateSpec('DRDrill', { appRef: { name: 'a' } });
    expect(errors.map((e) => e.field).sort()).toEqual(['spec.backupScheduleRef', 'spec.restore']);
    expect(errors[0]?.message).toBe('is required');
  });

  test('array indices in paths', () => {
    expect(fieldPath('/windows/0/minReplicas')).toBe('spec.windows[0].minReplicas');
  });
});

describe('semantic helpers', () => {
  test('cron', () => {
    expect(checkCron('spec.schedule', '0 2 * * *')).toEqual([]);
    expect(checkCron('spec.schedule', '@daily')).toEqual([]);
    expect(checkCron('spec.schedule', '61 * * * *')).toEqual([
      { field: 'spec.schedule', message: 'invalid cron expression "61 * * * *": Invalid value for minute: 61' },
    ]);
    expect(checkCron('spec.schedule', '0 0 31 2 *')[0]?.message).toBe('"0 0 31 2 *" never fires (no matching date)');
    expect(checkCron('spec.schedule', '* * * * * *')[0]?.message).toMatch(/must have 5 fields/);
  });
  test('time zones', () => {
    expect(checkTimeZone('spec.timeZone', 'Europe/Berlin')).toEqual([]);
    expect(checkTimeZone('spec.timeZone', 'Mars/Olympus')[0]?.message).toMatch(/unknown time zone "Mars\/Olympus"/);
  });
  test('durations and quantities', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('720h')).toBe(720 * 3_600_000);
    expect(parseDuration('10x')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
    expect(parseQuantity('500m')).toBeCloseTo(0.5);
    expect(parseQuantity('1Gi')).toBe(2 ** 30);
    expect(parseQuantity('2')).toBe(2);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('lots')).toBeUndefined();
  });
});

describe('cron look-ahead is bounded', () => {
  // croner's search advances through CronDate.recurseStep: counting its calls counts the search's iterations.
  const proto = CronDate.prototype as unknown as { recurseStep: (...a: unknown[]) => unknown };
  const original = proto.recurseStep;
  let steps = 0;
  const counting = () => {
    steps = 0;
    proto.recurseStep = function (this: unknown, ...a: unknown[]) {
      steps++;
      return original.apply(this, a);
    };
  };
  afterEach(() => {
    proto.recurseStep = original;
  });

  test('the look-ahead window holds every month shape of the 400-year Gregorian cycle', () => {
    const shapes = (from: number, to: number) => {
      const out = new Set<string>();
      for (let y = from; y <= to; y++)
        for (let m = 0; m < 12; m++) {
          const length = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
          out.add(`${m}/${length}/${new Date(Date.UTC(y, m, 1)).getUTCDay()}`);
        }
      return out;
    };
    const [from, to] = CRON_LOOKAHEAD_YEARS.split('-').map(Number) as [number, number];
    const cycle = shapes(1601, 2000);
    expect(cycle.size).toBe(91);
    expect(shapes(from, to)).toEqual(cycle);
  });

  test("agrees with croner's unbounded search, rare dates included", () => {
    const cases: [string, boolean][] = [
      ['0 2 * * *', true],
      ['0 0 29 2 *', true], // leap years only
      ['0 0 * 2 5#5', true], // a fifth Friday in February: once in 28 years
      ['0 0 29W 2 *', true],
      ['0 0 L 2 *', true],
      ['0 0 30 2 1', true], // day-of-month OR day-of-week (legacy cron): every Monday in February
      ['0 0 30 2 *', false],
      ['0 0 31 2,4,6,9,11 *', false],
      ['*/5 8-17 31 11 *', false],
    ];
    for (const [expr, fires] of cases) {
      const unbounded = new Cron(expr, { paused: true, legacyMode: true }).nextRun() !== null;
      expect([expr, unbounded]).toEqual([expr, fires]);
      expect([expr, checkCron('f', expr)]).toEqual([
        expr,
        fires ? [] : [{ field: 'f', message: `"${expr}" never fires (no matching date)` }],
      ]);
    }
  });

  test('a ScalingPolicy with 20 never-firing windows validates in bounded work', () => {
    const windows = Array.from({ length: 20 }, (_, i) => ({
      name: `w${i}`,
      schedule: `${i} ${i % 24} ${30 + (i % 2)} 2 *`, // Feb 30 / Feb 31
      duration: '1h',
      timeZone: 'Europe/Berlin',
      minReplicas: 1,
      maxReplicas: 2,
    }));
    const spec = { targetRef: { kind: 'Deployment', name: 'web' }, windows } as ScalingPolicySpec;
    counting();
    const errors = scalingSemantic({ metadata: { name: 'p', namespace: 'ns' }, spec }, spec);
    const bounded = steps;
    expect(errors.map((e) => e.field)).toEqual(windows.map((_, i) => `spec.windows[${i}].schedule`));
    expect(errors.every((e) => e.message.endsWith('never fires (no matching date)'))).toBe(true);
    // Each window: one candidate month (February) in each of the 28 years, a few search steps each (month, day,
    // carry). An unbounded search walks 400 years for each of them.
    expect(bounded).toBeGreaterThan(0);
    expect(bounded).toBeLessThanOrEqual(20 * 28 * 3);
    counting();
    new Cron('0 0 30 2 *', { paused: true, legacyMode: true }).nextRun();
    expect(steps).toBeGreaterThan(400); // one unbounded search of one such window, for comparison
  });

  test('the worst never-firing expression (day 31 of every short month) stays within the bound', () => {
    counting();
    expect(checkCron('f', '0 0 31 2,4,6,9,11 *')).toHaveLength(1);
    expect(steps).toBeLessThanOrEqual(5 * 28 * 3);
  });

  test('a common schedule costs a handful of steps', () => {
    counting();
    expect(checkCron('spec.schedule', '0 8 * * 1-5')).toEqual([]);
    expect(steps).toBeLessThanOrEqual(10);
  });
});
