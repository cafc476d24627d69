/**
 * Snapshots: the whole state at the end of the segments before `gen`, in one file `snap-<gen>.snap`.
 *
 *   0   "CNCSNAP1"
 *   8   headLen u32 LE
 *   12  CRC-32 of the head, u32 LE
 *   16  head JSON: { v: 1, gen, meta, data: bytes of records,
 *                    spaces: [{ n: name, k: [keys], s: [seqs], h: [hashes], l: [lens], c: [crcs] }] }
 *   16+headLen  record texts, space after space, each space's keys in seq order
 *
 * Built to open fast: the head is the whole index in a few flat arrays (one JSON.parse), entries already in
 * change-log order, record offsets the running sum of lens; values are not read at open, and each is
 * checked against its own CRC when it is. Written to `snap-<gen>.tmp`, fsynced, renamed, directory fsynced:
 * a snapshot file either is complete or does not exist under its final name.
 */
import { ConcordError } from '../../lib/errors.js';
import { crc32 } from './crc32.js';
import { DataFile } from './data-file.js';
import { ioError } from './io-errors.js';
import { readFully, writeFully, type Io, type IoFile } from './io.js';
import { Entry, type Keyspace } from './keyspace.js';

const MAGIC = Buffer.from('CNCSNAP1', 'latin1');
const HEADER = 16;

interface SnapHead {
  v: 1;
  gen: number;
  meta: Record<string, unknown>;
  data: number;
  spaces: Array<{ n: string; k: string[]; s: number[]; h: string[]; l: number[]; c: number[] }>;
}

export interface SnapshotView {
  meta: Map<string, unknown>;
  spaces: Array<[string, Array<[string, Entry]>]>;
}

/** Reads a snapshot's index into `ks`; the returned file serves the values. */
export async function loadSnapshot(io: Io, path: string, name: string, ks: Keyspace): Promise<DataFile> {
  const file = await io.open(path, 'r');
  try {
    const size = await file.size();
    const header = Buffer.alloc(HEADER);
    const corrupt = (why: string) => new ConcordError('CORRUPT', `snapshot ${name} is damaged: ${why}`);
    if ((await readFully(file, header, HEADER, 0)) !== HEADER || !header.subarray(0, 8).equals(MAGIC)) throw corrupt('bad header');
    const headLen = header.readUInt32LE(8);
    if (HEADER + headLen > size) throw corrupt('head runs past the end of the file');
    const headBytes = Buffer.allocUnsafe(headLen);
    await readFully(file, headBytes, headLen, HEADER);
    if (crc32(headBytes) !== header.readUInt32LE(12)) throw corrupt('head checksum mismatch');
    const head = JSON.parse(headBytes.toString('utf8')) as SnapHead;
    if (head.v !== 1 || HEADER + headLen + head.data !== size) throw corrupt('unexpected version or size');
    const data = new DataFile(name, file);
    let off = HEADER + headLen;
    for (const sp of head.spaces) {
      const index = ks.space(sp.n);
      const n = sp.k.length;
      const seqs = sp.s;
      for (let i = 0; i < n; i++) {
        const len = sp.l[i]!;
        const e = new Entry(seqs[i]!, sp.h[i]!, len, sp.c[i]!, 0, undefined, data, off);
        index.records.set(sp.k[i]!, e);
        index.bytes += len;
        off += len;
      }
      index.logSeq = seqs.slice();
      index.logKey = sp.k;
    }
    for (const [k, v] of Object.entries(head.meta)) ks.meta.set(k, v);
    return data;
  } catch (e) {
    await file.close().catch(() => {});
    if (e instanceof SyntaxError) throw new ConcordError('CORRUPT', `snapshot ${name} is damaged: unreadable head`);
    throw ioError(e, `loading snapshot ${name}`);
  }
}

/** Copies byte ranges out of data files, reading ahead in large windows (entries come mostly in file order). */
class WindowReader {
  private windows = new Map<DataFile, { start: number; buf: Buffer }>();
  async bytes(file: DataFile, off: number, len: number): Promise<Buffer> {
    const w = this.windows.get(file);
    if (w && off >= w.start && off + len <= w.start + w.buf.length) return w.buf.subarray(off - w.start, off - w.start + len);
    const buf = await file.read(off, Math.max(len, 1 << 20));
    this.windows.set(file, { start: off, buf });
    if (buf.length < len) throw new ConcordError('CORRUPT', `${file.name}: a record runs past the end of the file`);
    return buf.subarray(0, len);
  }
}

/**
 * Writes the snapshot `gen` of `view` and makes it durable under its final name. Returns its offsets
 * (per space, per entry) so the caller can point the index at it. `aborted` is polled between chunks.
 */
export async function writeSnapshot(
  io: Io,
  dir: string,
  gen: number,
  view: SnapshotView,
  aborted: () => boolean,
): Promise<{ path: string; offsets: number[][] } | undefined> {
  const base = `${dir}/${snapName(gen)}`;
  const tmp = base.replace(/\.snap$/, '.tmp');
  let data = 0;
  const spaces: SnapHead['spaces'] = [];
  for (const [n, entries] of view.spaces) {
    const sp = { n, k: [] as string[], s: [] as number[], h: [] as string[], l: [] as number[], c: [] as number[] };
    for (const [key, e] of entries) {
      sp.k.push(key);
      sp.s.push(e.seq);
      sp.h.push(e.h);
      sp.l.push(e.len);
      sp.c.push(e.crc);
      data += e.len;
    }
    spaces.push(sp);
  }
  const head: SnapHead = { v: 1, gen, meta: Object.fromEntries(view.meta), data, spaces };
  const headBytes = Buffer.from(JSON.stringify(head), 'utf8');
  const header = Buffer.alloc(HEADER);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(headBytes.length, 8);
  header.writeUInt32LE(crc32(headBytes), 12);

  let file: IoFile | undefined;
  try {
    file = await io.open(tmp, 'w');
    await writeFully(file, Buffer.concat([header, headBytes]), 0);
    let pos = HEADER + headBytes.length;
    const offsets: number[][] = [];
    const reader = new WindowReader();
    const out = Buffer.allocUnsafe(1 << 20);
    let fill = 0;
    const flush = async () => {
      await writeFully(file!, out.subarray(0, fill), pos - fill);
      fill = 0;
    };
    for (const [, entries] of view.spaces) {
      const offs: number[] = [];
      for (const [key, e] of entries) {
        const bytes = e.file ? await reader.bytes(e.file, e.off, e.len) : Buffer.from(JSON.stringify(e.rec), 'utf8');
        if (crc32(bytes) !== e.crc) throw new ConcordError('CORRUPT', `the record of ${JSON.stringify(key)} in ${e.file?.name} does not match its checksum`);
        if (fill + bytes.length > out.length) {
          await flush();
          if (aborted()) return undefined;
        }
        offs.push(pos);
        if (bytes.length > out.length) {
          await writeFully(file, bytes, pos);
        } else {
          bytes.copy(out, fill);
          fill += bytes.length;
        }
        pos += bytes.length;
      }
      offsets.push(offs);
    }
    if (fill > 0) await flush();
    await file.datasync();
    await file.close();
    file = undefined;
    if (aborted()) return undefined;
    await io.rename(tmp, base);
    await io.syncDir(dir);
    return { path: base, offsets };
  } catch (e) {
    throw ioError(e, `writing snapshot ${snapName(gen)}`);
  } finally {
    if (file) {
      await file.close().catch(() => {});
      await io.unlink(tmp).catch(() => {});
    } else if (aborted()) {
      await io.unlink(tmp).catch(() => {});
    }
  }
}

export function snapName(gen: number): string {
  return `snap-${String(gen).padStart(10, '0')}.snap`;
}

export function segName(num: number): string {
  return `log-${String(num).padStart(10, '0')}.log`;
}
