import { describe, expect, test } from '@jest/globals';
import type { DRDrillSpec } from '../../crds/drdrill.js';
import type { NamespaceVerdict } from './guards.js';
import { newRun, plan, type DrillAction, type DrillObservations, type DrillRun } from './run.js';

const baseSpec: DRDrillSpec = {
  appRef: { name: 'shop' },
  backupScheduleRef: { name: 'nightly' },
  restore: { targetSecretRef: { name: 'dr-pg' } },
  checks: {
    health: true,
    readOnlySecretRef: { name: 'ro' },
    queries: [
      { name: 'users', sql: 'SELECT count(*) FROM users', compare: 'Equal' },
      { name: 'events', sql: 'SELECT count(*) FROM events', compare: 'AtLeast' },
    ],
  },
  targets: { rtoSeconds: 600, rpoSeconds: 3600 },
  cleanup: { policy: 'Always', ttlSeconds: 3600 },
  timeoutSeconds: 1800,
};

/** A small world the planner's actions change, one reconcile per simulated 10 s. */
interface World {
  backup: 'idle' | 'requested' | 'done' | 'failed' | 'none';
  latestBackup?: boolean;
  namespace: 'absent' | 'ours' | 'foreign';
  namespaceReady: boolean;
  database: 'absent' | 'ready' | 'production';
  restore: 'absent' | 'running' | 'ok' | 'failed';
  restoreTicks: number;
  app: 'absent' | 'progressing' | 'ready' | 'failed';
  appTicks: number;
  appNeverHealthy?: boolean;
  restored: Record<string, number>;
  source: Record<string, number>;
  sourceCaptured: boolean;
  integrityRun: boolean;
  actions: DrillAction[];
}

function world(over: Partial<World> = {}): World {
  return {
    backup: 'idle',
    namespace: 'absent',
    namespaceReady: false,
    database: 'absent',
    restore: 'absent',
    restoreTicks: 0,
    app: 'absent',
    appTicks: 0,
    restored: { users: 10, events: 12 },
    source: { users: 10, events: 11 },
    sourceCaptured: false,
    integrityRun: false,
    actions: [],
    ...over,
  };
}

function observe(w: World): DrillObservations {
  const ns: NamespaceVerdict =
    w.namespace === 'absent'
      ? { action: 'create' }
      : w.namespace === 'ours'
        ? { action: 'use' }
        : { action: 'refuse', reason: 'NamespaceNotOwned', message: 'not ours' };
  return {
    backup:
      w.backup === 'done' || w.latestBackup
        ? { state: 'Succeeded', ref: { key: 'b/nightly/x.sql.gz', completedAt: '2026-12-01T03:59:00.000Z' } }
        : w.backup === 'failed'
          ? { state: 'Failed', reason: 'DumpFailed', message: 'pg_dump exited 1' }
          : w.backup === 'none'
            ? { state: 'None' }
            : { state: 'Pending' },
    namespace: ns,
    namespaceReady: w.namespaceReady,
    database:
      w.database === 'production'
        ? { state: 'Refused', reason: 'TargetIsProduction', message: 'the restore target is the production database' }
        : { state: w.database === 'ready' ? 'Ready' : 'Absent' },
    restore:
      w.restore === 'absent'
        ? { state: 'Absent' }
        : w.restore === 'running'
          ? { state: 'Running' }
          : w.restore === 'ok'
            ? { state: 'Succeeded' }
            : { state: 'Failed', reason: 'ChecksumMismatch', message: 'sha256 differs from the manifest' },
    app:
      w.app === 'absent'
        ? { state: 'Absent' }
        : w.app === 'ready'
          ? { state: 'Ready' }
          : w.app === 'failed'
            ? { state: 'Failed', reason: 'HealthCheckFailed', message: 'GET /health: 503' }
            : { state: 'Progressing' },
    integrity: {
      source: w.sourceCaptured ? w.source : undefined,
      restored: w.integrityRun ? w.restored : undefined,
    },
    cleanup: { namespaceGone: w.namespace === 'absent', databaseGone: w.database === 'absent' },
  };
}

function act(w: World, actions: DrillAction[]): void {
  w.actions.push(...actions);
  for (const a of actions) {
    if (a.type === 'RequestBackup' && w.backup === 'idle') w.backup = 'requested';
    if (a.type === 'CaptureSourceValues') w.sourceCaptured = true;
    if (a.type === 'CreateNamespace') w.namespace = 'ours';
    if (a.type === 'PrepareNamespace') w.namespaceReady = true;
    if (a.type === 'CreateDatabase') w.database = 'ready';
    if (a.type === 'StartRestore') w.restore = 'running';
    if (a.type === 'DeployApp') w.app = 'progressing';
    if (a.type === 'RunIntegrity') w.integrityRun = true;
    if (a.type === 'DeleteNamespace' && w.namespace === 'ours') w.namespace = 'absent';
    if (a.type === 'DropDatabase') w.database = 'absent';
  }
  // Time passes: the backup completes, the restore and the app progress.
  if (w.backup === 'requested') w.backup = 'done';
  if (w.restore === 'running' && ++w.restoreTicks >= 3) w.restore = 'ok';
  if (w.app === 'progressing' && ++w.appTicks >= 2 && !w.appNeverHealthy) w.app = 'ready';
}

const start = new Date('2026-12-01T04:00:00.000Z');

function drive(spec: DRDrillSpec, w: World, maxTicks = 60, tickMs = 10_000) {
  let run: DrillRun = newRun('20261201T040000Z', 'Schedule', start, 'shop-dr-1234abcd', 'scodr_1234abcd_x');
  let now = start;
  const history: DrillRun[] = [];
  let wakeAt: string | undefined;
  for (let i = 0; i < maxTicks && !run.cleanedUp && !(run.keepUntil && now.toISOString() < run.keepUntil); i++) {
    const p = plan(spec, run, observe(w), now);
    run = p.run;
    wakeAt = p.wakeAt;
    history.push(run);
    act(w, p.actions);
    now = new Date(now.getTime() + tickMs);
  }
  return { run, history, wakeAt, now };
}

const phases = (r: DrillRun) => Object.fromEntries(r.steps.map((s) => [s.name, s.phase]));

describe('DR drill step machine', () => {
  test('a fresh drill runs every step, measures RTO/RPO, passes the integrity checks and cleans up', () => {
    const w = world();
    const { run } = drive(baseSpec, w);
    expect(run.phase).toBe('Succeeded');
    expect(phases(run)).toEqual({
      TakeBackup: 'Succeeded',
      PrepareNamespace: 'Succeeded',
      DeployApp: 'Succeeded',
      RestoreData: 'Succeeded',
      HealthCheck: 'Succeeded',
      IntegrityCheck: 'Succeeded',
      Cleanup: 'Succeeded',
    });
    expect(run.cleanedUp).toBe(true);
    expect(run.rpoSeconds).toBe(70); // backup completed 03:59:00, recovery started at the 04:00:10 reconcile
    expect(run.rtoSeconds).toBeGreaterThan(0);
    expect(run.objectivesMet).toBe(true);
    expect(run.integrity?.map((r) => [r.name, r.source, r.restored, r.passed])).toEqual([
      ['users', 10, 10, true],
      ['events', 11, 12, true],
    ]);
    // The backup was requested with the run's own value (the BackupSchedule dedupes on it); the app was deployed
    // while the data was being restored.
    expect(w.actions.filter((a) => a.type === 'RequestBackup')).toEqual([
      { type: 'RequestBackup', value: 'drill-20261201T040000Z' },
    ]);
    const deployedAt = run.steps.find((s) => s.name === 'DeployApp')!.startedAt!;
    const restoredAt = run.steps.find((s) => s.name === 'RestoreData')!.finishedAt!;
    expect(deployedAt < restoredAt).toBe(true);
    expect(w.namespace).toBe('absent');
    expect(w.database).toBe('absent');
  });

  test('Latest without a verified backup fails at TakeBackup and touches nothing', () => {
    const w = world({ backup: 'none' });
    const { run } = drive({ ...baseSpec, backup: 'Latest' }, w);
    expect(run).toMatchObject({ phase: 'Failed', reason: 'NoVerifiedBackup', cleanedUp: true });
    expect(phases(run).PrepareNamespace).toBe('Skipped');
    expect(w.actions.map((a) => a.type)).not.toContain('CreateNamespace');
    expect(w.actions.map((a) => a.type)).not.toContain('DeleteNamespace');
  });

  test('a namespace the drill did not create is refused and never deleted', () => {
    const w = world({ namespace: 'foreign' });
    const { run } = drive(baseSpec, w);
    expect(run).toMatchObject({ phase: 'Failed', reason: 'NamespaceNotOwned', cleanedUp: true });
    expect(w.actions.map((a) => a.type)).not.toContain('DeleteNamespace');
    expect(w.namespace).toBe('foreign');
  });

  test('a restore target that is production fails RestoreData; the app is not deployed against it', () => {
    const w = world({ database: 'production' });
    const { run } = drive(baseSpec, w);
    expect(run).toMatchObject({ phase: 'Failed', reason: 'TargetIsProduction' });
    expect(w.actions.map((a) => a.type)).not.toContain('DeployApp');
    expect(w.actions.map((a) => a.type)).not.toContain('DropDatabase');
    expect(phases(run).DeployApp).toBe('Skipped');
  });

  test('a corrupted backup fails at RestoreData with the reason, and the namespace and database are removed', () => {
    const w = world();
    // The restore fails instead of succeeding.
    const spec = baseSpec;
    let run = newRun('r1', 'Manual', start, 'ns-dr', 'db');
    let now = start;
    for (let i = 0; i < 40 && !run.cleanedUp; i++) {
      const p = plan(spec, run, observe(w), now);
      run = p.run;
      act(w, p.actions);
      if (w.restore === 'running') w.restore = 'failed';
      now = new Date(now.getTime() + 10_000);
    }
    expect(run).toMatchObject({ phase: 'Failed', reason: 'ChecksumMismatch', cleanedUp: true });
    expect(run.message).toContain('RestoreData');
    expect(w.namespace).toBe('absent');
    expect(w.database).toBe('absent');
  });

  test('an app that never becomes healthy fails at HealthCheck and still cleans up', () => {
    const w = world({ appNeverHealthy: true });
    let run = newRun('r1', 'Manual', start, 'ns-dr', 'db');
    let now = start;
    for (let i = 0; i < 40 && !run.cleanedUp; i++) {
      const p = plan(baseSpec, run, observe(w), now);
      run = p.run;
      act(w, p.actions);
      if (w.restore === 'ok' && w.app === 'progressing' && i > 10) w.app = 'failed';
      now = new Date(now.getTime() + 10_000);
    }
    expect(run).toMatchObject({ phase: 'Failed', reason: 'HealthCheckFailed', cleanedUp: true });
    expect(phases(run).HealthCheck).toBe('Failed');
    expect(phases(run).IntegrityCheck).toBe('Skipped');
  });

  test('an integrity mismatch fails the drill and says which query', () => {
    const w = world({ restored: { users: 9, events: 12 } });
    const { run } = drive(baseSpec, w);
    expect(run).toMatchObject({ phase: 'Failed', reason: 'IntegrityMismatch' });
    expect(run.message).toContain('users: source 10 restored 9');
  });

  test('a drill past timeoutSeconds fails with Timeout and cleans up', () => {
    const w = world({ appNeverHealthy: true });
    const { run } = drive({ ...baseSpec, timeoutSeconds: 120 }, w);
    expect(run).toMatchObject({ phase: 'Failed', reason: 'Timeout', cleanedUp: true });
    expect(w.namespace).toBe('absent');
  });

  test('OnSuccess keeps a failed drill for its TTL, then cleans up', () => {
    const spec: DRDrillSpec = { ...baseSpec, cleanup: { policy: 'OnSuccess', ttlSeconds: 600 } };
    const w = world({ restored: { users: 1, events: 1 } });
    const { run, wakeAt } = drive(spec, w);
    expect(run.phase).toBe('Failed');
    expect(run.cleanedUp).toBeUndefined();
    expect(run.keepUntil).toBeDefined();
    expect(wakeAt).toBe(run.keepUntil);
    expect(w.namespace).toBe('ours');
    const after = plan(spec, run, observe(w), new Date(Date.parse(run.keepUntil!) + 1000));
    expect(after.actions.map((a) => a.type).sort()).toEqual(['DeleteNamespace', 'DropDatabase']);
  });

  test('objectives: a run over its RTO succeeds but does not meet its objectives', () => {
    const w = world();
    const { run } = drive({ ...baseSpec, targets: { rtoSeconds: 5 } }, w);
    expect(run.phase).toBe('Succeeded');
    expect(run.objectivesMet).toBe(false);
  });

  test('planning is idempotent: the same run and observations give the same state and actions', () => {
    const w = world({ backup: 'done', namespace: 'ours', namespaceReady: true, database: 'ready', restore: 'running' });
    const r0 = newRun('r1', 'Manual', start, 'ns-dr', 'db');
    const a = plan(baseSpec, r0, observe(w), start);
    const b = plan(baseSpec, r0, observe(w), start);
    expect(b).toEqual(a);
    // Re-planning from the persisted state (a restarted operator) asks for no new work: the restore is running.
    const again = plan(baseSpec, a.run, observe(w), start);
    expect(again.actions.map((x) => x.type)).not.toContain('StartRestore');
    expect(again.run.steps).toEqual(a.run.steps);
  });
});

test('a step cut short by another step failing is marked Aborted', () => {
  const w = world({ backup: 'done', namespace: 'ours', namespaceReady: true, sourceCaptured: true });
  let run = newRun('r1', 'Manual', start, 'ns-dr', 'db');
  run = plan(baseSpec, run, observe(w), start).run;
  // Both parallel steps started; DeployApp waits for the DR database.
  expect(phases(run)).toMatchObject({ RestoreData: 'Running', DeployApp: 'Running' });
  w.database = 'production';
  run = plan(baseSpec, run, observe(w), start).run;
  expect(run.reason).toBe('TargetIsProduction');
  expect(run.steps.find((s) => s.name === 'DeployApp')).toMatchObject({ phase: 'Failed', reason: 'Aborted' });
});
