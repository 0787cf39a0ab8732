import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { assertPortFree, isOurs, portHolder, startDaemon, stopProcess, waitFor } from './proc.js';

const tmp = () => mkdtempSync(join(os.tmpdir(), 'sco-proc-'));

describe('daemons', () => {
  test('a started daemon is ours until stopped; its output goes to the log', async () => {
    const log = join(tmp(), 'd.log');
    const rec = await startDaemon({ name: 'd', command: '/bin/sh', args: ['-c', 'echo hello; exec sleep 60'], log });
    expect(isOurs(rec)).toBe(true);
    await waitFor(async () => readFileSync(log, 'utf8').includes('hello'), { what: 'output', timeoutMs: 5000 });
    expect(await stopProcess(rec)).toBe('stopped');
    expect(isOurs(rec)).toBe(false);
    expect(await stopProcess(rec)).toBe('gone');
  });

  test('a recycled PID is not mistaken for ours: the start time must match too', async () => {
    const rec = await startDaemon({ name: 'd', command: '/bin/sleep', args: ['60'], log: join(tmp(), 'd.log') });
    try {
      expect(isOurs({ ...rec, startTime: String(Number(rec.startTime) - 1) })).toBe(false);
    } finally {
      await stopProcess(rec);
    }
  });

  test('a daemon that ignores its stop signal is killed', async () => {
    const rec = await startDaemon({
      name: 'stubborn',
      command: '/bin/sh',
      args: ['-c', 'trap "" TERM; while :; do sleep 0.1; done'],
      log: join(tmp(), 's.log'),
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(await stopProcess(rec, 500)).toBe('killed');
    expect(isOurs(rec)).toBe(false);
  });

  test('a missing binary is a clear error', async () => {
    await expect(
      startDaemon({ name: 'x', command: '/nonexistent/bin', args: [], log: join(tmp(), 'x.log') }),
    ).rejects.toThrow('x: binary /nonexistent/bin does not exist');
  });

  test('waitFor reports the component log when the process dies', async () => {
    const log = join(tmp(), 'dies.log');
    const rec = await startDaemon({
      name: 'dies',
      command: '/bin/sh',
      args: ['-c', 'echo fatal: bad flag; sleep 0.3; exit 2'],
      log,
    });
    await expect(waitFor(async () => false, { what: 'dies', timeoutMs: 5000, proc: rec })).rejects.toThrow(
      /dies exited before becoming ready \(log: .*dies\.log\); last lines:\n\s+\| fatal: bad flag/,
    );
  });

  test('waitFor times out with the last probe error', async () => {
    await expect(
      waitFor(
        async () => {
          throw new Error('connection refused');
        },
        { what: 'thing', timeoutMs: 300, intervalMs: 50 },
      ),
    ).rejects.toThrow('thing did not become ready within 0s; last probe error: connection refused');
  });
});

describe('ports', () => {
  test('a held port is reported with its holder and the variable to change it', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    try {
      expect(portHolder(port)).toBe(`pid ${process.pid} (node)`);
      await expect(assertPortFree(port, 'Redis', 'SCO_PORT_REDIS')).rejects.toThrow(
        `port ${port} for Redis is already in use by pid ${process.pid} (node); stop that process or choose another port with SCO_PORT_REDIS=<port>`,
      );
    } finally {
      srv.close();
    }
    await new Promise((r) => setTimeout(r, 50));
    await expect(assertPortFree(port, 'Redis', 'SCO_PORT_REDIS')).resolves.toBeUndefined();
  });
});
