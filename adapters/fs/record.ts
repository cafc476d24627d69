/**
 * How one KeyRecord is stored in a log frame or a snapshot. A record whose values are all texts is its JSON text
 * (as every file written before binary values). A record holding byte values (binary and typed values, e.g. Yjs
 * document states) would inflate in JSON, so it is stored as
 *
 *   0x00 ‖ u32 LE length of J ‖ J ‖ the byte values, raw, in version order
 *
 * where J is the record's JSON with each byte value replaced by its length (a number; a text value is a string).
 * A JSON text never starts with 0x00, so the two forms cannot be confused. A 100 KB value costs 100 KB + J.
 */
import type { StoredVersion } from '../../lib/dvv.js';
import type { KeyRecord } from '../../lib/storage.js';

const BINARY_RECORD = 0x00;

/** The stored form of a record: a string (JSON, written as UTF-8) or bytes. */
export function encodeRecord(rec: KeyRecord): string | Buffer {
  let bytes: Uint8Array[] | undefined;
  for (const v of rec.vs) if (v.v instanceof Uint8Array) (bytes ??= []).push(v.v);
  if (!bytes) return JSON.stringify(rec);
  const vs = rec.vs.map((v) => (v.v instanceof Uint8Array ? { ...v, v: v.v.length } : v));
  const json = Buffer.from(JSON.stringify({ ...rec, vs }), 'utf8');
  let total = 5 + json.length;
  for (const b of bytes) total += b.length;
  const out = Buffer.allocUnsafe(total);
  out[0] = BINARY_RECORD;
  out.writeUInt32LE(json.length, 1);
  json.copy(out, 5);
  let at = 5 + json.length;
  for (const b of bytes) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** Bytes of a stored form (what its checksum covers). */
export function recordBytes(stored: string | Buffer): Buffer {
  return typeof stored === 'string' ? Buffer.from(stored, 'utf8') : stored;
}

/** Parses a stored record (throws on anything malformed; callers report CORRUPT). */
export function decodeRecord(bytes: Buffer): KeyRecord {
  if (bytes[0] !== BINARY_RECORD) return JSON.parse(bytes.toString('utf8')) as KeyRecord;
  const jsonLen = bytes.readUInt32LE(1);
  if (5 + jsonLen > bytes.length) throw new Error('record head past its end');
  const rec = JSON.parse(bytes.toString('utf8', 5, 5 + jsonLen)) as KeyRecord;
  let at = 5 + jsonLen;
  const vs: StoredVersion[] = rec.vs.map((v) => {
    if (typeof v.v !== 'number') return v;
    const len = v.v as number;
    if (!Number.isSafeInteger(len) || len < 0 || at + len > bytes.length) throw new Error('byte value past the record end');
    // A copy: the read buffer may be a window shared with other records.
    const value = new Uint8Array(bytes.subarray(at, at + len));
    at += len;
    return { ...v, v: value };
  });
  if (at !== bytes.length) throw new Error('trailing bytes after a record');
  return { ...rec, vs };
}
