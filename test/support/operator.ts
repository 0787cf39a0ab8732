// Runs the operator as a real process (src/main.ts through tsx) against the cluster in KUBECONFIG, with private
// metrics/health ports, and reads its Prometheus metrics.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { repoRoot } from '../../hack/cluster/config.js';
import { Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { kubeconfigPath } from './env.js';
import { eventually } from './kube.js';
import { scrape, sumMetric } from './prom.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface OperatorOptions {
  identity: string;
  namespaces: string[];
  leaderElect?: boolean;
  leaseNamespace?: string;
  leaseName?: string;
  lease?: { duration: string; renewDeadline: string; retryPeriod: string };
  extraArgs?: string[];
  /** Another kubeconfig (e.g. a service account with less RBAC); default the cluster's admin one. */
  kubeconfig?: string;
  /** Environment added to the operator's (jest's process.env is the test's own copy: pass it here). */
  env?: NodeJS.ProcessEnv;
  /** Wait for /readyz before returning (default true). */
  waitReady?: boolean;
}

export class OperatorProcess {
  readonly proc: ChildProcess;
  readonly metricsPort: number;
  readonly healthPort: number;
  readonly logFile: string;
  exited?: { code: number | null; signal: NodeJS.Signals | null };
  private exitWaiters: (() => void)[] = [];

  private constructor(proc: ChildProcess, metricsPort: number, healthPort: number, logFile: string) {
    this.proc = proc;
    this.metricsPort = metricsPort;
    this.healthPort = healthPort;
    this.logFile = logFile;
    proc.on('exit', (code, signal) => {
      this.exited = { code, signal };
      for (const w of this.exitWaiters.splice(0)) w();
    });
  }

  static async start(o: OperatorOptions): Promise<OperatorProcess> {
    const metricsPort = await freePort();
    const healthPort = await freePort();
    const logs = join(repoRoot, '.test-results', 'operator-logs');
    mkdirSync(logs, { recursive: true });
    const logFile = join(logs, `${o.identity}.log`);
    const args = [
      '--import',
      'tsx',
      join(repoRoot, 'src', 'main.ts'),
      `--kubeconfig=${o.kubeconfig ?? kubeconfigPath()}`,
      `--namespaces=${o.namespaces.join(',')}`,
      `--identity=${o.identity}`,
      `--metrics-bind-address=127.0.0.1:${metricsPort}`,
      `--health-probe-bind-address=127.0.0.1:${healthPort}`,
      `--leader-elect=${o.leaderElect ?? false}`,
      `--leader-elect-namespace=${o.leaseNamespace ?? 'default'}`,
      `--leader-elect-id=${o.leaseName ?? 'smartcloudops-operator-leader'}`,
      ...(o.lease
        ? [
            `--leader-elect-lease-duration=${o.lease.duration}`,
            `--leader-elect-renew-deadline=${o.lease.renewDeadline}`,
            `--leader-elect-retry-period=${o.lease.retryPeriod}`,
          ]
        : []),
      '--log-level=debug',
      ...(o.extraArgs ?? []),
    ];
    const proc = spawn(process.execPath, args, {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(o.env ? { env: { ...process.env, ...o.env } } : {}),
    });
    const out = createWriteStream(logFile);
    proc.stdout?.pipe(out);
    proc.stderr?.pipe(out);
    const op = new OperatorProcess(proc, metricsPort, healthPort, logFile);
    if (o.waitReady === false) return op;
    await eventually(`operator ${o.identity} /readyz (log: ${logFile})`, async () => {
      if (op.exited) throw new Error(`exited with ${JSON.stringify(op.exited)}; see ${logFile}`);
      const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
      return res.status === 200;
    });
    return op;
  }

  metrics(): Promise<Map<string, number>> {
    return scrape(`http://127.0.0.1:${this.metricsPort}/metrics`);
  }

  /** Sum of a metric over the series whose labels include all of `labels`. */
  async sum(name: string, labels: Record<string, string> = {}): Promise<number> {
    return sumMetric(await this.metrics(), name, labels);
  }

  async isLeader(): Promise<boolean> {
    return (await this.sum('leader_election_master_status')) === 1;
  }

  /** Resolves with the exit status once the process has exited. */
  waitForExit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.exited) return Promise.resolve(this.exited);
    return new Promise((r) => this.exitWaiters.push(() => r(this.exited as NonNullable<typeof this.exited>)));
  }

  kill(signal: NodeJS.Signals): Promise<void> {
    if (this.exited) return Promise.resolve();
    const p = new Promise<void>((r) => this.exitWaiters.push(r));
    this.proc.kill(signal);
    return p;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 15_000);
    await this.kill('SIGTERM');
    clearTimeout(timer);
  }
}

/**
 * The operator image the Jobs run (the agent): SCO_AGENT_IMAGE, this checkout's build, or the operator image the real
 * node (labelled smartcloudops.ai/node=real) holds.
 */
export async function operatorImage(client: KubeClient): Promise<string> {
  if (process.env.SCO_AGENT_IMAGE) return process.env.SCO_AGENT_IMAGE;
  try {
    const dir = execFileSync('bash', [join(repoRoot, 'hack/images/build.sh'), '--check'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const list = JSON.parse(readFileSync(join(dir, 'images.json'), 'utf8')) as { ref: string }[];
    const ref = list.find((i) => i.ref.includes('/operator:'))?.ref;
    if (ref) return ref;
  } catch {
    // not built for this checkout: take the node's operator image
  }
  const nodes = await client.list<KubeObject & { status?: { images?: { names: string[] }[] } }>(Resources.Node, {
    labelSelector: 'smartcloudops.ai/node=real',
  });
  const ref = (nodes.items[0]?.status?.images ?? [])
    .flatMap((i) => i.names)
    .find((n) => n.startsWith('localhost/smartcloudops/operator:'));
  if (!ref) throw new Error('no operator image on the real node: run hack/images/build.sh and hack/images/load.sh');
  return ref;
}
