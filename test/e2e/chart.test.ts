// The Helm chart renders, lints, and its output is accepted by the API server (server-side dry run); its CRDs and
// RBAC are the generated ones; bad value combinations fail with a message.
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

async function template(ns: string, ...set: string[]): Promise<(KubeObject & Record<string, unknown>)[]> {
  const { stdout } = await run(
    helmPath(),
    ['template', 'sco', chart, '--namespace', ns, ...set.flatMap((s) => ['--set', s])],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as KubeObject & Record<string, unknown>)
    .filter(Boolean);
}

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
    expect(role.rules.some((r) => r.resources.includes('secrets') && r.verbs.includes('list'))).toBe(false);
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
});
