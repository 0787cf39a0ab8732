// The Helm chart renders, lints, and its output is accepted by the API server (server-side dry run); its CRDs and
// RBAC are the generated ones; bad value combinations fail with a message; values.schema.json refuses wrong types;
// the hardening for two replicas (PDB, spread, a Lease per release, grace period above the shutdown timeout) and the
// optional NetworkPolicy and ServiceMonitor render as documented.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { repoRoot } from '../../hack/cluster/config.js';
import type { KubeClient, KubeObject } from '../../src/kube/index.js';
import { kubectlPath, toolPath } from '../support/crds.js';
import { kubeconfigPath } from '../support/env.js';
import { createNamespace, deleteNamespace, testClient } from '../support/kube.js';

jest.setTimeout(120_000);
const run = promisify(execFile);
const chart = join(repoRoot, 'charts', 'smartcloudops-operator');

const helmPath = () => toolPath('helm');

type Doc = KubeObject & Record<string, unknown>;

async function template(ns: string, ...set: string[]): Promise<Doc[]> {
  return templateRelease('sco', ns, ...set);
}

/** `helm template`; a value written `key:=value` is passed with --set-string (a string where the chart may want a
 * boolean), the others with --set. */
async function templateRelease(release: string, ns: string, ...set: string[]): Promise<Doc[]> {
  const args = set.flatMap((s) => (s.includes(':=') ? ['--set-string', s.replace(':=', '=')] : ['--set', s]));
  const { stdout } = await run(helmPath(), ['template', release, chart, '--namespace', ns, ...args], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Doc)
    .filter(Boolean);
}

interface PodSpec {
  terminationGracePeriodSeconds: number;
  affinity?: Record<string, unknown>;
  topologySpreadConstraints?: Record<string, unknown>[];
  containers: { args: string[]; env: { name: string; value?: string }[] }[];
}
const podSpec = (docs: Doc[]): PodSpec =>
  (docs.find((d) => d.kind === 'Deployment') as unknown as { spec: { template: { spec: PodSpec } } }).spec.template
    .spec;
const arg = (docs: Doc[], flag: string): string | undefined =>
  podSpec(docs)
    .containers[0]?.args.find((a) => a.startsWith(`--${flag}=`))
    ?.slice(flag.length + 3);

function applyDryRun(manifests: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(kubectlPath(), ['apply', '--dry-run=server', '-f', '-'], {
      env: { ...process.env, KUBECONFIG: kubeconfigPath() },
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`kubectl apply failed (${code}): ${out}`))));
    p.stdin.end(manifests);
  });
}

describe('Helm chart', () => {
  let client: KubeClient;
  let ns: string;

  beforeAll(async () => {
    client = await testClient();
    ns = await createNamespace(client, 'e2e-chart');
  });
  afterAll(async () => {
    await deleteNamespace(client, ns);
    client.close();
  });

  test('helm lint passes', async () => {
    const { stdout } = await run(helmPath(), ['lint', chart]);
    expect(stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  test('renders the generated CRDs and RBAC, least privilege, a hardened pod', async () => {
    const docs = await template(ns);
    const kinds = docs.map((d) => d.kind).sort();
    expect(kinds.filter((k) => k === 'CustomResourceDefinition')).toHaveLength(5);
    for (const crd of docs.filter((d) => d.kind === 'CustomResourceDefinition')) {
      expect(crd.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    }
    const role = docs.find((d) => d.kind === 'ClusterRole') as unknown as {
      rules: { verbs: string[]; resources: string[] }[];
    };
    const generated = parse(readFileSync(join(repoRoot, 'config', 'rbac', 'role.yaml'), 'utf8')) as { rules: unknown };
    expect(role.rules).toEqual(generated.rules);
    for (const r of role.rules) {
      expect(r.verbs).not.toContain('*');
      expect(r.resources).not.toContain('*');
      for (const v of ['escalate', 'bind', 'impersonate']) expect(r.verbs).not.toContain(v);
    }
    // Secrets are read (SmartCloudOpsApp reads the Secrets its apps reference, CertRenewal watches label-scoped
    // Secrets, BackupSchedule the destination's by name; RBAC cannot express those scopes, so get/list/watch it is) and
    // written only by create/patch — a DR drill puts the DR database and S3 Secrets into the namespace it creates —
    // never updated wholesale or deleted (a drill's Secrets go with its namespace).
    const secrets = role.rules.filter((r) => r.resources.includes('secrets'));
    expect(secrets.length).toBeGreaterThan(0);
    expect([...new Set(secrets.flatMap((r) => r.verbs))].sort()).toEqual(['create', 'get', 'list', 'patch', 'watch']);
    const dep = docs.find((d) => d.kind === 'Deployment') as unknown as {
      spec: {
        replicas: number;
        template: { spec: { securityContext: unknown; containers: { securityContext: unknown; args: string[] }[] } };
      };
    };
    expect(dep.spec.replicas).toBe(2);
    expect(dep.spec.template.spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(dep.spec.template.spec.containers[0]?.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(dep.spec.template.spec.containers[0]?.args).toContain('--leader-elect=true');
    expect(kinds).toEqual(
      expect.arrayContaining(['ClusterRoleBinding', 'Role', 'RoleBinding', 'ServiceAccount', 'Service']),
    );
  });

  test('the API server accepts the rendered manifests (server-side dry run)', async () => {
    const { stdout } = await run(helmPath(), ['template', 'sco', chart, '--namespace', ns], {
      maxBuffer: 64 * 1024 * 1024,
    });
    const out = await applyDryRun(stdout);
    expect(out).toMatch(
      /deployment\.apps\/sco-smartcloudops-operator (created|configured|unchanged) \(server dry run\)/,
    );
    expect(out).toMatch(
      /clusterrole\.rbac\.authorization\.k8s\.io\/sco-smartcloudops-operator (created|configured|unchanged) \(server dry run\)/,
    );
  });

  test('watching a list of namespaces binds the role in those namespaces only', async () => {
    const docs = await template(ns, 'watchNamespaces={team-a,team-b}');
    expect(docs.some((d) => d.kind === 'ClusterRoleBinding')).toBe(false);
    const bindings = docs.filter((d) => d.kind === 'RoleBinding' && d.metadata.name === 'sco-smartcloudops-operator');
    expect(bindings.map((b) => b.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
    const dep = docs.find((d) => d.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { containers: { args: string[] }[] } } };
    };
    expect(dep.spec.template.spec.containers[0]?.args).toContain('--namespaces=team-a,team-b');
  });

  test('two replicas without leader election is refused with a reason', async () => {
    await expect(template(ns, 'leaderElection.enabled=false')).rejects.toThrow(
      /replicas > 1 needs leaderElection.enabled: two operators without a Lease would both reconcile/,
    );
    const single = await template(ns, 'leaderElection.enabled=false', 'replicas=1');
    const dep = single.find((d) => d.kind === 'Deployment') as unknown as { spec: { strategy?: { type: string } } };
    expect(dep.spec.strategy?.type).toBe('Recreate');
  });

  test('crds.enabled=false leaves the CRDs out', async () => {
    const docs = await template(ns, 'crds.enabled=false');
    expect(docs.some((d) => d.kind === 'CustomResourceDefinition')).toBe(false);
  });

  test('values.schema.json refuses wrong types and unknown keys, naming the field', async () => {
    await expect(templateRelease('sco', ns, 'leaderElection.enabled:=false')).rejects.toThrow(
      /leaderElection\.enabled.*(boolean|got string)|(got string|boolean).*leaderElection/s,
    );
    await expect(templateRelease('sco', ns, 'crds.keep:=true')).rejects.toThrow(/crds\.keep/);
    await expect(templateRelease('sco', ns, 'replicas:=two')).rejects.toThrow(/replicas/);
    await expect(templateRelease('sco', ns, 'logLevel=verbose')).rejects.toThrow(/logLevel/);
    await expect(templateRelease('sco', ns, 'image.tag=latest')).rejects.toThrow(/image\.tag/);
    await expect(templateRelease('sco', ns, 'leaderElection.leaseDuration=soon')).rejects.toThrow(/leaseDuration/);
    await expect(templateRelease('sco', ns, 'replicaCount=3')).rejects.toThrow(/replicaCount/);
    // the same values with the right types render
    const ok = await templateRelease('sco', ns, 'leaderElection.enabled=true', 'crds.keep=true', 'replicas=2');
    expect(arg(ok, 'leader-elect')).toBe('true');
  });

  test('helm lint --strict passes with every optional part enabled', async () => {
    const { stdout } = await run(helmPath(), [
      'lint',
      '--strict',
      chart,
      '--set',
      'networkPolicy.enabled=true,metrics.serviceMonitor.enabled=true,metrics.serviceMonitor.labels.release=prom',
    ]);
    expect(stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  test('two replicas: a PodDisruptionBudget, soft anti-affinity and a spread over nodes', async () => {
    const docs = await template(ns);
    const pdb = docs.find((d) => d.kind === 'PodDisruptionBudget') as unknown as {
      spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } };
    };
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual({
      'app.kubernetes.io/name': 'smartcloudops-operator',
      'app.kubernetes.io/instance': 'sco',
    });
    const spec = podSpec(docs);
    expect(spec.affinity).toEqual({
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: {
              topologyKey: 'kubernetes.io/hostname',
              labelSelector: { matchLabels: pdb.spec.selector.matchLabels },
            },
          },
        ],
      },
    });
    expect(spec.topologySpreadConstraints).toEqual([
      {
        topologyKey: 'kubernetes.io/hostname',
        maxSkew: 1,
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: pdb.spec.selector.matchLabels },
      },
    ]);
    const hard = podSpec(await template(ns, 'podAntiAffinity=hard'));
    expect(hard.affinity).toHaveProperty(
      'podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution.0.topologyKey',
      'kubernetes.io/hostname',
    );
    const own = podSpec(
      await template(
        ns,
        'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=disk',
        'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists',
      ),
    );
    expect(Object.keys(own.affinity ?? {})).toEqual(['nodeAffinity']);
    // one replica: nothing to keep available
    const single = await template(ns, 'replicas=1');
    expect(single.some((d) => d.kind === 'PodDisruptionBudget')).toBe(false);
  });

  test('a Lease per release: two releases in one namespace never share one', async () => {
    const a = await templateRelease('team-a', ns);
    const b = await templateRelease('team-b', ns);
    expect(arg(a, 'leader-elect-id')).toBe('team-a-smartcloudops-operator-leader');
    expect(arg(b, 'leader-elect-id')).toBe('team-b-smartcloudops-operator-leader');
    expect(arg(await template(ns, 'leaderElection.id=my-lease'), 'leader-elect-id')).toBe('my-lease');
  });

  test('grace period 30s above the 20s shutdown timeout passed to the operator; a shorter one is refused', async () => {
    const spec = podSpec(await template(ns));
    expect(spec.terminationGracePeriodSeconds).toBe(30);
    expect(spec.containers[0]?.env).toContainEqual({ name: 'SHUTDOWN_TIMEOUT', value: '20s' });
    await expect(template(ns, 'terminationGracePeriodSeconds=20')).rejects.toThrow(
      /terminationGracePeriodSeconds \(20\) must be longer than shutdownTimeout \(20s\)/,
    );
    await expect(template(ns, 'shutdownTimeout=1m')).rejects.toThrow(/shutdownTimeout/);
  });

  test('NetworkPolicy: off by default; on, only metrics/health in, DNS and the API server out', async () => {
    expect((await template(ns)).some((d) => d.kind === 'NetworkPolicy')).toBe(false);
    const docs = await template(
      ns,
      'networkPolicy.enabled=true',
      'networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.name=monitoring',
    );
    const np = docs.find((d) => d.kind === 'NetworkPolicy') as unknown as {
      spec: {
        policyTypes: string[];
        ingress: { from?: unknown[]; ports: unknown[] }[];
        egress: { ports: unknown[] }[];
      };
    };
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.spec.ingress).toEqual([
      {
        ports: [{ port: 'metrics', protocol: 'TCP' }],
        from: [{ namespaceSelector: { matchLabels: { name: 'monitoring' } } }],
      },
      { ports: [{ port: 'health', protocol: 'TCP' }] },
    ]);
    expect(np.spec.egress).toEqual([
      {
        ports: [
          { port: 53, protocol: 'UDP' },
          { port: 53, protocol: 'TCP' },
        ],
      },
      {
        ports: [
          { port: 443, protocol: 'TCP' },
          { port: 6443, protocol: 'TCP' },
        ],
      },
    ]);
  });

  test('ServiceMonitor with the labels Prometheus selects on', async () => {
    expect((await template(ns)).some((d) => d.kind === 'ServiceMonitor')).toBe(false);
    const docs = await template(
      ns,
      'metrics.serviceMonitor.enabled=true',
      'metrics.serviceMonitor.labels.release=kube-prometheus-stack',
      'metrics.serviceMonitor.interval=15s',
    );
    const sm = docs.find((d) => d.kind === 'ServiceMonitor') as unknown as {
      metadata: { labels: Record<string, string> };
      spec: { endpoints: Record<string, string>[]; selector: { matchLabels: Record<string, string> } };
    };
    expect(sm.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack', 'app.kubernetes.io/instance': 'sco' });
    expect(sm.spec.endpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '15s', scrapeTimeout: '10s' }]);
    const svc = docs.find((d) => d.kind === 'Service') as unknown as {
      metadata: { labels: Record<string, string> };
      spec: { ports: { name: string }[] };
    };
    expect(svc.metadata.labels).toMatchObject(sm.spec.selector.matchLabels);
    expect(svc.spec.ports.map((p) => p.name)).toContain('metrics');
  });

  test('the API server accepts the hardened parts (PDB, NetworkPolicy) in a server-side dry run', async () => {
    const { stdout } = await run(
      helmPath(),
      ['template', 'sco', chart, '--namespace', ns, '--set', 'networkPolicy.enabled=true,crds.enabled=false'],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    const out = await applyDryRun(stdout);
    expect(out).toMatch(
      /poddisruptionbudget\.policy\/sco-smartcloudops-operator (created|configured|unchanged) \(server dry run\)/,
    );
    expect(out).toMatch(
      /networkpolicy\.networking\.k8s\.io\/sco-smartcloudops-operator (created|configured|unchanged) \(server dry run\)/,
    );
  });
});
