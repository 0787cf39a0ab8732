// Bad manifests are rejected by the API server at admission (schema and CEL rules generated from src/crds), with a
// message that names the field. Uses server-side dry run: the full admission chain runs, nothing is stored.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { isInvalid, KubeApiError, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { resourceRefOf, type KindName } from '../../src/crds/kinds.js';
import { installCrds, readSamples } from '../support/crds.js';
import { createNamespace, deleteNamespace, testClient } from '../support/kube.js';

jest.setTimeout(120_000);

type Mutate = (spec: Record<string, any>) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

// [kind, what is wrong, mutation of the sample's spec, text the rejection must contain (names the field)]
const CASES: [KindName, string, Mutate, RegExp][] = [
  [
    'ScalingPolicy',
    'minReplicas above maxReplicas',
    (s) => ((s.minReplicas = 9), (s.maxReplicas = 3)),
    /spec\.minReplicas: Invalid value.*minReplicas must not exceed maxReplicas/,
  ],
  [
    'ScalingPolicy',
    'a window with min above max',
    (s) => (s.windows[0].minReplicas = 30),
    /spec\.windows\[0\]\.minReplicas.*minReplicas must not exceed maxReplicas/,
  ],
  [
    'ScalingPolicy',
    'Manual mode without replicas',
    (s) => ((s.mode = 'Manual'), delete s.replicas),
    /spec\.replicas.*replicas is required in Manual mode/,
  ],
  ['ScalingPolicy', 'an unknown mode', (s) => (s.mode = 'Turbo'), /spec\.mode: Unsupported value: "Turbo"/],
  [
    'ScalingPolicy',
    'maxReplicas as a string',
    (s) => (s.maxReplicas = 'ten'),
    /spec\.maxReplicas: Invalid value: "string"/,
  ],
  [
    'ScalingPolicy',
    'maxReplicas out of range',
    (s) => (s.maxReplicas = 5000),
    /spec\.maxReplicas: Invalid value: 5000: .*less than or equal to 1000/,
  ],
  [
    'ScalingPolicy',
    'component on a Deployment target',
    (s) => (s.targetRef = { kind: 'Deployment', name: 'web', component: 'backend' }),
    /spec\.targetRef.*component is required for kind SmartCloudOpsApp and not allowed for kind Deployment/,
  ],
  ['ScalingPolicy', 'a CPU target above 100%', (s) => (s.metrics.cpu = 150), /spec\.metrics\.cpu: Invalid value: 150/],
  [
    'BackupSchedule',
    'a 6-field cron',
    (s) => (s.schedule = '0 0 2 * * *'),
    /spec\.schedule: Invalid value: "0 0 2 \* \* \*": spec\.schedule in body should match/,
  ],
  ['BackupSchedule', 'an unknown format', (s) => (s.format = 'zip'), /spec\.format: Unsupported value: "zip"/],
  [
    'BackupSchedule',
    'both appRef and database',
    (s) => (s.database = { secretRef: { name: 'db' } }),
    /spec: Invalid value: set exactly one of appRef or database/,
  ],
  ['BackupSchedule', 'neither appRef nor database', (s) => delete s.appRef, /set exactly one of appRef or database/],
  [
    'BackupSchedule',
    'keepDays of 0',
    (s) => (s.retention.keepDays = 0),
    /spec\.retention\.keepDays: Invalid value: 0: .*greater than or equal to 1/,
  ],
  [
    'BackupSchedule',
    'an invalid bucket name',
    (s) => (s.destination.bucket = 'My_Bucket'),
    /spec\.destination\.bucket: Invalid value: "My_Bucket"/,
  ],
  [
    'BackupSchedule',
    'a KMS key without aws:kms',
    (s) => (s.destination.kmsKeyId = 'key-1'),
    /spec\.destination\.kmsKeyId.*kmsKeyId needs serverSideEncryption aws:kms/,
  ],
  [
    'BackupSchedule',
    'nothing included',
    (s) => (s.include = { database: false, config: false, data: false }),
    /spec\.include.*include must select at least one/,
  ],
  ['BackupSchedule', 'a missing destination', (s) => delete s.destination, /spec\.destination: Required value/],
  [
    'DRDrill',
    'integrity queries without a read-only role',
    (s) => delete s.checks.readOnlySecretRef,
    /spec\.checks\.readOnlySecretRef.*queries need readOnlySecretRef/,
  ],
  ['DRDrill', 'no restore target', (s) => delete s.restore, /spec\.restore: Required value/],
  [
    'DRDrill',
    'an unknown cleanup policy',
    (s) => (s.cleanup.policy = 'Sometimes'),
    /spec\.cleanup\.policy: Unsupported value: "Sometimes"/,
  ],
  ['DRDrill', 'a timeout below a minute', (s) => (s.timeoutSeconds = 5), /spec\.timeoutSeconds: Invalid value: 5/],
  [
    'CertRenewal',
    'renewBefore and renewBeforePercentage',
    (s) => (s.renewBeforePercentage = 30),
    /set renewBefore or renewBeforePercentage, not both/,
  ],
  [
    'CertRenewal',
    'no targets',
    (s) => (s.targets = []),
    /spec\.targets: Invalid value: 0: spec\.targets in body should have at least 1 items/,
  ],
  [
    'CertRenewal',
    'a target with both refs',
    (s) => (s.targets[0].secretRef = { name: 'tls' }),
    /spec\.targets\[0\].*set exactly one of secretRef or certificateRef/,
  ],
  [
    'CertRenewal',
    'a malformed duration',
    (s) => (s.renewBefore = '30 days'),
    /spec\.renewBefore: Invalid value: "30 days"/,
  ],
  [
    'CertRenewal',
    'a port out of range',
    (s) => (s.endpoints[0].port = 70000),
    /spec\.endpoints\[0\]\.port: Invalid value: 70000/,
  ],
  [
    'CertRenewal',
    'CertManager method on a plain Secret',
    (s) => (s.targets = [{ secretRef: { name: 'tls' } }]),
    /spec\.targets.*every target needs certificateRef/,
  ],
  ['SmartCloudOpsApp', 'a missing version', (s) => delete s.version, /spec\.version: Required value/],
  [
    'SmartCloudOpsApp',
    'a backend port out of range',
    (s) => (s.backend.port = 0),
    /spec\.backend\.port: Invalid value: 0/,
  ],
  [
    'SmartCloudOpsApp',
    'an error-rate ratio above 1',
    (s) => (s.rollout.analysis.errorRateMax = 5),
    /spec\.rollout\.analysis\.errorRateMax: Invalid value: 5/,
  ],
  [
    'SmartCloudOpsApp',
    'a malformed CPU quantity',
    (s) => (s.backend.resources.limits.cpu = 'lots'),
    /spec\.backend\.resources\.limits\.cpu: Invalid value: "lots"/,
  ],
  [
    'SmartCloudOpsApp',
    'an env var with value and valueFrom',
    (s) => (s.backend.env[1].value = 'x'),
    /spec\.backend\.env\[1\].*set value or valueFrom, not both/,
  ],
  [
    'SmartCloudOpsApp',
    'an unknown maxmemory policy',
    (s) => (s.cache.config.maxmemoryPolicy = 'lru'),
    /spec\.cache\.config\.maxmemoryPolicy: Unsupported value: "lru"/,
  ],
];

describe('admission rejects bad manifests, naming the field', () => {
  let client: KubeClient;
  let ns: string;
  const samples = new Map<string, KubeObject & { spec: unknown }>();

  beforeAll(async () => {
    client = await testClient();
    await installCrds(client);
    ns = await createNamespace(client, 'e2e-admission');
    for (const s of readSamples()) samples.set(s.kind as string, s as KubeObject & { spec: unknown });
  });
  afterAll(async () => {
    await deleteNamespace(client, ns);
    client.close();
  });

  test(`${CASES.length} cases (at least 20)`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(20);
  });

  test.each(CASES)('%s with %s', async (kind, _what, mutate, expected) => {
    const sample = samples.get(kind);
    if (!sample) throw new Error(`no sample for ${kind}`);
    const spec = structuredClone(sample.spec) as Record<string, unknown>;
    mutate(spec);
    const obj = { apiVersion: sample.apiVersion, kind, metadata: { name: 'bad', namespace: ns }, spec };
    let err: unknown;
    try {
      await client.create(resourceRefOf(kind), obj, { dryRun: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KubeApiError);
    expect(isInvalid(err)).toBe(true);
    expect((err as KubeApiError).status.message).toMatch(expected);
  });

  test('a DRDrill cannot name another namespace: appRef.namespace and drNamespace are unknown fields (kubectl and Argo CD with strict validation refuse them)', async () => {
    const sample = samples.get('DRDrill')!;
    for (const [field, mutate] of [
      ['spec.appRef.namespace', (s: Parameters<Mutate>[0]) => (s.appRef.namespace = 'prod')],
      ['spec.drNamespace', (s: Parameters<Mutate>[0]) => (s.drNamespace = 'other-team')],
    ] as const) {
      const spec = structuredClone(sample.spec) as Parameters<Mutate>[0];
      mutate(spec);
      const obj = { apiVersion: sample.apiVersion, kind: 'DRDrill', metadata: { name: 'bad', namespace: ns }, spec };
      let err: unknown;
      try {
        await client.create(resourceRefOf('DRDrill'), obj, { dryRun: true, fieldValidation: 'Strict' });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KubeApiError);
      expect((err as KubeApiError).status.message).toContain(`unknown field "${field}"`);
    }
  });

  test('immutable references cannot change', async () => {
    const sample = samples.get('ScalingPolicy')!;
    const ref = resourceRefOf('ScalingPolicy');
    await client.create(ref, { ...sample, metadata: { name: 'immutable', namespace: ns } });
    const err = await client.patch(ref, ns, 'immutable', { spec: { targetRef: { name: 'other-app' } } }, 'merge').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as KubeApiError).status.message).toMatch(/spec\.targetRef: Invalid value: targetRef is immutable/);
  });

  test('the valid samples pass the same admission', async () => {
    for (const [kind, sample] of samples) {
      if (kind === 'Namespace') continue;
      await client.create(
        resourceRefOf(kind as KindName),
        { ...sample, metadata: { name: 'good', namespace: ns } },
        { dryRun: true },
      );
    }
  });
});
