import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { AgentFailure, exitCodeOf, FAILURE_REASONS } from './errors.js';
import { parseArgs } from './options.js';

const s3env = { S3_BUCKET: 'backups', AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK' };

function failure(fn: () => unknown): AgentFailure {
  try {
    fn();
  } catch (err) {
    if (err instanceof AgentFailure) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

describe('agent options', () => {
  test('backup from flags and env, with defaults', () => {
    const o = parseArgs(['backup', '--schedule', 'nightly', '--run-id=r1', '--prefix=/prod/'], {
      ...s3env,
      PGHOST: 'db',
      PGPORT: '5433',
      PGUSER: 'app',
      PGDATABASE: 'sco',
      PGPASSWORD: 'pw',
      PGSSLMODE: 'require',
    });
    expect(o).toMatchObject({
      command: 'backup',
      schedule: 'nightly',
      runId: 'r1',
      format: 'plain',
      compressLevel: 6,
      verify: 'size',
      s3: {
        bucket: 'backups',
        prefix: 'prod',
        region: 'us-east-1',
        forcePathStyle: false,
        credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
        partSize: 5 * 1024 * 1024,
        queueSize: 2,
      },
      db: { host: 'db', port: 5433, user: 'app', database: 'sco', password: 'pw' },
    });
    expect(o.db.childEnv).toMatchObject({ PGSSLMODE: 'require', PGPASSWORD: 'pw' });
    expect(o.s3.sse).toBeUndefined();
  });

  test('S3 as users have it: endpoint, path style, region, SSE with a KMS key; no credentials → default chain', () => {
    const o = parseArgs(
      ['backup', '--endpoint=https://minio.local:9000', '--force-path-style', '--sse=aws:kms', '--sse-kms-key-id=k1'],
      { S3_BUCKET: 'b', AWS_REGION: 'eu-west-1' },
    );
    expect(o.s3).toMatchObject({
      endpoint: 'https://minio.local:9000',
      forcePathStyle: true,
      region: 'eu-west-1',
      sse: 'aws:kms',
      sseKmsKeyId: 'k1',
    });
    expect(o.s3.credentials).toBeUndefined();
    expect(parseArgs(['verify', '--manifest=k', '--sse', 'None'], { S3_BUCKET: 'b' }).s3.sse).toBeUndefined();
  });

  test('DATABASE_URL and PGPASSWORD_FILE feed the tools through env, never argv', () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'agent-opt-'));
    writeFileSync(join(dir, 'pw'), 's3cr3t\n');
    const o = parseArgs(['restore', '--manifest', 'k.manifest.json', '--clean', '--jobs=4'], {
      ...s3env,
      DATABASE_URL: 'postgres://app%40x:p%2Fw@db.example:6543/dr?sslmode=verify-full',
      PGPASSWORD_FILE: join(dir, 'pw'),
    });
    expect(o).toMatchObject({
      command: 'restore',
      manifest: 'k.manifest.json',
      clean: true,
      jobs: 4,
      maintenanceWorkMem: '256MB',
    });
    expect(o.db).toMatchObject({ host: 'db.example', port: 6543, user: 'app@x', database: 'dr', password: 's3cr3t' });
    expect(o.db.childEnv).toMatchObject({ PGSSLMODE: 'verify-full', PGPASSWORD: 's3cr3t' });
    expect(o.db.childEnv.PGPASSWORD_FILE).toBeUndefined();
  });

  test.each([
    [['dump'], /unknown command/],
    [['backup'], /--bucket \(S3_BUCKET\) is required/],
    [['backup', '--bucket=b', '--password=x'], /no secret is taken from the command line/],
    [['backup', '--bucket=b', '--format=tar'], /--format must be plain or custom/],
    [['backup', '--bucket=b', '--sse-kms-key-id=k'], /needs --sse=aws:kms/],
    [['backup', '--bucket=b', '--compress-level=12'], /--compress-level must be an integer from 0 to 9/],
    [['backup', '--bucket=b', '--schedule=Bad_Name'], /lowercase DNS name/],
    [['backup', '--bucket=b', '--clean'], /--clean does not apply to backup/],
    [['restore', '--bucket=b'], /--manifest .* is required/],
    [['restore', '--bucket=b', '--manifest=k', '--maintenance-work-mem=lots'], /must look like 256MB/],
    [['verify', '--bucket=b', '--manifest=k', '--nope'], /unknown flag --nope/],
  ])('%j is refused as InvalidArguments', (argv, message) => {
    const f = failure(() => parseArgs(argv, {}));
    expect(f.reason).toBe('InvalidArguments');
    expect(f.exitCode).toBe(2);
    expect(f.message).toMatch(message);
  });

  test('half-set S3 credentials are refused', () => {
    expect(
      failure(() => parseArgs(['verify', '--manifest=k'], { S3_BUCKET: 'b', AWS_ACCESS_KEY_ID: 'a' })).message,
    ).toMatch(/both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
  });
});

describe('exit codes', () => {
  test('each failure class has its own code; reasons of a class share it', () => {
    expect(exitCodeOf('DatabaseAuthFailed')).toBe(3);
    expect(exitCodeOf('ServerNewerThanPgDump')).toBe(4);
    expect(exitCodeOf('DumpKilled')).toBe(5);
    expect(exitCodeOf('DumpConnectionLost')).toBe(5);
    expect(exitCodeOf('BucketNotFound')).toBe(6);
    expect(exitCodeOf('StorageUnreachable')).toBe(6);
    expect(exitCodeOf('ChecksumMismatch')).toBe(7);
    expect(exitCodeOf('TargetNotEmpty')).toBe(8);
    expect(exitCodeOf('RestoreFailed')).toBe(9);
    expect(exitCodeOf('Terminated')).toBe(10);
    for (const r of FAILURE_REASONS) expect(exitCodeOf(r)).toBeGreaterThan(0);
  });
});

describe('backup parts', () => {
  test('database by default; config + encrypted secrets + repeatable data dirs from flags', () => {
    expect(parseArgs(['backup'], s3env)).toMatchObject({ parts: ['database'], secrets: 'exclude', dataDirs: [] });
    const o = parseArgs(
      [
        'backup',
        '--parts=database,config,data',
        '--config-namespace=shop',
        '--secrets',
        'Encrypted',
        '--encryption-key-file=/keys/k',
        '--data-dir=uploads=/data/uploads',
        '--data-dir',
        'models=/data/models',
      ],
      s3env,
    );
    expect(o).toMatchObject({
      parts: ['database', 'config', 'data'],
      configNamespace: 'shop',
      secrets: 'encrypted',
      encryptionKeyFile: '/keys/k',
      dataDirs: [
        { name: 'uploads', path: '/data/uploads' },
        { name: 'models', path: '/data/models' },
      ],
    });
  });

  test('the same from the environment (BACKUP_DATA_DIRS comma-separated)', () => {
    const o = parseArgs(['backup'], {
      ...s3env,
      BACKUP_PARTS: 'config,data',
      BACKUP_CONFIG_NAMESPACE: 'shop',
      BACKUP_DATA_DIRS: 'a=/x,b=/y',
      KUBECONFIG: '/k/config',
    });
    expect(o).toMatchObject({
      parts: ['config', 'data'],
      kubeconfig: '/k/config',
      dataDirs: [
        { name: 'a', path: '/x' },
        { name: 'b', path: '/y' },
      ],
    });
  });

  test.each([
    [['--parts=database,logs'], /--parts takes database, config and data/],
    [['--parts=config'], /--parts config needs --config-namespace/],
    [['--parts=config', '--config-namespace=Bad_NS'], /is not a namespace name/],
    [['--parts=config', '--config-namespace=a', '--secrets=encrypted'], /needs --encryption-key-file/],
    [['--parts=config', '--config-namespace=a', '--secrets=plain'], /exclude or encrypted/],
    [['--secrets=encrypted', '--encryption-key-file=/k'], /--secrets encrypted needs --parts config/],
    [['--config-namespace=a'], /--config-namespace needs --parts config/],
    [['--parts=data'], /needs at least one --data-dir/],
    [['--data-dir=a=/x'], /--data-dir needs --parts data/],
    [['--parts=data', '--data-dir=a=relative'], /name=\/absolute\/path/],
    [['--parts=data', '--data-dir=Up=/x'], /lowercase DNS label/],
    [['--parts=data', '--data-dir=a=/x', '--data-dir=a=/y'], /given twice/],
  ])('refused: %j', (args, message) => {
    const f = failure(() => parseArgs(['backup', ...args], s3env));
    expect(f.reason).toBe('InvalidArguments');
    expect(f.message).toMatch(message);
  });

  test('decrypt: --out required, a key for secrets, part names checked; --secret-key style flags still refused', () => {
    expect(parseArgs(['decrypt', '--manifest=m', '--out=/tmp/x', '--encryption-key-file=/k'], s3env)).toMatchObject({
      command: 'decrypt',
      part: 'secrets',
      out: '/tmp/x',
      encryptionKeyFile: '/k',
    });
    expect(parseArgs(['decrypt', '--manifest=m', '--part=data/up', '--out=/o'], s3env)).toMatchObject({
      part: 'data/up',
    });
    expect(failure(() => parseArgs(['decrypt', '--manifest=m', '--out=/o'], s3env)).message).toMatch(
      /needs --encryption-key-file/,
    );
    expect(failure(() => parseArgs(['decrypt', '--manifest=m'], s3env)).message).toMatch(/--out/);
    expect(failure(() => parseArgs(['decrypt', '--manifest=m', '--part=db', '--out=/o'], s3env)).message).toMatch(
      /--part must be/,
    );
    expect(failure(() => parseArgs(['backup', '--secret-key=x'], s3env)).message).toMatch(/refused/);
  });
});
