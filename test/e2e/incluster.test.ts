// The operator as a user deploys it: `helm install` of charts/ with the locally built image (hack/images/build.sh,
// imported into the real node's containerd), on the real node, in a namespace enforcing Pod Security "restricted".
// It becomes leader, reconciles the samples, serves /metrics through its Service (scraped through the API server's
// service proxy), the standby takes over when the leader pod is deleted, `helm upgrade` rolls it and keeps the Lease,
// and `helm uninstall` removes it but keeps the CRDs and the custom resources.
// Needs a node labelled smartcloudops.ai/node=real (cluster:up starts one; on kind every node is real: set
// SCO_REAL_NODE_SELECTOR= to an empty string and SCO_OPERATOR_IMAGE to an image the nodes have). Without such a node
// the suite is skipped, and says so.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../hack/cluster/config.js';
import { resourceRefOf, type KindName } from '../../src/crds/kinds.js';
import { Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { kubectlPath, readSamples, toolPath } from '../support/crds.js';
import { kubeconfigPath } from '../support/env.js';
import { parseMetrics, sumMetric } from '../support/prom.js';
import { condition, deleteNamespace, eventually, testClient, uniqueName } from '../support/kube.js';

jest.setTimeout(300_000);
const run = promisify(execFile);
const chart = join(repoRoot, 'charts', 'smartcloudops-operator');
// The real node's label and taint (hack/cluster: NODE_LABEL, NODE_TAINT).
const NODE_SELECTOR = process.env.SCO_REAL_NODE_SELECTOR ?? 'smartcloudops.ai/node=real';
const NODE_TAINT_KEY = 'smartcloudops.ai/real-node';

interface CR extends KubeObject {
  status?: { observedGeneration?: number; conditions?: { type: string; status: string; reason: string }[] };
}
interface Pod extends KubeObject {
  spec: { nodeName?: string; containers: { image: string }[] };
  status: { phase: string; conditions?: { type: string; status: string }[] };
}
interface Lease extends KubeObject {
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; leaseTransitions?: number };
}

/** The operator image: SCO_OPERATOR_IMAGE, else the one hack/images/build.sh built for the current sources. */
function operatorImage(): { repository: string; tag: string } {
  let ref = process.env.SCO_OPERATOR_IMAGE;
  if (!ref) {
    const dir = execFileSync('bash', [join(repoRoot, 'hack/images/build.sh'), '--check'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop() as string;
    const images = JSON.parse(readFileSync(join(dir, 'images.json'), 'utf8')) as { ref: string }[];
    ref = images.find((i) => i.ref.startsWith('localhost/smartcloudops/operator:'))?.ref;
    if (!ref) throw new Error(`no operator image in ${dir}/images.json`);
  }
  const i = ref.lastIndexOf(':');
  return { repository: ref.slice(0, i), tag: ref.slice(i + 1) };
}

const env = () => ({ ...process.env, KUBECONFIG: kubeconfigPath() });
const kubectl = (...args: string[]) => run(kubectlPath(), args, { env: env(), maxBuffer: 16 * 1024 * 1024 });
const helm = (...args: string[]) => run(toolPath('helm'), args, { env: env(), maxBuffer: 16 * 1024 * 1024 });

async function realNodeExists(): Promise<boolean> {
  if (!NODE_SELECTOR) return true;
  const c = await testClient();
  try {
    return (await c.list(Resources.Node, { labelSelector: NODE_SELECTOR })).items.length > 0;
  } finally {
    c.close();
  }
}
const hasRealNode = await realNodeExists();
if (!hasRealNode) {
  // CI always runs with the real node: a missing one there is a failure, not a skip.
  if (process.env.CI) throw new Error(`test/e2e/incluster.test.ts: no node labelled ${NODE_SELECTOR} in this cluster`);
  console.warn(`SKIPPED test/e2e/incluster.test.ts: no node labelled ${NODE_SELECTOR} in this cluster`);
}

(hasRealNode ? describe : describe.skip)('the operator installed by Helm on the real node', () => {
  let client: KubeClient;
  let ns: string;
  const release = 'sco';
  const fullname = `${release}-smartcloudops-operator`;
  const lease = `${fullname}-leader`;
  const samples = readSamples().filter((s) => s.kind !== 'Namespace') as CR[];
  let installed = false;

  const pods = async () =>
    (
      await client.list<Pod>(Resources.Pod, {
        namespace: ns,
        labelSelector: `app.kubernetes.io/instance=${release},app.kubernetes.io/name=smartcloudops-operator`,
      })
    ).items.filter((p) => !p.metadata.deletionTimestamp);
  const ready = (p: Pod) => condition(p as never, 'Ready')?.status === 'True';
  const holder = async () => (await client.get<Lease>(Resources.Lease, ns, lease)).spec.holderIdentity;

  async function waitForLeader(exclude?: string): Promise<{ leader: string; pods: Pod[] }> {
    return eventually(
      'two Ready operator pods and a leader among them',
      async () => {
        const ps = await pods();
        if (ps.length !== 2 || !ps.every(ready)) return undefined;
        const h = await holder().catch(() => undefined);
        if (!h || h === exclude || !ps.some((p) => p.metadata.name === h)) return undefined;
        return { leader: h, pods: ps };
      },
      { timeoutMs: 150_000, intervalMs: 500 },
    );
  }

  beforeAll(async () => {
    client = await testClient();
    ns = uniqueName('e2e-incluster');
    await client.create(Resources.Namespace, {
      metadata: {
        name: ns,
        labels: {
          'smartcloudops.ai/e2e': 'true',
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
        },
      },
    });
  });
  afterAll(async () => {
    if (installed) await helm('uninstall', release, '-n', ns, '--wait', '--timeout', '60s').catch(() => undefined);
    if (ns) await deleteNamespace(client, ns);
    client.close();
  });

  test('helm install: two pods pass Pod Security "restricted" and run the local image on the real node', async () => {
    const image = operatorImage();
    const set = [
      `image.repository=${image.repository}`,
      `image.tag=${image.tag}`,
      'image.pullPolicy=IfNotPresent',
      `watchNamespaces={${ns}}`,
      // short lease timings so the takeover below is quick; production defaults are 60s/40s/15s
      'leaderElection.leaseDuration=15s',
      'leaderElection.renewDeadline=10s',
      'leaderElection.retryPeriod=2s',
    ];
    if (NODE_SELECTOR) {
      const [k, v] = NODE_SELECTOR.split('=') as [string, string];
      set.push(`nodeSelector.${k.replace(/\./g, '\\.')}=${v}`);
      set.push(
        `tolerations[0].key=${NODE_TAINT_KEY}`,
        'tolerations[0].operator=Exists',
        'tolerations[0].effect=NoSchedule',
      );
    }
    // The CRDs may already exist in a shared test cluster (other suites apply them): the release adopts them.
    const { stdout } = await helm(
      'install', release, chart, '-n', ns, '--take-ownership', '--wait', '--timeout', '150s',
      ...set.flatMap((s) => ['--set', s]),
    ); // prettier-ignore
    installed = true;
    expect(stdout).toMatch(/STATUS: deployed/);
    const ps = await pods();
    expect(ps).toHaveLength(2);
    for (const p of ps) {
      expect(p.spec.containers[0]?.image).toBe(`${image.repository}:${image.tag}`);
      if (NODE_SELECTOR) {
        const node = await client.get<KubeObject>(Resources.Node, undefined, p.spec.nodeName as string);
        const [k, v] = NODE_SELECTOR.split('=') as [string, string];
        expect(node.metadata.labels?.[k]).toBe(v);
      }
    }
    // the namespace enforces restricted: the API server would have refused these pods otherwise
    const nsObj = await client.get<KubeObject>(Resources.Namespace, undefined, ns);
    expect(nsObj.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  test("one replica becomes leader of the release's Lease; the samples are reconciled in-cluster", async () => {
    const { leader } = await waitForLeader();
    const l = await client.get<Lease>(Resources.Lease, ns, lease);
    expect(l.spec.holderIdentity).toBe(leader);
    expect(l.spec.leaseDurationSeconds).toBe(15);
    for (const s of samples) {
      await client.create(resourceRefOf(s.kind as KindName), {
        ...s,
        metadata: { name: s.metadata.name, namespace: ns },
      });
    }
    for (const s of samples) {
      const obj = await eventually(`${s.kind} ${s.metadata.name} reconciled`, async () => {
        const o = await client.get<CR>(resourceRefOf(s.kind as KindName), ns, s.metadata.name as string);
        return o.status?.observedGeneration === o.metadata.generation && condition(o, 'Ready') ? o : undefined;
      });
      // written by the operator's field manager, i.e. by the pod (no operator process runs for this namespace)
      expect(
        (obj.metadata.managedFields as { manager: string; subresource?: string }[] | undefined)?.some(
          (m) => m.manager === 'smartcloudops-operator' && m.subresource === 'status',
        ),
      ).toBe(true);
    }
  });

  test('/metrics is scraped through the Service (API server service proxy) and from the leader pod', async () => {
    const viaService = await eventually('metrics through the Service', async () => {
      const { stdout } = await kubectl(
        'get',
        '--raw',
        `/api/v1/namespaces/${ns}/services/http:${fullname}-metrics:metrics/proxy/metrics`,
      );
      return stdout.includes('leader_election_master_status') ? stdout : undefined;
    });
    expect(parseMetrics(viaService).size).toBeGreaterThan(10);
    const leader = await holder();
    const { stdout } = await kubectl('get', '--raw', `/api/v1/namespaces/${ns}/pods/http:${leader}:8080/proxy/metrics`);
    const m = parseMetrics(stdout);
    expect(sumMetric(m, 'leader_election_master_status')).toBe(1);
    expect(sumMetric(m, 'controller_runtime_reconcile_total')).toBeGreaterThanOrEqual(samples.length);
  });

  test('deleting the leader pod: the other replica takes over and keeps reconciling', async () => {
    const before = await client.get<Lease>(Resources.Lease, ns, lease);
    const old = before.spec.holderIdentity as string;
    const t0 = Date.now();
    await client.delete(Resources.Pod, ns, old);
    const next = await eventually(
      'a new leader',
      async () => {
        const h = await holder();
        return h && h !== old ? h : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const takeoverMs = Date.now() - t0;
    console.log(`in-cluster takeover after deleting the leader pod: ${(takeoverMs / 1000).toFixed(1)}s`);
    expect(next).not.toBe(old);
    const after = await client.get<Lease>(Resources.Lease, ns, lease);
    expect(after.spec.leaseTransitions ?? 0).toBeGreaterThan(before.spec.leaseTransitions ?? 0);
    // the new leader reconciles a change
    const s = samples.find((x) => x.kind === 'BackupSchedule') as CR;
    const ref = resourceRefOf('BackupSchedule');
    const name = `${s.metadata.name}-after-takeover`;
    await client.create(ref, { ...s, metadata: { name, namespace: ns } });
    await eventually('the new object reconciled by the new leader', async () => {
      const o = await client.get<CR>(ref, ns, name);
      return o.status?.observedGeneration === o.metadata.generation;
    });
    await waitForLeader(); // the Deployment replaced the deleted pod
  });

  test('helm upgrade rolls the pods with the new values and keeps the same Lease', async () => {
    const { stdout } = await helm(
      'upgrade', release, chart, '-n', ns, '--reuse-values', '--set', 'logLevel=debug', '--wait', '--timeout', '150s',
    ); // prettier-ignore
    expect(stdout).toMatch(/has been upgraded/);
    const dep = await client.get<KubeObject & { spec: { template: { spec: { containers: { args: string[] }[] } } } }>(
      Resources.Deployment,
      ns,
      fullname,
    );
    expect(dep.spec.template.spec.containers[0]?.args).toContain('--log-level=debug');
    expect(dep.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
    const { leader, pods: ps } = await waitForLeader();
    expect(ps.map((p) => p.metadata.name)).toContain(leader);
    const { stdout: history } = await helm('history', release, '-n', ns, '-o', 'json');
    expect((JSON.parse(history) as { revision: number; status: string }[]).map((h) => [h.revision, h.status])).toEqual([
      [1, 'superseded'],
      [2, 'deployed'],
    ]);
  });

  test('helm uninstall removes the operator and keeps the CRDs and custom resources', async () => {
    await helm('uninstall', release, '-n', ns, '--wait', '--timeout', '90s');
    installed = false;
    await eventually('operator pods gone', async () => (await pods()).length === 0, { timeoutMs: 90_000 });
    await expect(client.get(Resources.Deployment, ns, fullname)).rejects.toThrow();
    await expect(client.get(Resources.ServiceAccount, ns, fullname)).rejects.toThrow();
    for (const s of samples) {
      const crdName = `${resourceRefOf(s.kind as KindName).plural}.ops.smartcloudops.ai`;
      const crd = await client.get<KubeObject>(Resources.CustomResourceDefinition, undefined, crdName);
      expect(crd.metadata.deletionTimestamp).toBeUndefined();
      const cr = await client.get<CR>(resourceRefOf(s.kind as KindName), ns, s.metadata.name as string);
      expect(cr.metadata.name).toBe(s.metadata.name);
    }
  });
});
