// Pure judgements of backup runs: what is in S3 under this schedule's folder (a backup is verified when its manifest
// is valid and its dump object has the manifest's size), whether a finished Job produced a verified backup (the
// Job's exit code alone never makes a success), and why a run failed (the agent's JSON result line, kept by the
// kubelet as the container's termination message; else its exit code's class; else the Job's own condition).
import { EXIT_CODES } from '../../agent/errors.js';
import { parseBackupKey } from '../../agent/layout.js';
import type { Manifest } from '../../agent/manifest.js';
import type { KubeObject } from '../../kube/index.js';
import { ANN_SCHEDULED_AT, ANN_TRIGGER, LABEL_RUN, type Trigger } from './job.js';

export interface ListedObject {
  key: string;
  size: number;
}

/** One run's objects under the folder, by run id. */
export interface StoredBackup {
  runId: string;
  startedAt: Date;
  /** The run's dump (`.sql.gz` / `.dump`), when listed. */
  dumpKey?: string;
  dumpSize?: number;
  /** Every object of the run besides its manifest (the dump and the parts: config, secrets, data), key → size. */
  objects?: Record<string, number>;
  manifestKey?: string;
  manifest?: Manifest;
  /** Why the manifest is not usable (unreadable, invalid). */
  manifestError?: string;
}

export type Verdict =
  | { ok: true }
  | { ok: false; reason: 'ManifestMissing' | 'ManifestInvalid' | 'ObjectNotFound' | 'SizeMismatch'; message: string };

/** The objects a manifest vouches for: each of its parts, or (a manifest from before parts) its dump. */
export function manifestObjects(m: Manifest): { name: string; key: string; size: number }[] {
  if (m.parts?.length) return m.parts.map((p) => ({ name: p.name, key: p.key, size: p.size }));
  return m.key && m.size !== undefined ? [{ name: 'database', key: m.key, size: m.size }] : [];
}

/** The run's objects besides its manifest (key → size), from `objects` or the dump fields alone. */
export function runObjects(b: StoredBackup): Record<string, number> {
  if (b.objects) return b.objects;
  return b.dumpKey !== undefined && b.dumpSize !== undefined ? { [b.dumpKey]: b.dumpSize } : {};
}

/**
 * A stored backup is verified when its manifest is valid and every object it names (each part: the dump, config,
 * secrets, data volumes) is there with the manifest's size.
 */
export function verdictOf(b: StoredBackup | undefined): Verdict {
  if (!b?.manifestKey) return { ok: false, reason: 'ManifestMissing', message: 'no manifest was written for this run' };
  if (!b.manifest) {
    return { ok: false, reason: 'ManifestInvalid', message: b.manifestError ?? `manifest ${b.manifestKey} is invalid` };
  }
  const named = manifestObjects(b.manifest);
  if (!named.length) {
    return { ok: false, reason: 'ManifestInvalid', message: `manifest ${b.manifestKey} names no object` };
  }
  const have = runObjects(b);
  for (const o of named) {
    const size = Object.hasOwn(have, o.key) ? have[o.key] : undefined;
    if (size === undefined) {
      return {
        ok: false,
        reason: 'ObjectNotFound',
        message: `the ${o.name} object ${o.key} named by the manifest is missing`,
      };
    }
    if (size !== o.size) {
      return {
        ok: false,
        reason: 'SizeMismatch',
        message: `the ${o.name} object ${o.key} has ${size} bytes, its manifest says ${o.size}`,
      };
    }
  }
  return { ok: true };
}

/** Groups a folder's listing by run (only keys of the agent's layout; anything else is ignored). */
export function groupByRun(objects: ListedObject[]): Map<string, StoredBackup> {
  const out = new Map<string, StoredBackup>();
  for (const o of objects) {
    const k = parseBackupKey(o.key);
    if (!k) continue;
    const id = `${k.startedAt.getTime()}/${k.runId}`;
    const b = out.get(id) ?? { runId: k.runId, startedAt: k.startedAt };
    if (k.kind === 'manifest') b.manifestKey = o.key;
    else {
      b.objects = { ...b.objects, [o.key]: o.size };
      if (k.kind === 'dump') {
        b.dumpKey = o.key;
        b.dumpSize = o.size;
      }
    }
    out.set(id, b);
  }
  return out;
}

// --- Jobs --------------------------------------------------------------------------------------------------------

export interface JobCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}
export interface JobLike extends KubeObject {
  spec?: { activeDeadlineSeconds?: number };
  status?: {
    active?: number;
    succeeded?: number;
    failed?: number;
    startTime?: string;
    completionTime?: string;
    conditions?: JobCondition[];
  };
}
export interface PodLike extends KubeObject {
  status?: {
    containerStatuses?: {
      name: string;
      state?: { terminated?: { exitCode: number; reason?: string; message?: string } };
    }[];
  };
}

export type JobPhase = 'Active' | 'Complete' | 'Failed';

export function jobPhase(job: JobLike): JobPhase {
  const c = job.status?.conditions ?? [];
  if (c.some((x) => x.type === 'Complete' && x.status === 'True')) return 'Complete';
  if (c.some((x) => x.type === 'Failed' && x.status === 'True')) return 'Failed';
  return 'Active';
}

export function jobRun(job: JobLike): { runId: string; scheduledAt?: Date; trigger: Trigger } {
  const at = job.metadata.annotations?.[ANN_SCHEDULED_AT];
  const d = at ? new Date(at) : undefined;
  return {
    runId: job.metadata.labels?.[LABEL_RUN] ?? '',
    ...(d && !Number.isNaN(d.getTime()) ? { scheduledAt: d } : {}),
    trigger: (job.metadata.annotations?.[ANN_TRIGGER] as Trigger | undefined) ?? 'Schedule',
  };
}

export function finishedAt(job: JobLike): string | undefined {
  if (job.status?.completionTime) return job.status.completionTime;
  const c = (job.status?.conditions ?? []).find(
    (x) => (x.type === 'Failed' || x.type === 'Complete') && x.status === 'True',
  );
  return c?.lastTransitionTime;
}

const CLASS_OF_EXIT = new Map<number, string>(Object.entries(EXIT_CODES).map(([k, v]) => [v, k]));

/** The agent's result line in a termination message (the log tail: the last line that parses as the result). */
export function resultLine(message: string | undefined): { reason?: string; message?: string } | undefined {
  if (!message) return undefined;
  const lines = message.split('\n').reverse();
  for (const l of lines) {
    const t = l.trim();
    if (!t.startsWith('{')) continue;
    try {
      const v = JSON.parse(t) as Record<string, unknown>;
      if (v.result === 'Failed' && typeof v.reason === 'string') {
        return { reason: v.reason, ...(typeof v.message === 'string' ? { message: v.message } : {}) };
      }
    } catch {
      // a log line cut at the front (the kubelet keeps the last 2,048 bytes): keep looking
    }
  }
  return undefined;
}

/** Why a failed Job failed. */
export function failureOf(job: JobLike, pods: PodLike[]): { reason: string; message: string } {
  const cond = (job.status?.conditions ?? []).find((c) => c.type === 'Failed' && c.status === 'True');
  if (cond?.reason === 'DeadlineExceeded') {
    return {
      reason: 'DeadlineExceeded',
      message: `the backup Job ran longer than activeDeadlineSeconds (${job.spec?.activeDeadlineSeconds ?? '?'}s) and was stopped`,
    };
  }
  for (const p of pods) {
    const t = p.status?.containerStatuses?.find((c) => c.name === 'agent')?.state?.terminated;
    if (!t) continue;
    const r = resultLine(t.message);
    if (r?.reason) return { reason: r.reason, message: (r.message ?? r.reason).slice(0, 2000) };
    const cls = CLASS_OF_EXIT.get(t.exitCode);
    if (cls) return { reason: cls, message: `the agent exited ${t.exitCode} (${cls}) without a readable result line` };
    return { reason: 'AgentFailed', message: `the agent exited ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}` };
  }
  return { reason: cond?.reason ?? 'JobFailed', message: (cond?.message ?? 'the backup Job failed').slice(0, 2000) };
}

export interface RunResult {
  job: string;
  runId: string;
  trigger: Trigger;
  scheduledAt?: string;
  result: 'Succeeded' | 'Failed';
  reason?: string;
  message?: string;
  key?: string;
  at: string;
}

/**
 * The outcome of a finished Job: Succeeded only when S3 holds its verified backup; undefined while it is not
 * finished or (for a Complete Job) S3 has not been listed yet.
 */
export function judgeJob(
  job: JobLike,
  pods: PodLike[],
  stored: ((runId: string) => StoredBackup | undefined) | undefined,
): RunResult | undefined {
  const phase = jobPhase(job);
  if (phase === 'Active') return undefined;
  const { runId, scheduledAt, trigger } = jobRun(job);
  const base = {
    job: job.metadata.name as string,
    runId,
    trigger,
    ...(scheduledAt ? { scheduledAt: scheduledAt.toISOString() } : {}),
    at: finishedAt(job) ?? '',
  };
  if (phase === 'Failed') return { ...base, result: 'Failed', ...failureOf(job, pods) };
  if (!stored) return undefined;
  const b = stored(runId);
  const v = verdictOf(b);
  if (!v.ok) {
    return { ...base, result: 'Failed', reason: v.reason, message: `the Job completed but ${v.message}` };
  }
  const m = b?.manifest;
  return { ...base, result: 'Succeeded', key: (m?.key ?? m?.parts?.[0]?.key ?? b?.manifestKey) as string };
}
