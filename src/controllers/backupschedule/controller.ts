// BackupSchedule controller: validation (the schema, then what admission cannot see: the cron expression and the time
// zone) and the BackupSchedule capability (capability.ts) on the seam: scheduled, verified backups through Jobs, with
// retention that never drops below a floor of good backups.
import type { BackupScheduleSpec } from '../../crds/backupschedule.js';
import { checkCron, checkTimeZone, type FieldError } from '../../crds/validate.js';
import { capabilityController } from '../../runtime/children-capability.js';
import type { ControllerDef } from '../../runtime/manager.js';
import type { CustomObject } from '../base.js';
import { backupCapability } from './capability.js';

export function semantic(_obj: CustomObject<BackupScheduleSpec>, spec: BackupScheduleSpec): FieldError[] {
  return [...checkTimeZone('spec.timeZone', spec.timeZone), ...checkCron('spec.schedule', spec.schedule)];
}

export interface BackupControllerOptions {
  /** The operator's own image (--agent-image): backup Jobs run the agent from it. */
  agentImage?: string;
}

export function backupScheduleController(o: BackupControllerOptions = {}): ControllerDef {
  return capabilityController(backupCapability({ semantic, ...(o.agentImage ? { agentImage: o.agentImage } : {}) }));
}
