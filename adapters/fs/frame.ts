/**
 * Log frames: one transaction is one frame, checksummed, appended to a segment file.
 *
 *   offset 0  magic   C1 FF 43 44   (0xC1 and 0xFF never occur in UTF-8, so never inside JSON payloads)
 *          4  length  u32 LE        payload bytes
 *          8  headLen u32 LE        bytes of the head (JSON) at the start of the payload
 *         12  group   u32 LE        commit group: frames written and fsynced together share it
 *         16  flags   u32 LE        bit 0: last frame of its group
 *         20  crc     u32 LE        CRC-32 of bytes 4..20, then of the payload
 *         24  payload = head JSON ‖ records (each put KeyRecord, in head order; record.ts: JSON, or bytes when it holds byte values)
 *
 * Head: { o: [[space, key, seq, h, len, crc] (put) | [space, key, seq, h, len, crc, 1] (a put chained to the key's
 * previous record, record.ts) | [space, key] (remove), ...], m?: { name: value } }.
 * Recovery reads only heads; a record's text is found at a known offset and read when asked for,
 * checked against its own CRC.
 *
 * Groups make a torn tail distinguishable from corruption: group g+1 is written only after group g was
 * fsynced, so a bad frame followed by a valid frame of a *later* group is damage to durable data, while
 * valid frames of the *same* group after a bad one are the leftovers of a write cut short by a crash.
 */
import { ConcordError } from '../../lib/errors.js';
import type { KeyRecord } from '../../lib/storage.js';
import { crc32 } from './crc32.js';
import { encodeRecord } from './record.js';

export const FRAME_HEADER = 24;
export const MAGIC = Buffer.from([0xc1, 0xff, 0x43, 0x44]);
export const LAST_IN_GROUP = 1;
const MAX_FRAME = 1 << 30;

export type HeadOp =
  | [space: string, key: string, seq: number, h: string, len: number, crc: number]
  | [space: string, key: string, seq: number, h: string, len: number, crc: number, chained: 1]
  | [space: string, key: string];

export interface BatchHead {
  o: HeadOp[];
  m?: Record<string, unknown>;
}

/** One write of a transaction: a put (`rec`) or a remove (`rec === null`), with its encoding once encoded. */
export interface Change {
  readonly space: string;
  readonly key: string;
  readonly rec: KeyRecord | null;
  /** The key's previous record, when the put may be stored chained to it (record.ts); `chained` once encoded. */
  prev?: KeyRecord | undefined;
  chained?: boolean;
  /** The record's stored form (record.ts), its byte length and CRC-32, its offset within the payload (puts only). */
  text: string | Buffer;
  len: number;
  crc: number;
  rel: number;
}

/** A transaction ready to be framed: its head and record texts, kept as strings until the group write. */
export interface EncodedBatch {
  head: string;
  headLen: number;
  changes: Change[];
  /** Payload bytes: headLen + the record texts' UTF-8 lengths. */
  length: number;
}

export function change(space: string, key: string, rec: KeyRecord | null): Change {
  return { space, key, rec, text: '', len: 0, crc: 0, rel: 0 };
}

/**
 * Encodes one put's record (its stored form, byte length and CRC); throws, before anything is applied, if the record
 * is not serializable. Removes have nothing to encode.
 */
export function encodeChange(c: Change): void {
  if (c.rec === null) return;
  const enc = encodeRecord(c.rec, c.prev);
  c.text = enc.text;
  c.chained = enc.chained;
  c.len = typeof c.text === 'string' ? Buffer.byteLength(c.text, 'utf8') : c.text.length;
  c.crc = crc32(c.text);
}

/**
 * The head of a frame whose changes were encoded (encodeChange), in order; one frame may hold several transactions
 * (file-storage.ts coalesces those committed while the writer was busy): its ops are applied in order at recovery,
 * and `meta` holds the last value each name was set to.
 */
export function encodeHead(changes: Change[], meta: ReadonlyMap<string, unknown>): EncodedBatch {
  const ops = new Array<HeadOp>(changes.length);
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i]!;
    if (c.rec === null) ops[i] = [c.space, c.key];
    else ops[i] = c.chained ? [c.space, c.key, c.rec.seq, c.rec.h, c.len, c.crc, 1] : [c.space, c.key, c.rec.seq, c.rec.h, c.len, c.crc];
  }
  const h: BatchHead = meta.size > 0 ? { o: ops, m: Object.fromEntries(meta) } : { o: ops };
  const head = JSON.stringify(h);
  const headLen = Buffer.byteLength(head, 'utf8');
  let off = headLen;
  for (const c of changes) {
    if (c.rec === null) continue;
    c.rel = off;
    off += c.len;
  }
  return { head, headLen, changes, length: off };
}

/** Encodes a transaction (throws, before anything is applied, if a record is not JSON-serializable). */
export function encodeBatch(changes: Change[], meta: ReadonlyMap<string, unknown>): EncodedBatch {
  for (const c of changes) encodeChange(c);
  return encodeHead(changes, meta);
}

/** Writes a whole frame (header and payload) for `b` into `out` at `at`; returns its size. */
export function writeFrame(out: Buffer, at: number, b: EncodedBatch, group: number, flags: number): number {
  let pos = at + FRAME_HEADER;
  pos += out.write(b.head, pos, 'utf8');
  for (const c of b.changes) {
    if (c.rec === null) continue;
    pos += typeof c.text === 'string' ? out.write(c.text, pos, 'utf8') : c.text.copy(out, pos);
  }
  MAGIC.copy(out, at);
  out.writeUInt32LE(b.length, at + 4);
  out.writeUInt32LE(b.headLen, at + 8);
  out.writeUInt32LE(group >>> 0, at + 12);
  out.writeUInt32LE(flags, at + 16);
  out.writeUInt32LE(crc32(out.subarray(at + FRAME_HEADER, pos), crc32(out.subarray(at + 4, at + 20))), at + 20);
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
      (op.length === 2 || ((op.length === 6 || (op.length === 7 && op[6] === 1)) && typeof op[2] === 'number' && typeof op[3] === 'string' && typeof op[4] === 'number' && typeof op[5] === 'number'));
    if (!ok) throw new ConcordError('CORRUPT', `${where}: a frame with a valid checksum holds a malformed operation`);
  }
  return h as BatchHead;
}
