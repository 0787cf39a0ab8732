// BackupSchedule: cron-driven pg_dump → gzip → S3 through Jobs, verified, with retention that never drops below a
// floor of good backups.
import { Resources } from './smartcloudopsapp.js';
import {
  Arr,
  Bool,
  commonStatus,
  Cron,
  Enum,
  Int,
  Obj,
  ObjectName,
  Optional,
  SecretKeyRef,
  SecretRef,
  Str,
  StrMap,
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
    compressionLevel: Optional(
      Int({
        description:
          'gzip level of the dump (plain: the agent gzips the stream; custom: pg_dump --compress). 1 dumps several times faster than the default 6 for a larger object; 0 stores uncompressed.',
        minimum: 0,
        maximum: 9,
        default: 6,
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
          dataVolumes: Optional(
            Arr(
              Obj(
                {
                  name: Str({
                    description: 'Name of this part in the manifest (e.g. uploads).',
                    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
                    minLength: 1,
                    maxLength: 40,
                  }),
                  claimName: ObjectName('PersistentVolumeClaim in this namespace, mounted read-only.'),
                  path: Optional(
                    Str({
                      description: 'Directory inside the volume to copy; the whole volume when unset.',
                      pattern: '^[^\\s]*$',
                      maxLength: 512,
                    }),
                  ),
                },
                { description: 'One data volume copied as a tar.gz part of its own.' },
              ),
              {
                description: 'PVC paths copied when data is true (uploads, models).',
                maxItems: 8,
                listType: 'map',
                listMapKeys: ['name'],
              },
            ),
          ),
          encryptionKeySecretRef: Optional(
            SecretKeyRef('Key that encrypts exported Secrets (secrets: Encrypted).', 'key'),
          ),
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
          nodeSelector: Optional(
            StrMap(Str({ description: 'Label value.', maxLength: 63 }), {
              description: 'Node labels the backup pods must run on.',
              maxProperties: 16,
            }),
          ),
          tolerations: Optional(
            Arr(
              Obj(
                {
                  key: Optional(
                    Str({ description: 'Taint key; empty with operator Exists matches all.', maxLength: 316 }),
                  ),
                  operator: Optional(Enum(['Exists', 'Equal'] as const, { description: 'Exists or Equal.' })),
                  value: Optional(Str({ description: 'Taint value for operator Equal.', maxLength: 63 })),
                  effect: Optional(
                    Enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const, {
                      description: 'Taint effect to tolerate; all when unset.',
                    }),
                  ),
                },
                { description: 'A toleration, as a Pod spec has it.' },
              ),
              { description: 'Tolerations of the backup pods.', maxItems: 16 },
            ),
          ),
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
    lastManualRequest: Optional(
      Str({ description: 'The last ops.smartcloudops.ai/backup-now value acted on.', maxLength: 253 }),
    ),
    lastSuccessfulBackup: Optional(
      Obj(
        {
          key: Str({ description: 'Key of the dump object.', maxLength: 1024 }),
          manifestKey: Optional(Str({ description: 'Key of its manifest.', maxLength: 1024 })),
          size: Int({ description: 'Bytes of the dump object.', minimum: 0, format: 'int64' }),
          sha256: Str({ description: 'sha256 of the dump, from the manifest.', maxLength: 64 }),
          completedAt: Str({ description: 'When the backup completed.', format: 'date-time' }),
          duration: Str({ description: 'How long it took, e.g. 12.3s.', maxLength: 32 }),
          job: Optional(Str({ description: 'The Job that took it.', maxLength: 253 })),
        },
        { description: 'The newest backup with a valid manifest whose object matches it.' },
      ),
    ),
    lastVerifiedBackup: Optional(
      Obj(
        {
          key: Str({ description: 'S3 key of the backup a DR drill restored and checked.', maxLength: 1024 }),
          verifiedAt: Str({ description: 'When that drill run finished.', format: 'date-time' }),
          drill: Str({ description: 'The DRDrill (in this namespace) that verified it.', maxLength: 253 }),
          run: Str({ description: "The drill's run id.", maxLength: 64 }),
        },
        {
          description:
            'The newest backup of this schedule proven restorable by a DRDrill run that succeeded (restored, healthy, integrity checks passed).',
        },
      ),
    ),
    lastFailedBackup: Optional(
      Obj(
        {
          reason: Str({ description: 'CamelCase reason, e.g. DatabaseAuthFailed, BucketNotFound.', maxLength: 128 }),
          message: Str({ description: 'What failed.', maxLength: 2048 }),
          job: Optional(Str({ description: 'The Job that failed.', maxLength: 253 })),
          failedAt: Optional(Str({ description: 'When the failure was seen.', format: 'date-time' })),
        },
        { description: 'The newest failed run.' },
      ),
    ),
    active: Optional(
      Arr(Str({ description: 'Job name.', maxLength: 253 }), { description: 'Backup Jobs running now.', maxItems: 16 }),
    ),
    history: Optional(
      Arr(
        Obj(
          {
            job: Str({ description: 'Job name.', maxLength: 253 }),
            scheduledAt: Optional(Str({ description: 'The tick it ran for.', format: 'date-time' })),
            trigger: Str({ description: 'Schedule, Immediate or Manual.', maxLength: 32 }),
            result: Enum(['Succeeded', 'Failed'] as const, { description: 'Outcome of the run.' }),
            finishedAt: Optional(Str({ description: 'When the run finished.', format: 'date-time' })),
            reason: Optional(Str({ description: 'Reason of a failure.', maxLength: 128 })),
            key: Optional(Str({ description: 'Key of the dump of a success.', maxLength: 1024 })),
          },
          { description: 'One finished run.' },
        ),
        { description: 'Finished runs, newest first (at most 10).', maxItems: 10 },
      ),
    ),
    retention: Optional(
      Obj(
        {
          verified: Int({ description: 'Verified backups under this schedule.', minimum: 0 }),
          unverified: Int({ description: 'Objects without a valid manifest or whose size differs.', minimum: 0 }),
          deleted: Int({
            description: 'Backups deleted by retention, counted since the operator started.',
            minimum: 0,
          }),
          lastDeleted: Optional(
            Arr(Str({ description: 'Key.', maxLength: 1024 }), {
              description: 'Keys deleted in the last pass.',
              maxItems: 20,
            }),
          ),
          lastRunTime: Optional(Str({ description: 'When retention last ran.', format: 'date-time' })),
          oldestKept: Optional(Str({ description: 'Start of the oldest verified backup kept.', format: 'date-time' })),
        },
        { description: 'What retention saw and did.' },
      ),
    ),
  },
  { description: 'Observed state of the backup schedule.' },
);

export type BackupScheduleSpec = Static<typeof BackupScheduleSpec>;
export type BackupScheduleStatus = Static<typeof BackupScheduleStatus>;
