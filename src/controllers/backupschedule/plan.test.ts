// Planning the Jobs (pure): one Job per tick, adopted when it exists, never rewritten; Forbid/Replace; suspend;
// immediate; backup-now; history pruning only of judged Jobs.
import { describe, expect, test } from '@jest/globals';
import type { BackupScheduleSpec } from '../../crds/backupschedule.js';
import type { KubeObject } from '../../kube/index.js';
import { ANN_PARAMS, backupJob, jobParams, paramsOf } from './job.js';
import type { JobLike } from './judge.js';
import { planSchedule, type PlanInput } from './plan.js';
import { jobName, manualRunId, MANUAL_ANNOTATION, tickRunId } from './schedule.js';

const at = (s: string) => new Date(s);
const spec = (over: Partial<BackupScheduleSpec> = {}): BackupScheduleSpec =>
  ({
    database: { secretRef: { name: 'db' } },
    schedule: '* * * * *',
    destination: { bucket: 'b', prefix: 'p', credentialsSecretRef: { name: 's3' } },
    startingDeadlineSeconds: 30,
    historyLimit: 2,
    ...over,
  }) as BackupScheduleSpec;
const params = (s = spec()) => jobParams(s, { namespace: 'ns', folder: 'ns.bs', image: 'img:1', databaseSecret: 'db' });

function job(tick: Date, phase: 'Active' | 'Complete' | 'Failed', finished?: string, s = spec()): JobLike {
  const j = backupJob({
    name: jobName('bs', tickRunId(tick)),
    scheduleName: 'bs',
    runId: tickRunId(tick),
    trigger: 'Schedule',
    scheduledAt: tick,
    params: params(s),
  }) as JobLike;
  j.status =
    phase === 'Active'
      ? { active: 1 }
      : {
          ...(phase === 'Complete' ? { completionTime: finished } : {}),
          conditions: [{ type: phase, status: 'True', lastTransitionTime: finished ?? '' }],
        };
  return j;
}

const input = (over: Partial<PlanInput>): PlanInput => ({
  name: 'bs',
  createdAt: at('2026-01-01T00:00:30Z'),
  spec: spec(),
  annotations: {},
  status: undefined,
  jobs: [],
  now: at('2026-01-01T00:01:05Z'),
  params: params(),
  judged: new Set(),
  suspended: false,
  ...over,
});
const names = (jobs: KubeObject[] | undefined) => (jobs ?? []).map((j) => j.metadata.name).sort();

describe('planSchedule', () => {
  test('the due tick gets one Job named after it; the same tick again (a restart) adopts it', () => {
    const tick = at('2026-01-01T00:01:00Z');
    const p = planSchedule(input({}));
    expect(p.created).toMatchObject({ name: jobName('bs', tickRunId(tick)), trigger: 'Schedule', scheduledAt: tick });
    expect(names(p.jobs)).toEqual([jobName('bs', tickRunId(tick))]);
    expect(p.lastScheduleTime).toEqual(tick);
    // Restarted before the status was written: the Job is in the cache, nothing new is created.
    const again = planSchedule(input({ jobs: [job(tick, 'Active')], status: undefined }));
    expect(again.created).toBeUndefined();
    expect(names(again.jobs)).toEqual([jobName('bs', tickRunId(tick))]);
    expect(again.lastScheduleTime).toEqual(tick);
  });

  test('an existing Job is rebuilt from its recorded parameters: a spec change does not rewrite it', () => {
    const tick = at('2026-01-01T00:01:00Z');
    const existing = job(tick, 'Active');
    const changed = spec({ format: 'custom', jobTemplate: { image: 'other:2' } });
    const p = planSchedule(input({ jobs: [existing], spec: changed, params: params(changed) }));
    const rebuilt = p.jobs!.find((j) => j.metadata.name === existing.metadata.name)!;
    expect(rebuilt).toEqual(
      backupJob({
        name: existing.metadata.name as string,
        scheduleName: 'bs',
        runId: tickRunId(tick),
        trigger: 'Schedule',
        scheduledAt: tick,
        params: paramsOf(existing)!,
      }),
    );
    expect(rebuilt.metadata.annotations?.[ANN_PARAMS]).toBe(existing.metadata.annotations?.[ANN_PARAMS]);
  });

  test('Forbid waits while a run is active; Replace drops the active Job for the new one', () => {
    const prev = at('2026-01-01T00:00:00Z');
    const active = job(prev, 'Active');
    const now = at('2026-01-01T00:01:05Z');
    const forbid = planSchedule(input({ jobs: [active], now, createdAt: at('2025-12-31T23:59:00Z') }));
    expect(forbid.created).toBeUndefined();
    expect(forbid.waiting?.reason).toBe('ConcurrencyForbid');
    expect(names(forbid.jobs)).toEqual([active.metadata.name]);
    const replace = planSchedule(
      input({
        jobs: [active],
        now,
        createdAt: at('2025-12-31T23:59:00Z'),
        spec: spec({ concurrencyPolicy: 'Replace' }),
      }),
    );
    expect(replace.replaced).toEqual([active.metadata.name]);
    expect(names(replace.jobs)).toEqual([jobName('bs', tickRunId(at('2026-01-01T00:01:00Z')))]);
  });

  test('suspended or missing its Secrets: no new Job; a tick missed beyond the deadline is skipped', () => {
    expect(planSchedule(input({ suspended: true })).created).toBeUndefined();
    const blocked = planSchedule(input({ params: undefined }));
    expect(blocked.created).toBeUndefined();
    expect(blocked.waiting?.reason).toBe('Blocked');
    const late = planSchedule(input({ now: at('2026-01-01T00:01:45Z') }));
    expect(late.created).toBeUndefined();
    expect(late.missed).toEqual(at('2026-01-01T00:01:00Z'));
  });

  test('immediate runs once at creation; backup-now runs once per annotation value', () => {
    const created = at('2026-01-01T00:00:30Z');
    const imm = planSchedule(input({ now: at('2026-01-01T00:00:31Z'), spec: spec({ immediate: true }) }));
    expect(imm.created).toMatchObject({ trigger: 'Immediate', runId: tickRunId(created) });
    const after = planSchedule(
      input({ now: at('2026-01-01T00:00:40Z'), spec: spec({ immediate: true }), jobs: [job(created, 'Active')] }),
    );
    expect(after.created).toBeUndefined();

    const now = at('2026-01-01T00:00:40Z');
    const manual = planSchedule(input({ now, annotations: { [MANUAL_ANNOTATION]: 'x1' } }));
    expect(manual.created).toMatchObject({ trigger: 'Manual', runId: manualRunId('x1') });
    expect(manual.lastManualRequest).toBe('x1');
    const handled = planSchedule(
      input({ now, annotations: { [MANUAL_ANNOTATION]: 'x1' }, status: { lastManualRequest: 'x1' } }),
    );
    expect(handled.created).toBeUndefined();
  });

  test('history: finished Jobs beyond historyLimit are pruned once judged, newest kept', () => {
    const t = (m: number) => at(`2026-01-01T00:0${m}:00Z`);
    const jobs = [1, 2, 3, 4].map((m) => job(t(m), 'Complete', `2026-01-01T00:0${m}:30Z`));
    const now = at('2026-01-01T00:04:40Z');
    const base = { jobs, now, createdAt: at('2026-01-01T00:00:00Z'), status: { lastScheduleTime: t(4).toISOString() } };
    const unjudged = planSchedule(input(base));
    expect(unjudged.pruned).toEqual([]);
    const judged = planSchedule(input({ ...base, judged: new Set(jobs.map((j) => j.metadata.name as string)) }));
    expect(names(judged.jobs)).toEqual([jobs[2]!.metadata.name, jobs[3]!.metadata.name].sort());
    expect(judged.pruned.sort()).toEqual([jobs[0]!.metadata.name, jobs[1]!.metadata.name].sort());
  });
});
