// Finds the control-plane binaries built by hack/kubebins/build.sh and checks that they match the pins.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './config.js';
import { ClusterError } from './proc.js';

export const BINARIES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'kwok',
  'versitygw',
  'helm',
] as const;
export type Binary = (typeof BINARIES)[number];
/** The real node's binaries (hack/cluster/node.ts): in the same directory, checked when the node starts. */
export const NODE_BINARIES = [
  'kubelet',
  'kube-proxy',
  'containerd',
  'ctr',
  'containerd-shim-runc-v2',
  'coredns',
  'metrics-server',
  // Copied from Debian's packages by build.sh (their versions are part of the directory's hash); the CNI plugins
  // sit in cni/ beside them.
  'runc',
] as const;
export type NodeBinary = (typeof NODE_BINARIES)[number];
export type BinPaths = Record<Binary, string> & Record<NodeBinary, string> & { dir: string };

const buildScript = join(repoRoot, 'hack', 'kubebins', 'build.sh');

export function readPins(): Record<string, string> {
  const text = readFileSync(join(repoRoot, 'hack', 'kubebins', 'pins.env'), 'utf8');
  const pins: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(\S+)/.exec(line.trim());
    if (m) pins[m[1] as string] = m[2] as string;
  }
  return pins;
}

/**
 * Returns the directory holding binaries for the current pins. With build=true a missing or stale set is built
 * (that takes minutes cold); otherwise a clear error says how to build it.
 */
export function resolveBinaries(opts: { build: boolean; log?: (line: string) => void }): BinPaths {
  let dir = process.env.SCO_BIN_DIR;
  if (!dir) {
    const check = spawnSync('bash', [buildScript, '--check'], { encoding: 'utf8' });
    if (check.status === 0) {
      dir = check.stdout.trim().split('\n').pop() as string;
    } else if (!opts.build) {
      throw new ClusterError(
        `the control-plane binaries for the current pins are not built (${check.stderr.trim()}); run: npm run cluster:build`,
      );
    } else {
      opts.log?.('building control-plane binaries from the pinned Go modules (cold: several minutes)...');
      const built = spawnSync('bash', [buildScript], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      if (built.status !== 0) {
        throw new ClusterError(
          `building the control-plane binaries failed (exit ${built.status}); see the output above`,
        );
      }
      dir = built.stdout.trim().split('\n').pop() as string;
    }
  }
  const paths = { dir } as BinPaths;
  for (const b of BINARIES) {
    const p = join(dir, b);
    if (!existsSync(p)) {
      throw new ClusterError(`binary ${b} is missing from ${dir}; rebuild with: npm run cluster:build`);
    }
    paths[b] = p;
  }
  for (const b of NODE_BINARIES) paths[b] = join(dir, b);
  assertKubeVersion(paths['kube-apiserver'], readPins().KUBE_VERSION as string);
  return paths;
}

function assertKubeVersion(bin: string, want: string): void {
  let out: string;
  try {
    out = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  } catch (err) {
    throw new ClusterError(`${bin} --version failed: ${(err as Error).message}`);
  }
  if (out !== `Kubernetes ${want}`) {
    throw new ClusterError(
      `${bin} is stale: it reports "${out}" but hack/kubebins/pins.env pins ${want}; rebuild with: npm run cluster:build`,
    );
  }
}
