import { describe, expect, test } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { outOfDate } from '../../hack/generate.js';
import { repoRoot } from '../../hack/cluster/config.js';
import { buildCrd, openApiSchema, structuralViolations } from './crd.js';
import { KIND_NAMES, KINDS, type KindDef, type KindName } from './kinds.js';
import { validateSpec } from './validate.js';

describe('CRD generation', () => {
  test('the checked-in CRD and RBAC YAML match what the sources generate (run npm run generate)', () => {
    expect(outOfDate()).toEqual([]);
  });

  test.each(KIND_NAMES)('%s: the schema is structural and every field has a description', (k) => {
    expect(structuralViolations(openApiSchema(KINDS[k]))).toEqual([]);
  });

  test('the lint catches what the API server would reject', () => {
    expect(
      structuralViolations({
        type: 'object',
        properties: {
          a: { description: 'x', anyOf: [{ type: 'string' }, { type: 'integer' }] },
          b: { type: 'object', description: 'y', additionalProperties: false },
          c: { type: 'string' },
          d: { description: 'z', type: 'string', const: 'q' },
        },
      }),
    ).toEqual([
      'a: no "type"',
      'a: anyOf is only allowed for int-or-string',
      'b: additionalProperties: false is not allowed',
      'c: no description',
      'd: "const" is not allowed in a structural schema',
      'd: unknown keyword "const"',
    ]);
  });

  test.each(KIND_NAMES)('%s: names, category, status subresource and printer columns', (k) => {
    const crd = buildCrd(k) as { spec: { names: Record<string, unknown>; versions: Record<string, unknown>[] } };
    expect(crd.spec.names.categories).toEqual(['smartcloudops']);
    expect((crd.spec.names.shortNames as string[]).length).toBe(1);
    const v = crd.spec.versions[0] as {
      subresources: unknown;
      additionalPrinterColumns: { name: string; jsonPath: string; priority?: number }[];
    };
    expect(v.subresources).toEqual({ status: {} });
    expect(v.additionalPrinterColumns.map((c) => c.name)).toEqual([
      'Ready',
      'Reason',
      KINDS[k].keyColumn.name,
      ...((KINDS[k] as KindDef).extraColumns ?? []).map((c) => c.name),
      'Suspended',
      'Age',
    ]);
    // Suspended is a default column where the spec has a suspend switch, a wide one where only the annotation pauses.
    const suspended = v.additionalPrinterColumns.find((c) => c.name === 'Suspended');
    expect(suspended?.jsonPath).toBe('.status.conditions[?(@.type=="Suspended")].status');
    expect(suspended?.priority).toBe(
      ['SmartCloudOpsApp', 'BackupSchedule', 'ScalingPolicy'].includes(k) ? undefined : 1,
    );
  });
});

describe('samples', () => {
  const dir = join(repoRoot, 'config', 'samples');
  const docs = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as { kind: string; spec?: unknown }),
    );

  test('there is one sample per kind', () => {
    expect(
      docs
        .map((d) => d.kind)
        .filter((k) => k in KINDS)
        .sort(),
    ).toEqual([...KIND_NAMES].sort());
  });

  test.each(KIND_NAMES)('the %s sample passes the schema', (k) => {
    const doc = docs.find((d) => d.kind === k);
    expect(validateSpec(k as KindName, doc?.spec).errors).toEqual([]);
  });
});
