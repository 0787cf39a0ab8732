// Completeness checks on a dump as it streams past, in constant memory.
//
// Plain format: pg_dump writes "-- PostgreSQL database dump complete" as its last comment (followed, since 15.14, by
// the \unrestrict line); a dump cut short for any reason lacks it.
//
// Custom format (pg_dump -Fc written to a pipe): header, then the TOC, then one data block per TOC entry that has a
// data dumper (table data, large objects), each a sequence of length-prefixed chunks ended by a zero length. There
// is no trailer, so "complete" means: the header and TOC parse, every announced data block is present exactly once
// and properly terminated, and the stream ends exactly at a block boundary. This follows ReadHead / ReadToc /
// _ReadExtraToc and the custom format's _StartData/_EndData/_StartLOs in PostgreSQL's src/bin/pg_dump
// (archive versions 1.12 to 1.16: PostgreSQL 9.0 to 17+).

export const PLAIN_COMPLETION_MARKER = '-- PostgreSQL database dump complete';

/** Remembers the last bytes of a plain dump and says whether pg_dump's completion marker is among them. */
export class PlainDumpTail {
  private tail = Buffer.alloc(0);
  bytes = 0;
  constructor(private readonly keep = 1024) {}
  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.tail =
      chunk.length >= this.keep
        ? Buffer.from(chunk.subarray(chunk.length - this.keep))
        : Buffer.concat([this.tail, chunk]).subarray(-this.keep);
  }
  /** Undefined when complete, else why not. */
  problem(): string | undefined {
    if (this.bytes === 0) return 'the dump is empty';
    const text = this.tail.toString('latin1');
    const at = text.lastIndexOf(`\n${PLAIN_COMPLETION_MARKER}\n`);
    if (at < 0) return `the dump (${this.bytes} bytes) does not end with pg_dump's "${PLAIN_COMPLETION_MARKER}" marker`;
    // Only comments, blank lines and psql meta-commands (\unrestrict) may follow the marker.
    const after = text.slice(at + PLAIN_COMPLETION_MARKER.length + 2).split('\n');
    if (after.some((l) => l.trim() !== '' && !l.startsWith('--') && !l.startsWith('\\'))) {
      return 'SQL follows the completion marker';
    }
    return undefined;
  }
}

export interface ArchiveSummary {
  version: string;
  database: string;
  serverVersion: string;
  pgDumpVersion: string;
  tocEntries: number;
  dataBlocks: number;
}

export class ArchiveError extends Error {
  override readonly name = 'ArchiveError';
}

type Need = { read: number; eofOk?: boolean } | { skip: number };
interface ParseState {
  phase: 'header' | 'TOC' | 'data';
}

const K_VERS = (min: number) => (1 << 16) | (min << 8);
const BLK_DATA = 1;
const BLK_BLOBS = 3;
const ARCH_CUSTOM = 1;

/** Parses a custom-format archive pushed chunk by chunk; skips data without buffering it. */
export class CustomArchiveWalker {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private readonly gen: Generator<Need, ArchiveSummary, Buffer | undefined>;
  private need: Need;
  private done?: ArchiveSummary;
  private readonly state: ParseState = { phase: 'header' };
  bytes = 0;

  constructor() {
    this.gen = parse(this.state);
    const first = this.gen.next();
    this.need = first.value as Need;
  }

  push(chunk: Buffer): void {
    if (this.done) {
      if (chunk.length) throw new ArchiveError(`${chunk.length} bytes follow the end of the archive`);
      return;
    }
    this.bytes += chunk.length;
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.drive();
  }

  /**
   * Copies the bytes the walker still holds of the chunks pushed so far (a header or length not yet complete: a few
   * bytes to a TOC entry), so the caller may reuse the memory of those chunks for the next read.
   */
  detach(): void {
    if (this.queued === 0) return;
    const rest = Buffer.concat(this.queue, this.queued);
    this.queue.length = 0;
    this.queue.push(rest);
  }

  /** Call at end of stream: the summary, or an ArchiveError saying where the archive was cut. */
  end(): ArchiveSummary {
    if (this.done) return this.done;
    if ('read' in this.need && this.need.eofOk && this.queued === 0) {
      const r = this.gen.next(undefined);
      if (r.done) return (this.done = r.value);
    }
    if (this.bytes === 0) throw new ArchiveError('the archive is empty');
    throw new ArchiveError(`the archive is truncated: it ends after ${this.bytes} bytes, in the ${this.state.phase}`);
  }

  private drive(): void {
    for (;;) {
      if ('skip' in this.need) {
        const n = Math.min(this.need.skip, this.queued);
        this.discard(n);
        this.need = { skip: this.need.skip - n };
        if (this.need.skip > 0) return;
        this.advance(undefined);
      } else {
        if (this.queued < this.need.read) return;
        this.advance(this.take(this.need.read));
      }
      if (this.done) {
        if (this.queued > 0) throw new ArchiveError(`${this.queued} bytes follow the end of the archive`);
        return;
      }
    }
  }

  private advance(value: Buffer | undefined): void {
    const r = this.gen.next(value);
    if (r.done) this.done = r.value;
    else this.need = r.value;
  }

  private take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.queue[0]!;
      const k = Math.min(head.length, n - filled);
      head.copy(out, filled, 0, k);
      filled += k;
      if (k === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(k);
    }
    this.queued -= n;
    return out;
  }

  private discard(n: number): void {
    let left = n;
    while (left > 0) {
      const head = this.queue[0]!;
      if (head.length <= left) {
        left -= head.length;
        this.queue.shift();
      } else {
        this.queue[0] = head.subarray(left);
        left = 0;
      }
    }
    this.queued -= n;
  }
}

function* parse(state: ParseState): Generator<Need, ArchiveSummary, Buffer | undefined> {
  // Every read gets its bytes, except the block-type read with eofOk, which gets undefined at a clean end of stream.
  const read = function* (n: number, eofOk = false): Generator<Need, Buffer | undefined, Buffer | undefined> {
    return yield { read: n, eofOk };
  };
  const byte = function* (eofOk = false) {
    const b = yield* read(1, eofOk);
    return b === undefined ? undefined : b[0]!;
  };
  const magic = (yield* read(5))!;
  if (magic.toString('latin1') !== 'PGDMP') throw new ArchiveError('not a pg_dump custom-format archive');
  const vmaj = (yield* byte())!;
  const vmin = (yield* byte())!;
  const vrev = (yield* byte())!;
  const version = (vmaj << 16) | (vmin << 8) | vrev;
  if (vmaj !== 1 || vmin < 12 || vmin > 16) {
    throw new ArchiveError(`archive version ${vmaj}.${vmin} is not supported (1.12 to 1.16)`);
  }
  const intSize = (yield* byte())!;
  const offSize = (yield* byte())!;
  if (intSize < 1 || intSize > 8 || offSize < 1 || offSize > 8) {
    throw new ArchiveError(`implausible integer/offset sizes ${intSize}/${offSize}`);
  }
  const format = (yield* byte())!;
  if (format !== ARCH_CUSTOM) throw new ArchiveError(`archive format ${format} is not the custom format`);

  const int = function* () {
    const b = (yield* read(1 + intSize))!;
    let v = 0;
    for (let i = intSize; i >= 1; i--) v = v * 256 + b[i]!;
    return b[0] ? -v : v;
  };
  const str = function* () {
    const len = yield* int();
    if (len < 0) return null;
    if (len > 256 * 1024 * 1024) throw new ArchiveError(`implausible string length ${len}`);
    return len === 0 ? '' : (yield* read(len))!.toString('utf8');
  };

  state.phase = 'header';
  if (version >= K_VERS(15)) yield* byte();
  else yield* int();
  for (let i = 0; i < 7; i++) yield* int(); // creation time
  const database = (yield* str()) ?? '';
  const serverVersion = (yield* str()) ?? '';
  const pgDumpVersion = (yield* str()) ?? '';

  state.phase = 'TOC';
  const tocCount = yield* int();
  if (tocCount < 0 || tocCount > 10_000_000) throw new ArchiveError(`implausible TOC size ${tocCount}`);
  const expected = new Set<number>();
  for (let i = 0; i < tocCount; i++) {
    const dumpId = yield* int();
    if (dumpId <= 0) throw new ArchiveError(`TOC entry ID ${dumpId} out of range`);
    const hadDumper = yield* int();
    yield* str(); // tableoid
    yield* str(); // oid
    yield* str(); // tag
    yield* str(); // desc
    yield* int(); // section
    yield* str(); // defn
    yield* str(); // dropStmt
    yield* str(); // copyStmt
    yield* str(); // namespace
    yield* str(); // tablespace
    if (version >= K_VERS(14)) yield* str(); // tableam
    if (version >= K_VERS(16)) yield* int(); // relkind
    yield* str(); // owner
    yield* str(); // "false" (WITH OIDS)
    while ((yield* str()) !== null); // dependencies
    yield* read(1 + offSize); // data offset (flag + offset)
    if (hadDumper) expected.add(dumpId);
  }

  const seen = new Set<number>();
  state.phase = 'data';
  for (;;) {
    const type = yield* byte(true);
    if (type === undefined) break; // clean end of stream at a block boundary
    const id = yield* int();
    if (!expected.has(id)) throw new ArchiveError(`data block for unknown or data-less TOC entry ${id}`);
    if (seen.has(id)) throw new ArchiveError(`a second data block for TOC entry ${id}`);
    const chunks = function* () {
      for (;;) {
        const len = yield* int();
        if (len === 0) return;
        if (len < 0) throw new ArchiveError(`negative chunk length in the data of TOC entry ${id}`);
        yield { skip: len };
      }
    };
    if (type === BLK_DATA) {
      yield* chunks();
    } else if (type === BLK_BLOBS) {
      while ((yield* int()) !== 0) yield* chunks();
    } else {
      throw new ArchiveError(`unknown block type ${type}`);
    }
    seen.add(id);
  }
  if (seen.size !== expected.size) {
    throw new ArchiveError(`the archive has ${seen.size} of the ${expected.size} data blocks its TOC announces`);
  }
  return {
    version: `${vmaj}.${vmin}`,
    database,
    serverVersion,
    pgDumpVersion,
    tocEntries: tocCount,
    dataBlocks: seen.size,
  };
}
