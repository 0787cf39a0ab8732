// The Secrets a BackupSchedule references (the destination's credentials, the database connection), read by a
// background runner with `get` only — the operator has no list/watch on Secrets (a watch could not be limited to the
// referenced names: RBAC cannot name them in advance). Like a controller-runtime source.Channel: the runner GETs each
// referenced Secret when it is first wanted and then every `periodMs`, each GET bounded by a timeout, and enqueues the
// schedules that reference a Secret whose existence or resourceVersion changed; reconciles read its snapshot and never
// call the API. Secret data stays in memory only (never logged, never copied into a spec or status).
import { isNotFound, Resources, type KubeClient, type KubeObject } from '../../kube/index.js';

export interface SecretSnapshot {
  /** The Secret, or null when it does not exist; undefined while unknown (not read yet, or the read failed). */
  secret?: (KubeObject & { data?: Record<string, string> }) | null;
  error?: string;
}

interface Entry extends SecretSnapshot {
  owners: Set<string>;
  rv?: string | null;
  inflight?: Promise<void>;
}

export interface SecretRunnerDeps {
  client: Pick<KubeClient, 'get'>;
  enqueue(key: string): void;
  periodMs?: number;
  timeoutMs?: number;
}

export class SecretRunner {
  private readonly entries = new Map<string, Entry>();
  private timer?: NodeJS.Timeout;
  private readonly periodMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly deps: SecretRunnerDeps) {
    this.periodMs = deps.periodMs ?? 30_000;
    this.timeoutMs = deps.timeoutMs ?? 5_000;
  }

  /**
   * The snapshot of namespace/name for the schedule `owner` (namespace/name), which is enqueued when it changes. The
   * first call for a Secret waits for its first read (bounded by the timeout).
   */
  async want(namespace: string, name: string, owner: string): Promise<SecretSnapshot> {
    const k = `${namespace}/${name}`;
    let e = this.entries.get(k);
    if (!e) {
      e = { owners: new Set() };
      this.entries.set(k, e);
      e.inflight = this.read(namespace, name, e);
      this.start();
    }
    e.owners.add(owner);
    if (e.inflight) await e.inflight;
    return { ...(e.secret !== undefined ? { secret: e.secret } : {}), ...(e.error ? { error: e.error } : {}) };
  }

  /** The schedule is gone (or no longer references these): drop what only it wanted. */
  forget(owner: string, keep: string[] = []): void {
    for (const [k, e] of this.entries) {
      if (keep.includes(k)) continue;
      e.owners.delete(owner);
      if (e.owners.size === 0) this.entries.delete(k);
    }
    if (this.entries.size === 0) this.stop();
  }

  private start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      for (const [k, e] of this.entries) {
        if (e.inflight) continue;
        const [ns, name] = k.split('/') as [string, string];
        e.inflight = this.read(ns, name, e);
      }
    }, this.periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async read(namespace: string, name: string, e: Entry): Promise<void> {
    let timeout: NodeJS.Timeout | undefined;
    try {
      const got = await Promise.race([
        this.deps.client.get<KubeObject & { data?: Record<string, string> }>(Resources.Secret, namespace, name),
        new Promise<never>((_, reject) => {
          timeout = setTimeout(() => reject(new Error(`reading Secret ${name} timed out`)), this.timeoutMs);
        }),
      ]);
      this.settle(e, got, got.metadata.resourceVersion ?? '');
    } catch (err) {
      if (isNotFound(err)) this.settle(e, null, null);
      else e.error = (err as Error).message.slice(0, 300); // the last known state is kept
    } finally {
      clearTimeout(timeout);
      e.inflight = undefined;
    }
  }

  private settle(e: Entry, secret: Entry['secret'], rv: string | null): void {
    // The first read is awaited by whoever wanted it: only later changes enqueue.
    const changed = e.rv !== undefined && e.rv !== rv;
    e.secret = secret;
    e.rv = rv;
    e.error = undefined;
    if (changed) this.notify(e);
  }

  private notify(e: Entry): void {
    for (const o of e.owners) this.deps.enqueue(o);
  }
}
