import { describe, expect, test } from '@jest/globals';
import {
  databaseDump,
  MANIFEST_API_VERSION,
  MANIFEST_KIND,
  manifestParts,
  parseManifest,
  serializeManifest,
  type Manifest,
} from './manifest.js';

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

describe('manifest parts', () => {
  const sha = (c: string) => c.repeat(64);
  const dbPart = {
    name: 'database',
    kind: 'database' as const,
    key: good.key!,
    size: good.size!,
    sha256: good.sha256!,
    contentType: 'application/gzip',
    encoding: 'gzip' as const,
  };
  const cm = {
    name: 'configmaps',
    kind: 'configmaps' as const,
    key: 'p/nightly/20261129T020007Z-abc.configmaps.yaml.gz',
    size: 10,
    sha256: sha('b'),
    contentType: 'application/gzip',
    encoding: 'gzip' as const,
    source: 'shop',
    items: 3,
  };
  const sec = {
    ...cm,
    name: 'secrets',
    kind: 'secrets' as const,
    key: 'p/nightly/20261129T020007Z-abc.secrets.yaml.gz.enc',
    sha256: sha('c'),
    encoding: 'gzip+aes-256-gcm' as const,
    encryption: { algorithm: 'AES-256-GCM-STREAM-64K' as const, keyId: '0123456789abcdef' },
  };
  const data = {
    name: 'data/uploads',
    kind: 'data' as const,
    key: 'p/nightly/20261129T020007Z-abc.data-uploads.tar.gz',
    size: 99,
    sha256: sha('d'),
    contentType: 'application/gzip',
    encoding: 'tar+gzip' as const,
  };

  test('a manifest written before parts existed still parses, its dump as the one part', () => {
    const old = parseManifest(JSON.stringify(good));
    expect(manifestParts(old)).toEqual([{ ...dbPart }]);
    expect(databaseDump(old)).toMatchObject({ key: good.key, size: good.size, format: 'plain' });
  });

  test('every part with its own entry round-trips; without the database part there are no dump fields', () => {
    const all: Manifest = { ...good, parts: [dbPart, cm, sec, data] };
    expect(parseManifest(serializeManifest(all))).toEqual(all);
    const {
      key: _k,
      format: _f,
      compression: _c,
      size: _s,
      sha256: _h,
      database: _d,
      pgDumpVersion: _p,
      ...rest
    } = good;
    const configOnly: Manifest = { ...rest, parts: [cm] };
    expect(parseManifest(serializeManifest(configOnly))).toEqual(configOnly);
    expect(databaseDump(configOnly)).toBeUndefined();
  });

  test.each([
    ['dump fields without a database part', { parts: [cm] }, /\/key must not be set without a database part/],
    ['a database part that disagrees with the top level', { parts: [{ ...dbPart, size: 1 }] }, /must repeat/],
    ['two parts with one name', { parts: [dbPart, cm, cm] }, /repeat/],
    [
      'an unencrypted secrets part',
      { parts: [dbPart, { ...sec, encryption: undefined }] },
      /only secrets, are encrypted/,
    ],
    ['an encrypted configmaps part', { parts: [dbPart, { ...cm, encryption: sec.encryption }] }, /are encrypted/],
    ['a data part of the wrong kind', { parts: [dbPart, { ...data, kind: 'configmaps' }] }, /must be of kind data/],
    ['a bad part name', { parts: [dbPart, { ...data, name: 'data/Up' }] }, /\/parts\/1\/name must match pattern/],
  ])('rejects %s', (_what, patch, message) => {
    expect(() => parseManifest(JSON.stringify({ ...good, ...patch }))).toThrow(message);
  });
});
