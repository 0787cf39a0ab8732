// S3 as users have it: a custom endpoint with path-style addressing, and server-side encryption requested on every
// object the agent writes (dump and manifest). A recording TCP proxy in front of the S3 server shows what went over
// the wire.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import net from 'node:net';
import { s3Env } from '../support/env.js';
import { agent, agentEnv, createDatabase, dropDatabase, rand, s3Client, seed } from '../support/agent.js';

const id = rand();
const source = `agent_s3_${id}`;
let proxy: net.Server;
let port = 0;
let wire = '';

beforeAll(async () => {
  await createDatabase(source);
  await seed(source, 200);
  const target = new URL(s3Env().endpoint);
  proxy = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    client.on('data', (d: Buffer) => (wire += d.toString('latin1')));
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  port = (proxy.address() as net.AddressInfo).port;
});

afterAll(async () => {
  proxy.close();
  await dropDatabase(source);
});

/** Request lines with their headers, from the recorded client → server bytes. */
function requests(): Array<{ line: string; headers: Record<string, string> }> {
  return wire
    .split('\r\n\r\n')
    .map((block) => block.slice(Math.max(0, block.search(/(PUT|POST|GET|HEAD|DELETE) \//))))
    .filter((block) => /^(PUT|POST|GET|HEAD|DELETE) \//.test(block))
    .map((block) => {
      const [line, ...rest] = block.split('\r\n');
      const headers: Record<string, string> = {};
      for (const h of rest) {
        const i = h.indexOf(':');
        if (i > 0) headers[h.slice(0, i).toLowerCase()] = h.slice(i + 1).trim();
      }
      return { line: line!, headers };
    });
}

test.each([
  ['AES256', [], { 'x-amz-server-side-encryption': 'AES256' }],
  [
    'aws:kms',
    ['--sse-kms-key-id=arn:aws:kms:eu-west-1:111122223333:key/k-1'],
    {
      'x-amz-server-side-encryption': 'aws:kms',
      'x-amz-server-side-encryption-aws-kms-key-id': 'arn:aws:kms:eu-west-1:111122223333:key/k-1',
    },
  ],
])(
  'SSE %s is requested for the dump and the manifest, path-style, on a custom endpoint',
  async (sse, extra, headers) => {
    wire = '';
    const run = await agent(
      ['backup', `--prefix=it-agent-s3/${id}`, '--schedule=sse', `--sse=${sse}`, ...extra],
      agentEnv(source, { S3_ENDPOINT: `http://127.0.0.1:${port}` }),
    );
    expect(run.result).toMatchObject({ result: 'Succeeded' });
    const bucket = s3Env().bucket;
    const writes = requests().filter((r) => /^(PUT|POST) /.test(r.line) && !/uploadId=/.test(r.line));
    const keys = [run.result.key as string, run.result.manifestKey as string];
    for (const key of keys) {
      // PutObject (PUT /bucket/key?x-id=PutObject) or CreateMultipartUpload (POST /bucket/key?uploads).
      const w = writes.find(
        (r) => r.line.startsWith(`PUT /${bucket}/${key}?`) || r.line.startsWith(`POST /${bucket}/${key}?uploads`),
      );
      expect(w).toBeDefined();
      expect(w!.headers).toMatchObject(headers);
      expect(w!.headers.host).toBe(`127.0.0.1:${port}`); // path-style: the bucket is in the path, not the host
    }
    const s3 = s3Client();
    try {
      const m = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: run.result.manifestKey as string }));
      expect(JSON.parse(await m.Body!.transformToString())).toMatchObject({ serverSideEncryption: sse });
    } finally {
      s3.destroy();
    }
  },
);
