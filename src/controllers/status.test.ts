import { describe, expect, test } from '@jest/globals';
import { decideStatus, notImplemented, type Readiness } from './status.js';

const now = new Date('2026-03-01T12:00:00Z');
const later = new Date('2026-03-01T13:00:00Z');
const base = {
  kind: 'BackupSchedule',
  paused: false,
  readiness: notImplemented('BackupSchedule', 'taking backups'),
};
const bad = [{ field: 'spec.schedule', message: 'invalid cron expression "61 * * * *"' }];

type C = { type: string; status: string; reason: string; message: string; lastTransitionTime: string };
const conds = (d: { status: Record<string, unknown> }) => d.status.conditions as C[];
const triples = (d: { status: Record<string, unknown> }) => conds(d).map((c) => [c.type, c.status, c.reason]);
const cond = (d: { status: Record<string, unknown> }, type: string) => conds(d).find((c) => c.type === type);

describe('decideStatus', () => {
  test('a valid spec whose capability does not exist yet: Ready=Unknown NotImplemented, nothing in flight', () => {
    const d = decideStatus({ ...base, generation: 2, previous: undefined, errors: [], now });
    expect(d.invalidEvent).toBeUndefined();
    expect(d.status.observedGeneration).toBe(2);
    expect(triples(d)).toEqual([
      ['Ready', 'Unknown', 'NotImplemented'],
      ['Reconciling', 'False', 'NotImplemented'],
      ['Stalled', 'False', 'NotStalled'],
      ['Suspended', 'False', 'NotSuspended'],
    ]);
    expect(cond(d, 'Ready')?.message).toBe(
      'the spec is valid; the BackupSchedule capability (taking backups) is not implemented yet',
    );
  });

  test("Ready is the capability's judgement: done, in progress, stuck", () => {
    const judge = (readiness: Readiness) =>
      triples(decideStatus({ ...base, readiness, generation: 1, previous: undefined, errors: [], now })).slice(0, 3);
    expect(judge({ status: 'True', reason: 'Reconciled', message: 'all components available' })).toEqual([
      ['Ready', 'True', 'Reconciled'],
      ['Reconciling', 'False', 'Reconciled'],
      ['Stalled', 'False', 'NotStalled'],
    ]);
    expect(judge({ status: 'False', reason: 'RollingOut', message: '1/2 updated', progressing: true })).toEqual([
      ['Ready', 'False', 'RollingOut'],
      ['Reconciling', 'True', 'RollingOut'],
      ['Stalled', 'False', 'NotStalled'],
    ]);
    expect(judge({ status: 'False', reason: 'SecretMissing', message: 'no Secret db', stalled: true })).toEqual([
      ['Ready', 'False', 'SecretMissing'],
      ['Reconciling', 'False', 'SecretMissing'],
      ['Stalled', 'True', 'SecretMissing'],
    ]);
  });

  test('an invalid spec: Ready=False InvalidSpec naming the field, Stalled, and one event per generation', () => {
    const first = decideStatus({ ...base, generation: 1, previous: undefined, errors: bad, now });
    expect(first.invalidEvent).toBe('spec.schedule: invalid cron expression "61 * * * *"');
    expect(cond(first, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec', message: first.invalidEvent });
    expect(cond(first, 'Stalled')).toMatchObject({ status: 'True', reason: 'InvalidSpec' });

    const again = decideStatus({ ...base, generation: 1, previous: first.status as never, errors: bad, now: later });
    expect(again.invalidEvent).toBeUndefined();
    expect(again.status).toEqual(first.status); // nothing to write

    const nextGen = decideStatus({ ...base, generation: 2, previous: first.status as never, errors: bad, now: later });
    expect(nextGen.invalidEvent).toBeDefined();
  });

  test('fixing the spec flips Ready and moves its transition time', () => {
    const invalid = decideStatus({ ...base, generation: 1, previous: undefined, errors: bad, now });
    const fixed = decideStatus({ ...base, generation: 2, previous: invalid.status as never, errors: [], now: later });
    expect(cond(fixed, 'Ready')).toMatchObject({ status: 'Unknown', lastTransitionTime: '2026-03-01T13:00:00Z' });
    // Suspended did not flip, so its transition time stays.
    expect(cond(fixed, 'Suspended')).toMatchObject({ status: 'False', lastTransitionTime: '2026-03-01T12:00:00Z' });
  });

  test('paused by annotation: Ready=Unknown Paused, Suspended=True Paused', () => {
    const d = decideStatus({ ...base, paused: true, generation: 1, previous: undefined, errors: [], now });
    expect(triples(d)).toEqual([
      ['Ready', 'Unknown', 'Paused'],
      ['Reconciling', 'False', 'Paused'],
      ['Stalled', 'False', 'NotStalled'],
      ['Suspended', 'True', 'Paused'],
    ]);
  });

  test("suspended by the spec: Suspended=True with the spec's reason; Ready stays the capability's judgement", () => {
    const d = decideStatus({
      ...base,
      suspended: 'SpecSuspended',
      generation: 3,
      previous: undefined,
      errors: [],
      now,
    });
    expect(cond(d, 'Suspended')).toMatchObject({
      status: 'True',
      reason: 'SpecSuspended',
      message: 'spec.suspend is true: no new backups are taken; retention and status keep running',
    });
    expect(cond(d, 'Ready')).toMatchObject({ status: 'Unknown', reason: 'NotImplemented' });
    // The annotation wins when both apply: it stops the controller altogether.
    const both = decideStatus({
      ...base,
      suspended: 'ModePaused',
      paused: true,
      generation: 3,
      previous: undefined,
      errors: [],
      now,
    });
    expect(cond(both, 'Suspended')).toMatchObject({ status: 'True', reason: 'Paused' });
    // Resuming flips Suspended back and moves its transition time.
    const resumed = decideStatus({ ...base, generation: 4, previous: d.status as never, errors: [], now: later });
    expect(cond(resumed, 'Suspended')).toMatchObject({
      status: 'False',
      reason: 'NotSuspended',
      lastTransitionTime: '2026-03-01T13:00:00Z',
    });
  });

  test('an invalid spec is reported while suspended too', () => {
    const d = decideStatus({ ...base, suspended: 'SpecPaused', generation: 1, previous: undefined, errors: bad, now });
    expect(triples(d)).toEqual([
      ['Ready', 'False', 'InvalidSpec'],
      ['Reconciling', 'False', 'InvalidSpec'],
      ['Stalled', 'True', 'InvalidSpec'],
      ['Suspended', 'True', 'SpecPaused'],
    ]);
  });
});
