// The pure helpers of the capability: pod failures, Secret problems, a component as its Deployment reports it.
import { describe, expect, test } from '@jest/globals';
import type { SmartCloudOpsAppSpec } from '../../crds/smartcloudopsapp.js';
import type { KubeObject } from '../../kube/index.js';
import type { CachedChild } from '../../runtime/children.js';
import { observeComponent, podDigest, podFailures, secretProblemsOf } from './capability.js';
import { REVISION_LABEL } from './desired.js';

const pod = (name: string, rev: string, cs: Record<string, unknown>) =>
  ({
    metadata: { name, labels: { [REVISION_LABEL]: rev } },
    status: { containerStatuses: [{ name: 'backend', ...cs }] },
  }) as KubeObject;

describe('podFailures', () => {
  test('crash loops and start failures, by revision; healthy and first restarts are not', () => {
    const out = podFailures([
      pod('a', 'r2', { restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } } }),
      pod('b', 'r2', { restartCount: 2, lastState: { terminated: { exitCode: 1 } }, state: { running: {} } }),
      pod('c', 'r2', {
        restartCount: 0,
        state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "x" not found' } },
      }),
      pod('d', 'r1', { restartCount: 1, lastState: { terminated: { exitCode: 1 } }, ready: true }),
      pod('e', 'r1', { restartCount: 5, lastState: { terminated: { exitCode: 0 } }, ready: true }),
    ]);
    expect(out.map((f) => [f.revision, f.reason])).toEqual([
      ['r2', 'CrashLooping'],
      ['r2', 'CrashLooping'],
      ['r2', 'PodsFailing'],
    ]);
    expect(out[1]?.message).toMatch(/pod b is crash-looping \(2 restarts, last exit code 1\)/);
    expect(out[2]?.message).toMatch(/CreateContainerConfigError \(secret "x" not found\)/);
  });
});

describe('podDigest (the Pod cache transform)', () => {
  test('keeps what podFailures and the watch map read, drops the spec and the rest of the status', () => {
    const full = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'shop-backend-x',
        namespace: 'shop',
        uid: 'u1',
        resourceVersion: '42',
        labels: { [REVISION_LABEL]: 'r2', 'app.kubernetes.io/instance': 'shop' },
        deletionTimestamp: '2026-01-01T00:00:00Z',
        annotations: { big: 'x'.repeat(1000) },
        ownerReferences: [{ kind: 'ReplicaSet', name: 'rs' }],
      },
      spec: { containers: [{ name: 'backend', image: 'i', env: [{ name: 'A', value: 'b' }] }] },
      status: {
        phase: 'Running',
        podIP: '10.244.0.9',
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: [
          {
            name: 'backend',
            ready: false,
            restartCount: 3,
            image: 'i',
            imageID: 'sha256:abc',
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } },
            lastState: { terminated: { exitCode: 2, reason: 'Error', startedAt: 't', finishedAt: 't' } },
          },
        ],
      },
    } as unknown as KubeObject;
    const d = podDigest(full);
    expect(d).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'shop-backend-x',
        namespace: 'shop',
        uid: 'u1',
        resourceVersion: '42',
        labels: { [REVISION_LABEL]: 'r2', 'app.kubernetes.io/instance': 'shop' },
        deletionTimestamp: '2026-01-01T00:00:00Z',
      },
      status: {
        phase: 'Running',
        containerStatuses: [
          {
            name: 'backend',
            ready: false,
            restartCount: 3,
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } },
            lastState: { terminated: { exitCode: 2, reason: 'Error' } },
          },
        ],
      },
    });
    // the same verdict from the digest as from the full pod (without its deletionTimestamp)
    const live = { ...full, metadata: { ...full.metadata, deletionTimestamp: undefined } } as KubeObject;
    expect(podFailures([podDigest(live)])).toEqual(podFailures([live]));
    expect(podFailures([podDigest(live)])).toHaveLength(1);
  });
});

describe('secretProblemsOf', () => {
  const spec = {
    database: { secretRef: { name: 'pg' } },
    cache: { secretRef: { name: 'redis' } },
  } as SmartCloudOpsAppSpec;
  test('missing Secrets and Secrets without uri or host are named with their field', () => {
    expect(secretProblemsOf(spec, { database: ['uri'], cache: ['host', 'port'] })).toEqual([]);
    expect(secretProblemsOf(spec, { cache: ['password'] })).toEqual([
      'Secret pg (spec.database.secretRef) not found',
      'Secret redis (spec.cache.secretRef) has neither a "uri" nor a "host" key',
    ]);
  });
});

describe('observeComponent', () => {
  test('replicas from the Deployment (another manager may own them), status counts, deadline condition', () => {
    const d = {
      metadata: { name: 'shop-backend', generation: 4, labels: { [REVISION_LABEL]: 'r1' } },
      spec: { replicas: 3 },
      status: {
        observedGeneration: 4,
        replicas: 3,
        updatedReplicas: 3,
        readyReplicas: 2,
        availableReplicas: 2,
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
      },
    } as CachedChild;
    const c = observeComponent('backend', d, [], (rev) => (rev === 'r1' ? 'reg/b:1' : undefined));
    expect(c).toMatchObject({
      exists: true,
      revision: 'r1',
      image: 'reg/b:1',
      observedCurrent: true,
      replicas: 3,
      availableReplicas: 2,
      progressDeadlineExceeded: true,
    });
    expect(observeComponent('frontend', undefined, [], () => undefined)).toMatchObject({ exists: false, replicas: 0 });
  });
});
