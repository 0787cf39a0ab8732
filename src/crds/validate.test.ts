import { describe, expect, test } from '@jest/globals';
import { checkCron, checkTimeZone, fieldPath, parseDuration, parseQuantity, validateSpec } from './validate.js';

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
    expect(errors.map((e) => e.field).sort()).toEqual(['spec.backupScheduleRef', 'spec.drNamespace']);
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
