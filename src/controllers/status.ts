// The status contract every kind shares, as a pure function: observedGeneration plus Ready, Reconciling and Stalled
// (kstatus), and Suspended, with lastTransitionTime kept unless a condition flips (meta.SetStatusCondition).
// Ready is the capability's own judgement (`Readiness`); validation, the pause annotation and the spec's own
// suspension switch are decided here, the same way for every kind.
import { ConditionType, PAUSE_ANNOTATION, Reason, type SpecSuspendReason } from '../crds/conditions.js';
import type { FieldError } from '../crds/validate.js';
import type { Condition } from '../kube/types.js';
import { findCondition, setConditions, type ConditionInput } from '../runtime/conditions.js';

/** What a kind's capability says about a valid spec: the Ready condition, and whether work is in flight or stuck. */
export interface Readiness {
  status: Condition['status'];
  reason: string;
  message: string;
  /** Work towards the spec is in flight (kstatus Reconciling=True). */
  progressing?: boolean;
  /** The capability cannot make progress without a change (kstatus Stalled=True). */
  stalled?: boolean;
}

/**
 * The judgement of a kind whose capability does not exist yet: the spec was validated and nothing acts on it, so
 * Ready is Unknown (not True), nothing is in progress and nothing is stalled.
 */
export function notImplemented(kind: string, capability: string): Readiness {
  return {
    status: 'Unknown',
    reason: Reason.NotImplemented,
    message: `the spec is valid; the ${kind} capability (${capability}) is not implemented yet`,
  };
}

const SUSPEND_MESSAGES: Record<SpecSuspendReason, string> = {
  [Reason.SpecPaused]: 'spec.paused is true: no rollouts and no rollbacks; status is still reported',
  [Reason.SpecSuspended]: 'spec.suspend is true: no new backups are taken; retention and status keep running',
  [Reason.ModePaused]: 'spec.mode is Paused: the replica count is left as it is',
};

export interface StatusInput {
  kind: string;
  generation: number | undefined;
  previous: { conditions?: Condition[] } | undefined;
  errors: FieldError[];
  /** Paused by the pause annotation: the controller does not act at all. */
  paused: boolean;
  /** Suspended by the spec's own switch (spec.paused, spec.suspend, mode: Paused); undefined when not. */
  suspended?: SpecSuspendReason | undefined;
  now: Date;
  /** The capability's judgement of a valid spec. */
  readiness: Readiness;
}

export interface StatusDecision {
  status: Record<string, unknown>;
  /** Set when the object newly became invalid for this generation: record one Warning Event. */
  invalidEvent?: string;
}

export function invalidMessage(errors: FieldError[]): string {
  const parts = errors.map((e) => `${e.field}: ${e.message}`);
  const msg = parts.join('; ');
  return msg.length > 2000 ? `${msg.slice(0, 1990)} (and more)` : msg;
}

function suspendedCondition(i: StatusInput): ConditionInput {
  const type = ConditionType.Suspended;
  if (i.paused) {
    return { type, status: 'True', reason: Reason.Paused, message: `paused by the ${PAUSE_ANNOTATION} annotation` };
  }
  if (i.suspended) return { type, status: 'True', reason: i.suspended, message: SUSPEND_MESSAGES[i.suspended] };
  return { type, status: 'False', reason: Reason.NotSuspended, message: 'not suspended' };
}

function readinessConditions(r: Readiness): ConditionInput[] {
  return [
    { type: ConditionType.Ready, status: r.status, reason: r.reason, message: r.message },
    r.progressing
      ? { type: ConditionType.Reconciling, status: 'True', reason: r.reason, message: r.message }
      : {
          type: ConditionType.Reconciling,
          status: 'False',
          reason: r.status === 'True' ? Reason.Reconciled : r.reason,
          message: r.status === 'True' ? 'up to date with the spec' : 'no work in progress for this generation',
        },
    r.stalled
      ? { type: ConditionType.Stalled, status: 'True', reason: r.reason, message: r.message }
      : { type: ConditionType.Stalled, status: 'False', reason: Reason.NotStalled, message: 'not stalled' },
  ];
}

export function decideStatus(i: StatusInput): StatusDecision {
  let conditions: ConditionInput[];
  let invalidEvent: string | undefined;
  if (i.errors.length) {
    const msg = invalidMessage(i.errors);
    conditions = [
      { type: ConditionType.Ready, status: 'False', reason: Reason.InvalidSpec, message: msg },
      {
        type: ConditionType.Reconciling,
        status: 'False',
        reason: Reason.InvalidSpec,
        message: 'waiting for a change to the spec',
      },
      { type: ConditionType.Stalled, status: 'True', reason: Reason.InvalidSpec, message: msg },
    ];
    const ready = findCondition(i.previous?.conditions, ConditionType.Ready);
    const alreadyReported =
      ready?.reason === Reason.InvalidSpec && ready.observedGeneration === i.generation && ready.message === msg;
    if (!alreadyReported) invalidEvent = msg;
  } else if (i.paused) {
    const msg = `reconciliation of this ${i.kind} is paused by annotation`;
    conditions = [
      { type: ConditionType.Ready, status: 'Unknown', reason: Reason.Paused, message: msg },
      { type: ConditionType.Reconciling, status: 'False', reason: Reason.Paused, message: msg },
      { type: ConditionType.Stalled, status: 'False', reason: Reason.NotStalled, message: 'not stalled' },
    ];
  } else {
    conditions = readinessConditions(i.readiness);
  }
  conditions.push(suspendedCondition(i));
  return {
    status: {
      observedGeneration: i.generation,
      conditions: setConditions(i.previous?.conditions, conditions, i.generation, i.now),
    },
    invalidEvent,
  };
}
