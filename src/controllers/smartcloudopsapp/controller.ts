// SmartCloudOpsApp controller: the semantic checks beyond the schema, and the capability (capability.ts) that
// deploys, watches and rolls back the components, on the seam.
import type { SmartCloudOpsAppSpec } from '../../crds/smartcloudopsapp.js';
import { checkCron, checkTimeZone, parseQuantity, type FieldError } from '../../crds/validate.js';
import { capabilityController } from '../../runtime/children-capability.js';
import type { CustomObject } from '../base.js';
import { appCapability, appOptionsFromEnv } from './capability.js';

type Resources = NonNullable<SmartCloudOpsAppSpec['backend']['resources']>;

export function checkRequestsWithinLimits(field: string, r: Resources | undefined): FieldError[] {
  const out: FieldError[] = [];
  for (const res of ['cpu', 'memory'] as const) {
    const req = parseQuantity(r?.requests?.[res]);
    const lim = parseQuantity(r?.limits?.[res]);
    if (req !== undefined && lim !== undefined && req > lim) {
      out.push({
        field: `${field}.requests.${res}`,
        message: `request ${r?.requests?.[res]} exceeds the limit ${r?.limits?.[res]}`,
      });
    }
  }
  return out;
}

export function semantic(_obj: CustomObject<SmartCloudOpsAppSpec>, spec: SmartCloudOpsAppSpec): FieldError[] {
  return [
    ...checkRequestsWithinLimits('spec.backend.resources', spec.backend.resources),
    ...checkRequestsWithinLimits('spec.frontend.resources', spec.frontend.resources),
    ...checkTimeZone('spec.maintenance.timeZone', spec.maintenance?.timeZone),
    ...checkCron('spec.maintenance.vacuumAnalyzeSchedule', spec.maintenance?.vacuumAnalyzeSchedule),
  ];
}

export const smartCloudOpsAppController = capabilityController(appCapability({ semantic, ...appOptionsFromEnv() }));
