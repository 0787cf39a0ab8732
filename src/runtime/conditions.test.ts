import { describe, expect, test } from '@jest/globals';
import { setCondition } from './conditions.js';

const t1 = new Date('2026-01-01T00:00:00Z');
const t2 = new Date('2026-01-01T01:00:00Z');

describe('setCondition', () => {
  test('adds a condition with observedGeneration and a transition time', () => {
    expect(setCondition([], { type: 'Ready', status: 'True', reason: 'Ok', message: 'fine' }, 3, t1)).toEqual([
      {
        type: 'Ready',
        status: 'True',
        reason: 'Ok',
        message: 'fine',
        observedGeneration: 3,
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ]);
  });
  test('keeps lastTransitionTime when the status does not flip, even if reason and message change', () => {
    const a = setCondition([], { type: 'Ready', status: 'False', reason: 'A', message: 'a' }, 1, t1);
    const b = setCondition(a, { type: 'Ready', status: 'False', reason: 'B', message: 'b' }, 2, t2);
    expect(b[0]).toMatchObject({
      reason: 'B',
      message: 'b',
      observedGeneration: 2,
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });
  });
  test('moves lastTransitionTime on a flip and leaves other conditions alone', () => {
    const a = setCondition(
      setCondition([], { type: 'Stalled', status: 'False', reason: 'X', message: '' }, 1, t1),
      { type: 'Ready', status: 'False', reason: 'A', message: 'a' },
      1,
      t1,
    );
    const b = setCondition(a, { type: 'Ready', status: 'True', reason: 'Ok', message: 'ok' }, 1, t2);
    expect(b.map((c) => [c.type, c.lastTransitionTime])).toEqual([
      ['Stalled', '2026-01-01T00:00:00Z'],
      ['Ready', '2026-01-01T01:00:00Z'],
    ]);
    expect(a[1]?.status).toBe('False'); // the input was not modified
  });
  test('a message with credentials in a URL is stored redacted', () => {
    const [c] = setCondition(
      [],
      { type: 'Ready', status: 'False', reason: 'DatabaseUnreachable', message: 'postgres://app:pw@db:5432 refused' },
      1,
      t1,
    );
    expect(c?.message).toBe('postgres://[REDACTED]@db:5432 refused');
  });
});
