// The Secret runner with a fake client: first read awaited, later changes enqueue the owners, a missing Secret is
// null, a failed read keeps the last state, forget drops what nobody wants.
import { afterEach, describe, expect, test } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeApiError, type KubeObject } from '../../kube/index.js';
import { SecretRunner } from './secrets.js';

let runner: SecretRunner | undefined;
afterEach(() => runner?.stop());

function fake() {
  const objects = new Map<string, KubeObject>();
  let fail = false;
  let gets = 0;
  const client = {
    get: async <T extends KubeObject>(_ref: unknown, ns: string | undefined, name: string): Promise<T> => {
      gets++;
      if (fail) throw new Error('connection refused');
      const o = objects.get(`${ns}/${name}`);
      if (!o) throw new KubeApiError('GET', `/api/v1/namespaces/${ns}/secrets/${name}`, 404, { reason: 'NotFound' });
      return o as T;
    },
  };
  return {
    client,
    put: (name: string, rv: string) =>
      objects.set(`ns/${name}`, {
        metadata: { name, namespace: 'ns', resourceVersion: rv },
        data: { k: 'dg==' },
      } as KubeObject),
    del: (name: string) => objects.delete(`ns/${name}`),
    failing: (f: boolean) => (fail = f),
    gets: () => gets,
  };
}

describe('SecretRunner', () => {
  test('reads once when wanted, then enqueues the owners on a change only', async () => {
    const f = fake();
    const enqueued: string[] = [];
    runner = new SecretRunner({ client: f.client as never, enqueue: (k) => enqueued.push(k), periodMs: 20 });
    expect((await runner.want('ns', 'creds', 'ns/a')).secret).toBeNull();
    expect(enqueued).toEqual([]); // the first read is awaited, not announced
    f.put('creds', '1');
    await sleep(80);
    expect(enqueued).toEqual(['ns/a']);
    expect((await runner.want('ns', 'creds', 'ns/a')).secret?.metadata.resourceVersion).toBe('1');
    await sleep(80);
    expect(enqueued).toEqual(['ns/a']); // unchanged: nothing more
    f.failing(true);
    await sleep(80);
    const snap = await runner.want('ns', 'creds', 'ns/a');
    expect(snap.secret?.metadata.resourceVersion).toBe('1'); // the last known state is kept
    expect(snap.error).toMatch(/refused/);
    f.failing(false);
    f.del('creds');
    await sleep(80);
    expect(enqueued).toEqual(['ns/a', 'ns/a']);
    runner.forget('ns/a');
    const before = f.gets();
    await sleep(80);
    expect(f.gets()).toBe(before); // nobody wants it: no more reads
  });
});
