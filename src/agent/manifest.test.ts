import { describe, expect, test } from '@jest/globals';
import { MANIFEST_API_VERSION, MANIFEST_KIND, parseManifest, serializeManifest, type Manifest } from './manifest.js';

const good: Manifest = {
  apiVersion: MANIFEST_API_VERSION,
  kind: MANIFEST_KIND,
  schedule: 'nightly',
  runId: 'abc',
  bucket: 'backups',
  key: 'p/nightly/20261129T020007Z-abc.sql.gz',
  format: 'plain',
  compression: 'gzip',
  size: 1234,
  sha256: 'a'.repeat(64),
  database: { name: 'smartcloudops', serverVersion: '15.18', serverVersionNum: 150018 },
  pgDumpVersion: '15.18',
  startedAt: '2026-11-29T02:00:07.123Z',
  completedAt: '2026-11-29T02:01:00.000Z',
  durationSeconds: 52.877,
  agentVersion: '0.1.0',
  verification: 'full',
};

describe('manifest schema', () => {
  test('round-trips a complete manifest', () => {
    expect(parseManifest(serializeManifest(good))).toEqual(good);
    const kms = { ...good, serverSideEncryption: 'aws:kms' as const };
    expect(parseManifest(serializeManifest(kms))).toEqual(kms);
  });

  test.each([
    ['a zero size (an empty dump is never a backup)', { size: 0 }, /\/size must be >= 1/],
    ['a malformed sha256', { sha256: 'xyz' }, /\/sha256 must match pattern/],
    ['an unknown format', { format: 'tar' }, /\/format/],
    ['a bad timestamp', { completedAt: 'yesterday' }, /\/completedAt must match format "date-time"/],
    ['an unknown field', { extra: 1 }, /must NOT have additional properties/],
    ['another kind', { kind: 'Other' }, /\/kind must be equal to constant/],
  ])('rejects %s', (_what, patch, message) => {
    const text = JSON.stringify({ ...good, ...patch });
    expect(() => parseManifest(text)).toThrow(message);
  });

  test('rejects a missing field and non-JSON, and refuses to serialize an invalid manifest', () => {
    const { sha256: _drop, ...rest } = good;
    expect(() => parseManifest(JSON.stringify(rest))).toThrow(/must have required property 'sha256'/);
    expect(() => parseManifest('{"apiVersion":')).toThrow(/not JSON/);
    expect(() => serializeManifest({ ...good, size: -1 })).toThrow(/refusing to write an invalid manifest/);
  });
});
