import { describe, expect, test } from '@jest/globals';
import type { KubeClient, KubeObject } from '../kube/index.js';
import { EventRecorder } from './events.js';
import { createLogger } from './logger.js';

// A recording stand-in for the two client calls the recorder makes (the real API is exercised in e2e).
function fakeClient() {
  const calls: { op: string; name: string; body: Record<string, unknown> }[] = [];
  const client = {
    create: async (_ref: unknown, obj: KubeObject) => {
      calls.push({ op: 'create', name: obj.metadata.name as string, body: obj as unknown as Record<string, unknown> });
      return obj;
    },
    patch: async (_ref: unknown, _ns: string, name: string, body: Record<string, unknown>) => {
      calls.push({ op: 'patch', name, body });
      return {};
    },
  };
  return { client: client as unknown as KubeClient, calls };
}

const recorder = (client: KubeClient, mono: () => number) =>
  new EventRecorder({
    client,
    component: 'test',
    instance: 'i',
    log: createLogger('silent'),
    clock: { now: () => new Date('2026-01-01T00:00:00Z'), monotonic: mono },
  });

const obj: KubeObject = {
  apiVersion: 'ops.smartcloudops.ai/v1alpha1',
  kind: 'BackupSchedule',
  metadata: { name: 'nightly', namespace: 'prod', uid: 'u-1' },
};

describe('EventRecorder', () => {
  test('the same event within the window bumps the count of the first one', async () => {
    let mono = 0;
    const { client, calls } = fakeClient();
    const r = recorder(client, () => mono);
    r.event(obj, 'Warning', 'InvalidSpec', 'spec.schedule: bad');
    await r.flush();
    mono += 1000;
    r.event(obj, 'Warning', 'InvalidSpec', 'spec.schedule: bad');
    await r.flush();
    r.event(obj, 'Warning', 'InvalidSpec', 'spec.schedule: other');
    await r.flush();
    expect(calls.map((c) => c.op)).toEqual(['create', 'patch', 'create']);
    expect(calls[1]).toMatchObject({ name: calls[0]?.name, body: { count: 2 } });
    expect(calls[0]?.body).toMatchObject({
      type: 'Warning',
      reason: 'InvalidSpec',
      involvedObject: { kind: 'BackupSchedule', name: 'nightly', namespace: 'prod', uid: 'u-1' },
      metadata: { namespace: 'prod' },
    });
    mono += 11 * 60_000; // past the aggregation window: a new Event
    r.event(obj, 'Warning', 'InvalidSpec', 'spec.schedule: bad');
    await r.flush();
    expect(calls.at(-1)?.op).toBe('create');
  });

  test('a burst beyond 25 per object is dropped, then one per refill period passes', async () => {
    let mono = 0;
    const { client, calls } = fakeClient();
    const r = recorder(client, () => mono);
    for (let i = 0; i < 40; i++) r.event(obj, 'Normal', 'Tick', `message ${i}`);
    await r.flush();
    expect(calls).toHaveLength(25);
    mono += 5 * 60_000;
    r.event(obj, 'Normal', 'Tick', 'after refill');
    r.event(obj, 'Normal', 'Tick', 'too soon');
    await r.flush();
    expect(calls.map((c) => (c.body as { message?: string }).message).slice(25)).toEqual(['after refill']);
  });
});
