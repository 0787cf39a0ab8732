import { describe, expect, test } from '@jest/globals';
import { ReconnectBackoff } from './backoff.js';

describe('ReconnectBackoff', () => {
  test('grows from base to max with jitter in the upper half, and resets', () => {
    const b = new ReconnectBackoff(1000, 8000, () => 0);
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([500, 1000, 2000, 4000, 4000]);
    b.reset();
    expect(b.next()).toBe(500);
    const hi = new ReconnectBackoff(1000, 8000, () => 0.999999);
    expect(hi.next()).toBe(1000);
  });
});
