import { describe, expect, test } from '@jest/globals';
import { lastVerified } from './capability.js';

const drill = (name: string, schedule: string, runs: Record<string, unknown>[]) =>
  ({
    metadata: { name, namespace: 'prod' },
    spec: { backupScheduleRef: { name: schedule } },
    status: { runs },
  }) as never;

describe('lastVerified', () => {
  test("the newest succeeded drill run's backup of this schedule; failed runs and other schedules do not count", () => {
    const drills = [
      drill('monthly', 'nightly', [
        { id: 'r3', phase: 'Failed', finishedAt: '2026-03-01T00:00:00Z', backup: { key: 'k3' } },
        { id: 'r2', phase: 'Succeeded', finishedAt: '2026-02-01T00:00:00Z', backup: { key: 'k2' } },
      ]),
      drill('weekly', 'nightly', [
        { id: 'w1', phase: 'Succeeded', finishedAt: '2026-02-10T00:00:00Z', backup: { key: 'k4' } },
      ]),
      drill('other', 'hourly', [
        { id: 'o1', phase: 'Succeeded', finishedAt: '2026-04-01T00:00:00Z', backup: { key: 'k9' } },
      ]),
    ];
    expect(lastVerified(drills, 'nightly')).toEqual({
      key: 'k4',
      verifiedAt: '2026-02-10T00:00:00Z',
      drill: 'weekly',
      run: 'w1',
    });
    expect(lastVerified(drills, 'none')).toBeUndefined();
    expect(lastVerified([drill('m', 'nightly', [{ id: 'r', phase: 'Succeeded' }])], 'nightly')).toBeUndefined();
  });
});
