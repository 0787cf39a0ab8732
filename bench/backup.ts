// Benchmark: the backup agent against the runbook's shell pipeline, same PostgreSQL and S3 server, one run.
//
//   npm run bench:backup                      a 1 GiB database (the size)
//   npm run bench:backup -- --size-mib=200    a smaller one; --jobs=N for pg_restore -j (default 4, the agent's); --keep keeps
//                                             the generated source database for the next run
//   --name=PREFIX (default bench_backup)      the databases' names (PREFIX_src, PREFIX_restore_*): several people can
//                                             share one PostgreSQL
//   --bucket=NAME                             an S3 bucket of one's own (created when missing); default env.json's
//
// Source: bench/common.ts generateDatabase — four tables (ids, timestamps, numbers, text, jsonb; btree indexes) filling
// pg_database_size to the size asked (reused when a previous --keep left one of about that size). Then, timed:
//   backup   baseline: bash -o pipefail -c 'pg_dump | gzip > file', then a multipart upload of the file (8 MiB parts,
//            4 in flight, as `aws s3 cp` does); agent: `node ${AGENT_NODE_ARGS} dist/agent/main.js backup` (compiled, with
//            AGENT_ENV as the Job sets it)
//            for --format plain and custom, streaming to S3 with the size read back (--verify=size).
//   restore  baseline: `gunzip -c file | psql -v ON_ERROR_STOP=1` from the local file (it does not pay for the
//            download); agent: `restore` of the plain dump (S3 → gunzip → psql, one transaction) and of the custom
//            dump (parallel ranged download to a temp file, verify, pg_restore -j N), each into a fresh database.
// Printed: wall times, ratios to the baseline, object sizes, and the agent's peak RSS (its own VmHWM, from the result
// line — not getrusage's maxrss, which starts at this script's own RSS when it spawns the agent; pg_dump/psql/pg_restore are separate processes in both variants). Nothing is asserted.
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync, readdirSync, existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { readServicesEnv } from '../hack/cluster/env.js';
import { repoRoot } from '../hack/cluster/config.js';
import { AGENT_ENV, AGENT_NODE_ARGS } from '../src/agent/node-args.js';
import { generateDatabase, mib, rowCount, run, secs, sql, timed, toolEnv } from './common.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const SIZE_MIB = Number(arg('size-mib') ?? 1024);
const JOBS = Number(arg('jobs') ?? 4);
const KEEP = process.argv.includes('--keep');
const NAME = arg('name') ?? 'bench_backup';
if (!/^[a-z_][a-z0-9_]{0,40}$/.test(NAME)) throw new Error(`--name=${NAME}: lower-case letters, digits and _ only`);
const SOURCE = `${NAME}_src`;
const PREFIX = `bench-backup/${Date.now().toString(36)}`;

const services = readServicesEnv();
if (!services.postgres || !services.s3) throw new Error('no services: run "npm run services:up" first');
const pgEnv = services.postgres;
const s3Env = { ...services.s3, bucket: arg('bucket') ?? services.s3.bucket };
const root = repoRoot;

const toolEnvOf = (database: string) => toolEnv(pgEnv, database);

const agentEnv = (database: string): NodeJS.ProcessEnv => ({
  ...toolEnvOf(database),
  ...AGENT_ENV, // as the backup Job sets it
  S3_BUCKET: s3Env.bucket,
  S3_ENDPOINT: s3Env.endpoint,
  S3_FORCE_PATH_STYLE: 'true',
  S3_PREFIX: PREFIX,
  AWS_REGION: s3Env.region,
  AWS_ACCESS_KEY_ID: s3Env.accessKeyId,
  AWS_SECRET_ACCESS_KEY: s3Env.secretAccessKey,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  NODE_OPTIONS: '--max-semi-space-size=8', // the image's; AGENT_NODE_ARGS on the command line take precedence
  LOG_LEVEL: 'warn',
});

async function agent(args: string[], database: string): Promise<Record<string, unknown>> {
  const out = await run(
    process.execPath,
    [...AGENT_NODE_ARGS, join(root, 'dist/agent/main.js'), ...args],
    agentEnv(database),
  );
  const result = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
  if (result.result !== 'Succeeded') throw new Error(`agent failed: ${JSON.stringify(result)}`);
  return result;
}

function s3(): S3Client {
  return new S3Client({
    endpoint: s3Env.endpoint,
    region: s3Env.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3Env.accessKeyId, secretAccessKey: s3Env.secretAccessKey },
  });
}

async function freshDb(name: string): Promise<string> {
  await sql(pgEnv, 'postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await sql(pgEnv, 'postgres', `CREATE DATABASE ${name}`);
  return name;
}

function buildAgent(): void {
  const dist = join(root, 'dist/agent/main.js');
  const newest = Math.max(
    ...readdirSync(join(root, 'src/agent')).map((f) => statSync(join(root, 'src/agent', f)).mtimeMs),
  );
  if (!existsSync(dist) || statSync(dist).mtimeMs < newest) {
    console.log('building dist/ (tsc)…');
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  }
}

async function main(): Promise<void> {
  buildAgent();
  const size = await generateDatabase(pgEnv, SOURCE, SIZE_MIB);
  const expectedRows = await rowCount(pgEnv, SOURCE);
  const work = mkdtempSync(join(os.tmpdir(), 'bench-backup-'));
  const file = join(work, 'backup.sql.gz');
  const client = s3();
  await client
    .send(new HeadBucketCommand({ Bucket: s3Env.bucket }))
    .catch(() => client.send(new CreateBucketCommand({ Bucket: s3Env.bucket })));
  const dbs: string[] = [];
  try {
    // Backup: baseline pipeline, then the agent in both formats.
    const dump = await timed(() =>
      run('bash', ['-o', 'pipefail', '-c', `pg_dump | gzip > '${file}'`], toolEnvOf(SOURCE)),
    );
    const upload = await timed(() =>
      new Upload({
        client,
        params: { Bucket: s3Env.bucket, Key: `${PREFIX}/baseline/backup.sql.gz`, Body: createReadStream(file) },
        partSize: 8 * 1024 * 1024,
        queueSize: 4,
      }).done(),
    );
    const baseBackup = dump.ms + upload.ms;
    const plain = await timed(() => agent(['backup', '--schedule=bench', '--format=plain'], SOURCE));
    const custom = await timed(() => agent(['backup', '--schedule=bench', '--format=custom'], SOURCE));

    // Restore: baseline from the local file, then the agent from S3.
    const dbBase = await freshDb(`${NAME}_restore_base`);
    dbs.push(dbBase);
    const baseRestore = await timed(() =>
      run('bash', ['-o', 'pipefail', '-c', `gunzip -c '${file}' | psql -X -q -v ON_ERROR_STOP=1`], toolEnvOf(dbBase)),
    );
    const dbPlain = await freshDb(`${NAME}_restore_plain`);
    dbs.push(dbPlain);
    const rPlain = await timed(() => agent(['restore', `--manifest=${plain.value.manifestKey}`], dbPlain));
    const dbCustom = await freshDb(`${NAME}_restore_custom`);
    dbs.push(dbCustom);
    const rCustom = await timed(() =>
      agent(['restore', `--manifest=${custom.value.manifestKey}`, `--jobs=${JOBS}`, `--work-dir=${work}`], dbCustom),
    );
    for (const db of dbs) {
      const n = await rowCount(pgEnv, db);
      if (n !== expectedRows) throw new Error(`${db} has ${n} rows, the source ${expectedRows}`);
    }

    const rss = (r: Record<string, unknown>) => mib(Number(r.peakRssBytes));
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
    console.log(`\nsource database ${mib(size)}, ${expectedRows} rows in 4 tables; every restore checked for all rows`);
    console.log(`plain dump ${mib(Number(plain.value.size))}, custom dump ${mib(Number(custom.value.size))}\n`);
    console.log('| step | baseline (runbook pipeline) | agent | ratio | agent peak RSS |');
    console.log('| --- | --- | --- | --- | --- |');
    console.log(
      `| backup, plain | ${secs(baseBackup)} (pg_dump\\|gzip ${secs(dump.ms)} + upload ${secs(upload.ms)}) | ${secs(plain.ms)} | ${ratio(plain.ms, baseBackup)} | ${rss(plain.value)} |`,
    );
    console.log(
      `| backup, custom | ${secs(baseBackup)} | ${secs(custom.ms)} | ${ratio(custom.ms, baseBackup)} | ${rss(custom.value)} |`,
    );
    console.log(
      `| restore, plain | ${secs(baseRestore.ms)} (gunzip\\|psql, local file) | ${secs(rPlain.ms)} | ${ratio(rPlain.ms, baseRestore.ms)} | ${rss(rPlain.value)} |`,
    );
    console.log(
      `| restore, custom -j ${JOBS} | ${secs(baseRestore.ms)} | ${secs(rCustom.ms)} | ${ratio(rCustom.ms, baseRestore.ms)} | ${rss(rCustom.value)} |`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
    for (const db of dbs) await sql(pgEnv, 'postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    if (!KEEP) await sql(pgEnv, 'postgres', `DROP DATABASE IF EXISTS ${SOURCE} WITH (FORCE)`);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: s3Env.bucket, Prefix: `${PREFIX}/` }));
    for (const o of listed.Contents ?? [])
      await client.send(new DeleteObjectCommand({ Bucket: s3Env.bucket, Key: o.Key! }));
    client.destroy();
  }
}

await main();
