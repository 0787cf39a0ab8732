// The operator process against a real API server: CRDs install, samples apply and are reconciled (valid, with
// a clear not-Ready reason), suspension by the spec shows in status and in the
// printer columns, kubectl explain teaches the API, invalid specs end in InvalidSpec with one Warning Event and no
// hot loop, and an idle operator writes nothing.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../hack/cluster/config.js';
import { KINDS, resourceRefOf, type KindName } from '../../src/crds/kinds.js';
import { isAlreadyExists, Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { installCrds, kubectlPath, readSamples } from '../support/crds.js';
import { kubeconfigPath } from '../support/env.js';
import { createNamespace, deleteNamespace, eventually, testClient } from '../support/kube.js';
import { OperatorProcess } from '../support/operator.js';

jest.setTimeout(240_000);
const run = promisify(execFile);

interface CR extends KubeObject {
  spec: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
}

const cond = (o: CR, type: string) => o.status?.conditions?.find((c) => c.type === type);

function kubectl(...args: string[]) {
  return run(kubectlPath(), args, { env: { ...process.env, KUBECONFIG: kubeconfigPath() } });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Mutate = (spec: Record<string, any>) => void;

const KINDS_WITH_SAMPLES: KindName[] = [
  'SmartCloudOpsApp',
  'BackupSchedule',
  'ScalingPolicy',
  'DRDrill',
  'CertRenewal',
];

// Kinds whose capability is built report their own Ready: the SmartCloudOpsApp sample's Secrets do not exist here,
// so it holds its children and says so.
// Kinds whose capability is built: their samples name Secrets, Certificates and Deployments that do not exist in
// the test namespace, so they are reconciled to a clear not-Ready reason (never NotImplemented).
const BUILT: Partial<Record<KindName, { status: string[]; reasons: string[] }>> = {
  SmartCloudOpsApp: { status: ['False'], reasons: ['SecretMissing'] },
  // Its S3 credentials Secret does not exist here.
  BackupSchedule: { status: ['False'], reasons: ['CredentialsSecretMissing'] },
  // The sample's target (the app's backend Deployment) does not exist here.
  ScalingPolicy: { status: ['False'], reasons: ['TargetNotFound'] },
  // Without cert-manager's CRDs (a cluster without it) its cache cannot sync.
  CertRenewal: { status: ['False', 'Unknown'], reasons: ['CertificateMissing', 'CacheNotSynced'] },
  // The sample's app and BackupSchedule exist here, its restore target Secret does not.
  DRDrill: { status: ['False'], reasons: ['TargetSecretMissing'] },
};

describe('operator', () => {
  let client: KubeClient;
  let ns: string;
  let op: OperatorProcess;
  const samples = readSamples().filter((s) => s.kind !== 'Namespace') as CR[];

  beforeAll(async () => {
    client = await testClient();
    await installCrds(client);
    ns = await createNamespace(client, 'e2e-operator');
    op = await OperatorProcess.start({ identity: 'e2e-operator', namespaces: [ns], leaderElect: false });
  });
  afterAll(async () => {
    await op?.stop();
    await deleteNamespace(client, ns);
    client.close();
  });

  test('kubectl lists all kinds through the category and explains fields', async () => {
    const { stdout } = await kubectl('explain', 'backupschedule.spec.retention.minKeep');
    expect(stdout).toMatch(/never keep fewer than this many verified-good backups/);
    const explainDr = await kubectl('explain', 'drdrill.status.drNamespace');
    expect(explainDr.stdout.replace(/\s+/g, ' ')).toMatch(/deletes only a namespace it created for this drill/);
    const { stdout: resources } = await kubectl('api-resources', '--api-group=ops.smartcloudops.ai', '-o', 'wide');
    for (const k of KINDS_WITH_SAMPLES) expect(resources).toMatch(new RegExp(`${k}\\s.*smartcloudops`));
  });

  test('kubectl apply accepts every sample as written (server-side dry run)', async () => {
    // A dry run cannot create the samples' namespace for the objects in it: make sure it exists.
    const created = await client.create(Resources.Namespace, { metadata: { name: 'smartcloudops' } }).then(
      () => true,
      (e: unknown) => {
        if (isAlreadyExists(e)) return false;
        throw e;
      },
    );
    const { stdout } = await kubectl('apply', '--dry-run=server', '-f', join(repoRoot, 'config', 'samples'));
    for (const k of KINDS_WITH_SAMPLES)
      expect(stdout).toMatch(
        new RegExp(
          `${k.toLowerCase()}\\.ops\\.smartcloudops\\.ai/\\S+ (created|configured|unchanged) \\(server dry run\\)`,
        ),
      );
    if (created) await deleteNamespace(client, 'smartcloudops');
  });

  test('every sample is reconciled: every kind to a clear not-Ready reason, observedGeneration current; kubectl wait works', async () => {
    for (const s of samples) {
      await client.create(resourceRefOf(s.kind as KindName), {
        ...s,
        metadata: { name: s.metadata.name, namespace: ns },
      });
    }
    for (const s of samples) {
      const built = BUILT[s.kind as KindName];
      const obj = await eventually(`${s.kind} reconciled`, async () => {
        const o = await client.get<CR>(resourceRefOf(s.kind as KindName), ns, s.metadata.name as string);
        return (built?.reasons ?? ['NotImplemented']).includes(cond(o, 'Ready')?.reason ?? '') ? o : undefined;
      });
      expect(obj.status?.observedGeneration).toBe(obj.metadata.generation);
      if (built) {
        expect(built.status).toContain(cond(obj, 'Ready')?.status);
        expect(obj.status?.conditions?.slice(0, 4).map((c) => c.type)).toEqual([
          'Ready',
          'Reconciling',
          'Stalled',
          'Suspended',
        ]);
        continue;
      }
      expect(obj.status?.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
        ['Ready', 'Unknown', 'NotImplemented'],
        ['Reconciling', 'False', 'NotImplemented'],
        ['Stalled', 'False', 'NotStalled'],
        ['Suspended', 'False', 'NotSuspended'],
      ]);
      expect(cond(obj, 'Ready')?.message).toMatch(
        new RegExp(`^the spec is valid; the ${s.kind} capability \\(.+\\) is not implemented yet$`),
      );
    }
    const { stdout } = await kubectl(
      'wait',
      '--for=condition=Ready=False',
      '-n',
      ns,
      'backupschedule/smartcloudops-nightly',
      '--timeout=30s',
    );
    expect(stdout).toMatch(/condition met/);
    const { stdout: table } = await kubectl('get', 'smartcloudops', '-n', ns);
    expect(table).toMatch(/READY\s+REASON\s+SCHEDULE\s+SUSPENDED\s+AGE/);
    expect(table).toMatch(/smartcloudops-nightly\s+False\s+CredentialsSecretMissing\s+0 2 \* \* \*\s+False/);
  });

  test('suspension by the spec shows as Suspended=True and in the SUSPENDED column', async () => {
    const cases: [KindName, Record<string, unknown>, string][] = [
      ['SmartCloudOpsApp', { paused: true }, 'SpecPaused'],
      ['BackupSchedule', { suspend: true }, 'SpecSuspended'],
      ['ScalingPolicy', { mode: 'Paused' }, 'ModePaused'],
    ];
    for (const [kind, patch, reason] of cases) {
      const name = samples.find((s) => s.kind === kind)?.metadata.name as string;
      await client.patch(resourceRefOf(kind), ns, name, { spec: patch }, 'merge');
      const obj = await eventually(`${kind} Suspended`, async () => {
        const o = await client.get<CR>(resourceRefOf(kind), ns, name);
        return cond(o, 'Suspended')?.status === 'True' && o.status?.observedGeneration === o.metadata.generation
          ? o
          : undefined;
      });
      expect(cond(obj, 'Suspended')?.reason).toBe(reason);
      // Ready stays the capability's judgement; suspension is reported beside it.
      const built = BUILT[kind];
      if (built) expect(built.reasons).toContain(cond(obj, 'Ready')?.reason);
      else expect(cond(obj, 'Ready')).toMatchObject({ status: 'Unknown', reason: 'NotImplemented' });
      const { stdout: table } = await kubectl('get', KINDS[kind].singular, name, '-n', ns);
      expect(table).toMatch(/SUSPENDED/);
      expect(table.split('\n')[1]).toMatch(/\sTrue\s+\S+$/); // SUSPENDED True, then AGE
    }
    // Kinds without a suspend switch show the column only with -o wide.
    const { stdout: drill } = await kubectl('get', 'drdrill', '-n', ns);
    expect(drill).not.toMatch(/SUSPENDED/);
    const { stdout: wide } = await kubectl('get', 'drdrill', '-n', ns, '-o', 'wide');
    expect(wide).toMatch(/SUSPENDED/);
    // Resuming flips it back.
    const bs = samples.find((s) => s.kind === 'BackupSchedule')?.metadata.name as string;
    await client.patch(resourceRefOf('BackupSchedule'), ns, bs, { spec: { suspend: false } }, 'merge');
    await eventually('BackupSchedule resumed', async () => {
      const o = await client.get<CR>(resourceRefOf('BackupSchedule'), ns, bs);
      return cond(o, 'Suspended')?.reason === 'NotSuspended' || undefined;
    });
  });

  test('semantically invalid specs end in InvalidSpec with one Warning Event each and no hot loop', async () => {
    const sample = (k: string) => structuredClone(samples.find((s) => s.kind === k) as CR);
    const bad: [KindName, string, Mutate, RegExp][] = [
      [
        'BackupSchedule',
        'cron-minute',
        (s) => (s.schedule = '61 2 * * *'),
        /spec\.schedule: invalid cron expression "61 2 \* \* \*": Invalid value for minute: 61/,
      ],
      ['BackupSchedule', 'cron-never', (s) => (s.schedule = '0 0 31 2 *'), /spec\.schedule: "0 0 31 2 \*" never fires/],
      [
        'BackupSchedule',
        'bad-zone',
        (s) => (s.timeZone = 'Mars/Olympus_Mons'),
        /spec\.timeZone: unknown time zone "Mars\/Olympus_Mons"/,
      ],
      [
        'SmartCloudOpsApp',
        'req-over-limit',
        (s) => (s.backend.resources.requests.cpu = '2'),
        /spec\.backend\.resources\.requests\.cpu: request 2 exceeds the limit 1/,
      ],
      [
        'DRDrill',
        'bad-zone',
        (s) => (s.timeZone = 'Europe/Atlantis'),
        /spec\.timeZone: unknown time zone "Europe\/Atlantis"/,
      ],
      [
        'CertRenewal',
        'warn-after-renew',
        (s) => (s.warnBefore = '1000h'),
        /spec\.warnBefore: 1000h must be shorter than renewBefore 720h/,
      ],
      [
        'ScalingPolicy',
        'window-duration',
        (s) => (s.windows[0].duration = '200h'),
        /spec\.windows\[0\]\.duration: "200h" must be a positive duration of at most 168h/,
      ],
    ];
    const before = await op.sum('controller_runtime_reconcile_total');
    for (const [kind, name, mutate] of bad) {
      const s = sample(kind);
      mutate(s.spec);
      await client.create(resourceRefOf(kind), { ...s, metadata: { name: `invalid-${name}`, namespace: ns } });
    }
    for (const [kind, name, , message] of bad) {
      const obj = await eventually(`${kind}/invalid-${name} InvalidSpec`, async () => {
        const o = await client.get<CR>(resourceRefOf(kind), ns, `invalid-${name}`);
        return cond(o, 'Ready')?.status === 'False' ? o : undefined;
      });
      const ready = obj.status?.conditions?.find((c) => c.type === 'Ready');
      expect(ready?.reason).toBe('InvalidSpec');
      expect(ready?.message).toMatch(message);
      expect(obj.status?.conditions?.find((c) => c.type === 'Stalled')).toMatchObject({
        status: 'True',
        reason: 'InvalidSpec',
      });
    }
    // Let any loop show itself: nothing may happen in the next 5 seconds.
    await new Promise((r) => setTimeout(r, 1000));
    const settled = await op.sum('controller_runtime_reconcile_total');
    await new Promise((r) => setTimeout(r, 5000));
    const after = await op.sum('controller_runtime_reconcile_total');
    expect(after).toBe(settled);
    // One reconcile per object created (the status write is filtered out), give or take the immutable update.
    expect(settled - before).toBeLessThanOrEqual(bad.length * 2);
    expect(await op.sum('controller_runtime_terminal_reconcile_errors_total')).toBe(bad.length);
    for (const [kind, name] of bad) {
      const obj = await client.get<CR>(resourceRefOf(kind), ns, `invalid-${name}`);
      const events = await eventually(`the InvalidSpec event of ${name}`, async () => {
        const list = await client.list<KubeObject & { reason: string; type: string; count: number }>(Resources.Event, {
          namespace: ns,
          fieldSelector: `involvedObject.uid=${obj.metadata.uid}`,
        });
        return list.items.length ? list.items : undefined;
      });
      expect(events.map((e) => [e.type, e.reason, e.count])).toEqual([['Warning', 'InvalidSpec', 1]]);
    }
  });

  test('a fixed spec (new generation) is reconciled again and is valid', async () => {
    const ref = resourceRefOf('BackupSchedule');
    await client.patch(ref, ns, 'invalid-cron-minute', { spec: { schedule: '0 2 * * *' } }, 'merge');
    const obj = await eventually('the fixed BackupSchedule to be valid', async () => {
      const o = await client.get<CR>(ref, ns, 'invalid-cron-minute');
      return BUILT.BackupSchedule?.reasons.includes(cond(o, 'Ready')?.reason ?? '') ? o : undefined;
    });
    expect(obj.status?.observedGeneration).toBe(2);
    expect(obj.status?.conditions?.find((c) => c.type === 'Stalled')?.status).toBe('False');
  });

  test('an idle operator makes zero writes over a minute', async () => {
    const writes = async () => {
      let n = 0;
      for (const verb of ['create', 'update', 'patch', 'delete'])
        n += await op.sum('smartcloudops_kube_requests_total', { verb });
      return n;
    };
    const reconciles0 = await op.sum('controller_runtime_reconcile_total');
    const w0 = await writes();
    const reads0 =
      (await op.sum('smartcloudops_kube_requests_total', { verb: 'get' })) +
      (await op.sum('smartcloudops_kube_requests_total', { verb: 'list' }));
    await new Promise((r) => setTimeout(r, 60_000));
    const w1 = await writes();
    const reads1 =
      (await op.sum('smartcloudops_kube_requests_total', { verb: 'get' })) +
      (await op.sum('smartcloudops_kube_requests_total', { verb: 'list' }));
    expect({
      writes: w1 - w0,
      reads: reads1 - reads0,
      reconciles: (await op.sum('controller_runtime_reconcile_total')) - reconciles0,
    }).toEqual({
      writes: 0,
      reads: 0,
      reconciles: 0,
    });
  });
});
