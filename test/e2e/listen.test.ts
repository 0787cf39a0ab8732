// An endpoint that cannot listen is fatal (controller-runtime's manager returns the error from Start): an operator
// whose /metrics port is taken exits non-zero naming the endpoint and the cause, instead of running without probes.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { installCrds } from '../support/crds.js';
import { testClient } from '../support/kube.js';
import { OperatorProcess } from '../support/operator.js';

jest.setTimeout(90_000);

describe('listeners', () => {
  let held: net.Server;
  let port: number;
  let op: OperatorProcess | undefined;

  beforeAll(async () => {
    const client = await testClient();
    await installCrds(client);
    client.close();
    held = net.createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    port = (held.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await op?.stop();
    await new Promise((r) => held.close(r));
  });

  test('a taken /metrics port makes the operator exit 1 naming the endpoint and EADDRINUSE', async () => {
    op = await OperatorProcess.start({
      identity: 'listen-taken',
      namespaces: ['default'],
      waitReady: false,
      extraArgs: [`--metrics-bind-address=127.0.0.1:${port}`],
    });
    const exit = await op.waitForExit();
    expect(exit.code).toBe(1);
    const text = readFileSync(op.logFile, 'utf8');
    expect(text).toContain(`cannot listen for metrics on 127.0.0.1:${port}`);
    expect(text).toMatch(/EADDRINUSE/);
  });
});
