// CertRenewal endpoint probe: open one TLS connection to host:port with an SNI server name, read the leaf
// certificate the server presents, close. Thin I/O; everything it decides is in the returned value.
//
// It compares, it does not trust: `rejectUnauthorized: false`, because the question is "which certificate is served",
// answered by serial, notAfter and fingerprint, and validity is judged from the Secret (x509.ts).
//
// SSRF care. Endpoints come from CertRenewal specs, so whoever may create a CertRenewal in a namespace can make the
// operator open TCP connections to an address of their choice; the operator's network position is what is at stake.
// Hence:
// - TLS only: nothing but a ClientHello and, after the handshake, close_notify is ever sent. No HTTP, so no redirects
//   to follow, no request line, headers, cookies, tokens or client certificates; no application data at all; no
//   session resumption (each probe is a fresh connection with no session or ticket from another).
// - What comes back is reduced to the leaf's serial, validity and fingerprint (or a typed error), so the probe cannot
//   be used to read a response body from an internal service; it remains a port-open oracle, as any probe is.
// - A short timeout (5 s by default) over the whole attempt, name resolution included; one address, one attempt.
// - The name is resolved here, the address checked, and that address connected to (no second resolution, so no
//   DNS-rebinding gap). Link-local (cloud metadata 169.254.169.254, fe80::/10), unspecified, multicast and broadcast
//   addresses are refused by default; loopback and private ranges are allowed because cluster services live there.
//   Deployments that need a narrower policy pass their own `isBlocked`.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { normalizeSerial } from './x509.js';

export const DEFAULT_PROBE_TIMEOUT_MS = 5_000;

export interface ProbeTarget {
  host: string;
  /** 443 when unset. */
  port?: number | undefined;
  /** SNI server name; the host when unset and the host is a name (IP literals are never sent as SNI, RFC 6066). */
  serverName?: string | undefined;
}

export type ProbeErrorKind =
  /** host, port or serverName is not acceptable. */
  | 'Invalid'
  /** The name does not resolve. */
  | 'Unresolvable'
  /** Every address of the name is refused by the address policy; nothing was sent. */
  | 'Blocked'
  /** No answer within the timeout (resolution, TCP connect or TLS handshake). */
  | 'Timeout'
  /** The port is closed (TCP RST). */
  | 'Refused'
  /** No route to the address. */
  | 'Unreachable'
  /** TCP connected but TLS did not complete (not TLS, alert, reset). */
  | 'HandshakeFailed'
  /** The handshake completed without a server certificate. */
  | 'NoCertificate';

export interface ServedCertificate {
  ok: true;
  /** host:port as probed. */
  endpoint: string;
  address: string;
  serverName: string | undefined;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  fingerprint256: string;
}

export interface ProbeFailure {
  ok: false;
  endpoint: string;
  kind: ProbeErrorKind;
  message: string;
}

export type ProbeResult = ServedCertificate | ProbeFailure;

export interface LookupAddress {
  address: string;
  family: number;
}

export interface ProbeOptions {
  timeoutMs?: number;
  /** Address policy; defaults to isBlockedAddress. */
  isBlocked?: (address: string) => boolean;
  /** Name resolution (all addresses); injected in tests. */
  lookup?: (host: string) => Promise<LookupAddress[]>;
}

function v4ToInt(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function inV4(a: string, base: string, bits: number): boolean {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (v4ToInt(a) & mask) >>> 0 === (v4ToInt(base) & mask) >>> 0;
}

/** Link-local, unspecified, multicast and broadcast addresses (IPv4, IPv6, IPv4-mapped IPv6). */
export function isBlockedAddress(address: string): boolean {
  let a = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) a = mapped[1] as string;
  if (isIP(a) === 4) {
    return inV4(a, '0.0.0.0', 8) || inV4(a, '169.254.0.0', 16) || inV4(a, '224.0.0.0', 4) || a === '255.255.255.255';
  }
  if (isIP(a) === 6) {
    const zoneless = a.split('%')[0] as string;
    if (/^(0*:)*:?0*$/.test(zoneless) || zoneless === '::') return true; // unspecified
    if (/^fe[89ab][0-9a-f]:/.test(zoneless)) return true; // fe80::/10 link-local
    if (/^ff[0-9a-f]{2}:/.test(zoneless)) return true; // multicast
    return false;
  }
  return true; // not an address at all
}

const HOST_RE = /^[A-Za-z0-9.:-]{1,253}$/;
const SNI_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i;

async function defaultLookup(host: string): Promise<LookupAddress[]> {
  return dnsLookup(host, { all: true, verbatim: true });
}

function errorKind(code: string | undefined, connected: boolean): ProbeErrorKind {
  switch (code) {
    case 'ECONNREFUSED':
      return 'Refused';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return 'Unreachable';
    case 'ETIMEDOUT':
      return 'Timeout';
    default:
      return connected ? 'HandshakeFailed' : 'Unreachable';
  }
}

/** Probes one endpoint; never rejects. */
export async function probeTls(target: ProbeTarget, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const port = target.port ?? 443;
  const endpoint = `${isIP(target.host) === 6 ? `[${target.host}]` : target.host}:${port}`;
  const fail = (kind: ProbeErrorKind, message: string): ProbeFailure => ({ ok: false, endpoint, kind, message });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const isBlocked = opts.isBlocked ?? isBlockedAddress;

  if (!HOST_RE.test(target.host)) return fail('Invalid', 'host must be a DNS name or an IP address');
  if (!Number.isInteger(port) || port < 1 || port > 65535) return fail('Invalid', `port ${port} is out of range`);
  const serverName = target.serverName ?? (isIP(target.host) === 0 ? target.host : undefined);
  if (serverName !== undefined && (serverName.length > 253 || !SNI_RE.test(serverName) || isIP(serverName) !== 0)) {
    return fail('Invalid', 'serverName must be a DNS name');
  }

  const deadline = Date.now() + timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    // 1. Resolve once, check, and keep the address we checked.
    let address: string;
    if (isIP(target.host) !== 0) {
      address = target.host;
    } else {
      const resolved = await Promise.race([
        (opts.lookup ?? defaultLookup)(target.host).catch(() => undefined),
        timedOut,
      ]);
      if (resolved === 'timeout') return fail('Timeout', `resolving ${target.host} took longer than ${timeoutMs} ms`);
      if (!resolved || resolved.length === 0) return fail('Unresolvable', `${target.host} does not resolve`);
      const allowed = resolved.find((r) => !isBlocked(r.address));
      if (!allowed) return fail('Blocked', `${target.host} resolves only to addresses the probe may not connect to`);
      address = allowed.address;
    }
    if (isBlocked(address)) return fail('Blocked', `address ${address} may not be probed`);

    // 2. One TLS handshake, bounded by what is left of the timeout.
    const left = Math.max(1, deadline - Date.now());
    return await handshake(address, port, serverName, left, timeoutMs, endpoint, fail);
  } finally {
    clearTimeout(timer);
  }
}

function handshake(
  address: string,
  port: number,
  serverName: string | undefined,
  leftMs: number,
  timeoutMs: number,
  endpoint: string,
  fail: (kind: ProbeErrorKind, message: string) => ProbeFailure,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    let socket: TLSSocket | undefined = undefined;
    const finish = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const timer = setTimeout(() => {
      socket?.destroy();
      finish(
        fail('Timeout', `no ${connected ? 'TLS handshake' : 'TCP connection'} with ${endpoint} within ${timeoutMs} ms`),
      );
    }, leftMs);
    socket = connect({
      host: address,
      port,
      ...(serverName !== undefined ? { servername: serverName } : {}),
      rejectUnauthorized: false,
      // No client certificate, no session reuse, no ALPN: nothing but the handshake.
      session: undefined,
    });
    socket.once('connect', () => {
      connected = true;
    });
    socket.once('secureConnect', () => {
      const s = socket as TLSSocket;
      const x = s.getPeerX509Certificate();
      // close_notify, then the socket closes; destroyed shortly after if the peer does not answer.
      s.end();
      setTimeout(() => s.destroy(), 1_000).unref();
      if (!x) {
        finish(fail('NoCertificate', `${endpoint} completed the handshake without a certificate`));
        return;
      }
      finish({
        ok: true,
        endpoint,
        address,
        serverName,
        serial: normalizeSerial(x.serialNumber),
        notBefore: new Date(x.validFrom),
        notAfter: new Date(x.validTo),
        fingerprint256: x.fingerprint256,
      });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      socket?.destroy();
      const kind = errorKind(err.code, connected);
      const code = err.code ? ` (${err.code})` : '';
      const what =
        kind === 'Refused'
          ? 'connection refused'
          : kind === 'HandshakeFailed'
            ? 'TLS handshake failed'
            : kind === 'Timeout'
              ? 'timed out'
              : 'not reachable';
      finish(fail(kind, `${endpoint}: ${what}${code}`));
    });
    socket.once('close', () => {
      finish(
        fail(
          connected ? 'HandshakeFailed' : 'Unreachable',
          `${endpoint} closed the connection before the TLS handshake completed`,
        ),
      );
    });
  });
}
