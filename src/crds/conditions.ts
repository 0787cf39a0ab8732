// Condition types and reasons shared by the five kinds (CamelCase, per the API conventions). Capability-specific
// conditions and reasons live next to their controllers.

export const ConditionType = {
  Ready: 'Ready',
  /** kstatus: the controller is working towards the spec (abnormal-true while work is in flight). */
  Reconciling: 'Reconciling',
  /** kstatus: the controller cannot make progress without a change (abnormal-true). */
  Stalled: 'Stalled',
  /** The object is suspended by its spec (spec.paused, spec.suspend, mode: Paused) or by the pause annotation. */
  Suspended: 'Suspended',
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
  /** Reconciliation is paused by the pause annotation. */
  Paused: 'Paused',
  /**
   * Ready=Unknown: the spec is valid, and the capability that would act on it and judge readiness is not
   * implemented yet.
   */
  NotImplemented: 'NotImplemented',
  /** Suspended=True: spec.paused is true (SmartCloudOpsApp). */
  SpecPaused: 'SpecPaused',
  /** Suspended=True: spec.suspend is true (BackupSchedule). */
  SpecSuspended: 'SpecSuspended',
  /** Suspended=True: spec.mode is Paused (ScalingPolicy). */
  ModePaused: 'ModePaused',
  /** Suspended=False. */
  NotSuspended: 'NotSuspended',
} as const;

/** Why a spec suspends its object (the reason of Suspended=True). */
export type SpecSuspendReason = typeof Reason.SpecPaused | typeof Reason.SpecSuspended | typeof Reason.ModePaused;

/** Annotation that stops reconciliation of one object (CNPG-style kill switch), value "true". */
export const PAUSE_ANNOTATION = 'ops.smartcloudops.ai/reconcile-paused';
