import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CertFactory, tlsSecret, type Issued } from '../../../test/support/certs.js';
import {
  inspectTls,
  inspectTlsSecret,
  normalizeSerial,
  parseSubjectAltName,
  type CertProblemType,
  type TlsInspection,
} from './x509.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const now = new Date();
const at = (ms: number): Date => new Date(Math.floor((now.getTime() + ms) / 1000) * 1000);

let f: CertFactory;
let root: Issued;
let inter: Issued;
let leaf: Issued; // leaf ← inter ← root, SANs a.test, *.wild.test, 127.0.0.1

beforeAll(() => {
  f = CertFactory.create();
  root = f.issue({ cn: 'Test Root', isCA: true, notBefore: at(-DAY), notAfter: at(365 * DAY) });
  inter = f.issue({ cn: 'Test Intermediate', isCA: true, issuer: root, notBefore: at(-DAY), notAfter: at(300 * DAY) });
  leaf = f.issue({
    cn: 'a.test',
    sans: ['DNS:a.test', 'DNS:*.wild.test', 'IP:127.0.0.1'],
    issuer: inter,
    notBefore: at(-HOUR),
    notAfter: at(90 * DAY),
  });
});
afterAll(() => f.cleanup());

const types = (r: TlsInspection): CertProblemType[] => r.problems.map((p) => p.type);

/** No message may carry key material or PEM text. */
function expectNoSecrets(r: TlsInspection, ...pems: string[]): void {
  const text = JSON.stringify(r.problems);
  expect(text).not.toMatch(/BEGIN|PRIVATE|-----/);
  for (const pem of pems) {
    const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, '');
    for (let i = 0; i + 16 <= body.length; i += 16) expect(text).not.toContain(body.slice(i, i + 16));
  }
}

describe('inspectTls', () => {
  test('a valid chain: leaf first, each signed by the next, the top by ca.crt; dates, serial, SANs, key match', () => {
    const r = inspectTls({ cert: leaf.certPem + inter.certPem, key: leaf.keyPem, ca: root.certPem }, { now });
    expect(r.problems).toEqual([]);
    expect(r.keyMatches).toBe(true);
    expect(r.chain.map((c) => [c.subject, c.issuer, c.signedByNext])).toEqual([
      ['CN=a.test', 'CN=Test Intermediate', true],
      ['CN=Test Intermediate', 'CN=Test Root', true],
    ]);
    expect(r.leaf).toMatchObject({
      serial: normalizeSerial(leaf.serial),
      notBefore: at(-HOUR),
      notAfter: at(90 * DAY),
      dnsNames: ['a.test', '*.wild.test'],
      ipAddresses: ['127.0.0.1'],
      isCA: false,
    });
    expect(r.leaf?.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(r.ca.map((c) => c.subject)).toEqual(['CN=Test Root']);
  });

  test('a leaf alone without ca.crt is not a broken chain (nothing to check it against)', () => {
    const r = inspectTls({ cert: leaf.certPem, key: leaf.keyPem }, { now });
    expect(r.problems).toEqual([]);
    expect(r.chain[0]?.signedByNext).toBeUndefined();
  });

  test('a self-signed certificate is its own issuer; ca.crt holding the same certificate is fine too', () => {
    const self = f.issue({ cn: 'self.test', sans: ['DNS:self.test'], notBefore: at(-HOUR), notAfter: at(DAY) });
    const r = inspectTls({ cert: self.certPem, key: self.keyPem, ca: self.certPem }, { now });
    expect(r.problems).toEqual([]);
    expect(r.chain[0]?.signedByNext).toBe(true);
  });

  test('a short-lived certificate (one hour) is valid until its notAfter, Expired from that second', () => {
    const short = f.issue({
      cn: 's.test',
      sans: ['DNS:s.test'],
      issuer: root,
      notBefore: at(-60_000),
      notAfter: at(HOUR),
    });
    const material = { cert: short.certPem, key: short.keyPem, ca: root.certPem };
    expect(inspectTls(material, { now }).problems).toEqual([]);
    expect(types(inspectTls(material, { now: new Date(at(HOUR).getTime() - 1) }))).toEqual([]);
    expect(types(inspectTls(material, { now: at(HOUR) }))).toEqual(['Expired']);
  });

  test('an expired certificate: Expired with the serial and the time, no key material', () => {
    const old = f.issue({
      cn: 'old.test',
      sans: ['DNS:old.test'],
      issuer: root,
      notBefore: at(-30 * DAY),
      notAfter: at(-DAY),
    });
    const r = inspectTls({ cert: old.certPem, key: old.keyPem, ca: root.certPem }, { now });
    expect(types(r)).toEqual(['Expired']);
    expect(r.problems[0]?.message).toBe(
      `the leaf certificate (serial ${normalizeSerial(old.serial)}) expired at ${at(-DAY).toISOString()}`,
    );
    expect(r.keyMatches).toBe(true);
    expectNoSecrets(r, old.keyPem, old.certPem);
  });

  test('a certificate that is not yet valid: NotYetValid', () => {
    const future = f.issue({
      cn: 'f.test',
      sans: ['DNS:f.test'],
      issuer: root,
      notBefore: at(DAY),
      notAfter: at(10 * DAY),
    });
    const r = inspectTls({ cert: future.certPem, key: future.keyPem, ca: root.certPem }, { now });
    expect(types(r)).toEqual(['NotYetValid']);
    expect(r.problems[0]?.message).toContain(at(DAY).toISOString());
  });

  test('an expired intermediate is reported with its position', () => {
    const oldInter = f.issue({
      cn: 'Old Inter',
      isCA: true,
      issuer: root,
      notBefore: at(-10 * DAY),
      notAfter: at(-HOUR),
    });
    const l = f.issue({
      cn: 'x.test',
      sans: ['DNS:x.test'],
      issuer: oldInter,
      notBefore: at(-HOUR),
      notAfter: at(DAY),
    });
    const r = inspectTls({ cert: l.certPem + oldInter.certPem, key: l.keyPem, ca: root.certPem }, { now });
    expect(types(r)).toEqual(['Expired']);
    expect(r.problems[0]?.message).toMatch(/^certificate 2 of 2 in tls.crt/);
  });

  test('host names: SAN DNS names with wildcards and SAN IPs match; others, and a CN without SAN, do not', () => {
    const material = { cert: leaf.certPem, key: leaf.keyPem };
    for (const ok of ['a.test', 'x.wild.test', '127.0.0.1']) {
      expect(types(inspectTls(material, { now, serverName: ok }))).toEqual([]);
    }
    for (const bad of ['b.test', 'a.b.wild.test', 'wild.test', '127.0.0.2', '::1']) {
      expect(types(inspectTls(material, { now, serverName: bad }))).toEqual(['HostnameMismatch']);
    }
    const r = inspectTls(material, { now, serverName: 'b.test' });
    expect(r.problems[0]?.message).toBe(
      'the leaf certificate does not cover host b.test (SANs: a.test, *.wild.test, 127.0.0.1)',
    );
    const several = inspectTls(material, { now, serverName: ['a.test', 'b.test', '127.0.0.1', 'b.test'] });
    expect(several.problems.map((p) => p.message)).toEqual([
      'the leaf certificate does not cover host b.test (SANs: a.test, *.wild.test, 127.0.0.1)',
    ]);
    const cnOnly = f.issue({ cn: 'cn.test', notBefore: at(-HOUR), notAfter: at(DAY) });
    const c = inspectTls({ cert: cnOnly.certPem, key: cnOnly.keyPem }, { now, serverName: 'cn.test' });
    expect(types(c)).toEqual(['HostnameMismatch']);
    expect(c.problems[0]?.message).toContain('(SANs: none)');
  });

  test('a key that is not the leaf key: KeyMismatch, no key material in the message', () => {
    const other = f.issue({ cn: 'o.test', notBefore: at(-HOUR), notAfter: at(DAY) });
    const r = inspectTls({ cert: leaf.certPem, key: other.keyPem }, { now });
    expect(r.keyMatches).toBe(false);
    expect(types(r)).toEqual(['KeyMismatch']);
    expectNoSecrets(r, other.keyPem, leaf.keyPem);
  });

  test('the same key reused for a new certificate still matches', () => {
    const again = f.issue({
      cn: 'a.test',
      keyPath: leaf.keyPath,
      issuer: inter,
      notBefore: at(-HOUR),
      notAfter: at(DAY),
    });
    const r = inspectTls({ cert: again.certPem, key: leaf.keyPem }, { now });
    expect(r.keyMatches).toBe(true);
    expect(r.leaf?.serial).not.toBe(normalizeSerial(leaf.serial));
  });

  test('broken chains: a leaf not signed by ca.crt (a CA with the same name but another key), a wrong intermediate', () => {
    const impostor = f.issue({ cn: 'Test Intermediate', isCA: true, notBefore: at(-DAY), notAfter: at(DAY) });
    const r = inspectTls({ cert: leaf.certPem, key: leaf.keyPem, ca: impostor.certPem }, { now });
    expect(types(r)).toEqual(['BrokenChain']);
    expect(r.problems[0]).toMatchObject({ field: 'ca.crt' });
    expect(r.problems[0]?.message).toBe(
      'the leaf certificate (subject "CN=a.test", issuer "CN=Test Intermediate") is not signed by any certificate in ca.crt',
    );

    const otherCA = f.issue({ cn: 'Other CA', isCA: true, notBefore: at(-DAY), notAfter: at(DAY) });
    const w = inspectTls({ cert: leaf.certPem + otherCA.certPem, key: leaf.keyPem }, { now });
    expect(w.chain.map((c) => c.signedByNext)).toEqual([false, true]);
    expect(types(w)).toEqual(['BrokenChain']);
    expect(w.problems[0]).toMatchObject({ field: 'tls.crt' });

    // Intermediates out of order: root before intermediate.
    const o = inspectTls({ cert: leaf.certPem + root.certPem + inter.certPem, key: leaf.keyPem }, { now });
    expect(types(o)).toEqual(['BrokenChain', 'BrokenChain']);
  });

  test('garbage: text without PEM, a CERTIFICATE block that does not parse, a key block in tls.crt, a bad key', () => {
    expect(types(inspectTls({ cert: 'not a certificate', key: leaf.keyPem }, { now }))).toEqual(['GarbagePEM']);

    const body = leaf.certPem.split('\n');
    body[3] = 'A'.repeat(body[3]?.length ?? 64); // corrupt the DER
    const r = inspectTls({ cert: body.join('\n'), key: leaf.keyPem }, { now });
    expect(r.problems).toEqual([
      { type: 'GarbagePEM', field: 'tls.crt', message: 'tls.crt block 1 is not a valid X.509 certificate' },
    ]);
    expect(r.leaf).toBeUndefined();

    const k = inspectTls({ cert: leaf.keyPem, key: leaf.keyPem }, { now });
    expect(k.problems.map((p) => p.message)).toEqual(['tls.crt block 1 is a PRIVATE KEY block, not a CERTIFICATE']);

    const badKey = leaf.keyPem.replace(/\n[A-Za-z0-9+/]{10}/, '\nAAAAAAAAAA');
    const g = inspectTls({ cert: leaf.certPem, key: badKey }, { now });
    expect(types(g)).toEqual(['GarbagePEM']);
    expect(g.problems[0]?.field).toBe('tls.key');
    expect(g.keyMatches).toBeUndefined();
    expectNoSecrets(g, leaf.keyPem, badKey);

    expect(types(inspectTls({ cert: leaf.certPem, key: 'garbage' }, { now }))).toEqual(['GarbagePEM']);
    expect(types(inspectTls({ cert: leaf.certPem, key: leaf.keyPem + leaf.keyPem }, { now }))).toEqual(['GarbagePEM']);
  });

  test('missing parts: no tls.crt, an empty one, no tls.key', () => {
    expect(types(inspectTls({ key: leaf.keyPem }, { now }))).toEqual(['NoCertificate']);
    expect(types(inspectTls({ cert: ' \n', key: leaf.keyPem }, { now }))).toEqual(['NoCertificate']);
    const r = inspectTls({ cert: leaf.certPem }, { now });
    expect(types(r)).toEqual(['MissingKey']);
    expect(r.leaf?.serial).toBe(normalizeSerial(leaf.serial));
  });

  test('inspectTlsSecret decodes the base64 data of a Secret', () => {
    const r = inspectTlsSecret(tlsSecret(leaf.certPem + inter.certPem, leaf.keyPem, root.certPem), {
      now,
      serverName: 'a.test',
    });
    expect(r.problems).toEqual([]);
    expect(r.chain).toHaveLength(2);
    expect(types(inspectTlsSecret({ type: 'kubernetes.io/tls', data: {} }, { now }))).toEqual([
      'NoCertificate',
      'MissingKey',
    ]);
  });
});

describe('helpers', () => {
  test('normalizeSerial: colons, case and leading zeros do not matter', () => {
    expect(normalizeSerial('00:0a:Bc')).toBe('ABC');
    expect(normalizeSerial('0ABC')).toBe('ABC');
    expect(normalizeSerial('00')).toBe('0');
  });

  test('parseSubjectAltName: DNS and IP entries, quoted values, other kinds ignored', () => {
    expect(
      parseSubjectAltName(
        'DNS:a.test, IP Address:10.0.0.1, email:x@y.z, DNS:"b, c.test", IP Address:::1, URI:spiffe://x',
      ),
    ).toEqual({ dnsNames: ['a.test', 'b, c.test'], ipAddresses: ['10.0.0.1', '::1'] });
    expect(parseSubjectAltName(undefined)).toEqual({ dnsNames: [], ipAddresses: [] });
  });
});
