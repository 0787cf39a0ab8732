// Retention, pure: which backups to delete from this schedule's own folder. The runbook's `find -mtime +30 -delete`
// deletes by age alone, so a month of silently failing dumps deletes the last good one (domain-anchors §2). Here:
//   - only verified backups count (manifest valid, dump present with the manifest's size) and only they are deleted;
//     objects without a valid manifest (a failed or truncated run) are never deleted by retention, only reported;
//   - the newest `minKeep` verified backups are kept whatever their age; of the others, those started more than
//     `keepDays` ago are deleted — each of them therefore has at least minKeep newer verified backups;
//   - nothing is deleted when the listing failed (no plan is made), and only after a run of this schedule succeeded:
//     not before its first run has finished, and not while its newest finished run failed.
// The manifest is deleted before its dump, so an interrupted deletion leaves an unverified dump, never a manifest
// that points to nothing.
import { runObjects, verdictOf, type StoredBackup } from './judge.js';

export interface RetentionInput {
  backups: StoredBackup[];
  keepDays: number;
  minKeep: number;
  now: Date;
  /** The newest finished run of this schedule: deletions only when it succeeded. */
  lastRun: 'Succeeded' | 'Failed' | undefined;
}

export interface RetentionPlan {
  /** Keys to delete, in order (manifest, then its dump). */
  delete: string[];
  /** Backups (by run) to delete. */
  pruned: StoredBackup[];
  verified: number;
  unverified: number;
  /** Start of the oldest verified backup kept. */
  oldestKept?: Date;
  held?: string;
}

export function planRetention(i: RetentionInput): RetentionPlan {
  const verified = i.backups
    .filter((b) => verdictOf(b).ok)
    .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime());
  const unverified = i.backups.length - verified.length;
  const cutoff = i.now.getTime() - i.keepDays * 86_400_000;
  const kept = verified.filter((b, idx) => idx < i.minKeep || b.startedAt.getTime() >= cutoff);
  const pruned = verified.filter((b) => !kept.includes(b));
  const out: RetentionPlan = {
    delete: [],
    pruned: [],
    verified: verified.length,
    unverified,
    ...(kept.length ? { oldestKept: kept[kept.length - 1]!.startedAt } : {}),
  };
  if (i.lastRun !== 'Succeeded') {
    if (pruned.length) {
      out.held =
        i.lastRun === 'Failed'
          ? 'the newest backup run failed: nothing is deleted until a run succeeds'
          : 'no run of this schedule has finished yet: nothing is deleted until one succeeds';
    }
    const oldest = verified.at(-1);
    if (oldest) out.oldestKept = oldest.startedAt;
    return out;
  }
  out.pruned = pruned;
  // The manifest first (the backup stops counting), then every object of the run: the dump and its parts.
  out.delete = pruned.flatMap((b) => [b.manifestKey as string, ...Object.keys(runObjects(b))]);
  return out;
}
