// Spec validation in the controller, before acting: the same schema the API server enforces (compiled with ajv,
// defaults filled in), plus semantic checks the schema cannot express. Every problem names its field.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { Cron } from 'croner';
import { toJsonSchema } from './crd.js';
import { KINDS, type KindName } from './kinds.js';

// ajv-formats is CommonJS with a default export.
const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

export interface FieldError {
  /** Path from the object root, e.g. "spec.windows[0].minReplicas". */
  field: string;
  message: string;
}

const ajv = new Ajv({ strict: false, allErrors: true, useDefaults: true });
(addFormats as unknown as (a: Ajv) => void)(ajv);

const compiled = new Map<KindName, ValidateFunction>();
function validatorFor(kind: KindName): ValidateFunction {
  let v = compiled.get(kind);
  if (!v) {
    v = ajv.compile(toJsonSchema(KINDS[kind].spec));
    compiled.set(kind, v);
  }
  return v;
}

export function fieldPath(instancePath: string, root = 'spec'): string {
  return (
    root +
    instancePath
      .split('/')
      .slice(1)
      .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : `.${seg.replace(/~1/g, '/').replace(/~0/g, '~')}`))
      .join('')
  );
}

function describe(e: ErrorObject): FieldError {
  let field = fieldPath(e.instancePath);
  let message = e.message ?? 'is invalid';
  if (e.keyword === 'required') {
    field = `${field}.${(e.params as { missingProperty: string }).missingProperty}`;
    message = 'is required';
  } else if (e.keyword === 'enum') {
    message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return { field, message };
}

/**
 * Validates a spec against its kind's schema. Returns the spec with defaults applied (a copy) and the errors.
 * CEL rules are the API server's to enforce; controllers add semantic checks on top (see semantic helpers below).
 */
export function validateSpec<T>(kind: KindName, spec: unknown): { spec: T; errors: FieldError[] } {
  const copy = structuredClone(spec ?? {});
  const v = validatorFor(kind);
  const ok = v(copy);
  const errors = ok
    ? []
    : (v.errors ?? []).filter((e) => e.keyword !== 'anyOf' || !e.schemaPath.includes('int-or-string')).map(describe);
  // int-or-string fields report one error per anyOf branch: collapse duplicates by field.
  const seen = new Set<string>();
  return {
    spec: copy as T,
    errors: errors.filter((e) => {
      const k = `${e.field}\u0000${e.message}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    }),
  };
}

// ---- semantic checks shared by several kinds ---------------------------------------------------------------------

// Whether a time zone is known, per name: constructing an Intl.DateTimeFormat costs far more than a lookup, and a
// policy's windows usually share one zone. Bounded: cleared when full.
const knownZones = new Map<string, boolean>();
function zoneKnown(tz: string): boolean {
  let ok = knownZones.get(tz);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      ok = true;
    } catch {
      ok = false;
    }
    if (knownZones.size >= 1024) knownZones.clear();
    knownZones.set(tz, ok);
  }
  return ok;
}

export function checkTimeZone(field: string, tz: string | undefined): FieldError[] {
  if (!tz || zoneKnown(tz)) return [];
  return [{ field, message: `unknown time zone "${tz}" (use an IANA name such as "Europe/Berlin" or "UTC")` }];
}

// Whether a cron expression ever fires depends only on calendar days: minute and hour always have a value once the
// expression parses, and a day matches or not by its month, its day of month, its weekday, the length of its month
// and the weekday the month starts on (for L, W and #n). The Gregorian calendar has 91 such month shapes (12 months
// × 7 first weekdays, plus leap Februaries), and 2001–2028 — 28 years without a skipped leap year — contains every
// one of them (src/crds/validate.test.ts checks this against the whole 400-year cycle). So the search for a first
// run is bounded to those 28 years: exact, and at most a few search steps per month in the pattern, where an
// unbounded search of a never-firing expression walks 400 years.
export const CRON_LOOKAHEAD_YEARS = '2001-2028';
const LOOKAHEAD_FROM = new Date(Date.UTC(2000, 11, 31, 23, 59, 59));

/**
 * A 5-field cron expression (or @daily...) that parses and fires at least once. The time zone is applied when the
 * expression is scheduled; whether it ever fires is a question of calendar days, decided at UTC offset 0 (croner's
 * fixed-offset arithmetic, no Intl per step). The expression is parsed once, in its bounded form: the fields are
 * parsed as written, so parse errors are the scheduler's own.
 */
export function checkCron(field: string, expr: string | undefined): FieldError[] {
  if (expr === undefined) return [];
  const trimmed = expr.trim();
  const nickname = trimmed.startsWith('@'); // @yearly ... @hourly: parsed, and they all fire
  const parts = trimmed.split(/\s+/);
  if (!nickname && parts.length !== 5) {
    return [{ field, message: `"${expr}" must have 5 fields (minute hour day-of-month month day-of-week)` }];
  }
  let next: Date | null;
  try {
    const pattern = nickname ? trimmed : `0 ${parts.join(' ')} ${CRON_LOOKAHEAD_YEARS}`;
    const c = new Cron(pattern, { paused: true, legacyMode: true, utcOffset: 0 });
    next = nickname ? new Date(0) : c.nextRun(LOOKAHEAD_FROM);
    c.stop();
  } catch (err) {
    const m = (err as Error).message.replace(/^CronPattern: /, '');
    return [{ field, message: `invalid cron expression "${expr}": ${m}` }];
  }
  return next ? [] : [{ field, message: `"${expr}" never fires (no matching date)` }];
}

const QUANTITY = /^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[numkMGTPE]i?|)$/;
const FACTORS: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A resource.Quantity as a number (cores, bytes); undefined when it does not parse. */
export function parseQuantity(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  if (typeof q === 'number') return q;
  const m = QUANTITY.exec(q.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const suffix = m[2] ?? '';
  if (/^[eE]/.test(suffix)) return n * 10 ** Number(suffix.slice(1));
  const f = FACTORS[suffix];
  return f === undefined || Number.isNaN(n) ? undefined : n * f;
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration ("1h30m", "720h") in milliseconds; undefined when it does not parse. */
export function parseDuration(d: string | undefined): number | undefined {
  if (!d) return undefined;
  const re = /([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(d); m; m = re.exec(d)) {
    total += Number(m[1]) * (DURATION_UNITS[m[2] as string] as number);
    matched = re.lastIndex;
  }
  return matched === d.length && matched > 0 ? total : undefined;
}
