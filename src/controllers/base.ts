// The reconcile flow every kind starts from: read from the cache, validate (schema + semantic checks), write the
// status contract only when it changed, one Warning Event when a spec becomes invalid, and no retry of an invalid
// spec until its generation changes. The capability controllers build their behaviour on top of this.
import { PAUSE_ANNOTATION, Reason } from '../crds/conditions.js';
import { KINDS, resourceRefOf, type KindName } from '../crds/kinds.js';
import { validateSpec, type FieldError } from '../crds/validate.js';
import type { KubeObject } from '../kube/index.js';
import type { Condition } from '../kube/types.js';
import { TerminalError } from '../runtime/errors.js';
import type { ControllerDef, PolicyRule } from '../runtime/manager.js';
import { decideStatus } from './status.js';

export interface CustomObject<S> extends KubeObject {
  spec: S;
  status?: { observedGeneration?: number; conditions?: Condition[] } & Record<string, unknown>;
}

export interface KindController<S> {
  kind: KindName;
  /** Semantic checks beyond the schema, on the spec with defaults applied. */
  semantic(obj: CustomObject<S>, spec: S): FieldError[];
  readyMessage: string;
  rbac?: PolicyRule[];
}

export function specController<S>(k: KindController<S>): ControllerDef {
  const ref = resourceRefOf(k.kind);
  return {
    name: KINDS[k.kind].singular,
    for: ref,
    rbac: k.rbac,
    setup: (deps) => async (req, ctx) => {
      const obj = deps.cache.get(req.namespace, req.name) as CustomObject<S> | undefined;
      if (!obj || obj.metadata.deletionTimestamp) return;
      const { spec, errors } = validateSpec<S>(k.kind, obj.spec);
      if (errors.length === 0) errors.push(...k.semantic(obj, spec));
      const decision = decideStatus({
        kind: k.kind,
        generation: obj.metadata.generation,
        previous: obj.status,
        errors,
        paused: obj.metadata.annotations?.[PAUSE_ANNOTATION] === 'true',
        now: deps.clock.now(),
        readyMessage: k.readyMessage,
      });
      const written = await deps.applier.status(ref, obj, decision.status);
      if (written && deps.log.isLevelEnabled('debug'))
        ctx.log.debug({ generation: obj.metadata.generation }, 'status written');
      if (decision.invalidEvent) {
        deps.events.event(obj, 'Warning', Reason.InvalidSpec, decision.invalidEvent);
        throw new TerminalError(`invalid spec: ${decision.invalidEvent}`);
      }
    },
  };
}
