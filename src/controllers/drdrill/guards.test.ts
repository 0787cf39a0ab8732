import { describe, expect, test } from '@jest/globals';
import type { KubeObject } from '../../kube/index.js';
import {
  DRILL_UID_LABEL,
  drDatabaseFor,
  drNamespaceFor,
  drNamespaceLabels,
  mayDeleteNamespace,
  namespaceVerdict,
  provenNotProduction,
} from './guards.js';

const ns = (name: string, labels: Record<string, string> = {}, deleting = false): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels, ...(deleting ? { deletionTimestamp: '2026-11-29T00:00:00Z' } : {}) },
});
const drill = { namespace: 'shop', name: 'monthly', uid: 'uid-1' };

describe('the DR namespace is derived, never chosen', () => {
  test('deterministic, distinct per drill, a valid DNS label', () => {
    const a = drNamespaceFor('shop', 'monthly');
    expect(a).toMatch(/^shop-dr-[0-9a-f]{8}$/);
    expect(drNamespaceFor('shop', 'monthly')).toBe(a);
    expect(drNamespaceFor('shop', 'weekly')).not.toBe(a);
    // "a" + drill "b-dr-c" and "a-dr-b" + drill "c" would collide with a plain concatenation; the hash does not.
    expect(drNamespaceFor('a', 'b-dr-c')).not.toBe(drNamespaceFor('a-dr-b', 'c'));
  });

  test('a 63-character namespace still yields a DNS label of at most 63 characters', () => {
    const long = `${'x'.repeat(50)}-${'y'.repeat(12)}`;
    const d = drNamespaceFor(long, 'drill');
    expect(d.length).toBeLessThanOrEqual(63);
    expect(d).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(d).not.toContain('--');
  });

  test('labels name the drill by uid', () => {
    expect(drNamespaceLabels(drill)).toMatchObject({
      [DRILL_UID_LABEL]: 'uid-1',
      'ops.smartcloudops.ai/drill': 'monthly',
    });
  });
});

describe('a drill uses and deletes only a namespace it created', () => {
  const dr = drNamespaceFor('shop', 'monthly');
  test.each([
    ['absent', undefined, 'create'],
    ['ours', ns(dr, { [DRILL_UID_LABEL]: 'uid-1' }), 'use'],
    ['another drill of the same name (recreated: another uid)', ns(dr, { [DRILL_UID_LABEL]: 'uid-0' }), 'refuse'],
    ['a team namespace with that name, unlabelled', ns(dr), 'refuse'],
    ['ours, still terminating', ns(dr, { [DRILL_UID_LABEL]: 'uid-1' }, true), 'refuse'],
  ] as const)('%s → %s', (_what, existing, action) => {
    expect(namespaceVerdict(dr, existing, drill).action).toBe(action);
  });

  test('protected names are refused even when absent or labelled', () => {
    for (const name of ['shop', 'kube-system', 'argocd', 'default', 'operators']) {
      const v = namespaceVerdict(name, ns(name, { [DRILL_UID_LABEL]: 'uid-1' }), drill, 'operators');
      expect(v).toMatchObject({ action: 'refuse', reason: 'NamespaceProtected' });
    }
  });

  test('the refusal says why and names the label', () => {
    const v = namespaceVerdict(dr, ns(dr), drill);
    expect(v).toMatchObject({ reason: 'NamespaceNotOwned' });
    expect(v.action === 'refuse' && v.message).toContain(`${DRILL_UID_LABEL}=uid-1`);
  });

  test('deletion needs the label AND the record in status', () => {
    const labelled = ns(dr, { [DRILL_UID_LABEL]: 'uid-1' });
    expect(mayDeleteNamespace(labelled, 'uid-1', [dr])).toBe(true);
    expect(mayDeleteNamespace(labelled, 'uid-1', [])).toBe(false);
    expect(mayDeleteNamespace(ns(dr), 'uid-1', [dr])).toBe(false);
    expect(mayDeleteNamespace(ns(dr, { [DRILL_UID_LABEL]: 'uid-2' }), 'uid-1', [dr])).toBe(false);
    expect(mayDeleteNamespace(undefined, 'uid-1', [dr])).toBe(false);
  });
});

describe('the restore target is proven not to be production', () => {
  const prod = { systemIdentifier: '7001', databaseOid: 16384, database: 'shop' };
  test.each([
    ['another server', { systemIdentifier: '7002', databaseOid: 16384, database: 'shop' }, true],
    ['same server, another database', { systemIdentifier: '7001', databaseOid: 20000, database: 'scodr_x' }, true],
    ['the production database through another address', { ...prod }, false],
    ['same server, same oid, another name (renamed)', { ...prod, database: 'shop_old' }, false],
    ['same server, same name, another oid (dropped and re-created)', { ...prod, databaseOid: 1 }, false],
  ] as const)('%s → %s', (_what, target, ok) => {
    const v = provenNotProduction(prod, target);
    expect(v.ok).toBe(ok);
    if (!v.ok) expect(v.message).toContain('never restores into production');
  });

  test('the DR database name is derived per run and a valid identifier', () => {
    const a = drDatabaseFor('shop', 'monthly', '20261201T040000Z');
    expect(a).toMatch(/^scodr_[0-9a-f]{8}_20261201t040000z$/);
    expect(a.length).toBeLessThanOrEqual(63);
    expect(drDatabaseFor('shop', 'monthly', 'other')).not.toBe(a);
  });
});
