// DRDrill controller: validation and the status contract. Running drills is the DRDrill capability, built on this.
import type { DRDrillSpec } from '../../crds/drdrill.js';
import { checkCron, checkTimeZone, type FieldError } from '../../crds/validate.js';
import { specController, type CustomObject, type KindController } from '../base.js';
import { notImplemented } from '../status.js';

export function semantic(obj: CustomObject<DRDrillSpec>, spec: DRDrillSpec): FieldError[] {
  const out: FieldError[] = [
    ...checkTimeZone('spec.timeZone', spec.timeZone),
    ...checkCron('spec.schedule', spec.schedule),
  ];
  // CEL can compare drNamespace with appRef.namespace but cannot see the object's own namespace, the default.
  const appNamespace = spec.appRef.namespace ?? obj.metadata.namespace;
  if (spec.drNamespace === appNamespace) {
    out.push({
      field: 'spec.drNamespace',
      message: `must differ from the app's namespace "${appNamespace}": a drill restores into a namespace of its own`,
    });
  }
  return out;
}

/** Ready for a valid spec: the capability's own judgement replaces this when it lands. */
export const ready = notImplemented('DRDrill', 'running drills');

export const drDrillKind: KindController<DRDrillSpec> = {
  kind: 'DRDrill',
  semantic,
  ready,
};

export const drDrillController = specController(drDrillKind);
