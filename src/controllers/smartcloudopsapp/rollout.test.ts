// The rollout/rollback/quarantine policy as a table of scenarios: each step feeds decideRollout the previous
// status (as the status write would have stored it), what the components show and the checks' results.
import { describe, expect, test } from '@jest/globals';
import type { SmartCloudOpsAppSpec, SmartCloudOpsAppStatus } from '../../crds/smartcloudopsapp.js';
import type { AnalysisVerdict, CheckResult } from './contracts.js';
import { releaseOf, revisionOf } from './revision.js';
import {
  decideRollout,
  FailureReason,
  RETRY_ANNOTATION,
  ROLLBACK_ANNOTATION,
  type ComponentObservation,
  type RolloutDecision,
} from './rollout.js';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000);

function spec(version: string, rollout: SmartCloudOpsAppSpec['rollout'] = {}): SmartCloudOpsAppSpec {
  return {
    version,
    backend: { image: 'reg/backend', replicas: 2 },
    frontend: { image: 'reg/frontend', replicas: 1 },
    database: { secretRef: { name: 'db' } },
    rollout: { progressDeadlineSeconds: 60, bakeSeconds: 30, autoRollback: true, revisionHistoryLimit: 3, ...rollout },
  };
}
const rev = (version: string) => revisionOf(releaseOf(spec(version), { database: ['uri'] }));

type Show = 'on' | 'rolling' | 'crash' | 'stuck' | 'absent';
function comp(name: 'backend' | 'frontend', revision: string | undefined, show: Show): ComponentObservation {
  const replicas = name === 'backend' ? 2 : 1;
  const on = show === 'on';
  return {
    name,
    exists: show !== 'absent',
    ...(revision && show !== 'absent' ? { revision } : {}),
    observedCurrent: true,
    replicas,
    statusReplicas: on ? replicas : replicas + 1,
    updatedReplicas: on ? replicas : 1,
    readyReplicas: on ? replicas : replicas - 1,
    availableReplicas: on ? replicas : replicas - 1,
    progressDeadlineExceeded: show === 'stuck',
    podFailures:
      show === 'crash'
        ? [{ revision, reason: 'CrashLooping', message: `pod ${name}-x is crash-looping (2 restarts)` }]
        : [],
  };
}

const healthy = (s: number, ok = true, failures = 3): Partial<Record<'backend' | 'frontend', CheckResult>> =>
  Object.fromEntries(
    (['backend', 'frontend'] as const).map((n) => [
      n,
      {
        name: n,
        kind: 'http',
        ok,
        reason: ok ? 'Healthy' : 'HttpStatus',
        message: ok ? 'GET /health answered 200' : 'GET /health answered 503',
        checkedAt: at(s)
          .toISOString()
          .replace(/\.000Z$/, 'Z'),
        ...(ok ? {} : { details: { consecutiveFailures: failures } }),
      },
    ]),
  );

const NOT_CONFIGURED: AnalysisVerdict = { state: 'NotConfigured', reason: 'NotConfigured', message: 'none' };

/** A little world: the status the operator wrote, and what the Deployments run (what desired last asked for). */
class World {
  status: SmartCloudOpsAppStatus = {};
  running: string | undefined;
  annotations: Record<string, string> = {};
  events: string[] = [];
  rollbacks: string[] = [];
  constructor(public spec: SmartCloudOpsAppSpec) {}
  step(
    s: number,
    show: Show = 'on',
    o: { health?: Partial<Record<'backend' | 'frontend', CheckResult>>; analysis?: AnalysisVerdict } = {},
  ): RolloutDecision {
    const keys = { database: ['uri'] };
    const specRelease = releaseOf(this.spec, keys);
    const d = decideRollout({
      now: at(s),
      spec: this.spec,
      specRelease,
      specRevision: revisionOf(specRelease),
      prev: this.status,
      annotations: this.annotations,
      components: [comp('backend', this.running, show), comp('frontend', this.running, show)],
      health: o.health ?? healthy(s),
      analysis: o.analysis ?? NOT_CONFIGURED,
    });
    this.status = { ...this.status, ...d.fields };
    this.running = d.revision; // desired applied
    this.events.push(...d.events.map((e) => e.reason));
    if (d.rollbackStarted) this.rollbacks.push(d.rollbackStarted.reason);
    return d;
  }
  /** Promote the current spec: roll out, become available, bake, pass health. */
  promote(from: number): number {
    this.step(from, 'rolling');
    this.step(from + 1, 'on');
    const d = this.step(from + 40, 'on');
    expect(d.fields.rollout?.state).toBe('Promoted');
    return from + 40;
  }
}

describe('decideRollout', () => {
  test('first rollout: Progressing → Baking → Promoted after the bake and a passing health check', () => {
    const w = new World(spec('1.0.0'));
    expect(w.step(0, 'absent').fields.rollout?.state).toBe('Progressing');
    expect(w.step(5, 'rolling').fields.rollout?.state).toBe('Progressing');
    const baking = w.step(10, 'on');
    expect(baking.fields.rollout).toMatchObject({ state: 'Baking', availableAt: '2026-03-01T10:00:10Z' });
    expect(baking.requeueAfterMs).toBe(30_000);
    // bake over, but the last health check is older than availability: wait for a fresh one
    const waiting = w.step(41, 'on', { health: healthy(9) });
    expect(waiting.fields.rollout?.state).toBe('Baking');
    expect(waiting.fields.rollout?.message).toMatch(/waiting for a passing health check/);
    const done = w.step(45, 'on');
    expect(done.fields.rollout?.state).toBe('Promoted');
    expect(done.fields.lastGoodRevision).toMatchObject({ revision: rev('1.0.0'), version: '1.0.0' });
    expect(done.fields.history?.[0]).toMatchObject({ revision: rev('1.0.0'), result: 'Good' });
    expect(w.events).toEqual(['RolloutStarted', 'Promoted']);
  });

  test('an analysis that is Unknown never promotes; Passing does', () => {
    const w = new World(spec('1.0.0', { analysis: { prometheusUrl: 'http://p:9090' } }));
    w.step(0, 'rolling');
    w.step(1, 'on');
    const unknown = { state: 'Unknown', reason: 'NoData', message: 'no samples' } as const;
    expect(w.step(40, 'on', { analysis: unknown }).fields.rollout?.state).toBe('Baking');
    const passing = { state: 'Passing', reason: 'WithinThresholds', message: 'ok' } as const;
    expect(w.step(45, 'on', { analysis: passing }).fields.rollout?.state).toBe('Promoted');
  });

  test('an analysis still Unknown a progress deadline after the bake fails the revision (AnalysisInconclusive)', () => {
    const analysis = { analysis: { prometheusUrl: 'http://p:9090' } };
    const unknown = {
      state: 'Unknown',
      reason: 'NoData',
      message: 'no requests of this revision in Prometheus yet',
    } as const;
    // The first revision: nothing to roll back to, so it fails and says why (bake 30 s, deadline 60 s).
    const first = new World(spec('1.0.0', analysis));
    first.step(0, 'rolling');
    first.step(1, 'on', { analysis: unknown }); // Baking since 1 s
    const waiting = first.step(90, 'on', { analysis: unknown });
    expect(waiting.fields.rollout?.state).toBe('Baking');
    expect(waiting.fields.rollout?.message).toBe(
      'waiting for the analysis (Unknown/NoData: no requests of this revision in Prometheus yet); ' +
        'without a verdict by 2026-03-01T10:01:31Z the revision fails',
    );
    expect(waiting.requeueAfterMs).toBe(5000);
    const failed = first.step(91, 'on', { analysis: unknown });
    expect(failed.fields.rollout).toMatchObject({ state: 'Failed' });
    expect(failed.fields.rollout?.message).toMatch(
      /^AnalysisInconclusive: no analysis verdict within 60s after the bake \(NoData: no requests/,
    );
    expect(failed.fields.rollback).toBeUndefined();
    expect(failed.fields.lastGoodRevision).toBeUndefined();
    expect(first.events).toEqual(['RolloutStarted', 'RolloutFailed']);
    // Passing in time promotes as before; a verdict that arrives late does not revive a failed revision.
    expect(
      first.step(120, 'on', { analysis: { ...unknown, state: 'Passing', reason: 'WithinThresholds' } }).fields.rollout
        ?.state,
    ).toBe('Failed');

    // An upgrade with a last good revision: rolled back from it, quarantined, like any failure during the bake.
    const w = new World(spec('1.0.0', analysis));
    const s = w.promote(0);
    w.spec = spec('1.1.0', analysis);
    w.step(s + 10, 'rolling', { analysis: unknown });
    w.step(s + 11, 'on', { analysis: unknown });
    expect(w.step(s + 100, 'on', { analysis: unknown }).fields.rollback).toBeUndefined();
    const d = w.step(s + 101, 'on', { analysis: unknown });
    expect(d.fields.rollback).toMatchObject({
      from: rev('1.1.0'),
      to: rev('1.0.0'),
      reason: FailureReason.AnalysisInconclusive,
    });
    expect(d.fields.quarantined?.[0]).toMatchObject({
      revision: rev('1.1.0'),
      reason: FailureReason.AnalysisInconclusive,
    });
    expect(w.rollbacks).toEqual([FailureReason.AnalysisInconclusive]);
  });

  const failures: [string, (w: World, s: number) => RolloutDecision, string][] = [
    ['pods crash-looping', (w, s) => w.step(s, 'crash'), FailureReason.CrashLooping],
    [
      'not available by the progress deadline',
      (w, s) => w.step(s + 61, 'rolling'),
      FailureReason.ProgressDeadlineExceeded,
    ],
    [
      'the Deployment reports ProgressDeadlineExceeded',
      (w, s) => w.step(s + 5, 'stuck'),
      FailureReason.ProgressDeadlineExceeded,
    ],
    [
      'health failing during the bake',
      (w, s) => {
        w.step(s + 1, 'on');
        return w.step(s + 10, 'on', { health: healthy(s + 10, false) });
      },
      FailureReason.HealthCheckFailing,
    ],
    [
      'analysis Failing during the bake',
      (w, s) => {
        w.step(s + 1, 'on');
        return w.step(s + 10, 'on', {
          analysis: { state: 'Failing', reason: 'ErrorRateHigh', message: '5xx ratio 0.2 > 0.01', errorRate: 0.2 },
        });
      },
      FailureReason.AnalysisFailing,
    ],
  ];

  test.each(failures)(
    'upgrade failing (%s) → both components back on the last good revision, quarantined, no loop',
    (_what, fail, reason) => {
      const w = new World(spec('1.0.0'));
      let s = w.promote(0);
      w.spec = spec('1.1.0');
      s += 10;
      const start = w.step(s, 'rolling');
      expect(start.revision).toBe(rev('1.1.0'));
      // the failure: the rollback is recorded in status, the children are not moved yet
      const recorded = fail(w, s);
      expect(recorded.fields.rollback).toMatchObject({ from: rev('1.1.0'), to: rev('1.0.0'), reason, manual: false });
      expect(recorded.revision).toBe(rev('1.1.0'));
      expect(recorded.requeueAfterMs).toBe(1000);
      expect(recorded.fields.quarantined?.[0]).toMatchObject({ revision: rev('1.1.0'), reason });
      expect(w.rollbacks).toEqual([reason]);
      // next reconcile reads the record and moves BOTH components to the last good release
      const acting = w.step(s + 70, 'rolling');
      expect(acting.revision).toBe(rev('1.0.0'));
      expect(acting.release.backend.image).toBe('reg/backend:1.0.0');
      expect(acting.release.frontend.image).toBe('reg/frontend:1.0.0');
      expect(acting.fields.rollback).toBeDefined();
      const done = w.step(s + 75, 'on');
      expect(done.fields.rollback).toBeUndefined();
      expect(done.fields.lastRollback).toMatchObject({ from: rev('1.1.0'), to: rev('1.0.0'), reason });
      expect(done.held?.revision).toBe(rev('1.1.0'));
      // the spec still says 1.1.0: it is not tried again, however often we look
      for (let i = 1; i <= 20; i++) expect(w.step(s + 80 + i * 100, 'on').revision).toBe(rev('1.0.0'));
      expect(w.rollbacks).toEqual([reason]);
      expect(w.events.filter((e) => e === 'RolloutStarted')).toHaveLength(2); // 1.0.0 and 1.1.0, once each
      expect(w.events.filter((e) => e === 'RolledBack')).toHaveLength(1);
    },
  );

  test('a new leader reading a recorded rollback finishes it without deciding another', () => {
    const w = new World(spec('1.0.0'));
    let s = w.promote(0);
    w.spec = spec('1.1.0-crash');
    w.step((s += 10), 'rolling');
    w.step(s + 1, 'crash');
    const recorded = structuredClone(w.status);
    // the old leader dies here; the new one starts from status alone (and the children as they are)
    const heir = new World(w.spec);
    heir.status = recorded;
    heir.running = rev('1.1.0-crash');
    const acting = heir.step(s + 5, 'crash');
    expect(acting.revision).toBe(rev('1.0.0'));
    expect(acting.rollbackStarted).toBeUndefined();
    heir.step(s + 8, 'on');
    expect(heir.status.rollback).toBeUndefined();
    expect(heir.status.lastRollback?.to).toBe(rev('1.0.0'));
    expect(heir.rollbacks).toEqual([]);
    expect(heir.events).toEqual(['RolledBack']);
  });

  test('one or two failed health checks during the bake are not a failure; three in a row are', () => {
    const w = new World(spec('1.0.0'));
    const s = w.promote(0);
    w.spec = spec('1.1.0');
    w.step(s + 1, 'rolling');
    w.step(s + 2, 'on');
    expect(w.step(s + 3, 'on', { health: healthy(s + 3, false, 1) }).fields.rollback).toBeUndefined();
    expect(w.step(s + 4, 'on', { health: healthy(s + 4, false, 2) }).fields.rollback).toBeUndefined();
    expect(w.step(s + 5, 'on', { health: healthy(s + 5, false, 3) }).fields.rollback?.reason).toBe(
      'HealthCheckFailing',
    );
  });

  test('a first revision that failed is judged again on a new retry value', () => {
    const w = new World(spec('1.0.0'));
    w.step(0, 'rolling');
    expect(w.step(2, 'crash').fields.rollout?.state).toBe('Failed');
    w.annotations[RETRY_ANNOTATION] = 'x';
    expect(w.step(3, 'rolling').fields.rollout?.state).toBe('Progressing');
    expect(w.step(4, 'on').fields.rollout?.state).toBe('Baking');
    expect(w.step(40, 'on').fields.rollout?.state).toBe('Promoted');
  });

  test('the same failure decided again from a stale status (a later now) carries the same Event key', () => {
    const w = new World(spec('1.0.0'));
    const s = w.promote(0);
    w.spec = spec('1.1.0-crash');
    w.step(s + 1, 'rolling');
    const stale = structuredClone(w.status);
    const running = w.running;
    const first = w.step(s + 2, 'crash');
    w.status = stale; // the cache had not seen the status write yet
    w.running = running;
    const again = w.step(s + 3, 'crash');
    expect(again.events.map((e) => e.key)).toEqual(first.events.map((e) => e.key));
    expect(first.events.map((e) => e.reason)).toEqual(['RollbackStarted']);
  });

  test('autoRollback false: the failed revision stays, Failed, no rollback', () => {
    const w = new World(spec('1.0.0', { autoRollback: false }));
    const s = w.promote(0);
    w.spec = spec('1.1.0', { autoRollback: false });
    w.step(s + 1, 'rolling');
    const d = w.step(s + 2, 'crash');
    expect(d.fields.rollout?.state).toBe('Failed');
    expect(d.fields.rollback).toBeUndefined();
    expect(d.revision).toBe(rev('1.1.0'));
    expect(w.events).toContain('RolloutFailed');
  });

  test('a first revision that fails has nothing to roll back to', () => {
    const w = new World(spec('1.1.0-crash'));
    w.step(0, 'rolling');
    const d = w.step(2, 'crash');
    expect(d.fields.rollout?.state).toBe('Failed');
    expect(d.fields.rollback).toBeUndefined();
    expect(w.step(100, 'crash').fields.rollout?.state).toBe('Failed');
    expect(w.events.filter((e) => e === 'RolloutFailed')).toHaveLength(1);
  });

  test('the retry annotation lifts the quarantine once per value; a new spec is rolled out at once', () => {
    const w = new World(spec('1.0.0'));
    let s = w.promote(0);
    w.spec = spec('1.1.0');
    w.step((s += 1), 'rolling');
    w.step((s += 1), 'crash');
    w.step((s += 1), 'rolling');
    w.step((s += 1), 'on');
    expect(w.running).toBe(rev('1.0.0'));
    w.annotations[RETRY_ANNOTATION] = 'a';
    const retried = w.step((s += 1), 'on');
    expect(retried.revision).toBe(rev('1.1.0'));
    expect(retried.fields.observedRetry).toBe('a');
    w.step((s += 1), 'crash');
    w.step((s += 1), 'rolling');
    w.step((s += 1), 'on');
    expect(w.running).toBe(rev('1.0.0'));
    expect(w.step((s += 100), 'on').revision).toBe(rev('1.0.0')); // same value: no second retry
    expect(w.rollbacks).toHaveLength(2);
    w.spec = spec('1.2.0');
    const next = w.step(s + 1, 'on');
    expect(next.revision).toBe(rev('1.2.0'));
    expect(next.fields.rollout?.state).toBe('Progressing');
  });

  test('manual rollback by annotation to a history revision, the spec revision held', () => {
    const w = new World(spec('1.0.0'));
    let s = w.promote(0);
    w.spec = spec('1.1.0');
    s = w.promote(s + 1);
    w.annotations[ROLLBACK_ANNOTATION] = rev('1.0.0');
    const rec = w.step((s += 1), 'on');
    expect(rec.fields.rollback).toMatchObject({ to: rev('1.0.0'), reason: 'ManualRollback', manual: true });
    expect(rec.revision).toBe(rev('1.1.0')); // recorded first
    expect(w.step((s += 1), 'rolling').revision).toBe(rev('1.0.0'));
    const done = w.step((s += 1), 'on');
    expect(done.fields.lastRollback).toMatchObject({ reason: 'ManualRollback', to: rev('1.0.0') });
    expect(done.held).toMatchObject({ revision: rev('1.1.0'), reason: 'ManualRollback' });
    expect(done.fields.lastGoodRevision?.revision).toBe(rev('1.0.0'));
    expect(w.step((s += 1000), 'on').revision).toBe(rev('1.0.0'));
    // the version works as a name too; an unknown one is refused once
    w.annotations[ROLLBACK_ANNOTATION] = '9.9.9';
    const refused = w.step((s += 1), 'on');
    expect(refused.rollbackRefused).toMatch(/names no revision/);
    expect(w.step((s += 1), 'on').rollbackRefused).toBeUndefined();
    w.annotations[ROLLBACK_ANNOTATION] = '1.1.0';
    expect(w.step(s + 1, 'on').fields.rollback?.to).toBe(rev('1.1.0'));
  });

  test('history is bounded by revisionHistoryLimit, newest first, keeping the running and the last good', () => {
    const w = new World(spec('1.0.0'));
    let s = w.promote(0);
    for (const v of ['1.1.0', '1.2.0', '1.3.0', '1.4.0']) {
      w.spec = spec(v);
      s = w.promote(s + 1);
    }
    expect(w.status.history?.map((h) => h.version)).toEqual(['1.4.0', '1.3.0', '1.2.0']);
    expect(w.status.lastGoodRevision?.version).toBe('1.4.0');
  });
});
