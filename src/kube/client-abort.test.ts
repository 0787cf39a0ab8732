// Per-call abort and the no-retry client the leader elector uses, against a local HTTP server: a request that is
// never answered ends when its AbortSignal fires, a Retry-After wait ends with it too, and maxRetries 0 returns a
// 429 at once instead of waiting.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { KubeApiError, KubeClient, KubeTransportError } from './index.js';

let server: http.Server;
let kubeconfig: string;
const hits: Record<string, number> = {};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    hits[req.url as string] = (hits[req.url as string] ?? 0) + 1;
    if (req.url === '/hang') return; // never answers
    res
      .writeHead(429, { 'content-type': 'application/json', 'retry-after': '20' })
      .end('{"kind":"Status","code":429,"reason":"TooManyRequests","message":"slow down"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const dir = mkdtempSync(join(os.tmpdir(), 'sco-abort-'));
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters: [{name: f, cluster: {server: "http://127.0.0.1:${port}"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: f, user: u}}]\ncurrent-context: c\n`,
  );
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('KubeClient per-call abort', () => {
  test('a request that is never answered ends when its signal fires (the client timeout is far longer)', async () => {
    const client = await KubeClient.create({ kubeconfig, timeoutMs: 600_000 });
    const err = await client
      .request('GET', '/hang', { verb: 'get', signal: AbortSignal.timeout(100) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeTransportError);
    expect(hits['/hang']).toBe(1);
    client.close();
  });

  test('a Retry-After wait ends when the signal fires', async () => {
    const client = await KubeClient.create({ kubeconfig }); // default: retries on Retry-After (20 s here)
    const before = hits['/busy'] ?? 0;
    const err = await client
      .request('GET', '/busy', { verb: 'get', signal: AbortSignal.timeout(200) })
      .catch((e: unknown) => e);
    expect((err as Error).name).toMatch(/AbortError|TimeoutError/);
    expect((hits['/busy'] ?? 0) - before).toBe(1);
    client.close();
  });

  test('maxRetries 0 returns a 429 at once instead of sitting in a Retry-After loop', async () => {
    const client = await KubeClient.create({ kubeconfig, maxRetries: 0 });
    const before = hits['/busy'] ?? 0;
    const err = await client.request('GET', '/busy', { verb: 'get' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).code).toBe(429);
    expect((hits['/busy'] ?? 0) - before).toBe(1);
    client.close();
  });
});
