// DRDrill controller: validation (the schema, then what admission cannot see: the cron expression and the time zone)
// and the DRDrill capability (capability.ts) on the seam: scheduled or on-demand drills that back up, restore into a
// DR namespace and database of their own, check health and integrity, measure RTO and RPO, and always clean up.
import type { DRDrillSpec } from '../../crds/drdrill.js';
import { checkCron, checkTimeZone, type FieldError } from '../../crds/validate.js';
import { capabilityController } from '../../runtime/children-capability.js';
import type { ControllerDef } from '../../runtime/manager.js';
import type { CustomObject } from '../base.js';
import { drillCapability } from './capability.js';

// The DR namespace is derived (guards.ts), the app and BackupSchedule are local: nothing in the spec can point a
// drill at another namespace, so validation is about the schedule.
export function semantic(_obj: CustomObject<DRDrillSpec>, spec: DRDrillSpec): FieldError[] {
  return [...checkTimeZone('spec.timeZone', spec.timeZone), ...checkCron('spec.schedule', spec.schedule)];
}

export interface DrillControllerOptions {
  /** The operator's own image (--agent-image): restore Jobs run the agent from it. */
  agentImage?: string;
  /** The operator's namespace: never used as a DR namespace. */
  operatorNamespace?: string;
}

export function drDrillController(o: DrillControllerOptions = {}): ControllerDef {
  return capabilityController(
    drillCapability({
      semantic,
      ...(o.agentImage ? { agentImage: o.agentImage } : {}),
      ...(o.operatorNamespace ? { operatorNamespace: o.operatorNamespace } : {}),
    }),
  );
}
