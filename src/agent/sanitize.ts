// Making child-process output and error messages safe to log and to put in the result line: secret values the agent
// knows (database password, S3 secret key, session token) are replaced wherever they appear, raw or URL-encoded;
// anything shaped like a credential (password=…, a URI's user:password@, an AWS secret assignment) is masked even
// when the agent did not know the value; control characters are dropped and the text is bounded.
export const REDACTED = '[REDACTED]';

const PATTERNS: Array<[RegExp, string]> = [
  // scheme://user:password@host
  [/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):([^@\s/]*)@/gi, `$1:${REDACTED}@`],
  // password=secret, password: secret, PGPASSWORD=secret (libpq keyword/value strings, env dumps)
  [
    /\b([a-z0-9_]*?(?:pass(?:word|wd)?|pwd|secret(?:_?access_?key)?|token))(\s*[=:]\s*)('[^']*'|"[^"]*"|\S+)/gi,
    `$1$2${REDACTED}`,
  ],
];

/** Replaces known secrets and credential-shaped substrings; drops control characters. */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const s of secrets) {
    if (!s || s.length < 4) continue;
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join(REDACTED);
  }
  for (const [re, to] of PATTERNS) out = out.replace(re, to);
  // eslint-disable-next-line no-control-regex
  return out.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}

/**
 * A short, safe summary of a tool's stderr for a failure message: the error lines if there are any (pg_dump, psql
 * and pg_restore print "error:", "FATAL:" or "ERROR:"), else the last lines; at most `max` characters.
 */
export function summarizeStderr(stderr: string, secrets: readonly (string | undefined)[] = [], max = 800): string {
  const lines = redact(stderr, secrets)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const errors = lines.filter((l) => /\b(error|fatal|panic)\b/i.test(l));
  const chosen = (errors.length ? errors : lines).slice(-5).join(' | ');
  return chosen.length > max ? `…${chosen.slice(chosen.length - max + 1)}` : chosen;
}

/** Keeps the last `limit` bytes written to it (a child's stderr), so a chatty child cannot grow memory. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit = 16 * 1024) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - (this.chunks[0]?.length ?? 0) >= this.limit && this.chunks.length > 1) {
      this.size -= this.chunks.shift()!.length;
    }
  }
  toString(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString('utf8');
  }
}
