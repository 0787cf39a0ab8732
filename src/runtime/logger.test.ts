import { describe, expect, test } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger, redact, redactText } from './logger.js';

const canary = 'canary-s3cr3t-value';

function capture() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, log: createLogger('trace', sink) };
}

describe('logger', () => {
  test('secret-bearing fields never reach the output, at any level', () => {
    const { lines, log } = capture();
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

  test('by key name at any depth and in any case; names and harmless fields stay', () => {
    const input = {
      a: { b: { c: { d: { e: { PASSWORD: canary, Passwd: canary, userName: 'app' } } } } },
      list: [{ nested: [{ 'X-Auth-Token': canary }] }],
      Authorization: canary,
      headers: { Cookie: canary, 'set-cookie': [canary] },
      s3: { accessKeyId: canary, secretAccessKey: canary, aws_secret_access_key: canary, region: 'eu-west-1' },
      kubeconfig: { users: [{ user: { 'client-key-data': canary, 'client-certificate-data': 'cert-is-public' } }] },
      apiKey: canary,
      spec: {
        containers: [
          {
            env: [
              { name: 'DB_URL', value: canary },
              { name: 'FROM_SECRET', valueFrom: {} },
            ],
          },
        ],
      },
      database: { uri: `postgres://app:${canary}@db:5432/app`, dsn: `redis://:${canary}@cache:6379/0` },
      connectionString: `host=db user=app password=${canary} dbname=app`,
      url: `https://${canary}@git.example/repo.git`,
      tokenTTL: 0,
      generation: 3,
      backup: { secretName: 'db-creds', passwordSecretRef: { name: 'db', key: 'password' } },
    };
    const out = JSON.stringify(redact(input));
    expect(out).not.toContain(canary);
    expect(redact(input)).toMatchObject({
      a: { b: { c: { d: { e: { PASSWORD: '[REDACTED]', Passwd: '[REDACTED]', userName: 'app' } } } } },
      s3: { region: 'eu-west-1', accessKeyId: '[REDACTED]' },
      kubeconfig: { users: [{ user: { 'client-certificate-data': 'cert-is-public' } }] },
      spec: { containers: [{ env: [{ name: 'DB_URL', value: '[REDACTED]' }, { name: 'FROM_SECRET' }] }] },
      database: { uri: 'postgres://[REDACTED]@db:5432/app', dsn: 'redis://[REDACTED]@cache:6379/0' },
      connectionString: 'host=db user=app password=[REDACTED] dbname=app',
      tokenTTL: 0,
      generation: 3,
      backup: { secretName: 'db-creds', passwordSecretRef: { name: 'db', key: 'password' } },
    });
    expect(input.a.b.c.d.e.PASSWORD).toBe(canary); // the caller's object is not modified
  });

  test('free text: URL userinfo, key=value pairs, Bearer/Basic, quoted JSON fields', () => {
    expect(redactText(`connect ECONNREFUSED postgresql://app:${canary}@10.0.0.1:5432/db?sslmode=require`)).toBe(
      'connect ECONNREFUSED postgresql://[REDACTED]@10.0.0.1:5432/db?sslmode=require',
    );
    expect(redactText(`GET https://s3/x?X-Amz-Signature=1&token=${canary}&a=b`)).toBe(
      'GET https://s3/x?X-Amz-Signature=1&token=[REDACTED]&a=b',
    );
    expect(redactText(`env DB_PASSWORD=${canary} AWS_SECRET_ACCESS_KEY="${canary}" user=app`)).toBe(
      'env DB_PASSWORD=[REDACTED] AWS_SECRET_ACCESS_KEY=[REDACTED] user=app',
    );
    expect(redactText(`Authorization: Bearer ${canary}`)).toBe('Authorization: Bearer [REDACTED]');
    expect(redactText(`body {"kind":"x","password":"${canary}","n":1}`)).toBe(
      'body {"kind":"x","password":"[REDACTED]","n":1}',
    );
    expect(redactText('spec.schedule: "* * *" is not a cron expression')).toBe(
      'spec.schedule: "* * *" is not a cron expression',
    );
  });

  test('error messages and stacks pass the same filter (a pg connection error with a URI)', () => {
    const { lines, log } = capture();
    const err = Object.assign(new Error(`could not connect to postgres://app:${canary}@db:5432/app: timeout`), {
      code: 'ETIMEDOUT',
    });
    log.error(err);
    log.warn(err, 'retrying');
    log.error({ err, stack: err.stack }, 'reconcile failed');
    log.info(`plain message postgres://app:${canary}@db/app`);
    log.child({ dsn: `postgres://app:${canary}@db/app` }).info('child bindings');
    expect(lines).toHaveLength(5);
    for (const l of lines) expect(l).not.toContain(canary);
    const first = JSON.parse(lines[0] as string);
    expect(first).toMatchObject({
      msg: 'could not connect to postgres://[REDACTED]@db:5432/app: timeout',
      err: {
        type: 'Error',
        code: 'ETIMEDOUT',
        message: 'could not connect to postgres://[REDACTED]@db:5432/app: timeout',
      },
    });
    expect(first.err.stack).toMatch(/^Error: could not connect to postgres:\/\/\[REDACTED\]@db/);
    expect(JSON.parse(lines[1] as string).msg).toBe('retrying');
  });
});
