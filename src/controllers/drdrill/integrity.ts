// Integrity queries of a DR drill, run so that they cannot change production whatever their text says:
//   1. as a role proven read-only first (not superuser, no CREATEROLE/CREATEDB/REPLICATION/BYPASSRLS, owns no
//      relation, and holds no INSERT/UPDATE/DELETE/TRUNCATE privilege on any table outside the system schemas);
//   2. inside BEGIN READ ONLY with SET LOCAL statement_timeout, always rolled back;
//   3. through the extended query protocol (queryMode 'extended'), which accepts exactly one statement:
//      "SELECT 1; COMMIT; DELETE ..." is refused by the server before anything runs. (node-postgres sends a query
//      with an empty parameter list by the simple protocol, which runs every statement: the mode must be explicit.)
// The result must be one row with one numeric column (a count, a sum).
import type pg from 'pg';
import { IDENTITY_SQL, type DatabaseIdentity } from './guards.js';

export class IntegrityError extends Error {
  constructor(
    readonly reason: 'RoleNotReadOnly' | 'QueryRefused' | 'QueryFailed' | 'NotANumber',
    message: string,
  ) {
    super(message);
    this.name = 'IntegrityError';
  }
}

/** The PostgreSQL error classes that mean "the server refused to run this as a read-only single statement". */
const REFUSED = new Set(['25006', '42601', '42501']); // read_only_sql_transaction, syntax (multiple commands), privilege

const ROLE_SQL = `
SELECT r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls AS privileged,
  (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE pg_has_role(current_user, c.relowner, 'USAGE')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
      AND n.nspname NOT LIKE 'pg_temp%') AS owned,
  (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
      AND has_table_privilege(current_user, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')) AS writable
FROM pg_roles r WHERE r.rolname = current_user`;

/** Refuses a role that could write: the first guard, checked before any integrity query runs. */
export async function assertReadOnlyRole(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ privileged: boolean; owned: number; writable: number }>(ROLE_SQL);
  const r = rows[0];
  if (!r) throw new IntegrityError('RoleNotReadOnly', 'the integrity role is not in pg_roles');
  const why: string[] = [];
  if (r.privileged) why.push('it has superuser, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS');
  if (r.owned > 0) why.push(`it owns (or is a member of the owner of) ${r.owned} relation(s)`);
  if (r.writable > 0) why.push(`it may INSERT, UPDATE, DELETE or TRUNCATE ${r.writable} table(s)`);
  if (why.length) throw new IntegrityError('RoleNotReadOnly', `the integrity role is not read-only: ${why.join('; ')}`);
}

/** Runs one integrity query read-only and returns its single numeric value. */
export async function runIntegrityQuery(client: pg.ClientBase, sql: string, timeoutMs: number): Promise<number> {
  await client.query('BEGIN READ ONLY');
  try {
    await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
    let rows: unknown[][];
    try {
      // Extended protocol: one statement only. Rows as arrays: two columns of the same name stay two values.
      // (@types/pg does not know queryMode; node-postgres ≥ 8.11 does.)
      const query = { text: sql, rowMode: 'array', queryMode: 'extended' } as pg.QueryArrayConfig;
      ({ rows } = await client.query<unknown[]>(query));
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      const msg = (err as Error).message;
      if (REFUSED.has(code)) throw new IntegrityError('QueryRefused', `refused: ${msg} (SQLSTATE ${code})`);
      throw new IntegrityError('QueryFailed', `${msg}${code ? ` (SQLSTATE ${code})` : ''}`);
    }
    const values = rows[0] ?? [];
    const n = values.length === 1 && rows.length === 1 && values[0] !== null ? Number(values[0]) : NaN;
    if (!Number.isFinite(n))
      throw new IntegrityError(
        'NotANumber',
        `the query must return one row with one numeric value, got ${rows.length} row(s)`,
      );
    return n;
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
}

/** The identity of the database a client is connected to, as the server reports it. */
export async function databaseIdentity(client: pg.ClientBase): Promise<DatabaseIdentity> {
  const { rows } = await client.query<{ system_identifier: string; database_oid: number; database: string }>(
    IDENTITY_SQL,
  );
  const r = rows[0];
  if (!r) throw new Error('no pg_database row for the current database');
  return { systemIdentifier: r.system_identifier, databaseOid: r.database_oid, database: r.database };
}
