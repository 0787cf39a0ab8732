// The DRDrill status from its runs, as pure functions: Ready (the capability's judgement for the shared status
// contract), the kind's own conditions (Running, LastDrillSucceeded, ObjectivesMet, CleanedUp) and the bounded
// history of finished runs that serves as audit evidence.
import type { Static } from '../../crds/schema.js';
import type { DrillRunSchema } from '../../crds/drdrill.js';
import type { ConditionInput } from '../../runtime/conditions.js';
import type { Readiness } from '../status.js';
import type { DrillRun } from './run.js';

// The run record is written into status as it is: keep the pure type and the schema in step.
const _fits = (r: DrillRun): Static<typeof DrillRunSchema> => r;
void _fits;

/** The finished run goes to the front of the history; the history keeps `limit` runs, never an unfinished one. */
export function recordRun(history: readonly DrillRun[] | undefined, run: DrillRun, limit: number): DrillRun[] {
  const rest = (history ?? []).filter((r) => r.id !== run.id);
  return [run, ...rest].slice(0, Math.max(1, limit));
}

/** Runs whose namespace or database is still there (kept for debugging, or clean-up not finished). */
export function uncleaned(current: DrillRun | undefined, history: readonly DrillRun[]): DrillRun[] {
  return [...(current ? [current] : []), ...history].filter((r) => r.phase !== 'Running' && !r.cleanedUp);
}

export interface DrillStatusView {
  readiness: Readiness;
  conditions: ConditionInput[];
}

export function drillStatus(current: DrillRun | undefined, history: readonly DrillRun[]): DrillStatusView {
  const last = history.find((r) => r.phase !== 'Running');
  const running = current?.phase === 'Running' ? current : undefined;
  const step = running?.steps.find((s) => s.phase === 'Running');
  const conditions: ConditionInput[] = [
    running
      ? {
          type: 'Running',
          status: 'True',
          reason: step?.name ?? 'Starting',
          message: `run ${running.id} started ${running.startedAt}${step ? `; at ${step.name}` : ''}`,
        }
      : { type: 'Running', status: 'False', reason: 'Idle', message: 'no drill is running' },
  ];
  if (last) {
    conditions.push({
      type: 'LastDrillSucceeded',
      status: last.phase === 'Succeeded' ? 'True' : 'False',
      reason: last.reason ?? last.phase,
      message: `run ${last.id}: ${last.message ?? last.phase}`,
    });
    const rto = last.rtoSeconds === undefined ? 'RTO not measured' : `RTO ${last.rtoSeconds}s`;
    const rpo = last.rpoSeconds === undefined ? 'RPO not measured' : `RPO ${last.rpoSeconds}s`;
    conditions.push(
      last.objectivesMet === undefined
        ? { type: 'ObjectivesMet', status: 'Unknown', reason: 'NotMeasured', message: `run ${last.id}: ${rto}, ${rpo}` }
        : {
            type: 'ObjectivesMet',
            status: last.objectivesMet ? 'True' : 'False',
            reason: last.objectivesMet ? 'WithinTargets' : 'TargetsMissed',
            message: `run ${last.id}: ${rto}, ${rpo}`,
          },
    );
  } else {
    conditions.push(
      { type: 'LastDrillSucceeded', status: 'Unknown', reason: 'NoRunYet', message: 'no drill has finished yet' },
      { type: 'ObjectivesMet', status: 'Unknown', reason: 'NoRunYet', message: 'no drill has finished yet' },
    );
  }
  const left = uncleaned(running ? undefined : current, history);
  const kept = left.filter((r) => r.keepUntil);
  conditions.push(
    left.length === 0
      ? { type: 'CleanedUp', status: 'True', reason: 'NothingLeft', message: 'no DR namespace or database is left' }
      : {
          type: 'CleanedUp',
          status: 'False',
          reason: kept.length === left.length ? 'KeptForDebugging' : 'CleanupPending',
          message: left
            .map((r) => `${r.drNamespace}/${r.drDatabase}${r.keepUntil ? ` kept until ${r.keepUntil}` : ''}`)
            .join('; '),
        },
  );
  let readiness: Readiness;
  if (running)
    readiness = {
      status: last ? (last.phase === 'Succeeded' ? 'True' : 'False') : 'Unknown',
      reason: last
        ? last.phase === 'Succeeded'
          ? 'LastDrillSucceeded'
          : (last.reason ?? 'LastDrillFailed')
        : 'Running',
      message: `run ${running.id} in progress${last ? `; the last finished run ${last.phase === 'Succeeded' ? 'succeeded' : 'failed'}` : ''}`,
      progressing: true,
    };
  else if (!last)
    readiness = { status: 'True', reason: 'Scheduled', message: 'the drill is valid and waits for its first run' };
  else if (last.phase === 'Succeeded' && last.objectivesMet !== false)
    readiness = { status: 'True', reason: 'LastDrillSucceeded', message: `run ${last.id} succeeded` };
  else
    readiness = {
      status: 'False',
      reason: last.phase === 'Succeeded' ? 'TargetsMissed' : (last.reason ?? 'LastDrillFailed'),
      message: `run ${last.id}: ${last.message ?? last.phase}`,
    };
  return { readiness, conditions };
}
