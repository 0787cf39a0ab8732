// The reconcile flow every kind starts from: read from the cache, validate (schema + semantic checks), write the
// status contract only when it changed, one Warning Event when a spec becomes invalid, and no retry of an invalid
// spec until its generation changes. The capability controllers build their behaviour on top of this.
import { PAUSE_ANNOTATION, Reason, type SpecSuspendReason } from '../crds/conditions.js';
import { KINDS, resourceRefOf, type KindName } from '../crds/kinds.js';
import { validateSpec, type FieldError } from '../crds/validate.js';
import type { KubeObject } from '../kube/index.js';
import type { Condition } from '../kube/types.js';
import { TerminalError } from '../runtime/errors.js';
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
      return async (req, ctx) => {
        const obj = deps.cache.get(req.namespace, req.name) as CustomObject<S> | undefined;
        if (!obj || obj.metadata.deletionTimestamp) return memo.forget(req.namespace, req.name);
        const { errors, suspended } = memo.outcome(obj);
        const decision = decideStatus({
          kind: k.kind,
          generation: obj.metadata.generation,
          previous: obj.status,
          errors,
          paused: obj.metadata.annotations?.[PAUSE_ANNOTATION] === 'true',
          suspended,
          now: deps.clock.now(),
          readiness: k.ready,
        });
        const written = await deps.applier.status(ref, obj, decision.status);
        if (written && deps.log.isLevelEnabled('debug'))
          ctx.log.debug({ generation: obj.metadata.generation }, 'status written');
        if (decision.invalidEvent) {
          deps.events.event(obj, 'Warning', Reason.InvalidSpec, decision.invalidEvent);
          throw new TerminalError(`invalid spec: ${decision.invalidEvent}`);
        }
      };
    },
  };
}
