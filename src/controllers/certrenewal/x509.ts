// CertRenewal: inspection of a kubernetes.io/tls Secret (tls.crt, tls.key, optional ca.crt) with Node's
// crypto.X509Certificate. Pure apart from the CPU: no I/O, the clock is passed in.
//
// What it checks, and where the semantics come from:
// - The chain is tls.crt in order (leaf first, then intermediates), as cert-manager writes it and as TLS servers send
//   it; each certificate must be issued by the next (issuer name matches, `checkIssued`, and the signature verifies
//   with the next one's public key, `verify`). The top of tls.crt must be self-signed, or issued by a certificate in
//   ca.crt, or be one of them; without ca.crt an incomplete chain is not an error (most Secrets hold only the leaf).
// - Validity: Expired when now >= notAfter, NotYetValid when now < notBefore, for every certificate of tls.crt.
// - Key match: the leaf's public key against tls.key (`checkPrivateKey`), as cert-manager's Ready check does.
// - Host names (when a serverName is given): SAN DNS names with wildcards (`checkHost`, subject CN never used, as Go
//   and browsers have done since 2020) or SAN IP addresses (`checkIP`).
//
// Messages name the Secret key and the position in the chain, never any PEM, key bytes or parser output that could
// echo them.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

export type CertProblemType =
  | 'NoCertificate'
  | 'GarbagePEM'
  | 'MissingKey'
  | 'KeyMismatch'
  | 'Expired'
  | 'NotYetValid'
  | 'BrokenChain'
  | 'HostnameMismatch';

export interface CertProblem {
  type: CertProblemType;
  /** The Secret key the problem is about. */
  field: 'tls.crt' | 'tls.key' | 'ca.crt';
  message: string;
}

export interface CertInfo {
  subject: string;
  issuer: string;
  /** Upper-case hex without leading zeros (see normalizeSerial). */
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 fingerprint, colon-separated upper-case hex (as X509Certificate.fingerprint256). */
  fingerprint256: string;
  isCA: boolean;
  dnsNames: string[];
  ipAddresses: string[];
}

export interface ChainEntry extends CertInfo {
  /**
   * Whether this certificate is issued by the next one in tls.crt (for the last one: by a certificate in ca.crt,
   * or itself when self-signed). Undefined when there is nothing to check it against.
   */
  signedByNext: boolean | undefined;
}

export interface TlsInspection {
  /** The first certificate of tls.crt. */
  leaf: CertInfo | undefined;
  /** tls.crt in order, leaf first. */
  chain: ChainEntry[];
  /** Certificates of ca.crt, when present. */
  ca: CertInfo[];
  /** Undefined when either the leaf or the key is missing or does not parse. */
  keyMatches: boolean | undefined;
  problems: CertProblem[];
}

export interface InspectOptions {
  now: Date;
  /** Check that the leaf covers this host name or IP address (or each of these). */
  serverName?: string | readonly string[] | undefined;
}

export interface TlsMaterial {
  cert?: string | Buffer | undefined;
  key?: string | Buffer | undefined;
  ca?: string | Buffer | undefined;
}

/** Serial numbers compare as hex integers: upper case, no colons, no leading zeros. */
export function normalizeSerial(serial: string): string {
  const hex = serial.replace(/[:\s]/g, '').toUpperCase().replace(/^0+/, '');
  return hex === '' ? '0' : hex;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

interface PemBlock {
  label: string;
  text: string;
}

function pemBlocks(text: string): PemBlock[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1] as string, text: m[0] }));
}

function asText(v: string | Buffer | undefined): string {
  if (v === undefined) return '';
  return typeof v === 'string' ? v : v.toString('latin1');
}

/** Parses the SAN string of X509Certificate.subjectAltName ("DNS:a, IP Address:1.2.3.4", values JSON-quoted when
 * they contain separators). */
export function parseSubjectAltName(san: string | undefined): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  if (!san) return { dnsNames, ipAddresses };
  const entry = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/gy;
  for (let m = entry.exec(san); m && m[0] !== ''; m = entry.exec(san)) {
    const kind = m[1] as string;
    let value = m[2] as string;
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    if (kind === 'DNS') dnsNames.push(value);
    else if (kind === 'IP Address') ipAddresses.push(value);
  }
  return { dnsNames, ipAddresses };
}

/** OpenSSL prints subjects one attribute per line; one line reads better in status and messages. */
/** A distinguished name on one line; cert-manager issues leaves with an empty subject (SANs only): undefined. */
function oneLine(name: string | undefined): string {
  return (name ?? '').split('\n').filter(Boolean).join(', ');
}

export function certInfo(c: X509Certificate): CertInfo {
  const { dnsNames, ipAddresses } = parseSubjectAltName(c.subjectAltName);
  return {
    subject: oneLine(c.subject),
    issuer: oneLine(c.issuer),
    serial: normalizeSerial(c.serialNumber),
    notBefore: new Date(c.validFrom),
    notAfter: new Date(c.validTo),
    fingerprint256: c.fingerprint256,
    isCA: c.ca,
    dnsNames,
    ipAddresses,
  };
}

function isSignedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

function parseCertificates(
  text: string,
  field: 'tls.crt' | 'ca.crt',
  problems: CertProblem[],
): X509Certificate[] | undefined {
  if (text.trim() === '') return undefined;
  const blocks = pemBlocks(text);
  const certs: X509Certificate[] = [];
  if (blocks.length === 0) {
    problems.push({ type: 'GarbagePEM', field, message: `${field} holds no PEM block` });
    return [];
  }
  blocks.forEach((b, i) => {
    if (b.label !== 'CERTIFICATE') {
      problems.push({
        type: 'GarbagePEM',
        field,
        message: `${field} block ${i + 1} is a ${b.label.length <= 40 ? b.label : 'non-certificate'} block, not a CERTIFICATE`,
      });
      return;
    }
    try {
      certs.push(new X509Certificate(b.text));
    } catch {
      problems.push({ type: 'GarbagePEM', field, message: `${field} block ${i + 1} is not a valid X.509 certificate` });
    }
  });
  return certs;
}

function parseKey(text: string, problems: CertProblem[]): KeyObject | undefined {
  if (text.trim() === '') {
    problems.push({ type: 'MissingKey', field: 'tls.key', message: 'tls.key is missing or empty' });
    return undefined;
  }
  const blocks = pemBlocks(text).filter((b) => b.label.endsWith('PRIVATE KEY'));
  if (blocks.length !== 1) {
    problems.push({
      type: 'GarbagePEM',
      field: 'tls.key',
      message:
        blocks.length === 0
          ? 'tls.key holds no PEM private key'
          : `tls.key holds ${blocks.length} private keys, not one`,
    });
    return undefined;
  }
  try {
    return createPrivateKey((blocks[0] as PemBlock).text);
  } catch (err) {
    // Node's messages are OpenSSL decoder errors; only the error code is kept, never the text.
    const code = (err as { code?: unknown }).code;
    const why =
      code === 'ERR_MISSING_PASSPHRASE'
        ? ' (encrypted keys are not supported)'
        : typeof code === 'string' && /^[A-Z0-9_]+$/.test(code)
          ? ` (${code})`
          : '';
    problems.push({ type: 'GarbagePEM', field: 'tls.key', message: `tls.key does not parse as a private key${why}` });
    return undefined;
  }
}

function position(i: number, n: number): string {
  if (i === 0) return 'the leaf certificate';
  return `certificate ${i + 1} of ${n} in tls.crt`;
}

/** Inspects PEM material as found in a kubernetes.io/tls Secret. */
export function inspectTls(material: TlsMaterial, opts: InspectOptions): TlsInspection {
  const problems: CertProblem[] = [];
  const now = opts.now.getTime();

  const certs = parseCertificates(asText(material.cert), 'tls.crt', problems);
  if (certs === undefined) {
    problems.push({ type: 'NoCertificate', field: 'tls.crt', message: 'tls.crt is missing or empty' });
  } else if (certs.length === 0 && !problems.some((p) => p.field === 'tls.crt')) {
    problems.push({ type: 'NoCertificate', field: 'tls.crt', message: 'tls.crt holds no certificate' });
  }
  const caCerts = parseCertificates(asText(material.ca), 'ca.crt', problems) ?? [];
  const chainCerts = certs ?? [];
  const key = parseKey(asText(material.key), problems);

  const chain: ChainEntry[] = chainCerts.map((c, i) => {
    const next = chainCerts[i + 1];
    let signedByNext: boolean | undefined;
    if (next) {
      signedByNext = isSignedBy(c, next);
    } else if (isSignedBy(c, c)) {
      signedByNext = true; // self-signed top
    } else if (caCerts.length > 0) {
      signedByNext = caCerts.some((ca) => ca.fingerprint256 === c.fingerprint256 || isSignedBy(c, ca));
    }
    return { ...certInfo(c), signedByNext };
  });

  chain.forEach((e, i) => {
    const where = position(i, chain.length);
    if (e.signedByNext === false) {
      const by = i + 1 < chain.length ? `certificate ${i + 2} in tls.crt` : 'any certificate in ca.crt';
      problems.push({
        type: 'BrokenChain',
        field: i + 1 < chain.length ? 'tls.crt' : 'ca.crt',
        message: `${where} (subject "${e.subject}", issuer "${e.issuer}") is not signed by ${by}`,
      });
    }
    if (now >= e.notAfter.getTime()) {
      problems.push({
        type: 'Expired',
        field: 'tls.crt',
        message: `${where} (serial ${e.serial}) expired at ${e.notAfter.toISOString()}`,
      });
    } else if (now < e.notBefore.getTime()) {
      problems.push({
        type: 'NotYetValid',
        field: 'tls.crt',
        message: `${where} (serial ${e.serial}) is not valid before ${e.notBefore.toISOString()}`,
      });
    }
  });

  const leafCert = chainCerts[0];
  let keyMatches: boolean | undefined;
  if (leafCert && key) {
    try {
      keyMatches = leafCert.checkPrivateKey(key);
    } catch {
      keyMatches = false;
    }
    if (!keyMatches) {
      problems.push({
        type: 'KeyMismatch',
        field: 'tls.key',
        message: 'tls.key is not the private key of the leaf certificate',
      });
    }
  }

  const names: readonly string[] = typeof opts.serverName === 'string' ? [opts.serverName] : (opts.serverName ?? []);
  for (const name of new Set(names.filter((n) => n !== ''))) {
    if (!leafCert) break;
    const ip = isIP(name) !== 0;
    const match = ip ? leafCert.checkIP(name) : leafCert.checkHost(name, { subject: 'never' });
    if (match === undefined) {
      const info = chain[0] as ChainEntry;
      const sans = [...info.dnsNames, ...info.ipAddresses];
      problems.push({
        type: 'HostnameMismatch',
        field: 'tls.crt',
        message: `the leaf certificate does not cover ${ip ? 'IP address' : 'host'} ${name} (SANs: ${sans.length > 0 ? sans.join(', ') : 'none'})`,
      });
    }
  }

  return { leaf: chain[0], chain, ca: caCerts.map(certInfo), keyMatches, problems };
}

/** The parts of a core/v1 Secret this module reads. */
export interface SecretLike {
  type?: string;
  data?: Record<string, string> | undefined;
}

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

/** Inspects a Secret as the API returns it (data values base64-encoded). */
export function inspectTlsSecret(secret: SecretLike, opts: InspectOptions): TlsInspection {
  const data = secret.data ?? {};
  const dec = (k: string): Buffer | undefined => {
    const v = data[k];
    return v === undefined ? undefined : Buffer.from(v, 'base64');
  };
  return inspectTls({ cert: dec('tls.crt'), key: dec('tls.key'), ca: dec('ca.crt') }, opts);
}
