/**
 * The compact form of a record inside a snapshot (snapshot.ts), where the bulk of a store lives. The record's seq
 * and hash are not repeated in it (the snapshot's index columns hold them), replica ids are indices into the
 * snapshot's table of ids, and numbers are varints:
 *
 *   0x01 ‖ flags ‖ [src: len ‖ UTF-8] ‖ count of versions ‖ versions ‖ count of context entries ‖ entries
 *        ‖ [count of replicas with points ‖ per replica: id ‖ count of points ‖ points]
 *   version: kind (0 tombstone, 1 text value, 2 byte value; + 4: the dot names an epoch) ‖ id ‖ [epoch]
 *            ‖ n ‖ zigzag(t − base) ‖ c ‖ [value: len ‖ bytes]
 *   entry:   id ‖ counter
 *   point:   epoch + 1 (0: the untagged epoch) ‖ counter
 *
 * flags bit 0: `src` follows; bit 1: the context's points follow (dvv.ts KeyState.pts: some name an epoch). An epoch
 * label is an index into the same table as replica ids (both are short base64url strings). A record naming no epoch
 * is the bytes it always was; one naming an epoch cannot be read by a release before epochs (an unknown kind),
 * which could not hold it anyway. `base` is an HLC time the snapshot names (its first record's), so times close to it
 * take few bytes. A record this form cannot hold (a version kept with its derivation, a number that is not a
 * non-negative safe integer, a text with a lone surrogate, an epoch label with one) is stored in the log's form instead (record.ts), which
 * never starts with 0x01.
 */
import type { EpochPoints, Point, StoredVersion, VersionVector } from '../../lib/dvv.js';
import type { KeyRecord } from '../../lib/storage.js';
import { wellFormed } from '../../lib/values.js';
import { ByteReader, ByteWriter } from './bytes.js';
import type { StoredRecord } from './record.js';

const compactError = (why: string) => new Error(`a compact record: ${why}`);
const fail = (why: string): never => {
  throw new Error(why);
};

export const COMPACT_RECORD = 0x01;

/** How a snapshot's compact records are read: its table of replica ids and its base time. */
export interface CompactContext {
  readonly ids: readonly string[];
  readonly base: number;
  /** How many of `ids` its records name (compactor.ts `carriedTable` starts a fresh table below half). */
  readonly used: number;
}

/**
 * A growing table of replica ids (index by first use), built while a snapshot is written, counting the ids its
 * records name: a table carried over from the snapshot before keeps ids whose keys are gone since, so the compactor
 * starts a fresh one once fewer than half are named (compactor.ts).
 */
export class IdTable {
  readonly ids: string[];
  private readonly index = new Map<string, number>();
  private named = new Uint8Array(64);
  used = 0;
  constructor(start: readonly string[] = []) {
    this.ids = [...start];
    this.ids.forEach((id, i) => this.index.set(id, i));
  }
  of(id: string): number {
    let i = this.index.get(id);
    if (i === undefined) {
      i = this.ids.length;
      this.ids.push(id);
      this.index.set(id, i);
    }
    this.name(i);
    return i;
  }
  /** A record names the id at `i`. */
  name(i: number): void {
    if (i >= this.named.length) {
      const more = new Uint8Array(Math.max(this.named.length * 2, i + 1));
      more.set(this.named);
      this.named = more;
    }
    if (this.named[i] === 0) {
      this.named[i] = 1;
      this.used++;
    }
  }
}

/** Counts the ids a compact record names into `table` (its bytes copied as they are); throws on malformed bytes. */
export function nameIds(b: Buffer, table: IdTable): void {
  const r = new ByteReader(b, 1, b.length, compactError);
  const flags = r.uint();
  if (flags & 1) r.skip();
  const nv = r.uint();
  for (let i = 0; i < nv; i++) {
    const kind = r.uint();
    table.name(r.uint());
    if (kind & TAGGED) table.name(r.uint());
    r.uint();
    r.uint();
    r.uint();
    if ((kind & 3) !== 0) r.skip();
  }
  const ne = r.uint();
  for (let i = 0; i < ne; i++) {
    table.name(r.uint());
    r.uint();
  }
  if (!(flags & 2)) return;
  const np = r.uint();
  for (let i = 0; i < np; i++) {
    table.name(r.uint());
    const count = r.uint();
    for (let j = 0; j < count; j++) {
      const e = r.uint();
      if (e > 0) table.name(e - 1);
      r.uint();
    }
  }
}

/** Version kind bit: the dot names an epoch (its index follows the replica id's). */
const TAGGED = 4;

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
const MAX_SPAN = 2 ** 51;
const zigzag = (x: number): number => (x >= 0 ? 2 * x : -2 * x - 1);
const unzigzag = (z: number): number => (z % 2 === 0 ? z / 2 : -(z + 1) / 2);

/**
 * Whether the form holds version `v` with times counted from `base` (its texts aside: `compactable` checks them, the
 * log's form finds a lone surrogate as it writes, ByteWriter.text): no deltas, counts and an HLC in range, a value
 * exactly where it is not a tombstone.
 */
function versionFits(v: StoredVersion, base: number): boolean {
  if (v.x || !isCount(v.n) || !isCount(v.c)) return false;
  if (!Number.isSafeInteger(v.t) || Math.abs(v.t - base) >= MAX_SPAN) return false;
  return v.d ? v.v === undefined : v.v !== undefined;
}

/** Whether `rec` fits the compact form with times counted from `base`. */
export function compactable(rec: KeyRecord, base: number): boolean {
  if (rec.pts !== undefined) {
    for (const r in rec.pts) for (const p of rec.pts[r]!) if (!isCount(p.n) || !wellFormed(p.e)) return false;
  }
  for (const v of rec.vs) {
    if (v.ep !== undefined && !wellFormed(v.ep)) return false;
    if (!versionFits(v, base)) return false;
    // UTF-8 cannot carry a lone surrogate: such a text keeps the log's form (JSON escapes it).
    if (typeof v.v === 'string' && !wellFormed(v.v)) return false;
  }
  if (rec.src !== undefined && !wellFormed(rec.src)) return false;
  for (const r in rec.cc) if (!isCount(rec.cc[r])) return false;
  return true;
}

/** The compact bytes of `rec` (call `compactable` first), its ids added to `table`. */
export function encodeCompact(rec: KeyRecord, table: IdTable, base: number): Buffer {
  const w = new ByteWriter();
  w.uint(COMPACT_RECORD);
  tableOut = table;
  writeState(w, rec, tableId, base);
  return Buffer.from(w.done());
}

/** How a record's replica id or epoch label is written: `plus` added to its index (a point's epoch counts from 1). */
export type IdOut = (w: ByteWriter, id: string, plus: number) => boolean;

let tableOut: IdTable | undefined;
const tableId: IdOut = (w, id, plus) => {
  w.uint(tableOut!.of(id) + plus);
  return true;
};

/**
 * Writes a record's state and source after its lead byte (the form described above; log-record.ts writes its ids
 * inline); false where the form cannot hold it (what `compactable` refuses, or an id `id` cannot write), with what it
 * wrote then garbage.
 */
export function writeState(w: ByteWriter, rec: KeyRecord, id: IdOut, base: number): boolean {
  const src = rec.src;
  const pts = rec.pts;
  w.uint((src === undefined ? 0 : 1) | (pts === undefined ? 0 : 2));
  if (src !== undefined && !w.text(src)) return false;
  const vs = rec.vs;
  w.uint(vs.length);
  for (let i = 0; i < vs.length; i++) {
    const v = vs[i]!;
    const value = v.v;
    const ep = v.ep;
    if (!versionFits(v, base)) return false;
    w.uint((v.d ? 0 : typeof value === 'string' ? 1 : 2) | (ep === undefined ? 0 : TAGGED));
    if (!id(w, v.r, 0) || (ep !== undefined && !id(w, ep, 0))) return false;
    w.uint(v.n);
    w.uint(zigzag(v.t - base));
    w.uint(v.c);
    if (typeof value === 'string') {
      if (!w.text(value)) return false;
    } else if (value !== undefined) w.bytes(value);
  }
  const cc = rec.cc;
  const rs = Object.keys(cc);
  w.uint(rs.length);
  for (const r of rs) {
    const n = cc[r];
    if (!isCount(n) || !id(w, r, 0)) return false;
    w.uint(n);
  }
  if (pts === undefined) return true;
  const tagged = Object.keys(pts);
  w.uint(tagged.length);
  for (const r of tagged) {
    const points = pts[r]!;
    if (!id(w, r, 0)) return false;
    w.uint(points.length);
    for (const p of points) {
      if (!isCount(p.n)) return false;
      if (p.e === '') w.uint(0);
      else if (!id(w, p.e, 1)) return false;
      w.uint(p.n);
    }
  }
  return true;
}

/** Reads a compact record; `seq` and `h` come from the snapshot's index. Throws on anything malformed. */
export function decodeCompact(b: Buffer, ctx: CompactContext, seq: number, h: string): StoredRecord {
  const reader = new ByteReader(b, 1, b.length, compactError);
  return readState(b, reader, (i) => ctx.ids[i] ?? fail('a replica id outside the table'), ctx.base, seq, h);
}

/**
 * Reads what writeState wrote, from `reader`'s place to the end of `b`; `id` answers the id or epoch label at an index
 * (reading more where the form writes it inline). `seq` and `h` are the record's, kept beside it. Throws on anything
 * malformed.
 */
export function readState(
  b: Buffer,
  reader: ByteReader,
  id: (i: number) => string,
  base: number,
  seq: number,
  h: string,
): StoredRecord {
  const uint = () => reader.uint();
  const run = () => reader.skip();
  const flags = uint();
  let src: string | undefined;
  if (flags & 1) {
    const [s, e] = run();
    src = b.toString('utf8', s, e);
  }
  const nv = uint();
  if (nv > b.length) throw new Error('more versions than bytes');
  const vs: StoredVersion[] = new Array(nv);
  for (let i = 0; i < nv; i++) {
    const kind = uint();
    const r = id(uint());
    const ep = kind & TAGGED ? id(uint()) : undefined;
    const n = uint();
    const t = unzigzag(uint()) + base;
    const c = uint();
    let v: StoredVersion;
    if ((kind & 3) === 0) v = { r, n, t, c, d: 1 };
    else if ((kind & 3) === 1) {
      const [s, e] = run();
      v = { r, n, t, c, v: b.toString('utf8', s, e) };
    } else if ((kind & 3) === 2) {
      const [s, e] = run();
      v = { r, n, t, c, v: new Uint8Array(b.subarray(s, e)) };
    } else throw new Error('an unknown version kind');
    if (kind > (TAGGED | 3)) throw new Error('an unknown version kind');
    // A dot naming an epoch: its fields in the log form's order (r, ep, n, …).
    vs[i] = ep === undefined ? v : Object.assign({ r, ep }, v);
  }
  const ne = uint();
  const cc: Record<string, number> = {};
  for (let i = 0; i < ne; i++) {
    const r = id(uint());
    // As JSON.parse makes it: an own property even for "__proto__".
    if (r === '__proto__') Object.defineProperty(cc, r, { value: uint(), enumerable: true, writable: true, configurable: true });
    else cc[r] = uint();
  }
  let pts: Record<string, Point[]> | undefined;
  if (flags & 2) {
    pts = {};
    const np = uint();
    for (let i = 0; i < np; i++) {
      const r = id(uint());
      if (cc[r] === undefined || r in pts) throw new Error('points outside the context');
      const count = uint();
      if (count > b.length) throw new Error('more points than bytes');
      const points: Point[] = [];
      for (let j = 0; j < count; j++) {
        const e = uint();
        points.push({ e: e === 0 ? '' : id(e - 1), n: uint() });
      }
      pts[r] = points;
    }
  }
  if (reader.at !== b.length) throw new Error('trailing bytes after a compact record');
  const rec: { vs: StoredVersion[]; cc: VersionVector; pts?: EpochPoints; seq: number; h: string; src?: string } = pts === undefined ? { vs, cc, seq, h } : { vs, cc, pts, seq, h };
  if (src !== undefined) rec.src = src;
  return rec;
}
