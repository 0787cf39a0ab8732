// The data services are real servers reached with the same client libraries the operator uses.
import { describe, expect, test } from '@jest/globals';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { gunzipSync, gzipSync } from 'node:zlib';
import pg from 'pg';
import { Redis } from 'ioredis';
import { postgresEnv, redisEnv, s3Env } from '../support/env.js';

describe('PostgreSQL 15', () => {
  test('accepts the recorded credentials, runs SQL and reports major version 15', async () => {
    const client = new pg.Client(postgresEnv());
    await client.connect();
    try {
      const v = await client.query<{ server_version_num: string }>('SHOW server_version_num');
      expect(Math.floor(Number(v.rows[0]?.server_version_num) / 10000)).toBe(15);
      const table = `t_${randomBytes(4).toString('hex')}`;
      await client.query(`CREATE TABLE ${table} (id serial primary key, note text not null)`);
      await client.query(`INSERT INTO ${table} (note) VALUES ($1), ($2)`, ['alpha', 'beta']);
      const r = await client.query<{ note: string }>(`SELECT note FROM ${table} ORDER BY id`);
      expect(r.rows.map((x) => x.note)).toEqual(['alpha', 'beta']);
      await client.query(`DROP TABLE ${table}`);
    } finally {
      await client.end();
    }
  });

  test('rejects a wrong password', async () => {
    const client = new pg.Client({ ...postgresEnv(), password: 'wrong-password' });
    await expect(client.connect()).rejects.toThrow(/password authentication failed/);
  });
});

describe('Redis 7', () => {
  test('accepts the recorded password, stores and expires keys, reports major version 7', async () => {
    const r = new Redis({ ...redisEnv(), lazyConnect: true, maxRetriesPerRequest: 1 });
    await r.connect();
    try {
      const info = await r.info('server');
      expect(/redis_version:(\d+)\./.exec(info)?.[1]).toBe('7');
      const key = `it:${randomBytes(4).toString('hex')}`;
      await r.set(key, 'value', 'EX', 60);
      expect(await r.get(key)).toBe('value');
      expect(await r.ttl(key)).toBeGreaterThan(0);
      await r.del(key);
      expect(await r.get(key)).toBeNull();
    } finally {
      r.disconnect();
    }
  });

  test('refuses commands from a connection that did not authenticate', async () => {
    // A raw RESP exchange: client libraries send handshake commands of their own first.
    const { host, port } = redisEnv();
    const reply = await new Promise<string>((resolve, reject) => {
      const sock = net.connect({ host, port }, () => sock.write('*2\r\n$3\r\nGET\r\n$4\r\nsome\r\n'));
      sock.once('data', (d) => {
        resolve(d.toString());
        sock.destroy();
      });
      sock.once('error', reject);
    });
    expect(reply).toMatch(/^-NOAUTH/);
  });
});

describe('S3 (versitygw)', () => {
  const client = (secret?: string) => {
    const e = s3Env();
    return new S3Client({
      endpoint: e.endpoint,
      region: e.region,
      forcePathStyle: true,
      credentials: { accessKeyId: e.accessKeyId, secretAccessKey: secret ?? e.secretAccessKey },
      maxAttempts: 1,
    });
  };

  test('stores, lists, reads back and deletes a gzip object, multipart upload included', async () => {
    const s3 = client();
    const { bucket } = s3Env();
    const prefix = `it/${randomBytes(4).toString('hex')}/`;
    try {
      const payload = gzipSync(Buffer.from('SELECT 1;\n'.repeat(1000)));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}small.sql.gz`, Body: payload }));
      // 6 MiB through lib-storage: two 5 MiB parts, the way large dumps are uploaded.
      const big = randomBytes(6 * 1024 * 1024);
      await new Upload({
        client: s3,
        params: { Bucket: bucket, Key: `${prefix}big.bin`, Body: big },
        partSize: 5 * 1024 * 1024,
      }).done();

      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      expect(listed.Contents?.map((o) => [o.Key, o.Size]).sort()).toEqual(
        [
          [`${prefix}big.bin`, big.length],
          [`${prefix}small.sql.gz`, payload.length],
        ].sort(),
      );
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}small.sql.gz` }));
      const body = Buffer.from(await got.Body!.transformToByteArray());
      expect(gunzipSync(body).toString()).toBe('SELECT 1;\n'.repeat(1000));
      const gotBig = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}big.bin` }));
      expect(Buffer.from(await gotBig.Body!.transformToByteArray()).equals(big)).toBe(true);

      for (const k of ['small.sql.gz', 'big.bin']) {
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${prefix}${k}` }));
      }
      const after = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      expect(after.KeyCount ?? 0).toBe(0);
    } finally {
      s3.destroy();
    }
  });

  test('rejects a request signed with the wrong secret', async () => {
    const s3 = client('not-the-secret');
    try {
      await expect(s3.send(new ListObjectsV2Command({ Bucket: s3Env().bucket }))).rejects.toThrow(
        /signature|denied|match/i,
      );
    } finally {
      s3.destroy();
    }
  });
});
