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

describe('EventRecorder memory and names', () => {
  test('its caches stay bounded over many distinct objects (LRU), and recent objects keep their state', async () => {
    let mono = 0;
    const { client, calls } = fakeClient();
    const r = new EventRecorder({
      client,
      component: 'test',
      instance: 'i',
      log: createLogger('silent'),
      clock: { now: () => new Date('2026-01-01T00:00:00Z'), monotonic: () => mono },
      cacheSize: 500,
    });
    for (let i = 0; i < 20_000; i++) {
      mono += 1;
      r.event({ ...obj, metadata: { name: `o-${i}`, namespace: 'prod', uid: `u-${i}` } }, 'Normal', 'Tick', 'm');
      if (i % 1000 === 0) await r.flush();
    }
    await r.flush();
    expect(calls).toHaveLength(20_000);
    expect(r.cacheEntries).toEqual({ aggregation: 500, spamFilter: 500 });
    // The most recent object is still aggregated: a repeat bumps its count instead of creating an Event.
    r.event({ ...obj, metadata: { name: 'o-19999', namespace: 'prod', uid: 'u-19999' } }, 'Normal', 'Tick', 'm');
    await r.flush();
    expect(calls.at(-1)).toMatchObject({ op: 'patch', body: { count: 2 } });
  });

  test('Event names stay valid and at most 253 characters for long object names', async () => {
    const { client, calls } = fakeClient();
    const r = recorder(client, () => 0);
    const names = ['a'.repeat(253), `${'b'.repeat(230)}-.${'c'.repeat(22)}`, 'short'];
    for (const name of names) r.event({ ...obj, metadata: { name, namespace: 'prod', uid: name } }, 'Normal', 'X', 'm');
    await r.flush();
    expect(calls).toHaveLength(3);
    for (const c of calls) {
      expect(c.name.length).toBeLessThanOrEqual(253);
      expect(c.name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      expect(c.name).not.toMatch(/[-.]\./);
    }
    expect(calls[0]?.name.startsWith('a'.repeat(200))).toBe(true);
    expect(calls[2]?.name).toMatch(/^short\.[0-9a-f]+$/);
  });

  test('messages pass the redaction filter', async () => {
    const { client, calls } = fakeClient();
    const r = recorder(client, () => 0);
    r.event(obj, 'Warning', 'BackupFailed', 'pg_dump: connection to postgres://app:hunter2@db:5432/app failed');
    await r.flush();
    expect((calls[0]?.body as { message: string }).message).toBe(
      'pg_dump: connection to postgres://[REDACTED]@db:5432/app failed',
    );
  });
});
