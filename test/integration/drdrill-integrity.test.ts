// The DR drill's integrity guards against the real PostgreSQL: a read-only role is proven before any query runs,
// queries run alone in a READ ONLY transaction, and a query that tries to write changes nothing.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  assertReadOnlyRole,
  databaseIdentity,
  IntegrityError,
  runIntegrityQuery,
} from '../../src/controllers/drdrill/integrity.js';
import { provenNotProduction } from '../../src/controllers/drdrill/guards.js';
import { postgresEnv } from '../support/env.js';

const suffix = randomBytes(4).toString('hex');
const db = `lead_integrity_${suffix}`;
const roRole = `lead_ro_${suffix}`;
const rwRole = `lead_rw_${suffix}`;
const password = randomBytes(12).toString('hex');

describe('DR drill integrity queries (real PostgreSQL)', () => {
  let admin: pg.Client;
  let owner: pg.Client;
  let ro: pg.Client;
  let rw: pg.Client;

  const connect = async (database: string, user?: string) => {
    const env = postgresEnv();
    const c = new pg.Client({ ...env, database, ...(user ? { user, password } : {}) });
    await c.connect();
    return c;
  };
  const sum = async () => Number((await owner.query('SELECT count(*) AS n, sum(v) AS s FROM items')).rows[0].s);

  beforeAll(async () => {
    admin = await connect(postgresEnv().database);
    await admin.query(`CREATE DATABASE ${db}`);
    await admin.query(`CREATE ROLE ${roRole} LOGIN PASSWORD '${password}'`);
    await admin.query(`CREATE ROLE ${rwRole} LOGIN PASSWORD '${password}'`);
    owner = await connect(db);
    await owner.query('CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL)');
    await owner.query('INSERT INTO items SELECT g, g FROM generate_series(1, 100) g');
    await owner.query(`GRANT SELECT ON items TO ${roRole}`);
    await owner.query(`GRANT SELECT, INSERT, DELETE ON items TO ${rwRole}`);
    ro = await connect(db, roRole);
    rw = await connect(db, rwRole);
  });

  afterAll(async () => {
    for (const c of [ro, rw, owner]) await c?.end().catch(() => undefined);
    await admin?.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
    await admin?.query(`DROP ROLE IF EXISTS ${roRole}`).catch(() => undefined);
    await admin?.query(`DROP ROLE IF EXISTS ${rwRole}`).catch(() => undefined);
    await admin?.end();
  });

  test('a SELECT-only role passes; a role with a write privilege, the owner and a superuser are refused', async () => {
    await expect(assertReadOnlyRole(ro)).resolves.toBeUndefined();
    await expect(assertReadOnlyRole(rw)).rejects.toThrow(/may INSERT, UPDATE, DELETE or TRUNCATE 1 table/);
    await expect(assertReadOnlyRole(owner)).rejects.toThrow(/superuser|owns/);
    const err = await assertReadOnlyRole(rw).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as IntegrityError).reason).toBe('RoleNotReadOnly');
  });

  test('a counting query returns its number', async () => {
    await expect(runIntegrityQuery(ro, 'SELECT count(*) FROM items', 5000)).resolves.toBe(100);
    await expect(runIntegrityQuery(ro, 'SELECT sum(v) FROM items WHERE v > 90', 5000)).resolves.toBe(955);
  });

  test('a query that writes is refused by the READ ONLY transaction and changes nothing, even as a writing role', async () => {
    const before = await sum();
    const err = await runIntegrityQuery(
      rw,
      'WITH d AS (DELETE FROM items RETURNING 1) SELECT count(*) FROM d',
      5000,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as IntegrityError).reason).toBe('QueryRefused');
    expect((err as Error).message).toMatch(/read-only transaction.*25006/);
    expect(await sum()).toBe(before);
  });

  test('a second statement (COMMIT; then a write) is refused before anything runs', async () => {
    const before = await sum();
    const err = await runIntegrityQuery(rw, 'SELECT 1; COMMIT; DELETE FROM items', 5000).catch((e: unknown) => e);
    expect((err as IntegrityError).reason).toBe('QueryRefused');
    expect((err as Error).message).toMatch(/multiple commands|42601/);
    expect(await sum()).toBe(before);
    // The connection is usable afterwards: the transaction was rolled back.
    await expect(runIntegrityQuery(ro, 'SELECT count(*) FROM items', 5000)).resolves.toBe(100);
  });

  test('the statement timeout stops a slow query; a non-numeric result is refused', async () => {
    const slow = await runIntegrityQuery(ro, 'SELECT count(*) FROM items, pg_sleep(2)', 200).catch((e: unknown) => e);
    expect((slow as IntegrityError).reason).toBe('QueryFailed');
    expect((slow as Error).message).toMatch(/statement timeout/);
    const text = await runIntegrityQuery(ro, "SELECT 'x'", 5000).catch((e: unknown) => e);
    expect((text as IntegrityError).reason).toBe('NotANumber');
    const two = await runIntegrityQuery(ro, 'SELECT 1, 2', 5000).catch((e: unknown) => e);
    expect((two as IntegrityError).reason).toBe('NotANumber');
  });

  test('identities: the same database through two connections is production; another database is not', async () => {
    const a = await databaseIdentity(owner);
    const b = await databaseIdentity(ro);
    const other = await databaseIdentity(admin);
    expect(a).toEqual(b);
    expect(a.systemIdentifier).toMatch(/^\d+$/);
    expect(provenNotProduction(a, b).ok).toBe(false);
    expect(provenNotProduction(a, other).ok).toBe(true);
  });
});
