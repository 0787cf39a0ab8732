// The manifest: the one proof that a backup is good. The agent writes it next to the dump only after pg_dump exited
// 0, the dump was complete (plain: pg_dump's completion marker; custom: every data block the archive's TOC announces),
// the upload finished, and the object read back from S3 has the streamed size (and, with --verify=full, the streamed
// sha256). Readers (restore, verify, the BackupSchedule controller, retention) validate it against this schema.
import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';

const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

export const MANIFEST_API_VERSION = 'backup.ops.smartcloudops.ai/v1';
export const MANIFEST_KIND = 'BackupManifest';

export const Manifest = Type.Object(
  {
    apiVersion: Type.Literal(MANIFEST_API_VERSION),
    kind: Type.Literal(MANIFEST_KIND),
    schedule: Type.String({ minLength: 1, maxLength: 253, description: 'Schedule (folder) the backup belongs to.' }),
    runId: Type.String({ minLength: 1, maxLength: 63 }),
    bucket: Type.String({ minLength: 1 }),
    key: Type.String({ minLength: 1, description: 'Key of the dump object.' }),
    format: Type.Union([Type.Literal('plain'), Type.Literal('custom')]),
    compression: Type.Union([Type.Literal('gzip'), Type.Literal('pg_dump')], {
      description: 'gzip: the whole object is a gzip stream; pg_dump: the custom archive compresses its data blocks.',
    }),
    size: Type.Integer({ minimum: 1, description: 'Bytes of the dump object.' }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'sha256 of the dump object, hex.' }),
    database: Type.Object(
      {
        name: Type.String({ minLength: 1 }),
        serverVersion: Type.String({ minLength: 1 }),
        serverVersionNum: Type.Integer({ minimum: 10000 }),
      },
      { additionalProperties: false },
    ),
    pgDumpVersion: Type.String({ minLength: 1 }),
    startedAt: Type.String({ format: 'date-time' }),
    completedAt: Type.String({ format: 'date-time' }),
    durationSeconds: Type.Number({ minimum: 0 }),
    agentVersion: Type.String({ minLength: 1 }),
    verification: Type.Union([Type.Literal('size'), Type.Literal('full')], {
      description: 'size: HEAD matched the streamed size; full: the object was read back and re-hashed as well.',
    }),
    serverSideEncryption: Type.Optional(Type.Union([Type.Literal('AES256'), Type.Literal('aws:kms')])),
  },
  { additionalProperties: false },
);
export type Manifest = Static<typeof Manifest>;

const ajv = new Ajv({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv) => void)(ajv);
const validate = ajv.compile<Manifest>(Manifest);

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
  return value;
}

export function serializeManifest(m: Manifest): string {
  if (!validate(m)) throw new Error(`refusing to write an invalid manifest: ${ajv.errorsText(validate.errors)}`);
  return `${JSON.stringify(m, null, 2)}\n`;
}
