// Condition types and reasons shared by the five kinds (CamelCase, per the API conventions). Capability-specific
// conditions and reasons live next to their controllers.

export const ConditionType = {
  Ready: 'Ready',
  /** kstatus: the controller is working towards the spec (abnormal-true while work is in flight). */
  Reconciling: 'Reconciling',
  /** kstatus: the controller cannot make progress without a change (abnormal-true). */
  Stalled: 'Stalled',
} as const;

export const Reason = {
  /** The spec fails validation; nothing is retried until metadata.generation changes. */
  InvalidSpec: 'InvalidSpec',
  /** The spec is valid and the controller's work for this generation is done. */
  Reconciled: 'Reconciled',
  /** The controller is acting on a new generation. */
  Progressing: 'Progressing',
  /** A reconcile failed with an error that is being retried with backoff. */
  ReconcileError: 'ReconcileError',
  /** Nothing is stalled. */
  NotStalled: 'NotStalled',
  /** Reconciliation is paused by spec.paused or the pause annotation. */
  Paused: 'Paused',
} as const;

/** Annotation that stops reconciliation of one object (CNPG-style kill switch), value "true". */
export const PAUSE_ANNOTATION = 'ops.smartcloudops.ai/reconcile-paused';
