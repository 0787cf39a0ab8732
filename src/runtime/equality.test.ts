import { describe, expect, test } from '@jest/globals';
import { isSubset, jsonEqual } from './equality.js';

describe('equality', () => {
  test('jsonEqual ignores key order and undefined fields', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1, d: undefined })).toBe(true);
    expect(jsonEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: '1' })).toBe(false);
  });
  test('isSubset tolerates server-filled fields but not differing values', () => {
    expect(isSubset({ spec: { replicas: 2 } }, { spec: { replicas: 2, strategy: {} }, status: {} })).toBe(true);
    expect(isSubset({ spec: { replicas: 2 } }, { spec: { replicas: 3 } })).toBe(false);
    expect(isSubset({ a: [1] }, { a: [1, 2] })).toBe(false);
  });
});
