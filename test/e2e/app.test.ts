// SmartCloudOpsApp on the real node: the stand-in image as backend and frontend, the real PostgreSQL and Redis
// (reached by the pods through TCP forwarders on the node's bridge address 10.250.0.1, an address of this machine),
// the operator as a process on this host whose HTTP health checks reach the components' ClusterIPs through the real
// node's kube-proxy rules. Short bake windows and deadlines. Skipped, saying so, without a real node.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { BRIDGE_IP } from '../../hack/cluster/netcfg.js';
import { resourceRefOf } from '../../src/crds/kinds.js';
import type { SmartCloudOpsAppSpec, SmartCloudOpsAppStatus } from '../../src/crds/smartcloudopsapp.js';
import { Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { forwardOnBridge, type Forwarder } from '../support/bridge.js';
import { installCrds } from '../support/crds.js';
import { postgresEnv, redisEnv } from '../support/env.js';
import { deleteNamespace, eventually, testClient, uniqueName } from '../support/kube.js';
import { OperatorProcess } from '../support/operator.js';
import { realNodeFor } from '../support/realnode.js';

jest.setTimeout(420_000);
const APP = resourceRefOf('SmartCloudOpsApp');
const REPO = 'localhost/smartcloudops/standin';
const [LABEL_KEY, LABEL_VALUE] = ['smartcloudops.ai/node', 'real'];

type App = KubeObject & { spec: SmartCloudOpsAppSpec; status?: SmartCloudOpsAppStatus };
type Deployment = KubeObject & {
  spec: { replicas?: number; template: { spec: { containers: { image: string }[] } } };
  status?: { availableReplicas?: number };
};

const hasRealNode = await realNodeFor('test/e2e/app.test.ts');

const cond = (a: App, type: string) => a.status?.conditions?.find((c) => c.type === type);
// The PostgreSQL and Redis checks every second (30 s by default).
const OPERATOR_ENV = { SCO_APP_DEPENDENCY_INTERVAL_MS: '1000' };

(hasRealNode ? describe : describe.skip)('SmartCloudOpsApp on the real node', () => {
  let client: KubeClient;
  let ns: string;
  let op: OperatorProcess;
  let database: string;
  const closers: (() => void)[] = [];
  let pgFwd: Forwarder;

  const spec = (version: string, o: Partial<SmartCloudOpsAppSpec> = {}): SmartCloudOpsAppSpec => {
    const component = {
      image: REPO,
      replicas: 1,
      resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '300m', memory: '128Mi' } },
    };
    return {
      version,
      backend: { ...component },
      frontend: { ...component },
      database: { secretRef: { name: 'pg' } },
      cache: { secretRef: { name: 'redis' } },
      podTemplate: {
        nodeSelector: { [LABEL_KEY]: LABEL_VALUE },
        tolerations: [{ key: 'smartcloudops.ai/real-node', operator: 'Exists', effect: 'NoSchedule' }],
      },
      healthCheck: { intervalSeconds: 1, timeoutSeconds: 1 },
      rollout: { progressDeadlineSeconds: 30, bakeSeconds: 3, revisionHistoryLimit: 5 },
      monitoring: { prometheusRule: false, serviceMonitor: false },
      ...o,
    };
  };
  const create = (name: string, s: SmartCloudOpsAppSpec) =>
    client.create(APP, {
      apiVersion: 'ops.smartcloudops.ai/v1alpha1',
      kind: 'SmartCloudOpsApp',
      metadata: { name, namespace: ns },
      spec: s,
    });
  const get = (name: string) => client.get<App>(APP, ns, name);
  const patchSpec = (name: string, s: Partial<SmartCloudOpsAppSpec>) =>
    client.patch(APP, ns, name, { spec: s }, 'merge');
  const annotate = (name: string, a: Record<string, string>) =>
    client.patch(APP, ns, name, { metadata: { annotations: a } }, 'merge');
  const deployment = (name: string) => client.get<Deployment>(Resources.Deployment, ns, name);
  const images = async (app: string) =>
    Promise.all(
      ['backend', 'frontend'].map(
        async (c) => (await deployment(`${app}-${c}`)).spec.template.spec.containers[0]?.image,
      ),
    );
  /** Polls the app until `check` holds; on a timeout the error shows the app's last status. */
  const waitFor = async (what: string, name: string, check: (a: App) => boolean, timeoutMs = 120_000) => {
    let last: App | undefined;
    try {
      return await eventually(
        what,
        async () => {
          last = await get(name);
          return check(last) ? last : undefined;
        },
        { timeoutMs, intervalMs: 500 },
      );
    } catch (err) {
      const { history: _h, ...status } = last?.status ?? {};
      throw new Error(`${(err as Error).message}\nstatus: ${JSON.stringify(status, null, 1)}`, { cause: err });
    }
  };
  const ready = (a: App) => cond(a, 'Ready')?.status === 'True';
  const events = async (name: string) =>
    (
      await client.list<KubeObject & { reason?: string; count?: number; involvedObject?: { name?: string } }>(
        Resources.Event,
        { namespace: ns },
      )
    ).items.filter((e) => e.involvedObject?.name === name);
  const eventCount = async (name: string, reason: string) =>
    (await events(name)).filter((e) => e.reason === reason).reduce((n, e) => n + (e.count ?? 1), 0);

  beforeAll(async () => {
    client = await testClient();
    await installCrds(client);
    ns = uniqueName('app-e2e');
    await client.create(Resources.Namespace, {
      metadata: {
        name: ns,
        labels: { 'smartcloudops.ai/e2e': 'true', 'pod-security.kubernetes.io/enforce': 'restricted' },
      },
    });
    await eventually(`ServiceAccount default in ${ns}`, () =>
      client.get(Resources.ServiceAccount, ns, 'default').then(() => true),
    );
    // Our own database; the pods reach PostgreSQL and Redis through forwarders on the bridge address.
    const pgEnv = postgresEnv();
    const redis = redisEnv();
    database = `app_e2e_${ns.split('-').pop()}`;
    const pg = (await import('pg')).default;
    const admin = new pg.Client({
      host: pgEnv.host,
      port: pgEnv.port,
      user: pgEnv.user,
      password: pgEnv.password,
      database: pgEnv.database,
    });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    pgFwd = await forwardOnBridge(pgEnv.port);
    const redisFwd = await forwardOnBridge(redis.port);
    closers.push(() => pgFwd.close(), redisFwd.close);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    await client.create(Resources.Secret, {
      metadata: { name: 'pg', namespace: ns },
      data: {
        uri: b64(
          `postgresql://${pgEnv.user}:${encodeURIComponent(pgEnv.password)}@${BRIDGE_IP}:${pgFwd.port}/${database}`,
        ),
      },
    } as KubeObject);
    await client.create(Resources.Secret, {
      metadata: { name: 'redis', namespace: ns },
      data: { host: b64(BRIDGE_IP), port: b64(String(redisFwd.port)), password: b64(redis.password) },
    } as KubeObject);
    op = await OperatorProcess.start({ identity: `${ns}-a`, namespaces: [ns], env: OPERATOR_ENV });
  });

  afterAll(async () => {
    await op?.stop();
    if (ns) await deleteNamespace(client, ns);
    for (const c of closers) c();
    if (database) {
      const pgEnv = postgresEnv();
      const pg = (await import('pg')).default;
      const admin = new pg.Client({
        host: pgEnv.host,
        port: pgEnv.port,
        user: pgEnv.user,
        password: pgEnv.password,
        database: pgEnv.database,
      });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    }
    client?.close();
  });

  test('apply → pods Running and ready, health checks through the Services pass → Ready=True; a new version is promoted after the bake', async () => {
    await create('shop', spec('1.0.0'));
    const a = await waitFor('shop Ready=True', 'shop', ready, 180_000);
    expect(a.status?.readyComponents).toBe('2/2');
    expect(a.status?.lastGoodRevision?.images).toEqual({ backend: `${REPO}:1.0.0`, frontend: `${REPO}:1.0.0` });
    expect(a.status?.components?.map((c) => [c.name, c.available, c.health?.ok, c.health?.reason])).toEqual([
      ['backend', true, true, 'Healthy'],
      ['frontend', true, true, 'Healthy'],
    ]);
    for (const t of ['Available', 'Progressing', 'Degraded', 'RolledBack', 'DependenciesReady', 'Monitoring'])
      expect(cond(a, t)).toBeDefined();
    expect(cond(a, 'Available')?.status).toBe('True');
    expect(cond(a, 'Degraded')?.status).toBe('False');
    const first = a.status?.currentRevision;
    await patchSpec('shop', { version: '1.1.0' });
    const b = await waitFor(
      'shop promoted on 1.1.0',
      'shop',
      (x) => x.status?.lastGoodRevision?.version === '1.1.0' && ready(x),
      180_000,
    );
    expect(b.status?.currentRevision).not.toBe(first);
    expect(await images('shop')).toEqual([`${REPO}:1.1.0`, `${REPO}:1.1.0`]);
    expect(b.status?.history?.map((h) => [h.version, h.result])).toEqual([
      ['1.1.0', 'Good'],
      ['1.0.0', 'Good'],
    ]);
    expect(await eventCount('shop', 'Promoted')).toBe(2);
  });

  test('a crash-looping version: both components back on the last good revision, quarantined, not retried', async () => {
    await create('crash', spec('1.0.0'));
    const good = await waitFor(
      'crash Ready on 1.0.0',
      'crash',
      (x) => ready(x) && x.status?.lastGoodRevision?.version === '1.0.0',
      180_000,
    );
    const goodRev = good.status?.currentRevision;
    // only the backend crashes: the frontend must come back too
    await patchSpec('crash', { version: '1.1.0', backend: { ...spec('x').backend, tag: '1.1.0-crash' } });
    const rolled = await waitFor('crash RolledBack', 'crash', (x) => cond(x, 'RolledBack')?.status === 'True', 180_000);
    expect(cond(rolled, 'RolledBack')?.reason).toBe('CrashLooping');
    expect(rolled.status?.currentRevision).toBe(goodRev);
    expect(rolled.status?.quarantined?.[0]?.revision).toBe(rolled.status?.specRevision);
    expect(cond(rolled, 'Ready')).toMatchObject({ status: 'False', reason: 'RolledBack' });
    expect(await images('crash')).toEqual([`${REPO}:1.0.0`, `${REPO}:1.0.0`]);
    const gens = await Promise.all(
      ['backend', 'frontend'].map(async (c) => (await deployment(`crash-${c}`)).metadata.generation),
    );
    await sleep(15_000); // not retried: no template change, no second rollback
    expect(
      await Promise.all(['backend', 'frontend'].map(async (c) => (await deployment(`crash-${c}`)).metadata.generation)),
    ).toEqual(gens);
    expect(await eventCount('crash', 'RollbackStarted')).toBe(1);
    expect(await op.sum('smartcloudops_app_rollbacks_total', { reason: 'CrashLooping' })).toBe(1);
    // the retry annotation tries it once more (and it fails and comes back again)
    await annotate('crash', { 'ops.smartcloudops.ai/retry': '1' });
    await waitFor(
      'crash retried and rolled back again',
      'crash',
      (x) =>
        x.status?.observedRetry === '1' &&
        cond(x, 'RolledBack')?.status === 'True' &&
        x.status?.lastRollback?.startedAt !== rolled.status?.lastRollback?.startedAt,
      180_000,
    );
    expect(await eventCount('crash', 'RollbackStarted')).toBe(2);
  });

  test('a version whose health never passes (-notready): rolled back at the progress deadline', async () => {
    await create('notready', spec('1.0.0'));
    await waitFor(
      'notready Ready on 1.0.0',
      'notready',
      (x) => ready(x) && x.status?.lastGoodRevision?.version === '1.0.0',
      180_000,
    );
    await patchSpec('notready', { version: '1.1.0-notready' });
    const rolled = await waitFor(
      'notready RolledBack',
      'notready',
      (x) => cond(x, 'RolledBack')?.status === 'True',
      180_000,
    );
    expect(cond(rolled, 'RolledBack')?.reason).toBe('ProgressDeadlineExceeded');
    expect(await images('notready')).toEqual([`${REPO}:1.0.0`, `${REPO}:1.0.0`]);
    expect(
      await waitFor('notready Available again', 'notready', (x) => cond(x, 'Available')?.status === 'True'),
    ).toBeDefined();
  });

  test('manual rollback by annotation to a revision of the history', async () => {
    const a = await get('shop');
    const old = a.status?.history?.find((h) => h.version === '1.0.0')?.revision as string;
    expect(old).toBeDefined();
    await annotate('shop', { 'ops.smartcloudops.ai/rollback-to': old });
    const rolled = await waitFor(
      'shop rolled back by hand',
      'shop',
      (x) =>
        cond(x, 'RolledBack')?.status === 'True' &&
        x.status?.currentRevision === old &&
        cond(x, 'Available')?.status === 'True',
      180_000,
    );
    expect(cond(rolled, 'RolledBack')?.reason).toBe('ManualRollback');
    expect(await images('shop')).toEqual([`${REPO}:1.0.0`, `${REPO}:1.0.0`]);
    expect(rolled.status?.observedRollbackTo).toBe(old);
  });

  test('a missing Secret: a clear condition, children held, no hot loop; the Secret appearing starts the app', async () => {
    await create('nosecret', { ...spec('1.0.0'), database: { secretRef: { name: 'absent-pg' } } });
    const a = await waitFor('nosecret SecretMissing', 'nosecret', (x) => cond(x, 'Ready')?.reason === 'SecretMissing');
    expect(cond(a, 'Ready')?.message).toMatch(/Secret absent-pg \(spec\.database\.secretRef\) not found/);
    expect(cond(a, 'DependenciesReady')).toMatchObject({ status: 'False', reason: 'SecretMissing' });
    expect(cond(a, 'Stalled')?.status).toBe('True');
    await expect(deployment('nosecret-backend')).rejects.toThrow();
    const before = await op.sum('controller_runtime_reconcile_total', { controller: 'smartcloudopsapp' });
    await sleep(10_000);
    const after = await op.sum('controller_runtime_reconcile_total', { controller: 'smartcloudopsapp' });
    // other apps of this file may reconcile (health results change); a hot loop would be hundreds
    expect(after - before).toBeLessThan(30);
    expect(await eventCount('nosecret', 'SecretMissing')).toBe(1);
    const pg = await client.get<KubeObject & { data: Record<string, string> }>(Resources.Secret, ns, 'pg');
    await client.create(Resources.Secret, {
      metadata: { name: 'absent-pg', namespace: ns },
      data: pg.data,
    } as KubeObject);
    await waitFor('nosecret Ready once the Secret exists', 'nosecret', ready, 180_000);
  });

  test('spec.replicas owned by another field manager (a ScalingPolicy) is never overwritten', async () => {
    await client.apply(
      Resources.Deployment,
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'shop-frontend', namespace: ns },
        spec: { replicas: 2 },
      } as KubeObject,
      {
        fieldManager: 'smartcloudops-scalingpolicy',
        force: true,
      },
    );
    // a spec change that rewrites the Deployments (new version) and one that only touches replicas
    await patchSpec('shop', { version: '1.2.0', frontend: { ...spec('x').frontend, replicas: 1 } });
    const a = await waitFor(
      'shop on 1.2.0',
      'shop',
      (x) => x.status?.lastGoodRevision?.version === '1.2.0' && ready(x),
      180_000,
    );
    expect((await deployment('shop-frontend')).spec.replicas).toBe(2);
    expect((await deployment('shop-backend')).spec.replicas).toBe(1);
    expect(a.status?.components?.find((c) => c.name === 'frontend')?.replicasOwner).toBeDefined();
    expect(a.status?.components?.find((c) => c.name === 'frontend')?.replicas).toBe(2);
  });

  test('spec.paused freezes the children and says so; unpausing rolls out the new spec', async () => {
    const before = await images('crash');
    // a merge patch: `tag: null` removes the crashing backend tag
    await patchSpec('crash', {
      paused: true,
      version: '1.2.0',
      backend: { tag: null },
    } as unknown as Partial<SmartCloudOpsAppSpec>);
    const paused = await waitFor(
      'crash paused',
      'crash',
      (x) => cond(x, 'Suspended')?.reason === 'SpecPaused' && x.status?.observedGeneration === x.metadata.generation,
    );
    expect(cond(paused, 'Ready')?.message).toMatch(/frozen/);
    await sleep(5000);
    expect(await images('crash')).toEqual(before);
    await patchSpec('crash', { paused: false });
    await waitFor(
      'crash on 1.2.0 after unpausing',
      'crash',
      (x) => x.status?.lastGoodRevision?.version === '1.2.0' && ready(x),
      180_000,
    );
    expect(await images('crash')).toEqual([`${REPO}:1.2.0`, `${REPO}:1.2.0`]);
  });

  test('a child edited by hand is put back once; deleting the app removes its children', async () => {
    const before = await op.sum('smartcloudops_kube_requests_total', { verb: 'patch', resource: 'deployments' });
    await client.patch(
      Resources.Deployment,
      ns,
      'notready-backend',
      { spec: { template: { spec: { containers: [{ name: 'backend', image: `${REPO}:1.2.0` }] } } } },
      'strategic',
      { fieldManager: 'kubectl-edit' },
    );
    await eventually('notready-backend image put back', async () => (await images('notready'))[0] === `${REPO}:1.0.0`, {
      timeoutMs: 60_000,
    });
    await sleep(3000);
    const after = await op.sum('smartcloudops_kube_requests_total', { verb: 'patch', resource: 'deployments' });
    // one correction (a second only if another app's Deployment was written meanwhile); a fight would be many
    expect(after - before).toBeGreaterThanOrEqual(1);
    expect(after - before).toBeLessThanOrEqual(2);
    await client.delete(APP, ns, 'notready', { propagationPolicy: 'Foreground' });
    await eventually('notready children gone', async () => {
      const left = (await client.list(Resources.Deployment, { namespace: ns })).items.filter((d) =>
        d.metadata.name?.startsWith('notready-'),
      );
      return left.length === 0;
    });
  });

  test('operator SIGKILLed right after it recorded a rollback: the next one finishes it exactly once', async () => {
    await create('kill', spec('1.0.0'));
    await waitFor(
      'kill Ready on 1.0.0',
      'kill',
      (x) => ready(x) && x.status?.lastGoodRevision?.version === '1.0.0',
      180_000,
    );
    await patchSpec('kill', { version: '1.1.0-crash' });
    // the rollback is recorded in status before the children move; kill the operator as soon as it is
    await eventually('kill rollback recorded', async () => (await get('kill')).status?.rollback !== undefined, {
      timeoutMs: 180_000,
      intervalMs: 100,
    });
    await op.kill('SIGKILL');
    const atKill = await Promise.all(['backend', 'frontend'].map((c) => deployment(`kill-${c}`)));
    const crashImages = atKill.map((d) => d.spec.template.spec.containers[0]?.image);
    console.log(
      `SIGKILL: the children ${crashImages.every((x) => x === `${REPO}:1.1.0-crash`) ? 'had not moved yet (the new operator moves them)' : 'had already moved (the new operator only completes the record)'}`,
    );
    op = await OperatorProcess.start({ identity: `${ns}-b`, namespaces: [ns], env: OPERATOR_ENV });
    const done = await waitFor(
      'kill RolledBack by the new operator',
      'kill',
      (x) => cond(x, 'RolledBack')?.status === 'True' && cond(x, 'Available')?.status === 'True',
      180_000,
    );
    expect(done.status?.lastRollback?.reason).toBe('CrashLooping');
    expect(await images('kill')).toEqual([`${REPO}:1.0.0`, `${REPO}:1.0.0`]);
    // exactly once: each Deployment's template changed once after the kill (or already had, before it) — never twice
    const after = await Promise.all(['backend', 'frontend'].map((c) => deployment(`kill-${c}`)));
    after.forEach((d, i) => {
      const before = atKill[i] as Deployment;
      const moved = crashImages[i] === `${REPO}:1.1.0-crash` ? 1 : 0;
      expect((d.metadata.generation ?? 0) - (before.metadata.generation ?? 0)).toBe(moved);
    });
    await sleep(5000);
    expect(await eventCount('kill', 'RollbackStarted')).toBe(1);
    expect(await eventCount('kill', 'RolledBack')).toBe(1);
    expect(await op.sum('smartcloudops_app_rollbacks_total')).toBe(0); // the new operator decided none
  });

  test('dependencies: PostgreSQL unreachable → DependenciesReady=False with the reason, back when it returns; Redis drift corrected once', async () => {
    const depsReady = (x: App) => cond(x, 'DependenciesReady')?.status === 'True';
    await create('deps', spec('1.0.0'));
    const a = await waitFor('deps Ready with its dependencies', 'deps', (x) => ready(x) && depsReady(x), 180_000);
    expect(cond(a, 'DependenciesReady')?.message).toMatch(/postgres: .*redis: /s);
    // PostgreSQL goes away (the forwarder the Secret points at stops): the next check fails, with its reason.
    const port = pgFwd.port;
    pgFwd.close();
    const down = await waitFor('deps DependenciesReady=False', 'deps', (x) => !depsReady(x), 60_000);
    expect(cond(down, 'DependenciesReady')).toMatchObject({ status: 'False' });
    expect(['ConnectionRefused', 'Timeout', 'ConnectionFailed']).toContain(cond(down, 'DependenciesReady')?.reason);
    expect(cond(down, 'DependenciesReady')?.message).toMatch(/^postgres: /);
    expect(cond(down, 'Degraded')?.status).toBe('True');
    // ... and back on the same address: recovered without any change to the app.
    pgFwd = await forwardOnBridge(postgresEnv().port, port);
    await waitFor('deps DependenciesReady=True again', 'deps', depsReady, 60_000);
    // Redis drift: someone changes maxmemory-policy by hand; the app's spec.cache.config (default allkeys-lru) wins.
    const { Redis } = await import('ioredis');
    const r = redisEnv();
    const redis = new Redis({ host: r.host, port: r.port, password: r.password, lazyConnect: true });
    await redis.connect();
    try {
      // Every app of this file shares this Redis: whichever app's check sees the drift first corrects it and records
      // the Event on itself; the others then find it in sync.
      const corrections = async () =>
        (await client.list<KubeObject & { reason?: string; count?: number }>(Resources.Event, { namespace: ns })).items
          .filter((e) => e.reason === 'RedisConfigCorrected')
          .reduce((n, e) => n + (e.count ?? 1), 0);
      const before = await corrections();
      await redis.config('SET', 'maxmemory-policy', 'noeviction');
      await eventually(
        'maxmemory-policy put back',
        async () => ((await redis.config('GET', 'maxmemory-policy')) as string[])[1] === 'allkeys-lru',
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      const after = await eventually('a RedisConfigCorrected Event', async () => {
        const n = await corrections();
        return n > before ? n : undefined;
      });
      // Corrected, not fought over: no further corrections once it is back.
      await sleep(5000);
      expect(await corrections()).toBe(after);
      expect(((await redis.config('GET', 'maxmemory-policy')) as string[])[1]).toBe('allkeys-lru');
    } finally {
      redis.disconnect();
    }
  });
});
