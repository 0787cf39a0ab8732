// The cluster tooling's promises, checked with real processes in a private state directory and private ports:
// idempotent up, exact stop by PID, clean failure with nothing left running, recovery from a half-dead cluster,
// and specific errors for taken ports and missing or stale binaries.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { BINARIES } from '../../hack/cluster/binaries.js';
import { down, readState, status, up } from '../../hack/cluster/cluster.js';
import { layout, PORTS } from '../../hack/cluster/config.js';
import { isOurs } from '../../hack/cluster/proc.js';
import { freePort } from '../support/operator.js';

jest.setTimeout(120_000);

const saved = { ...process.env };

/** A private state dir and a private port for every component, so the suite's own cluster is never touched. */
async function isolate(): Promise<string> {
  const dir = mkdtempSync(join(os.tmpdir(), 'sco-tooling-'));
  process.env.SCO_CLUSTER_DIR = dir;
  for (const p of PORTS) process.env[p.env] = String(await freePort());
  return dir;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

const quiet = () => undefined;

describe('cluster tooling (services group)', () => {
  let dir: string;
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);

  beforeAll(async () => {
    dir = await isolate();
  });
  afterAll(async () => {
    await down({ log: quiet });
    rmSync(dir, { recursive: true, force: true });
    process.env = { ...saved };
  });

  test('up starts PostgreSQL, Redis and S3, records credentials, and a second up is a no-op', async () => {
    expect(await up({ groups: ['services'], build: false, log })).toBe(true);
    const env = JSON.parse(readFileSync(layout().envFile, 'utf8'));
    expect(env.postgres.port).toBe(Number(process.env.SCO_PORT_POSTGRES));
    expect(env.redis.password).toMatch(/^[\w-]{20,}$/);
    const s = await status();
    expect(s.components.map((c) => [c.name, c.healthy])).toEqual([
      ['postgresql', true],
      ['redis', true],
      ['s3', true],
    ]);

    lines.length = 0;
    expect(await up({ groups: ['services'], build: false, log })).toBe(false);
    expect(lines.join('\n')).toMatch(/already running .* nothing to do/);
  });

  test('after a component dies, status says so and up replaces the half-running set', async () => {
    const before = readState(layout())!;
    const redis = before.procs.find((p) => p.name === 'redis')!;
    process.kill(redis.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const s = await status();
    expect(s.components.find((c) => c.name === 'redis')).toMatchObject({ running: false, healthy: false });

    lines.length = 0;
    expect(await up({ groups: ['services'], build: false, log })).toBe(true);
    expect(lines.join('\n')).toMatch(/half-running \(redis gone\)/);
    // The survivors of the old set were stopped, not leaked.
    for (const p of before.procs) expect(isOurs(p)).toBe(false);
    expect((await status()).components.every((c) => c.healthy)).toBe(true);
  });

  test('down stops exactly the recorded processes and frees their ports', async () => {
    const state = readState(layout())!;
    expect(state.procs).toHaveLength(3);
    expect(await down({ log: quiet })).toBe(3);
    for (const p of state.procs) expect(isOurs(p)).toBe(false);
    for (const key of ['postgres', 'redis', 's3'] as const) expect(await portIsFree(state.ports[key])).toBe(true);
    expect(existsSync(layout().stateFile)).toBe(false);
    expect(await down({ log: quiet })).toBe(0);
  });
});

describe('cluster tooling failures', () => {
  afterAll(() => {
    process.env = { ...saved };
  });

  test('a taken port fails with its number and holder, and nothing started by that run survives', async () => {
    const dir = await isolate();
    const blocker = net.createServer();
    const port = Number(process.env.SCO_PORT_S3);
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    try {
      await expect(up({ groups: ['services'], build: false, log: quiet })).rejects.toThrow(
        new RegExp(
          `port ${port} for S3 \\(versitygw\\) is already in use by pid ${process.pid} \\(node\\); .*SCO_PORT_S3=<port>`,
        ),
      );
      expect(existsSync(layout().stateFile)).toBe(false);
    } finally {
      blocker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a component that fails to start is reported with its log, and the ones before it are stopped', async () => {
    const dir = await isolate();
    // versitygw starts last; a bogus data path makes it exit at once, after PostgreSQL and Redis are up.
    process.env.SCO_BIN_DIR = fakeBinDir(dir, 'Kubernetes v1.35.4', {
      versitygw: '#!/bin/sh\necho "backend exploded" >&2\nexit 7\n',
    });
    const pgPort = Number(process.env.SCO_PORT_POSTGRES);
    try {
      await expect(up({ groups: ['services'], build: false, log: quiet })).rejects.toThrow(
        /(S3 \(versitygw\) exited before becoming ready|s3 exited right after starting) \(log: .*s3\.log\); last lines:\n\s+\| backend exploded/,
      );
      expect(existsSync(layout().stateFile)).toBe(false);
      expect(await portIsFree(pgPort)).toBe(true);
      expect(await portIsFree(Number(process.env.SCO_PORT_REDIS))).toBe(true);
    } finally {
      delete process.env.SCO_BIN_DIR;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('missing binaries are named', async () => {
    const dir = await isolate();
    process.env.SCO_BIN_DIR = join(dir, 'no-such-dir');
    try {
      await expect(up({ groups: ['cluster'], build: false, log: quiet })).rejects.toThrow(
        `binary etcd is missing from ${join(dir, 'no-such-dir')}; rebuild with: npm run cluster:build`,
      );
    } finally {
      delete process.env.SCO_BIN_DIR;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('binaries built from other pins are reported as stale', async () => {
    const dir = await isolate();
    process.env.SCO_BIN_DIR = fakeBinDir(dir, 'Kubernetes v1.30.0');
    try {
      await expect(up({ groups: ['cluster'], build: false, log: quiet })).rejects.toThrow(
        /kube-apiserver is stale: it reports "Kubernetes v1.30.0" but hack\/kubebins\/pins.env pins v1\.35\.4/,
      );
    } finally {
      delete process.env.SCO_BIN_DIR;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A directory of stand-in binaries: each prints `version`, unless a script is given for it. */
function fakeBinDir(dir: string, version: string, scripts: Record<string, string> = {}): string {
  const bin = join(dir, 'bin');
  rmSync(bin, { recursive: true, force: true });
  mkdirSync(bin, { recursive: true });
  for (const b of BINARIES) {
    const file = join(bin, b);
    writeFileSync(file, scripts[b] ?? `#!/bin/sh\necho "${version}"\n`);
    chmodSync(file, 0o755);
  }
  return bin;
}
