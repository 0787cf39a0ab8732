// KubeClient against a local HTTP server on 127.0.0.1, for what the real API server will not do on demand:
// Retry-After, paginated lists, watch lines split across chunks, a 401 after credentials rotated, an HTTP CONNECT
// proxy. (The real API server is exercised in e2e.)
import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import type { TLSSocket } from 'node:tls';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeClient } from './client.js';
import { KubeApiError } from './errors.js';
import { Resources } from './resources.js';
import type { KubeObject, WatchEvent } from './types.js';

const testdata = join(dirname(fileURLToPath(import.meta.url)), 'testdata');

interface Seen {
  method: string;
  url: URL;
  auth?: string;
  socket: net.Socket;
}

const cleanup: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void) {
  const seen: Seen[] = [];
  const sockets = new Set<net.Socket>();
  const closed = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    seen.push({
      method: req.method as string,
      url: new URL(req.url as string, 'http://x'),
      auth: req.headers.authorization,
      socket: req.socket,
    });
    handler(req, res, seen.length);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => closed.add(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(() => r()));
  });
  return { seen, closed, url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}` };
}

/** A kubeconfig in a temporary directory; `user` and `cluster` are YAML flow maps. */
function kubeconfig(server: string, user: string, cluster = ''): string {
  const dir = mkdtempSync(join(os.tmpdir(), 'sco-client-'));
  const file = join(dir, 'kubeconfig');
  writeFileSync(
    file,
    `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${server}"${cluster}}}]\n` +
      `users: [{name: u, user: ${user}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
  );
  return file;
}

async function client(file: string, extra: Parameters<typeof KubeClient.create>[0] = {}) {
  const c = await KubeClient.create({ kubeconfig: file, qps: 1000, burst: 1000, env: {}, ...extra });
  cleanup.push(() => c.close());
  return c;
}

const json = (res: http.ServerResponse, code: number, body: unknown, headers: http.OutgoingHttpHeaders = {}) =>
  res.writeHead(code, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
const cm = (name: string): KubeObject => ({ metadata: { name, namespace: 'ns' } });

describe('KubeClient', () => {
  test('429 and 503 with Retry-After are retried; without it, or past maxRetries, the error surfaces', async () => {
    const srv = await serve((req, res, n) => {
      const name = new URL(req.url as string, 'http://x').pathname.split('/').at(-1);
      if (name === 'busy' && n <= 2) return json(res, n === 1 ? 429 : 503, { code: 429 }, { 'retry-after': '0' });
      if (name === 'busy') return json(res, 200, cm('busy'));
      if (name === 'no-retry-after') return json(res, 429, { kind: 'Status', code: 429, reason: 'TooManyRequests' });
      return json(res, 429, { code: 429 }, { 'retry-after': '0' });
    });
    const c = await client(kubeconfig(srv.url, '{token: t}'), { maxRetries: 3 });
    expect((await c.get(Resources.ConfigMap, 'ns', 'busy')).metadata.name).toBe('busy');
    expect(srv.seen).toHaveLength(3);
    await expect(c.get(Resources.ConfigMap, 'ns', 'no-retry-after')).rejects.toMatchObject({
      code: 429,
      reason: 'TooManyRequests',
    });
    expect(srv.seen).toHaveLength(4);
    await expect(c.get(Resources.ConfigMap, 'ns', 'always')).rejects.toBeInstanceOf(KubeApiError);
    expect(srv.seen).toHaveLength(4 + 1 + 3); // the first try and three retries
  });

  test('a list follows continue tokens and fills in apiVersion/kind of the items', async () => {
    const srv = await serve((req, res) => {
      const q = new URL(req.url as string, 'http://x').searchParams;
      const page = q.get('continue') ?? '0';
      const next = { '0': 'tok-1', 'tok-1': 'tok-2', 'tok-2': '' }[page];
      json(res, 200, {
        metadata: { resourceVersion: page === '0' ? '100' : 'ignored', continue: next },
        items: [cm(`item-${page}`)],
      });
    });
    const c = await client(kubeconfig(srv.url, '{token: t}'));
    const list = await c.list(Resources.ConfigMap, { namespace: 'ns', limit: 1, labelSelector: 'a=b' });
    expect(list.items.map((i) => i.metadata.name)).toEqual(['item-0', 'item-tok-1', 'item-tok-2']);
    expect(list.items[0]).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap' });
    expect(list.metadata?.continue).toBeUndefined();
    expect(srv.seen.map((s) => [s.url.searchParams.get('continue'), s.url.searchParams.get('limit')])).toEqual([
      [null, '1'],
      ['tok-1', '1'],
      ['tok-2', '1'],
    ]);
    expect(srv.seen.every((s) => s.url.searchParams.get('labelSelector') === 'a=b')).toBe(true);
  });

  test('watch events split across chunks (even inside a UTF-8 character) are decoded whole', async () => {
    const events = [
      { type: 'ADDED', object: { ...cm('a'), data: { note: 'grüße ✓' } } },
      { type: 'BOOKMARK', object: { metadata: { resourceVersion: '7' } } },
      { type: 'MODIFIED', object: cm('b') },
    ];
    const bytes = Buffer.from(events.map((e) => JSON.stringify(e) + '\n').join(''));
    const cut = bytes.indexOf(Buffer.from('✓')) + 1; // inside the 3-byte character
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const pieces = [bytes.subarray(0, 5), bytes.subarray(5, cut), bytes.subarray(cut, cut + 40)];
      pieces.push(bytes.subarray(cut + 40));
      let i = 0;
      const next = () => (i < pieces.length ? res.write(pieces[i++], () => setTimeout(next, 10)) : res.end());
      next();
    });
    const c = await client(kubeconfig(srv.url, '{token: t}'));
    const got: WatchEvent<KubeObject>[] = [];
    const w = c.watch(Resources.ConfigMap, { namespace: 'ns', resourceVersion: '5' }, (e) => got.push(e));
    await w.done;
    expect(got).toEqual(events);
    expect(srv.seen[0]?.url.searchParams.get('allowWatchBookmarks')).toBe('true');
  });

  test('a 401 reloads the credentials once and retries; the old pool is closed; a second 401 surfaces', async () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'sco-401-'));
    writeFileSync(join(dir, 'token'), 'old-token\n');
    let valid = 'Bearer old-token';
    const srv = await serve((req, res) => {
      if (req.headers.authorization === valid) return json(res, 200, cm('ok'));
      json(res, 401, { kind: 'Status', code: 401, reason: 'Unauthorized' });
    });
    const c = await client(kubeconfig(srv.url, `{tokenFile: ${join(dir, 'token')}}`));
    await c.get(Resources.ConfigMap, 'ns', 'ok');
    const firstSocket = srv.seen[0]?.socket;
    // The token rotates (kubelet rewrites the projected token); the server stops accepting the old one.
    writeFileSync(join(dir, 'token'), 'new-token\n');
    valid = 'Bearer new-token';
    await c.get(Resources.ConfigMap, 'ns', 'ok');
    expect(srv.seen.map((s) => s.auth)).toEqual(['Bearer old-token', 'Bearer old-token', 'Bearer new-token']);
    expect(c.rotations).toBe(1);
    expect(srv.seen[2]?.socket).not.toBe(firstSocket); // a new pool
    await until('the old pool to close its idle socket', () => srv.closed.has(firstSocket as net.Socket));
    // Credentials that no reload can fix: exactly one retry, then the 401.
    valid = 'Bearer nobody';
    const before = srv.seen.length;
    await expect(c.get(Resources.ConfigMap, 'ns', 'ok')).rejects.toMatchObject({ code: 401 });
    expect(srv.seen.length - before).toBe(2);
  });

  test('a 401 re-runs the exec plugin (its cached token is dropped) and the request succeeds', async () => {
    const state = join(mkdtempSync(join(os.tmpdir(), 'sco-exec-')), 'runs');
    process.env.SCO_EXEC_PLUGIN_STATE = state;
    cleanup.push(() => void delete process.env.SCO_EXEC_PLUGIN_STATE);
    const srv = await serve((req, res) => {
      // Only the second token the plugin issues is accepted.
      if (/^Bearer exec-token-2@/.test(req.headers.authorization ?? '')) return json(res, 200, cm('ok'));
      json(res, 401, { kind: 'Status', code: 401 });
    });
    const dir = mkdtempSync(join(os.tmpdir(), 'sco-exec-'));
    const yaml = readFileSync(join(testdata, 'exec.yaml'), 'utf8')
      .replace('https://127.0.0.1:6443', srv.url)
      .replace('./exec-plugin.mjs', join(testdata, 'exec-plugin.mjs'));
    writeFileSync(join(dir, 'kubeconfig'), yaml);
    const c = await client(join(dir, 'kubeconfig'));
    await c.get(Resources.ConfigMap, 'ns', 'ok');
    expect(srv.seen.map((s) => s.auth?.replace(/@.*/, ''))).toEqual(['Bearer exec-token-1', 'Bearer exec-token-2']);
    expect(readFileSync(state, 'utf8')).toBe('2');
  });

  test('a watch answered 401 makes the next attempt re-run the exec plugin', async () => {
    const state = join(mkdtempSync(join(os.tmpdir(), 'sco-exec-')), 'runs');
    process.env.SCO_EXEC_PLUGIN_STATE = state;
    cleanup.push(() => void delete process.env.SCO_EXEC_PLUGIN_STATE);
    const srv = await serve((req, res) => {
      if (!/^Bearer exec-token-2@/.test(req.headers.authorization ?? '')) return json(res, 401, { code: 401 });
      res.writeHead(200).end(JSON.stringify({ type: 'ADDED', object: cm('w') }) + '\n');
    });
    const dir = mkdtempSync(join(os.tmpdir(), 'sco-exec-'));
    const yaml = readFileSync(join(testdata, 'exec.yaml'), 'utf8')
      .replace('https://127.0.0.1:6443', srv.url)
      .replace('./exec-plugin.mjs', join(testdata, 'exec-plugin.mjs'));
    writeFileSync(join(dir, 'kubeconfig'), yaml);
    const c = await client(join(dir, 'kubeconfig'));
    await expect(c.watch(Resources.ConfigMap, {}, () => undefined).done).rejects.toMatchObject({ code: 401 });
    const got: string[] = [];
    await c.watch(Resources.ConfigMap, {}, (e) => got.push(e.object.metadata.name as string)).done;
    expect(got).toEqual(['w']);
    expect(srv.seen.map((s) => s.auth?.replace(/@.*/, ''))).toEqual(['Bearer exec-token-1', 'Bearer exec-token-2']);
  });

  test('new TLS material closes the old pools at once, watches included (client-go cert rotation)', async () => {
    const srv = await serve((req, res) => {
      if (new URL(req.url as string, 'http://x').searchParams.get('watch')) {
        res.writeHead(200).write(JSON.stringify({ type: 'ADDED', object: cm('w') }) + '\n'); // and stays open
      } else json(res, 200, cm('ok'));
    });
    const dir = mkdtempSync(join(os.tmpdir(), 'sco-tls-'));
    writeFileSync(join(dir, 'client.crt'), 'cert-1');
    writeFileSync(join(dir, 'client.key'), 'key-1');
    const c = await client(
      kubeconfig(srv.url, `{client-certificate: ${dir}/client.crt, client-key: ${dir}/client.key}`),
    );
    await c.get(Resources.ConfigMap, 'ns', 'ok');
    const got: string[] = [];
    const w = c.watch(Resources.ConfigMap, {}, (e) => got.push(e.object.metadata.name as string));
    await until('the watch event', () => got.length === 1);
    writeFileSync(join(dir, 'client.crt'), 'cert-2'); // the certificate was renewed on disk
    await (c as unknown as { maybeRefresh(force: boolean): Promise<void> }).maybeRefresh(true);
    expect(c.rotations).toBe(1);
    await expect(w.done).rejects.toThrow(/cut off|socket hang up|aborted/);
    await until('both old sockets closed', () => srv.seen.every((s) => srv.closed.has(s.socket)));
    await c.get(Resources.ConfigMap, 'ns', 'ok');
    expect(srv.closed.has(srv.seen.at(-1)?.socket as net.Socket)).toBe(false); // a new pool
  });

  test('proxy-url: requests and watches go through an HTTP CONNECT proxy', async () => {
    const srv = await serve((req, res) => {
      if (new URL(req.url as string, 'http://x').searchParams.get('watch')) {
        res.writeHead(200).end(JSON.stringify({ type: 'ADDED', object: cm('w') }) + '\n');
      } else json(res, 200, cm('via-proxy'));
    });
    const { tunnels, proxyUrl } = await connectProxy('op:pw');
    const c = await client(kubeconfig(srv.url, '{token: t}', `, proxy-url: "${proxyUrl}"`));
    expect((await c.get(Resources.ConfigMap, 'ns', 'x')).metadata.name).toBe('via-proxy');
    const got: string[] = [];
    await c.watch(Resources.ConfigMap, { namespace: 'ns' }, (e) => got.push(e.object.metadata.name as string)).done;
    expect(got).toEqual(['w']);
    const target = srv.url.replace('http://', '');
    expect(tunnels.length).toBeGreaterThanOrEqual(2); // the request pool and the watch pool
    for (const t of tunnels) expect(t).toEqual({ target, auth: `Basic ${Buffer.from('op:pw').toString('base64')}` });
    expect(srv.seen.map((s) => s.auth)).toEqual(['Bearer t', 'Bearer t']);
  });

  test('a proxy that is down fails the request with an error naming the proxy', async () => {
    const port = await new Promise<number>((r) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => r(p));
      });
    });
    const c = await client(kubeconfig('http://127.0.0.1:9', '{token: t}', `, proxy-url: "http://127.0.0.1:${port}"`));
    await expect(c.get(Resources.ConfigMap, 'ns', 'x')).rejects.toThrow(
      `proxy 127.0.0.1:${port}: connect ECONNREFUSED`,
    );
  });

  describe("kind's kubeconfig shape over TLS with client certificates", () => {
    let pki: Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string>;
    beforeAll(() => {
      const dir = mkdtempSync(join(os.tmpdir(), 'sco-pki-'));
      const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
      const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
      run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=test-ca');
      for (const [name, subj, ext] of [
        ['server', '/CN=kube-apiserver', 'subjectAltName=IP:127.0.0.1'],
        ['client', '/O=system:masters/CN=kind-admin', 'extendedKeyUsage=clientAuth'],
      ] as const) {
        run('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj);
        writeFileSync(join(dir, `${name}.ext`), ext);
        run(
          'x509',
          '-req',
          '-in',
          `${name}.csr`,
          '-CA',
          'ca.crt',
          '-CAkey',
          'ca.key',
          '-CAcreateserial',
          '-out',
          `${name}.crt`,
          '-days',
          '1',
          '-extfile',
          `${name}.ext`,
        );
      }
      const read = (f: string) => readFileSync(join(dir, f), 'utf8');
      pki = {
        ca: read('ca.crt'),
        serverCert: read('server.crt'),
        serverKey: read('server.key'),
        clientCert: read('client.crt'),
        clientKey: read('client.key'),
      };
    });

    async function tlsServer() {
      const subjects: string[] = [];
      const server = https.createServer(
        { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requestCert: true, rejectUnauthorized: true },
        (req, res) => {
          subjects.push((req.socket as TLSSocket).getPeerCertificate().subject.CN as string);
          json(res, 200, cm('tls'));
        },
      );
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const sockets = new Set<net.Socket>();
      server.on('secureConnection', (s: net.Socket) => sockets.add(s));
      cleanup.push(() => {
        for (const s of sockets) s.destroy();
        return new Promise((r) => server.close(() => r()));
      });
      return { subjects, url: `https://127.0.0.1:${(server.address() as net.AddressInfo).port}` };
    }

    function kindKubeconfig(url: string, extra = ''): string {
      const b64 = (s: string) => Buffer.from(s).toString('base64');
      const yaml = readFileSync(join(testdata, 'kind.yaml'), 'utf8')
        .replace('https://127.0.0.1:40127', `${url}${extra}`)
        .replace(b64('kind-ca-pem'), b64(pki.ca))
        .replace(b64('kind-client-cert-pem'), b64(pki.clientCert))
        .replace(b64('kind-client-key-pem'), b64(pki.clientKey));
      const file = join(mkdtempSync(join(os.tmpdir(), 'sco-kind-')), 'kubeconfig');
      writeFileSync(file, yaml);
      return file;
    }

    test('the server is verified against the embedded CA and sees the client certificate', async () => {
      const srv = await tlsServer();
      const c = await client(kindKubeconfig(srv.url));
      expect((await c.get(Resources.ConfigMap, 'ns', 'x')).metadata.name).toBe('tls');
      expect(srv.subjects).toEqual(['kind-admin']);
    });

    test('through a CONNECT proxy, TLS is end to end', async () => {
      const srv = await tlsServer();
      const { tunnels, proxyUrl } = await connectProxy();
      const c = await client(kindKubeconfig(srv.url, `\n      proxy-url: ${proxyUrl}`));
      expect((await c.get(Resources.ConfigMap, 'ns', 'x')).metadata.name).toBe('tls');
      expect(srv.subjects).toEqual(['kind-admin']);
      expect(tunnels).toEqual([{ target: srv.url.replace('https://', ''), auth: undefined }]);
    });

    test('an https:// proxy is verified with the cluster CA', async () => {
      const srv = await tlsServer();
      const { tunnels, proxyUrl } = await connectProxy(undefined, { cert: pki.serverCert, key: pki.serverKey });
      expect(proxyUrl).toMatch(/^https:/);
      const c = await client(kindKubeconfig(srv.url, `\n      proxy-url: ${proxyUrl}`));
      expect((await c.get(Resources.ConfigMap, 'ns', 'x')).metadata.name).toBe('tls');
      expect(tunnels).toHaveLength(1);
      expect(srv.subjects).toEqual(['kind-admin']);
    });

    test('a server certificate from another CA is refused', async () => {
      const srv = await tlsServer();
      const file = kindKubeconfig(srv.url);
      writeFileSync(
        file,
        readFileSync(file, 'utf8').replace(
          Buffer.from(pki.ca).toString('base64'),
          Buffer.from(pki.clientCert).toString('base64'),
        ),
      );
      const c = await client(file);
      await expect(c.get(Resources.ConfigMap, 'ns', 'x')).rejects.toThrow(/certificate/);
      expect(srv.subjects).toEqual([]);
    });
  });

  test('TLS verification off is warned about once per client', async () => {
    const warnings: string[] = [];
    const log = { warn: (_o: object, msg: string) => void warnings.push(msg) };
    const file = kubeconfig('https://127.0.0.1:1', '{token: t}', ', insecure-skip-tls-verify: true');
    const c = await client(file, { log });
    expect(warnings).toEqual([
      'TLS verification of the API server is off (insecure-skip-tls-verify): anyone on the path can impersonate it',
    ]);
    await (c as unknown as { maybeRefresh(force: boolean): Promise<void> }).maybeRefresh(true);
    expect(warnings).toHaveLength(1);
    await client(kubeconfig('https://127.0.0.1:1', '{token: t}'), { log });
    expect(warnings).toHaveLength(1);
  });
});

/** A local HTTP CONNECT proxy that records the tunnels it opens. */
async function connectProxy(userinfo?: string, tls?: { cert: string; key: string }) {
  const tunnels: { target: string; auth?: string }[] = [];
  const refuse = (_req: http.IncomingMessage, res: http.ServerResponse) => res.writeHead(405).end();
  const proxy = tls ? https.createServer(tls, refuse) : http.createServer(refuse);
  proxy.on('connect', (req: http.IncomingMessage, clientSocket: net.Socket, head: Buffer) => {
    tunnels.push({ target: req.url as string, auth: req.headers['proxy-authorization'] });
    const [host, port] = (req.url as string).split(':');
    const upstream = net.connect(Number(port), host, () => {
      clientSocket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(clientSocket).pipe(upstream);
    });
    upstream.on('error', () => clientSocket.destroy());
    clientSocket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise((r) => proxy.close(() => r())));
  proxy.on('connection', (s: net.Socket) => cleanup.push(() => void s.destroy()));
  const port = (proxy.address() as net.AddressInfo).port;
  return { tunnels, proxyUrl: `${tls ? 'https' : 'http'}://${userinfo ? `${userinfo}@` : ''}127.0.0.1:${port}` };
}

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
