/**
 * Snapshots: the whole state at the end of the segments before `gen`, in one file `snap-<gen>.snap`.
 *
 *   0   "CNCSNAP3"
 *   8   records, space after space, in row order: each stands alone (chained ones, record.ts, are written whole,
 *       their deltas applied), in the compact form (compact-record.ts) where it fits, else in the log's form
 *       head: u32 LE length of J, then J = JSON { v: 3, gen, meta, data: bytes of records, ids, base, used,
 *             spaces: [{ n: name, count, seqsLen, lensLen, keysLen, hashesLen, hex, keysJson? }] },
 *             then per space, `count` rows in seq order, as flat columns:
 *               seqs: varint differences · lens: varints · crcs: u32 LE ×count
 *               keys: varint byte length and UTF-8 per row (`keysJson`: a JSON array, where a key holds a lone
 *                 surrogate, which UTF-8 cannot carry)
 *               hashes: 8 bytes per row (`hex`: every hash is 16 lowercase hex digits), else a JSON array
 *   end−16  length of the head u32 LE · CRC-32 of the head u32 LE · "CNCSNAP3"
 *
 * `ids` is the table of replica ids compact records name by index (`used` of them named by this snapshot's records),
 * `base` the HLC time they count from. The head comes last so records stream out as they are encoded (their lengths
 * and CRCs are known only then). Version 2 (the head first, records copied as the log stored them, hashes as hex
 * text) is still read.
 *
 * Built to open fast: the index is read as columns (no object per key: rows stay numbers until used, see
 * keyspace.ts), rows come in change-log order, a record's offset is the running sum of lens; values are
 * not read at open, and each is checked against its own CRC when it is. Written to `snap-<gen>.tmp`,
 * fsynced, renamed, directory fsynced: a snapshot either is complete or does not exist under its name.
 */
import { ConcordError } from '../../lib/errors.js';
import type { KeyRecord } from '../../lib/storage.js';
import { wellFormed } from '../../lib/values.js';
import { COMPACT_RECORD, compactable, encodeCompact, IdTable, nameIds, type CompactContext } from './compact-record.js';
import { ByteReader, ByteWriter } from './bytes.js';
import { crc32 } from './crc32.js';
import { DataFile } from './data-file.js';
import { ioError } from './io-errors.js';
import { readFully, writeFully, type Io, type IoFile } from './io.js';
import { LOG_RECORD } from './log-record.js';
import { decodeRecord, encodeRecord, recordBytes } from './record.js';
import { setMetaOf, type Entry, type Keyspace } from './keyspace.js';

const MAGIC2 = Buffer.from('CNCSNAP2', 'latin1');
const MAGIC = Buffer.from('CNCSNAP3', 'latin1');
const HEADER2 = 16;
const TRAILER = 16;

interface SpaceHead2 {
  n: string;
  count: number;
  keysLen: number;
  hashesLen: number;
}

interface SpaceHead3 extends SpaceHead2 {
  seqsLen: number;
  lensLen: number;
  hex: boolean;
  /** The keys column is a JSON array (some key holds a lone surrogate, which UTF-8 cannot carry). */
  keysJson?: boolean;
}

interface SnapHead {
  v: 2 | 3;
  gen: number;
  meta: Record<string, unknown>;
  data: number;
  ids?: string[];
  base?: number;
  used?: number;
  spaces: SpaceHead3[];
}

export interface SnapshotView {
  meta: Map<string, unknown>;
  spaces: Array<[string, Array<[string, Entry]>]>;
  /** Chained records (record.ts), read whole with their chains: a snapshot stores them standing alone. */
  whole?: Map<Entry, KeyRecord>;
}

/** Reads a snapshot's index into `ks`; the returned file serves the values. */
export async function loadSnapshot(io: Io, path: string, name: string, ks: Keyspace): Promise<DataFile> {
  const file = await io.open(path, 'r');
  const corrupt = (why: string) => new ConcordError('CORRUPT', `snapshot ${name} is damaged: ${why}`);
  try {
    const size = await file.size();
    const magic = Buffer.alloc(HEADER2);
    if ((await readFully(file, magic, HEADER2, 0)) !== HEADER2) throw corrupt('bad header');
    if (magic.subarray(0, 8).equals(MAGIC2)) return await loadV2(file, size, magic, name, ks, corrupt);
    if (!magic.subarray(0, 8).equals(MAGIC) || size < 8 + TRAILER) throw corrupt('bad header');
    const trailer = Buffer.alloc(TRAILER);
    await readFully(file, trailer, TRAILER, size - TRAILER);
    if (!trailer.subarray(8).equals(MAGIC)) throw corrupt('bad trailer');
    const headLen = trailer.readUInt32LE(0);
    if (8 + headLen + TRAILER > size) throw corrupt('head runs past the start of the file');
    const b = Buffer.allocUnsafe(headLen);
    await readFully(file, b, headLen, size - TRAILER - headLen);
    if (crc32(b) !== trailer.readUInt32LE(4)) throw corrupt('head checksum mismatch');
    const jLen = b.readUInt32LE(0);
    const head = JSON.parse(b.toString('utf8', 4, 4 + jLen)) as SnapHead;
    if (head.v !== 3 || 8 + head.data + headLen + TRAILER !== size) throw corrupt('unexpected version or size');
    if (!Array.isArray(head.ids) || !head.ids.every((r) => typeof r === 'string') || typeof head.base !== 'number' || typeof head.used !== 'number') throw corrupt('no table of ids');
    const data = new DataFile(name, file, { ids: head.ids, base: head.base, used: head.used });
    const r = new ByteReader(b, 4 + jLen, 0, (why) => corrupt(`a column ${why}`));
    let off = 8;
    const column = (len: number) => (r.end = r.at + len);
    const ended = () => {
      if (r.at !== r.end) throw corrupt('columns of unequal length');
    };
    for (const sp of head.spaces) {
      const n = sp.count;
      const { seqs, lens, crcs, offs } = columns(n);
      column(sp.seqsLen);
      let seq = 0;
      for (let i = 0; i < n; i++) seqs[i] = seq += r.uint();
      ended();
      column(sp.lensLen);
      let bytes = 0;
      for (let i = 0; i < n; i++) {
        const len = r.uint();
        lens[i] = len;
        offs[i] = off;
        off += len;
        bytes += len;
      }
      ended();
      for (let i = 0; i < n; i++, r.at += 4) crcs[i] = b.readUInt32LE(r.at);
      column(sp.keysLen);
      let keys: string[];
      if (sp.keysJson) {
        keys = JSON.parse(b.toString('utf8', r.at, r.end)) as string[];
        r.at = r.end;
        if (!Array.isArray(keys) || keys.length !== n || !keys.every((k) => typeof k === 'string')) throw corrupt('columns of unequal length');
      } else {
        keys = new Array(n);
        for (let i = 0; i < n; i++) keys[i] = b.toString('utf8', ...r.skip());
      }
      ended();
      const hashes = sp.hex ? b.toString('hex', r.at, r.at + sp.hashesLen) : (JSON.parse(b.toString('utf8', r.at, r.at + sp.hashesLen)) as string[]);
      r.at += sp.hashesLen;
      if (typeof hashes === 'string' ? hashes.length !== 16 * n : hashes.length !== n) throw corrupt('columns of unequal length');
      addSpace(ks, sp.n, { file: data, seqs, lens, crcs, offs, hashes }, keys, bytes);
    }
    if (off !== 8 + head.data) throw corrupt('records of unexpected length');
    for (const [k, v] of Object.entries(head.meta)) setMetaOf(ks.meta, k, v);
    return data;
  } catch (e) {
    await file.close().catch(() => {});
    if (e instanceof SyntaxError || e instanceof RangeError) throw corrupt('unreadable head');
    throw ioError(e, `loading snapshot ${name}`);
  }
}

/** The flat index columns of `n` rows (keyspace.ts BaseColumns). */
function columns(n: number): { seqs: Float64Array; lens: Uint32Array; crcs: Uint32Array; offs: Float64Array } {
  return { seqs: new Float64Array(n), lens: new Uint32Array(n), crcs: new Uint32Array(n), offs: new Float64Array(n) };
}

function addSpace(ks: Keyspace, name: string, base: NonNullable<ReturnType<Keyspace['space']>['base']>, keys: string[], bytes: number): void {
  const index = ks.space(name);
  index.base = base;
  for (let i = 0; i < keys.length; i++) index.records.set(keys[i]!, i);
  index.bytes += bytes;
  index.logSeq = Array.from(base.seqs);
  index.logKey = keys;
}

/** A version 2 snapshot (head first, records as the log stored them). */
async function loadV2(file: IoFile, size: number, header: Buffer, name: string, ks: Keyspace, corrupt: (why: string) => Error): Promise<DataFile> {
  const headLen = header.readUInt32LE(8);
  if (HEADER2 + headLen > size) throw corrupt('head runs past the end of the file');
  const b = Buffer.allocUnsafe(headLen);
  await readFully(file, b, headLen, HEADER2);
  if (crc32(b) !== header.readUInt32LE(12)) throw corrupt('head checksum mismatch');
  const jLen = b.readUInt32LE(0);
  const head = JSON.parse(b.toString('utf8', 4, 4 + jLen)) as SnapHead;
  if (head.v !== 2 || HEADER2 + headLen + head.data !== size) throw corrupt('unexpected version or size');
  const data = new DataFile(name, file);
  let at = 4 + jLen;
  let off = HEADER2 + headLen;
  for (const sp of head.spaces) {
    const n = sp.count;
    const { seqs, lens, crcs, offs } = columns(n);
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
    addSpace(ks, sp.n, { file: data, seqs, lens, crcs, offs, hashes }, keys, bytes);
  }
  for (const [k, v] of Object.entries(head.meta)) setMetaOf(ks.meta, k, v);
  return data;
}

const HEX16 = /^[0-9a-f]{16}$/;

function column(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new ConcordError('STORAGE_ERROR', `a snapshot column cannot hold ${n}`);
}

/** The head of a snapshot of `view`: its index columns (with each row's stored length and CRC) and metadata. */
function encodeHead(gen: number, view: SnapshotView, stored: ReadonlyArray<{ lens: number[]; crcs: number[] }>, table: IdTable, base: number): Buffer {
  const parts: Buffer[] = [];
  const spaces: SpaceHead3[] = [];
  let data = 0;
  view.spaces.forEach(([n, entries], si) => {
    const { lens, crcs } = stored[si]!;
    const count = entries.length;
    const c = new ByteWriter(1 << 12);
    let prev = 0;
    for (const [, e] of entries) {
      column(e.seq - prev);
      c.uint(e.seq - prev);
      prev = e.seq;
    }
    const seqsLen = c.at;
    for (const len of lens) {
      column(len);
      c.uint(len);
      data += len;
    }
    const lensLen = c.at - seqsLen;
    c.room(4 * count);
    for (const crc of crcs) c.at = c.buf.writeUInt32LE(crc, c.at);
    const keysStart = c.at;
    const keysJson = !entries.every(([k]) => wellFormed(k));
    if (keysJson) c.raw(Buffer.from(JSON.stringify(entries.map(([k]) => k)), 'utf8'));
    else {
      for (const [k] of entries) {
        const kb = Buffer.from(k, 'utf8');
        c.uint(kb.length);
        c.raw(kb);
      }
    }
    const keysLen = c.at - keysStart;
    const hex = entries.every(([, e]) => HEX16.test(e.h));
    const hashes = hex ? Buffer.from(entries.map(([, e]) => e.h).join(''), 'hex') : Buffer.from(JSON.stringify(entries.map(([, e]) => e.h)), 'utf8');
    parts.push(c.done(), hashes);
    spaces.push({ n, count, seqsLen, lensLen, keysLen, hashesLen: hashes.length, hex, ...(keysJson ? { keysJson } : {}) });
  });
  const head: SnapHead = { v: 3, gen, meta: Object.fromEntries(view.meta), data, ids: table.ids, base, used: table.used, spaces };
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

/** Where a written snapshot put each entry (per space, per entry), with its stored length and CRC. */
export interface WrittenSnapshot {
  path: string;
  compact: CompactContext;
  offsets: number[][];
  lens: number[][];
  crcs: number[][];
}

/**
 * Writes the snapshot `gen` of `view` and makes it durable under its final name. `from` is the context of the
 * snapshot it replaces: its table of ids is kept (in order) and its base time too, so its compact records are
 * copied as they are (without it, every record is encoded again, into a fresh table). Returns where each entry now is, so the caller can point the index at it. `aborted` is polled
 * between chunks.
 */
export async function writeSnapshot(
  io: Io,
  dir: string,
  gen: number,
  view: SnapshotView,
  aborted: () => boolean,
  from?: CompactContext,
): Promise<WrittenSnapshot | undefined> {
  const final = `${dir}/${snapName(gen)}`;
  const tmp = final.replace(/\.snap$/, '.tmp');
  const table = new IdTable(from?.ids);
  let base = from?.base;
  let file: IoFile | undefined;
  try {
    file = await io.open(tmp, 'w');
    await writeFully(file, MAGIC, 0);
    let pos = MAGIC.length;
    const written: WrittenSnapshot = { path: final, compact: { ids: table.ids, base: 0, used: 0 }, offsets: [], lens: [], crcs: [] };
    const reader = new WindowReader();
    const out = Buffer.allocUnsafe(1 << 20);
    let fill = 0;
    const flush = async () => {
      await writeFully(file!, out.subarray(0, fill), pos - fill);
      fill = 0;
    };
    // A record's stored bytes in this snapshot: compact where it fits; a compact record of the snapshot this one
    // replaces is copied (same table prefix, same base); anything else keeps the form it has.
    const storedBytes = async (key: string, e: Entry): Promise<Buffer> => {
      const whole = view.whole?.get(e);
      let rec: KeyRecord | undefined = whole;
      let bytes: Buffer | undefined;
      if (!rec && e.file) {
        bytes = await reader.bytes(e.file, e.off, e.len);
        if (crc32(bytes) !== e.crc) throw new ConcordError('CORRUPT', `the record of ${JSON.stringify(key)} in ${e.file.name} does not match its checksum`);
        if (bytes[0] === COMPACT_RECORD && from && e.file.compact === from) {
          nameIds(bytes, table);
          return bytes;
        }
        rec = decodeRecord(bytes, e.file.compact, e.seq, e.h) as KeyRecord;
      }
      rec ??= e.rec!;
      const t = rec.vs[0]?.t;
      if (base === undefined && Number.isSafeInteger(t)) base = t;
      if (base !== undefined && compactable(rec, base)) return encodeCompact(rec, table, base);
      // not the log's binary form (log-record.ts): a snapshot holds only what the releases reading version 3 read
      return bytes !== undefined && bytes[0] !== LOG_RECORD ? bytes : recordBytes(encodeRecord(rec).text);
    };
    for (const [, entries] of view.spaces) {
      const offs: number[] = [];
      const lens: number[] = [];
      const crcs: number[] = [];
      for (const [key, e] of entries) {
        const bytes = await storedBytes(key, e);
        if (fill + bytes.length > out.length) {
          await flush();
          if (aborted()) return undefined;
        }
        offs.push(pos);
        lens.push(bytes.length);
        crcs.push(crc32(bytes));
        if (bytes.length > out.length) {
          await writeFully(file, bytes, pos);
        } else {
          bytes.copy(out, fill);
          fill += bytes.length;
        }
        pos += bytes.length;
      }
      written.offsets.push(offs);
      written.lens.push(lens);
      written.crcs.push(crcs);
    }
    if (fill > 0) await flush();
    base ??= 0;
    written.compact = { ids: table.ids, base, used: table.used };
    const head = encodeHead(gen, view, written.lens.map((lens, i) => ({ lens, crcs: written.crcs[i]! })), table, base);
    const trailer = Buffer.alloc(TRAILER);
    trailer.writeUInt32LE(head.length, 0);
    trailer.writeUInt32LE(crc32(head), 4);
    MAGIC.copy(trailer, 8);
    await writeFully(file, Buffer.concat([head, trailer]), pos);
    await file.datasync();
    await file.close();
    file = undefined;
    if (aborted()) return undefined;
    await io.rename(tmp, final);
    await io.syncDir(dir);
    return written;
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
