// The database side that does not go through the PostgreSQL tools: a libpq-compatible connection (node-postgres) for
// the pre-flight checks (credentials, server version, emptiness of a restore target) so that those failures are
// precise and happen before any dump or restore starts. Connection settings come from the same PG* values the tools
// get; the password is passed in memory, never on a command line.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { AgentFailure } from './errors.js';
import type { DatabaseOptions } from './options.js';
import { redact } from './sanitize.js';
import { parseServerVersionNum, type PgVersion } from './version.js';

function sslFor(env: Record<string, string>): pg.ClientConfig['ssl'] {
  const mode = env.PGSSLMODE ?? 'disable';
  if (mode === 'require') return { rejectUnauthorized: false };
  if (mode === 'verify-ca' || mode === 'verify-full') {
    return { rejectUnauthorized: true, ...(env.PGSSLROOTCERT ? { ca: readFileSync(env.PGSSLROOTCERT, 'utf8') } : {}) };
  }
  return false;
}

export async function connect(db: DatabaseOptions, appName: string, database?: string): Promise<pg.Client> {
  const client = new pg.Client({
    host: db.host ?? 'localhost',
    port: db.port ?? 5432,
    user: db.user ?? 'postgres',
    database: database ?? db.database ?? db.user ?? 'postgres',
    ...(db.password !== undefined ? { password: db.password } : {}),
    application_name: appName,
    connectionTimeoutMillis: Number(db.childEnv.PGCONNECT_TIMEOUT ?? 10) * 1000,
    ssl: sslFor(db.childEnv),
  });
  client.on('error', () => undefined); // a terminated backend after we are done must not crash the agent
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw pgFailure(err, db, `connecting to ${db.host ?? 'localhost'}:${db.port ?? 5432}`);
  }
  return client;
}

export function pgFailure(err: unknown, db: DatabaseOptions, what: string): AgentFailure {
  if (err instanceof AgentFailure) return err;
  const e = err as { code?: string; message?: string };
  const message = `${what}: ${redact(e.message ?? String(err), [db.password])}`;
  switch (e.code) {
    case '28P01':
    case '28000':
      return new AgentFailure('DatabaseAuthFailed', message, { cause: err });
    case '3D000':
      return new AgentFailure('DatabaseNotFound', message, { cause: err });
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ECONNRESET':
    case '57P03': // cannot_connect_now (starting up / shutting down)
      return new AgentFailure('DatabaseUnreachable', message, { cause: err });
  }
  if (/timeout|terminated unexpectedly|Connection terminated/i.test(e.message ?? '')) {
    return new AgentFailure('DatabaseUnreachable', message, { cause: err });
  }
  return new AgentFailure('DatabaseError', message, { cause: err });
}

export interface ServerInfo {
  version: PgVersion;
  versionText: string;
  database: string;
}

export async function serverInfo(client: pg.Client): Promise<ServerInfo> {
  const r = await client.query<{ num: string; text: string; db: string }>(
    "SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS text, current_database() AS db",
  );
  const row = r.rows[0]!;
  return { version: parseServerVersionNum(row.num), versionText: row.text, database: row.db };
}

const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
  AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

/** What makes a restore target "not empty": relations, routines or types in user schemas, extra schemas. */
export async function userObjects(
  client: pg.Client,
): Promise<{ relations: number; routines: number; schemas: number }> {
  const r = await client.query<{ relations: string; routines: string; schemas: string }>(`
    SELECT
      (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMAS}) AS relations,
      (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE ${USER_SCHEMAS} AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e'))
        AS routines,
      (SELECT count(*) FROM pg_namespace n WHERE ${USER_SCHEMAS} AND n.nspname <> 'public') AS schemas`);
  const row = r.rows[0]!;
  return { relations: Number(row.relations), routines: Number(row.routines), schemas: Number(row.schemas) };
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * SQL that empties the target for --clean: every user schema dropped with its contents, and a fresh `public` as
 * initdb makes it (owned by pg_database_owner from PostgreSQL 15 on).
 */
export async function cleanStatements(client: pg.Client, server: PgVersion): Promise<string> {
  const r = await client.query<{ nspname: string }>(
    `SELECT n.nspname FROM pg_namespace n WHERE ${USER_SCHEMAS} ORDER BY 1`,
  );
  const stmts = r.rows.map((x) => `DROP SCHEMA IF EXISTS ${quoteIdent(x.nspname)} CASCADE;`);
  stmts.push(
    server.major >= 15
      ? 'CREATE SCHEMA public AUTHORIZATION pg_database_owner; GRANT USAGE ON SCHEMA public TO PUBLIC;'
      : 'CREATE SCHEMA public; GRANT ALL ON SCHEMA public TO PUBLIC;',
    "COMMENT ON SCHEMA public IS 'standard public schema';",
  );
  return `${stmts.join('\n')}\n`;
}
