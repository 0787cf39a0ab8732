// The manifest: the one proof that a backup is good. The agent writes it next to the dump only after pg_dump exited
// 0, the dump was complete (plain: pg_dump's completion marker; custom: every data block the archive's TOC announces),
// the upload finished, and the object read back from S3 has the streamed size (and, with --verify=full, the streamed
// sha256). Readers (restore, verify, the BackupSchedule controller, retention) validate it against this schema.
//
// Parts (added compatibly: a manifest without `parts` is a database backup as before and still parses). A run may
// back up several parts, each its own object next to the manifest with its own entry in `parts` (name, kind, key,
// size, sha256): `database` (the dump; its entry repeats the top-level key/size/sha256, which stay for readers that
// know only those), `configmaps` (the namespace's ConfigMaps as gzip'd YAML), `secrets` (its Secrets as gzip'd YAML,
// then AES-256-GCM: crypto.ts) and `data/<name>` (a directory as tar.gz). A run without the database part has no
// top-level dump fields. The same checks cover every part: all of them uploaded and read back before the manifest.
import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';

const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

export const MANIFEST_API_VERSION = 'backup.ops.smartcloudops.ai/v1';
export const MANIFEST_KIND = 'BackupManifest';

export const PartKind = Type.Union([
  Type.Literal('database'),
  Type.Literal('configmaps'),
  Type.Literal('secrets'),
  Type.Literal('data'),
]);
export type PartKind = Static<typeof PartKind>;

export const ManifestPart = Type.Object(
  {
    name: Type.String({
      pattern: '^(database|configmaps|secrets|data/[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$',
      description: 'database, configmaps, secrets, or data/<name> (a --data-dir).',
    }),
    kind: PartKind,
    key: Type.String({ minLength: 1 }),
    size: Type.Integer({ minimum: 1, description: 'Bytes of the object.' }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'sha256 of the object as stored, hex.' }),
    contentType: Type.String({ minLength: 1 }),
    encoding: Type.Union(
      [Type.Literal('gzip'), Type.Literal('pg_dump'), Type.Literal('tar+gzip'), Type.Literal('gzip+aes-256-gcm')],
      { description: 'How the object is made: gzip of the content, a pg_dump archive, or gzip then encryption.' },
    ),
    source: Type.Optional(Type.String({ description: 'The namespace (configmaps, secrets) or path (data) read.' })),
    items: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Objects (configmaps, secrets) or files (data) in the part.' }),
    ),
    encryption: Type.Optional(
      Type.Object(
        {
          algorithm: Type.Literal('AES-256-GCM-STREAM-64K'),
          keyId: Type.String({ pattern: '^[0-9a-f]{16}$', description: 'Fingerprint of the key (not the key).' }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ManifestPart = Static<typeof ManifestPart>;

export const Manifest = Type.Object(
  {
    apiVersion: Type.Literal(MANIFEST_API_VERSION),
    kind: Type.Literal(MANIFEST_KIND),
    schedule: Type.String({ minLength: 1, maxLength: 253, description: 'Schedule (folder) the backup belongs to.' }),
    runId: Type.String({ minLength: 1, maxLength: 63 }),
    bucket: Type.String({ minLength: 1 }),
    // The dump's fields: required without `parts`, present exactly when `parts` has the database part.
    key: Type.Optional(Type.String({ minLength: 1, description: 'Key of the dump object.' })),
    format: Type.Optional(Type.Union([Type.Literal('plain'), Type.Literal('custom')])),
    compression: Type.Optional(
      Type.Union([Type.Literal('gzip'), Type.Literal('pg_dump')], {
        description: 'gzip: the whole object is a gzip stream; pg_dump: the custom archive compresses its data blocks.',
      }),
    ),
    size: Type.Optional(Type.Integer({ minimum: 1, description: 'Bytes of the dump object.' })),
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$', description: 'sha256 of the dump object, hex.' })),
    database: Type.Optional(
      Type.Object(
        {
          name: Type.String({ minLength: 1 }),
          serverVersion: Type.String({ minLength: 1 }),
          serverVersionNum: Type.Integer({ minimum: 10000 }),
        },
        { additionalProperties: false },
      ),
    ),
    pgDumpVersion: Type.Optional(Type.String({ minLength: 1 })),
    startedAt: Type.String({ format: 'date-time' }),
    completedAt: Type.String({ format: 'date-time' }),
    durationSeconds: Type.Number({ minimum: 0 }),
    agentVersion: Type.String({ minLength: 1 }),
    verification: Type.Union([Type.Literal('size'), Type.Literal('full')], {
      description: 'size: HEAD matched the streamed size; full: the object was read back and re-hashed as well.',
    }),
    serverSideEncryption: Type.Optional(Type.Union([Type.Literal('AES256'), Type.Literal('aws:kms')])),
    parts: Type.Optional(Type.Array(ManifestPart, { minItems: 1, maxItems: 64 })),
  },
  { additionalProperties: false },
);
export type Manifest = Static<typeof Manifest>;

const ajv = new Ajv({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv) => void)(ajv);
const validate = ajv.compile<Manifest>(Manifest);

const DUMP_FIELDS = ['key', 'format', 'compression', 'size', 'sha256', 'database', 'pgDumpVersion'] as const;

/** The checks a JSON schema cannot express here: the dump fields against the parts. Returns the problems. */
function crossCheck(m: Manifest): string[] {
  const problems: string[] = [];
  const db = m.parts?.find((p) => p.kind === 'database');
  if (!m.parts || db) {
    for (const f of DUMP_FIELDS) {
      if (m[f] === undefined) problems.push(`/ must have required property '${f}'`);
    }
  } else {
    for (const f of DUMP_FIELDS) {
      if (m[f] !== undefined) problems.push(`/${f} must not be set without a database part`);
    }
  }
  if (db && (db.key !== m.key || db.size !== m.size || db.sha256 !== m.sha256 || db.name !== 'database')) {
    problems.push('/parts: the database part must repeat the top-level key, size and sha256');
  }
  if (m.parts) {
    const names = new Set(m.parts.map((p) => p.name));
    const keys = new Set(m.parts.map((p) => p.key));
    if (names.size !== m.parts.length || keys.size !== m.parts.length) problems.push('/parts names and keys repeat');
    for (const p of m.parts) {
      const expected = p.name.startsWith('data/') ? 'data' : p.name;
      if (p.kind !== expected) problems.push(`/parts ${p.name} must be of kind ${expected}`);
      if ((p.kind === 'secrets') !== (p.encryption !== undefined)) {
        problems.push(`/parts ${p.name}: secrets, and only secrets, are encrypted`);
      }
    }
  }
  return problems;
}

/** The dump of a manifest that has one (every manifest without parts does). */
export interface DatabaseDump {
  key: string;
  format: 'plain' | 'custom';
  compression: 'gzip' | 'pg_dump';
  size: number;
  sha256: string;
  database: NonNullable<Manifest['database']>;
  pgDumpVersion: string;
}

export function databaseDump(m: Manifest): DatabaseDump | undefined {
  if (m.key === undefined || m.format === undefined || m.size === undefined || m.sha256 === undefined) {
    return undefined;
  }
  return {
    key: m.key,
    format: m.format,
    compression: m.compression!,
    size: m.size,
    sha256: m.sha256,
    database: m.database!,
    pgDumpVersion: m.pgDumpVersion!,
  };
}

/** Every part of a manifest; a manifest written before parts existed has its dump as the one part. */
export function manifestParts(m: Manifest): ManifestPart[] {
  if (m.parts) return m.parts;
  const d = databaseDump(m)!;
  return [
    {
      name: 'database',
      kind: 'database',
      key: d.key,
      size: d.size,
      sha256: d.sha256,
      contentType: d.format === 'plain' ? 'application/gzip' : 'application/octet-stream',
      encoding: d.format === 'plain' ? 'gzip' : 'pg_dump',
    },
  ];
}

/** Parses and validates a manifest; throws an Error naming every problem. */
export function parseManifest(text: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`manifest is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!validate(value)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
    throw new Error(`manifest does not match ${MANIFEST_KIND} ${MANIFEST_API_VERSION}: ${problems.join('; ')}`);
  }
  const problems = crossCheck(value);
  if (problems.length) {
    throw new Error(`manifest does not match ${MANIFEST_KIND} ${MANIFEST_API_VERSION}: ${problems.join('; ')}`);
  }
  return value;
}

export function serializeManifest(m: Manifest): string {
  if (!validate(m)) throw new Error(`refusing to write an invalid manifest: ${ajv.errorsText(validate.errors)}`);
  const problems = crossCheck(m);
  if (problems.length) throw new Error(`refusing to write an invalid manifest: ${problems.join('; ')}`);
  return `${JSON.stringify(m, null, 2)}\n`;
}
