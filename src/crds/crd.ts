// Turns the kind definitions into apiextensions.k8s.io/v1 CustomResourceDefinitions, and checks that every schema
// is structural and documented before it leaves the building.
import { CATEGORY, GROUP, KINDS, VERSION, type KindDef, type KindName, type PrinterColumn } from './kinds.js';
import type { TSchema } from './schema.js';

type Json = Record<string, unknown>;

/** A plain JSON copy of a TypeBox schema (drops TypeBox's symbol keys). */
export function toJsonSchema(s: TSchema): Json {
  return JSON.parse(JSON.stringify(s)) as Json;
}

export function openApiSchema(def: KindDef): Json {
  return {
    type: 'object',
    description: def.description,
    required: ['spec'],
    properties: {
      apiVersion: {
        type: 'string',
        description: 'APIVersion defines the versioned schema of this representation of an object.',
      },
      kind: {
        type: 'string',
        description: 'Kind is a string value representing the REST resource this object represents.',
      },
      metadata: { type: 'object' },
      spec: toJsonSchema(def.spec),
      status: toJsonSchema(def.status),
    },
  };
}

/** The Suspended condition as a column: shown by default for kinds with a suspend switch in the spec. */
function suspendedColumn(def: KindDef): PrinterColumn {
  const by = def.suspendField ? `${def.suspendField} or ` : '';
  return {
    name: 'Suspended',
    type: 'string',
    jsonPath: '.status.conditions[?(@.type=="Suspended")].status',
    description: `Suspended condition status: True when suspended by ${by}the reconcile-paused annotation.`,
    ...(def.suspendField ? {} : { priority: 1 }),
  };
}

export function buildCrd(name: KindName): Json {
  const def: KindDef = KINDS[name];
  const ready = '.status.conditions[?(@.type=="Ready")]';
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${def.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'smartcloudops-operator', 'app.kubernetes.io/part-of': 'smartcloudops' },
    },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: [CATEGORY],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: `${ready}.status`, description: 'Ready condition status.' },
            { name: 'Reason', type: 'string', jsonPath: `${ready}.reason`, description: 'Ready condition reason.' },
            def.keyColumn,
            ...((def as KindDef).extraColumns ?? []),
            suspendedColumn(def),
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: { openAPIV3Schema: openApiSchema(def) },
        },
      ],
    },
  };
}

const FORBIDDEN = [
  '$ref',
  '$schema',
  '$id',
  'const',
  'patternProperties',
  'definitions',
  '$defs',
  'oneOf',
  'allOf',
  'not',
];

/**
 * Violations of the structural-schema rules (KEP-2335) and of our own rule that every field is described.
 * Returns one message per violation, each naming the path.
 */
export function structuralViolations(schema: Json, path = ''): string[] {
  const out: string[] = [];
  const at = path || '<root>';
  for (const key of FORBIDDEN) if (key in schema) out.push(`${at}: "${key}" is not allowed in a structural schema`);
  const intOrString = schema['x-kubernetes-int-or-string'] === true;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (!('type' in schema) && !intOrString && !preserve) out.push(`${at}: no "type"`);
  if ('anyOf' in schema) {
    if (!intOrString) out.push(`${at}: anyOf is only allowed for int-or-string`);
    for (const branch of schema.anyOf as Json[]) {
      for (const k of ['description', 'default', 'nullable', 'additionalProperties', 'properties']) {
        if (k in branch) out.push(`${at}: "${k}" inside anyOf`);
      }
    }
  }
  if ('properties' in schema && 'additionalProperties' in schema) {
    out.push(`${at}: properties and additionalProperties are mutually exclusive`);
  }
  if (schema.additionalProperties === false) out.push(`${at}: additionalProperties: false is not allowed`);
  if (schema.type === 'array' && !schema.items) out.push(`${at}: array without items`);
  const props = (schema.properties ?? {}) as Record<string, Json>;
  for (const [k, v] of Object.entries(props)) {
    const p = path ? `${path}.${k}` : k;
    const underMetadataOrTop = path === '' && ['apiVersion', 'kind', 'metadata'].includes(k);
    if (!underMetadataOrTop && typeof v.description !== 'string') out.push(`${p}: no description`);
    if (!(path === '' && k === 'metadata')) out.push(...structuralViolations(v, p));
  }
  if (schema.items && typeof schema.items === 'object')
    out.push(...structuralViolations(schema.items as Json, `${path}[]`));
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    out.push(...structuralViolations(schema.additionalProperties as Json, `${path}{}`));
  }
  for (const key of Object.keys(schema)) {
    if (!KNOWN_KEYWORDS.has(key)) out.push(`${at}: unknown keyword "${key}"`);
  }
  return out;
}

const KNOWN_KEYWORDS = new Set([
  'type',
  'description',
  'properties',
  'required',
  'items',
  'additionalProperties',
  'default',
  'enum',
  'format',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'anyOf',
  'nullable',
  'x-kubernetes-validations',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
]);
