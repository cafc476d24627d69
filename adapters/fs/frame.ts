/**
 * Log frames: one transaction is one frame, checksummed, appended to a segment file.
 *
 *   offset 0  magic   C1 FF 43 44   (0xC1 and 0xFF never occur in UTF-8, so never inside JSON payloads)
 *          4  length  u32 LE        payload bytes
 *          8  headLen u32 LE        bytes of the head (JSON) at the start of the payload
 *         12  group   u32 LE        commit group: frames written and fsynced together share it
 *         16  flags   u32 LE        bit 0: last frame of its group; bit 1 (FOLLOWS): its group is the one after the
 *                                   group before it in this segment (set on every group but a segment's first since
 *                                   rid50; earlier releases set no bit 1 and ignore it)
 *         20  crc     u32 LE        CRC-32 of bytes 4..20, then of the payload
 *         24  payload = head JSON ‖ records (each put KeyRecord, in head order; record.ts: JSON, or bytes when it holds byte values)
 *
 * Head: { o: [[space, key, seq, h, len, crc] (put) | [space, key, seq, h, len, crc, form] | [space, key] (remove),
 * ...], m?: { name: value } }. A put's `form`: 1 (CHAINED) its record is chained to the key's previous record
 * (record.ts), 2 (RECORD_V2) its record is in the log's binary form (log-record.ts: an earlier release, whose reader
 * takes only 1 there, refuses the directory at open rather than misread it); this release refuses any other form as
 * a later release's.
 * Recovery reads only heads; a record's text is found at a known offset and read when asked for,
 * checked against its own CRC.
 *
 * Groups make a torn tail distinguishable from corruption: group g+1 is written only after group g was
 * fsynced, so a bad frame followed by a valid frame of a *later* group is damage to durable data, while
 * valid frames of the *same* group after a bad one are the leftovers of a write cut short by a crash.
 */
import { ConcordError } from '../../lib/errors.js';
import type { KeyRecord } from '../../lib/storage.js';
import { crc32, crc32Range } from './crc32.js';
import { NOT_PLAIN, writeJson, writeWith, type JsonWriter } from './json-bytes.js';
import { LOG_RECORD } from './log-record.js';
import { encodeRecord } from './record.js';

export const FRAME_HEADER = 24;
export const MAGIC = Buffer.from([0xc1, 0xff, 0x43, 0x44]);
export const LAST_IN_GROUP = 1;
/**
 * The frame's group is the one after the last group before it in its segment, which was complete (fsynced) before this
 * one was written (log-writer.ts: a failed group's number goes to the next). Recovery tells by it a torn tail from
 * damage where a bad frame's header does not read (recovery.ts isTornTail). Frames without it (an earlier release's, or
 * a segment's first group) leave that ambiguous.
 */
export const FOLLOWS = 2;
const MAX_FRAME = 1 << 30;
/** A put's form in its head op (see above). */
export const CHAINED = 1;
export const RECORD_V2 = 2;
type PutForm = typeof CHAINED | typeof RECORD_V2;

export type HeadOp =
  | [space: string, key: string, seq: number, h: string, len: number, crc: number]
  | [space: string, key: string, seq: number, h: string, len: number, crc: number, form: PutForm]
  | [space: string, key: string];

export interface BatchHead {
  o: HeadOp[];
  m?: Record<string, unknown>;
}

/**
 * One write of a transaction framed alone (encodeBatch: tests and tools): a put (`rec`) or a remove (`rec === null`),
 * with its encoding's place once encoded. File storage's batches keep no such object per write (batch.ts).
 */
export interface Change {
  readonly space: string;
  readonly key: string;
  readonly rec: KeyRecord | null;
  /** Stored chained to the key's previous record (record.ts), once encoded. */
  chained?: boolean;
  /** The record's stored form's byte length and CRC-32 (RecordArea.append), its offset within the payload (puts only). */
  len: number;
  crc: number;
  rel: number;
}

/** A transaction ready to be framed: its head, and its records' bytes in order (RecordArea.parts). */
export interface EncodedBatch {
  /** The head's JSON as UTF-8 (encoded once: its length is the frame's headLen, its bytes go to the file as they are). */
  head: Buffer;
  headLen: number;
  records: readonly Buffer[];
  /** Payload bytes: headLen + the records' lengths. */
  length: number;
}

/** A put as its frame's head names it: the record's seq and hash, its stored form's length and CRC, and whether it is chained. */
export interface FramedPut {
  readonly seq: number;
  readonly h: string;
  readonly len: number;
  readonly crc: number;
  readonly chained: boolean;
}

export function change(space: string, key: string, rec: KeyRecord | null): Change {
  return { space, key, rec, len: 0, crc: 0, rel: 0 };
}

/**
 * Encodes one put's record (its stored form, record.ts: chained to `prev`, the key's previous record, where it may be);
 * throws, before anything is applied, if the record is not serializable. Removes have nothing to encode.
 */
export function encodeChange(c: Change, prev?: KeyRecord): string | Buffer | undefined {
  if (c.rec === null) return undefined;
  const enc = encodeRecord(c.rec, prev);
  c.chained = enc.chained;
  return enc.text;
}

/** Bytes of record area taken at a time: the first chunk small (most batches are one write), each next one twice as large, up to this. */
const AREA_CHUNK = 64 << 10;
const FIRST_CHUNK = 1 << 10;
/** Records up to this many bytes are copied into the area byte by byte (RecordArea.appendBytes). */
const SHORT_COPY = 256;

/**
 * The records of a batch as bytes, appended in order as its transactions commit: a record's text is encoded to UTF-8
 * once (its length and CRC are taken from those bytes) and then only its bytes wait for the group write. Bytes live
 * outside the JavaScript heap, so many writes waiting for an fsync cost the garbage collector little (a string each
 * had to be copied at every young collection it survived).
 */
export class RecordArea {
  private readonly done: Buffer[] = [];
  private chunk: Buffer | undefined;
  private used = 0;
  /** Where `mark` was taken (`rollback` goes back there). */
  private markDone = 0;
  private markChunk: Buffer | undefined;
  private markUsed = 0;

  /** The CRC-32 of the record appended last. */
  crc = 0;

  /**
   * Appends the JSON text of plain data (a record whose values are all texts: record.ts) written straight into the
   * area (json-bytes.ts), the bytes of `append(JSON.stringify(value))`; returns its byte length (its CRC-32 is then in
   * `crc`). Throws where JSON.stringify throws.
   */
  appendJson(value: unknown): number {
    try {
      for (let tries = 0; tries < 2; tries++) {
        const c = this.chunk;
        if (c !== undefined) {
          const at = this.used;
          const end = writeJson(value, c, at, c.length);
          if (end >= 0) {
            this.used = end;
            this.crc = crc32Range(c, at, end);
            return end - at;
          }
        }
        // no room left in this chunk (what the try wrote past `used` is not kept): once more in a new one
        this.seal();
        this.chunk = Buffer.allocUnsafe(this.chunkSize(0));
      }
    } catch (e) {
      if (e !== NOT_PLAIN) throw e;
    }
    // larger than a chunk, or not data json-bytes.ts writes: as its text
    return this.append(JSON.stringify(value));
  }

  /** Appends a record's stored form; returns its byte length (its CRC-32 is then in `crc`). */
  append(text: string | Buffer): number {
    // A UTF-16 code unit takes at most 3 bytes of UTF-8; a text past a chunk is measured (a chunk of 3× a large
    // value's size would be mostly unused).
    const most = typeof text !== 'string' ? text.length : text.length > AREA_CHUNK ? Buffer.byteLength(text, 'utf8') : text.length * 3;
    if (!this.chunk || this.chunk.length - this.used < most) {
      this.seal();
      this.chunk = Buffer.allocUnsafe(this.chunkSize(most));
    }
    const at = this.used;
    const len = typeof text === 'string' ? this.chunk.write(text, at, 'utf8') : text.copy(this.chunk, at);
    this.used += len;
    this.crc = crc32Range(this.chunk, at, at + len);
    return len;
  }

  /** Appends the first `len` bytes of `src` (a record written elsewhere: log-record.ts); returns `len` (CRC: `crc`). */
  appendBytes(src: Uint8Array, len: number): number {
    if (!this.chunk || this.chunk.length - this.used < len) {
      this.seal();
      this.chunk = Buffer.allocUnsafe(this.chunkSize(len));
    }
    const c = this.chunk;
    const at = this.used;
    // a short record copied byte by byte (Buffer#copy's own work is most of a short copy's)
    if (len <= SHORT_COPY) for (let i = 0; i < len; i++) c[at + i] = src[i]!;
    else c.set(src.subarray(0, len), at);
    this.used = at + len;
    this.crc = crc32Range(c, at, at + len);
    return len;
  }

  /** The bytes appended so far, in order. */
  parts(): Buffer[] {
    this.seal();
    return this.done;
  }

  /** Remembers where the area ends now: `rollback` drops what is appended after (a transaction that failed to encode). */
  mark(): void {
    this.markDone = this.done.length;
    this.markChunk = this.chunk;
    this.markUsed = this.used;
  }

  /** Drops what was appended since `mark` (a chunk sealed since is open again, to where it was). */
  rollback(): void {
    this.done.length = this.markDone;
    this.chunk = this.markChunk;
    this.used = this.markUsed;
  }

  /** The next chunk's size: the first small (most batches are one write), each next twice as large up to AREA_CHUNK. */
  private chunkSize(atLeast: number): number {
    return Math.max(Math.min(AREA_CHUNK, FIRST_CHUNK * 2 ** this.done.length), atLeast);
  }

  private seal(): void {
    if (this.chunk && this.used > 0) this.done.push(this.chunk.subarray(0, this.used));
    this.chunk = undefined;
    this.used = 0;
  }
}

/** What a batch counted of its ops as it took them (batch.ts): the sum of their opRoom, and its records' bytes. */
export interface HeadSizes {
  readonly room: number;
  readonly bytes: number;
}

/**
 * Room for a head op where its texts are printable ASCII (two bytes a character at most, escaped): a remove's, or with
 * the hash `h`, a put's. headBytes falls back to JSON.stringify where the op takes more.
 */
export function opRoom(space: string, key: string, h: string | undefined): number {
  return 2 * (space.length + key.length) + 16 + (h === undefined ? 0 : 2 * h.length + 56);
}

/**
 * The head of a frame whose changes were encoded, in order — change i is a put of `puts[i]` or, where that is
 * undefined, a remove of `keys[i]` in `spaces[i]` — their records' bytes in `records`; one frame may hold several
 * transactions (file-storage.ts coalesces those committed while the writer was busy): its ops are applied in order at
 * recovery, and `meta` holds the last value each name was set to. A put's record starts `headLen` plus the lengths of
 * the puts before it into the payload. `sizes`, where the caller counted them as it took the ops, spares a pass over
 * them.
 */
export function encodeHead(spaces: readonly string[], keys: readonly string[], puts: ReadonlyArray<FramedPut | undefined>, meta: ReadonlyMap<string, unknown>, records: readonly Buffer[], sizes?: HeadSizes): EncodedBatch {
  let bytes = 0;
  let room = 64;
  if (sizes !== undefined) {
    bytes = sizes.bytes;
    room += sizes.room;
  } else {
    for (let i = 0; i < keys.length; i++) {
      const p = puts[i];
      room += opRoom(spaces[i]!, keys[i]!, p?.h);
      if (p !== undefined) bytes += p.len;
    }
  }
  const parts: HeadParts = { spaces, keys, puts, meta, records };
  const head = headBytes(parts, room) ?? Buffer.from(JSON.stringify(headOf(parts)), 'utf8');
  return { head, headLen: head.length, records, length: head.length + bytes };
}

interface HeadParts {
  spaces: readonly string[];
  keys: readonly string[];
  puts: ReadonlyArray<FramedPut | undefined>;
  meta: ReadonlyMap<string, unknown>;
  records: readonly Buffer[];
}

/**
 * Each put's form (CHAINED, RECORD_V2, or 0: its record is JSON or the earlier binary form), in order: a chained put's
 * is known, another's is read from its record's first byte — the records lie in the batch's parts in the order of the
 * puts (each within one part), so the mark is what the bytes are.
 */
class Forms {
  private part = 0;
  private at = 0;
  constructor(private readonly records: readonly Buffer[]) {}

  next(p: FramedPut): number {
    const parts = this.records;
    while (this.part < parts.length && this.at >= parts[this.part]!.length) {
      this.part++;
      this.at = 0;
    }
    const first = parts[this.part]?.[this.at];
    this.at += p.len;
    return p.chained ? CHAINED : first === LOG_RECORD ? RECORD_V2 : 0;
  }
}

/**
 * The head's JSON written as bytes (json-bytes.ts), the bytes of JSON.stringify(headOf(…)) without an array per op
 * and the text in between (a group of 100 000 puts: 100 000 arrays and a 6 MB string); undefined where it did not fit in
 * `room` or holds what json-bytes.ts does not write (the caller then takes JSON.stringify's).
 */
function headBytes(parts: HeadParts, room: number): Buffer | undefined {
  const buf = Buffer.allocUnsafe(room);
  let end: number;
  try {
    end = writeWith(buf, 0, room, parts, writeHead);
  } catch (e) {
    if (e === NOT_PLAIN) return undefined;
    throw e;
  }
  return end < 0 ? undefined : buf.subarray(0, end);
}

function writeHead(w: JsonWriter, { spaces, keys, puts, meta, records }: HeadParts): boolean {
  if (!w.ascii('{"o":[')) return false;
  const forms = new Forms(records);
  // a space's text as written last: the ops of a batch mostly name one space, copied from there
  let space: string | undefined;
  let spaceAt = 0;
  let spaceEnd = 0;
  for (let i = 0; i < keys.length; i++) {
    if ((i > 0 && !w.byte(0x2c)) || !w.byte(0x5b)) return false;
    const s = spaces[i]!;
    if (s === space) {
      if (!w.again(spaceAt, spaceEnd)) return false;
    } else {
      spaceAt = w.at;
      if (!w.string(s)) return false;
      spaceEnd = w.at;
      space = s;
    }
    if (!w.byte(0x2c) || !w.string(keys[i]!)) return false;
    const p = puts[i];
    if (p !== undefined) {
      if (!w.byte(0x2c) || !w.number(p.seq) || !w.byte(0x2c) || !w.string(p.h) || !w.byte(0x2c) || !w.number(p.len) || !w.byte(0x2c) || !w.number(p.crc)) return false;
      const form = forms.next(p);
      if (form !== 0 && !(w.byte(0x2c) && w.byte(0x30 + form))) return false;
    }
    if (!w.byte(0x5d)) return false;
  }
  if (meta.size === 0) return w.ascii(']}');
  return w.ascii('],"m":') && w.value(Object.fromEntries(meta), 0) && w.byte(0x7d);
}

function headOf({ spaces, keys, puts, meta, records }: HeadParts): BatchHead {
  const ops = new Array<HeadOp>(keys.length);
  const forms = new Forms(records);
  for (let i = 0; i < keys.length; i++) {
    const p = puts[i];
    if (p === undefined) ops[i] = [spaces[i]!, keys[i]!];
    else {
      const form = forms.next(p);
      ops[i] = form === CHAINED || form === RECORD_V2 ? [spaces[i]!, keys[i]!, p.seq, p.h, p.len, p.crc, form] : [spaces[i]!, keys[i]!, p.seq, p.h, p.len, p.crc];
    }
  }
  return meta.size > 0 ? { o: ops, m: Object.fromEntries(meta) } : { o: ops };
}

/** Encodes a transaction (throws, before anything is applied, if a record is not JSON-serializable); each put's `rel` is set. */
export function encodeBatch(changes: Change[], meta: ReadonlyMap<string, unknown>): EncodedBatch & { changes: Change[] } {
  const area = new RecordArea();
  const puts: Array<FramedPut | undefined> = [];
  for (const c of changes) {
    const text = encodeChange(c);
    if (text !== undefined) {
      c.len = area.append(text);
      c.crc = area.crc;
    }
    puts.push(c.rec === null ? undefined : { seq: c.rec.seq, h: c.rec.h, len: c.len, crc: c.crc, chained: c.chained === true });
  }
  const b = encodeHead(changes.map((c) => c.space), changes.map((c) => c.key), puts, meta, area.parts());
  let off = b.headLen;
  for (const c of changes) {
    if (c.rec === null) continue;
    c.rel = off;
    off += c.len;
  }
  return { ...b, changes };
}

/**
 * A whole frame for `b` as the pieces the log writer hands to the file in order (one gathered write, io.ts writeAll):
 * the 24-byte header, the head, and the records' bytes as the batch holds them, not copied into one buffer (a group of
 * 100 000 puts was a 25 MB buffer, allocated and filled once more only to be written).
 */
export function framePieces(b: EncodedBatch, group: number, flags: number): Buffer[] {
  const header = Buffer.allocUnsafe(FRAME_HEADER);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(b.length, 4);
  header.writeUInt32LE(b.headLen, 8);
  header.writeUInt32LE(group >>> 0, 12);
  header.writeUInt32LE(flags, 16);
  let crc = crc32(b.head, crc32(header.subarray(4, 20)));
  for (const part of b.records) crc = crc32(part, crc);
  header.writeUInt32LE(crc, 20);
  return [header, b.head, ...b.records];
}

/** Writes a whole frame (header and payload) for `b` into `out` at `at`; returns its size. The bytes of framePieces. */
export function writeFrame(out: Buffer, at: number, b: EncodedBatch, group: number, flags: number): number {
  let pos = at;
  for (const piece of framePieces(b, group, flags)) pos += piece.copy(out, pos);
  return pos - at;
}

export interface FrameHeader {
  length: number;
  headLen: number;
  group: number;
  flags: number;
  crc: number;
}

/** Parses a frame header; undefined when it cannot be one (bad magic or impossible lengths). */
export function readFrameHeader(buf: Buffer, at: number): FrameHeader | undefined {
  if (buf.length - at < FRAME_HEADER) return undefined;
  if (buf[at] !== MAGIC[0] || buf[at + 1] !== MAGIC[1] || buf[at + 2] !== MAGIC[2] || buf[at + 3] !== MAGIC[3]) return undefined;
  const length = buf.readUInt32LE(at + 4);
  const headLen = buf.readUInt32LE(at + 8);
  if (length > MAX_FRAME || headLen > length || headLen === 0) return undefined;
  return { length, headLen, group: buf.readUInt32LE(at + 12), flags: buf.readUInt32LE(at + 16), crc: buf.readUInt32LE(at + 20) };
}

/** Whether the frame's checksum matches: `header` at `at` in `headerBuf`, its payload in `payload`. */
export function frameChecks(headerBuf: Buffer, at: number, h: FrameHeader, payload: Buffer): boolean {
  return crc32(payload, crc32(headerBuf.subarray(at + 4, at + 20))) === h.crc;
}

/** Parses and validates a head whose frame checksum was right (so a bad one is a bug or tampering). */
export function parseHead(bytes: Buffer, where: string): BatchHead {
  let head: unknown;
  try {
    head = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ConcordError('CORRUPT', `${where}: a frame with a valid checksum holds an unreadable head`);
  }
  const h = head as Partial<BatchHead> | null;
  if (!h || !Array.isArray(h.o) || (h.m !== undefined && (typeof h.m !== 'object' || h.m === null))) {
    throw new ConcordError('CORRUPT', `${where}: a frame with a valid checksum holds a malformed head`);
  }
  for (const op of h.o) {
    const ok =
      Array.isArray(op) &&
      typeof op[0] === 'string' &&
      typeof op[1] === 'string' &&
      (op.length === 2 || ((op.length === 6 || op.length === 7) && typeof op[2] === 'number' && typeof op[3] === 'string' && typeof op[4] === 'number' && typeof op[5] === 'number'));
    if (!ok) throw new ConcordError('CORRUPT', `${where}: a frame with a valid checksum holds a malformed operation`);
    if (op.length === 7 && op[6] !== CHAINED && op[6] !== RECORD_V2) {
      throw new ConcordError('CORRUPT', `${where}: a record of form ${JSON.stringify(op[6])}, which this release does not read (written by a later release of concord?)`);
    }
  }
  return h as BatchHead;
}
