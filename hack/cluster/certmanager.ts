// cert-manager for the local cluster: its controller built from the Go module (hack/kubebins/certmanager/build.sh)
// and its CRDs (deploy/crds of the same module version: v1 only, so no conversion webhook is needed; without the
// webhook nothing validates or defaults cert-manager objects at admission, which the tests do not rely on).
// The controller runs on the host against the cluster's kubeconfig, leader election off, metrics on
// SCO_PORT_CERT_MANAGER (default 19402) and health on the next port (set through a config file), ClusterIssuer
// secrets in the namespace `cert-manager`. It is the group `certmanager`, which `up` starts by default and `down`
// stops.
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Ctx, Step } from './cluster.js';
import { repoRoot } from './config.js';
import { probeOk } from './http.js';
import { ClusterError, startDaemon, waitFor, type ProcRecord } from './proc.js';

export const CERT_MANAGER_NAMESPACE = 'cert-manager';
const buildScript = join(repoRoot, 'hack', 'kubebins', 'certmanager', 'build.sh');

export interface CertManagerBuild {
  dir: string;
  controller: string;
  crds: string;
}

/** The built controller and CRDs; builds them when `build` (cached by the hash of the inputs). */
export function resolveCertManager(opts: { build: boolean; log?: (line: string) => void }): CertManagerBuild {
  let dir: string;
  try {
    dir = execFileSync('bash', [buildScript, ...(opts.build ? [] : ['--check'])], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', opts.log ? 'inherit' : 'pipe'],
      maxBuffer: 1 << 20,
    })
      .trim()
      .split('\n')
      .at(-1) as string;
  } catch (err) {
    throw new ClusterError(
      `cert-manager is not built (${(err as Error).message.split('\n')[0]}): run bash hack/kubebins/certmanager/build.sh`,
    );
  }
  const b = { dir, controller: join(dir, 'cert-manager-controller'), crds: join(dir, 'crds.yaml') };
  if (!existsSync(b.controller) || !existsSync(b.crds))
    throw new ClusterError(`incomplete cert-manager build in ${dir}`);
  return b;
}

/** Installs (or updates) cert-manager's CRDs and the namespace for ClusterIssuer secrets. */
export function installCertManagerCrds(kubectl: string, kubeconfig: string, crds: string): void {
  const run = (args: string[], input?: string) =>
    execFileSync(kubectl, [`--kubeconfig=${kubeconfig}`, ...args], {
      encoding: 'utf8',
      input,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  run(['apply', '--server-side', '--force-conflicts', '--field-manager=smartcloudops-cluster', '-f', crds]);
  run(['wait', '--for=condition=Established', '--timeout=60s', '-f', crds]);
  run(
    ['apply', '--server-side', '--field-manager=smartcloudops-cluster', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: CERT_MANAGER_NAMESPACE } }),
  );
}

/**
 * The health endpoint's address has no flag, only a field of the ControllerConfiguration file: written next to the
 * log, so two cert-managers on one machine (a cluster's and a test's) do not both take the default 0.0.0.0:9403.
 */
export function writeCertManagerConfig(path: string, healthzPort: number): void {
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'controller.config.cert-manager.io/v1alpha1',
      kind: 'ControllerConfiguration',
      healthzListenAddress: `127.0.0.1:${healthzPort}`,
    }),
  );
}

export function certManagerArgs(o: { kubeconfig: string; metricsPort: number; config: string }): string[] {
  return [
    `--config=${o.config}`,
    `--kubeconfig=${o.kubeconfig}`,
    '--leader-elect=false',
    `--cluster-resource-namespace=${CERT_MANAGER_NAMESPACE}`,
    `--metrics-listen-address=127.0.0.1:${o.metricsPort}`,
    // Only what the tests use: no ingress/gateway shims, no ACME solvers' pods.
    '--controllers=*,-ingress-shim,-gateway-shim',
    '--v=2',
  ];
}

/** Starts the controller and waits for its metrics endpoint. */
export async function startCertManager(o: {
  controller: string;
  kubeconfig: string;
  metricsPort: number;
  log: string;
  start?: (opts: Parameters<typeof startDaemon>[0]) => Promise<ProcRecord>;
}): Promise<ProcRecord> {
  const config = `${o.log.replace(/\.log$/, '')}.config.json`;
  writeCertManagerConfig(config, o.metricsPort + 1);
  const proc = await (o.start ?? startDaemon)({
    name: 'cert-manager',
    command: o.controller,
    args: certManagerArgs({ ...o, config }),
    log: o.log,
  });
  await waitFor(() => probeOk(`http://127.0.0.1:${o.metricsPort}/metrics`), {
    what: 'cert-manager',
    timeoutMs: 60_000,
    proc,
  });
  return proc;
}

export const certManagerStep: Step = {
  name: 'cert-manager',
  group: 'certmanager',
  async run(ctx: Ctx) {
    const b = resolveCertManager({ build: true, log: ctx.log });
    installCertManagerCrds(ctx.bins!.kubectl, ctx.layout.kubeconfig, b.crds);
    await startCertManager({
      controller: b.controller,
      kubeconfig: ctx.layout.kubeconfig,
      metricsPort: ctx.ports.certManager,
      log: join(ctx.layout.logs, 'cert-manager.log'),
      start: (opts) => ctx.start('certmanager', opts),
    });
  },
  probe: (ctx) => probeOk(`http://127.0.0.1:${ctx.ports.certManager}/metrics`),
};
