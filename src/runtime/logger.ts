// JSON logs (pino). Secret values never reach a log line (CVE-2019-11250 / CVE-2020-8565: client-go logged bearer
// tokens at high verbosity; KEP-1753 redacts such fields by their datapolicy). Every value passed to a log call and
// every child binding goes through `redact`:
// - by key name, at any depth and in any case: password/passwd, token, secret, authorization, cookie, api keys,
//   access keys (accessKeyId, secretAccessKey, aws_secret_access_key), private keys and client-key-data, Secret
//   `data`/`stringData`, and the `value` of `env` entries;
// - in every string (messages, error messages and stacks, uri/url/dsn/connectionString values): the userinfo of a
//   URL (`postgres://app:pw@db` → `postgres://[REDACTED]@db`), `password=…`-style pairs, Bearer/Basic credentials
//   and quoted JSON secret fields.
// Errors are logged as {type, message, stack, code} after the same filter; child bindings are filtered too. `redactText` is also used for Event
// messages and condition messages, which are as public as logs.
import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

export type Logger = PinoLogger;

export const REDACTED = '[REDACTED]';

/** Key names (lower-cased, without '-', '_' and '.') whose values are always secret. */
const SECRET_KEY =
  /password|passwd|passphrase|^pwd$|token|secret|authorization|cookie|apikey|accesskey|privatekey|clientkeydata|^clientkey$|^data$|^stringdata$|sessionkey|signature/;

/** References to secrets are not secrets: secretName, passwordSecretRef, tokenSecretNamespace. */
const REFERENCE_KEY = /(name|ref|refs|namespace)$/;

export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_.]/g, '');
  return SECRET_KEY.test(k) && !REFERENCE_KEY.test(k);
}

const SECRET_WORDS = 'password|passwd|pwd|passphrase|token|access_token|secret|api_key|apikey|sslpassword|sslkey';
const STRING_RULES: [RegExp, string][] = [
  // URL userinfo: scheme://user:pass@host, scheme://token@host
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi, `$1${REDACTED}@`],
  // key=value pairs: libpq keyword strings, query strings, ODBC/ADO connection strings
  [
    new RegExp(`\\b([\\w.-]*(?:${SECRET_WORDS})[\\w-]*)(\\s*=\\s*)("[^"]*"|'[^']*'|[^\\s&;,]+)`, 'gi'),
    `$1$2${REDACTED}`,
  ],
  // quoted JSON fields inside a string (a response body quoted in an error)
  [
    new RegExp(`("(?:[\\w-]*(?:${SECRET_WORDS}|authorization|cookie)[\\w-]*)"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'gi'),
    `$1"${REDACTED}"`,
  ],
  // HTTP credentials
  [/\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*/g, `$1 ${REDACTED}`],
];

/** Removes credentials from free text (messages, error messages, stacks, URLs). */
export function redactText(s: string): string {
  let out = s;
  for (const [re, to] of STRING_RULES) out = out.replace(re, to);
  return out;
}

/** A copy of `v` with secret-named fields replaced and every string filtered; Errors become plain objects. */
export function redact(v: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof v === 'string') return redactText(v);
  if (v === null || typeof v !== 'object') return v;
  if (depth > 10 || seen.has(v)) return '[…]';
  seen.add(v);
  if (v instanceof Error) {
    const e = v as Error & { code?: unknown; cause?: unknown };
    return {
      type: e.name,
      message: redactText(e.message),
      ...(e.stack ? { stack: redactText(e.stack) } : {}),
      ...(e.code !== undefined ? { code: redact(e.code, depth + 1, seen) } : {}),
      ...(e.cause !== undefined ? { cause: redact(e.cause, depth + 1, seen) } : {}),
    };
  }
  if (Buffer.isBuffer(v)) return REDACTED;
  if (Array.isArray(v)) return v.map((x) => redact(x, depth + 1, seen));
  if (v instanceof Date || v instanceof URL) return redactText(String(v instanceof Date ? v.toISOString() : v.href));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined) continue;
    // Numbers and booleans (tokenTTL: 300, passwordSet: true) carry no secret.
    if (isSecretKey(k) && (typeof x === 'string' || (typeof x === 'object' && x !== null)) && x !== '') {
      out[k] = REDACTED;
    } else if (k === 'env' && Array.isArray(x)) {
      // Container env: the names are useful, the values may be secrets.
      out[k] = x.map((e: unknown) =>
        e && typeof e === 'object' && 'value' in e ? { ...(redact(e, depth + 2, seen) as object), value: REDACTED } : e,
      );
    } else {
      out[k] = redact(x, depth + 1, seen);
    }
  }
  return out;
}

export function createLogger(
  level: LevelWithSilent = 'info',
  destination?: pino.DestinationStream,
  name = 'smartcloudops-operator',
): Logger {
  const root = pino(
    {
      level,
      base: { logger: name },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Errors arrive already serialized by `redact`.
      serializers: { err: (e: unknown) => e },
      formatters: {
        level: (label) => ({ level: label }),
      },
      hooks: {
        logMethod(args, method) {
          const [first, ...rest] = args as unknown[];
          // log.error(err) / log.error(err, 'msg'): the message would otherwise bypass the filter.
          if (first instanceof Error) {
            const msg = rest.length ? rest : [first.message];
            return method.apply(this, [{ err: redact(first) }, ...msg.map((a) => redact(a))] as never);
          }
          return method.apply(this, [first, ...rest].map((a) => redact(a)) as never);
        },
      },
    },
    destination,
  );
  // pino applies formatters.bindings to the root only; children (and theirs, which inherit this) filter here.
  const child = root.child;
  root.child = function (this: Logger, bindings, options) {
    return child.call(this, redact(bindings) as typeof bindings, options);
  } as Logger['child'];
  return root;
}
