// BackupSchedule controller: validation and the status contract. Running backups is the BackupSchedule
// capability, built on this.
import type { BackupScheduleSpec } from '../../crds/backupschedule.js';
import { checkCron, checkTimeZone, type FieldError } from '../../crds/validate.js';
import { specController, type CustomObject } from '../base.js';

export function semantic(_obj: CustomObject<BackupScheduleSpec>, spec: BackupScheduleSpec): FieldError[] {
  return [
    ...checkTimeZone('spec.timeZone', spec.timeZone),
    ...checkCron('spec.schedule', spec.schedule, spec.timeZone),
  ];
}

export const backupScheduleController = specController<BackupScheduleSpec>({
  kind: 'BackupSchedule',
  semantic,
  readyMessage: 'spec is valid',
});
