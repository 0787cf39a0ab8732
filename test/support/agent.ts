// Helpers for the backup agent's integration tests: a scratch database seeded with several tables and types, per-table
// row counts and content checksums, and an in-process agent run that captures the result line and the logs.
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pg from 'pg';
import { runAgent } from '../../src/agent/run.js';
import { postgresEnv, s3Env } from './env.js';

export const rand = () => randomBytes(4).toString('hex');

export async function admin<T>(fn: (c: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
  const c = new pg.Client({ ...postgresEnv(), database });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function createDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
}

export async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

/** Several tables, many types (text with quotes/newlines/unicode, bytea, jsonb, arrays, numeric, enums, NULLs). */
export async function seed(database: string, rows = 3000): Promise<void> {
  await admin(async (c) => {
    await c.query(`
      CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
      CREATE SCHEMA app;
      CREATE TABLE app.users (
        id bigserial PRIMARY KEY, email text UNIQUE NOT NULL, name text, mood mood, created timestamptz NOT NULL,
        balance numeric(12, 2), active boolean, tags text[], profile jsonb, avatar bytea);
      CREATE TABLE app.orders (
        id serial PRIMARY KEY, user_id bigint REFERENCES app.users(id), amount double precision,
        placed date, note text);
      CREATE INDEX orders_user ON app.orders (user_id);
      CREATE TABLE public.events (id uuid PRIMARY KEY, at timestamp, payload json, n int4range, ip inet);
      CREATE TABLE public.empty_table (x int);
      CREATE VIEW app.big_spenders AS SELECT user_id, sum(amount) AS total FROM app.orders GROUP BY user_id;
      CREATE FUNCTION app.total(u bigint) RETURNS double precision LANGUAGE sql AS
        'SELECT coalesce(sum(amount), 0) FROM app.orders WHERE user_id = u';
      INSERT INTO app.users (email, name, mood, created, balance, active, tags, profile, avatar)
        SELECT 'u' || g || '@example.com',
               CASE WHEN g % 7 = 0 THEN NULL ELSE E'Name ''quoted'' \\\\ tab\\t nl\\n ü€ ' || g END,
               (ARRAY['sad', 'ok', 'happy']::mood[])[1 + g % 3],
               timestamptz '2024-01-01 00:00:00+00' + g * interval '37 minutes',
               round((g * 3.17)::numeric, 2), g % 2 = 0, ARRAY['t' || (g % 5), 'x,y'],
               jsonb_build_object('g', g, 'nested', jsonb_build_object('a', ARRAY[1, 2, g])),
               decode(md5(g::text), 'hex')
        FROM generate_series(1, ${rows}) g;
      INSERT INTO app.orders (user_id, amount, placed, note)
        SELECT 1 + g % ${rows}, g / 3.0, date '2025-01-01' + g % 365, repeat('n', g % 50)
        FROM generate_series(1, ${rows * 2}) g;
      INSERT INTO public.events (id, at, payload, n, ip)
        SELECT md5('e' || g)::uuid, timestamp '2025-06-01' + g * interval '1 second',
               json_build_object('k', g), int4range(g, g + 10), ('10.0.' || (g % 250) || '.' || (g % 200))::inet
        FROM generate_series(1, ${rows}) g;`);
  }, database);
}

export interface TableState {
  rows: number;
  checksum: string;
}

/** Row count and an order-independent content checksum of every user table. */
export async function snapshot(database: string): Promise<Record<string, TableState>> {
  return admin(async (c) => {
    const tables = await c.query<{ t: string }>(
      `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables
       WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    );
    const out: Record<string, TableState> = {};
    for (const { t } of tables.rows) {
      const r = await c.query<{ n: string; h: string | null }>(
        `SELECT count(*) AS n, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM ${t} x`,
      );
      out[t] = { rows: Number(r.rows[0]!.n), checksum: r.rows[0]!.h ?? '' };
    }
    return out;
  }, database);
}

export function s3Client(endpoint?: string): S3Client {
  const e = s3Env();
  return new S3Client({
    endpoint: endpoint ?? e.endpoint,
    region: e.region,
    forcePathStyle: true,
    credentials: { accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey },
    maxAttempts: 1,
  });
}

export async function listKeys(prefix: string): Promise<string[]> {
  const s3 = s3Client();
  try {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: s3Env().bucket, Prefix: prefix }));
    return (r.Contents ?? []).map((o) => o.Key!).sort();
  } finally {
    s3.destroy();
  }
}

/** The agent's environment as a Job would set it: PG* and S3/AWS variables. */
export function agentEnv(database: string, overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const p = postgresEnv();
  const s = s3Env();
  return {
    PATH: process.env.PATH,
    PGHOST: p.host,
    PGPORT: String(p.port),
    PGUSER: p.user,
    PGPASSWORD: p.password,
    PGDATABASE: database,
    S3_BUCKET: s.bucket,
    S3_ENDPOINT: s.endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: s.region,
    AWS_ACCESS_KEY_ID: s.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s.secretAccessKey,
    LOG_LEVEL: 'debug',
    ...overrides,
  };
}

export interface AgentRun {
  code: number;
  result: Record<string, unknown>;
  stdout: string;
  logs: string;
}

export async function agent(
  argv: string[],
  env: NodeJS.ProcessEnv,
  hooks: { onChild?: (tool: string, pid: number) => void; signal?: AbortSignal; terminationLog?: string } = {},
): Promise<AgentRun> {
  const lines: string[] = [];
  let logs = '';
  const logTo = new Writable({
    write(chunk: Buffer, _e, cb) {
      logs += chunk.toString();
      cb();
    },
  });
  const code = await runAgent(argv, { env, out: (l) => lines.push(l), logTo, ...hooks });
  if (lines.length !== 1) throw new Error(`expected exactly one result line, got ${lines.length}`);
  return { code, result: JSON.parse(lines[0]!) as Record<string, unknown>, stdout: lines.join('\n'), logs };
}
