import { describe, expect, test } from '@jest/globals';
import { newRun, type DrillRun } from './run.js';
import { drillStatus, recordRun } from './status.js';

const t0 = new Date('2026-12-01T04:00:00.000Z');
const finished = (id: string, over: Partial<DrillRun>): DrillRun => ({
  ...newRun(id, 'Schedule', t0, 'shop-dr-1', `scodr_1_${id}`),
  finishedAt: '2026-12-01T04:20:00.000Z',
  cleanedUp: true,
  ...over,
});
const byType = (v: ReturnType<typeof drillStatus>) => Object.fromEntries(v.conditions.map((c) => [c.type, c]));

describe('DRDrill status', () => {
  test('before any run: Ready=True Scheduled, the outcome conditions Unknown', () => {
    const v = drillStatus(undefined, []);
    expect(v.readiness).toMatchObject({ status: 'True', reason: 'Scheduled' });
    const c = byType(v);
    expect(c.Running).toMatchObject({ status: 'False', reason: 'Idle' });
    expect(c.LastDrillSucceeded).toMatchObject({ status: 'Unknown', reason: 'NoRunYet' });
    expect(c.CleanedUp).toMatchObject({ status: 'True' });
  });

  test('a running drill is Reconciling, names its step, and keeps the last outcome in Ready', () => {
    const run = newRun('r2', 'Manual', t0, 'ns', 'db');
    run.steps[0]!.phase = 'Succeeded';
    run.steps[3]!.phase = 'Running';
    const last = finished('r1', { phase: 'Failed', reason: 'IntegrityMismatch', message: 'users differ' });
    const v = drillStatus(run, [last]);
    expect(v.readiness).toMatchObject({ status: 'False', reason: 'IntegrityMismatch', progressing: true });
    expect(byType(v).Running).toMatchObject({ status: 'True', reason: 'RestoreData' });
  });

  test('a succeeded run within targets: Ready, LastDrillSucceeded and ObjectivesMet True with RTO/RPO', () => {
    const v = drillStatus(undefined, [
      finished('r1', {
        phase: 'Succeeded',
        reason: 'DrillSucceeded',
        rtoSeconds: 95,
        rpoSeconds: 70,
        objectivesMet: true,
      }),
    ]);
    expect(v.readiness).toMatchObject({ status: 'True', reason: 'LastDrillSucceeded' });
    const c = byType(v);
    expect(c.LastDrillSucceeded?.status).toBe('True');
    expect(c.ObjectivesMet).toMatchObject({ status: 'True', reason: 'WithinTargets' });
    expect(c.ObjectivesMet?.message).toContain('RTO 95s, RPO 70s');
  });

  test('a succeeded run over its RTO: Ready=False TargetsMissed', () => {
    const v = drillStatus(undefined, [finished('r1', { phase: 'Succeeded', rtoSeconds: 900, objectivesMet: false })]);
    expect(v.readiness).toMatchObject({ status: 'False', reason: 'TargetsMissed' });
    expect(byType(v).ObjectivesMet).toMatchObject({ status: 'False', reason: 'TargetsMissed' });
  });

  test('a kept run shows CleanedUp=False KeptForDebugging with its namespace and deadline', () => {
    const kept = finished('r1', {
      phase: 'Failed',
      reason: 'HealthCheckFailed',
      cleanedUp: undefined,
      keepUntil: '2026-12-02T04:20:00.000Z',
    });
    const c = byType(drillStatus(undefined, [kept]));
    expect(c.CleanedUp).toMatchObject({ status: 'False', reason: 'KeptForDebugging' });
    expect(c.CleanedUp?.message).toContain('shop-dr-1/scodr_1_r1 kept until 2026-12-02T04:20:00.000Z');
  });

  test('the history keeps the newest runs first, bounded, and replaces a run recorded twice', () => {
    let h: DrillRun[] = [];
    for (const id of ['a', 'b', 'c', 'd']) h = recordRun(h, finished(id, { phase: 'Succeeded' }), 3);
    expect(h.map((r) => r.id)).toEqual(['d', 'c', 'b']);
    h = recordRun(h, finished('c', { phase: 'Failed' }), 3);
    expect(h.map((r) => [r.id, r.phase])).toEqual([
      ['c', 'Failed'],
      ['d', 'Succeeded'],
      ['b', 'Succeeded'],
    ]);
  });
});
