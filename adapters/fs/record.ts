/**
 * How one KeyRecord is stored in a log frame or a snapshot. A record whose values are all texts is its JSON text
 * (as every file written before binary values), or in a log frame of this release its binary form (log-record.ts).
 * A record holding byte values (binary and typed values, e.g. Yjs document states), deltas, or references to the key's
 * previous record is stored as
 *
 *   0x00 ‖ u32 LE length of J ‖ J ‖ the byte areas, raw, in version order
 *
 * where J is the record's JSON (its context points `pts` where any names an epoch) with each version written as
 * {r, ep?, n, t, c, d?} (ep: the dot's epoch, where it names one) and its value as one of
 *   v: "text"                 a text value
 *   v: length                 a byte value (its bytes in the byte area)
 *   p: 1                      the same version as in the key's previous record (a dot names one value)
 *   x: [bases, s, length]     (a base: [r, n] or [r, n, epoch]) derived from versions of the key's previous record (docs/deltas.md): the delta's
 *                             bytes in the byte area; with `v` too, the value is whole and the derivation is kept
 *                             (the sync engine sends it to peers holding the bases)
 * A record with `p` or an `x` without `v` is a *chained* record: it is read with the key's previous record
 * (file-storage.ts keeps that link, recovery rebuilds it). A JSON text never starts with 0x00, so the forms cannot be
 * confused (nor with the log's binary record, which starts with 0x02). A 100 KB value costs 100 KB + J; a keystroke
 * into a 100 KB document costs its delta + J.
 */
import { chainForm, unchain, type ChainVersion } from '../../lib/chain.js';
import type { Dot } from '../../lib/dvv.js';
import type { KeyRecord } from '../../lib/storage.js';
import { COMPACT_RECORD, decodeCompact, type CompactContext } from './compact-record.js';
import { decodeLogRecord, LOG_RECORD } from './log-record.js';

const BINARY_RECORD = 0x00;

interface VersionJson {
  r: string;
  ep?: string;
  n: number;
  t: number;
  c: number;
  d?: 1;
  v?: string | number;
  p?: 1;
  x?: [readonly Dot[], number, number];
}

/**
 * The stored form of a record: a string (JSON, written as UTF-8) or bytes. With `prev` (the key's previous record,
 * as readers will find it), versions it holds are referenced and derived versions whose bases it holds are stored as
 * their deltas (lib/chain.ts): `chained` then says the form needs `prev` to be read.
 */
export function encodeRecord(rec: KeyRecord, prev?: KeyRecord): { text: string | Buffer; chained: boolean } {
  if (isPlain(rec)) return { text: JSON.stringify(rec), chained: false };
  const form = chainForm(rec, prev);
  const areas: Uint8Array[] = [];
  const vs = form.vs.map((v): VersionJson => {
    const { x, v: value, ...rest } = v;
    const out: VersionJson = rest;
    if (typeof value === 'string') out.v = value;
    else if (value !== undefined) {
      out.v = value.length;
      areas.push(value);
    }
    if (x) {
      out.x = [x.b, x.s, x.d.length];
      areas.push(x.d);
    }
    return out;
  });
  const json = Buffer.from(JSON.stringify({ vs, cc: rec.cc, ...(rec.pts !== undefined ? { pts: rec.pts } : {}), seq: rec.seq, h: rec.h, ...(rec.src !== undefined ? { src: rec.src } : {}) }), 'utf8');
  let total = 5 + json.length;
  for (const b of areas) total += b.length;
  const out = Buffer.allocUnsafe(total);
  out[0] = BINARY_RECORD;
  out.writeUInt32LE(json.length, 1);
  json.copy(out, 5);
  let at = 5 + json.length;
  for (const b of areas) {
    out.set(b, at);
    at += b.length;
  }
  return { text: out, chained: form.chained };
}

/** Every version's value is a text (or a tombstone's nothing), and none is derived: the record is stored as its JSON. */
export function isPlain(rec: KeyRecord): boolean {
  // a loop, not vs.every with a function made per call: every put of a file storage asks
  for (let i = 0; i < rec.vs.length; i++) {
    const v = rec.vs[i]!;
    if (v.x || !(typeof v.v === 'string' || (v.d && v.v === undefined))) return false;
  }
  return true;
}

/** Bytes of a stored form (what its checksum covers). */
export function recordBytes(stored: string | Buffer): Buffer {
  return typeof stored === 'string' ? Buffer.from(stored, 'utf8') : stored;
}

/** A parsed record whose versions may still refer to the previous record (lib/chain.ts). */
export interface StoredRecord extends Omit<KeyRecord, 'vs'> {
  vs: ChainVersion[];
}

/**
 * Parses a stored record (throws on anything malformed; callers report CORRUPT). A snapshot's compact record
 * (compact-record.ts) is read with the snapshot's `compact` context and the `seq` and hash its index holds; the log's
 * binary record (log-record.ts) with the `seq` and hash its frame's head holds.
 */
export function decodeRecord(bytes: Buffer, compact?: CompactContext, seq = 0, h = ''): StoredRecord {
  if (bytes[0] === COMPACT_RECORD) {
    if (!compact) throw new Error('a compact record outside a snapshot');
    return decodeCompact(bytes, compact, seq, h);
  }
  if (bytes[0] === LOG_RECORD) return decodeLogRecord(bytes, seq, h);
  if (bytes[0] !== BINARY_RECORD) return JSON.parse(bytes.toString('utf8')) as StoredRecord;
  const jsonLen = bytes.readUInt32LE(1);
  if (5 + jsonLen > bytes.length) throw new Error('record head past its end');
  const rec = JSON.parse(bytes.toString('utf8', 5, 5 + jsonLen)) as Omit<KeyRecord, 'vs'> & { vs: VersionJson[] };
  let at = 5 + jsonLen;
  const area = (len: unknown): Uint8Array => {
    if (typeof len !== 'number' || !Number.isSafeInteger(len) || len < 0 || at + len > bytes.length) throw new Error('byte value past the record end');
    // A copy: the read buffer may be a window shared with other records.
    const value = new Uint8Array(bytes.subarray(at, at + len));
    at += len;
    return value;
  };
  const vs = rec.vs.map((j): ChainVersion => {
    const { v, x, ...rest } = j;
    const out: ChainVersion = rest;
    if (v !== undefined) out.v = typeof v === 'string' ? v : area(v);
    if (x) {
      if (!Array.isArray(x) || !Array.isArray(x[0]) || typeof x[1] !== 'number') throw new Error('a malformed derivation');
      out.x = { b: x[0].map(([r, n, e]) => (e === undefined ? [String(r), Number(n)] : [String(r), Number(n), String(e)]) as Dot), s: x[1], d: area(x[2]) };
    }
    return out;
  });
  if (at !== bytes.length) throw new Error('trailing bytes after a record');
  return { ...rec, vs };
}

/** A stored record read with the key's previous record (undefined: it stands alone). Throws when it does not fit. */
export function readRecordWith(rec: StoredRecord, prev: KeyRecord | undefined): KeyRecord {
  return { ...rec, vs: unchain(rec.vs, prev) };
}
