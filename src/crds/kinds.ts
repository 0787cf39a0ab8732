// The five kinds of ops.smartcloudops.ai/v1alpha1: names, schemas, printer columns. The single source for the CRD
// YAML, the TypeScript types and the validators.
import type { ResourceRef } from '../kube/resources.js';
import { BackupScheduleSpec, BackupScheduleStatus } from './backupschedule.js';
import { CertRenewalSpec, CertRenewalStatus } from './certrenewal.js';
import { DRDrillSpec, DRDrillStatus } from './drdrill.js';
import { ScalingPolicySpec, ScalingPolicyStatus } from './scalingpolicy.js';
import { SmartCloudOpsAppSpec, SmartCloudOpsAppStatus } from './smartcloudopsapp.js';
import type { TSchema } from './schema.js';

export const GROUP = 'ops.smartcloudops.ai';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const CATEGORY = 'smartcloudops';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

export interface KindDef {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: TSchema;
  status: TSchema;
  /** The one column besides Ready, Reason, Suspended and Age. */
  keyColumn: PrinterColumn;
  /**
   * The spec field that suspends the object (Suspended=True), if the kind has one. Kinds without one can still be
   * paused by annotation, so their Suspended column is shown only with -o wide.
   */
  suspendField?: string;
  /** Kind-specific columns shown after the key column (e.g. a SmartCloudOpsApp's ready components and revision). */
  extraColumns?: PrinterColumn[];
}

export const KINDS = {
  SmartCloudOpsApp: {
    kind: 'SmartCloudOpsApp',
    plural: 'smartcloudopsapps',
    singular: 'smartcloudopsapp',
    shortNames: ['scapp'],
    description:
      'SmartCloudOpsApp deploys and watches the SmartCloudOps application (Flask backend, Next.js frontend, PostgreSQL, Redis) and rolls every component back together to the last good revision.',
    spec: SmartCloudOpsAppSpec,
    status: SmartCloudOpsAppStatus,
    keyColumn: { name: 'Version', type: 'string', jsonPath: '.spec.version', description: 'Application version.' },
    suspendField: 'spec.paused',
    extraColumns: [
      {
        name: 'Components',
        type: 'string',
        jsonPath: '.status.readyComponents',
        description: 'Components available, e.g. 2/2.',
      },
      {
        name: 'Revision',
        type: 'string',
        jsonPath: '.status.currentRevision',
        description: 'The revision the components run.',
      },
    ],
  },
  BackupSchedule: {
    kind: 'BackupSchedule',
    plural: 'backupschedules',
    singular: 'backupschedule',
    shortNames: ['bsched'],
    description:
      'BackupSchedule takes verified pg_dump backups to S3 on a cron schedule, through Jobs, and prunes old ones without dropping below a floor of good backups.',
    spec: BackupScheduleSpec,
    status: BackupScheduleStatus,
    keyColumn: { name: 'Schedule', type: 'string', jsonPath: '.spec.schedule', description: 'Cron schedule.' },
    suspendField: 'spec.suspend',
  },
  ScalingPolicy: {
    kind: 'ScalingPolicy',
    plural: 'scalingpolicies',
    singular: 'scalingpolicy',
    shortNames: ['scalepol'],
    description:
      'ScalingPolicy scales an app component or Deployment with an HPA on CPU and memory, in manual mode, or with schedule windows, and owns its replica count.',
    spec: ScalingPolicySpec,
    status: ScalingPolicyStatus,
    keyColumn: { name: 'Mode', type: 'string', jsonPath: '.spec.mode', description: 'Auto, Manual or Paused.' },
    suspendField: 'spec.mode: Paused',
  },
  DRDrill: {
    kind: 'DRDrill',
    plural: 'drdrills',
    singular: 'drdrill',
    shortNames: ['drill'],
    description:
      'DRDrill rehearses disaster recovery: backup, deploy into a DR namespace, restore, health and integrity checks, report, clean up.',
    spec: DRDrillSpec,
    status: DRDrillStatus,
    keyColumn: {
      name: 'DR-Namespace',
      type: 'string',
      jsonPath: '.status.drNamespace',
      description: 'Namespace restored into (derived from the drill).',
    },
  },
  CertRenewal: {
    kind: 'CertRenewal',
    plural: 'certrenewals',
    singular: 'certrenewal',
    shortNames: ['certren'],
    description:
      'CertRenewal tracks TLS certificate expiry, triggers renewal, restarts consumers and proves the endpoints serve the new certificate.',
    spec: CertRenewalSpec,
    status: CertRenewalStatus,
    keyColumn: { name: 'Method', type: 'string', jsonPath: '.spec.method', description: 'CertManager or AlertOnly.' },
  },
} satisfies Record<string, KindDef>;

export type KindName = keyof typeof KINDS;
export const KIND_NAMES = Object.keys(KINDS) as KindName[];

export function resourceRefOf(kind: KindName): ResourceRef {
  const k = KINDS[kind];
  return { group: GROUP, version: VERSION, plural: k.plural, kind: k.kind, namespaced: true };
}
