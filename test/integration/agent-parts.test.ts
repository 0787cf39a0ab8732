// The parts of a backup besides the dump, against the real S3 server and the local API server: a namespace's
// ConfigMaps as YAML and its Secrets encrypted (never plaintext in S3), each read back with `decrypt` and applied into
// a second namespace, equal to the originals; a data directory as tar.gz whose object matches the manifest's sha256
// and extracts (with the system tar) to the same files; the result line in the termination message file; and the
// part failures (missing data dir, missing namespace, a service account that may not list, a wrong key, a cut
// object) each with its reason and no manifest.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseAllDocuments, stringify } from 'yaml';
import { parseManifest } from '../../src/agent/manifest.js';
import { Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { s3Env, kubeconfigPath } from '../support/env.js';
import { createNamespace, deleteNamespace, testClient } from '../support/kube.js';
import { agent, agentEnv, createDatabase, dropDatabase, listKeys, rand, s3Client, seed } from '../support/agent.js';

const id = rand();
const db = `agent_parts_${id}`;
const prefix = `it-agent-parts/${id}`;
const tmp = mkdtempSync(join(os.tmpdir(), 'agent-parts-'));
const keyFile = join(tmp, 'key');
const key = randomBytes(32);
const dataDir = join(tmp, 'uploads');
let kube: KubeClient;
let ns = '';
let ns2 = '';

interface Obj extends KubeObject {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  type?: string;
}

const secretValues = [`db-password-${rand()}`, `api-token-${rand()}`];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function getObject(k: string): Promise<Buffer> {
  const s3 = s3Client();
  try {
    const r = await s3.send(new GetObjectCommand({ Bucket: s3Env().bucket, Key: k }));
    return Buffer.from(await r.Body!.transformToByteArray());
  } finally {
    s3.destroy();
  }
}

/** Every regular file (sha256), directory and symlink (target) below `root`. */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      const st = lstatSync(p);
      const rel = relative(root, p);
      if (st.isSymbolicLink()) out[rel] = `-> ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[`${rel}/`] = 'dir';
        walk(p);
      } else out[rel] = sha(readFileSync(p));
    }
  };
  walk(root);
  return out;
}

beforeAll(async () => {
  writeFileSync(keyFile, key.toString('base64') + '\n', { mode: 0o600 });
  await createDatabase(db);
  await seed(db, 200);
  kube = await testClient();
  ns = await createNamespace(kube, 'agent-parts');
  ns2 = await createNamespace(kube, 'agent-parts-restore');
  for (let i = 0; i < 20; i++) {
    // More than one page (16 per page) of ConfigMaps.
    await kube.create(Resources.ConfigMap, {
      metadata: { name: `cm-${i}`, namespace: ns, labels: { app: 'shop', i: String(i) } },
      data: { 'app.yaml': `port: ${5000 + i}\nname: "quoted: value"\n`, multi: 'a\nb\n  c\n' },
    } as Obj);
  }
  await kube.create(Resources.ConfigMap, {
    metadata: { name: 'binary', namespace: ns, annotations: { note: 'ü€' } },
    binaryData: { 'blob.bin': randomBytes(300).toString('base64') },
    immutable: true,
  } as Obj);
  await kube.create(Resources.Secret, {
    metadata: { name: 'db', namespace: ns },
    type: 'Opaque',
    data: { password: Buffer.from(secretValues[0]!).toString('base64') },
  } as Obj);
  await kube.create(Resources.Secret, {
    metadata: { name: 'api', namespace: ns, labels: { app: 'shop' } },
    type: 'Opaque',
    data: { token: Buffer.from(secretValues[1]!).toString('base64') },
  } as Obj);
  // A data directory: nested dirs, a multi-MiB file, an empty file, a name longer than ustar's 100 bytes, a symlink.
  mkdirSync(join(dataDir, 'a/b/c'), { recursive: true });
  mkdirSync(join(dataDir, 'empty-dir'));
  writeFileSync(join(dataDir, 'a/big.bin'), randomBytes(3 * 1024 * 1024 + 123));
  writeFileSync(join(dataDir, 'a/b/c/small.txt'), 'hello\n');
  writeFileSync(join(dataDir, 'empty.txt'), '');
  writeFileSync(join(dataDir, 'a/b/c', `${'long-name-'.repeat(12)}.txt`), 'long\n');
  symlinkSync('a/b/c/small.txt', join(dataDir, 'link'));
}, 120_000);

afterAll(async () => {
  await deleteNamespace(kube, ns);
  await deleteNamespace(kube, ns2);
  kube.close();
  await dropDatabase(db);
  rmSync(tmp, { recursive: true, force: true });
});

const env = (overrides: NodeJS.ProcessEnv = {}) => agentEnv(db, { KUBECONFIG: kubeconfigPath(), ...overrides });

describe('backup parts round trip', () => {
  let manifestKey = '';
  let result: Record<string, unknown> = {};
  const termination = join(tmp, 'termination-log');

  beforeAll(async () => {
    writeFileSync(termination, '');
    const run = await agent(
      [
        'backup',
        `--prefix=${prefix}`,
        '--schedule=all',
        '--parts=database,config,data',
        `--config-namespace=${ns}`,
        '--secrets=encrypted',
        `--encryption-key-file=${keyFile}`,
        `--data-dir=uploads=${dataDir}`,
        '--verify=full',
      ],
      env(),
      { terminationLog: termination },
    );
    result = run.result;
    expect(run.result).toMatchObject({ result: 'Succeeded' });
    manifestKey = String(run.result.manifestKey);
    expect(run.logs).not.toContain(secretValues[0]);
    expect(run.logs).not.toContain(key.toString('base64'));
  }, 120_000);

  test('each part is its own object next to the dump, with its own manifest entry', async () => {
    const m = parseManifest((await getObject(manifestKey)).toString());
    expect(m.parts!.map((p) => [p.name, p.kind, p.encoding])).toEqual([
      ['database', 'database', 'gzip'],
      ['configmaps', 'configmaps', 'gzip'],
      ['secrets', 'secrets', 'gzip+aes-256-gcm'],
      ['data/uploads', 'data', 'tar+gzip'],
    ]);
    expect(m.parts!.find((p) => p.name === 'configmaps')).toMatchObject({ items: 21, source: ns });
    expect(m.parts!.find((p) => p.name === 'secrets')).toMatchObject({ items: 2 });
    expect(m.parts!.find((p) => p.name === 'data/uploads')).toMatchObject({ items: 4, source: dataDir });
    expect(m.key).toBe(m.parts![0]!.key);
    const keys = await listKeys(`${prefix}/all/`);
    expect(keys).toEqual([...m.parts!.map((p) => p.key), manifestKey].sort());
    for (const p of m.parts!) {
      const body = await getObject(p.key);
      expect({ part: p.name, size: body.length, sha256: sha(body) }).toEqual({
        part: p.name,
        size: p.size,
        sha256: p.sha256,
      });
    }
    expect((result.parts as unknown[]).length).toBe(4);
  }, 30_000);

  test('the result line is in the termination message file', () => {
    expect(JSON.parse(readFileSync(termination, 'utf8'))).toEqual(result);
  });

  test('the Secrets object holds no plaintext: not the values, not their base64, not even gzip', async () => {
    const m = parseManifest((await getObject(manifestKey)).toString());
    const body = await getObject(m.parts!.find((p) => p.name === 'secrets')!.key);
    for (const v of secretValues) {
      expect(body.includes(Buffer.from(v))).toBe(false);
      expect(body.includes(Buffer.from(Buffer.from(v).toString('base64')))).toBe(false);
    }
    expect(body.subarray(0, 8).toString()).toBe('SCOENC01');
    expect(() => gunzipSync(body)).toThrow();
  }, 30_000);

  test('ConfigMaps and Secrets decrypt to YAML that recreates them, equal, in another namespace', async () => {
    for (const [part, ref, n] of [
      ['configmaps', Resources.ConfigMap, 21],
      ['secrets', Resources.Secret, 2],
    ] as const) {
      const out = join(tmp, `${part}.yaml`);
      const run = await agent(
        [
          'decrypt',
          `--manifest=${manifestKey}`,
          `--part=${part}`,
          `--out=${out}`,
          ...(part === 'secrets' ? [`--encryption-key-file=${keyFile}`] : []),
        ],
        env(),
      );
      expect(run.result).toMatchObject({ result: 'Succeeded', part });
      expect(run.logs + run.stdout).not.toContain(secretValues[0]);
      const docs = parseAllDocuments(readFileSync(out, 'utf8')).map((d) => d.toJS() as Obj);
      expect(docs).toHaveLength(n);
      for (const d of docs) {
        expect(d.metadata.namespace).toBe(ns);
        expect(Object.keys(d.metadata).sort()).toEqual(
          expect.not.arrayContaining(['uid', 'resourceVersion', 'managedFields', 'creationTimestamp']),
        );
        await kube.create(ref, { ...d, metadata: { ...d.metadata, namespace: ns2 } });
      }
      const strip = (o: Obj) => ({
        name: o.metadata.name,
        labels: o.metadata.labels,
        annotations: o.metadata.annotations,
        data: o.data,
        binaryData: o.binaryData,
        type: o.type,
        immutable: (o as { immutable?: boolean }).immutable,
      });
      const skip = (o: Obj) => o.metadata.name === 'kube-root-ca.crt';
      const a = (await kube.list<Obj>(ref, { namespace: ns })).items.filter((o) => !skip(o)).map(strip);
      const b = (await kube.list<Obj>(ref, { namespace: ns2 })).items.filter((o) => !skip(o)).map(strip);
      expect(b).toEqual(a);
      expect(a).toHaveLength(n);
    }
    const restored = await kube.get<Obj>(Resources.Secret, ns2, 'db');
    expect(Buffer.from(restored.data!.password!, 'base64').toString()).toBe(secretValues[0]);
  }, 30_000);

  test('the data dir object matches its sha256 and extracts with tar to the same tree', async () => {
    const m = parseManifest((await getObject(manifestKey)).toString());
    const part = m.parts!.find((p) => p.name === 'data/uploads')!;
    const body = await getObject(part.key);
    expect(sha(body)).toBe(part.sha256);
    const out = join(tmp, 'extracted');
    mkdirSync(out);
    writeFileSync(join(tmp, 'uploads.tar.gz'), body);
    execFileSync('tar', ['-xzf', join(tmp, 'uploads.tar.gz'), '-C', out]);
    expect(tree(out)).toEqual(tree(dataDir));
    expect(Object.keys(tree(dataDir))).toHaveLength(9);
    // decrypt --part data/<name> gives the tar itself.
    const tarOut = join(tmp, 'uploads.tar');
    const run = await agent(['decrypt', `--manifest=${manifestKey}`, '--part=data/uploads', `--out=${tarOut}`], env());
    expect(run.result).toMatchObject({ result: 'Succeeded' });
    expect(sha(readFileSync(tarOut))).toBe(sha(gunzipSync(body)));
  }, 30_000);

  test('verify checks every part; the database still restores from this manifest', async () => {
    const v = await agent(['verify', `--manifest=${manifestKey}`], env());
    expect(v.result).toMatchObject({
      result: 'Succeeded',
      parts: ['database', 'configmaps', 'secrets', 'data/uploads'],
    });
    const target = `agent_parts_r_${id}`;
    await createDatabase(target);
    try {
      const r = await agent(['restore', `--manifest=${manifestKey}`], agentEnv(target));
      expect(r.result).toMatchObject({ result: 'Succeeded' });
    } finally {
      await dropDatabase(target);
    }
  }, 30_000);

  test('a wrong key is refused (DecryptionFailed); a cut data object fails verify (SizeMismatch)', async () => {
    const wrong = join(tmp, 'wrong-key');
    writeFileSync(wrong, randomBytes(32));
    const out = join(tmp, 'never.yaml');
    const run = await agent(
      ['decrypt', `--manifest=${manifestKey}`, `--out=${out}`, `--encryption-key-file=${wrong}`],
      env(),
    );
    expect(run.result).toMatchObject({ result: 'Failed', reason: 'DecryptionFailed', exitCode: 7 });
    expect(existsSync(out)).toBe(false);

    const m = parseManifest((await getObject(manifestKey)).toString());
    const part = m.parts!.find((p) => p.name === 'data/uploads')!;
    const body = await getObject(part.key);
    const s3 = s3Client();
    try {
      await s3.send(
        new PutObjectCommand({ Bucket: s3Env().bucket, Key: part.key, Body: body.subarray(0, body.length - 1000) }),
      );
    } finally {
      s3.destroy();
    }
    const v = await agent(['verify', `--manifest=${manifestKey}`], env());
    expect(v.result).toMatchObject({ result: 'Failed', reason: 'SizeMismatch', exitCode: 7 });
  }, 30_000);
});

describe('part failures: a specific reason, no manifest, nothing left in S3', () => {
  test.each([
    ['a missing data dir', ['--parts=database,data', '--data-dir=x=/nonexistent/dir'], 'DataDirUnreadable', 12],
    ['a missing namespace', ['--parts=config', '--config-namespace=agent-no-such-ns'], 'NamespaceNotFound', 11],
  ])(
    '%s',
    async (_what, args, reason, code) => {
      const schedule = `fail-${String(reason).toLowerCase()}`;
      let started = 0;
      const run = await agent(['backup', `--prefix=${prefix}`, `--schedule=${schedule}`, ...args], env(), {
        onChild: () => started++,
      });
      expect(run.result).toMatchObject({ result: 'Failed', reason, exitCode: code });
      expect(started).toBe(0); // refused before pg_dump ran
      expect(await listKeys(`${prefix}/${schedule}/`)).toEqual([]);
    },
    30_000,
  );

  test('a service account that may not list ConfigMaps → ConfigAccessDenied before pg_dump runs', async () => {
    const tr = await kube.create<KubeObject & { status?: { token: string } }>(
      { ...Resources.ServiceAccount, plural: 'serviceaccounts/default/token', kind: 'TokenRequest' },
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        metadata: { namespace: ns },
        spec: { expirationSeconds: 600 },
      } as KubeObject,
    );
    const admin = readFileSync(kubeconfigPath(), 'utf8');
    const server = /server: (\S+)/.exec(admin)![1]!;
    const ca = /certificate-authority-data: (\S+)/.exec(admin)![1]!;
    const kc = join(tmp, 'sa-kubeconfig');
    writeFileSync(
      kc,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server, 'certificate-authority-data': ca } }],
        users: [{ name: 'sa', user: { token: tr.status!.token } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'sa' } }],
        'current-context': 'c',
      }),
    );
    let started = 0;
    const run = await agent(
      ['backup', `--prefix=${prefix}`, '--schedule=denied', '--parts=database,config', `--config-namespace=${ns}`],
      env({ KUBECONFIG: kc }),
      { onChild: () => started++ },
    );
    expect(started).toBe(0);
    expect(run.result).toMatchObject({ result: 'Failed', reason: 'ConfigAccessDenied', exitCode: 11 });
    expect(String(run.result.message)).toMatch(/configmaps.*403 Forbidden/);
    expect(run.logs + run.stdout).not.toContain(tr.status!.token);
    expect(await listKeys(`${prefix}/denied/`)).toEqual([]);
  }, 30_000);
});
