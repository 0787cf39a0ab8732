// A canary secret in every place a secret can be — Secret data a controller reads through the runtime, the env
// `value` of a child it applies, a connection URI in an error it throws, in an Event message and a condition message
// it writes, and the bearer token of the kubeconfig the operator runs with — then a full reconcile cycle (a failure,
// a retry, a success) at `trace` level. The canary (also base64-encoded) must appear in no log line, Event, status
// field or metric label. Then the real operator process (src/main.ts) runs with the same kubeconfig at trace.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse, stringify } from 'yaml';
import { resourceRefOf } from '../../src/crds/kinds.js';
import { KubeClient, Resources, type KubeObject } from '../../src/kube/index.js';
import { setCondition } from '../../src/runtime/conditions.js';
import { createLogger } from '../../src/runtime/logger.js';
import { Manager } from '../../src/runtime/manager.js';
import { Metrics } from '../../src/runtime/metrics.js';
import { installCrds, readSamples } from '../support/crds.js';
import { kubeconfigPath } from '../support/env.js';
import { condition, createNamespace, deleteNamespace, eventually, testClient } from '../support/kube.js';
import { OperatorProcess } from '../support/operator.js';

jest.setTimeout(180_000);

const canary = `canary-${randomBytes(12).toString('hex')}`;
const forms = [canary, Buffer.from(canary).toString('base64')];
const leaks = (text: string) => forms.filter((f) => text.includes(f));

/** The cluster's kubeconfig with the canary as the user's bearer token (the client certificate still authenticates). */
function canaryKubeconfig(): string {
  const cfg = parse(readFileSync(kubeconfigPath(), 'utf8')) as {
    'current-context': string;
    contexts: { name: string; context: { user: string } }[];
    users: { name: string; user: Record<string, unknown> }[];
  };
  const userName = cfg.contexts.find((c) => c.name === cfg['current-context'])?.context.user;
  const user = cfg.users.find((u) => u.name === userName) as { user: Record<string, unknown> };
  if (!user.user['client-certificate-data'] && !user.user['client-certificate']) {
    throw new Error('the canary test needs a kubeconfig whose user authenticates with a client certificate');
  }
  user.user.token = canary;
  // Relative paths of the original file would otherwise resolve against the temporary directory.
  for (const k of ['client-certificate', 'client-key'] as const) {
    const p = user.user[k];
    if (typeof p === 'string' && !p.startsWith('/')) user.user[k] = join(kubeconfigPath(), '..', p);
  }
  const file = join(mkdtempSync(join(os.tmpdir(), 'sco-canary-')), 'kubeconfig');
  writeFileSync(file, stringify(cfg), { mode: 0o600 });
  return file;
}

describe('a canary secret never leaks', () => {
  const ref = resourceRefOf('CertRenewal');
  const lines: string[] = [];
  let admin: KubeClient;
  let client: KubeClient;
  let manager: Manager;
  let ns: string;
  let kubeconfig: string;
  let reconciles = 0;
  let failed = false;

  beforeAll(async () => {
    admin = await testClient();
    await installCrds(admin);
    ns = await createNamespace(admin, 'e2e-canary');
    kubeconfig = canaryKubeconfig();
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    const log = createLogger('trace', sink);
    const metrics = new Metrics({ defaultMetrics: false });
    client = await KubeClient.create({ kubeconfig, log, observer: metrics.clientObserver(), qps: 100, burst: 200 });
    await admin.create(Resources.Secret, {
      metadata: { name: 'db-creds', namespace: ns },
      stringData: { password: canary, uri: `postgres://app:${canary}@db:5432/app` },
    } as KubeObject);
    manager = new Manager({
      client,
      log,
      metrics,
      namespaces: [ns],
      concurrency: 2,
      identity: 'e2e-canary',
      metricsAddr: '127.0.0.1:0',
      healthAddr: '127.0.0.1:0',
      leaderElection: {
        enabled: true,
        namespace: ns,
        name: 'canary-leader',
        identity: 'e2e-canary',
        leaseDurationMs: 15_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 2_000,
      },
    });
    // A careless controller: it logs what it reads and what it writes, puts the password into a child's env, an
    // Event, a condition message, and an error it throws once.
    manager.add({
      name: 'canary',
      for: ref,
      owns: [Resources.Deployment],
      setup: (deps) => {
        const secrets = deps.informer(Resources.Secret);
        const deployments = deps.informer(Resources.Deployment);
        return async (req, ctx) => {
          reconciles++;
          const obj = deps.cache.get(req.namespace, req.name);
          const secret = secrets.get(req.namespace, 'db-creds') as
            (KubeObject & { data?: Record<string, string> }) | undefined;
          if (!obj || !secret?.data?.password) throw new Error('the Secret is not in the cache yet');
          const password = Buffer.from(secret.data.password, 'base64').toString('utf8');
          const uri = `postgres://app:${password}@db.${req.namespace}.svc:5432/app`;
          ctx.log.trace({ object: secret, owner: obj }, 'read the object and its Secret');
          const desired = {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            metadata: { name: `${req.name}-app`, namespace: req.namespace },
            spec: {
              replicas: 0,
              selector: { matchLabels: { app: req.name } },
              template: {
                metadata: { labels: { app: req.name } },
                spec: {
                  containers: [{ name: 'app', image: 'busybox:1.36', env: [{ name: 'DB_PASSWORD', value: password }] }],
                },
              },
            },
          } as KubeObject;
          ctx.log.trace({ desired, uri, connectionString: `host=db password=${password}` }, 'applying the child');
          await deps.applier.child(
            Resources.Deployment,
            desired,
            { obj, ref },
            deployments.get(req.namespace, `${req.name}-app`),
          );
          deps.events.event(obj, 'Warning', 'DatabaseUnreachable', `cannot reach ${uri}; DB_PASSWORD=${password}`);
          const conditions = setCondition(
            [],
            { type: 'Ready', status: 'False', reason: 'DatabaseUnreachable', message: `connect ${uri}: ECONNREFUSED` },
            obj.metadata.generation,
            deps.clock.now(),
          );
          await deps.applier.status(ref, obj, { observedGeneration: obj.metadata.generation, conditions });
          if (!failed) {
            failed = true;
            throw new Error(`could not connect to ${uri}: password authentication failed`);
          }
        };
      },
    });
    await manager.start(() => undefined);
  });

  afterAll(async () => {
    await manager?.stop(1000);
    client?.close();
    if (ns) await deleteNamespace(admin, ns);
    admin?.close();
  });

  test('a reconcile cycle at trace level: no log line, Event, status field or metric label holds it', async () => {
    const sample = readSamples().find((s) => s.kind === 'CertRenewal') as KubeObject;
    await admin.create(ref, { ...sample, metadata: { name: 'leaky', namespace: ns } });
    await eventually('a failed reconcile and a successful retry', async () => failed && reconciles >= 2);
    const obj = await eventually('the status written', async () => {
      const o = await admin.get<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>(
        ref,
        ns,
        'leaky',
      );
      return condition(o, 'Ready') ? o : undefined;
    });
    const child = await admin.get<KubeObject & { spec: { template: { spec: { containers: { env: unknown }[] } } } }>(
      Resources.Deployment,
      ns,
      'leaky-app',
    );
    // The canary really was in the child's env (where the user put it), so the test could have leaked it.
    expect(JSON.stringify(child.spec.template.spec.containers[0]?.env)).toContain(canary);
    const events = await eventually('the Event', async () => {
      const list = await admin.list(Resources.Event, { namespace: ns });
      return list.items.some((e) => (e as { reason?: string }).reason === 'DatabaseUnreachable')
        ? list.items
        : undefined;
    });
    await manager.events.flush();
    const { metrics } = await manager.addresses();
    const scraped = await (await fetch(`http://127.0.0.1:${metrics?.port}/metrics`)).text();

    expect(lines.length).toBeGreaterThan(5);
    expect(lines.filter((l) => leaks(l).length)).toEqual([]);
    // It was logged, redacted: the Secret's data, the child's env value, the URI, the error and its stack.
    const all = lines.join('\n');
    expect(all).toContain('"data":"[REDACTED]"');
    expect(all).toContain('"value":"[REDACTED]"');
    expect(all).toContain('postgres://[REDACTED]@db.');
    expect(all).toContain('"msg":"reconcile failed"');
    expect(lines.some((l) => l.includes('"stack":"Error: could not connect to postgres://[REDACTED]@'))).toBe(true);

    expect(leaks(JSON.stringify(events))).toEqual([]);
    expect(JSON.stringify(events)).toContain('postgres://[REDACTED]@db.');
    expect(leaks(JSON.stringify(obj.status))).toEqual([]);
    expect(condition(obj, 'Ready')).toMatchObject({ message: expect.stringContaining('[REDACTED]') });
    expect(scraped).toContain('controller="canary"');
    expect(leaks(scraped)).toEqual([]);
  });

  test('the operator process started with the canary token in its kubeconfig, at trace level, does not log it', async () => {
    const ns2 = await createNamespace(admin, 'e2e-canary-op');
    try {
      const op = await OperatorProcess.start({
        identity: `canary-${randomBytes(3).toString('hex')}`,
        namespaces: [ns2],
        extraArgs: [`--kubeconfig=${kubeconfig}`, '--log-level=trace'],
      });
      try {
        const sample = readSamples().find((s) => s.kind === 'CertRenewal') as KubeObject;
        await admin.create(ref, { ...sample, metadata: { name: 'c', namespace: ns2 } });
        await eventually('the operator to write status', async () => {
          const o = await admin.get<KubeObject & { status?: { conditions?: { type: string }[] } }>(ref, ns2, 'c');
          return condition(o as never, 'Ready') !== undefined;
        });
        const scraped = await (await fetch(`http://127.0.0.1:${op.metricsPort}/metrics`)).text();
        expect(leaks(scraped)).toEqual([]);
      } finally {
        await op.stop();
      }
      const log = readFileSync(op.logFile, 'utf8');
      expect(log).toContain(kubeconfig); // it did log where its credentials came from
      expect(log).toContain('"msg":"starting"');
      expect(leaks(log)).toEqual([]);
    } finally {
      await deleteNamespace(admin, ns2);
    }
  });
});
