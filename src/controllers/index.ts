// Every controller the operator runs, in one list: main.ts registers them and hack/generate.ts derives RBAC from them.
import type { ControllerDef } from '../runtime/manager.js';
import { backupScheduleController } from './backupschedule/controller.js';
import { certRenewalController } from './certrenewal/controller.js';
import { drDrillController } from './drdrill/controller.js';
import { scalingPolicyController } from './scalingpolicy/controller.js';
import { smartCloudOpsAppController } from './smartcloudopsapp/controller.js';

export interface ControllerOptions {
  /** The operator's own image: backup Jobs run the agent from it (--agent-image). */
  agentImage?: string;
  /** The operator's own namespace (POD_NAMESPACE): a DR drill never uses it. */
  operatorNamespace?: string;
}

export function controllerDefs(o: ControllerOptions = {}): ControllerDef[] {
  return [
    smartCloudOpsAppController,
    backupScheduleController(o),
    scalingPolicyController,
    drDrillController(o),
    certRenewalController,
  ];
}
