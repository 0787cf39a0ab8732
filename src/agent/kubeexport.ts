// The config part: a namespace's ConfigMaps (and, encrypted, its Secrets) as one YAML stream ("---"-separated
// documents, ready for `kubectl apply -f`), produced page by page as client-go's pager does (limit + continue, at
// most PAGE_SIZE objects in memory: ConfigMaps and Secrets are at most 1 MiB each). The client is src/kube's: the
// pod's service account in-cluster, or KUBECONFIG outside. Each object keeps what recreating it needs — apiVersion,
// kind, name, namespace, labels, annotations, data, binaryData, immutable, and a Secret's type — and drops what the
// server assigns (uid, resourceVersion, creationTimestamp, managedFields, generation, ownerReferences: their uids
// would not exist after a restore). Left out because the cluster makes them itself: the `kube-root-ca.crt`
// ConfigMap (published into every namespace) and service-account token Secrets.
import { Readable } from 'node:stream';
import { stringify } from 'yaml';
import { KubeApiError, KubeTransportError, Resources, resourcePath } from '../kube/index.js';
import type { KubeList, KubeObject, KubeClient } from '../kube/index.js';
import { AgentFailure } from './errors.js';

export const PAGE_SIZE = 16;

export type ExportKind = 'ConfigMap' | 'Secret';

export interface ExportStats {
  items: number;
  skipped: number;
}

interface Exported extends KubeObject {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  immutable?: boolean;
  type?: string;
}

const SKIP: Record<ExportKind, (o: Exported) => boolean> = {
  ConfigMap: (o) => o.metadata.name === 'kube-root-ca.crt',
  Secret: (o) => o.type === 'kubernetes.io/service-account-token',
};

/** What is kept of one object (pure). */
export function exportable(kind: ExportKind, o: Exported): Record<string, unknown> {
  const m = o.metadata;
  const out: Record<string, unknown> = {
    apiVersion: 'v1',
    kind,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      ...(m.labels && Object.keys(m.labels).length ? { labels: m.labels } : {}),
      ...(m.annotations && Object.keys(m.annotations).length ? { annotations: m.annotations } : {}),
    },
  };
  if (kind === 'Secret' && o.type) out.type = o.type;
  if (o.immutable !== undefined) out.immutable = o.immutable;
  if (o.data) out.data = o.data;
  if (o.binaryData) out.binaryData = o.binaryData;
  return out;
}

export function kubeFailure(err: unknown, what: string): AgentFailure {
  if (err instanceof AgentFailure) return err;
  if (err instanceof KubeApiError) {
    if (err.code === 403 || err.code === 401) {
      return new AgentFailure('ConfigAccessDenied', `${what}: ${err.code} ${err.reason}: ${err.status.message ?? ''}`);
    }
    return new AgentFailure('ConfigExportFailed', `${what}: ${err.message}`, { cause: err });
  }
  if (err instanceof KubeTransportError) {
    return new AgentFailure('ConfigExportFailed', `${what}: ${err.message}`, { cause: err });
  }
  return new AgentFailure('ConfigExportFailed', `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/**
 * Before anything is written: NamespaceNotFound when the namespace does not exist (a listing there would be empty,
 * not an error), ConfigAccessDenied when the credentials may not list each of `kinds` there (one item asked for).
 */
export async function checkAccess(
  client: KubeClient,
  namespace: string,
  kinds: ExportKind[],
  signal?: AbortSignal,
): Promise<void> {
  await checkNamespace(client, namespace, signal);
  for (const kind of kinds) {
    const ref = kind === 'ConfigMap' ? Resources.ConfigMap : Resources.Secret;
    try {
      await client.request('GET', resourcePath(ref, namespace), {
        verb: 'list',
        query: { limit: 1 },
        discardBody: true,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      throw kubeFailure(err, `listing ${ref.plural} in "${namespace}"`);
    }
  }
}

async function checkNamespace(client: KubeClient, namespace: string, signal?: AbortSignal): Promise<void> {
  try {
    await client.request('GET', resourcePath(Resources.Namespace, undefined, namespace), {
      verb: 'get',
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    if (err instanceof KubeApiError && err.code === 404) {
      throw new AgentFailure('NamespaceNotFound', `namespace "${namespace}" does not exist`);
    }
    // A service account allowed to list ConfigMaps but not to read its namespace: the listing decides.
    if (err instanceof KubeApiError && err.code === 403) return;
    throw kubeFailure(err, `reading namespace "${namespace}"`);
  }
}

async function* documents(
  client: KubeClient,
  kind: ExportKind,
  namespace: string,
  stats: ExportStats,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  const ref = kind === 'ConfigMap' ? Resources.ConfigMap : Resources.Secret;
  const path = resourcePath(ref, namespace);
  let cont: string | undefined;
  do {
    let page: KubeList<Exported>;
    try {
      page = await client.request<KubeList<Exported>>('GET', path, {
        verb: 'list',
        query: { limit: PAGE_SIZE, continue: cont },
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      throw kubeFailure(err, `listing ${ref.plural} in "${namespace}"`);
    }
    for (const item of page.items) {
      if (SKIP[kind](item)) {
        stats.skipped++;
        continue;
      }
      stats.items++;
      yield Buffer.from(`---\n${stringify(exportable(kind, item), { lineWidth: 0 })}`, 'utf8');
    }
    page.items.length = 0;
    cont = page.metadata?.continue || undefined;
  } while (cont);
}

/** The YAML stream of every exported object of `kind` in `namespace`; `stats` fills in as it is read. */
export function exportObjects(
  client: KubeClient,
  kind: ExportKind,
  namespace: string,
  stats: ExportStats,
  signal?: AbortSignal,
): Readable {
  return Readable.from(documents(client, kind, namespace, stats, signal), { objectMode: false });
}
