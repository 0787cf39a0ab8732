// Benchmark: a DRDrill run against the runbook's monthly DR test done by hand in sequence, on the same data, one run
// each, on the cluster in KUBECONFIG with a real node (the shared cluster: set SCO_CLUSTER_DIR, KUBECONFIG and
// SCO_E2E_CRDS=drdrills) and the cluster's PostgreSQL and S3.
//
//   npm run bench:drdrill                     a 1,100 MiB production database (the issue asks ≥ 1 GiB)
//   npm run bench:drdrill -- --size-mib=100   a smaller one; --keep keeps the generated source database (drbench_src_<N>)
//                                             for the next run; --jobs=N the drill's restore.jobs (default 4);
//                                             --compression-level=N the drill's BackupSchedule compressionLevel (default 1)
//
// Source: bench/common.ts generateDatabase (four tables, btree indexes) as the "production" database, in a namespace
// drbench-<pid> with a SmartCloudOpsApp (the stand-in image on the real node, one replica per component) and a
// BackupSchedule of it; the pods reach PostgreSQL and S3 through forwarders on the bridge address. The operator runs
// as a process (src/main.ts, --namespaces=drbench-<pid>, --agent-image= the operator image the node holds) from the
// start, so it is idle but present during the baseline too. Then, timed:
//   baseline  the runbook's "Monthly DR Test" from this host, each step after the other: backup (`pg_dump | gzip` to a
//             file, then a multipart upload as the backup script does), deploy (a fresh database, the DR namespace,
//             a Secret and the app's Deployments/Services/PDBs built by the app's own builder appChildren, then
//             wait until every Deployment is available — the stand-in's /health checks the database, so the empty
//             database is made first), restore (download the object, `gunzip | psql` into that database), health
//             check (GET /health and /api/health through the DR Services' ClusterIPs, which the real node's
//             kube-proxy serves on this host), clean-up (delete the namespace and wait until it is gone, drop the
//             database).
//   drill     a DRDrill (backup Fresh through the BackupSchedule, format custom at compressionLevel 1 — the
//             baseline's gzip runs at its default 6 in a second process; pg_dump -Fc compresses in its own — with restore.jobs — what a platform
//             team configures for fast restores: pg_restore -j runs the COPYs and index builds in parallel —
//             verify left at its default, health checks on, no integrity queries as the baseline runs none,
//             cleanup Always, the operator's default poll period), timed from the run-now annotation until
//             status.runs[0] has finished (the report) and until it is cleanedUp; both sides include clean-up.
// Printed: both wall times and their ratio (drill / baseline, the issue's target ≤ 0.8×), the baseline's steps, the
// drill's steps as its status reports them, RTO, RPO, restoreSeconds, and the load average before and after. The
// baseline's restore is checked for every row (untimed); the drill's by the agent. Nothing is asserted.
// Everything is removed at the end (namespaces, the baseline's database, the bucket; the drill drops its own
// database at clean-up), the source database too unless --keep.
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readServicesEnv } from '../hack/cluster/env.js';
import { appChildren, PodDisruptionBudgetRef } from '../src/controllers/smartcloudopsapp/desired.js';
import { releaseOf, revisionOf } from '../src/controllers/smartcloudopsapp/revision.js';
import { resourceRefOf } from '../src/crds/kinds.js';
import type { SmartCloudOpsAppSpec } from '../src/crds/smartcloudopsapp.js';
import { drNamespaceFor } from '../src/controllers/drdrill/guards.js';
import { isNotFound, KubeClient, Resources, type KubeObject, type ResourceRef } from '../src/kube/index.js';
import { BRIDGE_IP, forwardOnBridge } from '../test/support/bridge.js';
import { installCrds } from '../test/support/crds.js';
import { kubeconfigPath } from '../test/support/env.js';
import { OperatorProcess } from '../test/support/operator.js';
import { operatorImage } from '../test/support/realnode.js';
import {
  deleteNamespaceAndWait,
  freshNamespace,
  generateDatabase,
  mib,
  rowCount,
  run,
  secs,
  sql,
  timed,
  toolEnv,
} from './common.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const SIZE_MIB = Number(arg('size-mib') ?? 1100);
const JOBS = Number(arg('jobs') ?? 4);
/** The drill's BackupSchedule spec.compressionLevel (pg_dump -Fc compresses in its one process; 1 is several times faster than 6). */
const LEVEL = Number(arg('compression-level') ?? 1);
const KEEP = process.argv.includes('--keep');
const SOURCE = `drbench_src_${SIZE_MIB}`;
const NS = `drbench-${process.pid}`;
const BASE_NS = `${NS}-base`;
const BASE_DB = `drbench_base_${process.pid}`;
const BUCKET = `drbench-${randomBytes(3).toString('hex')}`;
const APP = resourceRefOf('SmartCloudOpsApp');
const BS = resourceRefOf('BackupSchedule');
const DRILL = resourceRefOf('DRDrill');
const PLACEMENT = {
  nodeSelector: { 'smartcloudops.ai/node': 'real' },
  tolerations: [{ key: 'smartcloudops.ai/real-node', operator: 'Exists', effect: 'NoSchedule' }],
};
const REF_OF: Record<string, ResourceRef> = {
  Deployment: Resources.Deployment,
  Service: Resources.Service,
  PodDisruptionBudget: PodDisruptionBudgetRef,
};

const services = readServicesEnv();
if (!services.postgres || !services.s3) throw new Error('no services: run "npm run services:up" first');
const pgEnv = services.postgres;
const s3Env = services.s3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

interface Step {
  name: string;
  phase: string;
  startedAt?: string;
  durationSeconds?: number;
  reason?: string;
  message?: string;
}
interface Run {
  id: string;
  phase: string;
  reason?: string;
  message?: string;
  startedAt: string;
  finishedAt?: string;
  steps: Step[];
  backup?: { key: string; size?: number };
  rtoSeconds?: number;
  rpoSeconds?: number;
  restoreSeconds?: number;
  cleanedUp?: boolean;
  drDatabase: string;
}
type Drill = KubeObject & { status?: { conditions?: { type: string; status: string }[]; runs?: Run[] } };

const b64 = (s: string) => Buffer.from(s).toString('base64');
const secret = (namespace: string, name: string, data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});

async function main(): Promise<void> {
  console.log(`load average before: ${load()}`);
  const client = await KubeClient.create({ kubeconfig: kubeconfigPath(), userAgent: 'drdrill-bench' });
  const s3 = new S3Client({
    endpoint: s3Env.endpoint,
    region: s3Env.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3Env.accessKeyId, secretAccessKey: s3Env.secretAccessKey },
  });
  const work = mkdtempSync(join(os.tmpdir(), 'drbench-'));
  const file = join(work, 'backup.sql.gz');
  const apply = (ref: ResourceRef, obj: KubeObject) =>
    client.apply(ref, obj, { fieldManager: 'drdrill-bench', force: true });
  let op: OperatorProcess | undefined;
  const forwarders: { close(): void }[] = [];
  try {
    await installCrds(client);
    const image = await operatorImage(client);
    const size = await generateDatabase(pgEnv, SOURCE, SIZE_MIB);
    const rows = await rowCount(pgEnv, SOURCE);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const pgFwd = await forwardOnBridge(pgEnv.port);
    const s3Fwd = await forwardOnBridge(Number(new URL(s3Env.endpoint).port));
    forwarders.push(pgFwd, s3Fwd);
    const server = { host: BRIDGE_IP, port: String(pgFwd.port), username: pgEnv.user, password: pgEnv.password };

    // Production: the app over the source database, its BackupSchedule, the drill; the operator watching it.
    await freshNamespace(client, NS);
    await client.create(Resources.Secret, secret(NS, 'db', { ...server, database: SOURCE }));
    await client.create(Resources.Secret, secret(NS, 'dr-target', server));
    await client.create(
      Resources.Secret,
      secret(NS, 's3', { AWS_ACCESS_KEY_ID: s3Env.accessKeyId, AWS_SECRET_ACCESS_KEY: s3Env.secretAccessKey }),
    );
    const appSpec = {
      version: '1.0.0',
      backend: { image: 'localhost/smartcloudops/standin', replicas: 1 },
      frontend: { image: 'localhost/smartcloudops/standin', replicas: 1 },
      database: { secretRef: { name: 'db' } },
      podTemplate: PLACEMENT,
      monitoring: { prometheusRule: false, serviceMonitor: false },
    } as SmartCloudOpsAppSpec;
    await client.create(APP, {
      apiVersion: `${APP.group}/${APP.version}`,
      kind: 'SmartCloudOpsApp',
      metadata: { name: 'web', namespace: NS },
      spec: appSpec,
    } as KubeObject);
    await client.create(BS, {
      apiVersion: `${BS.group}/${BS.version}`,
      kind: 'BackupSchedule',
      metadata: { name: 'nightly', namespace: NS },
      spec: {
        appRef: { name: 'web' },
        schedule: '0 0 1 1 *',
        format: 'custom',
        compressionLevel: LEVEL,
        destination: {
          bucket: BUCKET,
          prefix: 'drill',
          endpoint: `http://${BRIDGE_IP}:${s3Fwd.port}`,
          forcePathStyle: true,
          credentialsSecretRef: { name: 's3' },
        },
        include: { database: true, config: false },
        activeDeadlineSeconds: 3600,
        jobTemplate: PLACEMENT,
      },
    } as KubeObject);
    await client.create(DRILL, {
      apiVersion: `${DRILL.group}/${DRILL.version}`,
      kind: 'DRDrill',
      metadata: { name: 'monthly', namespace: NS },
      spec: {
        appRef: { name: 'web' },
        backupScheduleRef: { name: 'nightly' },
        backup: 'Fresh',
        restore: { targetSecretRef: { name: 'dr-target' }, jobs: JOBS },
        checks: { health: true },
        cleanup: { policy: 'Always' },
        timeoutSeconds: 3600,
      },
    } as KubeObject);
    op = await OperatorProcess.start({
      identity: `${NS}-op`,
      namespaces: [NS],
      extraArgs: [`--agent-image=${image}`, '--log-level=info'],
    });
    const getDrill = () => client.get<Drill>(DRILL, NS, 'monthly');
    // Settled before anything is timed: the drill Ready (idle) and the production app's pods available.
    const cond = (o: KubeObject & { status?: unknown }, type: string) =>
      (o.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions?.find(
        (c) => c.type === type,
      )?.status;
    for (const t0 = Date.now(); ; await sleep(1000)) {
      const drill = await getDrill();
      const app = await client.get<KubeObject & { status?: unknown }>(APP, NS, 'web');
      if (cond(drill, 'Ready') === 'True' && cond(app, 'Available') === 'True') break;
      if (Date.now() - t0 > 300_000)
        throw new Error(
          `not settled within 5 min: drill ${JSON.stringify(drill.status?.conditions)}, app ${JSON.stringify((app.status as { conditions?: unknown })?.conditions)}`,
        );
    }
    console.log(`source ${SOURCE}: ${mib(size)}, ${rows} rows; app and drill ready; operator image ${image}`);
    console.log(`load average before the baseline: ${load()}`);

    // Baseline: the runbook's steps in sequence.
    const base: [string, number][] = [];
    const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      const r = await timed(fn);
      base.push([name, r.ms]);
      console.log(`  baseline ${name}: ${secs(r.ms)}`);
      return r.value;
    };
    const key = 'baseline/backup.sql.gz';
    await step('backup: pg_dump | gzip > file', () =>
      run('bash', ['-o', 'pipefail', '-c', `pg_dump | gzip > '${file}'`], toolEnv(pgEnv, SOURCE)),
    );
    await step('backup: upload', () =>
      new Upload({
        client: s3,
        params: { Bucket: BUCKET, Key: key, Body: createReadStream(file) },
        partSize: 8 * 1024 * 1024,
        queueSize: 4,
      }).done(),
    );
    rmSync(file);
    await step('deploy: database, namespace, app, rollout', async () => {
      await sql(pgEnv, 'postgres', `CREATE DATABASE ${BASE_DB}`);
      await client.create(Resources.Namespace, { metadata: { name: BASE_NS } });
      await client.create(Resources.Secret, secret(BASE_NS, 'db', { ...server, database: BASE_DB }));
      const release = releaseOf(appSpec, { database: ['host', 'port', 'database', 'username', 'password'] });
      const children = appChildren({ name: 'web', spec: appSpec, release, revision: revisionOf(release) });
      for (const c of children)
        await apply(REF_OF[c.kind as string] as ResourceRef, {
          ...c,
          metadata: { ...c.metadata, namespace: BASE_NS },
        });
      for (;;) {
        const ds = (
          await client.list<KubeObject & { spec: { replicas: number }; status?: { availableReplicas?: number } }>(
            Resources.Deployment,
            { namespace: BASE_NS },
          )
        ).items;
        if (ds.length === 2 && ds.every((d) => (d.status?.availableReplicas ?? 0) >= d.spec.replicas)) return;
        await sleep(500);
      }
    });
    await step('restore: download', async () => {
      const o = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      await pipeline(o.Body as Readable, createWriteStream(file));
    });
    await step('restore: gunzip | psql', () =>
      run(
        'bash',
        ['-o', 'pipefail', '-c', `gunzip -c '${file}' | psql -X -q -v ON_ERROR_STOP=1`],
        toolEnv(pgEnv, BASE_DB),
      ),
    );
    await step('health check (both Services)', async () => {
      const ips = await Promise.all(
        ['backend', 'frontend'].map(
          async (c) =>
            (await client.get<KubeObject & { spec: { clusterIP: string } }>(Resources.Service, BASE_NS, `web-${c}`))
              .spec.clusterIP,
        ),
      );
      const urls = [`http://${ips[0]}:5000/health`, `http://${ips[1]}:3000/api/health`];
      for (const url of urls)
        for (let i = 0; ; i++) {
          const status = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
            (r) => r.status,
            () => 0,
          );
          if (status === 200) break;
          if (i > 60) throw new Error(`${url} answered ${status}`);
          await sleep(500);
        }
    });
    const restored = await rowCount(pgEnv, BASE_DB); // untimed: the bench's own check
    if (restored !== rows) throw new Error(`the baseline restored ${restored} rows of ${rows}`);
    await step('clean-up: namespace gone, database dropped', async () => {
      await deleteNamespaceAndWait(client, BASE_NS);
      await sql(pgEnv, 'postgres', `DROP DATABASE ${BASE_DB} WITH (FORCE)`);
    });
    rmSync(file, { force: true });
    const baseMs = base.reduce((s, [, ms]) => s + ms, 0);
    console.log(`load average after the baseline: ${load()}`);

    // The drill: run-now, then status until the run has finished and is cleaned up.
    const t0 = performance.now();
    await client.patch(
      DRILL,
      NS,
      'monthly',
      { metadata: { annotations: { 'ops.smartcloudops.ai/run-now': `bench-${Date.now()}` } } },
      'merge',
    );
    let reportMs = 0;
    let runRec: Run | undefined;
    // The restore Job's own split (download, pg_restore), read from its pod before the clean-up removes it.
    let restoreSplit = '';
    for (;;) {
      const st = (await getDrill()).status as (Drill['status'] & { currentRun?: Run }) | undefined;
      runRec = st?.runs?.[0];
      const restoreDone = (st?.currentRun ?? runRec)?.steps.some(
        (x) => x.name === 'RestoreData' && x.phase === 'Succeeded',
      );
      if (restoreDone && !restoreSplit) {
        const out = await run(
          'kubectl',
          ['logs', '-n', drNamespaceFor(NS, 'monthly'), '-l', 'ops.smartcloudops.ai/drill-run', '--tail=-1'],
          process.env,
        ).catch(() => '');
        restoreSplit =
          out
            .split('\n')
            .filter((l) => l.startsWith('{') && (l.includes('downloadMs') || l.includes('pgRestoreMs')))
            .map((l) => {
              const j = JSON.parse(l) as { downloadMs?: number; pgRestoreMs?: number };
              return j.downloadMs !== undefined
                ? `download ${secs(j.downloadMs)}`
                : `pg_restore ${secs(j.pgRestoreMs!)}`;
            })
            .join(', ') || '-';
      }
      if (runRec && !reportMs) reportMs = performance.now() - t0;
      if (runRec?.cleanedUp) break;
      if (performance.now() - t0 > 3_700_000) throw new Error('the drill did not finish within the hour');
      await sleep(500);
    }
    const drillMs = performance.now() - t0;
    console.log(`load average after the drill: ${load()}`);
    // Where the backup's time went: the agent's own log lines in the backup Job (kept in the production namespace).
    const agentLog = await run(
      'kubectl',
      ['logs', '-n', NS, '-l', 'ops.smartcloudops.ai/backup-run', '--tail=-1'],
      process.env,
    ).catch((e: unknown) => `{"msg":"no log: ${String(e).slice(0, 200)}"}`);
    const lines = agentLog
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { time?: string | number; msg?: string });
    const first = lines.find((l) => l.time !== undefined)?.time;
    const backupTimeline = lines
      .filter((l) => l.time !== undefined)
      .map((l) => `+${((new Date(l.time!).getTime() - new Date(first!).getTime()) / 1000).toFixed(1)} s ${l.msg}`);

    const r = runRec;
    const start = Date.parse(r.startedAt);
    console.log(
      `\nsource database ${mib(size)}, ${rows} rows; drill backup ${r.backup?.size ? mib(r.backup.size) : '?'} (custom), restore.jobs ${JOBS}`,
    );
    console.log(`drill run ${r.id}: ${r.phase} (${r.reason ?? ''}) ${r.message ?? ''}`);
    if (r.phase !== 'Succeeded') console.log('THE DRILL DID NOT SUCCEED: its wall time is not comparable');
    console.log(`the backup Job's agent (first log line = +0): ${backupTimeline.join('; ')}`);
    console.log(`the restore Job's agent: ${restoreSplit || '(not read)'}\n`);
    console.log('| baseline step | wall |');
    console.log('| --- | --- |');
    for (const [name, ms] of base) console.log(`| ${name.replace(/\|/g, '\\|')} | ${secs(ms)} |`);
    console.log(`| **total** | **${secs(baseMs)}** |\n`);
    console.log('| drill step (status.runs[0]) | starts at | duration | phase |');
    console.log('| --- | --- | --- | --- |');
    for (const s of r.steps)
      console.log(
        `| ${s.name} | ${s.startedAt ? `+${((Date.parse(s.startedAt) - start) / 1000).toFixed(0)} s` : '-'} | ${s.durationSeconds ?? '-'} s | ${s.phase}${s.reason ? ` (${s.reason})` : ''} |`,
      );
    console.log(
      `\nRTO ${r.rtoSeconds ?? '?'} s, RPO ${r.rpoSeconds ?? '?'} s, restoreSeconds ${r.restoreSeconds ?? '?'} s (status)`,
    );
    console.log(`baseline (backup → clean-up): ${secs(baseMs)}`);
    console.log(`drill (run-now → report):     ${secs(reportMs)}`);
    console.log(`drill (run-now → cleaned up): ${secs(drillMs)}`);
    console.log(`ratio drill / baseline:       ${(drillMs / baseMs).toFixed(2)}× (target ≤ 0.8×)`);
  } finally {
    // The drill first, while the operator runs (its finalizer removes whatever a run left), then the namespaces.
    await client.delete(DRILL, NS, 'monthly').catch(() => undefined);
    for (const t0 = Date.now(); Date.now() - t0 < 180_000; await sleep(1000)) {
      const gone = await client.get(DRILL, NS, 'monthly').then(
        () => false,
        (e: unknown) => isNotFound(e),
      );
      if (gone) break;
    }
    await op?.stop();
    await client.patch(DRILL, NS, 'monthly', { metadata: { finalizers: null } }, 'merge').catch(() => undefined);
    await deleteNamespaceAndWait(client, drNamespaceFor(NS, 'monthly'));
    await deleteNamespaceAndWait(client, BASE_NS);
    await deleteNamespaceAndWait(client, NS);
    forwarders.forEach((f) => f.close());
    await sql(pgEnv, 'postgres', `DROP DATABASE IF EXISTS ${BASE_DB} WITH (FORCE)`);
    if (!KEEP) await sql(pgEnv, 'postgres', `DROP DATABASE IF EXISTS ${SOURCE} WITH (FORCE)`);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET })).catch(() => undefined);
    for (const o of listed?.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: o.Key! }));
    await s3.send(new DeleteBucketCommand({ Bucket: BUCKET })).catch(() => undefined);
    s3.destroy();
    rmSync(work, { recursive: true, force: true });
    client.close();
  }
}

await main();
