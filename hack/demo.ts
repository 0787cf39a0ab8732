// npm run demo: the local demo. Brings up the local cluster and data services (building the binaries on first use)
// and shows the cluster working. It grows with the operator: see README.md.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { readState, up } from './cluster/cluster.js';
import { layout } from './cluster/config.js';
import { ClusterError } from './cluster/proc.js';

async function main(): Promise<void> {
  await up();
  const l = layout();
  const state = readState(l);
  const kubectl = join(state?.binDir ?? '', 'kubectl');
  const env = { ...process.env, KUBECONFIG: l.kubeconfig };
  console.log('\n$ kubectl get nodes');
  console.log(execFileSync(kubectl, ['get', 'nodes', '-o', 'wide'], { env, encoding: 'utf8' }));
  console.log(`The cluster keeps running. Use it with:\n  export KUBECONFIG=${l.kubeconfig}\n  ${kubectl} get pods -A`);
  console.log('Stop it with: npm run cluster:down');
}

main().catch((err: unknown) => {
  console.error(err instanceof ClusterError ? `error: ${err.message}` : err);
  process.exit(1);
});
