// BackupSchedule end to end on the real node: the backup Jobs run the agent from the operator's image built from our
// Dockerfile, dumping a real PostgreSQL database into a real S3 server; the operator runs as a process scoped to this
// test's namespace and is SIGKILLed at random moments.
//   - a one-minute schedule makes exactly one Job per tick across ≥ 10 SIGKILLs over ≥ 3 ticks (Jobs counted per tick,
//     dumps in S3 counted per run), each run lands a verified dump reported in status, and retention prunes seeded
//     back-dated backups down to the minKeep floor of verified ones (never an unverified object);
//   - bad input and failures end in a failed run (or a refused spec) with a specific reason, no manifest, nothing
//     deleted, and no hot loop (reconciles counted): a wrong database password, a missing bucket, a missing
//     credentials Secret, a bad cron, an object truncated in S3 after its Job completed.
// The pods reach PostgreSQL and S3 (both on 127.0.0.1) through TCP forwarders this test listens with on the real
// node's bridge address (10.250.0.1: an address of this machine, so nothing leaves it). Skipped, saying so, when the
// cluster has no node labelled smartcloudops.ai/node=real.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { BRIDGE_IP } from '../../hack/cluster/netcfg.js';
import { formatTimestamp } from '../../src/agent/layout.js';
import { MANIFEST_API_VERSION, MANIFEST_KIND, serializeManifest } from '../../src/agent/manifest.js';
import { resourceRefOf } from '../../src/crds/kinds.js';
import { Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import pg from 'pg';
import { createDatabase, dropDatabase, s3Client, seed } from '../support/agent.js';
import { installCrds } from '../support/crds.js';
import { postgresEnv, s3Env } from '../support/env.js';
import { condition, deleteNamespace, eventually, testClient, uniqueName } from '../support/kube.js';
import { OperatorProcess } from '../support/operator.js';
import { operatorImage } from '../support/realnode.js';

jest.setTimeout(420_000);
const [LABEL_KEY, LABEL_VALUE] = ['smartcloudops.ai/node', 'real'];
const TAINT_KEY = 'smartcloudops.ai/real-node';
const BS = resourceRefOf('BackupSchedule');
const RUN_LABEL = 'ops.smartcloudops.ai/backup-run';

interface Bs extends KubeObject {
  status?: {
    conditions?: { type: string; status: string; reason: string; message: string }[];
    lastSuccessfulBackup?: { key: string; size: number; sha256: string };
    lastFailedBackup?: { reason: string; message: string };
    history?: { job: string; result: string; reason?: string; key?: string }[];
    retention?: { verified: number; unverified: number; deleted: number };
    lastScheduleTime?: string;
    active?: string[];
  };
}
interface JobObj extends KubeObject {
  status?: { conditions?: { type: string; status: string }[] };
}

async function realNode(): Promise<boolean> {
  const c = await testClient();
  try {
    return (await c.list(Resources.Node, { labelSelector: `${LABEL_KEY}=${LABEL_VALUE}` })).items.length > 0;
  } finally {
    c.close();
  }
}
const hasRealNode = await realNode();
if (!hasRealNode) {
  if (process.env.CI) throw new Error(`test/e2e/backup.test.ts: no node labelled ${LABEL_KEY}=${LABEL_VALUE}`);
  console.warn(`SKIPPED test/e2e/backup.test.ts: no node labelled ${LABEL_KEY}=${LABEL_VALUE}`);
}

/**
 * A TCP forwarder on the bridge address to a loopback port (the pods' way to PostgreSQL and S3). With `cutOn`, the
 * S3 endpoint it stands for stops at the first request that matches (e.g. the upload of a dump): that request is not
 * passed on, every connection is reset and nothing listens any more.
 */
function forward(targetPort: number, cutOn?: RegExp): Promise<{ port: number; close(): void; cut: boolean }> {
  const sockets = new Set<net.Socket>();
  const state = { port: 0, cut: false, close: () => undefined as void };
  const server = net.createServer((c) => {
    const u = net.connect(targetPort, '127.0.0.1');
    sockets.add(c).add(u);
    c.on('data', (chunk: Buffer) => {
      if (cutOn && cutOn.test(chunk.toString('latin1'))) {
        state.cut = true;
        state.close();
        return;
      }
      u.write(chunk);
    });
    u.pipe(c);
    const end = () => {
      c.destroy();
      u.destroy();
      sockets.delete(c);
      sockets.delete(u);
    };
    c.on('error', end).on('close', end);
    u.on('error', end).on('close', end);
  });
  state.close = () => {
    for (const s of sockets) s.resetAndDestroy();
    server.close();
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, BRIDGE_IP, () => {
      state.port = (server.address() as net.AddressInfo).port;
      resolve(state);
    });
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const secretObj = (name: string, data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});

(hasRealNode ? describe : describe.skip)('BackupSchedule on the real node', () => {
  let client: KubeClient;
  let ns: string;
  let db: string;
  let stuckDb: string;
  let locker: pg.Client | undefined;
  let bucket: string;
  let image: string;
  let pgFwd: { port: number; close(): void };
  let s3Fwd: { port: number; close(): void };
  let s3Cut: { port: number; close(): void; cut: boolean };
  let op: OperatorProcess | undefined;
  let ops = 0;
  const prefix = 'e2e';
  const folder = (name: string) => `${prefix}/${ns}.${name}/`;

  const startOperator = async () => {
    op = await OperatorProcess.start({
      identity: `backup-e2e-${ops++}`,
      namespaces: [ns],
      extraArgs: [`--agent-image=${image}`],
    });
    return op;
  };
  const listKeys = async (p: string) => {
    const s3 = s3Client();
    try {
      const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p }));
      return (r.Contents ?? []).map((o) => o.Key!).sort();
    } finally {
      s3.destroy();
    }
  };
  const get = (name: string) => client.get<Bs>(BS, ns, name);
  const jobs = async () => (await client.list<JobObj>(Resources.Job, { namespace: ns })).items;

  function schedule(name: string, over: Record<string, unknown> = {}, dest: Record<string, unknown> = {}) {
    return {
      apiVersion: `${BS.group}/${BS.version}`,
      kind: 'BackupSchedule',
      metadata: { name },
      spec: {
        database: { secretRef: { name: 'db' } },
        schedule: '0 0 1 1 *',
        destination: {
          bucket,
          prefix,
          endpoint: `http://${BRIDGE_IP}:${s3Fwd.port}`,
          forcePathStyle: true,
          credentialsSecretRef: { name: 's3' },
          ...dest,
        },
        include: { database: true, config: false },
        startingDeadlineSeconds: 50,
        activeDeadlineSeconds: 120,
        jobTemplate: {
          nodeSelector: { [LABEL_KEY]: LABEL_VALUE },
          tolerations: [{ key: TAINT_KEY, operator: 'Exists', effect: 'NoSchedule' }],
        },
        ...over,
      },
    };
  }

  /** A back-dated backup as the agent writes it: a dump and a manifest that matches it (or not). */
  async function seedBackup(
    name: string,
    daysAgo: number,
    runId: string,
    opts: { manifest?: boolean; truncate?: boolean } = {},
  ) {
    const startedAt = new Date(Date.now() - daysAgo * 86_400_000);
    const base = `${folder(name)}${formatTimestamp(startedAt)}-${runId}`;
    const body = randomBytes(2048);
    const s3 = s3Client();
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `${base}.sql.gz`,
          Body: opts.truncate ? body.subarray(0, 1000) : body,
        }),
      );
      if (opts.manifest !== false) {
        const manifest = serializeManifest({
          apiVersion: MANIFEST_API_VERSION,
          kind: MANIFEST_KIND,
          schedule: `${ns}.${name}`,
          runId,
          bucket,
          key: `${base}.sql.gz`,
          format: 'plain',
          compression: 'gzip',
          size: body.length,
          sha256: createHash('sha256').update(body).digest('hex'),
          database: { name: db, serverVersion: '15.0', serverVersionNum: 150000 },
          pgDumpVersion: '15.0',
          startedAt: startedAt.toISOString(),
          completedAt: new Date(startedAt.getTime() + 1000).toISOString(),
          durationSeconds: 1,
          agentVersion: 'seed',
          verification: 'full',
        });
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${base}.manifest.json`, Body: manifest }));
      }
    } finally {
      s3.destroy();
    }
    return { dump: `${base}.sql.gz`, manifest: `${base}.manifest.json` };
  }

  beforeAll(async () => {
    client = await testClient();
    await installCrds(client);
    image = await operatorImage(client);
    ns = uniqueName('backup-e2e');
    await client.create(Resources.Namespace, {
      metadata: {
        name: ns,
        labels: { 'smartcloudops.ai/e2e': 'true', 'pod-security.kubernetes.io/enforce': 'restricted' },
      },
    });
    await eventually(`ServiceAccount default in ${ns}`, () =>
      client.get(Resources.ServiceAccount, ns, 'default').then(() => true),
    );
    db = `backup_e2e_${randomBytes(3).toString('hex')}`;
    await createDatabase(db);
    await seed(db, 200);
    // A second database whose table is locked for the whole test: its backup hangs in pg_dump (a stuck run).
    stuckDb = `${db}_stuck`;
    await createDatabase(stuckDb);
    await seed(stuckDb, 10);
    locker = new pg.Client({ ...postgresEnv(), database: stuckDb });
    await locker.connect();
    await locker.query('BEGIN; LOCK TABLE app.users IN ACCESS EXCLUSIVE MODE');
    bucket = `backup-e2e-${randomBytes(3).toString('hex')}`;
    const s3 = s3Client();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    pgFwd = await forward(postgresEnv().port);
    s3Fwd = await forward(Number(new URL(s3Env().endpoint).port));
    s3Cut = await forward(Number(new URL(s3Env().endpoint).port), /^PUT [^ ]*\.sql\.gz/);
    const pge = postgresEnv();
    const s3e = s3Env();
    for (const s of [
      secretObj('db', {
        host: BRIDGE_IP,
        port: String(pgFwd.port),
        database: db,
        username: pge.user,
        password: pge.password,
      }),
      secretObj('db-wrong', {
        host: BRIDGE_IP,
        port: String(pgFwd.port),
        database: db,
        username: pge.user,
        password: 'not-the-password',
      }),
      secretObj('db-stuck', {
        host: BRIDGE_IP,
        port: String(pgFwd.port),
        database: stuckDb,
        username: pge.user,
        password: pge.password,
      }),
      secretObj('s3', { AWS_ACCESS_KEY_ID: s3e.accessKeyId, AWS_SECRET_ACCESS_KEY: s3e.secretAccessKey }),
    ]) {
      await client.create(Resources.Secret, { ...s, metadata: { ...s.metadata, namespace: ns } });
    }
  });

  afterAll(async () => {
    await op?.kill('SIGKILL');
    if (ns) await deleteNamespace(client, ns);
    pgFwd?.close();
    s3Fwd?.close();
    s3Cut?.close();
    await locker?.end().catch(() => undefined);
    if (db) await dropDatabase(db).catch(() => undefined);
    if (stuckDb) await dropDatabase(stuckDb).catch(() => undefined);
    if (bucket) {
      const s3 = s3Client();
      try {
        const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
        for (const o of r.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! }));
        await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
      } catch {
        // best effort
      }
      s3.destroy();
    }
    client?.close();
  });

  test('one Job per tick across 10 SIGKILLs over 3 ticks; verified dumps in status; retention down to the floor; failures with their reasons', async () => {
    // Seeded history of the one-minute schedule: four verified backups 10-40 days old and one dump without a manifest.
    const old = await Promise.all([10, 20, 30, 40].map((d, i) => seedBackup('minutely', d, `seed${i}`)));
    const orphan = await seedBackup('minutely', 50, 'orphan', { manifest: false });
    const start = Date.now();
    await client.create(BS, {
      ...schedule('minutely', { schedule: '* * * * *', retention: { keepDays: 1, minKeep: 5 }, historyLimit: 10 }),
      metadata: { name: 'minutely', namespace: ns },
    });
    // The failure cases, created at the same time (each runs once, at creation).
    const failures: [string, Record<string, unknown>, Record<string, unknown>][] = [
      ['wrongpw', { immediate: true, database: { secretRef: { name: 'db-wrong' } } }, {}],
      ['nobucket', { immediate: true }, { bucket: `${bucket}-missing` }],
      ['nocreds', { immediate: true }, { credentialsSecretRef: { name: 'no-such-secret' } }],
      ['badcron', { schedule: '61 * * * *' }, {}],
      ['s3cut', { immediate: true }, { endpoint: `http://${BRIDGE_IP}:${s3Cut.port}` }],
      ['stuck', { immediate: true, activeDeadlineSeconds: 60, database: { secretRef: { name: 'db-stuck' } } }, {}],
    ];
    for (const [name, over, dest] of failures) {
      await client.create(BS, { ...schedule(name, over, dest), metadata: { name, namespace: ns } });
    }

    // ≥ 10 SIGKILLs at random moments, spread over at least three ticks of `minutely`.
    let kills = 0;
    const succeeded = async () =>
      ((await get('minutely')).status?.history ?? []).filter(
        (h) => h.result === 'Succeeded' && h.job.startsWith('minutely-t'),
      ).length;
    const ticks = async () => (await jobs()).filter((j) => j.metadata.name?.startsWith('minutely-t')).length;
    for (;;) {
      await startOperator();
      if (kills >= 10 && (await ticks()) >= 3) break;
      await sleep(3000 + Math.random() * 12_000);
      await op!.kill('SIGKILL');
      kills++;
      if (Date.now() - start > 300_000) throw new Error(`only ${await ticks()} ticks after ${kills} kills`);
    }
    await eventually('three verified scheduled runs', async () => (await succeeded()) >= 3, {
      timeoutMs: 150_000,
      intervalMs: 1000,
    });
    expect(kills).toBeGreaterThanOrEqual(10);

    // Exactly one Job per tick, and one dump per run in S3.
    const all = (await jobs()).filter((j) => j.metadata.name?.startsWith('minutely-t'));
    const perTick = new Map<string, number>();
    for (const j of all) {
      const t = j.metadata.annotations?.['ops.smartcloudops.ai/scheduled-at'] as string;
      perTick.set(t, (perTick.get(t) ?? 0) + 1);
    }
    expect(perTick.size).toBeGreaterThanOrEqual(3);
    expect([...perTick.values()].every((n) => n === 1)).toBe(true);
    const keys = await listKeys(folder('minutely'));
    const dumps = keys.filter((k) => k.endsWith('.sql.gz') && /-t\d+\.sql\.gz$/.test(k));
    const runs = dumps.map((k) => /-(t\d+)\.sql\.gz$/.exec(k)![1]);
    expect(new Set(runs).size).toBe(runs.length);
    for (const j of all) {
      const run = j.metadata.labels?.[RUN_LABEL] as string;
      const finished = j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True');
      if (finished) expect(runs).toContain(run);
    }

    // Status: the newest verified dump, Ready and Verified.
    const st = (await get('minutely')).status!;
    expect(st.lastSuccessfulBackup?.key).toMatch(new RegExp(`^${folder('minutely')}\\d{8}T\\d{6}Z-t\\d+\\.sql\\.gz$`));
    expect(st.lastSuccessfulBackup?.size).toBeGreaterThan(0);
    expect(st.lastSuccessfulBackup?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(keys).toContain(st.lastSuccessfulBackup?.key);
    expect(condition(await get('minutely'), 'Verified')?.status).toBe('True');
    expect(condition(await get('minutely'), 'LastBackupSucceeded')?.status).toBe('True');

    // Retention: 3+ new + 4 seeded verified, minKeep 5 and keepDays 1 → the 30- and 40-day-old ones went; the 10- and
    // 20-day-old ones stay (the floor); the orphan dump (no manifest) is never touched.
    await eventually('retention pruned the two oldest', async () => {
      const k = await listKeys(folder('minutely'));
      return !k.includes(old[2]!.manifest) && !k.includes(old[3]!.dump) ? k : undefined;
    });
    const after = await listKeys(folder('minutely'));
    for (const o of [old[2]!, old[3]!]) {
      expect(after).not.toContain(o.dump);
      expect(after).not.toContain(o.manifest);
    }
    if (runs.length <= 3) {
      // with exactly three new runs, the floor of five keeps both 10- and 20-day-old backups
      for (const o of [old[0]!, old[1]!]) expect(after).toContain(o.dump);
    } else {
      expect(after).toContain(old[0]!.dump);
    }
    expect(after).toContain(orphan.dump);
    const ret = (await get('minutely')).status!.retention!;
    expect(ret.deleted).toBeGreaterThanOrEqual(2);
    expect(ret.unverified).toBe(1);

    // The failures, each with its reason; none left a manifest, and no Job for the refused ones.
    const reasonOf = async (name: string) => (await get(name)).status?.lastFailedBackup?.reason;
    await eventually('wrong password', async () => (await reasonOf('wrongpw')) === 'DatabaseAuthFailed', {
      timeoutMs: 60_000,
    });
    await eventually('missing bucket', async () => (await reasonOf('nobucket')) === 'BucketNotFound', {
      timeoutMs: 60_000,
    });
    // S3 stopped while the dump was being uploaded: a failed run with the storage reason, no manifest, no crash.
    await eventually(
      'S3 stopped mid-upload',
      async () => ['StorageUnreachable', 'UploadFailed'].includes((await reasonOf('s3cut')) ?? ''),
      { timeoutMs: 90_000 },
    );
    expect(s3Cut.cut).toBe(true);
    expect(condition(await get('s3cut'), 'Ready')).toMatchObject({ status: 'False', reason: 'StorageUnreachable' });
    // A run stuck in pg_dump (a lock it waits for) is failed by the Job's activeDeadlineSeconds, not left running.
    await eventually(
      'the stuck run failed at its deadline',
      async () => (await reasonOf('stuck')) === 'DeadlineExceeded',
      {
        timeoutMs: 90_000,
      },
    );
    expect((await get('stuck')).status?.active ?? []).toEqual([]);
    const nocreds = await get('nocreds');
    expect(condition(nocreds, 'Ready')).toMatchObject({ status: 'False', reason: 'CredentialsSecretMissing' });
    const badcron = await get('badcron');
    expect(condition(badcron, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(condition(badcron, 'Stalled')?.status).toBe('True');
    const names = (await jobs()).map((j) => j.metadata.name as string);
    expect(names.filter((n) => n.startsWith('nocreds-') || n.startsWith('badcron-'))).toEqual([]);
    expect(names.filter((n) => n.startsWith('wrongpw-'))).toHaveLength(1);
    expect(names.filter((n) => n.startsWith('s3cut-'))).toHaveLength(1);
    expect(op!.exited).toBeUndefined();
    for (const n of ['wrongpw', 'nobucket', 's3cut', 'stuck']) {
      expect((await listKeys(folder(n))).filter((k) => k.endsWith('.manifest.json'))).toEqual([]);
    }
    expect(condition(await get('nobucket'), 'Ready')).toMatchObject({ reason: 'BucketNotFound' });
    const events = await client.list<KubeObject & { reason?: string; involvedObject?: { name?: string } }>(
      Resources.Event,
      {
        namespace: ns,
      },
    );
    expect(events.items.filter((e) => e.reason === 'InvalidSpec' && e.involvedObject?.name === 'badcron')).toHaveLength(
      1,
    );

    // No hot loop: in 20 s with every failing schedule present, a handful of reconciles, not hundreds.
    const before = await op!.sum('controller_runtime_reconcile_total', { controller: 'backupschedule' });
    await sleep(20_000);
    const spent = (await op!.sum('controller_runtime_reconcile_total', { controller: 'backupschedule' })) - before;
    expect(spent).toBeLessThan(20);
    console.log(
      `backup e2e: ${kills} SIGKILLs, ${perTick.size} ticks with one Job each, ${runs.length} dumps, ${ret.deleted} deleted by retention, ${spent} reconciles in 20 s idle`,
    );
  });

  test('an object truncated in S3 after its Job completed: a failed run (SizeMismatch), not counted, nothing deleted', async () => {
    const old = await Promise.all([20, 30].map((d, i) => seedBackup('trunc', d, `seed${i}`)));
    if (!op || op.exited) await startOperator();
    await client.create(BS, {
      ...schedule('trunc', { retention: { keepDays: 1, minKeep: 1 } }),
      metadata: { name: 'trunc', namespace: ns, annotations: { 'ops.smartcloudops.ai/backup-now': 'first' } },
    });
    const job = await eventually('the on-demand Job', async () =>
      (await jobs()).find((j) => j.metadata.name?.startsWith('trunc-now-')),
    );
    await op!.kill('SIGKILL'); // the operator does not see the Job finish
    await eventually(
      'the Job complete',
      async () =>
        (await client.get<JobObj>(Resources.Job, ns, job.metadata.name!)).status?.conditions?.some(
          (c) => c.type === 'Complete' && c.status === 'True',
        ),
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    const runId = job.metadata.labels?.[RUN_LABEL] as string;
    const dump = (await listKeys(folder('trunc'))).find((k) => k.endsWith(`-${runId}.sql.gz`))!;
    expect(dump).toBeDefined();
    const s3 = s3Client();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: dump, Body: Buffer.from('truncated') }));
    s3.destroy();
    await startOperator();
    await eventually(
      'the run judged failed',
      async () => (await get('trunc')).status?.lastFailedBackup?.reason === 'SizeMismatch',
      {
        timeoutMs: 60_000,
      },
    );
    const bs = await get('trunc');
    expect(bs.status?.history?.[0]).toMatchObject({ job: job.metadata.name, result: 'Failed', reason: 'SizeMismatch' });
    expect(condition(bs, 'Verified')).toMatchObject({ status: 'False', reason: 'SizeMismatch' });
    expect(condition(bs, 'LastBackupSucceeded')?.status).toBe('False');
    expect(condition(bs, 'RetentionEnforced')).toMatchObject({ status: 'False', reason: 'Held' });
    // minKeep 1 would have let the 30-day-old one go after a good run: the failed one holds every deletion.
    const keys = await listKeys(folder('trunc'));
    for (const o of old) expect(keys).toEqual(expect.arrayContaining([o.dump, o.manifest]));
    expect(bs.status?.lastSuccessfulBackup?.key).toBe(old[0]!.dump);
  });

  test("config export: ConfigMaps, and Secrets only encrypted, as the schedule's own account; each part in the manifest", async () => {
    if (!op || op.exited) await startOperator();
    // The app whose namespace is exported; paused, so it only names its database Secret (nothing is deployed).
    await client.create(resourceRefOf('SmartCloudOpsApp'), {
      apiVersion: 'ops.smartcloudops.ai/v1alpha1',
      kind: 'SmartCloudOpsApp',
      metadata: { name: 'shop', namespace: ns },
      spec: {
        version: '1.0.0',
        paused: true,
        backend: { image: 'localhost/shop/backend' },
        frontend: { image: 'localhost/shop/frontend' },
        database: { secretRef: { name: 'db' } },
      },
    } as KubeObject);
    await client.create(Resources.ConfigMap, {
      metadata: { name: 'shop-settings', namespace: ns },
      data: { FEATURE_FLAGS: 'checkout-v2' },
    } as KubeObject);
    const key = secretObj('backup-key', { key: randomBytes(32).toString('hex') });
    await client.create(Resources.Secret, { ...key, metadata: { ...key.metadata, namespace: ns } });
    const s = schedule('cfg', {
      database: undefined,
      appRef: { name: 'shop' },
      include: { database: true, config: true, secrets: 'Encrypted', encryptionKeySecretRef: { name: 'backup-key' } },
    });
    await client.create(BS, {
      ...s,
      metadata: { name: 'cfg', namespace: ns, annotations: { 'ops.smartcloudops.ai/backup-now': 'one' } },
    });
    const done = await eventually(
      'the config backup verified',
      async () => {
        const b = await get('cfg');
        return b.status?.lastSuccessfulBackup ? b : b.status?.lastFailedBackup ? b : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    expect(done.status?.lastFailedBackup).toBeUndefined();
    // The Job ran as the schedule's account, allowed to list ConfigMaps and (encrypted export) Secrets here only.
    const role = await client.get<KubeObject & { rules: { resources: string[]; verbs: string[] }[] }>(
      Resources.Role,
      ns,
      'cfg-backup-agent',
    );
    expect(role.rules.map((r) => [r.resources[0], r.verbs])).toEqual([
      ['configmaps', ['get', 'list']],
      ['secrets', ['get', 'list']],
    ]);
    const job = (await jobs()).find((j) => j.metadata.name?.startsWith('cfg-now-')) as KubeObject & {
      spec: { template: { spec: { serviceAccountName?: string } } };
    };
    expect(job.spec.template.spec.serviceAccountName).toBe('cfg-backup-agent');
    // Each part is its own object; the Secrets object is ciphertext (no Secret value in it).
    const keys = await listKeys(folder('cfg'));
    expect(keys.some((k) => k.endsWith('.sql.gz'))).toBe(true);
    expect(keys.some((k) => k.endsWith('.configmaps.yaml.gz'))).toBe(true);
    const enc = keys.find((k) => k.endsWith('.secrets.yaml.gz.enc'));
    expect(enc).toBeDefined();
    const s3 = s3Client();
    try {
      const manifestKey = keys.find((k) => k.endsWith('.manifest.json'))!;
      const m = JSON.parse(
        await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifestKey }))).Body!.transformToString(),
      ) as { parts: { kind: string; key: string }[] };
      expect(m.parts.map((p) => p.kind).sort()).toEqual(['configmaps', 'database', 'secrets']);
      const body = Buffer.from(
        await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: enc! }))).Body!.transformToByteArray(),
      );
      expect(body.includes(Buffer.from(postgresEnv().password))).toBe(false);
      expect(body.includes(Buffer.from(b64(postgresEnv().password)))).toBe(false);
    } finally {
      s3.destroy();
    }
  });
});
