// Conditions with Kubernetes semantics (meta.SetStatusCondition): lastTransitionTime moves only when the status
// flips; reason, message and observedGeneration are updated in place. Messages pass the log redaction filter
// (status is as readable as logs).
import type { Condition } from '../kube/types.js';
import { rfc3339 } from './clock.js';
import { redactText } from './logger.js';

export type { Condition };

export interface ConditionInput {
  type: string;
  status: Condition['status'];
  reason: string;
  message: string;
}

/** Returns a new list with `input` set; the input list is not modified. */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  generation: number | undefined,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === input.type);
  const prev = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: redactText(input.message),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    lastTransitionTime:
      prev && prev.status === input.status && prev.lastTransitionTime ? prev.lastTransitionTime : rfc3339(now),
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

export function setConditions(
  conditions: readonly Condition[] | undefined,
  inputs: ConditionInput[],
  generation: number | undefined,
  now: Date,
): Condition[] {
  return inputs.reduce<Condition[]>((acc, c) => setCondition(acc, c, generation, now), [...(conditions ?? [])]);
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
