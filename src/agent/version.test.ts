import { describe, expect, test } from '@jest/globals';
import { checkDumpCompatibility, parseServerVersionNum, parseToolVersion } from './version.js';

describe('PostgreSQL versions', () => {
  test('parses tool versions, Debian suffixes and pre-10 numbering included', () => {
    expect(parseToolVersion('pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n')).toMatchObject({
      major: 15,
      minor: 18,
      num: 150018,
      text: '15.18',
    });
    expect(parseToolVersion('pg_dump (PostgreSQL) 17beta2')).toMatchObject({ major: 17, minor: 0 });
    expect(parseToolVersion('pg_dump (PostgreSQL) 9.6.24')).toMatchObject({ major: 9.6, minor: 24, num: 90624 });
    expect(() => parseToolVersion('bash: pg_dump: command not found')).toThrow(/cannot parse/);
  });

  test('parses server_version_num', () => {
    expect(parseServerVersionNum('160004')).toMatchObject({ major: 16, minor: 4, text: '16.4' });
    expect(parseServerVersionNum(90624)).toMatchObject({ major: 9.6, minor: 24, text: '9.6.24' });
    expect(() => parseServerVersionNum('abc')).toThrow(/invalid/);
  });

  test('a server newer than pg_dump is refused with both versions named; older and equal servers pass', () => {
    const pgDump = parseToolVersion('pg_dump (PostgreSQL) 15.18');
    const r = checkDumpCompatibility(parseServerVersionNum('160002'), pgDump);
    expect(r.ok).toBe(false);
    expect(r.ok === false && r.reason).toBe('ServerNewerThanPgDump');
    expect(r.ok === false && r.message).toMatch(/16\.2.*15\.18/);
    expect(checkDumpCompatibility(parseServerVersionNum('150099'), pgDump).ok).toBe(true);
    expect(checkDumpCompatibility(parseServerVersionNum('120010'), pgDump).ok).toBe(true);
    expect(checkDumpCompatibility(parseServerVersionNum('90624'), pgDump).ok).toBe(true);
    const old = checkDumpCompatibility(parseServerVersionNum('90124'), pgDump);
    expect(old.ok === false && old.reason).toBe('ServerTooOld');
  });
});
