// ScalingPolicy semantic checks: what the schema and CEL cannot say (cron, time zone, duration), on the spec with
// defaults applied. Pure.
import type { ScalingPolicySpec } from '../../crds/scalingpolicy.js';
import { checkCron, checkTimeZone, parseDuration, type FieldError } from '../../crds/validate.js';
import type { CustomObject } from '../base.js';

const WEEK_MS = 7 * 24 * 3_600_000;

export function semantic(_obj: CustomObject<ScalingPolicySpec>, spec: ScalingPolicySpec): FieldError[] {
  const out: FieldError[] = [];
  // The API server enforces these with CEL; checked again so that a cluster without CEL support is safe too.
  if ((spec.minReplicas ?? 2) > (spec.maxReplicas ?? 10)) {
    out.push({ field: 'spec.minReplicas', message: `${spec.minReplicas} exceeds maxReplicas ${spec.maxReplicas}` });
  }
  if (spec.mode === 'Manual' && spec.replicas === undefined) {
    out.push({ field: 'spec.replicas', message: 'is required in Manual mode' });
  }
  (spec.windows ?? []).forEach((w, i) => {
    const f = `spec.windows[${i}]`;
    out.push(...checkTimeZone(`${f}.timeZone`, w.timeZone), ...checkCron(`${f}.schedule`, w.schedule));
    const ms = parseDuration(w.duration);
    if (ms === undefined || ms <= 0 || ms > WEEK_MS) {
      out.push({ field: `${f}.duration`, message: `"${w.duration}" must be a positive duration of at most 168h` });
    }
    if (w.minReplicas > w.maxReplicas) {
      out.push({ field: `${f}.minReplicas`, message: `${w.minReplicas} exceeds maxReplicas ${w.maxReplicas}` });
    }
  });
  return out;
}
