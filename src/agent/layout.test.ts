import { describe, expect, test } from '@jest/globals';
import {
  backupKeys,
  formatTimestamp,
  manifestKeyOf,
  normalizePrefix,
  parseBackupKey,
  parseTimestamp,
  partKey,
  scheduleFolder,
} from './layout.js';

const at = new Date('2026-11-29T02:00:07.123Z');

describe('key layout', () => {
  test('prefix/schedule/timestamp-runId with the format extension and a manifest next to it', () => {
    expect(
      backupKeys({ prefix: 'prod/sco/', schedule: 'nightly', startedAt: at, runId: 'abc123', format: 'plain' }),
    ).toEqual({
      dump: 'prod/sco/nightly/20261129T020007Z-abc123.sql.gz',
      manifest: 'prod/sco/nightly/20261129T020007Z-abc123.manifest.json',
    });
    expect(backupKeys({ prefix: '', schedule: 'db', startedAt: at, runId: 'r-1', format: 'custom' }).dump).toBe(
      'db/20261129T020007Z-r-1.dump',
    );
  });

  test('prefixes are normalized and may not escape with . or ..', () => {
    expect(normalizePrefix('/a//b/')).toBe('a/b');
    expect(normalizePrefix('')).toBe('');
    expect(() => normalizePrefix('a/../b')).toThrow(/"\." or "\.\."/);
    expect(scheduleFolder('/x/', 'nightly')).toBe('x/nightly/');
  });

  test('schedule names and run ids are checked', () => {
    expect(() => backupKeys({ prefix: '', schedule: 'Nightly', startedAt: at, runId: 'a', format: 'plain' })).toThrow(
      /lowercase DNS name/,
    );
    expect(() => backupKeys({ prefix: '', schedule: 'n', startedAt: at, runId: 'A_B', format: 'plain' })).toThrow(
      /run id/,
    );
  });

  test('keys sort by start time within a schedule', () => {
    const keys = ['2026-01-02T00:00:00Z', '2025-12-31T23:59:59Z', '2026-01-01T12:00:00Z'].map(
      (t) => backupKeys({ prefix: 'p', schedule: 's', startedAt: new Date(t), runId: 'x', format: 'plain' }).dump,
    );
    expect([...keys].sort()).toEqual([keys[1], keys[2], keys[0]]);
  });

  test('parseBackupKey inverts backupKeys and rejects foreign keys', () => {
    const k = backupKeys({ prefix: 'p/q', schedule: 'nightly', startedAt: at, runId: 'job-7', format: 'custom' });
    expect(parseBackupKey(k.dump)).toEqual({
      folder: 'p/q/nightly/',
      schedule: 'nightly',
      startedAt: new Date('2026-11-29T02:00:07Z'),
      runId: 'job-7',
      kind: 'dump',
      format: 'custom',
    });
    expect(parseBackupKey(k.manifest)?.kind).toBe('manifest');
    expect(manifestKeyOf(k.dump)).toBe(k.manifest);
    for (const bad of [
      'nightly/notes.txt',
      'x.sql.gz',
      'p/nightly/20261399T000000Z-a.sql.gz',
      'p/n/20261129T020007Z.dump',
    ]) {
      expect(parseBackupKey(bad)).toBeUndefined();
    }
    expect(() => manifestKeyOf(k.manifest)).toThrow(/not a dump key/);
  });

  test('timestamps round-trip at second precision', () => {
    expect(formatTimestamp(at)).toBe('20261129T020007Z');
    expect(parseTimestamp('20261129T020007Z')).toEqual(new Date('2026-11-29T02:00:07Z'));
    expect(parseTimestamp('2026-11-29')).toBeUndefined();
  });
});

describe('part keys', () => {
  const m = 'prod/nightly/20261129T020007Z-abc123.manifest.json';
  test.each([
    ['configmaps', 'prod/nightly/20261129T020007Z-abc123.configmaps.yaml.gz'],
    ['secrets', 'prod/nightly/20261129T020007Z-abc123.secrets.yaml.gz.enc'],
    ['data/uploads', 'prod/nightly/20261129T020007Z-abc123.data-uploads.tar.gz'],
  ])('%s sits next to the manifest and parses back', (part, key) => {
    expect(partKey(m, part)).toBe(key);
    expect(parseBackupKey(key)).toMatchObject({ kind: 'part', part, schedule: 'nightly', runId: 'abc123' });
  });
  test('bad part names and non-manifest keys are refused', () => {
    expect(() => partKey(m, 'data/Bad')).toThrow(/not a part name/);
    expect(() => partKey(m, 'logs')).toThrow(/not a part name/);
    expect(() => partKey('x.sql.gz', 'secrets')).toThrow(/not a manifest key/);
  });
});
