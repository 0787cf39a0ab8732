// DRDrill controller: validation and the status contract. Running drills is the DRDrill capability, built on this.
import type { DRDrillSpec } from '../../crds/drdrill.js';
import { checkCron, checkTimeZone, type FieldError } from '../../crds/validate.js';
import { specController, type CustomObject, type KindController } from '../base.js';
import { notImplemented } from '../status.js';

// The DR namespace is derived (guards.ts), the app and BackupSchedule are local: nothing in the spec can point a
// drill at another namespace, so validation is about the schedule.
export function semantic(_obj: CustomObject<DRDrillSpec>, spec: DRDrillSpec): FieldError[] {
  return [...checkTimeZone('spec.timeZone', spec.timeZone), ...checkCron('spec.schedule', spec.schedule)];
}

/** Ready for a valid spec: the capability's own judgement replaces this when it lands. */
export const ready = notImplemented('DRDrill', 'running drills');

export const drDrillKind: KindController<DRDrillSpec> = {
  kind: 'DRDrill',
  semantic,
  ready,
};

export const drDrillController = specController(drDrillKind);
