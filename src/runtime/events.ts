// Kubernetes Events (core/v1) with client-go's spam protection:
// - the same (object, type, reason, message) within 10 minutes bumps the count of the existing Event instead of
//   creating a new one;
// - each object gets a token bucket (burst 25, then one Event per 5 minutes); the rest are dropped and counted.
// - both states live in LRU caches of at most 4,096 entries each (client-go's events_cache.go maxLruCacheEntries),
//   so memory stays bounded however many distinct objects get Events; an evicted object starts afresh;
// - Event names are `<object name>.<hex time><random>` (client-go: `%v.%x` of the name and UnixNano), with the
//   object name cut so the whole stays a valid name of at most 253 characters;
// - messages pass the log redaction filter (redactText): Events are readable by anyone who can read the namespace.
// Writes happen in the background: recording an Event never blocks or fails a reconcile.
import { randomBytes } from 'node:crypto';
import { Resources, type KubeClient, type KubeObject } from '../kube/index.js';
import type { Clock } from './clock.js';
import { rfc3339, systemClock } from './clock.js';
import { redactText, type Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  client: KubeClient;
  component: string;
  instance: string;
  log: Logger;
  metrics?: Metrics;
  clock?: Clock;
  aggregateWindowMs?: number;
  burst?: number;
  refillMs?: number;
  /** Entries per LRU cache (aggregation state, spam-filter buckets). */
  cacheSize?: number;
}

/** A Map bounded to `max` entries that evicts the least recently used one. */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();
  constructor(readonly max: number) {}
  get(k: K): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: K, v: V): void {
    this.map.delete(k);
    this.map.set(k, v);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }
  get size(): number {
    return this.map.size;
  }
}

const MAX_NAME = 253;

/** `<object name>.<suffix>`, the object name cut (at an alphanumeric) so the result has at most 253 characters. */
export function eventName(objectName: string, suffix: string): string {
  const room = MAX_NAME - suffix.length - 1;
  let base = objectName.slice(0, room);
  if (base.length < objectName.length) base = base.replace(/[^a-z0-9]+$/, '');
  return `${base || 'object'}.${suffix}`;
}

interface Seen {
  eventName: string;
  namespace: string;
  count: number;
  at: number;
}

export class EventRecorder {
  private readonly seen: LruMap<string, Seen>;
  private readonly buckets: LruMap<string, { tokens: number; last: number }>;
  private readonly pending = new Set<Promise<void>>();
  private readonly clock: Clock;
  private readonly window: number;
  private readonly burst: number;
  private readonly refillMs: number;

  constructor(private readonly o: EventRecorderOptions) {
    this.clock = o.clock ?? systemClock;
    this.window = o.aggregateWindowMs ?? 10 * 60_000;
    this.burst = o.burst ?? 25;
    this.refillMs = o.refillMs ?? 5 * 60_000;
    this.seen = new LruMap(o.cacheSize ?? 4096);
    this.buckets = new LruMap(o.cacheSize ?? 4096);
  }

  /** Entries held in the aggregation and spam-filter caches (each at most `cacheSize`). */
  get cacheEntries(): { aggregation: number; spamFilter: number } {
    return { aggregation: this.seen.size, spamFilter: this.buckets.size };
  }

  event(obj: KubeObject, type: EventType, reason: string, message: string): void {
    const uid = obj.metadata.uid ?? `${obj.metadata.namespace}/${obj.metadata.name}`;
    if (!this.allow(uid)) {
      this.o.metrics?.eventsSuppressed.inc({ reason });
      return;
    }
    const p = this.write(obj, uid, type, reason, redactText(message).slice(0, 1024))
      .catch((err: unknown) => {
        this.o.log.warn({ err: (err as Error).message, reason, object: obj.metadata.name }, 'could not record event');
      })
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Waits for Events in flight (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  private allow(uid: string): boolean {
    const now = this.clock.monotonic();
    const b = this.buckets.get(uid) ?? { tokens: this.burst, last: now };
    b.tokens = Math.min(this.burst, b.tokens + (now - b.last) / this.refillMs);
    b.last = now;
    this.buckets.set(uid, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private async write(obj: KubeObject, uid: string, type: EventType, reason: string, message: string): Promise<void> {
    const namespace = obj.metadata.namespace ?? 'default';
    const key = `${uid}\u0000${type}\u0000${reason}\u0000${message}`;
    const nowMono = this.clock.monotonic();
    const now = rfc3339(this.clock.now());
    const prev = this.seen.get(key);
    if (prev && nowMono - prev.at < this.window) {
      prev.count += 1;
      prev.at = nowMono;
      await this.o.client.patch(
        Resources.Event,
        prev.namespace,
        prev.eventName,
        { count: prev.count, lastTimestamp: now },
        'merge',
      );
      this.o.metrics?.eventsEmitted.inc({ type, reason });
      return;
    }
    const name = eventName(
      obj.metadata.name ?? 'object',
      `${(BigInt(this.clock.now().getTime()) * 1_000_000n).toString(16)}${randomBytes(2).toString('hex')}`,
    );
    await this.o.client.create(Resources.Event, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name,
        namespace: obj.metadata.namespace,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: this.o.component },
      reportingComponent: this.o.component,
      reportingInstance: this.o.instance,
    } as KubeObject);
    this.seen.set(key, { eventName: name, namespace, count: 1, at: nowMono });
    this.o.metrics?.eventsEmitted.inc({ type, reason });
  }
}
