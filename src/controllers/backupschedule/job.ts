// The backup Job, pure: built from parameters frozen when the Job is first created and recorded on it (annotation
// `job-params`), so a later change of the spec (or of the operator's image) never rewrites an existing Job — a Job's
// template is immutable and the seam would re-create it, running that tick's backup a second time. New ticks take
// the spec as it is then. The pod runs the agent from the operator's image (`node dist/agent/main.js backup`, the
// image's ENTRYPOINT runs the operator, so the command is overridden) under Pod Security "restricted", credentials
// only through secretKeyRef env, /tmp an emptyDir, and `FallbackToLogsOnError`: a failed agent's last log lines —
// its JSON result line last — become the container's termination message, where the controller reads the reason.
import type { KubeObject } from '../../kube/index.js';
import type { BackupScheduleSpec } from '../../crds/backupschedule.js';
import { AGENT_ENV, AGENT_NODE_ARGS } from '../../agent/node-args.js';

export const LABEL_SCHEDULE = 'ops.smartcloudops.ai/backup-schedule';
export const LABEL_RUN = 'ops.smartcloudops.ai/backup-run';
export const ANN_SCHEDULED_AT = 'ops.smartcloudops.ai/scheduled-at';
export const ANN_TRIGGER = 'ops.smartcloudops.ai/trigger';
export const ANN_PARAMS = 'ops.smartcloudops.ai/job-params';
export const ANN_SCHEDULE_NAME = 'ops.smartcloudops.ai/backup-schedule-name';

/** How the agent runs in a Job (backup here, restore in a DR drill): Pod Security "restricted", the image's agent. */
export const AGENT_COMMAND = ['/usr/local/bin/node', ...AGENT_NODE_ARGS, '/app/dist/agent/main.js'];
export const AGENT_POD_SECURITY = {
  runAsNonRoot: true,
  runAsUser: 65532,
  runAsGroup: 65532,
  fsGroup: 65532,
  seccompProfile: { type: 'RuntimeDefault' },
};
export const AGENT_CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
};

export type Trigger = 'Schedule' | 'Immediate' | 'Manual';

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

/** Everything the Job is built from (besides its name, run and tick), frozen on the Job. No secret values. */
export interface JobParams {
  image: string;
  folder: string;
  bucket: string;
  prefix: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  sse?: 'AES256' | 'aws:kms';
  kmsKeyId?: string;
  credentialsSecret: string;
  databaseSecret?: string;
  format: 'plain' | 'custom';
  /** gzip level (absent on Jobs made before the field existed: the agent's default, 6). */
  compressLevel?: number;
  verify: boolean;
  activeDeadlineSeconds: number;
  parts: string[];
  configNamespace?: string;
  encryptionKey?: { name: string; key: string };
  dataVolumes?: { name: string; claimName: string; path?: string }[];
  resources?: Record<string, unknown>;
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
}

/** The parameters of a new Job from the spec, the namespace and the database Secret (the spec's or the app's). */
export function jobParams(
  spec: BackupScheduleSpec,
  o: { namespace: string; folder: string; image: string; databaseSecret?: string },
): JobParams {
  const d = spec.destination;
  const inc = spec.include ?? {};
  const parts: string[] = [];
  if (inc.database !== false && o.databaseSecret) parts.push('database');
  if (inc.config !== false && spec.appRef) parts.push('config');
  if (inc.data && inc.dataVolumes?.length) parts.push('data');
  const tpl = spec.jobTemplate ?? {};
  return {
    image: tpl.image ?? o.image,
    folder: o.folder,
    bucket: d.bucket,
    prefix: d.prefix ?? '',
    region: d.region ?? 'us-east-1',
    ...(d.endpoint ? { endpoint: d.endpoint } : {}),
    forcePathStyle: d.forcePathStyle ?? false,
    ...(d.serverSideEncryption && d.serverSideEncryption !== 'None' ? { sse: d.serverSideEncryption } : {}),
    ...(d.kmsKeyId ? { kmsKeyId: d.kmsKeyId } : {}),
    credentialsSecret: d.credentialsSecretRef.name,
    ...(o.databaseSecret ? { databaseSecret: o.databaseSecret } : {}),
    format: spec.format ?? 'plain',
    ...(spec.compressionLevel !== undefined && spec.compressionLevel !== 6
      ? { compressLevel: spec.compressionLevel }
      : {}),
    verify: spec.verify ?? true,
    activeDeadlineSeconds: spec.activeDeadlineSeconds ?? 3600,
    parts,
    ...(parts.includes('config') ? { configNamespace: o.namespace } : {}),
    ...(parts.includes('config') && inc.secrets === 'Encrypted' && inc.encryptionKeySecretRef
      ? { encryptionKey: { name: inc.encryptionKeySecretRef.name, key: inc.encryptionKeySecretRef.key ?? 'key' } }
      : {}),
    ...(parts.includes('data') ? { dataVolumes: inc.dataVolumes } : {}),
    ...(tpl.resources ? { resources: tpl.resources as Record<string, unknown> } : {}),
    ...(tpl.nodeSelector ? { nodeSelector: tpl.nodeSelector } : {}),
    ...(tpl.tolerations ? { tolerations: tpl.tolerations as Toleration[] } : {}),
  };
}

/** Parameters recorded on an existing Job; undefined when absent or unreadable (then the Job is left as it is). */
export function paramsOf(job: KubeObject): JobParams | undefined {
  const raw = job.metadata.annotations?.[ANN_PARAMS];
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as JobParams;
  } catch {
    return undefined;
  }
}

const secretEnv = (name: string, secret: string, key: string, optional = false) => ({
  name,
  valueFrom: { secretKeyRef: { name: secret, key, ...(optional ? { optional: true } : {}) } },
});

/** The agent's argv (no secret is ever on it: the agent refuses such flags). */
export function agentArgs(p: JobParams, runId: string): string[] {
  const args = [
    'backup',
    `--bucket=${p.bucket}`,
    `--schedule=${p.folder}`,
    `--run-id=${runId}`,
    `--format=${p.format}`,
    `--verify=${p.verify ? 'full' : 'size'}`,
    `--region=${p.region}`,
  ];
  if (p.compressLevel !== undefined) args.push(`--compress-level=${p.compressLevel}`);
  if (p.prefix) args.push(`--prefix=${p.prefix}`);
  if (p.endpoint) args.push(`--endpoint=${p.endpoint}`);
  if (p.forcePathStyle) args.push('--force-path-style');
  if (p.sse) args.push(`--sse=${p.sse}`);
  if (p.kmsKeyId) args.push(`--sse-kms-key-id=${p.kmsKeyId}`);
  // Parts other than the database only when asked for (the agent's contract: --parts, --config-namespace,
  // --secrets encrypted --encryption-key-file, --data-dir name=path); a database-only backup passes none of them.
  if (p.parts.length && !(p.parts.length === 1 && p.parts[0] === 'database')) {
    args.push(`--parts=${p.parts.join(',')}`);
    if (p.configNamespace) args.push(`--config-namespace=${p.configNamespace}`);
    if (p.encryptionKey)
      args.push('--secrets=encrypted', `--encryption-key-file=/var/run/backup-key/${p.encryptionKey.key}`);
    for (const v of p.dataVolumes ?? [])
      args.push(`--data-dir=${v.name}=/data/${v.name}${v.path ? `/${v.path.replace(/^\/+/, '')}` : ''}`);
  }
  return args;
}

export interface JobInput {
  name: string;
  scheduleName: string;
  runId: string;
  trigger: Trigger;
  scheduledAt: Date;
  params: JobParams;
  /** ServiceAccount of the pod (only when config/Secrets are exported: it needs read access to them). */
  serviceAccountName?: string;
}

export function scheduleLabelValue(name: string): string {
  return name.length <= 63 ? name : name.slice(0, 63).replace(/[-.]+$/, '');
}

/** The ServiceAccount the agent runs as when it exports the namespace's config (it lists ConfigMaps, Secrets). */
export function agentServiceAccountName(scheduleName: string): string {
  return `${scheduleName.slice(0, 253 - '-backup-agent'.length)}-backup-agent`;
}

type PodSpecLike = { serviceAccountName?: string; volumes?: { name: string }[] };
const podSpecOf = (job: KubeObject) =>
  ((job as { spec?: { template?: { spec?: PodSpecLike } } }).spec?.template?.spec ?? {}) as PodSpecLike;

/**
 * What the agent needs to export config, as children of the schedule: a ServiceAccount and a namespaced Role and
 * RoleBinding that let it list ConfigMaps (and Secrets, only when a Job exports them encrypted) in this namespace —
 * nothing else, nowhere else. Derived from the Jobs that run as that ServiceAccount, so it lives exactly as long as
 * they need it (the seam prunes it with the last of them).
 */
export function agentAccess(scheduleName: string, namespace: string, jobs: readonly KubeObject[]): KubeObject[] {
  const sa = agentServiceAccountName(scheduleName);
  const users = jobs.filter((j) => podSpecOf(j).serviceAccountName === sa);
  if (!users.length) return [];
  const secrets = users.some((j) => podSpecOf(j).volumes?.some((v) => v.name === 'backup-key'));
  const labels = { [LABEL_SCHEDULE]: scheduleLabelValue(scheduleName) };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, labels }, automountServiceAccountToken: false },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: sa, labels },
      rules: [
        { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] },
        ...(secrets ? [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }] : []),
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: sa, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: sa },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace }],
    },
  ] as unknown as KubeObject[];
}

export function backupJob(i: JobInput): KubeObject & { spec: Record<string, unknown> } {
  const p = i.params;
  // Exporting config lists the namespace's ConfigMaps (and Secrets) through the API: the agent's own account.
  const serviceAccountName =
    i.serviceAccountName ?? (p.parts.includes('config') ? agentServiceAccountName(i.scheduleName) : undefined);
  const labels = { [LABEL_SCHEDULE]: scheduleLabelValue(i.scheduleName), [LABEL_RUN]: i.runId };
  const annotations = { [ANN_SCHEDULE_NAME]: i.scheduleName };
  const env: Record<string, unknown>[] = [
    secretEnv('AWS_ACCESS_KEY_ID', p.credentialsSecret, 'AWS_ACCESS_KEY_ID'),
    secretEnv('AWS_SECRET_ACCESS_KEY', p.credentialsSecret, 'AWS_SECRET_ACCESS_KEY'),
    secretEnv('AWS_SESSION_TOKEN', p.credentialsSecret, 'AWS_SESSION_TOKEN', true),
    { name: 'LOG_LEVEL', value: 'info' },
    { name: 'HOME', value: '/tmp' },
    ...Object.entries(AGENT_ENV).map(([name, value]) => ({ name, value })),
  ];
  if (p.databaseSecret) {
    env.push(
      secretEnv('PGHOST', p.databaseSecret, 'host', true),
      secretEnv('PGPORT', p.databaseSecret, 'port', true),
      secretEnv('PGDATABASE', p.databaseSecret, 'database', true),
      secretEnv('PGUSER', p.databaseSecret, 'username', true),
      secretEnv('PGPASSWORD', p.databaseSecret, 'password', true),
      secretEnv('DATABASE_URL', p.databaseSecret, 'uri', true),
    );
  }
  const volumes: Record<string, unknown>[] = [{ name: 'tmp', emptyDir: { sizeLimit: '256Mi' } }];
  const mounts: Record<string, unknown>[] = [{ name: 'tmp', mountPath: '/tmp' }];
  if (p.encryptionKey) {
    volumes.push({
      name: 'backup-key',
      secret: { secretName: p.encryptionKey.name, items: [{ key: p.encryptionKey.key, path: p.encryptionKey.key }] },
    });
    mounts.push({ name: 'backup-key', mountPath: '/var/run/backup-key', readOnly: true });
  }
  for (const v of p.dataVolumes ?? []) {
    volumes.push({ name: `data-${v.name}`, persistentVolumeClaim: { claimName: v.claimName, readOnly: true } });
    mounts.push({ name: `data-${v.name}`, mountPath: `/data/${v.name}`, readOnly: true });
  }
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: i.name,
      labels,
      annotations: {
        ...annotations,
        [ANN_SCHEDULED_AT]: i.scheduledAt.toISOString(),
        [ANN_TRIGGER]: i.trigger,
        [ANN_PARAMS]: JSON.stringify(p),
      },
    },
    spec: {
      backoffLimit: 0, // a retry is the next tick; a failed run is reported, not hidden by retries
      activeDeadlineSeconds: p.activeDeadlineSeconds,
      template: {
        metadata: { labels, annotations },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: !!serviceAccountName,
          ...(serviceAccountName ? { serviceAccountName } : {}),
          securityContext: AGENT_POD_SECURITY,
          ...(p.nodeSelector ? { nodeSelector: p.nodeSelector } : {}),
          ...(p.tolerations ? { tolerations: p.tolerations } : {}),
          containers: [
            {
              name: 'agent',
              image: p.image,
              imagePullPolicy: 'IfNotPresent',
              command: AGENT_COMMAND,
              args: agentArgs(p, i.runId),
              env,
              ...(p.resources ? { resources: p.resources } : {}),
              terminationMessagePolicy: 'FallbackToLogsOnError',
              volumeMounts: mounts,
              securityContext: AGENT_CONTAINER_SECURITY,
            },
          ],
          volumes,
        },
      },
    },
  };
}
