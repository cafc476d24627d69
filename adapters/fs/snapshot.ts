/**
 * Snapshots: the whole state at the end of the segments before `gen`, in one file `snap-<gen>.snap`.
 *
 *   0   "CNCSNAP2"
 *   8   headLen u32 LE
 *   12  CRC-32 of the head, u32 LE
 *   16  head:  u32 LE length of J, then J = JSON { v: 2, gen, meta, data: bytes of records,
 *                                                  spaces: [{ n: name, count, keysLen, hashesLen }] }
 *              then per space, `count` rows in seq order, as flat columns:
 *                seqs f64 LE ×count · lens u32 ×count · crcs u32 ×count
 *                keys: JSON array (keysLen bytes) · hashes: 16 hex digits per row, or a JSON array
 *                when some hash is not 16 characters (hashesLen bytes)
 *   16+headLen  records (record.ts), space after space, in row order
 *
 * Built to open fast: the index is read as columns (no object per key: rows stay numbers until used, see
 * keyspace.ts), rows come in change-log order, a record's offset is the running sum of lens; values are
 * not read at open, and each is checked against its own CRC when it is. Every record stands alone in a snapshot:
 * chained ones (record.ts) are written whole, their deltas applied. Written to `snap-<gen>.tmp`,
 * fsynced, renamed, directory fsynced: a snapshot either is complete or does not exist under its name.
 */
import { ConcordError } from '../../lib/errors.js';
import { crc32 } from './crc32.js';
import { DataFile } from './data-file.js';
import { ioError } from './io-errors.js';
import { readFully, writeFully, type Io, type IoFile } from './io.js';
import { encodeRecord, recordBytes } from './record.js';
import type { Entry, Keyspace } from './keyspace.js';

const MAGIC = Buffer.from('CNCSNAP2', 'latin1');
const HEADER = 16;

interface SnapHead {
  v: 2;
  gen: number;
  meta: Record<string, unknown>;
  data: number;
  spaces: Array<{ n: string; count: number; keysLen: number; hashesLen: number }>;
}

export interface SnapshotView {
  meta: Map<string, unknown>;
  spaces: Array<[string, Array<[string, Entry]>]>;
  /** Chained records (record.ts), stored whole in the snapshot: their bytes and CRC. */
  whole?: Map<Entry, { bytes: Buffer; crc: number }>;
}

/** Reads a snapshot's index into `ks`; the returned file serves the values. */
export async function loadSnapshot(io: Io, path: string, name: string, ks: Keyspace): Promise<DataFile> {
  const file = await io.open(path, 'r');
  const corrupt = (why: string) => new ConcordError('CORRUPT', `snapshot ${name} is damaged: ${why}`);
  try {
    const size = await file.size();
    const header = Buffer.alloc(HEADER);
    if ((await readFully(file, header, HEADER, 0)) !== HEADER || !header.subarray(0, 8).equals(MAGIC)) throw corrupt('bad header');
    const headLen = header.readUInt32LE(8);
    if (HEADER + headLen > size) throw corrupt('head runs past the end of the file');
    const b = Buffer.allocUnsafe(headLen);
    await readFully(file, b, headLen, HEADER);
    if (crc32(b) !== header.readUInt32LE(12)) throw corrupt('head checksum mismatch');
    const jLen = b.readUInt32LE(0);
    const head = JSON.parse(b.toString('utf8', 4, 4 + jLen)) as SnapHead;
    if (head.v !== 2 || HEADER + headLen + head.data !== size) throw corrupt('unexpected version or size');
    const data = new DataFile(name, file);
    let at = 4 + jLen;
    let off = HEADER + headLen;
    for (const sp of head.spaces) {
      const n = sp.count;
      const seqs = new Float64Array(n);
      const lens = new Uint32Array(n);
      const crcs = new Uint32Array(n);
      const offs = new Float64Array(n);
      for (let i = 0; i < n; i++, at += 8) seqs[i] = b.readDoubleLE(at);
      let bytes = 0;
      for (let i = 0; i < n; i++, at += 4) {
        const len = b.readUInt32LE(at);
        lens[i] = len;
        offs[i] = off;
        off += len;
        bytes += len;
      }
      for (let i = 0; i < n; i++, at += 4) crcs[i] = b.readUInt32LE(at);
      const keys = JSON.parse(b.toString('utf8', at, at + sp.keysLen)) as string[];
      at += sp.keysLen;
      const hashText = b.toString('latin1', at, at + sp.hashesLen);
      const hashes = hashText.startsWith('[') ? (JSON.parse(hashText) as string[]) : hashText;
      at += sp.hashesLen;
      if (keys.length !== n || (typeof hashes === 'string' ? hashes.length !== 16 * n : hashes.length !== n)) throw corrupt('columns of unequal length');
      const index = ks.space(sp.n);
      index.base = { file: data, seqs, lens, crcs, offs, hashes };
      for (let i = 0; i < n; i++) index.records.set(keys[i]!, i);
      index.bytes += bytes;
      index.logSeq = Array.from(seqs);
      index.logKey = keys;
    }
    for (const [k, v] of Object.entries(head.meta)) ks.meta.set(k, v);
    return data;
  } catch (e) {
    await file.close().catch(() => {});
    if (e instanceof SyntaxError || e instanceof RangeError) throw corrupt('unreadable head');
    throw ioError(e, `loading snapshot ${name}`);
  }
}

/** The head of a snapshot of `view` (index columns and metadata). */
function encodeHead(gen: number, view: SnapshotView): Buffer {
  const parts: Buffer[] = [];
  const spaces: SnapHead['spaces'] = [];
  let data = 0;
  for (const [n, entries] of view.spaces) {
    const count = entries.length;
    const cols = Buffer.allocUnsafe(16 * count);
    let at = 0;
    const whole = view.whole;
    for (const [, e] of entries) at = cols.writeDoubleLE(e.seq, at);
    for (const [, e] of entries) {
      const len = whole?.get(e)?.bytes.length ?? e.len;
      at = cols.writeUInt32LE(len, at);
      data += len;
    }
    for (const [, e] of entries) at = cols.writeUInt32LE(whole?.get(e)?.crc ?? e.crc, at);
    const keys = Buffer.from(JSON.stringify(entries.map(([k]) => k)), 'utf8');
    const fixed = entries.every(([, e]) => e.h.length === 16 && /^[0-9a-f]{16}$/i.test(e.h));
    const hashes = fixed ? Buffer.from(entries.map(([, e]) => e.h).join(''), 'latin1') : Buffer.from(JSON.stringify(entries.map(([, e]) => e.h)), 'utf8');
    parts.push(cols, keys, hashes);
    spaces.push({ n, count, keysLen: keys.length, hashesLen: hashes.length });
  }
  const head: SnapHead = { v: 2, gen, meta: Object.fromEntries(view.meta), data, spaces };
  const j = Buffer.from(JSON.stringify(head), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(j.length, 0);
  return Buffer.concat([len, j, ...parts]);
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
  const headBytes = encodeHead(gen, view);
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
        const whole = view.whole?.get(e);
        const bytes = whole ? whole.bytes : e.file ? await reader.bytes(e.file, e.off, e.len) : recordBytes(encodeRecord(e.rec!).text);
        if (crc32(bytes) !== (whole?.crc ?? e.crc)) throw new ConcordError('CORRUPT', `the record of ${JSON.stringify(key)} in ${e.file?.name} does not match its checksum`);
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
