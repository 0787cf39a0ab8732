// The reconcile flow every kind starts from: read from the cache, validate (schema + semantic checks), write the
// status contract only when it changed, one Warning Event when a spec becomes invalid, and no retry of an invalid
// spec until its generation changes. It is a user of the capability seam (runtime/children-capability.ts) with
// no children yet (desired → []); the capability controllers build their behaviour on the same seam.
import { PAUSE_ANNOTATION, Reason, type SpecSuspendReason } from '../crds/conditions.js';
import { KINDS, resourceRefOf, type KindName } from '../crds/kinds.js';
import { validateSpec, type FieldError } from '../crds/validate.js';
import type { KubeObject } from '../kube/index.js';
import type { Condition } from '../kube/types.js';
import { seamReconciler } from '../runtime/children-capability.js';
import type { ControllerDef, PolicyRule } from '../runtime/manager.js';
import { decideStatus, type Readiness } from './status.js';
import { ValidationMemo } from './validation.js';

export interface CustomObject<S> extends KubeObject {
  spec: S;
  status?: { observedGeneration?: number; conditions?: Condition[] } & Record<string, unknown>;
}

export interface KindController<S> {
  kind: KindName;
  /** Semantic checks beyond the schema, on the spec with defaults applied. */
  semantic(obj: CustomObject<S>, spec: S): FieldError[];
  /** The capability's judgement of a valid spec (Ready): `notImplemented(...)` until the capability exists. */
  ready: Readiness;
  /** The spec's own suspension switch (spec.paused, spec.suspend, mode: Paused), on the spec with defaults. */
  suspended?(spec: S): SpecSuspendReason | undefined;
  rbac?: PolicyRule[];
}

export function specController<S>(k: KindController<S>, validate = validateSpec<S>): ControllerDef {
  const ref = resourceRefOf(k.kind);
  return {
    name: KINDS[k.kind].singular,
    for: ref,
    rbac: k.rbac,
    setup: (deps) => {
      // The validation outcome per object, reused until its generation changes; one memo per setup (per manager).
      const memo = new ValidationMemo<CustomObject<S>>((obj) => {
        const { spec, errors } = validate(k.kind, obj.spec);
        if (errors.length === 0) errors.push(...k.semantic(obj, spec));
        return { errors, suspended: k.suspended?.(spec) };
      });
      // A user of the capability seam with no children yet (desired → []).
      return seamReconciler<CustomObject<S>>(deps, {
        for: ref,
        desired: () => [],
        forget: (namespace, name) => memo.forget(namespace, name),
        status: (obj, _children, observations) => {
          const { errors, suspended } = memo.outcome(obj);
          const decision = decideStatus({
            kind: k.kind,
            generation: obj.metadata.generation,
            previous: obj.status,
            errors,
            paused: obj.metadata.annotations?.[PAUSE_ANNOTATION] === 'true',
            suspended,
            now: observations.now,
            readiness: k.ready,
          });
          if (!decision.invalidEvent) return { status: decision.status };
          return {
            status: decision.status,
            event: { type: 'Warning', reason: Reason.InvalidSpec, message: decision.invalidEvent },
            terminal: `invalid spec: ${decision.invalidEvent}`,
          };
        },
      });
    },
  };
}
