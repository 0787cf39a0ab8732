// The real node's tooling on this machine: the black hole is in place before anything else, a second `up` is a no-op,
// `up` after a crash (killed node processes, their mounts and the bridge left behind) recovers, and `down` leaves
// nothing: no process, mount, link, route, KUBE-* or SCO-NODE-* chain (iptables and ip6tables), cgroup or file, and
// every sysctl as it was. One real node fits on a machine; when one is already running (the suite's own cluster
// under `npm test`), this suite checks instead that a second one is refused and leaves nothing behind — and
// hack/test.ts checks, after its own `down`, that the suite's node left nothing.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { down, readState, status, up } from '../../hack/cluster/cluster.js';
import { layout, PORTS } from '../../hack/cluster/config.js';
import { BLACKHOLE, BLACKHOLED, FORWARD_CHAIN, NODE_NAME } from '../../hack/cluster/netcfg.js';
import { nodeLayout, nodeLeftovers, runningNodeDir, sysctlSnapshot } from '../../hack/cluster/node.js';
import { freePort } from '../support/operator.js';

jest.setTimeout(240_000);

const saved = { ...process.env };
const other = runningNodeDir();
const lines: string[] = [];
const log = (l: string) => lines.push(l);

async function isolate(): Promise<string> {
  const dir = mkdtempSync(join(os.tmpdir(), 'sco-node-'));
  process.env.SCO_CLUSTER_DIR = dir;
  for (const p of PORTS) process.env[p.env] = String(await freePort());
  return dir;
}

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });

describe('real node tooling', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await isolate();
  });
  afterAll(async () => {
    await down({ log: () => undefined });
    rmSync(dir, { recursive: true, force: true });
    process.env = { ...saved };
  });

  if (other) {
    test(`a second real node is refused while the one from ${other} runs, and nothing of the attempt survives`, async () => {
      await expect(up({ groups: ['cluster', 'node'], build: false, log })).rejects.toThrow(
        `a real node from ${other} is running on this machine (one per machine`,
      );
      expect(existsSync(layout().stateFile)).toBe(false);
      // The running node was not touched.
      expect(runningNodeDir()).toBe(other);
      expect(nodeLeftovers(layout()).filter((x) => x.includes(dir))).toEqual([]);
    });
    return;
  }

  const before = sysctlSnapshot();

  test('up puts the black hole first, then a Ready node next to the kwok nodes; status lists its parts', async () => {
    expect(await up({ groups: ['cluster', 'node'], build: false, log })).toBe(true);
    const order = lines.filter((l) => l.startsWith('✓ ')).map((l) => l.split(' ')[1]);
    expect(order.slice(0, 2)).toEqual(['node-network', 'etcd']);
    const routes = sh('ip', ['route', 'show', 'dev', BLACKHOLE]);
    for (const cidr of BLACKHOLED) expect(routes).toContain(cidr.replace(/\/32$/, ''));
    expect(sh('iptables', ['-w', '5', '-S', 'FORWARD'])).toContain(`-j ${FORWARD_CHAIN}`);
    expect(sh('ip6tables', ['-w', '5', '-S', 'FORWARD'])).toContain(`-j ${FORWARD_CHAIN}`);
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe('1');
    const s = await status();
    expect(s.components.filter((c) => !c.healthy)).toEqual([]);
    expect(s.components.map((c) => c.name)).toEqual(
      expect.arrayContaining(['node-network', 'containerd', 'kubelet', 'kube-proxy', 'coredns', 'metrics-server']),
    );
    expect(lines.join('\n')).toMatch(new RegExp(`node ${NODE_NAME} Ready [\\d.]+s after kubelet started`));

    lines.length = 0;
    expect(await up({ groups: ['cluster', 'node'], build: false, log })).toBe(false);
    expect(lines.join('\n')).toMatch(/already running .* nothing to do/);
  });

  test('up after a crash (node processes killed, mounts and bridge left behind) recovers', async () => {
    const state = readState(layout())!;
    const containerd = state.procs.find((p) => p.name === 'containerd')!;
    const kubelet = state.procs.find((p) => p.name === 'kubelet')!;
    process.kill(kubelet.pid, 'SIGKILL');
    process.kill(containerd.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    // The crash left machine state behind: the bridge and containerd's mounts are still there.
    expect(nodeLeftovers(layout())).toEqual(expect.arrayContaining(['link sco-br0', 'link sco-blackhole']));
    expect(existsSync(nodeLayout(layout()).dir)).toBe(true);

    lines.length = 0;
    expect(await up({ groups: ['cluster', 'node'], build: false, log })).toBe(true);
    expect(lines.join('\n')).toMatch(/half-running \((kubelet, containerd|containerd, kubelet)/);
    expect((await status()).components.filter((c) => !c.healthy)).toEqual([]);
  });

  test('down removes everything the node made and restores the sysctls', async () => {
    const binDir = readState(layout())!.binDir;
    const t0 = Date.now();
    await down({ log: () => undefined });
    console.log(`cluster + node teardown ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    expect(nodeLeftovers(layout(), binDir)).toEqual([]);
    expect(sysctlSnapshot()).toEqual(before);
  });
});
