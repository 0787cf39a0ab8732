import { describe, expect, test } from '@jest/globals';
import { peakRssBytes, terminationMessage } from './run.js';

describe('termination message', () => {
  const base = { result: 'Failed', command: 'backup', reason: 'DumpFailed', exitCode: 5, manifestKey: 'k' };
  test('the whole result line when it fits', () => {
    expect(JSON.parse(terminationMessage({ ...base, message: 'short' }))).toEqual({ ...base, message: 'short' });
  });
  test('a long message is cut first, then the parts list becomes names, then goes; always within the limit', () => {
    const long = terminationMessage({ ...base, message: 'x'.repeat(10_000) });
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(4096);
    expect(JSON.parse(long)).toMatchObject({ ...base, message: expect.stringMatching(/^x+… \(cut\)$/) });
    const parts = Array.from({ length: 40 }, (_, i) => ({
      name: `data/d${i}`,
      key: 'k'.repeat(150),
      sha256: 'a'.repeat(64),
    }));
    const named = JSON.parse(terminationMessage({ ...base, parts }));
    expect(named.parts).toEqual(parts.map((p) => p.name));
    const tiny = JSON.parse(terminationMessage({ ...base, parts, extra: 'e'.repeat(300) }, 400));
    expect(tiny).toEqual(base);
  });
  test('peak RSS is this process own high-water mark', () => {
    const hwm = peakRssBytes();
    expect(hwm).toBeGreaterThanOrEqual(process.memoryUsage().rss * 0.5);
    expect(hwm).toBeLessThan(4 * 1024 ** 3);
  });
});
