import { describe, expect, test } from '@jest/globals';
import { TokenBucket } from './ratelimit.js';

describe('TokenBucket', () => {
  test('allows a burst, then spaces requests at 1/qps', () => {
    const now = 0;
    const b = new TokenBucket(10, 3, () => now);
    expect([b.reserve(), b.reserve(), b.reserve()]).toEqual([0, 0, 0]);
    expect(b.reserve()).toBeCloseTo(100);
    expect(b.reserve()).toBeCloseTo(200);
  });
  test('refills with time but never above the burst', () => {
    let now = 0;
    const b = new TokenBucket(10, 2, () => now);
    b.reserve();
    b.reserve();
    now = 10_000;
    expect([b.reserve(), b.reserve()]).toEqual([0, 0]);
    expect(b.reserve()).toBeCloseTo(100);
  });
  test('rejects nonsense limits', () => {
    expect(() => new TokenBucket(0, 1)).toThrow('invalid rate limit qps=0 burst=1');
  });
});
