// verify: re-check every part of a backup against its manifest — size (HEAD), then the whole object read back and
// re-hashed; the dump is also checked for its format (plain: valid gzip ending with pg_dump's completion marker;
// custom: every announced data block present), gzip parts must gunzip to their end. An encrypted part is checked by
// its sha256 only (no key needed); `decrypt` authenticates its content.
import type { AgentContext } from './context.js';
import { AgentFailure } from './errors.js';
import { inspectStream } from './inspect.js';
import { databaseDump, manifestParts, type Manifest } from './manifest.js';
import type { VerifyOptions } from './options.js';
import { readBack } from './parts.js';
import { checkStoredSize, loadManifest } from './restore.js';
import { createS3Client, getStream } from './s3.js';

export interface VerifyResult {
  manifest: Manifest;
  check: string;
  parts: string[];
}

export async function runVerify(o: VerifyOptions, ctx: AgentContext): Promise<VerifyResult> {
  const s3 = createS3Client(o.s3);
  try {
    const m = await loadManifest(s3, o.s3.bucket, o.manifest);
    const checks: string[] = [];
    const dump = databaseDump(m);
    if (dump) {
      await checkStoredSize(s3, o.s3.bucket, dump);
      const got = await inspectStream(await getStream(s3, o.s3.bucket, dump.key, ctx.signal), dump.format);
      if (got.size !== dump.size) {
        throw new AgentFailure('SizeMismatch', `read ${got.size} bytes of ${dump.key}, the manifest says ${dump.size}`);
      }
      if (got.sha256 !== dump.sha256) {
        throw new AgentFailure(
          'ChecksumMismatch',
          `${dump.key} has sha256 ${got.sha256}, the manifest says ${dump.sha256}`,
        );
      }
      checks.push(got.summary);
    }
    const parts = manifestParts(m);
    for (const part of parts) {
      if (part.kind === 'database') continue;
      await readBack(s3, o.s3.bucket, part, true, ctx.signal);
      checks.push(`${part.name}: ${part.size} bytes, sha256 matches`);
    }
    const check = checks.join('; ');
    ctx.log.info({ manifest: o.manifest, check }, 'verified');
    return { manifest: m, check, parts: parts.map((p) => p.name) };
  } finally {
    s3.destroy();
  }
}
