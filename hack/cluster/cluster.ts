// The local cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (fake nodes), one real
// node (node.ts: containerd, kubelet, kube-proxy, CoreDNS, metrics-server), plus the data services (PostgreSQL 15,
// Redis 7, an S3 server). `up` is idempotent, `down` stops exactly the processes
// `up` started (by PID and kernel start time, never by name), and a failed `up` stops what it had started.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { BINARIES, NODE_BINARIES, resolveBinaries, type BinPaths } from './binaries.js';
import { layout, PORTS, repoRoot, resolvePorts, type Layout, type Ports } from './config.js';
import type { ServicesEnv } from './env.js';
import { probeOk, request, type TlsFiles } from './http.js';
import { nodeDown, nodeNetworkStep, nodeRecorded, nodeSteps } from './node.js';
import { ensurePki, kubeconfigYaml, pkiPaths } from './pki.js';
import { assertPortFree, ClusterError, isOurs, startDaemon, stopProcess, waitFor, type ProcRecord } from './proc.js';
import { monitoringSteps } from './prometheus.js';
import { serviceSteps } from './services.js';
import { certManagerStep } from './certmanager.js';

/** `certmanager`: cert-manager's controller (certmanager.ts). `monitoring`: Prometheus (prometheus.ts), scraping the real node's pods through the cluster's kubeconfig. */
export type Group = 'cluster' | 'node' | 'services' | 'monitoring' | 'certmanager';

export interface State {
  version: 1;
  binDir?: string;
  ports: Ports;
  advertiseAddress?: string;
  groups: Group[];
  procs: (ProcRecord & { group: Group })[];
  /** Directories wiped by `down` besides the layout's own (PostgreSQL may live outside the repo, see services.ts). */
  dataDirs: string[];
  env: Partial<ServicesEnv>;
}

export interface Ctx {
  layout: Layout;
  ports: Ports;
  state: State;
  bins?: BinPaths;
  log: (line: string) => void;
  save: () => void;
  start: (group: Group, opts: Parameters<typeof startDaemon>[0]) => Promise<ProcRecord>;
  secret: () => string;
}

export interface Step {
  name: string;
  group: Group;
  run: (ctx: Ctx) => Promise<void>;
  /** A quick health probe for `status` and for deciding that a running cluster really is up. */
  probe?: (ctx: Ctx) => Promise<boolean>;
  /** The step configures the machine rather than starting a process (status probes it without a PID). */
  noProcess?: boolean;
}

export const ALL_GROUPS: Group[] = ['cluster', 'node', 'services', 'monitoring', 'certmanager'];

/**
 * The groups `up` starts when none are named: all of them. SCO_REAL_NODE=0 leaves the real node out (a kwok-only
 * cluster, for a second cluster on a machine whose one real node is taken); `up` says so when it does.
 */
export function defaultGroups(env: NodeJS.ProcessEnv = process.env): Group[] {
  return env.SCO_REAL_NODE === '0' ? ['cluster', 'services', 'monitoring', 'certmanager'] : ALL_GROUPS;
}

export function readState(l: Layout): State | undefined {
  if (!existsSync(l.stateFile)) return undefined;
  try {
    return JSON.parse(readFileSync(l.stateFile, 'utf8')) as State;
  } catch {
    throw new ClusterError(`${l.stateFile} is not valid JSON; remove it after making sure no cluster processes run`);
  }
}

function writeState(l: Layout, s: State): void {
  mkdirSync(l.dir, { recursive: true });
  writeFileSync(l.stateFile, JSON.stringify(s, null, 2));
  const env: ServicesEnv = { ...(s.env as ServicesEnv) };
  writeFileSync(l.envFile, JSON.stringify(env, null, 2), { mode: 0o600 });
}

function advertiseAddress(): string {
  if (process.env.SCO_ADVERTISE_ADDRESS) return process.env.SCO_ADVERTISE_ADDRESS;
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (name.startsWith('sco-')) continue; // the real node's own bridge
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  throw new ClusterError(
    'kube-apiserver needs a non-loopback IPv4 address to advertise and this machine has none; set SCO_ADVERTISE_ADDRESS',
  );
}

function adminTls(l: Layout): TlsFiles {
  const p = pkiPaths(l.pki);
  return { ca: p.caCert, cert: p.adminCert, key: p.adminKey };
}

/** Paths of all binaries in a directory, without checks (teardown and status use what is there). */
function nodeBinPaths(dir: string): BinPaths {
  const paths = { dir } as BinPaths;
  for (const b of [...BINARIES, ...NODE_BINARIES]) paths[b] = join(dir, b);
  return paths;
}

export function apiUrl(ctx: { ports: Ports }): string {
  return `https://127.0.0.1:${ctx.ports.apiserver}`;
}

async function kube(ctx: Ctx, method: string, path: string, body?: unknown) {
  return request(method, `${apiUrl(ctx)}${path}`, { tls: adminTls(ctx.layout), body });
}

function fakeNode(name: string, index: number) {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/agent': '',
        type: 'kwok',
        'topology.kubernetes.io/zone': `zone-${index}`,
      },
    },
    spec: {},
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
      capacity: { cpu: '32', memory: '256Gi', pods: '110' },
      nodeInfo: { architecture: 'amd64', operatingSystem: 'linux', kubeletVersion: 'fake', kubeProxyVersion: 'fake' },
    },
  };
}

export const NODE_NAMES = ['kwok-node-0', 'kwok-node-1'];

const clusterSteps: Step[] = [
  {
    name: 'etcd',
    group: 'cluster',
    async run(ctx) {
      const { etcdClient, etcdPeer } = ctx.ports;
      rmSync(ctx.layout.etcdData, { recursive: true, force: true });
      const client = `http://127.0.0.1:${etcdClient}`;
      const peer = `http://127.0.0.1:${etcdPeer}`;
      const proc = await ctx.start('cluster', {
        name: 'etcd',
        command: ctx.bins!.etcd,
        args: [
          '--name=local',
          `--data-dir=${ctx.layout.etcdData}`,
          `--listen-client-urls=${client}`,
          `--advertise-client-urls=${client}`,
          `--listen-peer-urls=${peer}`,
          `--initial-advertise-peer-urls=${peer}`,
          `--initial-cluster=local=${peer}`,
          '--unsafe-no-fsync=true',
          '--log-level=warn',
        ],
        log: join(ctx.layout.logs, 'etcd.log'),
      });
      await waitFor(() => this.probe!(ctx), { what: 'etcd', timeoutMs: 30_000, proc });
    },
    probe: (ctx) => probeOk(`http://127.0.0.1:${ctx.ports.etcdClient}/health`),
  },
  {
    name: 'kube-apiserver',
    group: 'cluster',
    async run(ctx) {
      const p = pkiPaths(ctx.layout.pki);
      const proc = await ctx.start('cluster', {
        name: 'kube-apiserver',
        command: ctx.bins!['kube-apiserver'],
        args: [
          `--etcd-servers=http://127.0.0.1:${ctx.ports.etcdClient}`,
          '--etcd-prefix=/registry',
          // Pods reach the API server at the advertise address (kubernetes.default → the lease-reconciled
          // endpoint), so it listens on every address, not only loopback.
          '--bind-address=0.0.0.0',
          `--secure-port=${ctx.ports.apiserver}`,
          `--advertise-address=${ctx.state.advertiseAddress}`,
          '--endpoint-reconciler-type=lease',
          // kubelet API (logs, exec, port-forward) with a client certificate, at the node's InternalIP.
          `--kubelet-client-certificate=${p.kubeletClientCert}`,
          `--kubelet-client-key=${p.kubeletClientKey}`,
          `--kubelet-certificate-authority=${p.caCert}`,
          '--kubelet-preferred-address-types=InternalIP',
          // Aggregated APIs (metrics-server): front-proxy client certificate and request-header authentication.
          `--proxy-client-cert-file=${p.frontProxyCert}`,
          `--proxy-client-key-file=${p.frontProxyKey}`,
          `--requestheader-client-ca-file=${p.caCert}`,
          '--requestheader-allowed-names=front-proxy-client',
          '--requestheader-username-headers=X-Remote-User',
          '--requestheader-group-headers=X-Remote-Group',
          '--requestheader-extra-headers-prefix=X-Remote-Extra-',
          '--enable-aggregator-routing=true',
          `--cert-dir=${join(ctx.layout.dir, 'apiserver-certs')}`,
          `--tls-cert-file=${p.apiserverCert}`,
          `--tls-private-key-file=${p.apiserverKey}`,
          `--client-ca-file=${p.caCert}`,
          '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
          `--service-account-key-file=${p.saPub}`,
          `--service-account-signing-key-file=${p.saKey}`,
          '--service-cluster-ip-range=10.96.0.0/16',
          '--authorization-mode=Node,RBAC',
          '--allow-privileged=true',
          // The e2e suite and the benchmarks create thousands of objects quickly; the defaults (400/200) would
          // queue them behind priority-and-fairness on a 2-core host.
          '--max-requests-inflight=1000',
          '--max-mutating-requests-inflight=500',
        ],
        log: join(ctx.layout.logs, 'kube-apiserver.log'),
      });
      const ms = await waitFor(() => this.probe!(ctx), { what: 'kube-apiserver', timeoutMs: 120_000, proc });
      ctx.log(`  kube-apiserver ready in ${(ms / 1000).toFixed(1)}s`);
    },
    probe: (ctx) => probeOk(`${apiUrl(ctx)}/readyz`, adminTls(ctx.layout)),
  },
  {
    name: 'kube-controller-manager',
    group: 'cluster',
    async run(ctx) {
      const p = pkiPaths(ctx.layout.pki);
      const proc = await ctx.start('cluster', {
        name: 'kube-controller-manager',
        command: ctx.bins!['kube-controller-manager'],
        args: [
          `--kubeconfig=${ctx.layout.kubeconfig}`,
          `--authentication-kubeconfig=${ctx.layout.kubeconfig}`,
          `--authorization-kubeconfig=${ctx.layout.kubeconfig}`,
          '--bind-address=127.0.0.1',
          `--secure-port=${ctx.ports.controllerManager}`,
          `--cert-dir=${join(ctx.layout.dir, 'kcm-certs')}`,
          '--leader-elect=false',
          `--root-ca-file=${p.caCert}`,
          `--service-account-private-key-file=${p.saKey}`,
          '--use-service-account-credentials=false',
          '--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics',
          '--controllers=*',
          '--kube-api-qps=200',
          '--kube-api-burst=400',
        ],
        log: join(ctx.layout.logs, 'kube-controller-manager.log'),
      });
      await waitFor(() => this.probe!(ctx), { what: 'kube-controller-manager', timeoutMs: 60_000, proc });
    },
    probe: (ctx) => probeOk(`https://127.0.0.1:${ctx.ports.controllerManager}/healthz`, { insecure: true }),
  },
  {
    name: 'kube-scheduler',
    group: 'cluster',
    async run(ctx) {
      const proc = await ctx.start('cluster', {
        name: 'kube-scheduler',
        command: ctx.bins!['kube-scheduler'],
        args: [
          `--kubeconfig=${ctx.layout.kubeconfig}`,
          `--authentication-kubeconfig=${ctx.layout.kubeconfig}`,
          `--authorization-kubeconfig=${ctx.layout.kubeconfig}`,
          '--bind-address=127.0.0.1',
          `--secure-port=${ctx.ports.scheduler}`,
          `--cert-dir=${join(ctx.layout.dir, 'scheduler-certs')}`,
          '--leader-elect=false',
          '--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics',
          '--kube-api-qps=200',
          '--kube-api-burst=400',
        ],
        log: join(ctx.layout.logs, 'kube-scheduler.log'),
      });
      await waitFor(() => this.probe!(ctx), { what: 'kube-scheduler', timeoutMs: 60_000, proc });
    },
    probe: (ctx) => probeOk(`https://127.0.0.1:${ctx.ports.scheduler}/healthz`, { insecure: true }),
  },
  {
    name: 'kwok',
    group: 'cluster',
    async run(ctx) {
      const proc = await ctx.start('cluster', {
        name: 'kwok',
        command: ctx.bins!.kwok,
        args: [
          `--kubeconfig=${ctx.layout.kubeconfig}`,
          `--config=${join(repoRoot, 'hack', 'cluster', 'kwok-stages.yaml')}`,
          '--manage-all-nodes=false',
          '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
          '--manage-nodes-with-label-selector=',
          '--cidr=10.244.0.0/16',
          '--node-ip=10.0.0.1',
          '--node-lease-duration-seconds=40',
          `--server-address=127.0.0.1:${ctx.ports.kwok}`,
        ],
        log: join(ctx.layout.logs, 'kwok.log'),
      });
      await waitFor(() => probeOk(`http://127.0.0.1:${ctx.ports.kwok}/healthz`), {
        what: 'kwok',
        timeoutMs: 30_000,
        proc,
      });
      for (const [i, name] of NODE_NAMES.entries()) {
        const res = await kube(ctx, 'POST', '/api/v1/nodes', fakeNode(name, i));
        if (res.status !== 201 && res.status !== 409) {
          throw new ClusterError(`creating fake node ${name} failed: HTTP ${res.status} ${res.body.slice(0, 300)}`);
        }
      }
      // Nodes are usable once kwok marked them Ready and the node-lifecycle controller lifted the not-ready taint.
      await waitFor(() => this.probe!(ctx), { what: 'fake nodes (kwok + node lifecycle)', timeoutMs: 90_000, proc });
      // Pods are rejected until the service-account controller has created `default` in the namespace.
      await waitFor(
        async () => (await kube(ctx, 'GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
        { what: 'the default ServiceAccount (kube-controller-manager)', timeoutMs: 60_000 },
      );
    },
    async probe(ctx) {
      const res = await kube(ctx, 'GET', '/api/v1/nodes?labelSelector=type%3Dkwok');
      if (res.status !== 200) throw new Error(`listing nodes: HTTP ${res.status}`);
      const nodes = (JSON.parse(res.body) as { items: NodeLike[] }).items;
      const ready = nodes.filter(
        (n) =>
          n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') &&
          !(n.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/')),
      );
      if (ready.length < NODE_NAMES.length) throw new Error(`${ready.length}/${NODE_NAMES.length} fake nodes ready`);
      return true;
    },
  },
];

interface NodeLike {
  spec?: { taints?: { key: string }[] };
  status?: { conditions?: { type: string; status: string }[] };
}

/** Every step in start order. The node's network step comes first: no cluster range may leave the machine. */
export function allSteps(): Step[] {
  return [nodeNetworkStep, ...clusterSteps, ...nodeSteps, ...serviceSteps, ...monitoringSteps, certManagerStep];
}

function makeCtx(l: Layout, state: State, log: (line: string) => void, started: ProcRecord[]): Ctx {
  return {
    layout: l,
    ports: state.ports,
    state,
    log,
    save: () => writeState(l, state),
    secret: () => randomBytes(18).toString('base64url'),
    async start(group, opts) {
      const rec = await startDaemon(opts);
      started.push(rec);
      state.procs.push({ ...rec, group });
      writeState(l, state);
      return rec;
    },
  };
}

export interface UpOptions {
  groups?: Group[];
  build?: boolean;
  log?: (line: string) => void;
}

/** Brings the requested groups up. Returns false when everything requested was already running. */
export async function up(opts: UpOptions = {}): Promise<boolean> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const want = opts.groups ?? defaultGroups();
  if (!opts.groups && !want.includes('node')) log('SCO_REAL_NODE=0: starting without the real node (kwok nodes only)');
  const l = layout();
  let state = readState(l);

  if (state) {
    const dead = state.procs.filter((p) => !isOurs(p));
    if (dead.length > 0) {
      log(
        `a previous cluster in ${l.dir} is half-running (${dead.map((p) => p.name).join(', ')} gone); stopping the rest`,
      );
      await down({ log: () => undefined });
      state = undefined;
    } else {
      const missing = want.filter((g) => !state!.groups.includes(g));
      if (missing.length === 0) {
        log(`already running (${state.groups.join(' + ')}) in ${l.dir}; nothing to do`);
        log(`export KUBECONFIG=${l.kubeconfig}`);
        return false;
      }
    }
  }
  const toStart = want.filter((g) => !state?.groups.includes(g));
  if (toStart.includes('node') && !toStart.includes('cluster') && !state?.groups.includes('cluster')) {
    throw new ClusterError('the real node needs the control plane: npm run cluster:up -- --only=cluster,node');
  }
  if (toStart.includes('certmanager') && !toStart.includes('cluster') && !state?.groups.includes('cluster')) {
    throw new ClusterError('cert-manager needs the control plane: npm run cluster:up -- --only=cluster,certmanager');
  }
  const ports = state?.ports ?? resolvePorts();
  state ??= { version: 1, ports, groups: [], procs: [], dataDirs: [], env: {} };
  const steps = allSteps().filter((s) => toStart.includes(s.group));

  for (const g of toStart) {
    for (const p of PORTS.filter((p) => portGroup(p.key) === g)) {
      await assertPortFree(ports[p.key], p.what, p.env);
    }
  }
  mkdirSync(l.logs, { recursive: true });
  const started: ProcRecord[] = [];
  const ctx = makeCtx(l, state, log, started);

  const onSignal = () => {
    log('interrupted: stopping what this run started');
    void Promise.all(started.map((p) => stopProcess(p, 3000))).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (toStart.includes('cluster')) {
      ctx.bins = resolveBinaries({ build: opts.build ?? true, log });
      state.binDir = ctx.bins.dir;
      state.advertiseAddress = advertiseAddress();
      ensurePki(l.pki, state.advertiseAddress);
      writeFileSync(l.kubeconfig, kubeconfigYaml(pkiPaths(l.pki), apiUrl(ctx)), { mode: 0o600 });
      state.env.kubeconfig = l.kubeconfig;
      state.env.apiserver = apiUrl(ctx);
    } else if (state.binDir) {
      ctx.bins = resolveBinaries({ build: false });
    }
    if (toStart.includes('services') && !ctx.bins) {
      ctx.bins = resolveBinaries({ build: opts.build ?? true, log });
      state.binDir = ctx.bins.dir;
    }
    const t0 = Date.now();
    for (const step of steps) {
      const s0 = Date.now();
      await step.run(ctx);
      log(`✓ ${step.name} (${((Date.now() - s0) / 1000).toFixed(1)}s)`);
    }
    state.groups = [...new Set([...state.groups, ...toStart])];
    writeState(l, state);
    log(`up in ${((Date.now() - t0) / 1000).toFixed(1)}s; logs in ${l.logs}`);
    log(`export KUBECONFIG=${l.kubeconfig}`);
    return true;
  } catch (err) {
    log(`start-up failed; stopping the ${started.length} process(es) this run started`);
    const startedPids = new Set(started.map((p) => p.pid));
    if (toStart.includes('node')) {
      const nodeProcs = state.procs.filter((p) => p.group === 'node' && started.some((s) => s.pid === p.pid));
      const apiserver =
        started.find((p) => p.name === 'kube-apiserver') ?? state.procs.find((p) => p.name === 'kube-apiserver');
      const handled = await nodeDown(l, nodeProcs, {
        apiserver: apiserver && isOurs(apiserver) ? apiUrl(ctx) : undefined,
        bins: ctx.bins,
        log,
      });
      for (const h of handled) {
        const i = started.findIndex((s) => s.pid === h.pid);
        if (i >= 0) started.splice(i, 1);
      }
      state.groups = state.groups.filter((g) => g !== 'node');
    }
    for (const p of [...started].reverse()) await stopProcess(p, 3000);
    state.procs = state.procs.filter((p) => !startedPids.has(p.pid));
    if (state.procs.length === 0) {
      rmSync(l.stateFile, { force: true });
      rmSync(l.envFile, { force: true });
    } else {
      writeState(l, state);
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function portGroup(key: keyof Ports): Group {
  if (key === 'prometheus') return 'monitoring';
  if (key === 'certManager') return 'certmanager';
  return key === 'postgres' || key === 'redis' || key === 's3' ? 'services' : 'cluster';
}

/** Records a process started outside `up` (the demo's operator), so that `down` stops it with the rest. */
export function recordProcess(rec: ProcRecord, group: Group): void {
  const l = layout();
  const state = readState(l);
  if (!state) throw new ClusterError(`no cluster recorded in ${l.dir}`);
  state.procs = [...state.procs.filter((p) => p.name !== rec.name), { ...rec, group }];
  writeState(l, state);
}

/** Stops exactly the recorded processes (newest first) and wipes the per-run data. Returns how many were stopped. */
export async function down(opts: { log?: (line: string) => void } = {}): Promise<number> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const l = layout();
  const state = readState(l);
  if (!state) {
    log(`no cluster recorded in ${l.dir}; nothing to stop`);
    return 0;
  }
  let stopped = 0;
  let procs = state.procs;
  if (state.groups.includes('node') || procs.some((p) => p.group === 'node') || nodeRecorded(l)) {
    // The node first, in a real node's drain order, while the API server still answers.
    const t0 = Date.now();
    const apiserver = procs.find((p) => p.name === 'kube-apiserver');
    const nodeProcs = procs.filter((p) => p.group === 'node');
    const alive = nodeProcs.filter((p) => isOurs(p)).length;
    const handled = await nodeDown(l, nodeProcs, {
      apiserver: apiserver && isOurs(apiserver) ? apiUrl(state) : undefined,
      bins: state.binDir ? nodeBinPaths(state.binDir) : undefined,
      log,
    });
    stopped += alive;
    procs = procs.filter((p) => !handled.includes(p));
    log(`✓ real node removed (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  }
  for (const p of [...procs].reverse()) {
    const r = await stopProcess(p);
    if (r !== 'gone') stopped++;
    log(`${r === 'gone' ? '-' : '✓'} ${p.name} (pid ${p.pid}) ${r === 'gone' ? 'was not running' : r}`);
  }
  for (const d of [l.etcdData, l.s3Data, l.redisData, ...state.dataDirs]) rmSync(d, { recursive: true, force: true });
  rmSync(l.stateFile, { force: true });
  rmSync(l.envFile, { force: true });
  return stopped;
}

export interface ComponentStatus {
  name: string;
  group: Group;
  pid?: number;
  running: boolean;
  healthy: boolean;
  detail: string;
}

export async function status(): Promise<{ dir: string; components: ComponentStatus[] }> {
  const l = layout();
  const state = readState(l);
  if (!state) return { dir: l.dir, components: [] };
  const ctx = makeCtx(l, state, () => undefined, []);
  if (state.binDir) ctx.bins = nodeBinPaths(state.binDir);
  const out: ComponentStatus[] = [];
  for (const step of allSteps().filter((s) => state.groups.includes(s.group))) {
    const rec = state.procs.find((p) => p.name === step.name);
    const running = step.noProcess ? true : rec ? isOurs(rec) : false;
    let healthy = false;
    let detail = running ? '' : 'not running';
    if (running && step.probe) {
      try {
        healthy = await step.probe(ctx);
      } catch (err) {
        detail = (err as Error).message;
      }
    }
    out.push({ name: step.name, group: step.group, pid: rec?.pid, running, healthy, detail });
  }
  return { dir: l.dir, components: out };
}

/**
 * Stops one running component and starts it again with the same flags and data (for resilience tests: an API
 * server restart under a running operator). Waits until it is ready again. Returns how long it was down.
 */
export async function restartComponent(name: string, downMs = 0): Promise<number> {
  const l = layout();
  const state = readState(l);
  if (!state) throw new ClusterError(`no cluster recorded in ${l.dir}`);
  const rec = state.procs.find((p) => p.name === name);
  const step = allSteps().find((s) => s.name === name);
  if (!rec || !step) throw new ClusterError(`no running component "${name}" in ${l.dir}`);
  if (name === 'etcd' || step.group === 'services') {
    throw new ClusterError(`restarting ${name} would lose its data; only stateless components can be restarted`);
  }
  const t0 = Date.now();
  await stopProcess(rec);
  state.procs = state.procs.filter((p) => p !== rec);
  writeState(l, state);
  if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
  const ctx = makeCtx(l, state, () => undefined, []);
  ctx.bins = resolveBinaries({ build: false });
  await step.run(ctx);
  return Date.now() - t0;
}
