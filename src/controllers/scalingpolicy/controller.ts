// ScalingPolicy controller: the capability (capability.ts: HPAs, manual mode, schedule windows, replica ownership)
// on the seam. `scalingPolicyKind` is the validation-only view of the kind (semantic checks and the spec's own
// suspension switch) that specController-based tests and benches reuse.
import { Reason } from '../../crds/conditions.js';
import type { ScalingPolicySpec } from '../../crds/scalingpolicy.js';
import { capabilityController } from '../../runtime/children-capability.js';
import type { KindController } from '../base.js';
import { notImplemented } from '../status.js';
import { scalingPolicyCapability } from './capability.js';
import { semantic } from './semantic.js';

export { semantic };

/**
 * The judgement of the validation-only view (bench/status-writes.ts compares the status writes of the kinds on
 * specController): the operator itself runs the capability below.
 */
export const ready = notImplemented('ScalingPolicy', 'HPAs, manual mode and schedule windows');

export const scalingPolicyKind: KindController<ScalingPolicySpec> = {
  kind: 'ScalingPolicy',
  semantic,
  ready,
  suspended: (spec) => (spec.mode === 'Paused' ? Reason.ModePaused : undefined),
};

export const scalingPolicyController = capabilityController(scalingPolicyCapability);
