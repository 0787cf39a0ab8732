// SmartCloudOpsApp controller: validation and the status contract. Deploying, watching and rolling back the
// components is the SmartCloudOpsApp capability, built on this.
import { Reason } from '../../crds/conditions.js';
import type { SmartCloudOpsAppSpec } from '../../crds/smartcloudopsapp.js';
import { checkCron, checkTimeZone, parseQuantity, type FieldError } from '../../crds/validate.js';
import { specController, type CustomObject, type KindController } from '../base.js';
import { notImplemented } from '../status.js';

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

/** Ready for a valid spec: the capability's own judgement replaces this when it lands. */
export const ready = notImplemented('SmartCloudOpsApp', 'deploying, watching and rolling back the components');

export const smartCloudOpsAppKind: KindController<SmartCloudOpsAppSpec> = {
  kind: 'SmartCloudOpsApp',
  semantic,
  ready,
  suspended: (spec) => (spec.paused ? Reason.SpecPaused : undefined),
};

export const smartCloudOpsAppController = specController(smartCloudOpsAppKind);
