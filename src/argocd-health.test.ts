// docs/argocd/health.lua, run by a real Lua 5.4 (the language Argo CD embeds) against objects shaped like the
// status the controllers write.
import { describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../hack/cluster/config.js';
import { decideStatus, notImplemented, type Readiness } from './controllers/status.js';
import type { SpecSuspendReason } from './crds/conditions.js';

/** A JSON value as a Lua table constructor. */
function lua(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `{${v.map(lua).join(', ')}}`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `[${JSON.stringify(k)}] = ${lua(x)}`)
    .join(', ')}}`;
}

function health(obj: unknown): { status: string; message: string } {
  const script = join(repoRoot, 'docs', 'argocd', 'health.lua');
  const program = `obj = ${lua(obj)}\nlocal hs = dofile(${JSON.stringify(script)})\nprint(hs.status)\nprint(hs.message)`;
  const out = execFileSync('lua5.4', ['-e', program], { encoding: 'utf8' }).split('\n');
  return { status: out[0] as string, message: out[1] as string };
}

const now = new Date('2026-03-01T00:00:00Z');
const status = (
  errors: { field: string; message: string }[],
  generation = 1,
  more: { readiness?: Readiness; suspended?: SpecSuspendReason } = {},
) =>
  decideStatus({
    kind: 'BackupSchedule',
    generation,
    previous: undefined,
    errors,
    paused: false,
    now,
    readiness: more.readiness ?? notImplemented('BackupSchedule', 'taking backups'),
    suspended: more.suspended,
  }).status;
const readyTrue: Readiness = { status: 'True', reason: 'Reconciled', message: 'last backup verified' };

describe('Argo CD health.lua', () => {
  test('no status yet: Progressing', () => {
    expect(health({ metadata: { generation: 1 } }).status).toBe('Progressing');
  });
  test('Ready for the current generation: Healthy', () => {
    expect(health({ metadata: { generation: 1 }, status: status([], 1, { readiness: readyTrue }) })).toEqual({
      status: 'Healthy',
      message: 'Reconciled: last backup verified',
    });
  });
  test('a valid spec whose capability is not implemented: Healthy, saying NotImplemented', () => {
    expect(health({ metadata: { generation: 1 }, status: status([]) })).toEqual({
      status: 'Healthy',
      message:
        'NotImplemented: the spec is valid; the BackupSchedule capability (taking backups) is not implemented yet',
    });
  });
  test('Ready=Unknown for another reason, nothing in progress: Progressing (not Healthy)', () => {
    const s = status([], 1, { readiness: { status: 'Unknown', reason: 'Checking', message: 'probing endpoints' } });
    expect(health({ metadata: { generation: 1 }, status: s }).status).toBe('Progressing');
  });
  test('a generation the controller has not seen: Progressing', () => {
    expect(health({ metadata: { generation: 2 }, status: status([], 1) }).status).toBe('Progressing');
  });
  test('InvalidSpec: Degraded, with the field in the message', () => {
    const hs = health({
      metadata: { generation: 1 },
      status: status([{ field: 'spec.schedule', message: 'bad cron' }]),
    });
    expect(hs).toEqual({ status: 'Degraded', message: 'InvalidSpec: spec.schedule: bad cron' });
  });
  test('Reconciling: Progressing', () => {
    const s = status([], 1, { readiness: { status: 'False', reason: 'Progressing', message: 'x', progressing: true } });
    expect(health({ metadata: { generation: 1 }, status: s })).toEqual({
      status: 'Progressing',
      message: 'Progressing: x',
    });
  });
  test('paused by annotation: Suspended', () => {
    const obj = {
      metadata: { generation: 1, annotations: { 'ops.smartcloudops.ai/reconcile-paused': 'true' } },
      status: status([]),
    };
    expect(health(obj).status).toBe('Suspended');
  });
  test.each([
    ['SpecPaused', 'spec.paused is true'],
    ['SpecSuspended', 'spec.suspend is true'],
    ['ModePaused', 'spec.mode is Paused'],
  ] as const)('suspended by the spec (%s): Suspended, with the reason', (reason, text) => {
    const hs = health({ metadata: { generation: 1 }, status: status([], 1, { suspended: reason }) });
    expect(hs.status).toBe('Suspended');
    expect(hs.message.startsWith(`${reason}: ${text}`)).toBe(true);
  });
  test('suspended but invalid: Degraded wins, so a broken spec is not hidden', () => {
    const s = status([{ field: 'spec.schedule', message: 'bad cron' }], 1, { suspended: 'SpecSuspended' });
    expect(health({ metadata: { generation: 1 }, status: s }).status).toBe('Degraded');
  });
  test('Suspended=True of an older generation does not count: Progressing until observed', () => {
    const s = status([], 1, { suspended: 'SpecSuspended' });
    expect(health({ metadata: { generation: 2 }, status: s }).status).toBe('Progressing');
  });
});
