// The stand-in app as a local process (the same bundle the image runs): health, metrics, each behaviour the version
// or the environment selects, CPU burn, TLS that keeps its certificate until restarted, graceful stop.
import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { parseMetrics, sumMetric } from '../../../test/support/prom.js';
import { bundleOnce, cpuMs, startStandIn, type RunningStandIn } from '../../../test/support/standin.js';

// CPU burn and process start-up take longer on a busy machine.
jest.setTimeout(60_000);
let bundle: { file: string; cleanup: () => void };
const running: RunningStandIn[] = [];
const start = async (env: Record<string, string>) => {
  const s = await startStandIn(bundle.file, env);
  running.push(s);
  return s;
};

beforeAll(async () => {
  bundle = await bundleOnce();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});
afterAll(() => bundle.cleanup());

async function get(url: string): Promise<{ status: number; body: string; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url);
  return { status: res.status, body: await res.text(), ms: performance.now() - t0 };
}

describe('stand-in app, run as a process', () => {
  test('healthy: both health paths answer 200, traffic is counted by code and timed', async () => {
    const s = await start({ STANDIN_VERSION: '1.0.0' });
    const health = await get(`${s.url}/health`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'healthy', version: '1.0.0' });
    expect((await get(`${s.url}/api/health`)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await get(`${s.url}/api/items`)).status).toBe(200);
    const m = parseMetrics((await get(`${s.url}/metrics`)).body);
    expect(sumMetric(m, 'http_requests_total', { path: '/other', code: '200' })).toBe(3);
    expect(sumMetric(m, 'http_requests_total', { path: '/health', code: '200' })).toBe(1);
    expect(sumMetric(m, 'http_request_duration_seconds_count', { path: '/other' })).toBe(3);
    expect(sumMetric(m, 'http_request_duration_seconds_bucket', { path: '/other', le: '+Inf' })).toBe(3);
    expect(sumMetric(m, 'standin_info', { version: '1.0.0', role: 'app', mode: 'healthy' })).toBe(1);
  });

  test('one process serves backend and frontend: both ports, both health paths', async () => {
    const s = await start({ STANDIN_VERSION: '1.2.0', STANDIN_ROLE: 'frontend', PORT: '', PORTS: '0,0' });
    expect(s.ports).toHaveLength(2);
    for (const port of s.ports) {
      for (const path of ['/health', '/api/health']) {
        expect((await get(`http://127.0.0.1:${port}${path}`)).status).toBe(200);
      }
    }
    expect(JSON.parse((await get(`${s.url}/version`)).body)).toEqual({
      version: '1.2.0',
      role: 'frontend',
      mode: 'healthy',
    });
  });

  test('-crash exits with status 1 at start, naming the reason', async () => {
    const err = (await startStandIn(bundle.file, { STANDIN_VERSION: '1.1.0-crash' }).catch((e: unknown) => e)) as {
      code: number;
      output: string;
    };
    expect(err.code).toBe(1);
    expect(err.output).toMatch(/crashing at start \(mode crash\)/);
  });

  test('a bad setting exits with status 2 and names the variable', async () => {
    const err = (await startStandIn(bundle.file, { STANDIN_ERROR_RATE: 'often' }).catch((e: unknown) => e)) as {
      code: number;
      output: string;
    };
    expect(err.code).toBe(2);
    expect(err.output).toMatch(/STANDIN_ERROR_RATE: "often"/);
  });

  test('-notready keeps running but its health endpoint answers 503', async () => {
    const s = await start({ STANDIN_VERSION: '1.1.0-notready' });
    for (let i = 0; i < 3; i++) expect((await get(`${s.url}/health`)).status).toBe(503);
    expect(s.proc.exitCode).toBeNull();
    expect((await get(`${s.url}/metrics`)).status).toBe(200);
  });

  test('-errors answers 5xx at the given rate; health stays up', async () => {
    const s = await start({ STANDIN_VERSION: '1.1.0-errors' });
    const codes: number[] = [];
    for (let i = 0; i < 10; i++) codes.push((await get(`${s.url}/`)).status);
    expect(codes.filter((c) => c === 500)).toHaveLength(5);
    expect((await get(`${s.url}/health`)).status).toBe(200);
    const m = parseMetrics((await get(`${s.url}/metrics`)).body);
    expect(sumMetric(m, 'http_requests_total', { path: '/other', code: '500' })).toBe(5);
    expect(sumMetric(m, 'http_requests_total', { path: '/other', code: '200' })).toBe(5);

    const tenth = await start({ STANDIN_VERSION: '1.0.0', STANDIN_ERROR_RATE: '0.1' });
    const failed: number[] = [];
    for (let i = 0; i < 20; i++) failed.push((await get(`${tenth.url}/x`)).status);
    expect(failed.filter((c) => c === 500)).toHaveLength(2);
  });

  test('-slow answers every request after the delay; the histogram shows it', async () => {
    const s = await start({ STANDIN_VERSION: '1.1.0-slow', STANDIN_DELAY_MS: '300' });
    const r = await get(`${s.url}/slow-thing`);
    expect(r.status).toBe(200);
    expect(r.ms).toBeGreaterThanOrEqual(295);
    const m = parseMetrics((await get(`${s.url}/metrics`)).body);
    expect(sumMetric(m, 'http_request_duration_seconds_bucket', { path: '/other', le: '0.25' })).toBe(0);
    expect(sumMetric(m, 'http_request_duration_seconds_bucket', { path: '/other', le: '0.5' })).toBe(1);
    // health is not delayed: probes keep working
    expect((await get(`${s.url}/health`)).ms).toBeLessThan(250);
  });

  test('burns CPU: /burn?ms=N and STANDIN_BURN_MS per request', async () => {
    const s = await start({ STANDIN_VERSION: '1.0.0', STANDIN_BURN_MS: '100' });
    const pid = s.proc.pid as number;
    const before = cpuMs(pid);
    expect(JSON.parse((await get(`${s.url}/burn?ms=400`)).body)).toEqual({ burnedMs: 400 });
    const afterBurn = cpuMs(pid);
    // CPU time, not wall time: the process really computed (clock ticks are 10 ms; other processes share the CPU)
    expect(afterBurn - before).toBeGreaterThanOrEqual(300);
    for (let i = 0; i < 3; i++) await get(`${s.url}/work`);
    expect(cpuMs(pid) - afterBurn).toBeGreaterThanOrEqual(220);
  });

  test('serves TLS from mounted files and keeps the old certificate until restarted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'standin-tls-'));
    const issue = (cn: string) => {
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', `/CN=${cn}`, '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt'),
      ], { stdio: 'ignore' }); // prettier-ignore
    };
    const served = (port: number) =>
      new Promise<string>((resolve, reject) => {
        const sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
          const raw = sock.getPeerX509Certificate();
          sock.end();
          resolve(raw ? new X509Certificate(raw.raw).subject : '');
        });
        sock.on('error', reject);
      });
    try {
      issue('old.standin.test');
      const s = await start({ STANDIN_VERSION: '1.0.0', TLS_DIR: dir });
      expect(s.tlsPort).toBeGreaterThan(0);
      expect(await served(s.tlsPort as number)).toBe('CN=old.standin.test');
      issue('new.standin.test'); // the Secret's files change under the running process
      writeFileSync(join(dir, 'touched'), '');
      expect(await served(s.tlsPort as number)).toBe('CN=old.standin.test');
      await s.stop();
      const restarted = await start({ STANDIN_VERSION: '1.0.0', TLS_DIR: dir });
      expect(await served(restarted.tlsPort as number)).toBe('CN=new.standin.test');
      const res = await fetch(`${restarted.url}/health`);
      expect(res.status).toBe(200); // plain HTTP stays for probes
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('stops cleanly on SIGTERM', async () => {
    const s = await startStandIn(bundle.file, { STANDIN_VERSION: '1.0.0' });
    expect(await s.stop()).toBe(0);
    expect(s.output()).toMatch(/"msg":"stopping","signal":"SIGTERM"/);
  });
});
