// Helpers shared by the benchmarks: a bounded pool, fresh namespaces, kwok nodes, metrics scraping, the bundled bench
// operator processes (bench/operator-process.ts) — spawn, read counters, stop; PostgreSQL (a generated source database
// of a given size) and child processes for the data benchmarks.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { repoRoot } from '../hack/cluster/config.js';
import { isAlreadyExists, Resources, type KubeClient, type KubeObject, type ResourceRef } from '../src/kube/index.js';
import { OPERATOR_NODE_OPTIONS } from '../src/node-options.js';
import { scrape as scrapeUrl } from '../test/support/prom.js';

export async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < items.length) await fn(items[i++] as T);
    }),
  );
}

export async function deleteNamespaceAndWait(client: KubeClient, name: string): Promise<void> {
  try {
    await client.delete(Resources.Namespace, undefined, name);
    for (;;) {
      await client.get(Resources.Namespace, undefined, name);
      await new Promise((r) => setTimeout(r, 500));
    }
  } catch {
    /* gone */
  }
}

export async function freshNamespace(client: KubeClient, name: string): Promise<void> {
  await deleteNamespaceAndWait(client, name);
  await client.create(Resources.Namespace, { metadata: { name } }).catch((e: unknown) => {
    if (!isAlreadyExists(e)) throw e;
  });
  for (;;) {
    try {
      await client.get(Resources.ServiceAccount, name, 'default');
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export const scrape = (port: number) => scrapeUrl(`http://127.0.0.1:${port}/metrics`);

export const sum = (m: Map<string, number>, name: string, match: (labels: string) => boolean = () => true) =>
  [...m].filter(([k]) => k.startsWith(`${name}{`) && match(k)).reduce((s, [, v]) => s + v, 0);

/** GET and LIST requests the process made, from its own counters. */
export const readsOf = (m: Map<string, number>) =>
  sum(m, 'smartcloudops_kube_requests_total', (k) => k.includes('verb="get"') || k.includes('verb="list"'));

/** Peak resident set (VmHWM) of a process, in MiB. */
export const peakRssMiB = (pid: number) =>
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

/**
 * The operator's read count (GET + LIST) once its caches synced: sampled as soon as /readyz turns 200, so that reads
 * per reconcile exclude the initial lists. `value` stays -1 until then.
 */
export function readsAtSync(healthPort: number, metricsPort: number): { value: number } {
  const out = { value: -1 };
  void (async () => {
    for (;;) {
      try {
        const r = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
        if (r.status === 200) {
          out.value = readsOf(await scrape(metricsPort));
          return;
        }
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return out;
}

// PostgreSQL and process helpers of the data benchmarks (bench:backup, bench:drdrill).

/** Where the benchmark's PostgreSQL is (the cluster's env.json, hack/cluster/env.ts). */
export interface PgConn {
  host: string;
  port: number;
  user: string;
  password: string;
}

export const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export async function sql<T extends pg.QueryResultRow>(
  conn: PgConn,
  database: string,
  text: string,
): Promise<pg.QueryResult<T>> {
  const c = new pg.Client({ ...conn, database });
  await c.connect();
  try {
    return await c.query<T>(text);
  } finally {
    await c.end();
  }
}

export async function databaseSize(conn: PgConn, db: string): Promise<number> {
  const r = await sql<{ s: string }>(conn, 'postgres', `SELECT pg_database_size('${db}') AS s`).catch(() => undefined);
  return r ? Number(r.rows[0]!.s) : 0;
}

/**
 * A source database of about `sizeMiB` (pg_database_size): four tables (ids, timestamps, numbers, text, jsonb; btree
 * indexes). Reused when one of about that size (0.9–1.2×) exists under that name (a previous run's --keep).
 */
export async function generateDatabase(conn: PgConn, name: string, sizeMiB: number): Promise<number> {
  const want = sizeMiB * 1024 * 1024;
  const have = await databaseSize(conn, name);
  if (have > want * 0.9 && have < want * 1.2) {
    console.log(`reusing ${name} (${mib(have)})`);
    return have;
  }
  await sql(conn, 'postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await sql(conn, 'postgres', `CREATE DATABASE ${name}`);
  const t0 = Date.now();
  for (let t = 1; t <= 4; t++) {
    await sql(
      conn,
      name,
      `CREATE TABLE t${t} (id bigint PRIMARY KEY, created timestamptz NOT NULL, n integer, amount numeric(12,2),
         label text, body text, doc jsonb);`,
    );
  }
  // ~330 bytes per row on disk with its two indexes; rows are added in batches until the size is reached.
  let rows = 0;
  const batch = 50_000;
  while ((await databaseSize(conn, name)) < want) {
    const t = 1 + ((rows / batch) % 4);
    await sql(
      conn,
      name,
      `INSERT INTO t${t} SELECT g, timestamptz '2024-01-01' + g * interval '1 second', (g * 7919) % 100000,
         round((g % 100000) / 7.0, 2), 'label-' || (g % 1000),
         md5(g::text) || ' lorem ipsum dolor sit amet ' || repeat(chr((97 + g % 26)::int), 40) || ' ' || md5((g * 3)::text),
         jsonb_build_object('g', g, 'tags', jsonb_build_array('a' || g % 10, 'b' || g % 7), 'ok', g % 2 = 0)
       FROM generate_series(${rows + 1}::bigint, ${rows + batch}) g`,
    );
    rows += batch;
  }
  for (let t = 1; t <= 4; t++) await sql(conn, name, `CREATE INDEX t${t}_created ON t${t} (created); ANALYZE t${t}`);
  const size = await databaseSize(conn, name);
  console.log(`generated ${name}: ${rows} rows, ${mib(size)} in ${secs(Date.now() - t0)}`);
  return size;
}

/** Rows in the four tables of a generated database (or of a restore of one). */
export async function rowCount(conn: PgConn, db: string): Promise<number> {
  const r = await sql<{ n: string }>(
    conn,
    db,
    'SELECT (SELECT count(*) FROM t1) + (SELECT count(*) FROM t2) + (SELECT count(*) FROM t3) + (SELECT count(*) FROM t4) AS n',
  );
  return Number(r.rows[0]!.n);
}

/** The environment of pg_dump/psql/pg_restore for one database (nothing else of this process's). */
export const toolEnv = (conn: PgConn, database: string): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  PGHOST: conn.host,
  PGPORT: String(conn.port),
  PGUSER: conn.user,
  PGPASSWORD: conn.password,
  PGDATABASE: database,
});

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** Runs a command to completion; its stdout, or an error with the end of its stderr. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`)),
    );
  });
}

/** Writes (create, update, patch, delete) the process made, from its own counters. */
export const writesOf = (m: Map<string, number>) =>
  sum(m, 'smartcloudops_kube_requests_total', (k) => /verb="(create|update|patch|delete)"/.test(k));

/** Prints the process's write counters, one line per verb/resource/code. */
export function printWrites(m: Map<string, number>): void {
  for (const [k, v] of m)
    if (k.startsWith('smartcloudops_kube_requests_total{') && /verb="(create|update|patch|delete)"/.test(k))
      console.log(`  ${k} ${v}`);
}

/** Every object of a kind in a namespace (all pages). */
export async function listAll<T extends KubeObject>(
  client: KubeClient,
  ref: ResourceRef,
  ns: string,
  labelSelector?: string,
): Promise<T[]> {
  return (await client.list<T>(ref, { namespace: ns, limit: 500, labelSelector })).items;
}

/** Bundles a bench operator entry (bench/<name>.ts → dist/bench/<name>.mjs) with esbuild, packages external. */
export function bundleOperator(name: string): string {
  console.log(`bundling bench/${name}.ts ...`);
  execFileSync(
    join(repoRoot, 'node_modules', '.bin', 'esbuild'),
    [
      `bench/${name}.ts`,
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--packages=external',
      '--log-level=warning',
      `--outfile=dist/bench/${name}.mjs`,
    ],
    { cwd: repoRoot, stdio: 'inherit' },
  );
  return join(repoRoot, 'dist', 'bench', `${name}.mjs`);
}

export interface BenchOperator {
  proc: ChildProcess;
  metricsPort: number;
  /** performance.now() just before the spawn. */
  t0: number;
  /** Reads (GET + LIST) when the caches synced; -1 until then. */
  synced: { value: number };
  /** Peak RSS (VmHWM) so far, in MiB. */
  rssMiB(): number;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

/**
 * Spawns a bundled bench operator (bench/operator-process.ts' arguments) with the operator's Node options, metrics
 * and health endpoints on random loopback ports, watching `namespace`.
 */
export function startOperator(
  bundle: string,
  o: { kubeconfig: string; namespace: string; concurrency: number; qps: number; burst: number; args?: string[] },
): BenchOperator {
  const metricsPort = 20000 + Math.floor(Math.random() * 10000);
  const healthPort = metricsPort + 1;
  const t0 = performance.now();
  const proc = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean),
      bundle,
      `--kubeconfig=${o.kubeconfig}`,
      `--namespace=${o.namespace}`,
      `--concurrency=${o.concurrency}`,
      `--qps=${o.qps}`,
      `--burst=${o.burst}`,
      `--metrics=127.0.0.1:${metricsPort}`,
      `--health=127.0.0.1:${healthPort}`,
      ...(o.args ?? []),
    ],
    { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, NODE_OPTIONS: OPERATOR_NODE_OPTIONS } },
  );
  return {
    proc,
    metricsPort,
    t0,
    synced: readsAtSync(healthPort, metricsPort),
    rssMiB: () => peakRssMiB(proc.pid as number),
    stop: async () => {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** Fake (kwok) nodes with room for `pods` pods; creates only names that do not exist. */
export async function addKwokNodes(client: KubeClient, prefix: string, pods: number, podsPerNode = 250) {
  const count = Math.ceil(pods / podsPerNode);
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  await pool(names, 8, (name) =>
    client
      .create(Resources.Node, {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', type: 'kwok' },
        },
        spec: {},
        status: {
          allocatable: { cpu: '1000', memory: '4Ti', pods: String(podsPerNode) },
          capacity: { cpu: '1000', memory: '4Ti', pods: String(podsPerNode) },
        },
      } as KubeObject)
      .catch((e: unknown) => {
        if (!isAlreadyExists(e)) throw e;
      }),
  );
  return names;
}

export async function removeNodes(client: KubeClient, names: string[]): Promise<void> {
  await pool(names, 8, (name) => client.delete(Resources.Node, undefined, name).catch(() => undefined));
}

/** The 1-minute load average (/proc/loadavg). */
export const loadAverage = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
