// The real node: what kind's node image does, directly on this machine, from pinned sources. Steps (group "node"):
//   node-network    preflight (root, overlay, bridge, iptables, cgroups, oom_score_adj, runc, CNI plugins), recovery
//                   from a crashed run, then FIRST the black-hole routes, the pod bridge, sysctls and the FORWARD
//                   rules that keep pods on this machine (netcfg.ts). Runs before etcd.
//   containerd      containerd 2.x (CRI, overlayfs, restrict_oom_score_adj, netns under its state dir, sandbox image =
//                   our pause), then the images: pause + testbin, and hack/images' images.json when that exists
//   kubelet         own client certificate, webhook authn/authz, cgroupfs, failCgroupV1: false, registered tainted and
//                   labelled; Ready is the end of this step
//   kube-proxy      iptables mode, --oom-score-adj=0, masquerading only what leaves the pod range for a Service
//   coredns         a host process on the bridge address serving cluster.local; Service kube-system/kube-dns
//                   (10.96.0.10) with Endpoints → it
//   metrics-server  a host process on the node IP; Service + Endpoints + APIService v1beta1.metrics.k8s.io
// Everything machine-global that `up` creates or changes is written to a record in /run before it is made, so that
// `down` — and an `up` after a crash — removes exactly that: processes by PID, pod processes by cgroup, mounts
// under the node's directory, veths, the bridge and the dummy device (their routes go with them), KUBE-*/SCO-NODE-*
// chains in iptables and ip6tables, sysctls written back, pod cgroups, the CNI cache files of our network.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NODE_BINARIES } from './binaries.js';
import type { Ctx, Step } from './cluster.js';
import { repoRoot, type Layout } from './config.js';
import { probeOk, request, type HttpResult } from './http.js';
import {
  BLACKHOLE,
  BLACKHOLED,
  BRIDGE,
  BRIDGE_IP,
  CGROUP_ROOT,
  CNI_NETWORK,
  cniConflist,
  DNS_SERVICE_IP,
  FORWARD_CHAIN,
  forwardRules,
  forwardRules6,
  jumpsToOwned,
  mountsUnder,
  NODE_LABEL,
  NODE_NAME,
  NODE_TAINT,
  ownedChains,
  POD_CIDR,
  RECORDED_SYSCTLS,
  SET_SYSCTLS,
} from './netcfg.js';
import { ensureNodePki, kubeconfigYaml, pkiPaths } from './pki.js';
import { ClusterError, isOurs, procStartTime, stopProcess, waitFor, type ProcRecord } from './proc.js';

/** The CNI plugins build.sh copied from Debian's package into the hashed bin directory (beside runc). */
export const CNI_PLUGINS = ['bridge', 'host-local', 'loopback'] as const;
export const cniBinDir = (bins: Partial<Record<string, string>>): string => join(dirname(bins.runc ?? ''), 'cni');
const RECORD_DIR = '/run/smartcloudops-node';
const RECORD = join(RECORD_DIR, 'record.json');
/** Machine-global paths the node's components create when missing; removed on teardown only if we created them. */
const GLOBAL_PATHS = ['/var/log/containers', '/run/containerd', '/var/lib/cni', '/run/netns'];

export interface NodePorts {
  kubelet: number;
  kubeletHealthz: number;
  proxyHealthz: number;
  proxyMetrics: number;
  metricsServer: number;
  corednsHealth: number;
  corednsReady: number;
}

/** The node's ports: kubelet on the node IP, the rest on 127.0.0.1 (metrics-server on the node IP). */
export function nodePorts(env: NodeJS.ProcessEnv = process.env): NodePorts {
  const n = (v: string, d: number) => (env[v] ? Number(env[v]) : d);
  return {
    kubelet: n('SCO_PORT_KUBELET', 10250),
    kubeletHealthz: n('SCO_PORT_KUBELET_HEALTHZ', 10248),
    proxyHealthz: n('SCO_PORT_KUBE_PROXY_HEALTHZ', 10256),
    proxyMetrics: n('SCO_PORT_KUBE_PROXY_METRICS', 10249),
    metricsServer: n('SCO_PORT_METRICS_SERVER', 10251),
    corednsHealth: n('SCO_PORT_COREDNS_HEALTH', 10253),
    corednsReady: n('SCO_PORT_COREDNS_READY', 10254),
  };
}

export interface NodeRecord {
  clusterDir: string;
  nodeDir: string;
  /** Values before `up` changed anything (missing when the sysctl does not exist here). */
  sysctls: Record<string, string>;
  /** Entries of GLOBAL_PATHS that did not exist before `up`. */
  createdPaths: string[];
  containerdSocket: string;
  shim: string;
  /** The `up` process that wrote the record: while it lives, the node is being started (or used) by it. */
  owner?: { pid: number; startTime: string };
}

export interface NodeLayout {
  dir: string;
  containerdRoot: string;
  containerdState: string;
  containerdConfig: string;
  socket: string;
  kubeletRoot: string;
  podLogs: string;
  cniConfDir: string;
  ipamDir: string;
  pki: string;
}

export function nodeLayout(l: Layout): NodeLayout {
  const dir = join(l.dir, 'node');
  return {
    dir,
    containerdRoot: join(dir, 'containerd', 'root'),
    containerdState: join(dir, 'containerd', 'state'),
    containerdConfig: join(dir, 'containerd', 'config.toml'),
    socket: join(dir, 'containerd', 'containerd.sock'),
    kubeletRoot: join(dir, 'kubelet'),
    podLogs: join(dir, 'pod-logs'),
    cniConfDir: join(dir, 'cni', 'net.d'),
    ipamDir: join(dir, 'cni', 'ipam'),
    pki: join(dir, 'pki'),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// small I/O helpers

function run(cmd: string, args: string[], what?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') throw new ClusterError(`${cmd} is not installed (${what ?? 'needed by the real node'})`);
    throw new ClusterError(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/** Like run, for teardown: failures are returned, not thrown. */
function tryRun(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

function readSysctl(key: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${key}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function writeSysctl(key: string, value: string): void {
  try {
    writeFileSync(`/proc/sys/${key}`, value);
  } catch (err) {
    throw new ClusterError(
      `cannot set sysctl ${key.replace(/\//g, '.')}=${value}: ${(err as Error).message} (the real node needs root in the initial network namespace)`,
    );
  }
}

function linkExists(name: string): boolean {
  return tryRun('ip', ['link', 'show', 'dev', name]).ok;
}

function readRecord(): NodeRecord | undefined {
  try {
    return JSON.parse(readFileSync(RECORD, 'utf8')) as NodeRecord;
  } catch {
    return undefined;
  }
}

function kubeReq(ctx: Ctx, method: string, path: string, body?: unknown, contentType?: string): Promise<HttpResult> {
  const p = pkiPaths(ctx.layout.pki);
  return request(method, `https://127.0.0.1:${ctx.ports.apiserver}${path}`, {
    tls: { ca: p.caCert, cert: p.adminCert, key: p.adminKey },
    body,
    contentType,
  });
}

/** Server-side apply of one object (field manager smartcloudops-cluster). */
async function apply(ctx: Ctx, path: string, obj: object): Promise<void> {
  const res = await kubeReq(
    ctx,
    'PATCH',
    `${path}?fieldManager=smartcloudops-cluster&force=true`,
    obj,
    'application/apply-patch+yaml',
  );
  if (res.status >= 300) throw new ClusterError(`applying ${path}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// preflight

/** What preflight reads of the machine (the real one by default; tests describe machines that lack a feature). */
export interface MachineProbe {
  uid(): number | undefined;
  readFile(path: string): string;
  writeFile(path: string, data: string): void;
  exists(path: string): boolean;
  run(cmd: string, args: string[]): { ok: boolean; out: string };
}

export const thisMachine: MachineProbe = {
  uid: () => process.getuid?.(),
  readFile: (path) => readFileSync(path, 'utf8'),
  writeFile: (path, data) => writeFileSync(path, data),
  exists: (path) => existsSync(path),
  run: tryRun,
};

/** Checks what the real node needs from the machine; each failure names the feature and what to do. */
export function preflight(bins: Partial<Record<string, string>>, m: MachineProbe = thisMachine): void {
  const fix = 'or run a kwok-only cluster: npm run cluster:up -- --only=cluster,services';
  if (m.uid() !== 0) {
    throw new ClusterError(
      `the real node needs root (network devices, iptables, mounts, cgroups); run as root, ${fix}`,
    );
  }
  const filesystems = m.readFile('/proc/filesystems');
  if (!/\boverlay\b/.test(filesystems)) {
    throw new ClusterError(
      `the kernel has no overlay filesystem (containerd's overlayfs snapshotter): modprobe overlay, ${fix}`,
    );
  }
  if (!m.exists('/sys/module/bridge') && !m.exists('/proc/sys/net/bridge')) {
    const probe = m.run('ip', ['link', 'add', 'sco-probe-br', 'type', 'bridge']);
    if (!probe.ok)
      throw new ClusterError(`the kernel has no bridge support (${probe.out}): modprobe bridge br_netfilter, ${fix}`);
    m.run('ip', ['link', 'del', 'sco-probe-br']);
  }
  if (!m.exists('/proc/sys/net/bridge/bridge-nf-call-iptables')) {
    throw new ClusterError(
      `br_netfilter is not loaded (Services between pods on the bridge need it): modprobe br_netfilter, ${fix}`,
    );
  }
  for (const cmd of ['iptables', 'ip6tables']) {
    const r = m.run(cmd, ['-w', '5', '-t', 'filter', '-S', 'FORWARD']);
    if (!r.ok) {
      throw new ClusterError(
        `${cmd} does not work here (${r.out || 'not installed'}): apt-get install iptables (needs CAP_NET_ADMIN), ${fix}`,
      );
    }
  }
  const v2 = m.exists('/sys/fs/cgroup/cgroup.controllers');
  const controllers = v2
    ? m.readFile('/sys/fs/cgroup/cgroup.controllers').split(/\s+/)
    : ['cpu', 'memory', 'pids'].filter((c) => m.exists(`/sys/fs/cgroup/${c}`));
  for (const c of ['cpu', 'memory', 'pids']) {
    if (!controllers.includes(c)) {
      throw new ClusterError(
        `the ${c} cgroup controller is not mounted under /sys/fs/cgroup (kubelet needs cpu, memory, pids), ${fix}`,
      );
    }
  }
  try {
    m.writeFile('/proc/self/oom_score_adj', m.readFile('/proc/self/oom_score_adj').trim());
  } catch (err) {
    throw new ClusterError(
      `/proc/self/oom_score_adj is not writable (${(err as Error).message}); containerd and runc need it, ${fix}`,
    );
  }
  for (const p of CNI_PLUGINS) {
    if (!m.exists(join(cniBinDir(bins), p))) {
      throw new ClusterError(
        `the CNI plugin ${p} is missing from ${cniBinDir(bins)}: apt-get install containernetworking-plugins, then npm run cluster:build`,
      );
    }
  }
  for (const b of NODE_BINARIES) {
    if (!bins[b] || !m.exists(bins[b] as string)) {
      throw new ClusterError(`the node binary ${b} is missing; rebuild with: npm run cluster:build`);
    }
  }
}

/** Refuses to start a second real node on this machine (the bridge, routes and chains are machine-global). */
function assertNoOtherNode(l: Layout): void {
  const other = runningNodeDir();
  // A record of a cluster whose node processes are gone is a crash's leftover: the network step cleans it up.
  if (other && other !== l.dir) {
    throw new ClusterError(
      `a real node from ${other} is running on this machine (one per machine: the bridge ${BRIDGE}, routes and iptables chains are global); stop it with SCO_CLUSTER_DIR=${other} npm run cluster:down`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// steps

const networkStep: Step = {
  name: 'node-network',
  group: 'node',
  noProcess: true,
  async run(ctx) {
    const nl = nodeLayout(ctx.layout);
    assertNoOtherNode(ctx.layout);
    preflight(ctx.bins!);
    if (readRecord() || linkExists(BRIDGE) || linkExists(BLACKHOLE)) {
      ctx.log('  leftovers of an earlier real node found (crash?); cleaning them up first');
      await teardownResources(ctx.layout, ctx.log);
    }
    const sysctls: Record<string, string> = {};
    for (const k of RECORDED_SYSCTLS) {
      const v = readSysctl(k);
      if (v !== undefined) sysctls[k] = v;
    }
    const record: NodeRecord = {
      clusterDir: ctx.layout.dir,
      nodeDir: nl.dir,
      sysctls,
      createdPaths: GLOBAL_PATHS.filter((p) => !existsSync(p)),
      containerdSocket: nl.socket,
      shim: ctx.bins!['containerd-shim-runc-v2'],
      owner: { pid: process.pid, startTime: procStartTime(process.pid) ?? '' },
    };
    mkdirSync(RECORD_DIR, { recursive: true });
    writeFileSync(RECORD, JSON.stringify(record, null, 2));

    // First: nothing addressed to a cluster range without a real device may leave the machine.
    // A dummy device (like kube-proxy's kube-ipvs0); kernels without the dummy driver get a bridge with no ports,
    // which drops what is routed to it just the same. Not a `blackhole` route: that fails a host's connect() to a
    // ClusterIP before kube-proxy's OUTPUT DNAT could rewrite it.
    if (!tryRun('ip', ['link', 'add', BLACKHOLE, 'type', 'dummy']).ok) {
      run('ip', ['link', 'add', BLACKHOLE, 'type', 'bridge'], 'iproute2');
      writeSysctl(`net/ipv6/conf/${BLACKHOLE}/disable_ipv6`, '1');
    }
    run('ip', ['link', 'set', BLACKHOLE, 'up']);
    for (const cidr of BLACKHOLED) run('ip', ['route', 'add', cidr, 'dev', BLACKHOLE]);
    // The pod bridge, with the gateway address CoreDNS listens on; no IPv6 on it.
    run('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
    writeSysctl(`net/ipv6/conf/${BRIDGE}/disable_ipv6`, '1');
    run('ip', ['addr', 'add', `${BRIDGE_IP}/24`, 'dev', BRIDGE]);
    run('ip', ['link', 'set', BRIDGE, 'up']);
    // Pods stay on the machine.
    run('iptables', ['-w', '5', '-N', FORWARD_CHAIN]);
    for (const r of forwardRules()) run('iptables', ['-w', '5', '-A', FORWARD_CHAIN, ...r]);
    run('iptables', ['-w', '5', '-I', 'FORWARD', '1', '-j', FORWARD_CHAIN]);
    run('ip6tables', ['-w', '5', '-N', FORWARD_CHAIN]);
    for (const r of forwardRules6()) run('ip6tables', ['-w', '5', '-A', FORWARD_CHAIN, ...r]);
    run('ip6tables', ['-w', '5', '-I', 'FORWARD', '1', '-j', FORWARD_CHAIN]);
    for (const [k, v] of Object.entries(SET_SYSCTLS)) writeSysctl(k, v);
    // kubelet's cgroupRoot must exist in every hierarchy before it starts.
    for (const d of cgroupHierarchies()) mkdirSync(join(d, CGROUP_ROOT), { recursive: true });

    for (const d of [
      nl.containerdRoot,
      nl.containerdState,
      nl.kubeletRoot,
      nl.podLogs,
      nl.cniConfDir,
      nl.ipamDir,
      nl.pki,
    ]) {
      mkdirSync(d, { recursive: true });
    }
  },
  async probe() {
    const routes = run('ip', ['route', 'show', 'dev', BLACKHOLE]);
    const missing = BLACKHOLED.filter((c) => !routes.includes(c.replace(/\/32$/, '')));
    if (missing.length) throw new Error(`black-hole routes missing: ${missing.join(', ')}`);
    if (!linkExists(BRIDGE)) throw new Error(`bridge ${BRIDGE} missing`);
    return true;
  },
};

export function containerdConfig(nl: NodeLayout, pauseRef: string, bins: { runc: string }): string {
  return `version = 3
root = "${nl.containerdRoot}"
state = "${nl.containerdState}"
disabled_plugins = [
  "io.containerd.nri.v1.nri",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.snapshotter.v1.erofs",
]

[grpc]
  address = "${nl.socket}"

[ttrpc]
  address = "${nl.socket}.ttrpc"

[plugins.'io.containerd.internal.v1.opt']
  path = "${join(nl.dir, 'containerd', 'opt')}"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "${pauseRef}"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "${join(nl.dir, 'containerd', 'certs.d')}"

[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "${bins.runc}"
        Root = "${join(nl.containerdState, 'runc')}"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["${cniBinDir(bins)}"]
    conf_dir = "${nl.cniConfDir}"
    max_conf_num = 1

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`;
}

interface ImageEntry {
  ref: string;
  archive: string;
}

function readImagesJson(dir: string, what: string): ImageEntry[] {
  const file = join(dir, 'images.json');
  if (!existsSync(file)) throw new ClusterError(`${what}: ${file} does not exist`);
  const list = JSON.parse(readFileSync(file, 'utf8')) as ImageEntry[];
  return list.map((e) => ({ ref: e.ref, archive: e.archive.startsWith('/') ? e.archive : join(dir, e.archive) }));
}

/** The images hack/images/build.sh built, when that script exists (it is optional until it lands). */
function externalImages(log: (l: string) => void): ImageEntry[] {
  const script = join(repoRoot, 'hack', 'images', 'build.sh');
  if (!existsSync(script)) {
    log('  hack/images/build.sh does not exist here: importing only the node images (pause, testbin)');
    return [];
  }
  const r = spawnSync('bash', [script, '--check'], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new ClusterError(
      `the images are not built (bash hack/images/build.sh --check exited ${r.status}: ${(r.stderr ?? '').trim().split('\n').pop()}); run: bash hack/images/build.sh`,
    );
  }
  const dir = r.stdout.trim().split('\n').pop() as string;
  return readImagesJson(dir, 'hack/images/build.sh --check');
}

/** The digest of the (single) manifest an OCI archive's index.json names. */
export function archiveDigest(archive: string): string {
  const index = JSON.parse(run('tar', ['-xOf', archive, 'index.json'])) as { manifests: { digest: string }[] };
  const d = index.manifests[0]?.digest;
  if (!d) throw new ClusterError(`${archive} has no manifest in its index.json`);
  return d;
}

/** ref → digest of the images in containerd's k8s.io namespace, from `ctr images ls`. */
export function parseCtrImages(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split('\n').slice(1)) {
    const [ref, , digest] = line.trim().split(/\s+/);
    if (ref && digest?.startsWith('sha256:')) m.set(ref, digest);
  }
  return m;
}

async function importImages(ctx: Ctx, images: ImageEntry[]): Promise<void> {
  const bins = ctx.bins!;
  const ctr = (args: string[]) =>
    run(bins.ctr as string, ['--address', nodeLayout(ctx.layout).socket, '-n', 'k8s.io', ...args]);
  const present = parseCtrImages(ctr(['images', 'ls']));
  for (const img of images) {
    if (!existsSync(img.archive)) throw new ClusterError(`image archive ${img.archive} (${img.ref}) does not exist`);
    const digest = archiveDigest(img.archive);
    if (present.get(img.ref) === digest) continue;
    const t0 = Date.now();
    ctr(['images', 'import', '--digests', img.archive]);
    let now = parseCtrImages(ctr(['images', 'ls']));
    if (now.get(img.ref) !== digest) {
      // An archive whose index names only a tag: the import created "import-…@sha256:…"; name it.
      const imported = [...now.entries()].find(([, d]) => d === digest)?.[0];
      if (!imported)
        throw new ClusterError(`importing ${img.archive}: no image with digest ${digest} appeared in containerd`);
      ctr(['images', 'tag', '--force', imported, img.ref]);
      now = parseCtrImages(ctr(['images', 'ls']));
      if (now.get(img.ref) !== digest) throw new ClusterError(`importing ${img.archive}: ${img.ref} is not ${digest}`);
    }
    ctx.log(`  imported ${img.ref} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  }
}

const containerdStep: Step = {
  name: 'containerd',
  group: 'node',
  async run(ctx) {
    const nl = nodeLayout(ctx.layout);
    const bins = ctx.bins!;
    const own = readImagesJson(ctx.bins!.dir, 'the node images (npm run cluster:build)');
    const pause = own.find((i) => i.ref.includes('/pause:'));
    if (!pause)
      throw new ClusterError(`no pause image in ${join(ctx.bins!.dir, 'images.json')}; rebuild: npm run cluster:build`);
    const images = [...own, ...externalImages(ctx.log)];
    writeFileSync(nl.containerdConfig, containerdConfig(nl, pause.ref, bins));
    // No image is ever pulled from a registry: every registry host resolves to a closed port on loopback, so a pod
    // whose image was not imported fails with ErrImagePull instead of sending a packet off the machine.
    const hosts = join(nl.dir, 'containerd', 'certs.d', '_default');
    mkdirSync(hosts, { recursive: true });
    writeFileSync(
      join(hosts, 'hosts.toml'),
      'server = "http://127.0.0.1:9"\n\n[host."http://127.0.0.1:9"]\n  capabilities = ["pull", "resolve"]\n',
    );
    writeFileSync(join(nl.cniConfDir, `10-${CNI_NETWORK}.conflist`), JSON.stringify(cniConflist(nl.ipamDir), null, 2));
    const proc = await ctx.start('node', {
      name: 'containerd',
      command: bins.containerd as string,
      args: ['--config', nl.containerdConfig, '--log-level', 'warn'],
      log: join(ctx.layout.logs, 'containerd.log'),
      env: { ...process.env, PATH: `${ctx.bins!.dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` },
    });
    await waitFor(() => this.probe!(ctx), { what: 'containerd', timeoutMs: 30_000, proc });
    await importImages(ctx, images);
  },
  async probe(ctx) {
    const ctr = ctx.bins?.ctr ?? join(ctx.state.binDir ?? '', 'ctr');
    const r = tryRun(ctr, ['--address', nodeLayout(ctx.layout).socket, 'version']);
    if (!r.ok) throw new Error(r.out.split('\n').pop());
    return true;
  },
};

function kubeletConfig(ctx: Ctx, nl: NodeLayout, nodeIp: string, certs: ReturnType<typeof ensureNodePki>): string {
  const np = nodePorts();
  const p = pkiPaths(ctx.layout.pki);
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${nodeIp}
port: ${np.kubelet}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${np.kubeletHealthz}
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: ${p.caCert}
authorization:
  mode: Webhook
tlsCertFile: ${certs.kubeletServingCert}
tlsPrivateKeyFile: ${certs.kubeletServingKey}
rotateCertificates: false
serverTLSBootstrap: false
containerRuntimeEndpoint: unix://${nl.socket}
cgroupDriver: cgroupfs
cgroupRoot: /${CGROUP_ROOT}
cgroupsPerQOS: true
failSwapOn: false
failCgroupV1: false
clusterDNS:
- ${DNS_SERVICE_IP}
clusterDomain: cluster.local
resolvConf: ""
podLogsDir: ${nl.podLogs}
volumePluginDir: ${join(nl.dir, 'volume-plugins')}
staticPodPath: ""
registerNode: true
registerWithTaints:
- key: ${NODE_TAINT.key}
  value: "${NODE_TAINT.value}"
  effect: ${NODE_TAINT.effect}
maxPods: 110
podCIDR: ${POD_CIDR}
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
evictionPressureTransitionPeriod: 10s
shutdownGracePeriod: 0s
`;
}

interface NodeObj {
  status?: { conditions?: { type: string; status: string; message?: string }[] };
}

async function nodeReady(ctx: Ctx): Promise<boolean> {
  const res = await kubeReq(ctx, 'GET', `/api/v1/nodes/${NODE_NAME}`);
  if (res.status === 404) throw new Error(`node ${NODE_NAME} is not registered yet`);
  if (res.status !== 200) throw new Error(`GET node: HTTP ${res.status}`);
  const ready = (JSON.parse(res.body) as NodeObj).status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True')
    throw new Error(`node ${NODE_NAME} not Ready: ${ready?.message ?? 'no Ready condition'}`);
  return true;
}

const kubeletStep: Step = {
  name: 'kubelet',
  group: 'node',
  async run(ctx) {
    const nl = nodeLayout(ctx.layout);
    const nodeIp = ctx.state.advertiseAddress as string;
    const certs = ensureNodePki(nl.pki, ctx.layout.pki, NODE_NAME, nodeIp);
    const p = pkiPaths(ctx.layout.pki);
    const kubeconfig = join(nl.dir, 'kubelet.kubeconfig');
    const server = `https://127.0.0.1:${ctx.ports.apiserver}`;
    writeFileSync(
      kubeconfig,
      kubeconfigYaml(p, server, `system:node:${NODE_NAME}`, certs.kubeletCert, certs.kubeletKey),
      {
        mode: 0o600,
      },
    );
    const config = join(nl.dir, 'kubelet-config.yaml');
    writeFileSync(config, kubeletConfig(ctx, nl, nodeIp, certs));
    const t0 = Date.now();
    const proc = await ctx.start('node', {
      name: 'kubelet',
      command: ctx.bins!.kubelet,
      args: [
        `--config=${config}`,
        `--kubeconfig=${kubeconfig}`,
        `--root-dir=${nl.kubeletRoot}`,
        `--cert-dir=${join(nl.kubeletRoot, 'pki')}`,
        `--hostname-override=${NODE_NAME}`,
        `--node-ip=${nodeIp}`,
        `--node-labels=${NODE_LABEL.key}=${NODE_LABEL.value}`,
        '--v=1',
      ],
      log: join(ctx.layout.logs, 'kubelet.log'),
    });
    await waitFor(() => nodeReady(ctx), { what: `kubelet (node ${NODE_NAME} Ready)`, timeoutMs: 60_000, proc });
    ctx.log(`  node ${NODE_NAME} Ready ${((Date.now() - t0) / 1000).toFixed(1)}s after kubelet started`);
  },
  async probe(ctx) {
    await probeOk(`http://127.0.0.1:${nodePorts().kubeletHealthz}/healthz`);
    return nodeReady(ctx);
  },
};

const kubeProxyStep: Step = {
  name: 'kube-proxy',
  group: 'node',
  async run(ctx) {
    const nl = nodeLayout(ctx.layout);
    const np = nodePorts();
    const certs = ensureNodePki(nl.pki, ctx.layout.pki, NODE_NAME, ctx.state.advertiseAddress as string);
    const kubeconfig = join(nl.dir, 'kube-proxy.kubeconfig');
    const server = `https://127.0.0.1:${ctx.ports.apiserver}`;
    writeFileSync(
      kubeconfig,
      kubeconfigYaml(pkiPaths(ctx.layout.pki), server, 'system:kube-proxy', certs.kubeProxyCert, certs.kubeProxyKey),
      { mode: 0o600 },
    );
    const proc = await ctx.start('node', {
      name: 'kube-proxy',
      command: ctx.bins!['kube-proxy'],
      args: kubeProxyArgs(kubeconfig, np),
      log: join(ctx.layout.logs, 'kube-proxy.log'),
    });
    await waitFor(() => this.probe!(ctx), { what: 'kube-proxy', timeoutMs: 30_000, proc });
  },
  probe: () => probeOk(`http://127.0.0.1:${nodePorts().proxyHealthz}/healthz`),
};

export function kubeProxyArgs(kubeconfig: string, np: NodePorts): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    '--proxy-mode=iptables',
    `--hostname-override=${NODE_NAME}`,
    `--cluster-cidr=${POD_CIDR}`,
    // This VM's bounding set lacks CAP_SYS_RESOURCE: lowering oom_score_adj fails.
    '--oom-score-adj=0',
    // Leave the machine's conntrack sysctls and route_localnet alone.
    '--conntrack-max-per-core=0',
    '--conntrack-tcp-timeout-established=0',
    '--conntrack-tcp-timeout-close-wait=0',
    '--iptables-localhost-nodeports=false',
    `--healthz-bind-address=127.0.0.1:${np.proxyHealthz}`,
    `--metrics-bind-address=127.0.0.1:${np.proxyMetrics}`,
  ];
}

const corednsStep: Step = {
  name: 'coredns',
  group: 'node',
  async run(ctx) {
    const nl = nodeLayout(ctx.layout);
    const np = nodePorts();
    const corefile = join(nl.dir, 'Corefile');
    writeFileSync(
      corefile,
      `cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind ${BRIDGE_IP}
    errors
    health 127.0.0.1:${np.corednsHealth}
    ready 127.0.0.1:${np.corednsReady}
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig ${ctx.layout.kubeconfig} smartcloudops-local
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
    loadbalance
}
`,
    );
    const proc = await ctx.start('node', {
      name: 'coredns',
      command: ctx.bins!.coredns,
      args: ['-conf', corefile],
      log: join(ctx.layout.logs, 'coredns.log'),
    });
    await waitFor(() => probeOk(`http://127.0.0.1:${np.corednsReady}/ready`), {
      what: 'coredns',
      timeoutMs: 30_000,
      proc,
    });
    const labels = { 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS' };
    await apply(ctx, '/api/v1/namespaces/kube-system/services/kube-dns', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels },
      spec: {
        clusterIP: DNS_SERVICE_IP,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        ],
      },
    });
    await apply(ctx, '/api/v1/namespaces/kube-system/endpoints/kube-dns', {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels },
      subsets: [
        {
          addresses: [{ ip: BRIDGE_IP }],
          ports: [
            { name: 'dns', port: 53, protocol: 'UDP' },
            { name: 'dns-tcp', port: 53, protocol: 'TCP' },
          ],
        },
      ],
    });
  },
  probe: () => probeOk(`http://127.0.0.1:${nodePorts().corednsReady}/ready`),
};

interface ApiServiceObj {
  status?: { conditions?: { type: string; status: string; message?: string }[] };
}

async function metricsApiAvailable(ctx: Ctx): Promise<boolean> {
  const res = await kubeReq(ctx, 'GET', '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io');
  if (res.status !== 200) throw new Error(`GET apiservice: HTTP ${res.status}`);
  const c = (JSON.parse(res.body) as ApiServiceObj).status?.conditions?.find((x) => x.type === 'Available');
  if (c?.status !== 'True') throw new Error(`v1beta1.metrics.k8s.io not Available: ${c?.message ?? 'no condition'}`);
  return true;
}

const metricsServerStep: Step = {
  name: 'metrics-server',
  group: 'node',
  async run(ctx) {
    const nl = nodeLayout(ctx.layout);
    const np = nodePorts();
    const nodeIp = ctx.state.advertiseAddress as string;
    const certs = ensureNodePki(nl.pki, ctx.layout.pki, NODE_NAME, nodeIp);
    const p = pkiPaths(ctx.layout.pki);
    const kc = ctx.layout.kubeconfig;
    const proc = await ctx.start('node', {
      name: 'metrics-server',
      command: ctx.bins!['metrics-server'],
      args: [
        `--kubeconfig=${kc}`,
        `--authentication-kubeconfig=${kc}`,
        `--authorization-kubeconfig=${kc}`,
        `--bind-address=${nodeIp}`,
        `--secure-port=${np.metricsServer}`,
        `--tls-cert-file=${certs.metricsServerCert}`,
        `--tls-private-key-file=${certs.metricsServerKey}`,
        `--kubelet-certificate-authority=${p.caCert}`,
        '--kubelet-preferred-address-types=InternalIP',
        '--kubelet-use-node-status-port',
        '--metric-resolution=10s',
        '--kubelet-request-timeout=5s',
      ],
      log: join(ctx.layout.logs, 'metrics-server.log'),
    });
    const labels = { 'k8s-app': 'metrics-server' };
    await apply(ctx, '/api/v1/namespaces/kube-system/services/metrics-server', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'metrics-server', namespace: 'kube-system', labels },
      spec: { ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: np.metricsServer }] },
    });
    await apply(ctx, '/api/v1/namespaces/kube-system/endpoints/metrics-server', {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'metrics-server', namespace: 'kube-system', labels },
      subsets: [{ addresses: [{ ip: nodeIp }], ports: [{ name: 'https', port: np.metricsServer, protocol: 'TCP' }] }],
    });
    await apply(ctx, '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io', {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: 'v1beta1.metrics.k8s.io', labels },
      spec: {
        group: 'metrics.k8s.io',
        version: 'v1beta1',
        groupPriorityMinimum: 100,
        versionPriority: 100,
        caBundle: readFileSync(p.caCert).toString('base64'),
        service: { name: 'metrics-server', namespace: 'kube-system', port: 443 },
      },
    });
    await waitFor(() => metricsApiAvailable(ctx), {
      what: 'metrics-server (APIService Available)',
      timeoutMs: 60_000,
      proc,
    });
  },
  probe: (ctx) => metricsApiAvailable(ctx),
};

/** The node's steps in start order; node-network runs before the control plane (see allSteps in cluster.ts). */
export const nodeNetworkStep = networkStep;
export const nodeSteps: Step[] = [containerdStep, kubeletStep, kubeProxyStep, corednsStep, metricsServerStep];

// ---------------------------------------------------------------------------------------------------------------
// teardown

/**
 * Stops the node (processes recorded in `procs`, newest first, each in the order a real node is drained) and removes
 * every machine-global resource in the record. Safe to run again, and after a crash with no processes left.
 * Returns the records of the processes it handled (the caller drops them from its state).
 */
export async function nodeDown(
  l: Layout,
  procs: ProcRecord[],
  opts: { apiserver?: string; bins?: Record<string, string>; log: (line: string) => void },
): Promise<ProcRecord[]> {
  const byName = (n: string) => procs.find((p) => p.name === n);
  const log = opts.log;
  const nl = nodeLayout(l);
  const rec = readRecord();
  const ctrBin = opts.bins?.ctr;
  const ctr = (args: string[]) =>
    ctrBin ? tryRun(ctrBin, ['--address', nl.socket, '-n', 'k8s.io', ...args]) : { ok: false, out: '' };

  // 1. Pods off the node while kubelet still runs: graceful deletion (1 s), so kubelet stops each sandbox through
  //    CRI (CNI DEL included) and confirms; wait until the API has none left on the node.
  const kubelet = byName('kubelet');
  if (kubelet && isOurs(kubelet) && opts.apiserver) {
    const t0 = Date.now();
    const n = await deleteNodePods(l, opts.apiserver);
    while (n > 0 && Date.now() - t0 < 20_000 && (await podsOnNode(l, opts.apiserver)) > 0) await sleep(250);
    if (n > 0) log(`  ${n} pod(s) on ${NODE_NAME} deleted in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
  const stop = async (name: string) => {
    const p = byName(name);
    if (!p) return;
    const r = await stopProcess(p);
    log(`${r === 'gone' ? '-' : '✓'} ${p.name} (pid ${p.pid}) ${r === 'gone' ? 'was not running' : r}`);
  };
  await stop('metrics-server');
  await stop('coredns');
  // 2. kube-proxy, then its own cleanup of its rules.
  await stop('kube-proxy');
  // Only for our own kube-proxy: --cleanup flushes every KUBE-* rule on the machine.
  if (opts.bins?.['kube-proxy'] && byName('kube-proxy')) tryRun(opts.bins['kube-proxy'], ['--cleanup']);
  // 3. kubelet, then the Node object.
  await stop('kubelet');
  if (opts.apiserver) await deleteNode(l, opts.apiserver);
  // 4. Whatever still runs in containerd: kill it through containerd, then containerd itself.
  for (const id of ctr(['tasks', 'ls', '-q']).out.split('\n').filter(Boolean))
    ctr(['tasks', 'kill', '-s', 'SIGKILL', id]);
  await stop('containerd');
  await teardownResources(l, log, rec);
  return procs.filter((p) => ['metrics-server', 'coredns', 'kube-proxy', 'kubelet', 'containerd'].includes(p.name));
}

function adminTlsOf(l: Layout) {
  const p = pkiPaths(l.pki);
  return { ca: p.caCert, cert: p.adminCert, key: p.adminKey };
}

async function listNodePods(
  l: Layout,
  apiserver: string,
): Promise<{ metadata: { name: string; namespace: string } }[]> {
  const res = await request('GET', `${apiserver}/api/v1/pods?fieldSelector=spec.nodeName%3D${NODE_NAME}`, {
    tls: adminTlsOf(l),
  });
  if (res.status !== 200) throw new Error(`listing pods: HTTP ${res.status}`);
  return (JSON.parse(res.body) as { items: { metadata: { name: string; namespace: string } }[] }).items;
}

async function podsOnNode(l: Layout, apiserver: string): Promise<number> {
  try {
    return (await listNodePods(l, apiserver)).length;
  } catch {
    return 0;
  }
}

/** Deletes the pods bound to the node with a 1 s grace period; returns how many. */
async function deleteNodePods(l: Layout, apiserver: string): Promise<number> {
  try {
    const pods = await listNodePods(l, apiserver);
    await Promise.all(
      pods.map((pod) =>
        request(
          'DELETE',
          `${apiserver}/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}?gracePeriodSeconds=1`,
          { tls: adminTlsOf(l) },
        ),
      ),
    );
    return pods.length;
  } catch {
    return 0; // the API server is gone: the hard path below still removes everything
  }
}

async function deleteNode(l: Layout, apiserver: string): Promise<void> {
  const p = pkiPaths(l.pki);
  try {
    await request('DELETE', `${apiserver}/api/v1/nodes/${NODE_NAME}`, {
      tls: { ca: p.caCert, cert: p.adminCert, key: p.adminKey },
    });
  } catch {
    /* etcd's data is wiped with the cluster anyway */
  }
}

/** PIDs of processes in our pod cgroups (every hierarchy) and of containerd shims serving our socket. */
function leftoverPids(rec: NodeRecord | undefined): number[] {
  const pids = new Set<number>();
  for (const dir of cgroupDirs()) {
    for (const f of walk(dir).filter((x) => x.endsWith('/cgroup.procs'))) {
      for (const pid of readFileSafe(f).split('\n').filter(Boolean)) pids.add(Number(pid));
    }
  }
  if (rec) {
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        if (readlinkSync(`/proc/${pid}/exe`) !== rec.shim) continue;
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(rec.containerdSocket)) pids.add(Number(pid));
      } catch {
        /* gone */
      }
    }
  }
  return [...pids];
}

/** The cgroup v2 root, or each mounted cgroup v1 hierarchy (from /proc/self/mountinfo). */
function cgroupHierarchies(): string[] {
  const base = '/sys/fs/cgroup';
  if (existsSync(join(base, 'cgroup.controllers'))) return [base];
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    const point = pre?.split(' ')[4];
    if (post?.startsWith('cgroup ') && point?.startsWith(`${base}/`)) out.push(point);
  }
  return out;
}

function cgroupDirs(): string[] {
  return cgroupHierarchies()
    .map((h) => join(h, CGROUP_ROOT))
    .filter((d) => existsSync(d));
}

function walk(dir: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e);
    out.push(p);
    try {
      if (statSync(p).isDirectory()) out.push(...walk(p));
    } catch {
      /* raced */
    }
  }
  return out;
}

function readFileSafe(f: string): string {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}

/** Removes the node's machine-global resources (by the record, and by our fixed names). Idempotent. */
export async function teardownResources(l: Layout, log: (l: string) => void, record = readRecord()): Promise<void> {
  const nl = nodeLayout(l);
  const problems: string[] = [];
  const other = runningNodeDir();
  if (other && other !== l.dir) {
    // The machine's bridge, routes, chains and cgroups belong to another cluster's live node: only our directory goes.
    for (const m of mountsUnder(readFileSync('/proc/self/mountinfo', 'utf8'), nl.dir)) tryRun('umount', ['-l', m]);
    rmSync(nl.dir, { recursive: true, force: true });
    return;
  }
  const rec = record; // ours, or a crashed node's whose processes are all gone
  // Pod processes and shims left behind (a crash, or containerd killed first): SIGKILL, by cgroup and by socket.
  for (let i = 0; i < 20; i++) {
    const pids = leftoverPids(rec);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await sleep(100);
  }
  // Mounts under the node's directory (container rootfs, shm, netns, kubelet volumes), deepest first.
  for (const dir of new Set([nl.dir, ...(rec ? [rec.nodeDir] : [])])) {
    for (const m of mountsUnder(readFileSync('/proc/self/mountinfo', 'utf8'), dir)) {
      if (!tryRun('umount', [m]).ok && !tryRun('umount', ['-l', m]).ok) problems.push(`umount ${m}`);
    }
  }
  // veths on the bridge, the bridge, the black hole (its routes go with it).
  if (linkExists(BRIDGE)) {
    for (const line of tryRun('ip', ['-o', 'link', 'show', 'master', BRIDGE]).out.split('\n')) {
      const m = /^\d+: ([^:@]+)/.exec(line);
      if (m) tryRun('ip', ['link', 'del', m[1] as string]);
    }
    if (!tryRun('ip', ['link', 'del', BRIDGE]).ok) problems.push(`ip link del ${BRIDGE}`);
  }
  if (linkExists(BLACKHOLE) && !tryRun('ip', ['link', 'del', BLACKHOLE]).ok) problems.push(`ip link del ${BLACKHOLE}`);
  // iptables and ip6tables, all tables: jumps into our chains, then the chains.
  for (const cmd of ['iptables', 'ip6tables']) {
    const save = tryRun(`${cmd}-save`, []);
    if (!save.ok) continue;
    for (const j of jumpsToOwned(save.out)) tryRun(cmd, ['-w', '5', '-t', j.table, '-D', ...j.args]);
    const chains = ownedChains(save.out);
    for (const c of chains) tryRun(cmd, ['-w', '5', '-t', c.table, '-F', c.chain]);
    for (const c of chains) tryRun(cmd, ['-w', '5', '-t', c.table, '-X', c.chain]);
    const left = ownedChains(tryRun(`${cmd}-save`, []).out);
    if (left.length) problems.push(`${cmd} chains ${left.map((c) => `${c.table}/${c.chain}`).join(', ')}`);
  }
  // Sysctls back to what they were.
  for (const [k, v] of Object.entries(rec?.sysctls ?? {})) {
    if (readSysctl(k) !== v) {
      try {
        writeFileSync(`/proc/sys/${k}`, v);
      } catch (err) {
        problems.push(`sysctl ${k}=${v}: ${(err as Error).message}`);
      }
    }
  }
  // Pod cgroups, deepest first.
  for (const dir of cgroupDirs()) {
    const dirs = [dir, ...walk(dir).filter((p) => !p.includes('/cgroup.') && isDir(p))];
    dirs.sort((a, b) => b.split('/').length - a.split('/').length);
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch {
        /* retried below */
      }
    }
    if (existsSync(dir)) problems.push(`cgroup ${dir}`);
  }
  // Files in machine-global places: container log links into our pod logs, our CNI cache entries, and the
  // directories the components created because they were missing.
  if (existsSync('/var/log/containers')) {
    for (const f of readdirSync('/var/log/containers')) {
      const p = join('/var/log/containers', f);
      try {
        if (readlinkSync(p).startsWith(nl.podLogs)) rmSync(p, { force: true });
      } catch {
        /* not a link */
      }
    }
  }
  const cniResults = '/var/lib/cni/results';
  if (existsSync(cniResults)) {
    for (const f of readdirSync(cniResults).filter((f) => f.startsWith(`${CNI_NETWORK}-`)))
      rmSync(join(cniResults, f), { force: true });
  }
  // containerd's own runtime directory goes entirely; shared places only when nothing but empty directories is left.
  for (const p of rec?.createdPaths ?? []) {
    if (p === '/run/containerd') rmSync(p, { recursive: true, force: true });
    else removeEmptyDirs(p);
  }
  rmSync(nl.dir, { recursive: true, force: true });
  if (existsSync(nl.dir)) problems.push(`directory ${nl.dir}`);
  rmSync(RECORD_DIR, { recursive: true, force: true });
  if (problems.length) log(`  node teardown left: ${problems.join('; ')}`);
}

function removeEmptyDirs(dir: string): void {
  const dirs = [dir, ...walk(dir).filter(isDir)].sort((a, b) => b.split('/').length - a.split('/').length);
  for (const d of dirs) {
    try {
      rmdirSync(d);
    } catch {
      /* not empty: someone else's */
    }
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** True when a node record exists on this machine for this cluster directory (a real node was, or is, up). */
export function nodeRecorded(l: Layout): boolean {
  return readRecord()?.clusterDir === l.dir;
}

/**
 * What of a real node is still on this machine: processes running our node binaries, mounts under the node's
 * directory, the bridge and the dummy device, routes for the cluster ranges, KUBE-* and SCO-NODE-* chains in iptables and
 * ip6tables, pod cgroups, the node directory and the record. Empty after a complete teardown.
 */
export function nodeLeftovers(l: Layout, binDir?: string): string[] {
  const nl = nodeLayout(l);
  const out: string[] = [];
  if (binDir) {
    // Our node binaries whose command line names this cluster's node directory (another cluster's node is not ours).
    const ours = new Set(NODE_BINARIES.map((b) => join(binDir, b)));
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        const exe = readlinkSync(`/proc/${pid}/exe`);
        if (ours.has(exe) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(l.dir)) {
          out.push(`process ${pid} (${exe})`);
        }
      } catch {
        /* gone or not ours to read */
      }
    }
  }
  for (const m of mountsUnder(readFileSync('/proc/self/mountinfo', 'utf8'), nl.dir)) out.push(`mount ${m}`);
  for (const dev of [BRIDGE, BLACKHOLE]) if (linkExists(dev)) out.push(`link ${dev}`);
  const routes = tryRun('ip', ['route', 'show']).out;
  for (const cidr of [...BLACKHOLED, POD_CIDR]) {
    if (routes.split('\n').some((r) => r.startsWith(`${cidr.replace(/\/32$/, '')} `))) out.push(`route ${cidr}`);
  }
  for (const cmd of ['iptables', 'ip6tables']) {
    const save = tryRun(`${cmd}-save`, []).out;
    for (const c of ownedChains(save)) out.push(`${cmd} chain ${c.table}/${c.chain}`);
    for (const j of jumpsToOwned(save)) out.push(`${cmd} rule ${j.table}: ${j.args.join(' ')}`);
  }
  for (const d of cgroupDirs()) out.push(`cgroup ${d}`);
  if (existsSync(nl.dir)) out.push(`directory ${nl.dir}`);
  if (readRecord()?.clusterDir === l.dir) out.push(`record ${RECORD}`);
  return out;
}

/** The cluster directory of a real node running on this machine, if any (one per machine). */
export function runningNodeDir(): string | undefined {
  const rec = readRecord();
  if (!rec) return undefined;
  try {
    const st = JSON.parse(readFileSync(join(rec.clusterDir, 'state.json'), 'utf8')) as {
      procs: (ProcRecord & { group: string })[];
    };
    if (st.procs.some((p) => p.group === 'node' && isOurs(p))) return rec.clusterDir;
  } catch {
    /* no state (yet): the owner decides */
  }
  // A node being started has a record and no processes yet: its `up` still runs.
  const owner = rec.owner;
  if (owner && owner.pid !== process.pid && procStartTime(owner.pid) === owner.startTime) return rec.clusterDir;
  return undefined;
}

/** Current values of the sysctls a node may change (for checking that teardown restored them). */
export function sysctlSnapshot(): Record<string, string | undefined> {
  return Object.fromEntries(RECORDED_SYSCTLS.map((k) => [k, readSysctl(k)]));
}
