// BackupSchedule controller: validation and the status contract. Running backups is the BackupSchedule
// capability, built on this.
import { Reason } from '../../crds/conditions.js';
import type { BackupScheduleSpec } from '../../crds/backupschedule.js';
import { checkCron, checkTimeZone, type FieldError } from '../../crds/validate.js';
import { specController, type CustomObject, type KindController } from '../base.js';
import { notImplemented } from '../status.js';

export function semantic(_obj: CustomObject<BackupScheduleSpec>, spec: BackupScheduleSpec): FieldError[] {
  return [...checkTimeZone('spec.timeZone', spec.timeZone), ...checkCron('spec.schedule', spec.schedule)];
}

/** Ready for a valid spec: the capability's own judgement replaces this when it lands. */
export const ready = notImplemented('BackupSchedule', 'taking, verifying and pruning backups');

export const backupScheduleKind: KindController<BackupScheduleSpec> = {
  kind: 'BackupSchedule',
  semantic,
  ready,
  suspended: (spec) => (spec.suspend ? Reason.SpecSuspended : undefined),
};

export const backupScheduleController = specController(backupScheduleKind);
