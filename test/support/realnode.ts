// The real node, as e2e files need it: whether the cluster has one (CI always does: a missing one there fails the
// file; elsewhere the file is skipped, saying so), how pods are placed on it, and the operator image it holds (the
// agent in backup and restore Jobs runs from it).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../hack/cluster/config.js';
import { Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { testClient } from './kube.js';

export const REAL_NODE_LABEL = 'smartcloudops.ai/node';
export const REAL_NODE_VALUE = 'real';
export const REAL_NODE_TAINT = 'smartcloudops.ai/real-node';
/** nodeSelector and tolerations that put a pod on the real node. */
export const onRealNode = {
  nodeSelector: { [REAL_NODE_LABEL]: REAL_NODE_VALUE },
  tolerations: [{ key: REAL_NODE_TAINT, operator: 'Exists', effect: 'NoSchedule' }],
};

/** True when the cluster has the real node; without one, throws in CI and warns (SKIPPED `file`) elsewhere. */
export async function realNodeFor(file: string): Promise<boolean> {
  const c = await testClient();
  let found: boolean;
  try {
    found = (await c.list(Resources.Node, { labelSelector: `${REAL_NODE_LABEL}=${REAL_NODE_VALUE}` })).items.length > 0;
  } finally {
    c.close();
  }
  if (!found) {
    const why = `${file}: no node labelled ${REAL_NODE_LABEL}=${REAL_NODE_VALUE}`;
    if (process.env.CI) throw new Error(why);
    console.warn(`SKIPPED ${why}`);
  }
  return found;
}

/** The operator image the Jobs run: SCO_AGENT_IMAGE, this checkout's build, or the newest one the real node holds. */
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
    labelSelector: `${REAL_NODE_LABEL}=${REAL_NODE_VALUE}`,
  });
  const ref = (nodes.items[0]?.status?.images ?? [])
    .flatMap((i) => i.names)
    .find((n) => n.startsWith('localhost/smartcloudops/operator:'));
  if (!ref) throw new Error('no operator image on the real node: run hack/images/build.sh and hack/images/load.sh');
  return ref;
}
