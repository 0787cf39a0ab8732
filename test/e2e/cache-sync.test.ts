// Caches that cannot sync are fatal, not a leader holding its Lease and doing nothing (issue 6 §3):
// - an operator process whose RBAC lacks `list` on one kind exits non-zero within --cache-sync-timeout, naming the
//   informer (kind, resource, namespace) and its last error (403 Forbidden), and releases the Lease on the way out;
// - in-process, a Manager watching a resource the API server does not serve (404) reports the informer and the
//   404 through onFatal, and its Lease is released by stop().
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { operatorRules } from '../../src/controllers/rbac.js';
import { Resources, resourcePath, type KubeClient, type KubeObject, type ResourceRef } from '../../src/kube/index.js';
import { createLogger } from '../../src/runtime/logger.js';
import { CacheSyncError, Manager } from '../../src/runtime/manager.js';
import { Metrics } from '../../src/runtime/metrics.js';
import { installCrds } from '../support/crds.js';
import { kubeconfigPath } from '../support/env.js';
import { createNamespace, deleteNamespace, eventually, testClient } from '../support/kube.js';
import { OperatorProcess } from '../support/operator.js';

jest.setTimeout(120_000);

interface Lease extends KubeObject {
  spec?: { holderIdentity?: string };
}

/** A kubeconfig for a service account: the admin kubeconfig's cluster, a token from the TokenRequest API. */
async function serviceAccountKubeconfig(client: KubeClient, ns: string, sa: string, file: string): Promise<void> {
  const tr = await client.request<{ status: { token: string } }>(
    'POST',
    resourcePath(Resources.ServiceAccount, ns, sa, 'token'),
    {
      verb: 'create',
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
    },
  );
  const admin = parse(readFileSync(kubeconfigPath(), 'utf8')) as {
    'current-context': string;
    contexts: { name: string; context: { cluster: string } }[];
    clusters: { name: string; cluster: Record<string, unknown> }[];
  };
  const ctx = admin.contexts.find((c) => c.name === admin['current-context'])?.context;
  const cluster = { ...admin.clusters.find((c) => c.name === ctx?.cluster)?.cluster };
  const ca = cluster['certificate-authority'];
  if (typeof ca === 'string' && !ca.startsWith('/'))
    cluster['certificate-authority'] = join(kubeconfigPath(), '..', ca);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster }],
      users: [{ name: sa, user: { token: tr.status.token } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: sa } }],
      'current-context': 'c',
    }),
  );
}

describe('cache sync timeout', () => {
  let client: KubeClient;
  let ns: string;
  const ops: OperatorProcess[] = [];

  beforeAll(async () => {
    client = await testClient();
    await installCrds(client);
    ns = await createNamespace(client, 'e2e-cachesync');
  });
  afterAll(async () => {
    await Promise.all(ops.map((o) => o.stop()));
    await deleteNamespace(client, ns);
    client.close();
  });

  test('without list on CertRenewals the operator exits non-zero naming the informer and the 403', async () => {
    // The operator's own rules, minus `list` on certrenewals; plus the Lease.
    const rules = operatorRules().map((r) =>
      r.resources.includes('certrenewals') ? { ...r, verbs: r.verbs.filter((v) => v !== 'list') } : r,
    );
    expect(rules.some((r) => r.resources.includes('certrenewals') && r.verbs.includes('watch'))).toBe(true);
    rules.push({ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create', 'get', 'update'] });
    const sa = 'limited-operator';
    await client.create(Resources.ServiceAccount, { metadata: { name: sa, namespace: ns } });
    const roleRef: ResourceRef = {
      group: 'rbac.authorization.k8s.io',
      version: 'v1',
      plural: 'roles',
      kind: 'Role',
      namespaced: true,
    };
    const bindingRef: ResourceRef = { ...roleRef, plural: 'rolebindings', kind: 'RoleBinding' };
    await client.create(roleRef, { metadata: { name: sa, namespace: ns }, rules } as KubeObject);
    await client.create(bindingRef, {
      metadata: { name: sa, namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: sa },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace: ns }],
    } as KubeObject);
    const kubeconfig = join(mkdtempSync(join(os.tmpdir(), 'sco-sa-')), 'kubeconfig');
    await serviceAccountKubeconfig(client, ns, sa, kubeconfig);

    const op = await OperatorProcess.start({
      identity: 'op-limited',
      namespaces: [ns],
      leaderElect: true,
      leaseNamespace: ns,
      leaseName: 'cache-sync',
      kubeconfig,
      waitReady: false,
      extraArgs: ['--cache-sync-timeout=5s'],
    });
    ops.push(op);
    // It becomes leader (the Lease is allowed) but cannot fill the CertRenewal cache ...
    await eventually('op-limited to lead', () => op.isLeader(), { timeoutMs: 30_000 });
    const exit = await op.waitForExit();
    expect(exit).toEqual({ code: 1, signal: null });
    // ... and says which informer and why, instead of holding the Lease with no controllers running.
    const log = await eventually('the message in the log', async () => {
      const text = readFileSync(op.logFile, 'utf8');
      return text.includes('caches did not sync within 5s') && text;
    });
    const line = log.split('\n').find((l) => l.startsWith('smartcloudops-operator: caches did not sync')) ?? '';
    expect(line).toContain(`CertRenewal (certrenewals.ops.smartcloudops.ai) in namespace ${ns}: last error:`);
    expect(line).toMatch(/403 Forbidden/);
    expect(line).not.toContain('ScalingPolicy'); // only the informer that failed is named
    const lease = await client.get<Lease>(Resources.Lease, ns, 'cache-sync');
    expect(lease.spec?.holderIdentity).toBe(''); // released on the way out
  });

  test('a resource the API server does not serve (404) is reported with the informer and the 404', async () => {
    const missing: ResourceRef = {
      group: 'missing.smartcloudops.ai',
      version: 'v1',
      plural: 'widgets',
      kind: 'Widget',
      namespaced: true,
    };
    const manager = new Manager({
      client,
      log: createLogger('silent'),
      metrics: new Metrics({ defaultMetrics: false }),
      namespaces: [ns],
      concurrency: 1,
      identity: 'in-process',
      cacheSyncTimeoutMs: 3000,
      leaderElection: {
        enabled: true,
        namespace: ns,
        name: 'cache-sync-404',
        identity: 'in-process',
        leaseDurationMs: 15_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 1_000,
      },
    });
    let reconciles = 0;
    manager.add({
      name: 'widget',
      for: missing,
      setup: () => async () => {
        reconciles++;
      },
    });
    const fatal = new Promise<Error>((resolve) => void manager.start(() => undefined, resolve));
    const err = await fatal;
    expect(err).toBeInstanceOf(CacheSyncError);
    expect(err.message).toContain(
      `caches did not sync within 3s: Widget (widgets.missing.smartcloudops.ai) in namespace ${ns}`,
    );
    expect(err.message).toMatch(/last error: .*404/);
    expect((await client.get<Lease>(Resources.Lease, ns, 'cache-sync-404')).spec?.holderIdentity).toBe('in-process');
    await manager.stop(5000);
    expect((await client.get<Lease>(Resources.Lease, ns, 'cache-sync-404')).spec?.holderIdentity).toBe('');
    expect(reconciles).toBe(0);
  });
});
