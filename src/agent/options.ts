// Command line and environment of the agent, parsed into one typed value (pure: argv and env in, options out).
// Each flag has an environment variable, so a Job can set everything through env (and secrets only through env:
// a password or secret key on the command line would show in `ps` and in the Pod spec, so there are no such flags).
//
//   smartcloudops-agent backup  --bucket B [--prefix P] --schedule S [--run-id R] [--format plain|custom] ...
//   smartcloudops-agent restore --bucket B --manifest KEY [--clean] [--jobs N] [--work-dir DIR] ...
//   smartcloudops-agent verify  --bucket B --manifest KEY
//   smartcloudops-agent decrypt --bucket B --manifest KEY [--part secrets] --out FILE [--encryption-key-file F]
//
// Parts of a backup (--parts database,config,data; default database): `config` exports the ConfigMaps of
// --config-namespace (src/kube: the pod's service account in-cluster, or --kubeconfig / KUBECONFIG), and its Secrets
// too with --secrets encrypted (AES-256-GCM with the 32-byte key in --encryption-key-file, a mounted Secret; the
// default --secrets exclude leaves them out); `data` archives each --data-dir name=path (repeatable; env
// BACKUP_DATA_DIRS=name=path,name=path) as tar.gz.
//
// Database: PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD or PGPASSWORD_FILE (a file holding the password, e.g. a
// mounted Secret), or DATABASE_URL (postgres://user:password@host:port/db?sslmode=…); other PG* variables (PGSSLMODE,
// PGSSLROOTCERT, PGCONNECT_TIMEOUT, …) are passed to the PostgreSQL tools unchanged.
// S3: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) when set, else the SDK's default chain (web
// identity through AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, container/instance credentials, profiles).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { AgentFailure } from './errors.js';
import { checkRunId, checkScheduleName, normalizePrefix, type DumpFormat } from './layout.js';

export type Command = 'backup' | 'restore' | 'verify' | 'decrypt';
export type BackupPart = 'database' | 'config' | 'data';
export interface DataDir {
  name: string;
  path: string;
}
export type Sse = 'AES256' | 'aws:kms';

export interface S3Options {
  bucket: string;
  prefix: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  sse?: Sse;
  sseKmsKeyId?: string;
  /** Explicit credentials from the environment; undefined → the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  maxAttempts: number;
  partSize: number;
  queueSize: number;
}

export interface DatabaseOptions {
  host?: string;
  port?: number;
  user?: string;
  database?: string;
  password?: string;
  /** Every PG* variable for the child processes (PGPASSWORD included when a password is known). */
  childEnv: Record<string, string>;
}

interface Common {
  s3: S3Options;
  db: DatabaseOptions;
  pgBin?: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
}
export interface BackupOptions extends Common {
  command: 'backup';
  schedule: string;
  runId: string;
  format: DumpFormat;
  compressLevel: number;
  verify: 'size' | 'full';
  lockWaitTimeoutSeconds?: number;
  parts: BackupPart[];
  /** With the config part: the namespace whose ConfigMaps (and Secrets) are exported. */
  configNamespace?: string;
  /** Kubeconfig path(s) for the config part; in-cluster (or KUBECONFIG from env) when unset. */
  kubeconfig?: string;
  secrets: 'exclude' | 'encrypted';
  encryptionKeyFile?: string;
  dataDirs: DataDir[];
}
export interface RestoreOptions extends Common {
  command: 'restore';
  manifest: string;
  clean: boolean;
  jobs: number;
  workDir: string;
  maintenanceWorkMem: string;
  /** Parallel ranged GETs staging a custom archive. */
  downloadStreams: number;
}
export interface VerifyOptions extends Common {
  command: 'verify';
  manifest: string;
}
export interface DecryptOptions extends Common {
  command: 'decrypt';
  manifest: string;
  /** configmaps, secrets or data/<name>. */
  part: string;
  out: string;
  encryptionKeyFile?: string;
}
export type AgentOptions = BackupOptions | RestoreOptions | VerifyOptions | DecryptOptions;

interface FlagDef {
  env?: string[];
  boolean?: boolean;
  commands?: Command[];
  /** May be given several times; the environment variable holds a comma-separated list. */
  repeatable?: boolean;
}

const FLAGS: Record<string, FlagDef> = {
  bucket: { env: ['S3_BUCKET'] },
  prefix: { env: ['S3_PREFIX'] },
  region: { env: ['AWS_REGION', 'AWS_DEFAULT_REGION'] },
  endpoint: { env: ['S3_ENDPOINT', 'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL'] },
  'force-path-style': { env: ['S3_FORCE_PATH_STYLE'], boolean: true },
  sse: { env: ['S3_SSE'] },
  'sse-kms-key-id': { env: ['S3_SSE_KMS_KEY_ID'] },
  's3-max-attempts': { env: ['S3_MAX_ATTEMPTS'] },
  'part-size-mib': { env: ['S3_PART_SIZE_MIB'] },
  'queue-size': { env: ['S3_QUEUE_SIZE'] },
  'pg-bin': { env: ['PG_BIN'] },
  'log-level': { env: ['LOG_LEVEL'] },
  schedule: { env: ['BACKUP_SCHEDULE'], commands: ['backup'] },
  'run-id': { env: ['BACKUP_RUN_ID'], commands: ['backup'] },
  format: { env: ['BACKUP_FORMAT'], commands: ['backup'] },
  'compress-level': { env: ['BACKUP_COMPRESS_LEVEL'], commands: ['backup'] },
  verify: { env: ['BACKUP_VERIFY'], commands: ['backup'] },
  'lock-wait-timeout': { env: ['BACKUP_LOCK_WAIT_TIMEOUT'], commands: ['backup'] },
  parts: { env: ['BACKUP_PARTS'], commands: ['backup'] },
  'config-namespace': { env: ['BACKUP_CONFIG_NAMESPACE'], commands: ['backup'] },
  kubeconfig: { env: ['KUBECONFIG'], commands: ['backup'] },
  secrets: { env: ['BACKUP_SECRETS'], commands: ['backup'] },
  'encryption-key-file': { env: ['BACKUP_ENCRYPTION_KEY_FILE'], commands: ['backup', 'decrypt'] },
  'data-dir': { env: ['BACKUP_DATA_DIRS'], commands: ['backup'], repeatable: true },
  part: { commands: ['decrypt'] },
  out: { commands: ['decrypt'] },
  manifest: { env: ['BACKUP_MANIFEST'], commands: ['restore', 'verify', 'decrypt'] },
  clean: { env: ['RESTORE_CLEAN'], boolean: true, commands: ['restore'] },
  jobs: { env: ['RESTORE_JOBS'], commands: ['restore'] },
  'work-dir': { env: ['RESTORE_WORK_DIR'], commands: ['restore'] },
  'maintenance-work-mem': { env: ['RESTORE_MAINTENANCE_WORK_MEM'], commands: ['restore'] },
  'download-streams': { env: ['RESTORE_DOWNLOAD_STREAMS'], commands: ['restore'] },
};

export const USAGE = `usage: smartcloudops-agent backup|restore|verify|decrypt [flags]  (see src/agent/options.ts)`;

const bad = (message: string): never => {
  throw new AgentFailure('InvalidArguments', message);
};

function parseBool(name: string, v: string): boolean {
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off|)$/i.test(v)) return false;
  return bad(`--${name} must be true or false, not "${v}"`);
}

function parseIntIn(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < min || n > max) bad(`--${name} must be an integer from ${min} to ${max}`);
  return n;
}

export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv): AgentOptions {
  const [command, ...rest] = argv;
  if (command !== 'backup' && command !== 'restore' && command !== 'verify' && command !== 'decrypt') {
    return bad(`unknown command "${command ?? ''}"; ${USAGE}`);
  }
  const given = new Map<string, string>();
  const repeated = new Map<string, string[]>();
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    if (!m) bad(`unexpected argument "${arg}"; ${USAGE}`);
    const name = m![1]!;
    if (/pass|secret|token/.test(name) && name !== 'secrets') {
      bad(
        `--${name} is refused: no secret is taken from the command line (use PGPASSWORD_FILE, PGPASSWORD or AWS_* env)`,
      );
    }
    const def = FLAGS[name];
    if (!def) bad(`unknown flag --${name}; ${USAGE}`);
    if (def!.commands && !def!.commands.includes(command)) bad(`--${name} does not apply to ${command}`);
    let value = m![2];
    if (value === undefined) {
      if (def!.boolean) value = 'true';
      else if (i + 1 < rest.length) value = rest[++i]!;
      else bad(`--${name} needs a value`);
    }
    if (def!.repeatable) repeated.set(name, [...(repeated.get(name) ?? []), value!]);
    else given.set(name, value!);
  }
  const getAll = (name: string): string[] => {
    if (repeated.has(name)) return repeated.get(name)!;
    const v = get(name);
    return v ? v.split(',').filter((x) => x.trim() !== '') : [];
  };
  const get = (name: string): string | undefined => {
    if (given.has(name)) return given.get(name);
    const def = FLAGS[name]!;
    if (def.commands && !def.commands.includes(command)) return undefined;
    for (const e of def.env ?? []) if (env[e] !== undefined && env[e] !== '') return env[e];
    return undefined;
  };

  const bucket = get('bucket') ?? bad('--bucket (S3_BUCKET) is required');
  const sseRaw = get('sse');
  let sse: Sse | undefined;
  if (sseRaw && sseRaw !== 'None') {
    if (sseRaw !== 'AES256' && sseRaw !== 'aws:kms') bad(`--sse must be None, AES256 or aws:kms, not "${sseRaw}"`);
    sse = sseRaw as Sse;
  }
  const sseKmsKeyId = get('sse-kms-key-id');
  if (sseKmsKeyId && sse !== 'aws:kms') bad('--sse-kms-key-id needs --sse=aws:kms');
  const endpoint = get('endpoint');
  if (endpoint && !/^https?:\/\/[^\s]+$/.test(endpoint)) bad(`--endpoint must be an http(s) URL`);
  let prefix = '';
  try {
    prefix = normalizePrefix(get('prefix') ?? '');
  } catch (err) {
    bad((err as Error).message);
  }
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!!accessKeyId !== !!secretAccessKey) bad('set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither');
  const s3: S3Options = {
    bucket,
    prefix,
    region: get('region') ?? 'us-east-1',
    ...(endpoint ? { endpoint } : {}),
    forcePathStyle: parseBool('force-path-style', get('force-path-style') ?? 'false'),
    ...(sse ? { sse } : {}),
    ...(sseKmsKeyId ? { sseKmsKeyId } : {}),
    ...(accessKeyId && secretAccessKey
      ? {
          credentials: {
            accessKeyId,
            secretAccessKey,
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          },
        }
      : {}),
    maxAttempts: parseIntIn('s3-max-attempts', get('s3-max-attempts') ?? '3', 1, 20),
    partSize: parseIntIn('part-size-mib', get('part-size-mib') ?? '5', 5, 5120) * 1024 * 1024,
    queueSize: parseIntIn('queue-size', get('queue-size') ?? '2', 1, 32),
  };
  const logLevel = (get('log-level') ?? 'info') as Common['logLevel'];
  if (!['trace', 'debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) bad(`invalid --log-level`);
  const pgBin = get('pg-bin');
  const common: Common = { s3, db: databaseOptions(env), logLevel, ...(pgBin ? { pgBin } : {}) };

  if (command === 'backup') {
    const format = get('format') ?? 'plain';
    if (format !== 'plain' && format !== 'custom') bad(`--format must be plain or custom, not "${format}"`);
    const verify = get('verify') ?? 'size';
    if (verify !== 'size' && verify !== 'full') bad(`--verify must be size or full, not "${verify}"`);
    let schedule = 'manual';
    let runId = '';
    try {
      schedule = checkScheduleName(get('schedule') ?? 'manual');
      runId = checkRunId(get('run-id') ?? randomBytes(4).toString('hex'));
    } catch (err) {
      bad((err as Error).message);
    }
    const lwt = get('lock-wait-timeout');
    return {
      ...common,
      command,
      schedule,
      runId,
      format: format as DumpFormat,
      compressLevel: parseIntIn('compress-level', get('compress-level') ?? '6', 0, 9),
      verify: verify as 'size' | 'full',
      ...(lwt ? { lockWaitTimeoutSeconds: parseIntIn('lock-wait-timeout', lwt, 1, 86400) } : {}),
      ...partOptions(get, getAll),
    };
  }
  const manifest = get('manifest') ?? bad('--manifest (the manifest object key) is required');
  if (command === 'verify') return { ...common, command, manifest };
  if (command === 'decrypt') {
    const part = get('part') ?? 'secrets';
    if (!/^(configmaps|secrets|data\/[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)$/.test(part)) {
      bad(`--part must be configmaps, secrets or data/<name>, not "${part}"`);
    }
    const out = get('out') ?? bad('--out (the file to write the content to) is required');
    const keyFile = get('encryption-key-file');
    if (part === 'secrets' && !keyFile) bad('--part secrets needs --encryption-key-file');
    return { ...common, command, manifest, part, out, ...(keyFile ? { encryptionKeyFile: keyFile } : {}) };
  }
  return {
    ...common,
    command,
    manifest,
    clean: parseBool('clean', get('clean') ?? 'false'),
    jobs: parseIntIn('jobs', get('jobs') ?? '4', 1, 64),
    workDir: get('work-dir') ?? os.tmpdir(),
    maintenanceWorkMem: memSetting(get('maintenance-work-mem') ?? '256MB'),
    downloadStreams: parseIntIn('download-streams', get('download-streams') ?? '4', 1, 16),
  };
}

const NAMESPACE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const DATA_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** --parts, --config-namespace, --secrets, --encryption-key-file, --data-dir: checked together (pure). */
function partOptions(
  get: (name: string) => string | undefined,
  getAll: (name: string) => string[],
): Pick<BackupOptions, 'parts' | 'configNamespace' | 'kubeconfig' | 'secrets' | 'encryptionKeyFile' | 'dataDirs'> {
  const parts: BackupPart[] = [];
  for (const p of (get('parts') ?? 'database').split(',').map((x) => x.trim())) {
    if (p !== 'database' && p !== 'config' && p !== 'data') {
      bad(`--parts takes database, config and data (comma-separated), not "${p}"`);
    }
    if (!parts.includes(p as BackupPart)) parts.push(p as BackupPart);
  }
  const secretsRaw = (get('secrets') ?? 'exclude').toLowerCase();
  if (secretsRaw !== 'exclude' && secretsRaw !== 'encrypted') {
    bad(`--secrets must be exclude or encrypted, not "${secretsRaw}" (Secrets are never stored in plain text)`);
  }
  const secrets = secretsRaw as 'exclude' | 'encrypted';
  const configNamespace = get('config-namespace');
  const kubeconfig = get('kubeconfig');
  const encryptionKeyFile = get('encryption-key-file');
  if (parts.includes('config')) {
    if (!configNamespace) bad('--parts config needs --config-namespace');
    if (!NAMESPACE.test(configNamespace!)) bad(`--config-namespace "${configNamespace}" is not a namespace name`);
    if (secrets === 'encrypted' && !encryptionKeyFile) bad('--secrets encrypted needs --encryption-key-file');
  } else {
    if (configNamespace) bad('--config-namespace needs --parts config');
    if (secrets === 'encrypted') bad('--secrets encrypted needs --parts config');
  }
  if (encryptionKeyFile && secrets !== 'encrypted') bad('--encryption-key-file needs --secrets encrypted');
  const dataDirs: DataDir[] = [];
  for (const d of getAll('data-dir')) {
    const eq = d.indexOf('=');
    const name = eq > 0 ? d.slice(0, eq).trim() : '';
    const path = eq > 0 ? d.slice(eq + 1).trim() : '';
    if (!DATA_NAME.test(name) || !path.startsWith('/')) {
      bad(`--data-dir must be name=/absolute/path with a lowercase DNS label as name, not "${d}"`);
    }
    if (dataDirs.some((x) => x.name === name)) bad(`--data-dir name "${name}" is given twice`);
    dataDirs.push({ name, path });
  }
  if (parts.includes('data') && dataDirs.length === 0) bad('--parts data needs at least one --data-dir name=path');
  if (!parts.includes('data') && dataDirs.length > 0) bad('--data-dir needs --parts data');
  return {
    parts,
    secrets,
    dataDirs,
    ...(configNamespace ? { configNamespace } : {}),
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(encryptionKeyFile ? { encryptionKeyFile } : {}),
  };
}

function memSetting(v: string): string {
  if (!/^\d+(kB|MB|GB)$/.test(v)) bad(`--maintenance-work-mem must look like 256MB, not "${v}"`);
  return v;
}

/** Database connection from PG* / PGPASSWORD_FILE / DATABASE_URL; the password never leaves env and memory. */
export function databaseOptions(env: NodeJS.ProcessEnv): DatabaseOptions {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('PG') && v !== undefined && k !== 'PGPASSWORD_FILE') childEnv[k] = v;
  }
  if (env.DATABASE_URL) {
    let u: URL;
    try {
      u = new URL(env.DATABASE_URL);
    } catch {
      return bad('DATABASE_URL is not a valid URL');
    }
    if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') bad('DATABASE_URL must be a postgres:// URL');
    if (u.hostname) childEnv.PGHOST = decodeURIComponent(u.hostname);
    if (u.port) childEnv.PGPORT = u.port;
    if (u.username) childEnv.PGUSER = decodeURIComponent(u.username);
    if (u.password) childEnv.PGPASSWORD = decodeURIComponent(u.password);
    const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
    if (db) childEnv.PGDATABASE = db;
    const sslmode = u.searchParams.get('sslmode');
    if (sslmode) childEnv.PGSSLMODE = sslmode;
  }
  if (env.PGPASSWORD_FILE) {
    try {
      childEnv.PGPASSWORD = readFileSync(env.PGPASSWORD_FILE, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      bad(`PGPASSWORD_FILE: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const port = childEnv.PGPORT ? Number(childEnv.PGPORT) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) bad('PGPORT is not a port');
  return {
    ...(childEnv.PGHOST ? { host: childEnv.PGHOST } : {}),
    ...(port ? { port } : {}),
    ...(childEnv.PGUSER ? { user: childEnv.PGUSER } : {}),
    ...(childEnv.PGDATABASE ? { database: childEnv.PGDATABASE } : {}),
    ...(childEnv.PGPASSWORD !== undefined ? { password: childEnv.PGPASSWORD } : {}),
    childEnv,
  };
}
