// Helpers shared by the benchmarks: a bounded pool, fresh namespaces, metrics scraping.
import { readFileSync } from 'node:fs';
import { isAlreadyExists, Resources, type KubeClient } from '../src/kube/index.js';
import { scrape as scrapeUrl } from '../test/support/prom.js';

export async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < items.length) await fn(items[i++] as T);
    }),
  );
}

export async function deleteNamespaceAndWait(client: KubeClient, name: string): Promise<void> {
  try {
    await client.delete(Resources.Namespace, undefined, name);
    for (;;) {
      await client.get(Resources.Namespace, undefined, name);
      await new Promise((r) => setTimeout(r, 500));
    }
  } catch {
    /* gone */
  }
}

export async function freshNamespace(client: KubeClient, name: string): Promise<void> {
  await deleteNamespaceAndWait(client, name);
  await client.create(Resources.Namespace, { metadata: { name } }).catch((e: unknown) => {
    if (!isAlreadyExists(e)) throw e;
  });
  for (;;) {
    try {
      await client.get(Resources.ServiceAccount, name, 'default');
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export const scrape = (port: number) => scrapeUrl(`http://127.0.0.1:${port}/metrics`);

export const sum = (m: Map<string, number>, name: string, match: (labels: string) => boolean = () => true) =>
  [...m].filter(([k]) => k.startsWith(`${name}{`) && match(k)).reduce((s, [, v]) => s + v, 0);

/** GET and LIST requests the process made, from its own counters. */
export const readsOf = (m: Map<string, number>) =>
  sum(m, 'smartcloudops_kube_requests_total', (k) => k.includes('verb="get"') || k.includes('verb="list"'));

/** Peak resident set (VmHWM) of a process, in MiB. */
export const peakRssMiB = (pid: number) =>
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

/**
 * The operator's read count (GET + LIST) once its caches synced: sampled as soon as /readyz turns 200, so that reads
 * per reconcile exclude the initial lists. `value` stays -1 until then.
 */
export function readsAtSync(healthPort: number, metricsPort: number): { value: number } {
  const out = { value: -1 };
  void (async () => {
    for (;;) {
      try {
        const r = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
        if (r.status === 200) {
          out.value = readsOf(await scrape(metricsPort));
          return;
        }
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return out;
}
