import { describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { NODE_BINARIES } from './binaries.js';
import { cniBinDir, kubeProxyArgs, type MachineProbe, nodePorts, parseCtrImages, preflight } from './node.js';

describe('node helpers', () => {
  test('ctr images ls output becomes ref → manifest digest (the digest a re-import is compared with)', () => {
    const out = [
      'REF                               TYPE                                       DIGEST          SIZE      PLATFORMS   LABELS',
      'sha256:6346c1 application/vnd.oci.image.manifest.v1+json sha256:97b638 680.7 KiB linux/amd64 io.cri-containerd.image=managed',
      'smartcloudops.local/pause:3.10.1 application/vnd.oci.image.manifest.v1+json sha256:97b638 680.7 KiB linux/amd64 -',
      '',
    ].join('\n');
    expect([...parseCtrImages(out)]).toEqual([
      ['sha256:6346c1', 'sha256:97b638'],
      ['smartcloudops.local/pause:3.10.1', 'sha256:97b638'],
    ]);
  });
  test('kube-proxy leaves oom_score_adj, conntrack sysctls and route_localnet alone and binds health to loopback', () => {
    const args = kubeProxyArgs('/k', nodePorts({}));
    expect(args).toEqual(
      expect.arrayContaining([
        '--proxy-mode=iptables',
        '--oom-score-adj=0',
        '--conntrack-max-per-core=0',
        '--iptables-localhost-nodeports=false',
        '--healthz-bind-address=127.0.0.1:10256',
      ]),
    );
  });
  test('node ports can be moved by environment variables', () => {
    expect(nodePorts({ SCO_PORT_KUBELET: '11250' }).kubelet).toBe(11250);
  });
});

// A machine that has everything the real node needs; each test takes one thing away and expects an error that names
// the missing feature and what to do about it.
function machine(over: Partial<MachineProbe> & { files?: Record<string, string>; missing?: string[] } = {}) {
  const files: Record<string, string> = {
    '/proc/filesystems': 'nodev\tsysfs\nnodev\toverlay\n',
    '/proc/self/oom_score_adj': '0\n',
    ...over.files,
  };
  const present = new Set([
    '/sys/module/bridge',
    '/proc/sys/net/bridge/bridge-nf-call-iptables',
    '/sys/fs/cgroup/cpu',
    '/sys/fs/cgroup/memory',
    '/sys/fs/cgroup/pids',
    ...['bridge', 'host-local', 'loopback'].map((p) => join('/bin/cni', p)),
    ...NODE_BINARIES.map((b) => `/bin/${b}`),
  ]);
  for (const f of Object.keys(files)) present.add(f);
  for (const m of over.missing ?? []) present.delete(m);
  const m: MachineProbe = {
    uid: () => 0,
    readFile: (p) => {
      if (p in files) return files[p] as string;
      throw new Error(`ENOENT: ${p}`);
    },
    writeFile: () => undefined,
    exists: (p) => present.has(p),
    run: () => ({ ok: true, out: '' }),
    ...over,
  };
  return m;
}
const bins = Object.fromEntries(NODE_BINARIES.map((b) => [b, `/bin/${b}`]));

describe('preflight names the missing feature and the fix', () => {
  test('a complete machine passes', () => {
    expect(() => preflight(bins, machine())).not.toThrow();
  });
  test.each<[string, Parameters<typeof machine>[0], RegExp]>([
    ['not root', { uid: () => 1000 }, /needs root .*--only=cluster,services/],
    ['no overlay', { files: { '/proc/filesystems': 'nodev\tsysfs\n' } }, /no overlay filesystem.*modprobe overlay/],
    [
      'no bridge',
      {
        missing: ['/sys/module/bridge'],
        run: (cmd, args) => ({ ok: !args.includes('bridge'), out: 'no such device' }),
      },
      /no bridge support \(no such device\): modprobe bridge/,
    ],
    ['no br_netfilter', { missing: ['/proc/sys/net/bridge/bridge-nf-call-iptables'] }, /br_netfilter is not loaded/],
    [
      'no iptables',
      { run: (cmd) => ({ ok: cmd !== 'iptables', out: '' }) },
      /iptables does not work here \(not installed\): apt-get install iptables/,
    ],
    [
      'ip6tables without permission',
      { run: (cmd) => ({ ok: cmd !== 'ip6tables', out: 'Permission denied (you must be root)' }) },
      /ip6tables does not work here \(Permission denied.*CAP_NET_ADMIN/,
    ],
    ['no memory cgroup', { missing: ['/sys/fs/cgroup/memory'] }, /the memory cgroup controller is not mounted/],
    [
      'cgroup v2 without pids',
      { files: { '/sys/fs/cgroup/cgroup.controllers': 'cpu memory io\n' }, missing: [] },
      /the pids cgroup controller/,
    ],
    [
      'oom_score_adj not writable',
      {
        writeFile: () => {
          throw new Error('EACCES: permission denied');
        },
      },
      /oom_score_adj is not writable \(EACCES: permission denied\); containerd and runc need it/,
    ],
    ['no runc in the bin directory', { missing: ['/bin/runc'] }, /node binary runc is missing; rebuild/],
    [
      'no CNI loopback',
      { missing: [join(cniBinDir(bins), 'loopback')] },
      /CNI plugin loopback is missing.*containernetworking-plugins/,
    ],
  ])('%s', (_name, over, message) => {
    expect(() => preflight(bins, machine(over))).toThrow(message);
  });
  test('a missing node binary says how to rebuild', () => {
    expect(() => preflight({ ...bins, kubelet: undefined }, machine())).toThrow(
      /node binary kubelet is missing; rebuild with: npm run cluster:build/,
    );
  });
});
