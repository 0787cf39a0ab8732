// The CertRenewal logic as the seam runs it (prepare → status), with in-memory caches and a recording client: a due
// renewal is triggered once (cmctl renew's status patch) and not again while cert-manager has not reacted; AlertOnly
// patches nothing; a new serial restarts the reloadWorkloads with our own field manager; a Certificate that is
// missing does not lead to any probe. The I/O itself is proven in test/e2e/certrenewal.test.ts.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CertFactory, tlsSecret, type Issued } from '../../../test/support/certs.js';
import type { KubeObject, ResourceRef } from '../../kube/index.js';
import type { CapabilityLogic, Observations } from '../../runtime/children-capability.js';
import type { ControllerDeps, InformerSet } from '../../runtime/manager.js';
import { Metrics } from '../../runtime/metrics.js';
import {
  CERT_MANAGER_SECRET_SELECTOR,
  certRenewalCapability,
  type CertExt,
  type CertRenewalOptions,
  NOT_AFTER_METRIC,
} from './capability.js';

const MIN = 60_000;
let now = new Date(Math.floor(Date.now() / 1000) * 1000);
let f: CertFactory;
let ca: Issued;
let leaf: Issued;
let renewed: Issued;

beforeAll(() => {
  f = CertFactory.create();
  ca = f.issue({
    cn: 'ca',
    isCA: true,
    notBefore: new Date(now.getTime() - 60 * MIN),
    notAfter: new Date(now.getTime() + 600 * MIN),
  });
  leaf = f.issue({
    cn: 'web',
    sans: ['DNS:web.test'],
    issuer: ca,
    notBefore: new Date(now.getTime() - 30 * MIN),
    notAfter: new Date(now.getTime() + 30 * MIN),
  });
  renewed = f.issue({
    cn: 'web',
    sans: ['DNS:web.test'],
    issuer: ca,
    notBefore: new Date(now.getTime() - MIN),
    notAfter: new Date(now.getTime() + 59 * MIN),
  });
});
afterAll(() => f.cleanup());

class Store {
  objs = new Map<string, KubeObject>();
  set(o: KubeObject) {
    this.objs.set(`${o.metadata.namespace}/${o.metadata.name}`, o);
  }
  set_(ns: string, name: string, o: KubeObject | undefined) {
    if (o) this.objs.set(`${ns}/${name}`, o);
    else this.objs.delete(`${ns}/${name}`);
  }
  asSet(): InformerSet {
    return {
      get: (ns: string | undefined, name: string) => this.objs.get(`${ns}/${name}`),
      list: (ns?: string) => [...this.objs.values()].filter((o) => ns === undefined || o.metadata.namespace === ns),
      hasSynced: () => true,
    } as unknown as InformerSet;
  }
}

function harness(opts: CertRenewalOptions = {}) {
  const primary = new Store();
  const certs = new Store();
  const cmSecrets = new Store();
  const other = new Store();
  const patches: { ref: string; name: string; body: unknown; o: unknown }[] = [];
  const events: { reason: string; message: string }[] = [];
  const metrics = new Metrics();
  const deps = {
    client: {
      patch: async (ref: ResourceRef, _ns: string, name: string, body: unknown, _t: string, o: unknown) => {
        patches.push({ ref: ref.plural, name, body, o });
        return {};
      },
    },
    applier: { fieldManager: 'smartcloudops-operator' },
    events: { event: (_o: unknown, _t: string, reason: string, message: string) => events.push({ reason, message }) },
    clock: { now: () => now },
    log: { isLevelEnabled: () => false },
    metrics,
    cache: primary.asSet(),
    informer: (ref: ResourceRef, sel?: string) =>
      ref.plural === 'certificates'
        ? certs.asSet()
        : sel === CERT_MANAGER_SECRET_SELECTOR
          ? cmSecrets.asSet()
          : other.asSet(),
    children: () => primary.asSet(),
    watch: async () => undefined,
    enqueue: () => undefined,
    onStop: () => undefined,
  } as unknown as ControllerDeps;
  const probed: string[] = [];
  const cap = certRenewalCapability({
    ...opts,
    probeFn: async (t) => {
      probed.push(t.host);
      return { ok: false, endpoint: t.host, kind: 'Refused', message: 'refused' };
    },
  });
  const logic = cap.bind!(deps) as CapabilityLogic<KubeObject & { spec: never; status?: never }, CertExt>;
  return { primary, certs, cmSecrets, patches, events, metrics, logic, probed };
}

const ctx = { log: { info: () => undefined, debug: () => undefined }, reconcileId: 't' } as never;
const obs = (): Observations => ({
  now,
  applied: [],
  recreated: [],
  deleted: [],
  yielded: [],
  childrenSynced: true,
  childrenHeld: true,
});
const observed = { children: [], of: () => [], get: () => undefined };

function certRenewal(spec: Record<string, unknown>, status?: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'ops.smartcloudops.ai/v1alpha1',
    kind: 'CertRenewal',
    metadata: { name: 'web', namespace: 'prod', uid: 'u1', generation: 1, resourceVersion: '1' },
    spec: { targets: [{ certificateRef: { name: 'web' } }], warnBefore: '5m', ...spec },
    ...(status ? { status } : {}),
  } as KubeObject;
}

function certificate(revision: number, conditions: unknown[] = []): KubeObject {
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: { name: 'web', namespace: 'prod', generation: 1, resourceVersion: `${10 + revision}` },
    spec: { secretName: 'web-tls' },
    status: { revision, conditions: [{ type: 'Ready', status: 'True' }, ...conditions] },
  } as KubeObject;
}

function secret(i: Issued): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'web-tls', namespace: 'prod' },
    ...tlsSecret(i.certPem, i.keyPem),
  } as KubeObject;
}

describe('CertRenewal logic', () => {
  test('a due renewal is triggered once, not again while cert-manager has not reacted', async () => {
    const h = harness();
    const cr = certRenewal({ renewBefore: '40m' });
    h.primary.set(cr);
    h.certs.set(certificate(1));
    h.cmSecrets.set(secret(leaf));
    const ext = await h.logic.prepare!(cr as never, observed, ctx);
    expect(ext.triggered).toEqual(['web']);
    expect(h.patches).toHaveLength(1);
    expect(h.patches[0]).toMatchObject({ ref: 'certificates', name: 'web', o: { subresource: 'status' } });
    expect(JSON.stringify(h.patches[0]!.body)).toContain('ManuallyTriggered');
    expect(h.events.map((e) => e.reason)).toEqual(['RenewalTriggered']);
    const out = h.logic.status(cr as never, observed, obs(), ext);
    expect((out.status.certificates as { renewalsTriggered?: number }[])[0]?.renewalsTriggered).toBe(1);
    expect(out.requeueAfterMs).toBeGreaterThan(0);
    // The cache has not seen cert-manager's reaction: no second trigger.
    now = new Date(now.getTime() + 5_000);
    await h.logic.prepare!(certRenewal({ renewBefore: '40m' }, out.status) as never, observed, ctx);
    expect(h.patches).toHaveLength(1);
    const notAfter = (out.status.certificates as { notAfter: string }[])[0]!.notAfter;
    const text = await h.metrics.registry.getSingleMetricAsString(NOT_AFTER_METRIC);
    expect(text).toContain(`certificate="web"} ${Date.parse(notAfter) / 1000}`);
  });

  test('AlertOnly patches nothing', async () => {
    const h = harness();
    const cr = certRenewal({
      renewBefore: '40m',
      method: 'AlertOnly',
      reloadWorkloads: [{ kind: 'Deployment', name: 'web' }],
    });
    h.primary.set(cr);
    h.certs.set(certificate(1));
    h.cmSecrets.set(secret(leaf));
    const ext = await h.logic.prepare!(cr as never, observed, ctx);
    const out = h.logic.status(cr as never, observed, obs(), ext);
    // A new serial under AlertOnly: still nothing.
    h.cmSecrets.set(secret(renewed));
    await h.logic.prepare!(
      certRenewal(
        { renewBefore: '40m', method: 'AlertOnly', reloadWorkloads: [{ kind: 'Deployment', name: 'web' }] },
        out.status,
      ) as never,
      observed,
      ctx,
    );
    expect(h.patches).toEqual([]);
  });

  test('a new serial restarts the reloadWorkloads with the reload field manager', async () => {
    const h = harness();
    const spec = { renewBefore: '20m', reloadWorkloads: [{ kind: 'Deployment', name: 'web' }] };
    h.certs.set(certificate(1));
    h.cmSecrets.set(secret(leaf));
    const first = h.logic.status(
      certRenewal(spec) as never,
      observed,
      obs(),
      await h.logic.prepare!(certRenewal(spec) as never, observed, ctx),
    );
    expect(first.status.reloadedForSerials).toMatch(/^web=/);
    expect(h.patches).toEqual([]);
    h.certs.set(certificate(2));
    h.cmSecrets.set(secret(renewed));
    const ext = await h.logic.prepare!(certRenewal(spec, first.status) as never, observed, ctx);
    expect(ext.restarted).toBe(true);
    expect(h.patches).toEqual([
      {
        ref: 'deployments',
        name: 'web',
        body: {
          spec: {
            template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': expect.any(String) } } },
          },
        },
        o: { fieldManager: 'smartcloudops-operator-reload' },
      },
    ]);
    const out = h.logic.status(certRenewal(spec, first.status) as never, observed, obs(), ext);
    // Reconciled again from a cache that has not seen our status write: no second restart.
    const again = await h.logic.prepare!(certRenewal(spec, first.status) as never, observed, ctx);
    expect(again.restarted).toBe(false);
    expect(h.patches).toHaveLength(1);
    expect(out.status.reloadedForSerials).toBe(`web=${renewed.serial.replace(/^0+/, '')}`);
  });

  test('a missing Certificate: Ready=False CertificateMissing and no probe of the endpoint', async () => {
    const h = harness();
    const spec = { endpoints: [{ host: '203.0.113.7', port: 443 }] };
    const ext = await h.logic.prepare!(certRenewal(spec) as never, observed, ctx);
    expect(h.probed).toEqual([]);
    expect(ext.results[0]?.error).toMatch(/^NotProbed/);
    const out = h.logic.status(certRenewal(spec) as never, observed, obs(), ext);
    const ready = (out.status.conditions as { type: string; status: string; reason: string }[]).find(
      (c) => c.type === 'Ready',
    );
    expect(ready).toMatchObject({ status: 'False', reason: 'CertificateMissing' });
    // Nothing to look at until the Certificate appears (its event reconciles): no retry loop, a stable status.
    expect(out.requeueAfterMs).toBe(24 * 60 * MIN);
    now = new Date(now.getTime() + 10_000);
    const later = h.logic.status(
      certRenewal(spec) as never,
      observed,
      obs(),
      await h.logic.prepare!(certRenewal(spec) as never, observed, ctx),
    );
    expect(later.status.endpoints).toEqual(out.status.endpoints);
  });
});

test('a renewal due 15 s after issuance (storm guard 15 s): requeued for that time, triggered then', async () => {
  const start = new Date(Math.floor(Date.now() / 1000) * 1000);
  const fresh = f.issue({
    cn: 'web',
    sans: ['DNS:web.test'],
    issuer: ca,
    notBefore: start,
    notAfter: new Date(start.getTime() + 60 * MIN),
  });
  now = new Date(start.getTime() + 5_000);
  const h = harness({ policy: { minCertAgeMs: 15_000 } });
  const spec = { renewBefore: '59m45s' };
  h.certs.set(certificate(2));
  h.cmSecrets.set(secret(fresh));
  const ext = await h.logic.prepare!(certRenewal(spec) as never, observed, ctx);
  const out = h.logic.status(certRenewal(spec) as never, observed, obs(), ext);
  expect(h.patches).toEqual([]);
  expect(out.requeueAfterMs).toBe(10_000);
  now = new Date(start.getTime() + 15_000);
  const ext2 = await h.logic.prepare!(certRenewal(spec, out.status) as never, observed, ctx);
  expect(ext2.triggered).toEqual(['web']);
});

test('escalation: one RenewalEscalated Event although the cached status lags behind our write', async () => {
  now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const h = harness();
  const failed = {
    ...certificate(1, [{ type: 'Issuing', status: 'False', reason: 'Failed' }]),
  } as KubeObject & { status: Record<string, unknown> };
  failed.status = { ...failed.status, failedIssuanceAttempts: 1, lastFailureTime: now.toISOString() };
  h.certs.set(failed);
  h.cmSecrets.set(secret(leaf)); // 30 min left: a 1h retry comes too late
  const cr = certRenewal({ renewBefore: '40m' });
  const reasons: string[] = [];
  for (let i = 0; i < 3; i++) {
    const ext = await h.logic.prepare!(cr as never, observed, ctx); // the same stale object each time
    const out = h.logic.status(cr as never, observed, obs(), ext);
    if (out.event) reasons.push(out.event.reason);
    const renewing = (out.status.conditions as { type: string; reason: string }[]).find((c) => c.type === 'Renewing');
    expect(renewing?.reason).toBe('BackoffPastExpiry');
  }
  expect(reasons).toEqual(['RenewalEscalated']);
  expect(h.patches).toEqual([]); // in backoff: no trigger
});
