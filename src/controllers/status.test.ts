import { describe, expect, test } from '@jest/globals';
import { decideStatus } from './status.js';

const now = new Date('2026-03-01T12:00:00Z');
const later = new Date('2026-03-01T13:00:00Z');
const base = { kind: 'BackupSchedule', paused: false, readyMessage: 'spec is valid' };
const bad = [{ field: 'spec.schedule', message: 'invalid cron expression "61 * * * *"' }];

describe('decideStatus', () => {
  test('a valid spec: Ready, not Reconciling, not Stalled, observedGeneration set', () => {
    const d = decideStatus({ ...base, generation: 2, previous: undefined, errors: [], now });
    expect(d.invalidEvent).toBeUndefined();
    expect(d.status.observedGeneration).toBe(2);
    expect(
      (d.status.conditions as { type: string; status: string; reason: string }[]).map((c) => [
        c.type,
        c.status,
        c.reason,
      ]),
    ).toEqual([
      ['Ready', 'True', 'Reconciled'],
      ['Reconciling', 'False', 'Reconciled'],
      ['Stalled', 'False', 'NotStalled'],
    ]);
  });

  test('an invalid spec: Ready=False InvalidSpec naming the field, Stalled, and one event per generation', () => {
    const first = decideStatus({ ...base, generation: 1, previous: undefined, errors: bad, now });
    expect(first.invalidEvent).toBe('spec.schedule: invalid cron expression "61 * * * *"');
    const conds = first.status.conditions as { type: string; status: string; reason: string; message: string }[];
    expect(conds.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'InvalidSpec',
      message: first.invalidEvent,
    });
    expect(conds.find((c) => c.type === 'Stalled')).toMatchObject({ status: 'True', reason: 'InvalidSpec' });

    const again = decideStatus({ ...base, generation: 1, previous: first.status as never, errors: bad, now: later });
    expect(again.invalidEvent).toBeUndefined();
    expect(again.status).toEqual(first.status); // nothing to write

    const nextGen = decideStatus({ ...base, generation: 2, previous: first.status as never, errors: bad, now: later });
    expect(nextGen.invalidEvent).toBeDefined();
  });

  test('fixing the spec flips Ready and moves its transition time', () => {
    const invalid = decideStatus({ ...base, generation: 1, previous: undefined, errors: bad, now });
    const fixed = decideStatus({ ...base, generation: 2, previous: invalid.status as never, errors: [], now: later });
    const ready = (fixed.status.conditions as { type: string; status: string; lastTransitionTime: string }[]).find(
      (c) => c.type === 'Ready',
    );
    expect(ready).toMatchObject({ status: 'True', lastTransitionTime: '2026-03-01T13:00:00Z' });
  });

  test('paused by annotation', () => {
    const d = decideStatus({ ...base, paused: true, generation: 1, previous: undefined, errors: [], now });
    expect((d.status.conditions as { type: string; status: string; reason: string }[])[0]).toMatchObject({
      type: 'Ready',
      status: 'Unknown',
      reason: 'Paused',
    });
  });
});
