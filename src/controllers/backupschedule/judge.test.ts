// Judging runs and retention (pure): success only from S3 (manifest valid, object of its size), reasons of failures
// from the agent's result line, retention with its floor of verified backups.
import { describe, expect, test } from '@jest/globals';
import type { Manifest } from '../../agent/manifest.js';
import { cronOf } from './schedule.js';
import { LABEL_RUN } from './job.js';
import { failureOf, groupByRun, judgeJob, resultLine, verdictOf, type JobLike, type StoredBackup } from './judge.js';
import { planRetention } from './retention.js';
import { backupStatus } from './status.js';

const day = 86_400_000;
const now = new Date('2026-03-01T00:00:00Z');

function stored(daysAgo: number, runId: string, opts: { size?: number; manifest?: boolean } = {}): StoredBackup {
  const startedAt = new Date(now.getTime() - daysAgo * day);
  const ts = startedAt
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
  const key = `p/ns.bs/${ts}-${runId}.sql.gz`;
  const manifest = {
    key,
    size: 100,
    sha256: 'a'.repeat(64),
    completedAt: new Date(startedAt.getTime() + 5000).toISOString(),
    durationSeconds: 5,
    verification: 'full',
  } as Manifest;
  return {
    runId,
    startedAt,
    dumpKey: key,
    dumpSize: opts.size ?? 100,
    ...(opts.manifest === false ? {} : { manifestKey: `p/ns.bs/${ts}-${runId}.manifest.json`, manifest }),
  };
}

describe('verdicts', () => {
  test('a backup is good only with a valid manifest and an object of its size', () => {
    expect(verdictOf(stored(1, 'a')).ok).toBe(true);
    expect(verdictOf(stored(1, 'a', { size: 60 }))).toMatchObject({ ok: false, reason: 'SizeMismatch' });
    expect(verdictOf(stored(1, 'a', { manifest: false }))).toMatchObject({ ok: false, reason: 'ManifestMissing' });
    expect(verdictOf({ ...stored(1, 'a'), manifest: undefined, manifestError: 'bad' })).toMatchObject({
      reason: 'ManifestInvalid',
    });
    expect(verdictOf({ ...stored(1, 'a'), dumpSize: undefined })).toMatchObject({ reason: 'ObjectNotFound' });
  });

  test('groupByRun reads the agent layout and ignores other keys', () => {
    const g = groupByRun([
      { key: 'p/ns.bs/20260101T000000Z-t1.sql.gz', size: 10 },
      { key: 'p/ns.bs/20260101T000000Z-t1.manifest.json', size: 1 },
      { key: 'p/ns.bs/notes.txt', size: 3 },
    ]);
    expect([...g.values()]).toEqual([
      expect.objectContaining({ runId: 't1', dumpSize: 10, manifestKey: 'p/ns.bs/20260101T000000Z-t1.manifest.json' }),
    ]);
  });
});

describe('backups with parts (config, secrets, data volumes)', () => {
  const base = 'p/ns.bs/20260101T000000Z-t1';
  const part = (name: string, kind: string, key: string, size: number) =>
    ({ name, kind, key, size, sha256: 'b'.repeat(64), contentType: 'x', encoding: 'gzip' }) as const;
  const listing = (over: Record<string, number | undefined> = {}) =>
    Object.entries({
      [`${base}.configmaps.yaml.gz`]: 20,
      [`${base}.data-uploads.tar.gz`]: 30,
      [`${base}.dump`]: 100,
      [`${base}.manifest.json`]: 1,
      [`${base}.secrets.yaml.gz.enc`]: 40,
      ...over,
    })
      .filter(([, size]) => size !== undefined)
      .map(([key, size]) => ({ key, size: size! }));
  const manifest = (withDump: boolean): Manifest =>
    ({
      ...(withDump ? { key: `${base}.dump`, size: 100, sha256: 'a'.repeat(64), format: 'custom' } : {}),
      completedAt: '2026-01-01T00:01:00Z',
      durationSeconds: 60,
      verification: 'full',
      parts: [
        ...(withDump ? [part('database', 'database', `${base}.dump`, 100)] : []),
        part('configmaps', 'configmaps', `${base}.configmaps.yaml.gz`, 20),
        part('secrets', 'secrets', `${base}.secrets.yaml.gz.enc`, 40),
        part('data/uploads', 'data', `${base}.data-uploads.tar.gz`, 30),
      ],
    }) as Manifest;
  const run = (objects: { key: string; size: number }[], m: Manifest): StoredBackup => ({
    ...[...groupByRun(objects).values()][0]!,
    manifest: m,
  });

  test('a part sorting after the dump is not taken for the dump: every part is checked by its own key and size', () => {
    const b = run(listing(), manifest(true));
    expect(b.dumpKey).toBe(`${base}.dump`);
    expect(Object.keys(b.objects!)).toHaveLength(4);
    expect(verdictOf(b)).toEqual({ ok: true });
    expect(verdictOf(run(listing({ [`${base}.data-uploads.tar.gz`]: 29 }), manifest(true)))).toMatchObject({
      ok: false,
      reason: 'SizeMismatch',
      message: expect.stringContaining('data/uploads'),
    });
    expect(verdictOf(run(listing({ [`${base}.secrets.yaml.gz.enc`]: undefined }), manifest(true)))).toMatchObject({
      ok: false,
      reason: 'ObjectNotFound',
      message: expect.stringContaining('secrets'),
    });
  });

  test('a backup without the database part (data only) is verified by its parts and reported by its first', () => {
    const b = run(listing({ [`${base}.dump`]: undefined }), manifest(false));
    expect(b.dumpKey).toBeUndefined();
    expect(verdictOf(b)).toEqual({ ok: true });
    const j: JobLike = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'bs-t1', labels: { [LABEL_RUN]: 't1' } },
      status: { conditions: [{ type: 'Complete', status: 'True' }] },
    };
    expect(judgeJob(j, [], () => b)).toMatchObject({ result: 'Succeeded', key: `${base}.configmaps.yaml.gz` });
    expect(verdictOf({ ...b, manifest: { ...manifest(false), parts: [] } })).toMatchObject({
      reason: 'ManifestInvalid',
    });
  });

  test('retention deletes the manifest first, then every object of the run', () => {
    const old = { ...run(listing(), manifest(true)), startedAt: new Date(now.getTime() - 40 * day) };
    const p = planRetention({
      backups: [stored(1, 'a'), stored(2, 'b'), old],
      keepDays: 7,
      minKeep: 2,
      now,
      lastRun: 'Succeeded',
    });
    expect(p.delete).toEqual([
      `${base}.manifest.json`,
      ...listing({ [`${base}.manifest.json`]: undefined }).map((o) => o.key),
    ]);
  });
});

describe('judging a Job', () => {
  const job = (phase: 'Complete' | 'Failed', reason?: string): JobLike => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'bs-t1', labels: { [LABEL_RUN]: 't1' } },
    spec: { activeDeadlineSeconds: 60 },
    status: { conditions: [{ type: phase, status: 'True', ...(reason ? { reason } : {}) }] },
  });
  const pod = (exitCode: number, message?: string) => ({
    metadata: { name: 'p' },
    status: {
      containerStatuses: [{ name: 'agent', state: { terminated: { exitCode, ...(message ? { message } : {}) } } }],
    },
  });

  test('a Complete Job succeeds only when S3 holds its verified backup', () => {
    const good = stored(0, 't1');
    expect(judgeJob(job('Complete'), [], () => good)).toMatchObject({ result: 'Succeeded', key: good.dumpKey });
    expect(judgeJob(job('Complete'), [], () => undefined)).toMatchObject({
      result: 'Failed',
      reason: 'ManifestMissing',
    });
    expect(judgeJob(job('Complete'), [], () => stored(0, 't1', { size: 1 }))).toMatchObject({ reason: 'SizeMismatch' });
    expect(judgeJob(job('Complete'), [], undefined)).toBeUndefined(); // S3 not listed: not judged yet
  });

  test('a failed Job: the agent result line, else the exit code class, else the Job condition', () => {
    const line = JSON.stringify({
      result: 'Failed',
      reason: 'DatabaseAuthFailed',
      exitCode: 3,
      message: 'auth failed',
    });
    const tail = `{"level":50,"msg":"x"}\n${line}\n`;
    expect(resultLine(`...cut ${line.slice(10)}\n${line}`)).toEqual({
      reason: 'DatabaseAuthFailed',
      message: 'auth failed',
    });
    expect(failureOf(job('Failed'), [pod(3, tail)])).toEqual({ reason: 'DatabaseAuthFailed', message: 'auth failed' });
    expect(failureOf(job('Failed'), [pod(6, 'garbage')]).reason).toBe('Storage');
    expect(failureOf(job('Failed', 'DeadlineExceeded'), [pod(10, line)]).reason).toBe('DeadlineExceeded');
    expect(failureOf(job('Failed', 'BackoffLimitExceeded'), []).reason).toBe('BackoffLimitExceeded');
  });
});

describe('retention', () => {
  const input = (backups: StoredBackup[], over = {}) => ({
    backups,
    keepDays: 7,
    minKeep: 2,
    now,
    lastRun: 'Succeeded' as const,
    ...over,
  });

  test('deletes verified backups older than keepDays, manifest first, keeping the newest minKeep', () => {
    const b = [stored(1, 'a'), stored(10, 'b'), stored(20, 'c'), stored(30, 'd')];
    const p = planRetention(input(b));
    expect(p.pruned.map((x) => x.runId)).toEqual(['c', 'd']);
    expect(p.delete).toEqual([b[2]!.manifestKey, b[2]!.dumpKey, b[3]!.manifestKey, b[3]!.dumpKey]);
    expect(p.oldestKept).toEqual(b[1]!.startedAt);
  });

  test('the floor counts verified backups only: a truncated newer one does not let an older good one go', () => {
    const b = [stored(0, 'trunc', { size: 5 }), stored(9, 'x'), stored(12, 'y')];
    const p = planRetention(input(b));
    expect(p.pruned).toEqual([]);
    expect(p.verified).toBe(2);
    expect(p.unverified).toBe(1);
    expect(planRetention(input([stored(30, 'z', { manifest: false }), stored(1, 'a'), stored(2, 'b')])).delete).toEqual(
      [],
    );
  });

  test('nothing is deleted while the newest run failed, nor before a first run finished', () => {
    const b = [stored(1, 'a'), stored(10, 'b'), stored(20, 'c')];
    const failed = planRetention(input(b, { lastRun: 'Failed' }));
    expect(failed.delete).toEqual([]);
    expect(failed.held).toMatch(/failed/);
    const none = planRetention(input(b, { lastRun: undefined }));
    expect(none.delete).toEqual([]);
    expect(none.held).toMatch(/no run/);
    expect(planRetention(input(b)).delete).toHaveLength(2);
  });
});

describe('status', () => {
  const cron = cronOf('0 * * * *', undefined);
  const base = {
    now,
    generation: 1,
    createdAt: new Date(now.getTime() - 30 * day),
    cron,
    previous: undefined,
    active: [],
    retention: { deletedTotal: 0, lastDeleted: [] },
    jobOfRun: new Map([['a', 'bs-a']]),
  };
  const cond = (out: ReturnType<typeof backupStatus>, type: string) => out.conditions.find((c) => c.type === type);

  test('fresh, verified, last run good: Ready; BackupsFresh turns False after twice the interval', () => {
    const good = stored(0.01, 'a');
    const out = backupStatus({
      ...base,
      store: { listedAt: now, backups: [good] },
      history: [{ job: 'bs-a', runId: 'a', trigger: 'Schedule', result: 'Succeeded', key: good.dumpKey!, at: '' }],
    });
    expect(out.readiness.status).toBe('True');
    expect(out.success).toMatchObject({ key: good.dumpKey, size: 100, duration: '5s', job: 'bs-a' });
    expect(cond(out, 'BackupsFresh')?.status).toBe('True');
    expect(cond(out, 'Verified')?.status).toBe('True');
    expect(out.staleAt).toBeDefined();
    const later = backupStatus({
      ...base,
      now: new Date(out.staleAt!.getTime() + 1),
      store: { listedAt: now, backups: [good] },
      history: [],
    });
    expect(cond(later, 'BackupsFresh')).toMatchObject({ status: 'False', reason: 'Stale' });
    expect(later.readiness).toMatchObject({ status: 'False', reason: 'BackupsStale' });
  });

  test('a failed last run and a truncated newest object are reported with their reasons', () => {
    const out = backupStatus({
      ...base,
      store: { listedAt: now, backups: [stored(0.01, 'n', { size: 3 }), stored(0.5, 'a')] },
      history: [
        {
          job: 'bs-n',
          runId: 'n',
          trigger: 'Schedule',
          result: 'Failed',
          reason: 'SizeMismatch',
          message: 'x',
          at: '',
        },
      ],
    });
    expect(out.readiness).toMatchObject({ status: 'False', reason: 'SizeMismatch' });
    expect(cond(out, 'LastBackupSucceeded')).toMatchObject({ status: 'False', reason: 'SizeMismatch' });
    expect(cond(out, 'Verified')).toMatchObject({ status: 'False', reason: 'SizeMismatch' });
    expect(out.success?.key).toBe(stored(0.5, 'a').dumpKey);
  });
});
