// The stand-in's HTTP(S) server, on every configured port: /health and /api/health, /metrics
// (Prometheus: http_requests_total{method,path,code} and http_request_duration_seconds{method,path}), /burn?ms=N
// (CPU for HPA tests), /version, and any other path as ordinary application traffic, which is where the error rate,
// the delay and the per-request CPU burn apply. Dependencies (database, cache) are injected.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { failsRequest, type Behaviour } from './behaviour.js';

export interface Check {
  name: string;
  /** Resolves when the dependency answers; rejects with the reason otherwise. */
  check(): Promise<void>;
}

export interface StandIn {
  servers: (http.Server | https.Server)[];
  ports: { http: number[]; https?: number };
  close(): Promise<void>;
}

const KNOWN_PATHS = new Set(['/health', '/api/health', '/metrics', '/burn', '/version']);

/** Spends `ms` of CPU time (not wall time: under a CPU limit or a busy machine it takes longer, as real work
 * would), giving up after 30 s of wall time. */
export function burn(ms: number): void {
  const start = process.cpuUsage();
  const deadline = performance.now() + 30_000;
  let x = 0;
  for (;;) {
    for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + i);
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms || performance.now() > deadline) break;
  }
  if (x < 0) console.log(x); // keeps the loop from being optimised away
}

export async function startStandIn(b: Behaviour, checks: Check[], host = '0.0.0.0'): Promise<StandIn> {
  const registry = new Registry();
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, path and status code',
    labelNames: ['method', 'path', 'code'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request',
    labelNames: ['method', 'path'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'standin_info',
    help: 'The stand-in build and behaviour',
    labelNames: ['version', 'role', 'mode'] as const,
    registers: [registry],
  })
    .labels(b.version, b.role, b.mode)
    .set(1);
  let appRequests = 0;

  const json = (res: http.ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://standin');
    const path = KNOWN_PATHS.has(url.pathname) ? url.pathname : '/other';
    const method = req.method ?? 'GET';
    if (url.pathname === '/metrics') {
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(await registry.metrics());
      return;
    }
    res.on('finish', () => {
      requests.labels(method, path, String(res.statusCode)).inc();
      duration.labels(method, path).observe((performance.now() - started) / 1000);
    });
    if (url.pathname === '/health' || url.pathname === '/api/health') {
      if (b.mode === 'notready') return json(res, 503, { status: 'starting', version: b.version });
      const results: Record<string, string> = {};
      let ok = true;
      await Promise.all(
        checks.map(async (c) => {
          try {
            await c.check();
            results[c.name] = 'ok';
          } catch (err) {
            ok = false;
            results[c.name] = err instanceof Error ? err.message : String(err);
          }
        }),
      );
      return json(res, ok ? 200 : 503, { status: ok ? 'healthy' : 'unhealthy', version: b.version, checks: results });
    }
    if (url.pathname === '/version') return json(res, 200, { version: b.version, role: b.role, mode: b.mode });
    if (url.pathname === '/burn') {
      const ms = Math.min(Number(url.searchParams.get('ms') ?? 100) || 0, 10_000);
      burn(ms);
      return json(res, 200, { burnedMs: ms });
    }
    const n = appRequests++;
    if (b.burnMs > 0) burn(b.burnMs);
    if (b.delayMs > 0) await new Promise((r) => setTimeout(r, b.delayMs));
    if (failsRequest(n, b.errorRate)) return json(res, 500, { error: 'injected failure', version: b.version });
    return json(res, 200, { role: b.role, version: b.version, path: url.pathname });
  };
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { error: String(err) });
      else res.destroy();
    });
  };

  const listen = (server: http.Server | https.Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
    });
  const out: StandIn = {
    servers: [],
    ports: { http: [] },
    close: async () => {
      await Promise.all(
        out.servers.map(
          (s) =>
            new Promise<void>((r) => {
              s.close(() => r());
              s.closeAllConnections();
            }),
        ),
      );
    },
  };
  for (const port of b.ports) {
    const plain = http.createServer({ keepAliveTimeout: 5_000 }, listener);
    out.servers.push(plain);
    out.ports.http.push(await listen(plain, port));
  }
  if (b.tls) {
    // Read once: the server keeps this certificate until the process restarts (what CertRenewal has to detect).
    const secure = https.createServer(
      { cert: readFileSync(b.tls.certFile), key: readFileSync(b.tls.keyFile), keepAliveTimeout: 5_000 },
      listener,
    );
    out.servers.push(secure);
    out.ports.https = await listen(secure, b.tls.port);
  }
  return out;
}
