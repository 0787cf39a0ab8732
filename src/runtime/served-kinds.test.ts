import { describe, expect, test } from '@jest/globals';
import type { KubeObject, ResourceRef } from '../kube/index.js';
import { crdServes, shrinkCrd } from './served-kinds.js';

const ref: ResourceRef = {
  group: 'monitoring.coreos.com',
  version: 'v1',
  plural: 'prometheusrules',
  kind: 'PrometheusRule',
  namespaced: true,
};

function crd(o: { versions?: { name: string; served: boolean }[]; established?: string; deleting?: boolean } = {}) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: 'prometheusrules.monitoring.coreos.com',
      uid: 'u',
      resourceVersion: '7',
      ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
      managedFields: [{ manager: 'kubectl' }],
    },
    spec: {
      group: 'monitoring.coreos.com',
      names: { kind: 'PrometheusRule', plural: 'prometheusrules', listKind: 'PrometheusRuleList' },
      scope: 'Namespaced',
      versions: (o.versions ?? [{ name: 'v1', served: true }]).map((v) => ({
        ...v,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object', description: 'x'.repeat(10_000) } },
      })),
    },
    status: {
      conditions: [
        { type: 'NamesAccepted', status: 'True' },
        { type: 'Established', status: o.established ?? 'True' },
      ],
      acceptedNames: { kind: 'PrometheusRule' },
    },
  } as unknown as KubeObject;
}

describe('served kinds', () => {
  test('served: the version served and the CRD Established', () => {
    expect(crdServes(crd(), ref)).toBe(true);
    expect(crdServes(shrinkCrd(crd()), ref)).toBe(true);
  });
  test.each([
    ['absent', undefined],
    ['not Established yet', crd({ established: 'False' })],
    ['being deleted', crd({ deleting: true })],
    ['the version not served', crd({ versions: [{ name: 'v1', served: false }] })],
    ['only another version', crd({ versions: [{ name: 'v1alpha1', served: true }] })],
  ])('not served when %s', (_what, obj) => {
    expect(crdServes(obj, ref)).toBe(false);
    if (obj) expect(crdServes(shrinkCrd(obj), ref)).toBe(false);
  });
  test('another kind in the same group is not this one', () => {
    expect(crdServes(crd(), { ...ref, kind: 'ServiceMonitor', plural: 'servicemonitors' })).toBe(false);
  });
  test('the cached copy keeps only what is read (no schema, no managedFields)', () => {
    const small = shrinkCrd(crd());
    expect(JSON.stringify(small).length).toBeLessThan(600);
    expect(small).toEqual({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'prometheusrules.monitoring.coreos.com', uid: 'u', resourceVersion: '7' },
      spec: {
        group: 'monitoring.coreos.com',
        names: { kind: 'PrometheusRule', plural: 'prometheusrules' },
        versions: [{ name: 'v1', served: true }],
      },
      status: { conditions: [{ type: 'Established', status: 'True' }] },
    });
  });
});
