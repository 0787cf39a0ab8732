import { describe, expect, test } from '@jest/globals';
import { redact, summarizeStderr, TailBuffer } from './sanitize.js';

describe('sanitizing', () => {
  test('known secrets are removed raw and URL-encoded', () => {
    const secret = 'p@ss w0rd/x';
    const text = `failed for ${secret} and postgres://u:${encodeURIComponent(secret)}@h/db`;
    const out = redact(text, [secret]);
    expect(out).not.toContain(secret);
    expect(out).not.toContain(encodeURIComponent(secret));
    expect(out).toContain('[REDACTED]');
  });

  test('credential-shaped substrings are masked even when the value is unknown', () => {
    expect(redact('host=db password=hunter22 user=x')).toBe('host=db password=[REDACTED] user=x');
    expect(redact("PGPASSWORD='a b c' next")).toBe('PGPASSWORD=[REDACTED] next');
    expect(redact('postgresql://admin:topsecret@10.0.0.1:5432/app')).toBe(
      'postgresql://admin:[REDACTED]@10.0.0.1:5432/app',
    );
    expect(redact('aws_secret_access_key: AKIAxyz')).toMatch(/aws_secret_access_key: \[REDACTED\]/);
  });

  test('control characters and ANSI escapes are dropped, newlines kept', () => {
    expect(redact('a\x1b[31mred\x1b[0m\x00b\nc')).toBe('ared' + 'b\nc');
  });

  test('stderr summaries prefer error lines and are bounded', () => {
    const stderr = [
      'pg_dump: last built-in OID is 16383',
      'pg_dump: reading extensions',
      'pg_dump: error: connection to server at "127.0.0.1", port 5 failed: FATAL:  password authentication failed for user "postgres"',
      'pg_dump: dumping contents of table "public.t"',
    ].join('\n');
    const s = summarizeStderr(stderr);
    expect(s).toMatch(/^pg_dump: error: connection .* password authentication failed/);
    expect(s).not.toContain('reading extensions');
    expect(summarizeStderr('x'.repeat(5000), [], 100).length).toBe(100);
    expect(summarizeStderr('one\ntwo\n')).toBe('one | two');
  });

  test('TailBuffer keeps only the last bytes', () => {
    const t = new TailBuffer(10);
    let all = '';
    for (let i = 0; i < 100; i++) {
      t.push(Buffer.from(`line ${i}\n`));
      all += `line ${i}\n`;
    }
    expect(t.toString()).toBe(all.slice(-10));
    expect(t.toString().length).toBeLessThanOrEqual(10);
  });
});
