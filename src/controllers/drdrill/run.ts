// The DR drill as a pure step machine. A run's state lives in the drill's status (status.currentRun, then
// status.runs[], a bounded history): a restarted or new leader reads it back and carries on, and every effect the
// planner asks for is idempotent by a deterministic name (the DR namespace, the run's database, its restore Job, its
// backup request value), so a step repeated after a crash does not do its work twice.
//
//   TakeBackup → PrepareNamespace → { DeployApp ∥ RestoreData } → HealthCheck → IntegrityCheck → Cleanup
//
// The "disaster" is placed at the end of TakeBackup (recovery starts there): RPO = recovery start − the restored
// backup's completion (what a real disaster at that moment would lose), RTO = healthy − recovery start.
// DeployApp runs beside RestoreData: the app's pods start while the data is restored (the runbook does it in turn).
// A run that passes timeoutSeconds fails with reason Timeout and still goes through Cleanup.
import type { DRDrillSpec } from '../../crds/drdrill.js';
import type { NamespaceVerdict } from './guards.js';

export const STEPS = [
  'TakeBackup',
  'PrepareNamespace',
  'DeployApp',
  'RestoreData',
  'HealthCheck',
  'IntegrityCheck',
  'Cleanup',
] as const;
export type StepName = (typeof STEPS)[number];
export type StepPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Skipped';

export interface StepStatus {
  name: StepName;
  phase: StepPhase;
  startedAt?: string;
  finishedAt?: string;
  durationSeconds?: number;
  reason?: string;
  message?: string;
}

export interface IntegrityResult {
  name: string;
  compare: 'Equal' | 'AtLeast' | 'NonZero';
  source?: number;
  restored?: number;
  passed?: boolean;
  message?: string;
}

export interface SourceValue {
  name: string;
  value?: number;
  error?: string;
}

export interface BackupRef {
  key: string;
  completedAt: string;
  sha256?: string;
  size?: number;
}

export interface DrillRun {
  id: string;
  trigger: 'Schedule' | 'Manual';
  startedAt: string;
  finishedAt?: string;
  phase: 'Running' | 'Succeeded' | 'Failed';
  reason?: string;
  message?: string;
  drNamespace: string;
  drDatabase: string;
  /** Recorded when this run created them: only what is recorded is ever deleted. */
  createdNamespace?: boolean;
  createdDatabase?: boolean;
  backup?: BackupRef;
  recoveryStartedAt?: string;
  healthyAt?: string;
  steps: StepStatus[];
  integrity?: IntegrityResult[];
  /** The integrity queries' values on production, captured right after the backup (kept across restarts). */
  sourceValues?: SourceValue[];
  rtoSeconds?: number;
  rpoSeconds?: number;
  restoreSeconds?: number;
  objectivesMet?: boolean;
  /** Cleanup done (namespace and database gone), or kept for debugging until this time. */
  cleanedUp?: boolean;
  keepUntil?: string;
}

type State<T extends string> = { state: T; reason?: string; message?: string };

/** What the thin I/O layer saw this reconcile, for the planner. */
export interface DrillObservations {
  /** The run's backup: the requested fresh one, or the latest verified one for `backup: Latest`. */
  backup: State<'Pending' | 'Succeeded' | 'Failed' | 'None'> & { ref?: BackupRef };
  namespace: NamespaceVerdict;
  /** The deny-egress NetworkPolicy and the DR Secret are in place in the DR namespace. */
  namespaceReady: boolean;
  /** The run's DR database: Refused when it is proven to be production (or cannot be proven not to be). */
  database: State<'Absent' | 'Ready' | 'Refused' | 'Unreachable'>;
  restore: State<'Absent' | 'Running' | 'Succeeded' | 'Failed'> & { finishedAt?: string };
  app: State<'Absent' | 'Progressing' | 'Ready' | 'Failed'> & { readyAt?: string };
  /** Source values (captured right after the backup) and restored values of the integrity queries. */
  integrity: {
    source?: Record<string, number | { error: string }>;
    restored?: Record<string, number | { error: string }>;
  };
  cleanup: { namespaceGone: boolean; databaseGone: boolean };
}

export type DrillAction =
  | { type: 'RequestBackup'; value: string }
  | { type: 'CaptureSourceValues' }
  | { type: 'CreateNamespace' }
  | { type: 'PrepareNamespace' }
  | { type: 'CreateDatabase' }
  | { type: 'StartRestore' }
  | { type: 'DeployApp' }
  | { type: 'RunIntegrity' }
  | { type: 'DeleteNamespace' }
  | { type: 'DropDatabase' };

export interface Plan {
  run: DrillRun;
  actions: DrillAction[];
  /** Come back at this time at the latest (a timeout, a kept namespace's TTL); events wake the drill earlier. */
  wakeAt?: string;
}

const iso = (d: Date) => d.toISOString();
const secondsBetween = (a: string, b: string) => Math.max(0, Math.round((Date.parse(b) - Date.parse(a)) / 1000));

export function newRun(
  id: string,
  trigger: DrillRun['trigger'],
  now: Date,
  drNamespace: string,
  drDatabase: string,
): DrillRun {
  return {
    id,
    trigger,
    startedAt: iso(now),
    phase: 'Running',
    drNamespace,
    drDatabase,
    steps: STEPS.map((name) => ({ name, phase: 'Pending' })),
  };
}

function compareOk(c: IntegrityResult['compare'], source: number | undefined, restored: number): boolean {
  if (c === 'NonZero') return restored > 0;
  if (source === undefined) return false;
  return c === 'Equal' ? restored === source : restored >= source;
}

/** One step of the planner: the next state of the run and the effects to perform now. Pure. */
export function plan(spec: DRDrillSpec, current: DrillRun, obs: DrillObservations, now: Date): Plan {
  const run: DrillRun = structuredClone(current);
  const actions: DrillAction[] = [];
  const at = iso(now);
  const step = (n: StepName) => run.steps.find((s) => s.name === n) as StepStatus;
  const start = (n: StepName) => {
    const s = step(n);
    if (s.phase === 'Pending') Object.assign(s, { phase: 'Running', startedAt: at });
  };
  const finish = (n: StepName, phase: 'Succeeded' | 'Failed' | 'Skipped', reason?: string, message?: string) => {
    const s = step(n);
    s.startedAt ??= at;
    Object.assign(s, { phase, finishedAt: at, durationSeconds: secondsBetween(s.startedAt, at), reason, message });
  };
  const done = (n: StepName) => ['Succeeded', 'Skipped'].includes(step(n).phase);
  const fail = (n: StepName, reason: string, message: string) => {
    finish(n, 'Failed', reason, message);
    run.phase = 'Failed';
    run.reason = reason;
    run.message = `${n}: ${message}`;
  };
  const queries = spec.checks?.queries ?? [];

  // The deadline: a running run that passed it fails (the step in progress carries the reason) and cleans up.
  const deadline = Date.parse(run.startedAt) + (spec.timeoutSeconds ?? 3600) * 1000;
  if (run.phase === 'Running' && now.getTime() >= deadline) {
    const running = run.steps.find((s) => s.phase === 'Running' && s.name !== 'Cleanup') ?? step('TakeBackup');
    fail(running.name, 'Timeout', `the drill did not finish within ${spec.timeoutSeconds ?? 3600}s`);
  }

  if (run.phase === 'Running') {
    // TakeBackup
    if (!done('TakeBackup')) {
      start('TakeBackup');
      if ((spec.backup ?? 'Fresh') === 'Fresh' && obs.backup.state === 'Pending')
        actions.push({ type: 'RequestBackup', value: `drill-${run.id}` });
      if (obs.backup.state === 'Succeeded' && obs.backup.ref) {
        run.backup = obs.backup.ref;
        run.recoveryStartedAt = at;
        run.rpoSeconds = secondsBetween(obs.backup.ref.completedAt, at);
        finish('TakeBackup', 'Succeeded', undefined, `backup ${obs.backup.ref.key}`);
      } else if (obs.backup.state === 'Failed' || obs.backup.state === 'None') {
        fail(
          'TakeBackup',
          obs.backup.reason ?? (obs.backup.state === 'None' ? 'NoVerifiedBackup' : 'BackupFailed'),
          obs.backup.message ?? 'no backup to restore',
        );
      }
    }
    // The source side of the integrity queries, as close to the backup as possible; recorded once.
    if (run.phase === 'Running' && queries.length && done('TakeBackup') && !run.sourceValues) {
      if (obs.integrity.source)
        run.sourceValues = Object.entries(obs.integrity.source).map(([name, v]) =>
          typeof v === 'number' ? { name, value: v } : { name, error: v.error },
        );
      else actions.push({ type: 'CaptureSourceValues' });
    }
    // PrepareNamespace
    if (run.phase === 'Running' && done('TakeBackup') && !done('PrepareNamespace')) {
      start('PrepareNamespace');
      const v = obs.namespace;
      if (v.action === 'refuse') fail('PrepareNamespace', v.reason, v.message);
      else if (v.action === 'create') {
        run.createdNamespace = true;
        actions.push({ type: 'CreateNamespace' });
      } else if (!obs.namespaceReady) actions.push({ type: 'PrepareNamespace' });
      else finish('PrepareNamespace', 'Succeeded', undefined, `namespace ${run.drNamespace}`);
    }
    // RestoreData ∥ DeployApp
    if (run.phase === 'Running' && done('PrepareNamespace')) {
      if (!done('RestoreData')) {
        start('RestoreData');
        if (obs.database.state === 'Refused' || obs.database.state === 'Unreachable')
          fail('RestoreData', obs.database.reason ?? obs.database.state, obs.database.message ?? '');
        else if (obs.database.state === 'Absent') {
          run.createdDatabase = true;
          actions.push({ type: 'CreateDatabase' });
        } else if (obs.restore.state === 'Absent') actions.push({ type: 'StartRestore' });
        else if (obs.restore.state === 'Failed')
          fail('RestoreData', obs.restore.reason ?? 'RestoreFailed', obs.restore.message ?? 'the restore failed');
        else if (obs.restore.state === 'Succeeded') {
          finish('RestoreData', 'Succeeded', undefined, `restored ${run.backup?.key ?? ''} into ${run.drDatabase}`);
          run.restoreSeconds = step('RestoreData').durationSeconds;
        }
      }
      if (run.phase === 'Running' && !done('DeployApp')) {
        start('DeployApp');
        if (obs.database.state !== 'Ready') {
          // The app copy points at the DR database: it is deployed once that exists.
        } else if (obs.app.state === 'Absent') actions.push({ type: 'DeployApp' });
        else if (obs.app.state === 'Failed')
          fail('DeployApp', obs.app.reason ?? 'DeployFailed', obs.app.message ?? 'the app copy failed');
        else finish('DeployApp', 'Succeeded', undefined, `app deployed into ${run.drNamespace}`);
      }
    }
    // HealthCheck: the app's own health checks, on the restored data.
    if (run.phase === 'Running' && done('RestoreData') && done('DeployApp') && !done('HealthCheck')) {
      if (spec.checks?.health === false) finish('HealthCheck', 'Skipped', 'Disabled', 'checks.health is false');
      else {
        start('HealthCheck');
        if (obs.app.state === 'Ready') {
          run.healthyAt = obs.app.readyAt && obs.app.readyAt > (run.recoveryStartedAt ?? '') ? obs.app.readyAt : at;
          finish('HealthCheck', 'Succeeded', undefined, 'the restored app is healthy');
        } else if (obs.app.state === 'Failed')
          fail('HealthCheck', obs.app.reason ?? 'Unhealthy', obs.app.message ?? 'the restored app is not healthy');
      }
      if (done('HealthCheck') && run.recoveryStartedAt)
        run.rtoSeconds = secondsBetween(run.recoveryStartedAt, run.healthyAt ?? at);
    }
    // IntegrityCheck
    if (run.phase === 'Running' && done('HealthCheck') && !done('IntegrityCheck')) {
      if (!queries.length) finish('IntegrityCheck', 'Skipped', 'NoQueries', 'no checks.queries');
      else {
        start('IntegrityCheck');
        if (!run.sourceValues) {
          // Still capturing the source values (above).
        } else if (!obs.integrity.restored) actions.push({ type: 'RunIntegrity' });
        else {
          run.integrity = queries.map((q) => {
            const compare = q.compare ?? 'Equal';
            const sv = run.sourceValues?.find((v) => v.name === q.name);
            const src: number | { error: string } | undefined =
              sv?.value !== undefined ? sv.value : sv?.error ? { error: sv.error } : undefined;
            const dst = obs.integrity.restored?.[q.name];
            if (typeof dst !== 'number')
              return { name: q.name, compare, message: dst?.error ?? 'no value', passed: false };
            if (typeof src === 'object')
              return { name: q.name, compare, restored: dst, passed: false, message: src.error };
            const passed = compareOk(compare, src, dst);
            return { name: q.name, compare, source: src, restored: dst, passed };
          });
          const failed = run.integrity.filter((r) => !r.passed);
          if (failed.length)
            fail(
              'IntegrityCheck',
              'IntegrityMismatch',
              failed
                .map(
                  (r) =>
                    `${r.name}: source ${r.source ?? '?'} restored ${r.restored ?? '?'}${r.message ? ` (${r.message})` : ''}`,
                )
                .join('; '),
            );
          else
            finish(
              'IntegrityCheck',
              'Succeeded',
              undefined,
              `${queries.length} ${queries.length === 1 ? 'query matches' : 'queries match'}`,
            );
        }
      }
    }
    if (run.phase === 'Running' && done('IntegrityCheck')) {
      run.phase = 'Succeeded';
      run.reason = 'DrillSucceeded';
      const healthy = spec.checks?.health === false ? 'health not checked' : 'app healthy';
      run.message = `backup restored, ${healthy}, ${queries.length ? `${queries.length} integrity ${queries.length === 1 ? 'query matches' : 'queries match'}` : 'no integrity queries'}`;
    }
  }

  // Objectives, once known.
  if (run.phase !== 'Running' || run.rtoSeconds !== undefined) {
    const t = spec.targets;
    const rtoOk = t?.rtoSeconds === undefined || (run.rtoSeconds !== undefined && run.rtoSeconds <= t.rtoSeconds);
    const rpoOk = t?.rpoSeconds === undefined || (run.rpoSeconds !== undefined && run.rpoSeconds <= t.rpoSeconds);
    if (run.phase === 'Succeeded' || run.rtoSeconds !== undefined) run.objectivesMet = rtoOk && rpoOk;
  }

  // Cleanup: once the run has an outcome. Kept evidence waits for its TTL.
  let wakeAt: string | undefined = run.phase === 'Running' ? iso(new Date(deadline)) : undefined;
  if (run.phase !== 'Running' && !run.cleanedUp) {
    const policy = spec.cleanup?.policy ?? 'Always';
    const keep = policy === 'Never' || (policy === 'OnSuccess' && run.phase === 'Failed');
    run.finishedAt ??= at;
    if (keep && !run.keepUntil)
      run.keepUntil = iso(new Date(Date.parse(run.finishedAt) + (spec.cleanup?.ttlSeconds ?? 86400) * 1000));
    // For these runs the TTL is the time to clean up; a deleted drill cleans up at once (finalize).
    if (run.keepUntil && now.getTime() < Date.parse(run.keepUntil)) {
      const s = step('Cleanup');
      if (s.phase === 'Pending')
        Object.assign(s, { reason: 'Kept', message: `kept for debugging until ${run.keepUntil}` });
      wakeAt = run.keepUntil;
    } else {
      start('Cleanup');
      const nsGone = !run.createdNamespace || obs.cleanup.namespaceGone;
      const dbGone = !run.createdDatabase || obs.cleanup.databaseGone;
      if (!nsGone) actions.push({ type: 'DeleteNamespace' });
      if (!dbGone) actions.push({ type: 'DropDatabase' });
      if (nsGone && dbGone) {
        finish(
          'Cleanup',
          'Succeeded',
          undefined,
          `namespace ${run.drNamespace} and database ${run.drDatabase} removed`,
        );
        run.cleanedUp = true;
      }
    }
  }
  // A finished run reads as a whole: steps never reached are Skipped, steps cut short by another's failure Aborted.
  if (run.phase !== 'Running')
    for (const s of run.steps) {
      if (s.name === 'Cleanup') continue;
      if (s.phase === 'Pending') s.phase = 'Skipped';
      if (s.phase === 'Running')
        Object.assign(s, { phase: 'Failed', finishedAt: at, reason: 'Aborted', message: `stopped: ${run.message}` });
    }
  return { run, actions, wakeAt };
}
