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

export const DRDrillStatus = Obj(
  {
    ...commonStatus,
    lastScheduleTime: Optional(Str({ description: 'When the last drill started.', format: 'date-time' })),
    nextScheduleTime: Optional(Str({ description: 'When the next drill is due.', format: 'date-time' })),
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
