// Version arithmetic for pg_dump compatibility. pg_dump can dump servers of its own major version and older (back
// to 9.2 for pg_dump 15), never a newer one: it would stop with "server version mismatch" after connecting. The agent
// checks this itself before anything runs, so the failure is immediate and names both versions.

export interface PgVersion {
  /** 15 for 15.x; 9.6 for 9.6.x (before PostgreSQL 10 the major version had two parts). */
  major: number;
  minor: number;
  /** Integer form as server_version_num: 150018, 90624. */
  num: number;
  text: string;
}

/** Parses `pg_dump --version` / `psql --version` output, e.g. "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)". */
export function parseToolVersion(output: string): PgVersion {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(output);
  if (!m) throw new Error(`cannot parse a PostgreSQL tool version from "${output.trim().slice(0, 200)}"`);
  const a = Number(m[1]);
  const b = Number(m[2] ?? 0);
  const c = Number(m[3] ?? 0);
  if (a >= 10) return { major: a, minor: b, num: a * 10000 + b, text: `${a}.${b}` };
  return { major: Number(`${a}.${b}`), minor: c, num: a * 10000 + b * 100 + c, text: `${a}.${b}.${c}` };
}

/** Parses `SHOW server_version_num` (e.g. "150018", "90624"). */
export function parseServerVersionNum(value: string | number): PgVersion {
  const num = Number(value);
  if (!Number.isInteger(num) || num < 10000) throw new Error(`invalid server_version_num "${value}"`);
  if (num >= 100000) {
    const major = Math.floor(num / 10000);
    const minor = num % 10000;
    return { major, minor, num, text: `${major}.${minor}` };
  }
  const a = Math.floor(num / 10000);
  const b = Math.floor(num / 100) % 100;
  const c = num % 100;
  return { major: Number(`${a}.${b}`), minor: c, num, text: `${a}.${b}.${c}` };
}

export const OLDEST_DUMPABLE_SERVER = 90200;

export type Compatibility =
  { ok: true } | { ok: false; reason: 'ServerNewerThanPgDump' | 'ServerTooOld'; message: string };

export function checkDumpCompatibility(server: PgVersion, pgDump: PgVersion): Compatibility {
  if (server.major > pgDump.major) {
    return {
      ok: false,
      reason: 'ServerNewerThanPgDump',
      message:
        `the PostgreSQL server is version ${server.text} but this image's pg_dump is ${pgDump.text}; pg_dump cannot ` +
        `dump a newer major version. Run the agent from an image with PostgreSQL ${server.major} client tools ` +
        `(jobTemplate.image), or point --pg-bin at them`,
    };
  }
  if (server.num < OLDEST_DUMPABLE_SERVER) {
    return {
      ok: false,
      reason: 'ServerTooOld',
      message: `the PostgreSQL server is version ${server.text}; pg_dump ${pgDump.text} dumps servers from 9.2 on`,
    };
  }
  return { ok: true };
}
