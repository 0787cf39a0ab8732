// The backup Job (pure): restricted pod, credentials only through secretKeyRef, the agent's flags, the contract flags
// for config and data parts only when asked for.
import { describe, expect, test } from '@jest/globals';
import type { BackupScheduleSpec } from '../../crds/backupschedule.js';
import { agentAccess, agentArgs, backupJob, jobParams } from './job.js';

const spec = (over: Partial<BackupScheduleSpec> = {}): BackupScheduleSpec =>
  ({
    database: { secretRef: { name: 'db' } },
    schedule: '0 2 * * *',
    destination: {
      bucket: 'b',
      prefix: 'prod/',
      endpoint: 'http://s3:9000',
      forcePathStyle: true,
      credentialsSecretRef: { name: 's3' },
      serverSideEncryption: 'AES256',
    },
    include: { database: true, config: false },
    activeDeadlineSeconds: 600,
    ...over,
  }) as BackupScheduleSpec;

type Container = {
  command: string[];
  args: string[];
  env: { name: string; value?: string; valueFrom?: unknown }[];
  securityContext: Record<string, unknown>;
  volumeMounts: { mountPath: string }[];
  terminationMessagePolicy: string;
};
const build = (s: BackupScheduleSpec) =>
  backupJob({
    name: 'bs-t1',
    scheduleName: 'bs',
    runId: 't1',
    trigger: 'Schedule',
    scheduledAt: new Date('2026-01-01T02:00:00Z'),
    params: jobParams(s, { namespace: 'ns', folder: 'ns.bs', image: 'op:1', databaseSecret: 'db' }),
  }) as unknown as {
    metadata: { annotations: Record<string, string> };
    spec: {
      backoffLimit: number;
      activeDeadlineSeconds: number;
      template: { spec: { containers: Container[]; securityContext: Record<string, unknown>; volumes: unknown[] } };
    };
  };

describe('backupJob', () => {
  test('restricted pod running the agent from the operator image; secrets only as secretKeyRef', () => {
    const job = build(spec());
    const pod = job.spec.template.spec;
    const c = pod.containers[0]!;
    expect(job.spec.backoffLimit).toBe(0);
    expect(job.spec.activeDeadlineSeconds).toBe(600);
    expect(c.command).toEqual(['/usr/local/bin/node', '--max-semi-space-size=1', '/app/dist/agent/main.js']);
    // The agent's memory settings (src/agent/node-args.ts): one malloc arena, set where glibc reads it.
    expect(c.env).toContainEqual({ name: 'MALLOC_ARENA_MAX', value: '1' });
    expect(c.args).toEqual([
      'backup',
      '--bucket=b',
      '--schedule=ns.bs',
      '--run-id=t1',
      '--format=plain',
      '--verify=full',
      '--region=us-east-1',
      '--prefix=prod/',
      '--endpoint=http://s3:9000',
      '--force-path-style',
      '--sse=AES256',
    ]);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.terminationMessagePolicy).toBe('FallbackToLogsOnError');
    expect(c.volumeMounts.map((m) => m.mountPath)).toEqual(['/tmp']);
    for (const e of c.env) {
      if (e.value !== undefined) expect(['LOG_LEVEL', 'HOME', 'MALLOC_ARENA_MAX']).toContain(e.name);
      else expect(e.valueFrom).toHaveProperty('secretKeyRef');
    }
    expect(c.env.map((e) => e.name)).toEqual(
      expect.arrayContaining(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'PGPASSWORD', 'PGHOST', 'DATABASE_URL']),
    );
    expect(JSON.parse(job.metadata.annotations['ops.smartcloudops.ai/job-params']!)).not.toHaveProperty('password');
  });

  test('config, encrypted Secrets and data volumes: the agent contract flags and read-only mounts', () => {
    const s = spec({
      appRef: { name: 'app' },
      include: {
        database: true,
        config: true,
        secrets: 'Encrypted',
        encryptionKeySecretRef: { name: 'key', key: 'k' },
        data: true,
        dataVolumes: [{ name: 'uploads', claimName: 'uploads-pvc', path: 'files' }],
      },
    } as Partial<BackupScheduleSpec>);
    const p = jobParams(s, { namespace: 'ns', folder: 'ns.bs', image: 'op:1', databaseSecret: 'db' });
    expect(agentArgs(p, 't1').slice(-5)).toEqual([
      '--parts=database,config,data',
      '--config-namespace=ns',
      '--secrets=encrypted',
      '--encryption-key-file=/var/run/backup-key/k',
      '--data-dir=uploads=/data/uploads/files',
    ]);
    const job = backupJob({
      name: 'bs-t1',
      scheduleName: 'bs',
      runId: 't1',
      trigger: 'Schedule',
      scheduledAt: new Date(0),
      params: p,
    }) as unknown as { spec: { template: { spec: { volumes: Record<string, unknown>[] } } } };
    expect(job.spec.template.spec.volumes).toEqual(
      expect.arrayContaining([
        { name: 'data-uploads', persistentVolumeClaim: { claimName: 'uploads-pvc', readOnly: true } },
        { name: 'backup-key', secret: { secretName: 'key', items: [{ key: 'k', path: 'k' }] } },
      ]),
    );
    // A database-only backup passes none of the part flags (today's agent takes the database part by default).
    expect(
      agentArgs(jobParams(spec(), { namespace: 'ns', folder: 'f', image: 'i', databaseSecret: 'db' }), 't1').join(' '),
    ).not.toMatch(/--parts/);
  });

  test("compressionLevel reaches the agent; the default 6 adds no flag (earlier Jobs' frozen parameters stay equal)", () => {
    const o = { namespace: 'ns', folder: 'f', image: 'i', databaseSecret: 'db' };
    expect(agentArgs(jobParams({ ...spec(), compressionLevel: 1 }, o), 't1')).toContain('--compress-level=1');
    expect(agentArgs(jobParams({ ...spec(), compressionLevel: 0 }, o), 't1')).toContain('--compress-level=0');
    expect(jobParams({ ...spec(), compressionLevel: 6 }, o)).toEqual(jobParams(spec(), o));
    expect(agentArgs(jobParams(spec(), o), 't1').join(' ')).not.toMatch(/--compress-level/);
  });
});

describe('the agent account for config exports', () => {
  const job = (s: BackupScheduleSpec) =>
    backupJob({
      name: 'bs-t1',
      scheduleName: 'bs',
      runId: 't1',
      trigger: 'Schedule',
      scheduledAt: new Date('2026-01-01T02:00:00Z'),
      params: jobParams(s, { namespace: 'ns', folder: 'ns.bs', image: 'op:1', databaseSecret: 'db' }),
    });
  const podSpec = (j: ReturnType<typeof job>) =>
    (j.spec as { template: { spec: { serviceAccountName?: string; automountServiceAccountToken: boolean } } }).template
      .spec;

  test('a database-only backup runs without a service account token and needs no Role', () => {
    const j = job(spec());
    expect(podSpec(j).serviceAccountName).toBeUndefined();
    expect(podSpec(j).automountServiceAccountToken).toBe(false);
    expect(agentAccess('bs', 'ns', [j])).toEqual([]);
  });

  test('a config export runs as its own account, allowed to list ConfigMaps in its namespace only', () => {
    const j = job(spec({ appRef: { name: 'shop' }, include: { database: true, config: true } }));
    expect(podSpec(j)).toMatchObject({ serviceAccountName: 'bs-backup-agent', automountServiceAccountToken: true });
    const [sa, role, binding] = agentAccess('bs', 'ns', [j]) as unknown as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(sa).toMatchObject({ kind: 'ServiceAccount', metadata: { name: 'bs-backup-agent' } });
    expect(role).toMatchObject({
      kind: 'Role',
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
    });
    expect(binding).toMatchObject({
      kind: 'RoleBinding',
      roleRef: { kind: 'Role', name: 'bs-backup-agent' },
      subjects: [{ kind: 'ServiceAccount', name: 'bs-backup-agent', namespace: 'ns' }],
    });
  });

  test('Secrets are listable only when they are exported encrypted', () => {
    const j = job(
      spec({
        appRef: { name: 'shop' },
        include: { database: true, config: true, secrets: 'Encrypted', encryptionKeySecretRef: { name: 'k' } },
      } as Partial<BackupScheduleSpec>),
    );
    const role = agentAccess('bs', 'ns', [j])[1] as unknown as { rules: { resources: string[] }[] };
    expect(role.rules.map((r) => r.resources[0])).toEqual(['configmaps', 'secrets']);
  });
});
