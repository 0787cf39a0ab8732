import { describe, expect, test } from '@jest/globals';
import type { KubeObject } from '../../kube/index.js';
import { jobName, manualRunId, MANUAL_ANNOTATION } from '../backupschedule/schedule.js';
import {
  appObservation,
  backupObservation,
  backupRequestPatch,
  backupRequestValue,
  restoreObservation,
} from './observe.js';

const bs = (status: Record<string, unknown> = {}, annotations: Record<string, string> = {}) =>
  ({ metadata: { name: 'nightly', namespace: 'prod', annotations }, status }) as KubeObject & { status: never };
const job = (run: string) => jobName('nightly', manualRunId(backupRequestValue(run)));

describe('backupObservation', () => {
  test('Fresh: pending until the BackupSchedule judged the run it asked for; then the stored key', () => {
    expect(backupObservation('Fresh', 'nightly', bs(), 'r1').state).toBe('Pending');
    const other = bs({
      history: [{ job: job('r0'), result: 'Succeeded', key: 'k0', finishedAt: '2026-01-01T00:00:00Z' }],
    });
    expect(backupObservation('Fresh', 'nightly', other, 'r1').state).toBe('Pending');
    const mine = bs({
      history: [{ job: job('r1'), result: 'Succeeded', key: 'k1', finishedAt: '2026-01-02T00:00:00Z' }],
      lastSuccessfulBackup: { key: 'k1', size: 10, sha256: 'ab', completedAt: '2026-01-02T00:00:00Z' },
    });
    expect(backupObservation('Fresh', 'nightly', mine, 'r1')).toEqual({
      state: 'Succeeded',
      ref: { key: 'k1', completedAt: '2026-01-02T00:00:00Z', sha256: 'ab', size: 10 },
    });
  });

  test("Fresh: a failed run of the request fails the step with the schedule's reason", () => {
    const failed = bs({ history: [{ job: job('r1'), result: 'Failed', reason: 'AuthenticationFailed' }] });
    expect(backupObservation('Fresh', 'nightly', failed, 'r1')).toMatchObject({
      state: 'Failed',
      reason: 'BackupFailed',
      message: expect.stringContaining('AuthenticationFailed'),
    });
  });

  test('Latest: the newest verified backup, or None', () => {
    expect(backupObservation('Latest', 'nightly', bs(), 'r1')).toMatchObject({
      state: 'None',
      reason: 'NoVerifiedBackup',
    });
    const b = bs({ lastSuccessfulBackup: { key: 'k9', completedAt: '2026-01-03T00:00:00Z' } });
    expect(backupObservation('Latest', 'nightly', b, 'r1')).toEqual({
      state: 'Succeeded',
      ref: { key: 'k9', completedAt: '2026-01-03T00:00:00Z' },
    });
  });

  test('a missing BackupSchedule fails', () => {
    expect(backupObservation('Fresh', 'nightly', undefined, 'r1')).toMatchObject({
      state: 'Failed',
      reason: 'BackupScheduleNotFound',
    });
  });
});

describe('backupRequestPatch', () => {
  test('asks once: not when the annotation or status already carries the value', () => {
    expect(backupRequestPatch(bs(), 'r1')).toEqual({ metadata: { annotations: { [MANUAL_ANNOTATION]: 'drill-r1' } } });
    expect(backupRequestPatch(bs({}, { [MANUAL_ANNOTATION]: 'drill-r1' }), 'r1')).toBeUndefined();
    expect(backupRequestPatch(bs({ lastManualRequest: 'drill-r1' }), 'r1')).toBeUndefined();
    expect(backupRequestPatch(undefined, 'r1')).toBeUndefined();
  });
});

describe('restoreObservation', () => {
  const j = (conditions: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
    ({
      metadata: { name: 'dr-restore-x' },
      spec: { activeDeadlineSeconds: 60 },
      status: { conditions, ...extra },
    }) as KubeObject;
  test('absent, running, succeeded', () => {
    expect(restoreObservation(undefined, [])).toEqual({ state: 'Absent' });
    expect(restoreObservation(j([]), [])).toEqual({ state: 'Running' });
    expect(
      restoreObservation(j([{ type: 'Complete', status: 'True' }], { completionTime: '2026-01-01T00:00:09Z' }), []),
    ).toEqual({ state: 'Succeeded', finishedAt: '2026-01-01T00:00:09Z' });
  });
  test("a failure's reason is the agent's result line", () => {
    const pod = {
      metadata: { name: 'p' },
      status: {
        containerStatuses: [
          {
            name: 'agent',
            state: {
              terminated: {
                exitCode: 5,
                message: '{"level":30}\n{"result":"Failed","reason":"ChecksumMismatch","message":"sha256 differs"}',
              },
            },
          },
        ],
      },
    } as KubeObject;
    expect(restoreObservation(j([{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }]), [pod])).toEqual({
      state: 'Failed',
      reason: 'ChecksumMismatch',
      message: 'sha256 differs',
    });
  });
  test('a deadline is RestoreTimedOut', () => {
    expect(restoreObservation(j([{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded' }]), [])).toMatchObject({
      state: 'Failed',
      reason: 'RestoreTimedOut',
    });
  });
});

describe('appObservation', () => {
  const dep = (name: string, status: Record<string, unknown>, generation = 1) =>
    ({ metadata: { name, generation }, spec: { replicas: 1 }, status }) as KubeObject;
  const up = { observedGeneration: 1, updatedReplicas: 1, availableReplicas: 1 };
  test('absent, progressing, failed at the progress deadline', () => {
    expect(appObservation([], 2, undefined, undefined)).toEqual({ state: 'Absent' });
    expect(appObservation([dep('a', up), dep('b', {})], 2, undefined, undefined).state).toBe('Progressing');
    // Partly deployed (a crash between two applies): deploy again.
    expect(appObservation([dep('a', up)], 2, undefined, undefined).state).toBe('Absent');
    expect(appObservation([dep('a', up), dep('b', up)], 2, undefined, undefined, false).state).toBe('Absent');
    const stuck = dep('b', {
      conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
    });
    expect(appObservation([dep('a', up), stuck], 2, undefined, undefined)).toMatchObject({
      state: 'Failed',
      reason: 'ProgressDeadlineExceeded',
    });
  });
  test('Ready needs every Deployment available and, when probed, every health check passing', () => {
    const both = [dep('a', up), dep('b', up)];
    expect(appObservation(both, 2, undefined, undefined).state).toBe('Ready');
    expect(appObservation(both, 2, [], undefined).state).toBe('Progressing');
    const failing = [
      { component: 'backend', ok: true, message: '200' },
      { component: 'frontend', ok: false, message: 'GET /api/health answered 503' },
    ];
    expect(appObservation(both, 2, failing, undefined)).toMatchObject({
      state: 'Progressing',
      reason: 'HealthCheckFailing',
      message: 'frontend: GET /api/health answered 503',
    });
    const ok = failing.map((h) => ({ ...h, ok: true }));
    expect(appObservation(both, 2, ok, '2026-01-01T00:00:00Z')).toEqual({
      state: 'Ready',
      readyAt: '2026-01-01T00:00:00Z',
    });
  });
  test('a Deployment whose status is older than its spec is not available yet', () => {
    expect(appObservation([dep('a', up, 2), dep('b', up)], 2, undefined, undefined).state).toBe('Progressing');
  });
});
