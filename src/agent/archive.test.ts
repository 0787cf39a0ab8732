// The completeness checks against synthetic dumps built the way pg_dump writes them (pg_backup_archiver.c WriteHead /
// WriteToc, pg_backup_custom.c data blocks); test/integration/agent.test.ts runs them on real pg_dump output.
import { describe, expect, test } from '@jest/globals';
import { CustomArchiveWalker, PLAIN_COMPLETION_MARKER, PlainDumpTail } from './archive.js';

const INT = 4;
const int = (v: number) => {
  const b = Buffer.alloc(1 + INT);
  b[0] = v < 0 ? 1 : 0;
  b.writeUInt32LE(Math.abs(v), 1);
  return b;
};
const str = (s: string | null) => (s === null ? int(-1) : Buffer.concat([int(Buffer.byteLength(s)), Buffer.from(s)]));

interface Entry {
  id: number;
  desc: string;
  data?: Buffer[]; // chunks; undefined = no data dumper
}

function archive(entries: Entry[], minor = 14): Buffer {
  const parts: Buffer[] = [Buffer.from('PGDMP'), Buffer.from([1, minor, 0, INT, 8, 1])];
  parts.push(minor >= 15 ? Buffer.from([1]) : int(-1)); // compression
  for (let i = 0; i < 7; i++) parts.push(int(i));
  parts.push(str('smartcloudops'), str('15.18'), str('15.18'));
  parts.push(int(entries.length));
  for (const e of entries) {
    parts.push(int(e.id), int(e.data ? 1 : 0), str('0'), str(String(e.id)), str(`t${e.id}`), str(e.desc), int(2));
    parts.push(str('CREATE ...;'), str('DROP ...;'), str(e.data ? 'COPY ...' : ''), str('public'), str(''));
    if (minor >= 14) parts.push(str('heap'));
    if (minor >= 16) parts.push(int(114));
    parts.push(str('postgres'), str('false'), str('1'), str(null));
    parts.push(Buffer.from([e.data ? 1 : 3]), Buffer.alloc(8));
  }
  for (const e of entries) {
    if (!e.data) continue;
    parts.push(Buffer.from([1]), int(e.id));
    for (const c of e.data) parts.push(int(c.length), c);
    parts.push(int(0));
  }
  return Buffer.concat(parts);
}

function walk(buf: Buffer, chunk = 7) {
  const w = new CustomArchiveWalker();
  for (let i = 0; i < buf.length; i += chunk) w.push(buf.subarray(i, i + chunk));
  return w.end();
}

const entries: Entry[] = [
  { id: 1, desc: 'TABLE' },
  { id: 2, desc: 'TABLE DATA', data: [Buffer.alloc(3000, 1), Buffer.alloc(10, 2)] },
  { id: 3, desc: 'TABLE DATA', data: [Buffer.from('x')] },
  { id: 4, desc: 'INDEX' },
];

describe('custom-format archive walker', () => {
  test.each([12, 14, 15, 16])('accepts a complete archive of version 1.%i, in any chunking', (minor) => {
    const buf = archive(entries, minor);
    for (const chunk of [1, 7, 4096, buf.length]) {
      expect(walk(buf, chunk)).toEqual({
        version: `1.${minor}`,
        database: 'smartcloudops',
        serverVersion: '15.18',
        pgDumpVersion: '15.18',
        tocEntries: 4,
        dataBlocks: 2,
      });
    }
  });

  test('detach(): the caller may reuse one buffer for every read (what the staging download does)', () => {
    const buf = archive(entries);
    for (const size of [1, 7, 33, 4096]) {
      const walker = new CustomArchiveWalker();
      const scratch = Buffer.alloc(size);
      for (let at = 0; at < buf.length; at += size) {
        const n = buf.copy(scratch, 0, at, Math.min(buf.length, at + size));
        walker.push(scratch.subarray(0, n));
        walker.detach();
        scratch.fill(0xee); // the next read overwrites it; the walker must not have kept a view of it
      }
      expect(walker.end()).toMatchObject({ tocEntries: 4, dataBlocks: 2 });
    }
  });

  test('every truncation is detected, whatever the cut', () => {
    const buf = archive(entries);
    for (let cut = 0; cut < buf.length; cut++) {
      expect(() => walk(buf.subarray(0, cut))).toThrow(/truncated|empty|of the 2 data blocks/);
    }
  });

  test('a missing or duplicated data block, trailing bytes and foreign input are refused', () => {
    const withoutLast = archive([...entries.slice(0, 2), { id: 3, desc: 'TABLE DATA', data: [] }]);
    const full = archive(entries);
    // Drop block 3 (its header, one 1-byte chunk and the terminator) from the end of a complete archive.
    const block3 = 1 + (1 + INT) + (1 + INT) + 1 + (1 + INT);
    expect(() => walk(full.subarray(0, full.length - block3))).toThrow(/1 of the 2 data blocks/);
    expect(walk(withoutLast).dataBlocks).toBe(2);
    const dup = Buffer.concat([full, Buffer.from([1]), int(3), int(0)]);
    expect(() => walk(dup)).toThrow(/a second data block for TOC entry 3/);
    expect(() => walk(Buffer.concat([full, Buffer.from([9])]))).toThrow(/truncated|unknown block type/);
    expect(() => walk(Buffer.from('-- PostgreSQL database dump\n'))).toThrow(/not a pg_dump custom-format archive/);
    expect(() => walk(Buffer.alloc(0))).toThrow(/empty/);
  });
});

describe('plain dump completion marker', () => {
  const dump = `--\n-- PostgreSQL database dump\n--\nCOPY t FROM stdin;\n1\n\\.\n\n--\n${PLAIN_COMPLETION_MARKER}\n--\n\n\\unrestrict abc\n\n`;

  test('a complete dump passes, in any chunking', () => {
    for (const size of [1, 5, 1000]) {
      const t = new PlainDumpTail(64);
      for (let i = 0; i < dump.length; i += size) t.push(Buffer.from(dump.slice(i, i + size)));
      expect(t.problem()).toBeUndefined();
    }
  });

  test('an empty, cut or extended dump fails', () => {
    expect(new PlainDumpTail().problem()).toMatch(/empty/);
    const cut = new PlainDumpTail();
    cut.push(Buffer.from(dump.slice(0, dump.indexOf(PLAIN_COMPLETION_MARKER) + 10)));
    expect(cut.problem()).toMatch(/does not end with pg_dump's/);
    const more = new PlainDumpTail();
    more.push(Buffer.from(`${dump}DROP TABLE t;\n`));
    expect(more.problem()).toMatch(/SQL follows/);
  });
});
