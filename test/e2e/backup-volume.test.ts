// BackupSchedule's data-volume export end to end on the real node: a PersistentVolumeClaim holding files that a pod
// wrote, a BackupSchedule exporting one directory of it (include.data, dataVolumes with a path), the backup Job running
// the agent from the operator's image on the real node with the claim mounted read-only, and the archive read back
// from S3: its bytes match the manifest's entry (size, sha256, items), GNU tar extracts exactly the files the pod wrote
// (names, sizes, content) and nothing from outside the exported path.
// The cluster has no storage provisioner: the claim is bound to a hostPath PersistentVolume on a temporary directory
// of this machine (the real node's kubelet runs here), pinned to the real node by its nodeAffinity, so the Job's pod
// can only be scheduled there. The pods reach S3 (on 127.0.0.1) through a TCP forwarder on the bridge address.
// Skipped, saying so, when the cluster has no node labelled smartcloudops.ai/node=real.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { resourceRefOf } from '../../src/crds/kinds.js';
import { Resources, type KubeClient, type KubeObject, type ResourceRef } from '../../src/kube/index.js';
import { s3Client } from '../support/agent.js';
import { BRIDGE_IP, forwardOnBridge, type Forwarder } from '../support/bridge.js';
import { installCrds } from '../support/crds.js';
import { s3Env } from '../support/env.js';
import { deleteNamespace, eventually, testClient, uniqueName } from '../support/kube.js';
import { OperatorProcess } from '../support/operator.js';
import { operatorImage } from '../support/realnode.js';

jest.setTimeout(300_000);
const [LABEL_KEY, LABEL_VALUE] = ['smartcloudops.ai/node', 'real'];
const TAINT_KEY = 'smartcloudops.ai/real-node';
const BS = resourceRefOf('BackupSchedule');
const PV: ResourceRef = {
  group: '',
  version: 'v1',
  plural: 'persistentvolumes',
  kind: 'PersistentVolume',
  namespaced: false,
};
const PVC: ResourceRef = {
  group: '',
  version: 'v1',
  plural: 'persistentvolumeclaims',
  kind: 'PersistentVolumeClaim',
  namespaced: true,
};

async function realNodeName(): Promise<string | undefined> {
  const c = await testClient();
  try {
    return (await c.list(Resources.Node, { labelSelector: `${LABEL_KEY}=${LABEL_VALUE}` })).items[0]?.metadata.name;
  } finally {
    c.close();
  }
}
const nodeName = await realNodeName();
if (!nodeName) {
  if (process.env.CI) throw new Error(`test/e2e/backup-volume.test.ts: no node labelled ${LABEL_KEY}=${LABEL_VALUE}`);
  console.warn(`SKIPPED test/e2e/backup-volume.test.ts: no node labelled ${LABEL_KEY}=${LABEL_VALUE}`);
}

/** Deterministic file content, generated the same way in the writer pod (as JS source) and here. */
const GEN_SOURCE =
  '(seed, size) => { const b = Buffer.alloc(size); for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 17 + (i >> 9)) & 255; return b; }';
const gen = new Function(`return ${GEN_SOURCE}`)() as (seed: number, size: number) => Buffer;

const LONG = `${'quarterly-report-'.repeat(6)}final.pdf`; // 111 characters: past ustar's 100-byte name field
/** What the writer pod puts on the volume: path → content (text, or [seed, size] generated). */
const FILES: Record<string, string | [number, number]> = {
  'uploads/readme.txt': 'uploaded by the app pod\n',
  'uploads/avatars/user-1.png': [1, 1_572_864 + 123], // several of the agent's 256 KiB reads
  'uploads/avatars/empty.dat': '',
  [`uploads/docs/2026/${LONG}`]: [2, 4096],
  'models/model.bin': [3, 1000], // outside the exported path: must not be in the archive
};
const contentOf = (f: string | [number, number]) => (typeof f === 'string' ? Buffer.from(f) : gen(f[0], f[1]));

function filesUnder(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out[relative(dir, p)] = readFileSync(p);
      else throw new Error(`unexpected entry ${p}`);
    }
  };
  walk(dir);
  return out;
}

interface Bs extends KubeObject {
  status?: {
    conditions?: { type: string; status: string; reason: string; message: string }[];
    lastSuccessfulBackup?: { key: string; manifestKey?: string; size: number; sha256: string };
    lastFailedBackup?: { reason: string; message: string };
  };
}
interface ManifestJson {
  key?: string;
  parts: {
    name: string;
    kind: string;
    key: string;
    size: number;
    sha256: string;
    encoding: string;
    source?: string;
    items?: number;
  }[];
}

(nodeName ? describe : describe.skip)('BackupSchedule data volumes on the real node', () => {
  let client: KubeClient;
  let ns: string;
  let pvName: string;
  let hostDir: string;
  let work: string;
  let bucket: string;
  let s3Fwd: Forwarder;
  let op: OperatorProcess | undefined;

  beforeAll(async () => {
    client = await testClient();
    await installCrds(client);
    ns = uniqueName('agentrss-volume');
    await client.create(Resources.Namespace, {
      metadata: {
        name: ns,
        labels: { 'smartcloudops.ai/e2e': 'true', 'pod-security.kubernetes.io/enforce': 'restricted' },
      },
    });
    await eventually(`ServiceAccount default in ${ns}`, () =>
      client.get(Resources.ServiceAccount, ns, 'default').then(() => true),
    );
    // The volume's directory on this machine; pods run as 65532, so it is writable by all (it is ours, in /tmp).
    hostDir = mkdtempSync(join(os.tmpdir(), 'agentrss-pv-'));
    chmodSync(hostDir, 0o777);
    work = mkdtempSync(join(os.tmpdir(), 'agentrss-extract-'));
    bucket = `agentrss-volume-${randomBytes(3).toString('hex')}`;
    const s3 = s3Client();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    s3Fwd = await forwardOnBridge(Number(new URL(s3Env().endpoint).port));
    const s3e = s3Env();
    await client.create(Resources.Secret, {
      metadata: { name: 's3', namespace: ns },
      stringData: { AWS_ACCESS_KEY_ID: s3e.accessKeyId, AWS_SECRET_ACCESS_KEY: s3e.secretAccessKey },
    } as KubeObject);
    op = await OperatorProcess.start({
      identity: 'backup-volume-e2e',
      namespaces: [ns],
      extraArgs: [`--agent-image=${await operatorImage(client)}`],
    });
  });

  afterAll(async () => {
    await op?.kill('SIGKILL');
    if (ns) await deleteNamespace(client, ns);
    if (pvName) await client.delete(PV, undefined, pvName).catch(() => undefined);
    s3Fwd?.close();
    for (const d of [hostDir, work]) if (d) rmSync(d, { recursive: true, force: true });
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

  test('a PVC written by a pod is exported by the backup Job as tar.gz: files, sizes, content and the manifest entry', async () => {
    const image = await operatorImage(client);
    // A hostPath PersistentVolume pre-bound to the claim, on the real node only (RWO, Retain: we remove the directory).
    pvName = `${ns}-appdata`;
    await client.create(PV, {
      metadata: { name: pvName, labels: { 'smartcloudops.ai/e2e': 'true' } },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: '',
        hostPath: { path: hostDir, type: 'Directory' },
        claimRef: { namespace: ns, name: 'appdata' },
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [nodeName!] }] },
            ],
          },
        },
      },
    } as KubeObject);
    await client.create(PVC, {
      metadata: { name: 'appdata', namespace: ns },
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: '',
        volumeName: pvName,
        resources: { requests: { storage: '1Gi' } },
      },
    } as KubeObject);
    await eventually(
      'the claim bound',
      async () =>
        (await client.get<KubeObject & { status?: { phase?: string } }>(PVC, ns, 'appdata')).status?.phase === 'Bound',
      { timeoutMs: 60_000, intervalMs: 500 },
    );

    // The app's pod writes the files (as 65532, restricted), then exits.
    const spec = Object.fromEntries(
      Object.entries(FILES).map(([p, f]) => [p, typeof f === 'string' ? { text: f } : { gen: f }]),
    );
    const script = `const fs = require('fs'), path = require('path'); const gen = ${GEN_SOURCE};
      for (const [p, f] of Object.entries(JSON.parse(process.env.FILES))) {
        const full = path.join('/vol', p);
        fs.mkdirSync(path.dirname(full), { recursive: true });
        fs.writeFileSync(full, f.text !== undefined ? f.text : gen(f.gen[0], f.gen[1]));
      }`;
    const restricted = {
      allowPrivilegeEscalation: false,
      runAsNonRoot: true,
      runAsUser: 65532,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    };
    await client.create(Resources.Pod, {
      metadata: { name: 'writer', namespace: ns },
      spec: {
        restartPolicy: 'Never',
        automountServiceAccountToken: false,
        nodeSelector: { [LABEL_KEY]: LABEL_VALUE },
        tolerations: [{ key: TAINT_KEY, operator: 'Exists', effect: 'NoSchedule' }],
        containers: [
          {
            name: 'writer',
            image,
            imagePullPolicy: 'IfNotPresent',
            command: ['/usr/local/bin/node', '-e', script],
            env: [{ name: 'FILES', value: JSON.stringify(spec) }],
            securityContext: restricted,
            volumeMounts: [{ name: 'data', mountPath: '/vol' }],
          },
        ],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'appdata' } }],
      },
    } as KubeObject);
    await eventually(
      'the writer pod done',
      async () => {
        const p = await client.get<KubeObject & { status?: { phase?: string } }>(Resources.Pod, ns, 'writer');
        if (p.status?.phase === 'Failed') throw new Error(`the writer pod failed: ${JSON.stringify(p.status)}`);
        return p.status?.phase === 'Succeeded';
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    await client.delete(Resources.Pod, ns, 'writer');

    // A data-only schedule (database and config left out) exporting the claim's uploads/ directory, run now.
    await client.create(BS, {
      apiVersion: `${BS.group}/${BS.version}`,
      kind: 'BackupSchedule',
      metadata: { name: 'files', namespace: ns, annotations: { 'ops.smartcloudops.ai/backup-now': 'one' } },
      spec: {
        database: { secretRef: { name: 'no-database-here' } },
        schedule: '0 0 1 1 *',
        destination: {
          bucket,
          prefix: 'e2e',
          endpoint: `http://${BRIDGE_IP}:${s3Fwd.port}`,
          forcePathStyle: true,
          credentialsSecretRef: { name: 's3' },
        },
        include: {
          database: false,
          config: false,
          data: true,
          dataVolumes: [{ name: 'uploads', claimName: 'appdata', path: 'uploads' }],
        },
        activeDeadlineSeconds: 120,
        jobTemplate: {
          nodeSelector: { [LABEL_KEY]: LABEL_VALUE },
          tolerations: [{ key: TAINT_KEY, operator: 'Exists', effect: 'NoSchedule' }],
        },
      },
    } as KubeObject);
    const done = await eventually(
      'the data backup judged',
      async () => {
        const b = await client.get<Bs>(BS, ns, 'files');
        return b.status?.lastSuccessfulBackup || b.status?.lastFailedBackup ? b : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    expect(done.status?.lastFailedBackup).toBeUndefined();
    expect(done.status?.conditions?.find((c) => c.type === 'LastBackupSucceeded')?.status).toBe('True');

    // The Job ran on the real node with the claim mounted read-only at the path the agent was given.
    const jobs = (await client.list(Resources.Job, { namespace: ns })).items as (KubeObject & {
      spec: {
        template: {
          spec: {
            volumes: { name: string; persistentVolumeClaim?: { claimName: string; readOnly?: boolean } }[];
            containers: { args: string[]; volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[] }[];
          };
        };
      };
    })[];
    expect(jobs).toHaveLength(1);
    const pod = jobs[0]!.spec.template.spec;
    expect(pod.volumes).toContainEqual({
      name: 'data-uploads',
      persistentVolumeClaim: { claimName: 'appdata', readOnly: true },
    });
    expect(pod.containers[0]!.volumeMounts).toContainEqual({
      name: 'data-uploads',
      mountPath: '/data/uploads',
      readOnly: true,
    });
    expect(pod.containers[0]!.args).toContain('--data-dir=uploads=/data/uploads/uploads');
    const ran = (
      await client.list<KubeObject & { spec: { nodeName?: string } }>(Resources.Pod, {
        namespace: ns,
        labelSelector: `ops.smartcloudops.ai/backup-run`,
      })
    ).items;
    expect(ran.map((p) => p.spec.nodeName)).toEqual([nodeName]);

    // The manifest names one part, the data volume; the object matches its entry byte for byte.
    const s3 = s3Client();
    let archive: Buffer;
    let m: ManifestJson;
    let dataKey: string;
    try {
      const keys = (
        (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `e2e/${ns}.files/` }))).Contents ?? []
      )
        .map((o) => o.Key!)
        .sort();
      expect(keys.map((k) => k.replace(/^.*\/\d{8}T\d{6}Z-[^.]+/, ''))).toEqual([
        '.data-uploads.tar.gz',
        '.manifest.json',
      ]);
      const manifestKey = keys.find((k) => k.endsWith('.manifest.json'))!;
      dataKey = keys.find((k) => k.endsWith('.data-uploads.tar.gz'))!;
      expect(done.status?.lastSuccessfulBackup?.manifestKey).toBe(manifestKey);
      m = JSON.parse(
        await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifestKey }))).Body!.transformToString(),
      ) as ManifestJson;
      archive = Buffer.from(
        await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: dataKey }))).Body!.transformToByteArray(),
      );
    } finally {
      s3.destroy();
    }
    expect(m.key).toBeUndefined(); // no database part, no top-level dump fields
    const exported = Object.keys(FILES).filter((p) => p.startsWith('uploads/'));
    expect(m.parts).toEqual([
      {
        name: 'data/uploads',
        kind: 'data',
        key: dataKey,
        size: archive.length,
        sha256: createHash('sha256').update(archive).digest('hex'),
        contentType: 'application/gzip',
        encoding: 'tar+gzip',
        source: '/data/uploads/uploads',
        items: exported.length,
      },
    ]);
    expect(done.status?.lastSuccessfulBackup).toMatchObject({ key: dataKey, size: archive.length });

    // GNU tar extracts exactly the files the pod wrote under uploads/, with their sizes and bytes.
    execFileSync('tar', ['-xzf', '-', '-C', work], { input: archive });
    const got = filesUnder(work);
    const want = Object.fromEntries(exported.map((p) => [p.slice('uploads/'.length), contentOf(FILES[p]!)]));
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    for (const [p, bytes] of Object.entries(want)) {
      expect([p, got[p]!.length]).toEqual([p, bytes.length]);
      expect([p, createHash('sha256').update(got[p]!).digest('hex')]).toEqual([
        p,
        createHash('sha256').update(bytes).digest('hex'),
      ]);
    }
    expect(statSync(join(work, 'avatars/empty.dat')).size).toBe(0);
    // The listing has the directories too, and nothing from models/ (outside the exported path).
    const listing = execFileSync('tar', ['-tzf', '-'], { input: archive, encoding: 'utf8' }).split('\n');
    expect(listing.some((l) => l.includes('model'))).toBe(false);
    expect(listing).toContain(`docs/2026/${LONG}`);
  });
});
