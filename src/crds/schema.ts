// Building blocks for CRD schemas. Every schema is written once with these helpers (TypeBox underneath) and then
// serves three purposes: the CRD's openAPIV3Schema (generated into config/crd), the TypeScript types (Static<>), and
// the ajv validator the controllers run before acting. The helpers only emit *structural* schemas (KEP-2335): a
// `type` on every node, no $ref/const/patternProperties/additionalProperties:false, anyOf only for int-or-string.
import { Type, type Static, type TSchema, type TProperties, type TObject, type TUnsafe } from '@sinclair/typebox';

export type { Static, TSchema };

export interface Validation {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  messageExpression?: string;
}

interface Common {
  /** Shown by `kubectl explain`; required on every field. */
  description: string;
  validations?: Validation[];
}

function extra(o: Common): Record<string, unknown> {
  const out: Record<string, unknown> = { description: o.description };
  if (o.validations?.length) out['x-kubernetes-validations'] = o.validations;
  return out;
}

export interface StrOpts extends Common {
  default?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  format?: 'date-time' | 'byte' | 'uri' | 'hostname';
}
export const Str = (o: StrOpts) => {
  const { description: _d, validations: _v, ...rest } = o;
  return Type.String({ ...rest, ...extra(o) });
};

export interface IntOpts extends Common {
  default?: number;
  minimum?: number;
  maximum?: number;
  format?: 'int32' | 'int64';
}
export const Int = (o: IntOpts) => {
  const { description: _d, validations: _v, ...rest } = o;
  return Type.Integer({ format: 'int32', ...rest, ...extra(o) });
};

export interface NumOpts extends Common {
  default?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
}
export const Num = (o: NumOpts) => {
  const { description: _d, validations: _v, ...rest } = o;
  return Type.Number({ ...rest, ...extra(o) });
};

export const Bool = (o: Common & { default?: boolean }) => {
  const { description: _d, validations: _v, ...rest } = o;
  return Type.Boolean({ ...rest, ...extra(o) });
};

/** A string enum, emitted as {type: string, enum: [...]} (TypeBox's Union of Literals is not structural). */
export const Enum = <const T extends readonly string[]>(
  values: T,
  o: Common & { default?: T[number] },
): TUnsafe<T[number]> =>
  Type.Unsafe<T[number]>({
    type: 'string',
    enum: [...values],
    ...(o.default !== undefined ? { default: o.default } : {}),
    ...extra(o),
  });

export interface ObjOpts extends Common {
  /** Defaulting an object to {} makes the API server fill in its children's defaults when the object is omitted. */
  default?: Record<string, unknown>;
  minProperties?: number;
}
export const Obj = <P extends TProperties>(props: P, o: ObjOpts): TObject<P> => {
  const { description: _d, validations: _v, ...rest } = o;
  return Type.Object(props, { ...rest, ...extra(o) });
};

export interface ArrOpts extends Common {
  minItems?: number;
  maxItems?: number;
  listType?: 'atomic' | 'set' | 'map';
  listMapKeys?: string[];
}
export const Arr = <T extends TSchema>(items: T, o: ArrOpts) => {
  const { description: _d, validations: _v, listType, listMapKeys, ...rest } = o;
  return Type.Array(items, {
    ...rest,
    ...extra(o),
    ...(listType ? { 'x-kubernetes-list-type': listType } : {}),
    ...(listMapKeys ? { 'x-kubernetes-list-map-keys': listMapKeys } : {}),
  });
};

/** map[string]T: {type: object, additionalProperties: T} (Type.Record would emit patternProperties). */
export const StrMap = <T extends TSchema>(
  values: T,
  o: Common & { maxProperties?: number },
): TUnsafe<Record<string, Static<T>>> => {
  const { description: _d, validations: _v, ...rest } = o;
  return Type.Unsafe<Record<string, Static<T>>>({ type: 'object', additionalProperties: values, ...rest, ...extra(o) });
};

/** A Kubernetes resource.Quantity ("500m", "256Mi", 2): int-or-string with the quantity pattern. */
export const Quantity = (o: Common & { default?: string }): TUnsafe<string | number> =>
  Type.Unsafe<string | number>({
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern:
      '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
    ...(o.default !== undefined ? { default: o.default } : {}),
    ...extra(o),
  });

/** Free-form JSON kept as is (e.g. an HPA `behavior` passed through). */
export const Passthrough = (o: Common): TUnsafe<Record<string, unknown>> =>
  Type.Unsafe<Record<string, unknown>>({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true, ...extra(o) });

export const Optional = Type.Optional;

/** A Go-style duration ("720h", "90m", "1h30m"), as cert-manager and metav1.Duration accept. */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$';
export const Duration = (o: Common & { default?: string }) => Str({ ...o, pattern: DURATION_PATTERN, maxLength: 32 });

/** An RFC 1123 DNS label: names of namespaces, Services, containers. */
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** An RFC 1123 subdomain: names of most objects (Secrets, Deployments, custom resources). */
export const DNS_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

export const ObjectName = (description: string) =>
  Str({ description, pattern: DNS_SUBDOMAIN_PATTERN, minLength: 1, maxLength: 253 });

/** A cron expression of five fields, or a predefined schedule (@daily...). Semantic checks run in the controller. */
export const CRON_PATTERN = '^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\\S+\\s+){4}\\S+)$';
export const Cron = (description: string) => Str({ description, pattern: CRON_PATTERN, minLength: 1, maxLength: 100 });

/** A reference to one key of a Secret in the resource's namespace. */
export const SecretKeyRef = (description: string, defaultKey?: string) =>
  Obj(
    {
      name: ObjectName('Name of the Secret, in the same namespace as this resource.'),
      key: Optional(
        Str({
          description: `Key inside the Secret${defaultKey ? `; defaults to "${defaultKey}"` : ''}.`,
          maxLength: 253,
          ...(defaultKey ? { default: defaultKey } : {}),
        }),
      ),
    },
    { description },
  );

/** A reference to a whole Secret in the resource's namespace. */
export const SecretRef = (description: string) =>
  Obj({ name: ObjectName('Name of the Secret, in the same namespace as this resource.') }, { description });

/** Condition, as metav1.Condition. */
export const ConditionSchema = Obj(
  {
    type: Str({ description: 'Type of the condition in CamelCase, e.g. Ready.', maxLength: 316, minLength: 1 }),
    status: Enum(['True', 'False', 'Unknown'] as const, { description: 'Status of the condition.' }),
    reason: Str({ description: 'A CamelCase reason for the last transition.', maxLength: 1024, minLength: 1 }),
    message: Str({ description: 'A human-readable message about the last transition.', maxLength: 32768 }),
    observedGeneration: Optional(
      Int({ description: 'The metadata.generation the condition was set for.', minimum: 0, format: 'int64' }),
    ),
    lastTransitionTime: Str({ description: 'When the status last changed (RFC 3339).', format: 'date-time' }),
  },
  { description: 'One aspect of the current state, in the Kubernetes API conventions.' },
);

/** The status fields every kind shares (the kstatus contract). */
export const commonStatus = {
  observedGeneration: Optional(
    Int({ description: 'The metadata.generation the controller last acted on.', minimum: 0, format: 'int64' }),
  ),
  conditions: Optional(
    Arr(ConditionSchema, {
      description: 'Ready, Reconciling and Stalled, plus kind-specific conditions; keyed by type.',
      listType: 'map',
      listMapKeys: ['type'],
      maxItems: 16,
    }),
  ),
};
