// docs/argocd/health.lua, run by a real Lua 5.4 (the language Argo CD embeds) against objects shaped like the
// status the controllers write.
import { describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../hack/cluster/config.js';
import { decideStatus } from './controllers/status.js';

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
const status = (errors: { field: string; message: string }[], generation = 1) =>
  decideStatus({
    kind: 'BackupSchedule',
    generation,
    previous: undefined,
    errors,
    paused: false,
    now,
    readyMessage: 'spec is valid',
  }).status;

describe('Argo CD health.lua', () => {
  test('no status yet: Progressing', () => {
    expect(health({ metadata: { generation: 1 } }).status).toBe('Progressing');
  });
  test('Ready for the current generation: Healthy', () => {
    expect(health({ metadata: { generation: 1 }, status: status([]) })).toEqual({
      status: 'Healthy',
      message: 'Reconciled: spec is valid',
    });
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
    const s = status([]) as { conditions: { type: string; status: string; reason: string }[] };
    const reconciling = s.conditions.find((c) => c.type === 'Reconciling');
    if (reconciling) Object.assign(reconciling, { status: 'True', reason: 'Progressing' });
    const ready = s.conditions.find((c) => c.type === 'Ready');
    if (ready) Object.assign(ready, { status: 'False', reason: 'Progressing' });
    expect(health({ metadata: { generation: 1 }, status: s }).status).toBe('Progressing');
  });
  test('paused by annotation: Suspended', () => {
    const obj = {
      metadata: { generation: 1, annotations: { 'ops.smartcloudops.ai/reconcile-paused': 'true' } },
      status: status([]),
    };
    expect(health(obj).status).toBe('Suspended');
  });
});
