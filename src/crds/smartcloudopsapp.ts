// SmartCloudOpsApp: the Flask backend and Next.js frontend with their PostgreSQL and Redis, rolled out and rolled
// back together.
import {
  Arr,
  Bool,
  commonStatus,
  Cron,
  Enum,
  Int,
  Num,
  Obj,
  ObjectName,
  Optional,
  Quantity,
  SecretKeyRef,
  SecretRef,
  Str,
  type Static,
} from './schema.js';

const ResourceList = (description: string, cpu: string, memory: string) =>
  Obj(
    {
      cpu: Optional(Quantity({ description: `CPU, e.g. "${cpu}" (cores or millicores).`, default: cpu })),
      memory: Optional(Quantity({ description: `Memory, e.g. "${memory}".`, default: memory })),
    },
    { description, default: {} },
  );

export const Resources = Obj(
  {
    requests: Optional(ResourceList('What the scheduler reserves for each pod.', '100m', '256Mi')),
    limits: Optional(ResourceList('The most each pod may use; must not be below requests.', '500m', '512Mi')),
  },
  { description: 'Compute resources of each pod of the component.', default: {} },
);

const EnvVar = Obj(
  {
    name: Str({
      description: 'Name of the environment variable.',
      pattern: '^[-._a-zA-Z][-._a-zA-Z0-9]*$',
      minLength: 1,
      maxLength: 256,
    }),
    value: Optional(Str({ description: 'A literal value. Never put secrets here: use valueFrom.', maxLength: 32768 })),
    valueFrom: Optional(
      Obj(
        {
          secretKeyRef: Optional(SecretKeyRef('Take the value from a key of a Secret.')),
          configMapKeyRef: Optional(
            Obj(
              {
                name: ObjectName('Name of the ConfigMap.'),
                key: Str({ description: 'Key inside the ConfigMap.', minLength: 1, maxLength: 253 }),
              },
              { description: 'Take the value from a key of a ConfigMap.' },
            ),
          ),
        },
        {
          description: 'Where the value comes from, instead of value.',
          validations: [
            {
              rule: 'has(self.secretKeyRef) != has(self.configMapKeyRef)',
              message: 'valueFrom needs exactly one of secretKeyRef or configMapKeyRef',
            },
          ],
        },
      ),
    ),
  },
  {
    description: 'An environment variable of the component containers.',
    validations: [{ rule: '!(has(self.value) && has(self.valueFrom))', message: 'set value or valueFrom, not both' }],
  },
);

const Component = (what: string, port: number, healthPath: string) =>
  Obj(
    {
      image: Str({
        description: `Container image of the ${what} without a tag, e.g. "registry.example.com/smartcloudops/${what}".`,
        minLength: 1,
        maxLength: 512,
        pattern: '^[^\\s:@]+(:[0-9]+)?(/[^\\s:@]+)*$',
      }),
      tag: Optional(
        Str({
          description: 'Image tag; defaults to spec.version. A digest ("sha256:...") pins the image exactly.',
          pattern: '^([\\w][\\w.-]{0,127}|sha256:[a-f0-9]{64})$',
          maxLength: 128,
        }),
      ),
      replicas: Optional(
        Int({
          description: `Pods of the ${what}. Ignored while a ScalingPolicy targets this component (it owns the count).`,
          minimum: 0,
          maximum: 1000,
          default: 2,
        }),
      ),
      port: Optional(
        Int({ description: `Container port the ${what} listens on.`, minimum: 1, maximum: 65535, default: port }),
      ),
      healthPath: Optional(
        Str({
          description: `HTTP path of the ${what}'s health endpoint, used for probes and rollout analysis.`,
          pattern: '^/[^\\s]*$',
          maxLength: 256,
          default: healthPath,
        }),
      ),
      resources: Optional(Resources),
      env: Optional(
        Arr(EnvVar, {
          description: `Environment variables of the ${what}.`,
          listType: 'map',
          listMapKeys: ['name'],
          maxItems: 100,
        }),
      ),
    },
    { description: `The ${what} component.` },
  );

export const SmartCloudOpsAppSpec = Obj(
  {
    version: Str({
      description: 'The application version being deployed; the default image tag of both components.',
      minLength: 1,
      maxLength: 128,
      pattern: '^[\\w][\\w.-]*$',
    }),
    paused: Optional(
      Bool({
        description:
          'Stop acting on this app (no rollouts, no rollbacks) while still reporting status; shown as the condition Suspended=True with reason SpecPaused.',
        default: false,
      }),
    ),
    backend: Component('backend', 5000, '/health'),
    frontend: Component('frontend', 3000, '/api/health'),
    database: Obj(
      {
        secretRef: SecretRef(
          'Secret with the PostgreSQL connection (keys host, port, database, username, password, or uri).',
        ),
        connectionWarnPercent: Optional(
          Int({
            description: 'Warn when connections in use reach this percentage of max_connections.',
            minimum: 1,
            maximum: 100,
            default: 80,
          }),
        ),
      },
      { description: 'The PostgreSQL database of the app.' },
    ),
    cache: Optional(
      Obj(
        {
          secretRef: SecretRef('Secret with the Redis connection (keys host, port, password, or uri).'),
          config: Optional(
            Obj(
              {
                maxmemoryPolicy: Optional(
                  Enum(
                    [
                      'noeviction',
                      'allkeys-lru',
                      'allkeys-lfu',
                      'allkeys-random',
                      'volatile-lru',
                      'volatile-lfu',
                      'volatile-random',
                      'volatile-ttl',
                    ] as const,
                    { description: 'Redis maxmemory-policy.', default: 'allkeys-lru' },
                  ),
                ),
                save: Optional(
                  Str({
                    description:
                      'Redis RDB "save" setting: pairs of "<seconds> <changes>", or "" to disable snapshots.',
                    pattern: '^(\\s*[0-9]+\\s+[0-9]+)*\\s*$',
                    maxLength: 128,
                    default: '900 1 300 10',
                  }),
                ),
              },
              { description: 'Redis settings the operator keeps in place.', default: {} },
            ),
          ),
        },
        { description: 'The Redis cache of the app.' },
      ),
    ),
    rollout: Optional(
      Obj(
        {
          progressDeadlineSeconds: Optional(
            Int({
              description: 'A rollout that is not available after this long has failed.',
              minimum: 30,
              maximum: 86400,
              default: 600,
            }),
          ),
          autoRollback: Optional(
            Bool({
              description: 'Roll every component back to the last good revision when a rollout fails.',
              default: true,
            }),
          ),
          bakeSeconds: Optional(
            Int({
              description: 'Keep analysing a new revision this long after it became available before calling it good.',
              minimum: 0,
              maximum: 86400,
              default: 300,
            }),
          ),
          revisionHistoryLimit: Optional(
            Int({ description: 'How many past revisions to keep for rollback.', minimum: 1, maximum: 50, default: 10 }),
          ),
          analysis: Optional(
            Obj(
              {
                prometheusUrl: Str({
                  description: 'Base URL of the Prometheus API that holds the app metrics.',
                  pattern: '^https?://[^\\s]+$',
                  maxLength: 2048,
                }),
                errorRateMax: Optional(
                  Num({
                    description: 'Highest acceptable ratio of 5xx responses (0.01 = 1%).',
                    minimum: 0,
                    maximum: 1,
                    default: 0.01,
                  }),
                ),
                p95LatencyMsMax: Optional(
                  Int({
                    description: 'Highest acceptable p95 latency in ms.',
                    minimum: 1,
                    maximum: 600000,
                    default: 500,
                  }),
                ),
              },
              { description: 'Metric checks of a new revision; without it only availability is checked.' },
            ),
          ),
        },
        { description: 'How new revisions are rolled out and judged.', default: {} },
      ),
    ),
    monitoring: Optional(
      Obj(
        {
          prometheusRule: Optional(
            Bool({
              description: 'Create the runbook alerts as a PrometheusRule (needs the Prometheus Operator CRDs).',
              default: true,
            }),
          ),
          serviceMonitor: Optional(
            Bool({
              description: 'Create ServiceMonitors for the components (needs the Prometheus Operator CRDs).',
              default: true,
            }),
          ),
        },
        { description: 'Prometheus Operator objects for the app.', default: {} },
      ),
    ),
    maintenance: Optional(
      Obj(
        {
          vacuumAnalyzeSchedule: Optional(Cron('When to run VACUUM ANALYZE (cron, 5 fields), e.g. "0 3 * * 0".')),
          timeZone: Optional(
            Str({
              description: 'IANA time zone of the schedule, e.g. "Europe/Berlin"; UTC when unset.',
              maxLength: 64,
            }),
          ),
        },
        { description: 'Routine database maintenance.' },
      ),
    ),
  },
  { description: 'Desired state of the SmartCloudOps application.' },
);

export const SmartCloudOpsAppStatus = Obj(
  {
    ...commonStatus,
    phase: Optional(
      Enum(['Pending', 'Progressing', 'Healthy', 'Degraded', 'RollingBack', 'RolledBack'] as const, {
        description: 'A one-word summary for printer columns; read the conditions for decisions.',
      }),
    ),
  },
  { description: 'Observed state of the SmartCloudOps application.' },
);

export type SmartCloudOpsAppSpec = Static<typeof SmartCloudOpsAppSpec>;
export type SmartCloudOpsAppStatus = Static<typeof SmartCloudOpsAppStatus>;
