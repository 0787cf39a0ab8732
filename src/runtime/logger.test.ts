import { describe, expect, test } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger } from './logger.js';

describe('logger', () => {
  test('secret-bearing fields never reach the output, at any level', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const log = createLogger('trace', sink);
    const canary = 'canary-s3cr3t-value';
    log.child({ controller: 'x' }).debug(
      {
        password: canary,
        creds: { secretAccessKey: canary, token: canary },
        secret: { data: { key: canary }, stringData: { k: canary } },
      },
      'connecting',
    );
    log.trace({ headers: { authorization: `Bearer ${canary}` } }, 'request');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).not.toContain(canary);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      password: '[REDACTED]',
      creds: { secretAccessKey: '[REDACTED]' },
      controller: 'x',
    });
  });
});
