// Helpers for e2e tests against a real API server.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { isNotFound, KubeClient, Resources, type KubeObject } from '../../src/kube/index.js';
import { kubeconfigPath } from './env.js';

export async function testClient(): Promise<KubeClient> {
  return KubeClient.create({ kubeconfig: kubeconfigPath(), userAgent: 'smartcloudops-e2e', qps: 200, burst: 400 });
}

/** Polls until `check` returns a value other than undefined/false; the timeout error includes the last state. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  { timeoutMs = 60_000, intervalMs = 250 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() - start > timeoutMs) {
      throw new Error(
        `timed out after ${timeoutMs}ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
      );
    }
    await sleep(intervalMs);
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export async function createNamespace(client: KubeClient, prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  await client.create(Resources.Namespace, { metadata: { name, labels: { 'smartcloudops.ai/e2e': 'true' } } });
  // Pods are rejected until the service-account controller created `default` in the namespace.
  await eventually(`ServiceAccount default in ${name}`, () =>
    client.get(Resources.ServiceAccount, name, 'default').then(() => true),
  );
  return name;
}

export async function deleteNamespace(client: KubeClient, name: string): Promise<void> {
  try {
    await client.delete(Resources.Namespace, undefined, name, { propagationPolicy: 'Background' });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

export function condition(
  obj: KubeObject & { status?: { conditions?: { type: string; status: string }[] } },
  type: string,
) {
  return obj.status?.conditions?.find((c) => c.type === type);
}
