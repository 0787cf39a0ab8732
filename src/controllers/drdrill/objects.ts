// What a drill run puts into its DR namespace, as pure builders (the capability applies them by server-side apply):
//   - the Namespace, labelled with the drill's uid (guards.ts: only such a namespace is ever used or deleted);
//   - a NetworkPolicy that denies egress to the source (production) namespace: the DR pods may reach DNS, other
//     namespaces' pods and, by IP and port, the restore target and the S3 endpoint — never the production pods;
//   - two Secrets: the DR database connection (the restore target's server with the run's fresh database) and the S3
//     credentials for the restore Job (copied from the BackupSchedule's credentials Secret: a namespace-scoped Job
//     can only read Secrets of its own namespace);
//   - the restore Job: the agent's `restore` of the run's backup manifest into the DR database, in the operator's
//     image, restricted like the backup Job;
//   - the app copy: the same Deployments, Services and PodDisruptionBudgets the SmartCloudOpsApp capability builds
//     (desired.ts appChildren) from a copy of the app's spec pointed at the DR database Secret, one replica per
//     component, without the cache (production Redis is never touched from a drill). It is not a SmartCloudOpsApp
//     object: the copy's controller would run rollbacks, analysis, Redis drift correction and VACUUM maintenance
//     against what its Secrets name, and an operator watching a list of namespaces would not see the DR namespace.
// No object here has an owner reference (an owner must live in the same namespace, and a namespaced drill cannot own
// a Namespace): everything is removed with the namespace, by the drill's clean-up and finalizer.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { BackupScheduleSpec } from '../../crds/backupschedule.js';
import type { SmartCloudOpsAppSpec } from '../../crds/smartcloudopsapp.js';
import type { KubeObject } from '../../kube/index.js';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../../runtime/children.js';
import { AGENT_ENV } from '../../agent/node-args.js';
import { AGENT_COMMAND, AGENT_CONTAINER_SECURITY, AGENT_POD_SECURITY } from '../backupschedule/job.js';
import { appChildren } from '../smartcloudopsapp/desired.js';
import { releaseOf, revisionOf } from '../smartcloudopsapp/revision.js';
import { DRILL_UID_LABEL, drNamespaceLabels } from './guards.js';

/** Annotation on every DR object: the drill (namespace/name) a change to it reconciles. */
export const DRILL_KEY_ANNOTATION = 'ops.smartcloudops.ai/drill-key';
/** Label on every DR object with the run id (a Job, pods) so that a run finds its own. */
export const DRILL_RUN_LABEL = 'ops.smartcloudops.ai/drill-run';
/** Annotation on the DR namespace: the run whose NetworkPolicy and Secrets are in place. */
export const PREPARED_ANNOTATION = 'ops.smartcloudops.ai/prepared-for-run';
/** Annotation on the DR namespace: the run that created it (recorded as created even after a crash before status). */
export const CREATED_BY_RUN_ANNOTATION = 'ops.smartcloudops.ai/created-by-run';
export const DR_DATABASE_SECRET = 'dr-database';
export const DR_S3_SECRET = 'dr-s3-credentials';
export const DR_NETWORK_POLICY = 'dr-deny-production-egress';

export interface DrillIdentity {
  namespace: string;
  name: string;
  uid: string;
}

/** Where PostgreSQL is, as settings (from a Secret; values never logged). */
export interface PgTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface S3Target {
  bucket: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const short = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 10);

function drLabels(d: DrillIdentity, runId: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY, [DRILL_UID_LABEL]: d.uid, [DRILL_RUN_LABEL]: runLabel(runId) };
}
const drAnnotations = (d: DrillIdentity) => ({ [DRILL_KEY_ANNOTATION]: `${d.namespace}/${d.name}` });

/** A run id as a label value (ids are short already; this keeps them valid whatever they are). */
export function runLabel(runId: string): string {
  const v = runId.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return v.length <= 63 ? v : `${v.slice(0, 52)}-${short(runId)}`;
}

export function namespaceObject(d: DrillIdentity, drNamespace: string, runId: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: drNamespace,
      labels: {
        ...drNamespaceLabels(d),
        // Pod Security "restricted" in the DR namespace: the app copy and the restore Job run under it.
        'pod-security.kubernetes.io/enforce': 'restricted',
      },
      annotations: { ...drAnnotations(d), [CREATED_BY_RUN_ANNOTATION]: runId },
    },
  };
}

/** An endpoint as a NetworkPolicy egress peer: an IP literal as /32 (or /128), a host name as any address. */
function endpointPeer(host: string, port: number): Record<string, unknown> {
  const v = isIP(host);
  const cidr = v === 4 ? `${host}/32` : v === 6 ? `${host}/128` : '0.0.0.0/0';
  return { to: [{ ipBlock: { cidr } }], ports: [{ protocol: 'TCP', port }] };
}

export function urlHostPort(url: string | undefined): { host: string; port: number } | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port };
  } catch {
    return undefined;
  }
}

/**
 * Egress from the DR namespace: DNS, pods of every namespace except the source one, the restore target and the S3
 * endpoint by address and port (a host name cannot be resolved into a policy: any address, that port only).
 */
export function networkPolicy(
  d: DrillIdentity,
  runId: string,
  o: { target: { host: string; port: number }; s3: { host: string; port: number } },
): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: DR_NETWORK_POLICY, labels: drLabels(d, runId), annotations: drAnnotations(d) },
    spec: {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ namespaceSelector: {} }],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
        {
          to: [
            {
              namespaceSelector: {
                matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [d.namespace] }],
              },
            },
          ],
        },
        endpointPeer(o.target.host, o.target.port),
        endpointPeer(o.s3.host, o.s3.port),
      ],
    },
  } as KubeObject;
}

export function databaseSecret(d: DrillIdentity, runId: string, t: PgTarget): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: DR_DATABASE_SECRET, labels: drLabels(d, runId), annotations: drAnnotations(d) },
    type: 'Opaque',
    stringData: {
      host: t.host,
      port: String(t.port),
      database: t.database,
      username: t.user,
      password: t.password,
    },
  } as KubeObject;
}

export function s3Secret(d: DrillIdentity, runId: string, s: S3Target): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: DR_S3_SECRET, labels: drLabels(d, runId), annotations: drAnnotations(d) },
    type: 'Opaque',
    stringData: {
      AWS_ACCESS_KEY_ID: s.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s.secretAccessKey,
      ...(s.sessionToken ? { AWS_SESSION_TOKEN: s.sessionToken } : {}),
    },
  } as KubeObject;
}

export const restoreJobName = (runId: string) => `dr-restore-${short(runId)}`;

const secretEnv = (name: string, secret: string, key: string, optional = false) => ({
  name,
  valueFrom: { secretKeyRef: { name: secret, key, ...(optional ? { optional: true } : {}) } },
});

/** The restore Job: `smartcloudops-agent restore` of the manifest into the DR database. */
export function restoreJob(
  d: DrillIdentity,
  runId: string,
  o: {
    image: string;
    manifestKey: string;
    s3: Omit<S3Target, 'accessKeyId' | 'secretAccessKey' | 'sessionToken'>;
    jobs: number;
    activeDeadlineSeconds: number;
    template?: BackupScheduleSpec['jobTemplate'];
  },
): KubeObject {
  const labels = drLabels(d, runId);
  const args = [
    'restore',
    `--bucket=${o.s3.bucket}`,
    `--manifest=${o.manifestKey}`,
    `--region=${o.s3.region}`,
    `--jobs=${o.jobs}`,
    '--work-dir=/work',
  ];
  if (o.s3.endpoint) args.push(`--endpoint=${o.s3.endpoint}`);
  if (o.s3.forcePathStyle) args.push('--force-path-style');
  const t = o.template;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: restoreJobName(runId), labels, annotations: drAnnotations(d) },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: o.activeDeadlineSeconds,
      template: {
        metadata: { labels, annotations: drAnnotations(d) },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          securityContext: AGENT_POD_SECURITY,
          ...(t?.nodeSelector ? { nodeSelector: t.nodeSelector } : {}),
          ...(t?.tolerations ? { tolerations: t.tolerations } : {}),
          containers: [
            {
              name: 'agent',
              image: t?.image ?? o.image,
              imagePullPolicy: 'IfNotPresent',
              command: AGENT_COMMAND,
              args,
              env: [
                secretEnv('AWS_ACCESS_KEY_ID', DR_S3_SECRET, 'AWS_ACCESS_KEY_ID'),
                secretEnv('AWS_SECRET_ACCESS_KEY', DR_S3_SECRET, 'AWS_SECRET_ACCESS_KEY'),
                secretEnv('AWS_SESSION_TOKEN', DR_S3_SECRET, 'AWS_SESSION_TOKEN', true),
                secretEnv('PGHOST', DR_DATABASE_SECRET, 'host'),
                secretEnv('PGPORT', DR_DATABASE_SECRET, 'port'),
                secretEnv('PGDATABASE', DR_DATABASE_SECRET, 'database'),
                secretEnv('PGUSER', DR_DATABASE_SECRET, 'username'),
                secretEnv('PGPASSWORD', DR_DATABASE_SECRET, 'password'),
                { name: 'LOG_LEVEL', value: 'info' },
                { name: 'HOME', value: '/tmp' },
                ...Object.entries(AGENT_ENV).map(([name, value]) => ({ name, value })),
              ],
              ...(t?.resources ? { resources: t.resources } : {}),
              terminationMessagePolicy: 'FallbackToLogsOnError',
              volumeMounts: [
                { name: 'tmp', mountPath: '/tmp' },
                { name: 'work', mountPath: '/work' },
              ],
              securityContext: AGENT_CONTAINER_SECURITY,
            },
          ],
          volumes: [
            { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
            { name: 'work', emptyDir: {} },
          ],
        },
      },
    },
  } as KubeObject;
}

/** The app's spec as the DR copy runs it: the DR database, no cache, one replica each, no rollout analysis. */
export function copySpec(spec: SmartCloudOpsAppSpec): SmartCloudOpsAppSpec {
  const {
    cache: _cache,
    monitoring: _monitoring,
    maintenance: _maintenance,
    ...rest
  } = spec as SmartCloudOpsAppSpec & {
    maintenance?: unknown;
    monitoring?: unknown;
  };
  const one = <C extends { replicas?: number }>(c: C): C => ({ ...c, replicas: 1 });
  return {
    ...rest,
    database: { ...spec.database, secretRef: { name: DR_DATABASE_SECRET } },
    backend: one(spec.backend),
    frontend: one(spec.frontend),
    ...(spec.rollout ? { rollout: { ...spec.rollout, autoRollback: false, analysis: undefined } } : {}),
  } as SmartCloudOpsAppSpec;
}

/** The app copy's workloads in the DR namespace, labelled as the drill's. */
export function appCopy(d: DrillIdentity, runId: string, appName: string, spec: SmartCloudOpsAppSpec): KubeObject[] {
  const s = copySpec(spec);
  const release = releaseOf(s, { database: ['host', 'port', 'database', 'username', 'password'] });
  const children = appChildren({ name: appName, spec: s, release, revision: revisionOf(release) });
  const extra = drLabels(d, runId);
  return children.map((c) => ({
    ...c,
    metadata: {
      ...c.metadata,
      labels: { ...(c.metadata.labels ?? {}), ...extra },
      annotations: { ...(c.metadata.annotations ?? {}), ...drAnnotations(d) },
    },
  }));
}

/**
 * PostgreSQL settings from a Secret's values: `uri` (postgres:// or postgresql://) or host, port, username, password
 * and an optional database (`fallbackDatabase` when absent). Messages name keys, never values.
 */
export function pgSettingsOf(
  values: Record<string, string> | undefined,
  source: string,
  fallbackDatabase?: string,
): { ok: true; settings: PgTarget } | { ok: false; reason: string; message: string } {
  if (!values) return { ok: false, reason: 'SecretMissing', message: `${source} does not exist` };
  if (values.uri) {
    let u: URL;
    try {
      u = new URL(values.uri);
    } catch {
      return { ok: false, reason: 'SecretInvalid', message: `key "uri" of ${source} is not a URL` };
    }
    if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
      return { ok: false, reason: 'SecretInvalid', message: `key "uri" of ${source} must be postgres://` };
    const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || fallbackDatabase;
    if (!u.hostname || !u.username || !database)
      return {
        ok: false,
        reason: 'SecretInvalid',
        message: `key "uri" of ${source} needs a user, a host and a database`,
      };
    return {
      ok: true,
      settings: {
        host: u.hostname.replace(/^\[|\]$/g, ''),
        port: u.port ? Number(u.port) : 5432,
        user: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password),
        database,
      },
    };
  }
  for (const k of ['host', 'username', 'password'])
    if (!values[k])
      return { ok: false, reason: 'SecretKeyMissing', message: `${source} has no key "${k}" (nor "uri")` };
  const port = values.port ? Number(values.port) : 5432;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    return { ok: false, reason: 'SecretInvalid', message: `key "port" of ${source} is not a port number` };
  const database = values.database || fallbackDatabase;
  if (!database) return { ok: false, reason: 'SecretKeyMissing', message: `${source} has no key "database"` };
  return {
    ok: true,
    settings: {
      host: (values.host as string).trim(),
      port,
      user: values.username as string,
      password: values.password as string,
      database,
    },
  };
}
