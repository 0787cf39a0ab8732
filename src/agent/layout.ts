// Object key layout, deterministic and sortable:
//
//   <prefix>/<schedule>/<YYYYMMDDTHHMMSSZ>-<runId>.sql.gz          plain format (pg_dump -Fp, gzip)
//   <prefix>/<schedule>/<YYYYMMDDTHHMMSSZ>-<runId>.dump            custom format (pg_dump -Fc)
//   <prefix>/<schedule>/<YYYYMMDDTHHMMSSZ>-<runId>.configmaps.yaml.gz       part configmaps (--parts config)
//   <prefix>/<schedule>/<YYYYMMDDTHHMMSSZ>-<runId>.secrets.yaml.gz.enc      part secrets (--secrets encrypted)
//   <prefix>/<schedule>/<YYYYMMDDTHHMMSSZ>-<runId>.data-<name>.tar.gz       part data/<name> (--data-dir name=path)
//   <prefix>/<schedule>/<YYYYMMDDTHHMMSSZ>-<runId>.manifest.json   written last, only after every check passed
//
// The timestamp is the run's start in UTC, so keys under one schedule sort by time. The schedule segment keeps each
// BackupSchedule's objects under a prefix of their own (retention lists and deletes only below it); a manifest is
// the proof of a good backup, a dump without one is an unfinished or failed run.
export type DumpFormat = 'plain' | 'custom';

export const DUMP_EXTENSION: Record<DumpFormat, string> = { plain: '.sql.gz', custom: '.dump' };
export const MANIFEST_SUFFIX = '.manifest.json';

const NAME = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/;
const RUN_ID = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const TIMESTAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** "/a//b/" → "a/b"; "" stays "". Rejects "." and ".." segments. */
export function normalizePrefix(prefix: string): string {
  const parts = prefix.split('/').filter(Boolean);
  if (parts.some((p) => p === '.' || p === '..')) throw new Error(`prefix "${prefix}" has a "." or ".." segment`);
  return parts.join('/');
}

export function checkScheduleName(name: string): string {
  if (!NAME.test(name)) {
    throw new Error(`schedule name "${name}" must be a lowercase DNS name (a-z, 0-9, "-", "."), as a Kubernetes name`);
  }
  return name;
}

export function checkRunId(runId: string): string {
  if (!RUN_ID.test(runId)) throw new Error(`run id "${runId}" must be 1-63 characters of a-z, 0-9 and "-"`);
  return runId;
}

export function formatTimestamp(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

export function parseTimestamp(s: string): Date | undefined {
  const m = TIMESTAMP.exec(s);
  if (!m) return undefined;
  const d = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** The folder that holds every object of one schedule, with a trailing slash: list/delete only below it. */
export function scheduleFolder(prefix: string, schedule: string): string {
  const p = normalizePrefix(prefix);
  return `${p ? `${p}/` : ''}${checkScheduleName(schedule)}/`;
}

export interface BackupKeys {
  dump: string;
  manifest: string;
}

export function backupKeys(o: {
  prefix: string;
  schedule: string;
  startedAt: Date;
  runId: string;
  format: DumpFormat;
}): BackupKeys {
  const base = `${scheduleFolder(o.prefix, o.schedule)}${formatTimestamp(o.startedAt)}-${checkRunId(o.runId)}`;
  return { dump: base + DUMP_EXTENSION[o.format], manifest: base + MANIFEST_SUFFIX };
}

export interface ParsedKey {
  folder: string;
  schedule: string;
  startedAt: Date;
  runId: string;
  kind: 'dump' | 'manifest' | 'part';
  format?: DumpFormat;
  /** For kind part: configmaps, secrets or data/<name>. */
  part?: string;
}

export const DATA_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const PART_SUFFIX =
  /\.(configmaps\.yaml\.gz|secrets\.yaml\.gz\.enc|data-([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.tar\.gz)$/;

/** The key of a part of the run whose manifest is `manifestKey`: configmaps, secrets or data/<name>. */
export function partKey(manifestKey: string, part: string): string {
  if (!manifestKey.endsWith(MANIFEST_SUFFIX)) throw new Error(`"${manifestKey}" is not a manifest key`);
  const base = manifestKey.slice(0, -MANIFEST_SUFFIX.length);
  if (part === 'configmaps') return `${base}.configmaps.yaml.gz`;
  if (part === 'secrets') return `${base}.secrets.yaml.gz.enc`;
  const name = part.startsWith('data/') ? part.slice(5) : '';
  if (!DATA_NAME.test(name)) throw new Error(`"${part}" is not a part name (configmaps, secrets, data/<name>)`);
  return `${base}.data-${name}.tar.gz`;
}

/** The inverse of backupKeys, for listings: undefined for any key this layout did not produce. */
export function parseBackupKey(key: string): ParsedKey | undefined {
  const slash = key.lastIndexOf('/');
  if (slash < 0) return undefined;
  const folder = key.slice(0, slash + 1);
  const schedule = folder.slice(0, -1).split('/').pop() ?? '';
  if (!NAME.test(schedule)) return undefined;
  const file = key.slice(slash + 1);
  let kind: ParsedKey['kind'];
  let format: DumpFormat | undefined;
  let part: string | undefined;
  let stem: string;
  const pm = PART_SUFFIX.exec(file);
  if (pm) {
    kind = 'part';
    part = pm[2] ? `data/${pm[2]}` : pm[1]!.split('.')[0]!;
    stem = file.slice(0, pm.index);
  } else if (file.endsWith(MANIFEST_SUFFIX)) {
    kind = 'manifest';
    stem = file.slice(0, -MANIFEST_SUFFIX.length);
  } else {
    const f = (Object.keys(DUMP_EXTENSION) as DumpFormat[]).find((x) => file.endsWith(DUMP_EXTENSION[x]));
    if (!f) return undefined;
    kind = 'dump';
    format = f;
    stem = file.slice(0, -DUMP_EXTENSION[f].length);
  }
  const dash = stem.indexOf('-');
  if (dash < 0) return undefined;
  const startedAt = parseTimestamp(stem.slice(0, dash));
  const runId = stem.slice(dash + 1);
  if (!startedAt || !RUN_ID.test(runId)) return undefined;
  return { folder, schedule, startedAt, runId, kind, ...(format ? { format } : {}), ...(part ? { part } : {}) };
}

export function manifestKeyOf(dumpKey: string): string {
  const p = parseBackupKey(dumpKey);
  if (!p || p.kind !== 'dump' || !p.format) throw new Error(`"${dumpKey}" is not a dump key of this layout`);
  return dumpKey.slice(0, -DUMP_EXTENSION[p.format].length) + MANIFEST_SUFFIX;
}
