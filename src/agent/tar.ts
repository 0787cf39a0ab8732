// A directory as a tar stream (POSIX pax/ustar, what GNU tar and bsdtar read), produced while walking it: the
// `--data-dir name=path` parts (a mounted PVC: uploads, models). Nothing is listed or buffered up front — directories
// are read entry by entry, files in fixed 256 KiB reads — so memory stays flat whatever the tree holds.
//
// Entries: regular files, directories and symbolic links (stored as links, never followed); sockets, FIFOs and
// devices are skipped and counted. Paths are relative to the root ("./" entries are not written). Names or link
// targets over ustar's limits and files of 8 GiB or more get a pax extended header. A file that changes size while
// it is read is stored with the size it had when its header was written (cut, or padded with zeros) and counted in
// `changed`, as GNU tar's "file changed as we read it". A root that is missing or not a directory fails the part
// with DataDirUnreadable; an unreadable entry below it does too (a backup must not silently miss data).
import { constants, type Stats } from 'node:fs';
import { lstat, open, opendir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { AgentFailure } from './errors.js';

export interface TarStats {
  files: number;
  dirs: number;
  symlinks: number;
  skipped: number;
  changed: number;
  bytes: number;
}

const BLOCK = 512;
const READ_SIZE = 256 * 1024;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body);
  let total = len + String(len).length;
  if (String(total).length !== String(len).length) total = len + String(total).length;
  len = total;
  return Buffer.from(`${len}${body}`, 'utf8');
}

function header(o: {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  type: '0' | '2' | '5' | 'x';
  linkname?: string;
}): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(o.name, 0, 100, 'utf8');
  h.write(octal(o.mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(Math.min(o.uid, 0o7777777), 8), 108, 'ascii');
  h.write(octal(Math.min(o.gid, 0o7777777), 8), 116, 'ascii');
  h.write(octal(Math.min(o.size, 0o77777777777), 12), 124, 'ascii');
  h.write(octal(Math.max(0, Math.min(Math.floor(o.mtime), 0o77777777777)), 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(o.type, 156, 'ascii');
  if (o.linkname) h.write(o.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

const pad = (size: number) => (size % BLOCK ? Buffer.alloc(BLOCK - (size % BLOCK)) : undefined);

/** The header block(s) of one entry: a pax header first when ustar cannot hold the name, link or size. */
function entryHeaders(name: string, st: Stats, type: '0' | '2' | '5', size: number, linkname?: string): Buffer[] {
  const records: Buffer[] = [];
  if (Buffer.byteLength(name) > 100) records.push(paxRecord('path', name));
  if (linkname && Buffer.byteLength(linkname) > 100) records.push(paxRecord('linkpath', linkname));
  if (size > 0o77777777777) records.push(paxRecord('size', String(size)));
  const out: Buffer[] = [];
  const common = { mode: st.mode, uid: st.uid, gid: st.gid, mtime: st.mtimeMs / 1000 };
  if (records.length) {
    const body = Buffer.concat(records);
    out.push(header({ ...common, name: 'PaxHeader', size: body.length, type: 'x' }), body);
    const p = pad(body.length);
    if (p) out.push(p);
  }
  out.push(
    header({
      ...common,
      name: Buffer.byteLength(name) > 100 ? Buffer.from(name).subarray(0, 100).toString('latin1') : name,
      size: type === '0' ? size : 0,
      type,
      ...(linkname ? { linkname } : {}),
    }),
  );
  return out;
}

const unreadable = (path: string, err: unknown) =>
  new AgentFailure(
    'DataDirUnreadable',
    `${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message ?? String(err)}`,
    { cause: err },
  );

async function* walk(root: string, stats: TarStats): AsyncGenerator<Buffer> {
  let rootStat: Stats;
  try {
    rootStat = await lstat(root);
  } catch (err) {
    throw unreadable(root, err);
  }
  if (!rootStat.isDirectory()) throw new AgentFailure('DataDirUnreadable', `${root} is not a directory`);
  // Depth first, one open directory handle per level.
  const stack: string[] = [''];
  while (stack.length) {
    const rel = stack.pop()!;
    const abs = rel ? join(root, rel) : root;
    let dir;
    try {
      dir = await opendir(abs, { bufferSize: 64 });
    } catch (err) {
      throw unreadable(abs, err);
    }
    const subdirs: string[] = [];
    try {
      for await (const ent of dir) {
        const name = rel ? `${rel}/${ent.name}` : ent.name;
        const path = join(root, name);
        let st: Stats;
        try {
          st = await lstat(path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed since the directory was read
          throw unreadable(path, err);
        }
        if (st.isDirectory()) {
          stats.dirs++;
          yield* entryHeaders(`${name}/`, st, '5', 0);
          subdirs.push(name);
        } else if (st.isSymbolicLink()) {
          let target: string;
          try {
            target = await readlink(path);
          } catch (err) {
            throw unreadable(path, err);
          }
          stats.symlinks++;
          yield* entryHeaders(name, st, '2', 0, target);
        } else if (st.isFile()) {
          stats.files++;
          yield* fileEntry(path, name, st, stats);
        } else {
          stats.skipped++;
        }
      }
    } catch (err) {
      if (err instanceof AgentFailure) throw err;
      throw unreadable(abs, err);
    }
    // Sorted reverse so they are popped in name order: deterministic archives for the same tree.
    subdirs.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
    stack.push(...subdirs);
  }
  yield Buffer.alloc(BLOCK * 2);
}

async function* fileEntry(path: string, name: string, st: Stats, stats: TarStats): AsyncGenerator<Buffer> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    throw unreadable(path, err);
  }
  try {
    const size = st.size;
    yield* entryHeaders(name, st, '0', size);
    let left = size;
    let shrunk = false;
    while (left > 0) {
      // A new buffer per read: the chunk travels on through gzip and the hash while the next read runs.
      const b = Buffer.allocUnsafe(Math.min(READ_SIZE, left));
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(b, 0, b.length, size - left));
      } catch (err) {
        throw unreadable(path, err);
      }
      if (n === 0) {
        // Shrunk while read: keep the archive well-formed with zeros where the data was.
        shrunk = true;
        b.fill(0);
        n = b.length;
      }
      left -= n;
      stats.bytes += n;
      yield n === b.length ? b : b.subarray(0, n);
    }
    if (shrunk || (await fh.stat()).size !== size) stats.changed++;
    const p = pad(size);
    if (p) yield p;
  } finally {
    await fh.close();
  }
}

/** The tar stream of `root`; `stats` fills in as it is read. */
export function tarDirectory(root: string, stats: TarStats): Readable {
  return Readable.from(walk(root, stats), { objectMode: false, highWaterMark: READ_SIZE });
}

export const emptyTarStats = (): TarStats => ({ files: 0, dirs: 0, symlinks: 0, skipped: 0, changed: 0, bytes: 0 });
