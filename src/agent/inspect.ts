// Reading a dump object back: its sha256 and size, and whether it is a complete dump of its format (plain: a valid
// gzip stream ending with pg_dump's completion marker; custom: every data block the TOC announces). Used by
// `backup --verify=full`, `verify`, and the custom-format restore's download.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ArchiveError, CustomArchiveWalker, PlainDumpTail } from './archive.js';
import { AgentFailure } from './errors.js';
import type { DumpFormat } from './layout.js';
import { GcPacer } from './memory.js';

/** A pass-through that hashes and counts what flows by. */
export class HashCounter extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;
  digest?: string;
  /** With a pacer, also keeps dead chunks from piling up (memory.ts). */
  constructor(private readonly pacer?: GcPacer) {
    super({ highWaterMark: 256 * 1024 }); // 1 MiB per side held more chunks alive for no speed
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.pacer?.tick(chunk.length);
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
  override _flush(cb: (err?: Error | null) => void): void {
    this.digest = this.hash.digest('hex');
    cb();
  }
}

/** Feeds every chunk to a format checker; fails the stream with ArchiveInvalid at the end when it is incomplete. */
export function formatChecker(format: DumpFormat): { stream: Transform; summary: () => string } {
  if (format === 'plain') {
    const tail = new PlainDumpTail();
    return {
      stream: new Transform({
        transform(chunk: Buffer, _e, cb) {
          tail.push(chunk);
          cb();
        },
        flush(cb) {
          const p = tail.problem();
          cb(p ? new AgentFailure('ArchiveInvalid', p) : null);
        },
      }),
      summary: () => `plain dump of ${tail.bytes} bytes, completion marker present`,
    };
  }
  const walker = new CustomArchiveWalker();
  let result = '';
  return {
    stream: new Transform({
      transform(chunk: Buffer, _e, cb) {
        try {
          walker.push(chunk);
          cb();
        } catch (err) {
          cb(new AgentFailure('ArchiveInvalid', (err as Error).message));
        }
      },
      flush(cb) {
        try {
          const s = walker.end();
          result = `custom archive ${s.version}, ${s.tocEntries} TOC entries, ${s.dataBlocks} data blocks`;
          cb();
        } catch (err) {
          cb(new AgentFailure('ArchiveInvalid', (err as Error).message));
        }
      },
    }),
    summary: () => result,
  };
}

/**
 * Writes a stream to a file through a fixed pool of buffers (copy in, positional write out, buffer reused): the
 * incoming chunks die young instead of being held by pending writes (fs.WriteStream keeps each chunk until its write
 * completes, long enough for it to be promoted to V8's old space and freed only at the next full collection: +20 MiB
 * peak RSS measured on a 66 MB archive). At most `count - 1` writes in flight.
 */
export class PooledFileWriter extends Writable {
  private fh?: FileHandle;
  private readonly free: Buffer[] = [];
  private current?: Buffer;
  private fill = 0;
  private position = 0;
  private readonly inflight = new Set<Promise<void>>();
  private failure: unknown;

  constructor(
    private readonly path: string,
    private readonly bufferSize = 1024 * 1024,
    count = 3,
  ) {
    super({ highWaterMark: 64 * 1024 });
    for (let i = 0; i < count; i++) this.free.push(Buffer.allocUnsafe(bufferSize));
  }

  override _construct(cb: (err?: Error | null) => void): void {
    open(this.path, 'w', 0o600).then(
      (fh) => {
        this.fh = fh;
        cb();
      },
      (err: Error) => cb(err),
    );
  }

  private async buffer(): Promise<Buffer> {
    while (!this.free.length) await Promise.race(this.inflight);
    if (this.failure) throw this.failure;
    return this.free.pop()!;
  }

  private flushCurrent(): void {
    const buf = this.current!;
    const length = this.fill;
    const at = this.position;
    this.position += length;
    this.current = undefined;
    this.fill = 0;
    const p = this.fh!.write(buf, 0, length, at).then(
      () => undefined,
      (err: unknown) => {
        this.failure ??= err;
      },
    );
    const tracked = p.finally(() => {
      this.inflight.delete(tracked);
      this.free.push(buf);
    });
    this.inflight.add(tracked);
  }

  override _write(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
    void (async () => {
      let off = 0;
      while (off < chunk.length) {
        if (this.failure) throw this.failure;
        this.current ??= await this.buffer();
        const n = Math.min(chunk.length - off, this.bufferSize - this.fill);
        chunk.copy(this.current, this.fill, off, off + n);
        this.fill += n;
        off += n;
        if (this.fill === this.bufferSize) this.flushCurrent();
      }
    })().then(
      () => cb(),
      (err: Error) => cb(err),
    );
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.current && this.fill > 0) this.flushCurrent();
    Promise.all(this.inflight).then(
      () => (this.failure ? cb(this.failure as Error) : cb()),
      (err: Error) => cb(err),
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    Promise.allSettled(this.inflight)
      .then(() => this.fh?.close())
      .then(
        () => cb(err),
        () => cb(err),
      );
  }
}

export interface Inspection {
  size: number;
  sha256: string;
  summary: string;
}

/**
 * Streams `body` through sha256 and the format check (and, when `saveTo` is given, into that file). Errors:
 * ArchiveInvalid for a corrupt or incomplete dump (a truncated gzip stream included), DownloadFailed otherwise.
 */
export async function inspectStream(body: Readable, format: DumpFormat, saveTo?: string): Promise<Inspection> {
  // Compressed bytes expand about 4× through gunzip: pace on a quarter of the usual interval. With a file copy, chunks
  // wait for the disk long enough to survive scavenges and be promoted: a full collection every 4 MiB frees them.
  const hasher = new HashCounter(new GcPacer(1024 * 1024, saveTo ? 4 * 1024 * 1024 : 16 * 1024 * 1024));
  const check = formatChecker(format);
  const sink = saveTo ? new PooledFileWriter(saveTo) : undefined;
  // The file copy runs beside the check: body → hasher → [tee to file] → (gunzip) → check.
  const tee = new Transform({
    transform(chunk: Buffer, _e, cb) {
      if (!sink) return cb(null, chunk);
      if (sink.write(chunk)) cb(null, chunk);
      else sink.once('drain', () => cb(null, chunk));
    },
    flush(cb) {
      if (!sink) return cb();
      sink.end();
      sink.once('finish', () => sink.destroy());
      sink.once('close', () => cb(sink.errored ?? null));
    },
  });
  sink?.on('error', (e) => tee.destroy(e));
  const stages: NodeJS.ReadWriteStream[] = format === 'plain' ? [createGunzip()] : [];
  const drain = new Writable({ write: (_c, _e, cb) => cb() });
  try {
    await pipeline(body, hasher, tee, ...stages, check.stream, drain);
  } catch (err) {
    sink?.destroy();
    if (err instanceof AgentFailure) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code?.startsWith('Z_') || err instanceof ArchiveError) {
      throw new AgentFailure('ArchiveInvalid', `the object is not a valid gzip stream: ${e.message}`, { cause: err });
    }
    throw new AgentFailure('DownloadFailed', `reading the object failed: ${e.message}`, { cause: err });
  }
  return { size: hasher.bytes, sha256: hasher.digest!, summary: check.summary() };
}
