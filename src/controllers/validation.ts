// Validation is pure and depends only on the spec (and the object's namespace), and the API server bumps
// metadata.generation on every spec change — the same reason controller-runtime's GenerationChangedPredicate exists.
// So the outcome is remembered per object (namespace/name, checked against its uid and generation) and reused until
// the generation changes: resyncs and status-only events do not run ajv and the semantic checks again. Entries are
// dropped when the object is deleted, so memory is bounded by the objects in the cache.
import type { SpecSuspendReason } from '../crds/conditions.js';
import type { FieldError } from '../crds/validate.js';
import type { KubeObject } from '../kube/index.js';

export interface ValidationOutcome {
  errors: FieldError[];
  /** The spec's own suspension switch, read from the spec with defaults applied. */
  suspended: SpecSuspendReason | undefined;
}

interface Entry {
  uid: string | undefined;
  generation: number;
  outcome: ValidationOutcome;
}

export class ValidationMemo<O extends KubeObject> {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly validate: (obj: O) => ValidationOutcome) {}

  /** The outcome for this object's generation: remembered, or computed (and remembered) when it is new. */
  outcome(obj: O): ValidationOutcome {
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const generation = obj.metadata.generation;
    const uid = obj.metadata.uid;
    const hit = this.entries.get(key);
    if (hit && generation !== undefined && hit.generation === generation && hit.uid === uid) return hit.outcome;
    const outcome = this.validate(obj);
    if (generation === undefined) this.entries.delete(key);
    else this.entries.set(key, { uid, generation, outcome });
    return outcome;
  }

  /** Drops what is remembered about an object that is gone (or being deleted). */
  forget(namespace: string | undefined, name: string): void {
    this.entries.delete(`${namespace ?? ''}/${name}`);
  }

  get size(): number {
    return this.entries.size;
  }
}
