// A tiny HTTP(S) helper for the cluster tooling's readiness probes and bootstrap requests. The operator itself
// talks to Kubernetes through src/kube; the tooling stays independent of it so it can bring up a cluster even when
// the operator does not build.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
  /** Skip server verification: only for component health ports that serve self-signed certificates. */
  insecure?: boolean;
}

export interface HttpResult {
  status: number;
  body: string;
}

export function request(
  method: string,
  url: string,
  opts: { tls?: TlsFiles; body?: unknown; timeoutMs?: number; contentType?: string } = {},
): Promise<HttpResult> {
  const u = new URL(url);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const tls = opts.tls ?? {};
  return new Promise((resolve, reject) => {
    const lib = u.protocol === 'https:' ? https : http;
    const req = lib.request(
      u,
      {
        method,
        headers: payload
          ? { 'content-type': opts.contentType ?? 'application/json', accept: 'application/json' }
          : { accept: 'application/json' },
        ca: tls.ca ? readFileSync(tls.ca) : undefined,
        cert: tls.cert ? readFileSync(tls.cert) : undefined,
        key: tls.key ? readFileSync(tls.key) : undefined,
        rejectUnauthorized: !tls.insecure,
        timeout: opts.timeoutMs ?? 5000,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${opts.timeoutMs ?? 5000}ms: ${method} ${url}`)));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

/** Probe helper: true on 2xx, false on other statuses (with the body kept for the timeout message). */
export async function probeOk(url: string, tls?: TlsFiles): Promise<boolean> {
  const res = await request('GET', url, { tls, timeoutMs: 3000 });
  if (res.status >= 200 && res.status < 300) return true;
  throw new Error(`HTTP ${res.status} from ${url}: ${res.body.slice(0, 300)}`);
}
