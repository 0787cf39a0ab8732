// npm run demo: the operator's main job, locally.
//   1. brings up the local cluster and data services (building the binaries on first use);
//   2. installs the CRDs and the sample resources of all five kinds (config/samples);
//   3. starts the operator against the cluster (its log: .cluster/logs/operator.log), recorded like the other
//      components so that `npm run cluster:down` stops it too;
//   4. shows every sample reconciled — validated, each capability judging Ready from what it finds (the samples name
//      Secrets, Certificates and Deployments this namespace does not have, so they say which) — then one suspended by
//      its spec, an invalid one rejected at admission and a semantically invalid one ending in InvalidSpec;
//   5. with the real node: the runbook's job, live — a SmartCloudOpsApp (the stand-in image) on a seeded PostgreSQL
//      database, a BackupSchedule backing it up to S3 through a Job in the operator's image, and a DRDrill run on
//      demand: fresh backup, DR namespace, restore into a fresh database, the app copy healthy, an integrity query
//      compared as a read-only role, RTO/RPO, clean-up. The pods reach PostgreSQL and S3 (on 127.0.0.1) through a
//      forwarding daemon on the bridge address (hack/bridge-forward.ts), stopped by `npm run cluster:down` too.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { BRIDGE_IP } from './cluster/bridge.js';
import { readState, recordProcess, up, type State } from './cluster/cluster.js';
import { readServicesEnv } from './cluster/env.js';
import { layout, repoRoot, type Layout } from './cluster/config.js';
import { isOurs, startDaemon, ClusterError } from './cluster/proc.js';

function kubectl(bin: string, kubeconfig: string, args: string[], input?: string): string {
  try {
    return execFileSync(bin, args, {
      env: { ...process.env, KUBECONFIG: kubeconfig },
      encoding: 'utf8',
      input,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
}

async function main(): Promise<void> {
  await up();
  const l = layout();
  const state = readState(l);
  if (!state?.binDir)
    throw new ClusterError('the cluster state has no binaries recorded; run npm run cluster:down and try again');
  const k = (args: string[], input?: string) =>
    kubectl(join(state.binDir as string, 'kubectl'), l.kubeconfig, args, input);
  const show = (title: string, args: string[], input?: string) => {
    console.log(`\n$ kubectl ${args.join(' ')}${input ? ' <<EOF …' : ''}   # ${title}`);
    console.log(k(args, input).trimEnd());
  };

  show('install the CRDs', [
    'apply',
    '--server-side',
    '--field-manager=smartcloudops-demo',
    '-f',
    join(repoRoot, 'config', 'crd'),
  ]);
  k(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '-l', 'app.kubernetes.io/part-of=smartcloudops']);
  k(['create', 'namespace', 'smartcloudops-system']);

  // The operator image the node holds: the agent in backup and restore Jobs runs from it (looked up once).
  const image = operatorImage();
  const running = state.procs.find((p) => p.name === 'operator');
  if (running && isOurs(running)) {
    console.log(`\noperator already running (pid ${running.pid}); log: ${running.log}`);
  } else {
    const op = await startDaemon({
      name: 'operator',
      command: process.execPath,
      args: [
        '--import',
        'tsx',
        join(repoRoot, 'src', 'main.ts'),
        `--kubeconfig=${l.kubeconfig}`,
        '--leader-elect-namespace=smartcloudops-system',
        '--metrics-bind-address=127.0.0.1:18080',
        '--health-probe-bind-address=127.0.0.1:18081',
        ...(image ? [`--agent-image=${image}`] : []),
      ],
      log: join(l.logs, 'operator.log'),
      cwd: repoRoot,
    });
    recordProcess(op, 'cluster');
    console.log(`\nstarted the operator (pid ${op.pid}); log: ${op.log}; metrics: http://127.0.0.1:18080/metrics`);
  }

  show('apply the samples of all five kinds', ['apply', '-f', join(repoRoot, 'config', 'samples')]);
  for (let i = 0; i < 60; i++) {
    const ready = k([
      'get',
      'smartcloudops',
      '-n',
      'smartcloudops',
      '-o',
      'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].reason}{"\\n"}{end}',
    ]);
    if (ready.split('\n').filter(Boolean).length >= 5) break; // every kind reconciled (CertRenewal: not NotImplemented)
    await sleep(500);
  }
  console.log(
    '\nEach spec is validated and its status written, and each capability judges Ready from what it finds: the samples\n' +
      'reference Secrets, an app, a Certificate and a Deployment this namespace does not have, so they read Ready=False\n' +
      'with the reason (SecretMissing, CredentialsSecretMissing, TargetNotFound, CertificateMissing,\n' +
      'TargetSecretMissing), one Event each, and no retry loop.',
  );
  show('every kind, through the smartcloudops category', ['get', 'smartcloudops', '-n', 'smartcloudops']);
  show('the Ready condition of one of them', [
    'get',
    'backupschedule',
    '-n',
    'smartcloudops',
    '-o',
    'jsonpath={range .items[*]}{.metadata.name}: Ready={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}{"\\n"}{end}',
  ]);

  const suspend = (on: boolean) => [
    'patch',
    'backupschedule',
    'smartcloudops-nightly',
    '-n',
    'smartcloudops',
    '--type=merge',
    '-p',
    `{"spec":{"suspend":${on}}}`,
  ];
  show('suspend the backups through the spec', suspend(true));
  await sleep(2000);
  show('SUSPENDED is True (reason SpecSuspended); resumed right after', [
    'get',
    'backupschedule',
    'smartcloudops-nightly',
    '-n',
    'smartcloudops',
    '-o',
    'custom-columns=NAME:.metadata.name,SUSPENDED:.status.conditions[?(@.type=="Suspended")].status,REASON:.status.conditions[?(@.type=="Suspended")].reason',
  ]);
  k(suspend(false));
  show('the API teaches itself', ['explain', 'backupschedule.spec.retention']);

  const badAdmission = `apiVersion: ops.smartcloudops.ai/v1alpha1
kind: ScalingPolicy
metadata: { name: demo-bad-bounds, namespace: smartcloudops }
spec:
  targetRef: { kind: Deployment, name: web }
  minReplicas: 9
  maxReplicas: 3
`;
  show('rejected at admission (CEL), naming the field', ['apply', '-f', '-'], badAdmission);

  const badSemantic = `apiVersion: ops.smartcloudops.ai/v1alpha1
kind: BackupSchedule
metadata: { name: demo-bad-cron, namespace: smartcloudops }
spec:
  appRef: { name: smartcloudops }
  schedule: "61 2 * * *"
  destination: { bucket: smartcloudops-backups, credentialsSecretRef: { name: backup-s3-credentials } }
`;
  show('accepted by the schema, refused by the controller', ['apply', '-f', '-'], badSemantic);
  await sleep(2000);
  show('InvalidSpec, with the field in the message', [
    'get',
    'backupschedule',
    'demo-bad-cron',
    '-n',
    'smartcloudops',
    '-o',
    'jsonpath={.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}{"\\n"}',
  ]);
  show('one Warning Event', [
    'get',
    'events',
    '-n',
    'smartcloudops',
    '--field-selector',
    'involvedObject.name=demo-bad-cron',
  ]);

  await live(k, show, l, state, image);

  console.log(
    `\nThe cluster and the operator keep running. Use them with:\n  export KUBECONFIG=${l.kubeconfig}\n  ${join(state.binDir, 'kubectl')} get smartcloudops -A`,
  );
  console.log('Stop everything with: npm run cluster:down');
}

type Kubectl = (args: string[], input?: string) => string;
type Show = (title: string, args: string[], input?: string) => void;

/** The operator image the node holds (built by hack/images/build.sh, imported by cluster:up). */
function operatorImage(): string | undefined {
  try {
    const dir = execFileSync('bash', [join(repoRoot, 'hack/images/build.sh'), '--check'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const list = JSON.parse(readFileSync(join(dir, 'images.json'), 'utf8')) as { ref: string }[];
    return list.find((i) => i.ref.includes('/operator:'))?.ref;
  } catch {
    return undefined;
  }
}

async function waitUntil(what: string, probe: () => boolean | string, timeoutMs: number): Promise<boolean> {
  const start = Date.now();
  let last = '';
  while (Date.now() - start < timeoutMs) {
    const r = probe();
    if (r === true) return true;
    if (typeof r === 'string' && r && r !== last) console.log(`  … ${r}`);
    if (typeof r === 'string') last = r;
    await sleep(2000);
  }
  console.log(`  ${what}: not within ${Math.round(timeoutMs / 1000)} s (see .cluster/logs/operator.log)`);
  return false;
}

/** The runbook's job, live: app, backup, DR drill (needs the real node). */
async function live(k: Kubectl, show: Show, l: Layout, state: State, image: string | undefined): Promise<void> {
  if (!k(['get', 'nodes', '-l', 'smartcloudops.ai/node=real', '-o', 'name']).trim()) {
    console.log('\nNo real node in this cluster (SCO_REAL_NODE=0): the live app, backup and DR drill are skipped.');
    return;
  }
  const env = readServicesEnv();
  const pge = env.postgres;
  const s3e = env.s3;
  if (!pge || !s3e) return;
  const s3Port = Number(new URL(s3e.endpoint).port);
  if (!image) {
    console.log('\nThe operator image is not built for this checkout (bash hack/images/build.sh): live part skipped.');
    return;
  }
  const fwd = state.procs.find((p) => p.name === 'bridge-forward');
  if (!fwd || !isOurs(fwd)) {
    const rec = await startDaemon({
      name: 'bridge-forward',
      command: process.execPath,
      args: ['--import', 'tsx', join(repoRoot, 'hack', 'bridge-forward.ts'), String(pge.port), String(s3Port)],
      log: join(l.logs, 'bridge-forward.log'),
      cwd: repoRoot,
    });
    recordProcess(rec, 'cluster');
  }
  // The production database (seeded once), a read-only role for the drill's integrity query, the bucket.
  const db = 'smartcloudops_live';
  const roPassword = randomBytes(12).toString('hex');
  const admin = async (database: string, fn: (c: pg.Client) => Promise<unknown>) => {
    const c = new pg.Client({ host: pge.host, port: pge.port, user: pge.user, password: pge.password, database });
    await c.connect();
    try {
      await fn(c);
    } finally {
      await c.end();
    }
  };
  await admin('postgres', async (c) => {
    if (!(await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).rowCount)
      await c.query(`CREATE DATABASE ${db}`);
    if (!(await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [`${db}_ro`])).rowCount)
      await c.query(`CREATE ROLE ${db}_ro LOGIN`);
    await c.query(`ALTER ROLE ${db}_ro PASSWORD '${roPassword}'`);
  });
  await admin(db, async (c) => {
    await c.query(
      'CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, amount numeric(10,2) NOT NULL, placed timestamptz NOT NULL DEFAULT now())',
    );
    await c.query(
      'INSERT INTO orders (amount) SELECT round((random() * 100)::numeric, 2) FROM generate_series(1, 5000) WHERE NOT EXISTS (SELECT 1 FROM orders)',
    );
    await c.query(`GRANT SELECT ON orders TO ${db}_ro`);
  });
  const s3 = new S3Client({
    endpoint: s3e.endpoint,
    region: s3e.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3e.accessKeyId, secretAccessKey: s3e.secretAccessKey },
  });
  await s3.send(new CreateBucketCommand({ Bucket: 'smartcloudops-live' })).catch(() => undefined);
  s3.destroy();

  const ns = 'smartcloudops-live';
  const placement = `nodeSelector: { smartcloudops.ai/node: real }
      tolerations: [{ key: smartcloudops.ai/real-node, operator: Exists, effect: NoSchedule }]`;
  const server = `host: "${BRIDGE_IP}"\n  port: "${pge.port}"`;
  const manifest = `apiVersion: v1
kind: Namespace
metadata: { name: ${ns}, labels: { pod-security.kubernetes.io/enforce: restricted } }
---
apiVersion: v1
kind: Secret
metadata: { name: db, namespace: ${ns} }
stringData:
  ${server}
  database: ${db}
  username: "${pge.user}"
  password: "${pge.password}"
---
apiVersion: v1
kind: Secret
metadata: { name: dr-target, namespace: ${ns} }
stringData:
  ${server}
  username: "${pge.user}"
  password: "${pge.password}"
---
apiVersion: v1
kind: Secret
metadata: { name: readonly, namespace: ${ns} }
stringData: { username: ${db}_ro, password: "${roPassword}" }
---
apiVersion: v1
kind: Secret
metadata: { name: s3, namespace: ${ns} }
stringData: { AWS_ACCESS_KEY_ID: "${s3e.accessKeyId}", AWS_SECRET_ACCESS_KEY: "${s3e.secretAccessKey}" }
---
apiVersion: ops.smartcloudops.ai/v1alpha1
kind: SmartCloudOpsApp
metadata: { name: shop, namespace: ${ns} }
spec:
  version: 1.0.0
  backend: { image: localhost/smartcloudops/standin, replicas: 1 }
  frontend: { image: localhost/smartcloudops/standin, replicas: 1 }
  database: { secretRef: { name: db } }
  rollout: { bakeSeconds: 10 }
  monitoring: { prometheusRule: false, serviceMonitor: false }
  podTemplate:
      ${placement}
---
apiVersion: ops.smartcloudops.ai/v1alpha1
kind: BackupSchedule
metadata: { name: nightly, namespace: ${ns} }
spec:
  appRef: { name: shop }
  schedule: "0 2 * * *"
  format: custom
  include: { database: true, config: false }
  destination:
    bucket: smartcloudops-live
    endpoint: http://${BRIDGE_IP}:${s3Port}
    forcePathStyle: true
    credentialsSecretRef: { name: s3 }
  jobTemplate:
      ${placement}
---
apiVersion: ops.smartcloudops.ai/v1alpha1
kind: DRDrill
metadata: { name: monthly, namespace: ${ns} }
spec:
  appRef: { name: shop }
  backupScheduleRef: { name: nightly }
  schedule: "0 4 1 * *"
  backup: Fresh
  restore: { targetSecretRef: { name: dr-target } }
  checks:
    readOnlySecretRef: { name: readonly }
    queries: [{ name: orders, sql: "SELECT count(*) FROM orders", compare: Equal }]
  targets: { rtoSeconds: 600, rpoSeconds: 3600 }
`;
  console.log('\n--- The runbook, live: an app on the real node, its backups, a DR drill ---');
  // The manifest holds generated passwords: the command is shown, not its input.
  show('apply a namespace with an app, a BackupSchedule and a DRDrill (+ Secrets)', ['apply', '-f', '-'], manifest);
  const jp = (kind: string, name: string, path: string) =>
    k(['get', kind, name, '-n', ns, '-o', `jsonpath=${path}`]).trim();
  await waitUntil(
    'the app Ready',
    () => {
      const r = jp(
        'smartcloudopsapp',
        'shop',
        '{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}',
      );
      return r.startsWith('True') || r;
    },
    240_000,
  );
  show('the app: Ready once both components are available, healthy and baked', ['get', 'smartcloudops', '-n', ns]);
  show('its pods on the real node', ['get', 'pods', '-n', ns, '-o', 'wide']);
  show('run the DR drill now', [
    'annotate',
    'drdrill',
    'monthly',
    '-n',
    ns,
    '--overwrite',
    `ops.smartcloudops.ai/run-now=${new Date().toISOString().replace(/[:.]/g, '-')}`,
  ]);
  await sleep(3000);
  const finished = await waitUntil(
    'the drill',
    () => {
      const step = jp('drdrill', 'monthly', '{.status.currentRun.steps[?(@.phase=="Running")].name}');
      if (
        !jp('drdrill', 'monthly', '{.status.currentRun.id}') &&
        jp('drdrill', 'monthly', '{.status.runs[0].cleanedUp}') === 'true'
      )
        return true;
      return step ? `at ${step}` : '';
    },
    420_000,
  );
  if (finished) {
    show('the run: steps and timings', [
      'get',
      'drdrill',
      'monthly',
      '-n',
      ns,
      '-o',
      'jsonpath={range .status.runs[0].steps[*]}{.name}{"\\t"}{.phase}{"\\t"}{.durationSeconds}s{"\\t"}{.message}{"\\n"}{end}',
    ]);
    show('the result', [
      'get',
      'drdrill',
      'monthly',
      '-n',
      ns,
      '-o',
      'jsonpath=phase={.status.runs[0].phase} RTO={.status.runs[0].rtoSeconds}s RPO={.status.runs[0].rpoSeconds}s restore={.status.runs[0].restoreSeconds}s integrity={.status.runs[0].integrity[*].name}:{.status.runs[0].integrity[*].source}={.status.runs[0].integrity[*].restored} cleanedUp={.status.runs[0].cleanedUp}{"\\n"}',
    ]);
    show('the drill and the backups it verified', ['get', 'drdrill,backupschedule', '-n', ns]);
    show('the backup the drill proved restorable', [
      'get',
      'backupschedule',
      'nightly',
      '-n',
      ns,
      '-o',
      'jsonpath={.status.lastVerifiedBackup}{"\\n"}',
    ]);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ClusterError ? `error: ${err.message}` : err);
  process.exit(1);
});
