// verify: re-check a manifest's dump object — size (HEAD), then the whole object read back: sha256 and format
// (plain: valid gzip ending with pg_dump's completion marker; custom: every announced data block present).
import type { AgentContext } from './context.js';
import { AgentFailure } from './errors.js';
import { inspectStream } from './inspect.js';
import type { Manifest } from './manifest.js';
import type { VerifyOptions } from './options.js';
import { checkStoredSize, loadManifest } from './restore.js';
import { createS3Client, getStream } from './s3.js';

export interface VerifyResult {
  manifest: Manifest;
  check: string;
}

export async function runVerify(o: VerifyOptions, ctx: AgentContext): Promise<VerifyResult> {
  const s3 = createS3Client(o.s3);
  try {
    const m = await loadManifest(s3, o.s3.bucket, o.manifest);
    await checkStoredSize(s3, o.s3.bucket, m);
    const got = await inspectStream(await getStream(s3, o.s3.bucket, m.key, ctx.signal), m.format);
    if (got.size !== m.size) {
      throw new AgentFailure('SizeMismatch', `read ${got.size} bytes of ${m.key}, the manifest says ${m.size}`);
    }
    if (got.sha256 !== m.sha256) {
      throw new AgentFailure('ChecksumMismatch', `${m.key} has sha256 ${got.sha256}, the manifest says ${m.sha256}`);
    }
    ctx.log.info({ key: m.key, check: got.summary }, 'verified');
    return { manifest: m, check: got.summary };
  } finally {
    s3.destroy();
  }
}
