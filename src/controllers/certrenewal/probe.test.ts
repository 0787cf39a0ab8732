// Probes against local servers on 127.0.0.1 only.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { CertFactory, type Issued } from '../../../test/support/certs.js';
import { isBlockedAddress, probeTls, type ProbeResult, type ServedCertificate } from './probe.js';
import { normalizeSerial } from './x509.js';

const now = Date.now();
let f: CertFactory;
let a: Issued;
let b: Issued;
const servers: Server[] = [];

beforeAll(() => {
  f = CertFactory.create();
  const ca = f.issue({
    cn: 'Probe CA',
    isCA: true,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 86400_000),
  });
  a = f.issue({
    cn: 'a.test',
    sans: ['DNS:a.test'],
    issuer: ca,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 7200_000),
  });
  b = f.issue({
    cn: 'b.test',
    sans: ['DNS:b.test'],
    issuer: ca,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3600_000),
  });
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  f.cleanup();
});

async function listen(s: Server): Promise<number> {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

/** A TLS server choosing its certificate by SNI (a.test when none); records what clients sent. */
async function tlsServer(): Promise<{ port: number; seen: { servername: string | false | null; bytes: number }[] }> {
  const ctx = { 'a.test': a, 'b.test': b } as Record<string, Issued>;
  const seen: { servername: string | false | null; bytes: number }[] = [];
  const s = createTlsServer({
    cert: a.certPem,
    key: a.keyPem,
    SNICallback: (name, cb) => {
      const c = ctx[name] ?? a;
      cb(null, createSecureContext({ cert: c.certPem, key: c.keyPem }));
    },
  });
  s.on('secureConnection', (sock: TLSSocket) => {
    const rec = { servername: sock.servername, bytes: 0 };
    seen.push(rec);
    sock.on('data', (d: Buffer) => (rec.bytes += d.length));
    sock.on('error', () => {});
  });
  return { port: await listen(s), seen };
}

function served(r: ProbeResult): ServedCertificate {
  if (!r.ok) throw new Error(`probe failed: ${r.kind}: ${r.message}`);
  return r;
}

const waitFor = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
};

describe('probeTls', () => {
  test('returns the served leaf: serial, notAfter, fingerprint; SNI sent; no application data sent', async () => {
    const { port, seen } = await tlsServer();
    const r = served(await probeTls({ host: '127.0.0.1', port, serverName: 'a.test' }));
    const x = new X509Certificate(a.certPem);
    expect(r).toEqual({
      ok: true,
      endpoint: `127.0.0.1:${port}`,
      address: '127.0.0.1',
      serverName: 'a.test',
      serial: normalizeSerial(a.serial),
      notBefore: new Date(x.validFrom),
      notAfter: new Date(x.validTo),
      fingerprint256: x.fingerprint256,
    });
    await waitFor(() => seen.length === 1);
    expect(seen).toEqual([{ servername: 'a.test', bytes: 0 }]);
  });

  test('the SNI server name selects the certificate; the host name is the default SNI', async () => {
    const { port, seen } = await tlsServer();
    expect(served(await probeTls({ host: '127.0.0.1', port, serverName: 'b.test' })).serial).toBe(
      normalizeSerial(b.serial),
    );
    const lookup = async (): Promise<{ address: string; family: number }[]> => [{ address: '127.0.0.1', family: 4 }];
    const r = served(await probeTls({ host: 'b.test', port }, { lookup }));
    expect(r).toMatchObject({ serverName: 'b.test', address: '127.0.0.1', serial: normalizeSerial(b.serial) });
    // No SNI for an IP literal: the server falls back to its default certificate.
    expect(served(await probeTls({ host: '127.0.0.1', port })).serial).toBe(normalizeSerial(a.serial));
    await waitFor(() => seen.length === 3);
    expect(seen.map((s) => s.servername)).toEqual(['b.test', 'b.test', false]);
  });

  test('a server that accepts but never answers: Timeout within the given timeout, and the connection is closed', async () => {
    const sockets: Socket[] = [];
    const closed: boolean[] = [];
    const s = createTcpServer((sock) => {
      const i = sockets.push(sock) - 1;
      closed[i] = false;
      sock.on('close', () => (closed[i] = true));
      sock.on('error', () => {});
      sock.resume(); // read, so that the client's FIN is seen (a paused socket never ends)
    });
    const port = await listen(s);
    const r = await probeTls({ host: '127.0.0.1', port, serverName: 'a.test' }, { timeoutMs: 300 });
    expect(r).toMatchObject({ ok: false, kind: 'Timeout' });
    expect((r as { message: string }).message).toBe(`no TLS handshake with 127.0.0.1:${port} within 300 ms`);
    await waitFor(() => closed[0] === true);
    expect(closed).toEqual([true]);
  });

  test('a closed port: Refused', async () => {
    const s = createTcpServer();
    const port = await listen(s);
    await new Promise((r) => s.close(r));
    servers.pop();
    expect(await probeTls({ host: '127.0.0.1', port, serverName: 'a.test' })).toEqual({
      ok: false,
      endpoint: `127.0.0.1:${port}`,
      kind: 'Refused',
      message: `127.0.0.1:${port}: connection refused (ECONNREFUSED)`,
    });
  });

  test('a server that does not speak TLS: HandshakeFailed', async () => {
    const s = createTcpServer((sock) => {
      sock.on('error', () => {});
      sock.resume();
      sock.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
    });
    const port = await listen(s);
    expect(await probeTls({ host: '127.0.0.1', port, serverName: 'a.test' })).toMatchObject({
      ok: false,
      kind: 'HandshakeFailed',
    });
  });

  test('a name resolution that hangs is bounded by the timeout; one that fails is Unresolvable', async () => {
    const hang = (): Promise<never> => new Promise(() => {});
    expect(await probeTls({ host: 'slow.test', port: 443 }, { timeoutMs: 100, lookup: hang })).toMatchObject({
      kind: 'Timeout',
    });
    const nx = async (): Promise<never> => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    expect(await probeTls({ host: 'nx.test', port: 443 }, { lookup: nx })).toMatchObject({ kind: 'Unresolvable' });
  });

  test('blocked addresses are refused before any connection; invalid targets are refused', async () => {
    let connections = 0;
    const s = createTcpServer((sock) => {
      connections++;
      sock.destroy();
    });
    const port = await listen(s);
    // 0.0.0.0 would reach this local server if it were dialled.
    expect(await probeTls({ host: '0.0.0.0', port })).toMatchObject({ ok: false, kind: 'Blocked' });
    const toUnspecified = async (): Promise<{ address: string; family: number }[]> => [
      { address: '0.0.0.0', family: 4 },
    ];
    expect(await probeTls({ host: 'metadata.test', port }, { lookup: toUnspecified })).toMatchObject({
      kind: 'Blocked',
    });
    expect(connections).toBe(0);

    expect(await probeTls({ host: 'a b', port })).toMatchObject({ kind: 'Invalid' });
    expect(await probeTls({ host: '127.0.0.1', port: 0 })).toMatchObject({ kind: 'Invalid' });
    expect(await probeTls({ host: '127.0.0.1', port, serverName: '10.0.0.1' })).toMatchObject({ kind: 'Invalid' });
  });
});

describe('isBlockedAddress', () => {
  test('link-local, unspecified, multicast and broadcast are blocked; loopback and private ranges are not', () => {
    for (const x of [
      '169.254.169.254',
      '0.0.0.0',
      '0.1.2.3',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      'fe80::1',
      'ff02::1',
      '::ffff:169.254.169.254',
      'not-an-ip',
    ]) {
      expect([x, isBlockedAddress(x)]).toEqual([x, true]);
    }
    for (const x of ['127.0.0.1', '10.0.0.1', '192.168.1.1', '172.16.0.1', '::1', 'fd00::1', '::ffff:127.0.0.1']) {
      expect([x, isBlockedAddress(x)]).toEqual([x, false]);
    }
  });
});
