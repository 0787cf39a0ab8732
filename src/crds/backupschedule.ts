// BackupSchedule: cron-driven pg_dump → gzip → S3 through Jobs, verified, with retention that never drops below a
// floor of good backups.
import { Resources } from './smartcloudopsapp.js';
import {
  Bool,
  commonStatus,
  Cron,
  Enum,
  Int,
  Obj,
  ObjectName,
  Optional,
  SecretRef,
  Str,
  type Static,
} from './schema.js';

export const BackupScheduleSpec = Obj(
  {
    appRef: Optional(
      Obj(
        { name: ObjectName('Name of a SmartCloudOpsApp in this namespace; its database is backed up.') },
        {
          description: 'Back up this app (its database, config and data). Immutable.',
          validations: [
            { rule: 'self == oldSelf', message: 'appRef is immutable; create a new BackupSchedule instead' },
          ],
        },
      ),
    ),
    database: Optional(
      Obj(
        {
          secretRef: SecretRef(
            'Secret with the PostgreSQL connection (keys host, port, database, username, password, or uri).',
          ),
        },
        { description: 'Back up this database directly, without an app.' },
      ),
    ),
    schedule: Cron('When to take a backup: a 5-field cron expression ("0 2 * * *") or @daily, @hourly...'),
    timeZone: Optional(
      Str({ description: 'IANA time zone of the schedule, e.g. "Europe/Berlin"; UTC when unset.', maxLength: 64 }),
    ),
    suspend: Optional(
      Bool({
        description:
          'Take no new backups; retention and status keep running. Shown as the condition Suspended=True with reason SpecSuspended.',
        default: false,
      }),
    ),
    immediate: Optional(
      Bool({ description: 'Also take a backup as soon as the schedule is created.', default: false }),
    ),
    destination: Obj(
      {
        bucket: Str({
          description: 'S3 bucket name.',
          pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$',
          minLength: 3,
          maxLength: 63,
        }),
        prefix: Optional(
          Str({
            description: 'Key prefix inside the bucket, e.g. "prod/smartcloudops/"; backups go below it.',
            pattern: '^[^\\s]*$',
            maxLength: 512,
            default: '',
          }),
        ),
        region: Optional(Str({ description: 'S3 region.', maxLength: 64, minLength: 1, default: 'us-east-1' })),
        endpoint: Optional(
          Str({
            description: 'S3 endpoint URL for S3-compatible stores; AWS when unset.',
            pattern: '^https?://[^\\s]+$',
            maxLength: 2048,
          }),
        ),
        forcePathStyle: Optional(
          Bool({
            description: 'Address the bucket in the path, not the host name (most S3-compatible stores).',
            default: false,
          }),
        ),
        credentialsSecretRef: SecretRef('Secret with keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.'),
        serverSideEncryption: Optional(
          Enum(['None', 'AES256', 'aws:kms'] as const, {
            description: 'Server-side encryption to request for each object.',
            default: 'None',
          }),
        ),
        kmsKeyId: Optional(Str({ description: 'KMS key for serverSideEncryption aws:kms.', maxLength: 2048 })),
      },
      {
        description: 'Where backups are stored.',
        validations: [
          {
            rule: "!has(self.kmsKeyId) || (has(self.serverSideEncryption) && self.serverSideEncryption == 'aws:kms')",
            message: 'kmsKeyId needs serverSideEncryption aws:kms',
            fieldPath: '.kmsKeyId',
          },
        ],
      },
    ),
    format: Optional(
      Enum(['plain', 'custom'] as const, {
        description: 'pg_dump format: plain SQL (gzip-compressed) or custom (pg_restore-able, selective restore).',
        default: 'plain',
      }),
    ),
    include: Optional(
      Obj(
        {
          database: Optional(Bool({ description: 'Dump the database.', default: true })),
          config: Optional(Bool({ description: 'Export the app manifests and ConfigMaps.', default: true })),
          secrets: Optional(
            Enum(['Exclude', 'Encrypted'] as const, {
              description: 'Secrets are left out, or exported encrypted; never in plain text.',
              default: 'Exclude',
            }),
          ),
          data: Optional(Bool({ description: 'Copy application data volumes.', default: false })),
        },
        {
          description: 'What each backup contains.',
          default: {},
          validations: [
            {
              // Unset fields take their defaults (database and config true, data false).
              rule: '(!has(self.database) || self.database) || (!has(self.config) || self.config) || (has(self.data) && self.data)',
              message: 'include must select at least one of database, config or data',
            },
          ],
        },
      ),
    ),
    retention: Optional(
      Obj(
        {
          keepDays: Optional(
            Int({ description: 'Delete backups older than this many days...', minimum: 1, maximum: 3650, default: 30 }),
          ),
          minKeep: Optional(
            Int({
              description: '...but never keep fewer than this many verified-good backups, whatever their age.',
              minimum: 1,
              maximum: 1000,
              default: 3,
            }),
          ),
        },
        { description: 'Which backups to delete from the bucket.', default: {} },
      ),
    ),
    verify: Optional(
      Bool({
        description: 'Check each backup after upload (gzip integrity, pg_restore --list, size and checksum).',
        default: true,
      }),
    ),
    concurrencyPolicy: Optional(
      Enum(['Forbid', 'Replace'] as const, {
        description:
          'When a backup is still running at the next tick: skip the tick (Forbid) or stop the old one (Replace).',
        default: 'Forbid',
      }),
    ),
    startingDeadlineSeconds: Optional(
      Int({
        description: 'A tick missed by more than this (e.g. the operator was down) is skipped, not run late.',
        minimum: 10,
        maximum: 86400,
        default: 300,
      }),
    ),
    activeDeadlineSeconds: Optional(
      Int({
        description: 'A backup Job running longer than this is stopped and failed.',
        minimum: 60,
        maximum: 86400,
        default: 3600,
      }),
    ),
    historyLimit: Optional(
      Int({ description: 'Finished backup Jobs to keep for inspection.', minimum: 1, maximum: 100, default: 10 }),
    ),
    jobTemplate: Optional(
      Obj(
        {
          image: Optional(
            Str({
              description: 'Image of the backup agent; the operator image when unset.',
              minLength: 1,
              maxLength: 512,
            }),
          ),
          resources: Optional(Resources),
        },
        { description: 'How the backup Jobs run.', default: {} },
      ),
    ),
  },
  {
    description: 'Desired state of the backup schedule.',
    validations: [
      { rule: 'has(self.appRef) != has(self.database)', message: 'set exactly one of appRef or database' },
      {
        rule: 'has(self.appRef) == has(oldSelf.appRef)',
        message: 'appRef cannot be added or removed; create a new BackupSchedule',
      },
    ],
  },
);

export const BackupScheduleStatus = Obj(
  {
    ...commonStatus,
    lastScheduleTime: Optional(Str({ description: 'When the last backup was started.', format: 'date-time' })),
    nextScheduleTime: Optional(Str({ description: 'When the next backup is due.', format: 'date-time' })),
  },
  { description: 'Observed state of the backup schedule.' },
);

export type BackupScheduleSpec = Static<typeof BackupScheduleSpec>;
export type BackupScheduleStatus = Static<typeof BackupScheduleStatus>;
