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
  Passthrough,
  Quantity,
  SecretKeyRef,
  SecretRef,
  Str,
  StrMap,
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
    podTemplate: Optional(
      Obj(
        {
          nodeSelector: Optional(
            StrMap(Str({ description: 'Label value.', maxLength: 63 }), {
              description: 'Node labels the pods of both components must match.',
              maxProperties: 32,
            }),
          ),
          tolerations: Optional(
            Arr(
              Obj(
                {
                  key: Optional(
                    Str({ description: 'Taint key; empty with Exists tolerates everything.', maxLength: 317 }),
                  ),
                  operator: Optional(
                    Enum(['Exists', 'Equal'] as const, { description: 'Exists or Equal (default Equal).' }),
                  ),
                  value: Optional(Str({ description: 'Taint value (Equal).', maxLength: 63 })),
                  effect: Optional(
                    Enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const, {
                      description: 'Taint effect; empty matches all.',
                    }),
                  ),
                  tolerationSeconds: Optional(
                    Int({ description: 'For NoExecute: how long the pod stays bound.', minimum: 0 }),
                  ),
                },
                {
                  description: 'A toleration, as in a pod spec.',
                  validations: [
                    {
                      rule: "!has(self.operator) || self.operator != 'Exists' || !has(self.value)",
                      message: 'a toleration with operator Exists takes no value',
                    },
                  ],
                },
              ),
              { description: 'Tolerations of the pods of both components.', maxItems: 32 },
            ),
          ),
        },
        {
          description:
            'Where the pods of both components may run (nodeSelector, tolerations). Not part of a revision: it applies to whatever revision runs.',
        },
      ),
    ),
    healthCheck: Optional(
      Obj(
        {
          intervalSeconds: Optional(
            Int({
              description: 'How often each component health path is fetched through its Service.',
              minimum: 1,
              maximum: 3600,
              default: 15,
            }),
          ),
          timeoutSeconds: Optional(
            Int({ description: 'Timeout of one health request.', minimum: 1, maximum: 60, default: 3 }),
          ),
        },
        {
          description: 'HTTP health checks of the components by the operator (besides the pods probes).',
          default: {},
          validations: [
            {
              rule: '!has(self.intervalSeconds) || !has(self.timeoutSeconds) || self.timeoutSeconds <= self.intervalSeconds',
              message: 'timeoutSeconds must not exceed intervalSeconds',
            },
          ],
        },
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

const Images = Obj(
  {
    backend: Str({ description: 'Image of the backend (repository:tag or @digest).', maxLength: 700 }),
    frontend: Str({ description: 'Image of the frontend (repository:tag or @digest).', maxLength: 700 }),
  },
  { description: 'The images of both components in this revision.' },
);

const RevisionRef = (description: string) =>
  Obj(
    {
      revision: Str({ description: 'The revision (a hash of everything that defines the release).', maxLength: 64 }),
      version: Optional(Str({ description: 'spec.version of that revision.', maxLength: 128 })),
      images: Optional(Images),
      configHash: Optional(
        Str({ description: 'Hash of the configuration of the revision (env, ports, resources).', maxLength: 64 }),
      ),
      promotedAt: Optional(
        Str({ description: 'When the revision was promoted to good (RFC 3339).', format: 'date-time' }),
      ),
    },
    { description },
  );

const RollbackRecord = (description: string) =>
  Obj(
    {
      from: Str({ description: 'The revision rolled back from.', maxLength: 64 }),
      to: Str({ description: 'The revision rolled back to.', maxLength: 64 }),
      reason: Str({
        description:
          'Why: ProgressDeadlineExceeded, CrashLooping, PodsFailing, HealthCheckFailing, AnalysisFailing, AnalysisInconclusive or ManualRollback.',
        maxLength: 64,
      }),
      message: Str({ description: 'What was seen.', maxLength: 1024 }),
      manual: Optional(Bool({ description: 'Requested by the rollback annotation.' })),
      startedAt: Str({ description: 'When the rollback was decided (RFC 3339).', format: 'date-time' }),
      completedAt: Optional(
        Str({ description: 'When both components ran the target revision (RFC 3339).', format: 'date-time' }),
      ),
    },
    { description },
  );

const Health = Obj(
  {
    ok: Bool({ description: 'The last check passed.' }),
    reason: Str({ description: 'Healthy, HttpStatus, Timeout, ConnectionRefused, NoEndpoints, ...', maxLength: 64 }),
    message: Str({ description: 'One line about the last check.', maxLength: 1024 }),
    since: Optional(Str({ description: 'Since when the check has had this outcome (RFC 3339).', format: 'date-time' })),
  },
  { description: 'HTTP GET of the component health path through its Service.' },
);

const CheckResultSchema = Obj(
  {
    name: Str({ description: 'backend, frontend, postgres or redis.', maxLength: 64 }),
    kind: Enum(['http', 'postgres', 'redis'] as const, { description: 'What was checked.' }),
    ok: Bool({ description: 'The check passed.' }),
    reason: Str({ description: 'CamelCase outcome, e.g. Healthy, Timeout, SecretMissing.', maxLength: 64 }),
    message: Str({ description: 'One line; never a secret.', maxLength: 1024 }),
    checkedAt: Str({ description: 'When it was checked (RFC 3339).', format: 'date-time' }),
    latencyMs: Optional(Num({ description: 'How long the check took, in ms.', minimum: 0 })),
    warning: Optional(Bool({ description: 'Passing but past a warning threshold.' })),
    details: Optional(
      StrMap(Str({ description: 'A value.', maxLength: 256 }), {
        description: 'Numbers worth showing (connectionsInUse, maxConnections, statusCode), as strings.',
        maxProperties: 16,
      }),
    ),
  },
  { description: 'The latest result of one dependency check.' },
);

export const SmartCloudOpsAppStatus = Obj(
  {
    ...commonStatus,
    phase: Optional(
      Enum(['Pending', 'Progressing', 'Healthy', 'Degraded', 'RollingBack', 'RolledBack'] as const, {
        description: 'A one-word summary for printer columns; read the conditions for decisions.',
      }),
    ),
    currentRevision: Optional(
      Str({ description: 'The revision the components run (or are being moved to).', maxLength: 64 }),
    ),
    specRevision: Optional(Str({ description: 'The revision the spec describes.', maxLength: 64 })),
    readyComponents: Optional(Str({ description: 'Components available, e.g. "2/2".', maxLength: 16 })),
    lastGoodRevision: Optional(RevisionRef('The last revision promoted to good: the target of automatic rollbacks.')),
    rollout: Optional(
      Obj(
        {
          revision: Str({ description: 'The revision being rolled out or last rolled out.', maxLength: 64 }),
          state: Enum(['Progressing', 'Baking', 'Promoted', 'Failed', 'Held'] as const, {
            description:
              'Progressing: not all components available; Baking: available, judged for rollout.bakeSeconds; Promoted: good; Failed: judged failed; Held: the spec revision is quarantined or a rollback is in effect.',
          }),
          startedAt: Str({ description: 'When this revision was first applied (RFC 3339).', format: 'date-time' }),
          availableAt: Optional(
            Str({ description: 'When every component became available (RFC 3339).', format: 'date-time' }),
          ),
          message: Optional(Str({ description: 'One line about the rollout.', maxLength: 1024 })),
        },
        { description: 'The rollout of currentRevision.' },
      ),
    ),
    rollback: Optional(
      RollbackRecord(
        'A rollback in progress. It is recorded here before the children are changed, so a new leader finishes it.',
      ),
    ),
    lastRollback: Optional(RollbackRecord('The last completed rollback.')),
    quarantined: Optional(
      Arr(
        Obj(
          {
            revision: Str({ description: 'A revision that failed.', maxLength: 64 }),
            reason: Str({ description: 'Why it failed.', maxLength: 64 }),
            message: Optional(Str({ description: 'What was seen.', maxLength: 1024 })),
            at: Str({ description: 'When (RFC 3339).', format: 'date-time' }),
          },
          { description: 'A revision not tried again until the spec changes or the retry annotation is set.' },
        ),
        { description: 'Failed revisions not tried again.', maxItems: 20, listType: 'map', listMapKeys: ['revision'] },
      ),
    ),
    observedRetry: Optional(
      Str({ description: 'The value of the ops.smartcloudops.ai/retry annotation last acted on.', maxLength: 256 }),
    ),
    observedRollbackTo: Optional(
      Str({
        description: 'The value of the ops.smartcloudops.ai/rollback-to annotation last acted on.',
        maxLength: 256,
      }),
    ),
    history: Optional(
      Arr(
        Obj(
          {
            revision: Str({ description: 'The revision.', maxLength: 64 }),
            version: Str({ description: 'spec.version of the revision.', maxLength: 128 }),
            images: Images,
            configHash: Str({ description: 'Hash of the configuration of the revision.', maxLength: 64 }),
            deployedAt: Str({ description: 'When it was first applied (RFC 3339).', format: 'date-time' }),
            promotedAt: Optional(Str({ description: 'When it was promoted to good (RFC 3339).', format: 'date-time' })),
            result: Enum(['Progressing', 'Good', 'Failed'] as const, { description: 'How the revision fared.' }),
            release: Passthrough({
              description:
                'What the revision deploys (per component: image, port, health path, resources, env with secretKeyRefs, never values of Secrets), so a rollback can rebuild it.',
            }),
          },
          { description: 'One revision deployed before.' },
        ),
        {
          description: 'Revisions deployed, newest first, at most rollout.revisionHistoryLimit.',
          maxItems: 50,
          listType: 'map',
          listMapKeys: ['revision'],
        },
      ),
    ),
    components: Optional(
      Arr(
        Obj(
          {
            name: Enum(['backend', 'frontend'] as const, { description: 'The component.' }),
            deployment: Str({ description: 'Name of its Deployment.', maxLength: 253 }),
            image: Optional(Str({ description: 'The image it runs.', maxLength: 700 })),
            revision: Optional(Str({ description: 'The revision its pod template carries.', maxLength: 64 })),
            replicas: Int({ description: 'Desired replicas (as the Deployment has them).', minimum: 0 }),
            readyReplicas: Int({ description: 'Ready replicas.', minimum: 0 }),
            updatedReplicas: Int({ description: 'Replicas on the current template.', minimum: 0 }),
            availableReplicas: Int({ description: 'Available replicas.', minimum: 0 }),
            available: Bool({ description: 'Every replica is updated and available.' }),
            replicasOwner: Optional(
              Str({ description: 'Another field manager that owns spec.replicas (left alone).', maxLength: 256 }),
            ),
            health: Optional(Health),
          },
          { description: 'One component as its Deployment reports it.' },
        ),
        { description: 'backend and frontend.', maxItems: 2, listType: 'map', listMapKeys: ['name'] },
      ),
    ),
    dependencies: Optional(
      Arr(CheckResultSchema, {
        description: 'PostgreSQL and Redis checks.',
        maxItems: 8,
        listType: 'map',
        listMapKeys: ['name'],
      }),
    ),
    redisConfig: Optional(
      Obj(
        {
          inSync: Bool({ description: 'Live settings equal spec.cache.config.' }),
          drift: Optional(
            Arr(
              Obj(
                {
                  key: Str({ description: 'The Redis setting.', maxLength: 128 }),
                  live: Str({ description: 'What Redis had.', maxLength: 256 }),
                  want: Str({ description: 'What the spec wants.', maxLength: 256 }),
                },
                { description: 'One setting that differed.' },
              ),
              { description: 'Settings found differing (and corrected).', maxItems: 16 },
            ),
          ),
          lastCorrectedAt: Optional(Str({ description: 'When drift was last corrected.', format: 'date-time' })),
          message: Str({ description: 'One line.', maxLength: 1024 }),
        },
        { description: 'spec.cache.config against the live Redis settings.' },
      ),
    ),
    maintenance: Optional(
      Obj(
        {
          running: Bool({ description: 'VACUUM ANALYZE is running now.' }),
          nextRunAt: Optional(Str({ description: 'Next scheduled run (RFC 3339).', format: 'date-time' })),
          lastRun: Optional(
            Obj(
              {
                startedAt: Str({ description: 'Start (RFC 3339).', format: 'date-time' }),
                finishedAt: Str({ description: 'End (RFC 3339).', format: 'date-time' }),
                durationMs: Num({ description: 'Duration in ms.', minimum: 0 }),
                result: Enum(['Succeeded', 'Failed'] as const, { description: 'Outcome.' }),
                message: Str({ description: 'One line.', maxLength: 1024 }),
              },
              { description: 'The last VACUUM ANALYZE.' },
            ),
          ),
        },
        { description: 'Database maintenance.' },
      ),
    ),
    analysis: Optional(
      Obj(
        {
          revision: Optional(Str({ description: 'The revision analysed.', maxLength: 64 })),
          state: Enum(['Passing', 'Failing', 'Unknown', 'NotConfigured'] as const, { description: 'The verdict.' }),
          errorRate: Optional(Num({ description: 'Ratio of 5xx responses in the window.', minimum: 0 })),
          p95LatencyMs: Optional(Num({ description: 'p95 latency in the window, ms.', minimum: 0 })),
          reason: Str({ description: 'CamelCase reason.', maxLength: 64 }),
          message: Str({ description: 'One line.', maxLength: 1024 }),
          checkedAt: Optional(Str({ description: 'When (RFC 3339).', format: 'date-time' })),
        },
        { description: 'Prometheus analysis of the revision during its bake window.' },
      ),
    ),
  },
  { description: 'Observed state of the SmartCloudOps application.' },
);

export type SmartCloudOpsAppSpec = Static<typeof SmartCloudOpsAppSpec>;
export type SmartCloudOpsAppStatus = Static<typeof SmartCloudOpsAppStatus>;
