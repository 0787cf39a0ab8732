// DRDrill: backup → deploy into a DR namespace → restore → health and integrity checks → report → clean up.
import {
  Arr,
  Bool,
  commonStatus,
  Cron,
  DNS_LABEL_PATTERN,
  Enum,
  Int,
  Obj,
  ObjectName,
  Optional,
  Str,
  type Static,
} from './schema.js';

const Query = Obj(
  {
    name: Str({ description: 'Name of the check, unique in the list.', pattern: DNS_LABEL_PATTERN, maxLength: 63 }),
    sql: Str({
      description:
        'A read-only query returning one numeric value, run against the source at backup time and the restore.',
      minLength: 1,
      maxLength: 4096,
    }),
    compare: Optional(
      Enum(['Equal', 'AtLeast', 'NonZero'] as const, {
        description: 'Equal: restore == source. AtLeast: restore >= source. NonZero: restore > 0.',
        default: 'Equal',
      }),
    ),
  },
  { description: 'An integrity check comparing the restored data with the source.' },
);

export const DRDrillSpec = Obj(
  {
    appRef: Obj(
      {
        name: ObjectName('Name of the SmartCloudOpsApp to drill.'),
        namespace: Optional(
          Str({
            description: "Namespace of the app; this resource's namespace when unset.",
            pattern: DNS_LABEL_PATTERN,
            maxLength: 63,
          }),
        ),
      },
      {
        description: 'The app whose recovery is rehearsed. Immutable.',
        validations: [{ rule: 'self == oldSelf', message: 'appRef is immutable; create a new DRDrill instead' }],
      },
    ),
    backupScheduleRef: Obj(
      { name: ObjectName('Name of the BackupSchedule, in this namespace.') },
      { description: 'The BackupSchedule whose destination and format the drill backs up to and restores from.' },
    ),
    schedule: Optional(Cron('When to run the drill (5-field cron, e.g. "0 4 1 * *"); on demand only when unset.')),
    timeZone: Optional(Str({ description: 'IANA time zone of the schedule; UTC when unset.', maxLength: 64 })),
    drNamespace: Str({
      description:
        "Namespace the app is restored into; created for the drill and removed afterwards. Never the app's own.",
      pattern: DNS_LABEL_PATTERN,
      minLength: 1,
      maxLength: 63,
      validations: [
        {
          rule: "!(self in ['default', 'kube-system', 'kube-public', 'kube-node-lease'])",
          message: 'drNamespace must not be a system namespace or default',
        },
      ],
    }),
    backup: Optional(
      Enum(['Fresh', 'Latest'] as const, {
        description: 'Fresh: take a new backup for the drill. Latest: restore the newest existing backup.',
        default: 'Fresh',
      }),
    ),
    checks: Optional(
      Obj(
        {
          health: Optional(
            Bool({ description: "Require the restored app's health endpoints to pass.", default: true }),
          ),
          queries: Optional(
            Arr(Query, { description: 'Integrity queries.', listType: 'map', listMapKeys: ['name'], maxItems: 20 }),
          ),
        },
        { description: 'What must hold after the restore.', default: {} },
      ),
    ),
    targets: Optional(
      Obj(
        {
          rtoSeconds: Optional(
            Int({
              description: 'Recovery time objective: restore to healthy within this many seconds.',
              minimum: 1,
              maximum: 604800,
            }),
          ),
          rpoSeconds: Optional(
            Int({
              description: 'Recovery point objective: lose at most this many seconds of data.',
              minimum: 1,
              maximum: 604800,
            }),
          ),
        },
        { description: 'Objectives the measured RTO and RPO are compared with.' },
      ),
    ),
    cleanup: Optional(
      Obj(
        {
          policy: Optional(
            Enum(['Always', 'OnSuccess', 'Never'] as const, {
              description:
                'When to delete the DR namespace: always, only after a successful drill (keep failures to debug), never.',
              default: 'Always',
            }),
          ),
        },
        { description: 'What happens to the DR namespace after a drill.', default: {} },
      ),
    ),
    timeoutSeconds: Optional(
      Int({
        description: 'A drill still running after this long fails (and is cleaned up).',
        minimum: 60,
        maximum: 86400,
        default: 3600,
      }),
    ),
    historyLimit: Optional(
      Int({ description: 'Past drill results to keep in status.', minimum: 1, maximum: 100, default: 12 }),
    ),
  },
  {
    description: 'Desired state of the disaster-recovery drill.',
    validations: [
      {
        rule: '!has(self.appRef.namespace) || self.drNamespace != self.appRef.namespace',
        message: "drNamespace must differ from the app's namespace",
        fieldPath: '.drNamespace',
      },
    ],
  },
);

export const DRDrillStatus = Obj(
  {
    ...commonStatus,
    lastScheduleTime: Optional(Str({ description: 'When the last drill started.', format: 'date-time' })),
    nextScheduleTime: Optional(Str({ description: 'When the next drill is due.', format: 'date-time' })),
  },
  { description: 'Observed state of the drill.' },
);

export type DRDrillSpec = Static<typeof DRDrillSpec>;
export type DRDrillStatus = Static<typeof DRDrillStatus>;
