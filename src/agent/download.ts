// The custom-format restore's staging download: the archive fetched with parallel ranged GETs (`streams` at a time,
// `rangeSize` bytes each), every range written at its offset in the work-dir file as its bytes arrive, and — behind
// the highest offset below which every range is complete — the file read back in order (from the page cache) through
// sha256 and the archive walker. One connection per range instead of one for the whole object: measured on the 2-core
// machine (shared, load 13–15) a 66 MB archive came down in 1.3 s over one GET. The file stays the only copy: the
// hash pass reuses one 1 MiB buffer and the range bodies are written as they come (their chunks die young; a full
// collection every few MiB frees the ones promoted while waiting for the disk), so memory does not grow with the
// archive. The result is the same as inspectStream's: size, sha256, and the archive's completeness.
import type { S3Client } from '@aws-sdk/client-s3';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { ArchiveError, CustomArchiveWalker } from './archive.js';
import { AgentFailure } from './errors.js';
import type { Inspection } from './inspect.js';
import { GcPacer } from './memory.js';
import { s3Failure } from './s3.js';

export interface RangedOptions {
  streams: number;
  rangeSize: number;
}

export const DEFAULT_RANGED: RangedOptions = { streams: 4, rangeSize: 8 * 1024 * 1024 };

export async function downloadRanged(
  s3: S3Client,
  bucket: string,
  key: string,
  size: number,
  file: string,
  signal: AbortSignal,
  o: RangedOptions = DEFAULT_RANGED,
): Promise<Inspection> {
  const ranges = Math.max(1, Math.ceil(size / o.rangeSize));
  const done = new Array<boolean>(ranges).fill(false);
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const pacer = new GcPacer(1024 * 1024, 8 * 1024 * 1024);
  let failure: unknown;
  let next = 0;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const fail = (err: unknown) => {
    failure ??= err;
    stop.abort();
    notify();
  };
  const fh: FileHandle = await open(file, 'w+', 0o600);
  try {
    const worker = async () => {
      const buf = Buffer.allocUnsafe(512 * 1024);
      while (failure === undefined && next < ranges) {
        const i = next++;
        const start = i * o.rangeSize;
        const end = Math.min(size, start + o.rangeSize) - 1;
        let body: Readable;
        try {
          const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end}` }), {
            abortSignal: stop.signal,
          });
          body = r.Body as Readable;
        } catch (err) {
          throw s3Failure(err, 'DownloadFailed', `GET s3://${bucket}/${key} bytes ${start}-${end}`);
        }
        // Chunks are copied into this stream's own buffer and written from it: they die young (no write holds them).
        let at = start;
        let fill = 0;
        const flush = async () => {
          if (fill) await fh.write(buf, 0, fill, at - fill);
          fill = 0;
        };
        try {
          for await (const chunk of body) {
            const c = chunk as Buffer;
            if (at + c.length > end + 1) throw new Error(`range ${start}-${end} returned more bytes than asked`);
            let off = 0;
            while (off < c.length) {
              const n = Math.min(c.length - off, buf.length - fill);
              c.copy(buf, fill, off, off + n);
              fill += n;
              off += n;
              at += n;
              if (fill === buf.length) await flush();
            }
            pacer.tick(c.length);
          }
          await flush();
        } catch (err) {
          body.destroy();
          if (err instanceof AgentFailure) throw err;
          throw s3Failure(err, 'DownloadFailed', `reading s3://${bucket}/${key} bytes ${start}-${end}`);
        }
        if (at !== end + 1) {
          throw new AgentFailure('SizeMismatch', `range ${start}-${end} of ${key} ended after ${at - start} bytes`);
        }
        done[i] = true;
        notify();
      }
    };
    // The in-order pass: hash and walk what is complete, waiting for the next range when it is not.
    const verify = async (): Promise<Inspection> => {
      const hash = createHash('sha256');
      const walker = new CustomArchiveWalker();
      const buf = Buffer.allocUnsafe(1024 * 1024);
      let pos = 0;
      for (let i = 0; i < ranges; i++) {
        while (!done[i]) {
          if (failure !== undefined) throw failure;
          await new Promise<void>((r) => (wake = r));
        }
        const end = Math.min(size, (i + 1) * o.rangeSize);
        while (pos < end) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
          if (bytesRead === 0) throw new AgentFailure('DownloadFailed', `${file} ended at ${pos} of ${size} bytes`);
          const view = buf.subarray(0, bytesRead);
          hash.update(view);
          try {
            // The walker may keep a slice of what it is given: it copies that (a few bytes) before buf is reused,
            // instead of a 1 MiB copy of every read (+6 MiB peak on a 238 MB archive).
            walker.push(view);
            walker.detach();
          } catch (err) {
            throw new AgentFailure('ArchiveInvalid', (err as Error).message);
          }
          pos += bytesRead;
          pacer.tick(bytesRead);
        }
      }
      let summary: string;
      try {
        const s = walker.end();
        summary = `custom archive ${s.version}, ${s.tocEntries} TOC entries, ${s.dataBlocks} data blocks`;
      } catch (err) {
        if (err instanceof ArchiveError) throw new AgentFailure('ArchiveInvalid', err.message);
        throw err;
      }
      return { size: pos, sha256: hash.digest('hex'), summary };
    };
    const workers = Array.from({ length: Math.min(o.streams, ranges) }, () => worker().catch(fail));
    const verified = verify().catch((err: unknown) => {
      fail(err);
      throw err;
    });
    verified.catch(() => undefined); // awaited below, after the workers: not an unhandled rejection meanwhile
    await Promise.all(workers);
    if (signal.aborted) throw new AgentFailure('Terminated', 'the agent was told to stop');
    try {
      return await verified;
    } catch (err) {
      throw failure instanceof AgentFailure ? failure : err;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    await fh.close();
  }
}
