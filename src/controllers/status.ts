// The status contract every kind shares, as a pure function: observedGeneration plus Ready, Reconciling and Stalled
// (kstatus), with lastTransitionTime kept unless a condition flips.
import { ConditionType, Reason } from '../crds/conditions.js';
import type { FieldError } from '../crds/validate.js';
import type { Condition } from '../kube/types.js';
import { findCondition, setConditions, type ConditionInput } from '../runtime/conditions.js';

export interface StatusInput {
  kind: string;
  generation: number | undefined;
  previous: { conditions?: Condition[] } | undefined;
  errors: FieldError[];
  paused: boolean;
  now: Date;
  /** Ready message of a valid spec. */
  readyMessage: string;
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
    conditions = [
      { type: ConditionType.Ready, status: 'True', reason: Reason.Reconciled, message: i.readyMessage },
      {
        type: ConditionType.Reconciling,
        status: 'False',
        reason: Reason.Reconciled,
        message: 'up to date with the spec',
      },
      { type: ConditionType.Stalled, status: 'False', reason: Reason.NotStalled, message: 'not stalled' },
    ];
  }
  return {
    status: {
      observedGeneration: i.generation,
      conditions: setConditions(i.previous?.conditions, conditions, i.generation, i.now),
    },
    invalidEvent,
  };
}
