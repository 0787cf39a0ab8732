// DRDrill: backup → deploy into a DR namespace → restore → health and integrity checks → report → clean up.
import {
  Arr,
  Bool,
  commonStatus,
  Cron,
  DNS_LABEL_PATTERN,
  Enum,
  Int,
  Num,
  Obj,
  ObjectName,
  Optional,
  SecretRef,
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
        name: ObjectName(
          'Name of the SmartCloudOpsApp to drill, in this namespace (a drill never reaches across namespaces).',
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
    backup: Optional(
      Enum(['Fresh', 'Latest'] as const, {
        description: 'Fresh: take a new backup for the drill. Latest: restore the newest existing backup.',
        default: 'Fresh',
      }),
    ),
    restore: Obj(
      {
        targetSecretRef: SecretRef(
          'PostgreSQL server the drill restores into (keys host, port, username, password, optional database to connect to, or uri), as a role allowed to CREATE DATABASE. Each run creates a fresh database there and drops it at clean-up; the drill refuses a target that is the production database (compared by server system identifier and database oid, not by connection string).',
        ),
        jobs: Optional(
          Int({
            description: 'Parallel restore jobs (pg_restore -j) for the custom format.',
            minimum: 1,
            maximum: 16,
            default: 2,
          }),
        ),
      },
      { description: 'Where the backup is restored: never the production database.' },
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
          readOnlySecretRef: Optional(
            SecretRef(
              'Credentials (keys username and password, or uri) of a read-only role on the production database for the integrity queries: the drill refuses a role that can write (superuser, owner, or INSERT/UPDATE/DELETE/TRUNCATE on any table). Required with queries.',
            ),
          ),
          statementTimeoutSeconds: Optional(
            Int({
              description: 'statement_timeout of each integrity query (run alone, in a READ ONLY transaction).',
              minimum: 1,
              maximum: 600,
              default: 30,
            }),
          ),
        },
        {
          description: 'What must hold after the restore.',
          default: {},
          validations: [
            {
              rule: '!has(self.queries) || size(self.queries) == 0 || has(self.readOnlySecretRef)',
              message: 'queries need readOnlySecretRef: integrity queries run only as a read-only role',
              fieldPath: '.readOnlySecretRef',
            },
          ],
        },
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
          ttlSeconds: Optional(
            Int({
              description:
                'How long a DR namespace kept by OnSuccess (after a failure) or Never stays for debugging before it is deleted anyway.',
              minimum: 60,
              maximum: 2592000,
              default: 86400,
            }),
          ),
        },
        { description: 'What happens to the DR namespace and database after a drill.', default: {} },
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
    description:
      "Desired state of the disaster-recovery drill. The drill works in its own namespace: the app and the BackupSchedule are local, and the DR namespace is derived from the drill (status.drNamespace), created and labelled by the operator, and only ever deleted when it carries this drill's label and is recorded in its status.",
  },
);

const Seconds = (description: string) => Optional(Int({ description, minimum: 0, format: 'int64' }));
const Time = (description: string) => Optional(Str({ description, format: 'date-time' }));
const Message = (description: string) => Optional(Str({ description, maxLength: 4096 }));
const Reason = (description: string) => Optional(Str({ description, maxLength: 128 }));

const DrillStep = Obj(
  {
    name: Enum(
      [
        'TakeBackup',
        'PrepareNamespace',
        'DeployApp',
        'RestoreData',
        'HealthCheck',
        'IntegrityCheck',
        'Cleanup',
      ] as const,
      { description: 'The step.' },
    ),
    phase: Enum(['Pending', 'Running', 'Succeeded', 'Failed', 'Skipped'] as const, { description: 'Where it is.' }),
    startedAt: Time('When the step started.'),
    finishedAt: Time('When it finished.'),
    durationSeconds: Seconds('How long it took.'),
    reason: Reason('Why it failed (or was skipped, kept, aborted).'),
    message: Message('One line about the step.'),
  },
  { description: 'One step of a drill run.' },
);

export const DrillRunSchema = Obj(
  {
    id: Str({ description: 'The run: its schedule tick (YYYYMMDDTHHMMSSZ) or manual-<hash>.', maxLength: 64 }),
    trigger: Enum(['Schedule', 'Manual'] as const, { description: 'What started the run.' }),
    startedAt: Str({ description: 'When the run started.', format: 'date-time' }),
    finishedAt: Time('When the run reached its outcome.'),
    phase: Enum(['Running', 'Succeeded', 'Failed'] as const, { description: 'The outcome so far.' }),
    reason: Reason("The reason of the outcome (the failing step's)."),
    message: Message('The outcome in one line.'),
    drNamespace: Str({ description: 'The namespace restored into.', maxLength: 63 }),
    drDatabase: Str({ description: 'The database restored into.', maxLength: 63 }),
    createdNamespace: Optional(Bool({ description: 'This run created the DR namespace (only then is it deleted).' })),
    createdDatabase: Optional(Bool({ description: 'This run created the DR database (only then is it dropped).' })),
    backup: Optional(
      Obj(
        {
          key: Str({ description: 'S3 key of the restored backup.', maxLength: 1024 }),
          completedAt: Str({ description: 'When that backup completed.', format: 'date-time' }),
          sha256: Optional(Str({ description: 'Its sha256.', maxLength: 64 })),
          size: Optional(Int({ description: 'Its size in bytes.', minimum: 0, format: 'int64' })),
        },
        { description: 'The backup this run restored.' },
      ),
    ),
    recoveryStartedAt: Time('The simulated disaster: when recovery started (the end of TakeBackup).'),
    healthyAt: Time('When the restored app was healthy.'),
    steps: Arr(DrillStep, { description: 'The steps in order.', maxItems: 7 }),
    sourceValues: Optional(
      Arr(
        Obj(
          {
            name: Str({ description: 'The query.', maxLength: 63 }),
            value: Optional(Num({ description: 'Its value on production right after the backup.' })),
            error: Message('Why it has no value.'),
          },
          { description: 'A source value.' },
        ),
        { description: 'Integrity query values on production, captured right after the backup.', maxItems: 20 },
      ),
    ),
    integrity: Optional(
      Arr(
        Obj(
          {
            name: Str({ description: 'The query.', maxLength: 63 }),
            compare: Enum(['Equal', 'AtLeast', 'NonZero'] as const, { description: 'How it was compared.' }),
            source: Optional(Num({ description: 'Value on production.' })),
            restored: Optional(Num({ description: 'Value on the restore.' })),
            passed: Optional(Bool({ description: 'The comparison held.' })),
            message: Message('Why it did not.'),
          },
          { description: 'An integrity result.' },
        ),
        { description: 'Integrity results.', maxItems: 20 },
      ),
    ),
    rtoSeconds: Seconds('Measured recovery time: recovery start → app healthy.'),
    rpoSeconds: Seconds('Measured recovery point: age of the restored backup at recovery start.'),
    restoreSeconds: Seconds('Duration of RestoreData.'),
    objectivesMet: Optional(Bool({ description: 'RTO and RPO within spec.targets.' })),
    cleanedUp: Optional(Bool({ description: 'The DR namespace and database of this run are gone.' })),
    keepUntil: Time('Kept for debugging until then (cleanup.policy), then cleaned up.'),
  },
  { description: 'One drill run: the audit record.' },
);

export const DRDrillStatus = Obj(
  {
    ...commonStatus,
    lastScheduleTime: Optional(Str({ description: 'When the last drill started.', format: 'date-time' })),
    nextScheduleTime: Optional(Str({ description: 'When the next drill is due.', format: 'date-time' })),
    currentRun: Optional(DrillRunSchema),
    runs: Optional(
      Arr(DrillRunSchema, {
        description:
          'Finished runs, newest first, at most spec.historyLimit: the audit record (with the Events and the metrics).',
        maxItems: 100,
      }),
    ),
    lastRunNowValue: Optional(
      Str({ description: 'The last ops.smartcloudops.ai/run-now value acted on.', maxLength: 253 }),
    ),
    drNamespace: Optional(
      Str({
        description:
          'The namespace this drill restores into, derived from its namespace and name ("<namespace>-dr-<hash>"); the operator creates it and deletes only a namespace it created for this drill.',
        maxLength: 63,
      }),
    ),
  },
  { description: 'Observed state of the drill.' },
);

export type DRDrillSpec = Static<typeof DRDrillSpec>;
export type DRDrillStatus = Static<typeof DRDrillStatus>;
