/**
 * The compact form of a record inside a snapshot (snapshot.ts), where the bulk of a store lives. The record's seq
 * and hash are not repeated in it (the snapshot's index columns hold them), replica ids are indices into the
 * snapshot's table of ids, and numbers are varints:
 *
 *   0x01 ‖ flags ‖ [src: len ‖ UTF-8] ‖ count of versions ‖ versions ‖ count of context entries ‖ entries
 *   version: kind (0 tombstone, 1 text value, 2 byte value) ‖ id ‖ n ‖ zigzag(t − base) ‖ c ‖ [value: len ‖ bytes]
 *   entry:   id ‖ counter
 *
 * flags bit 0: `src` follows. `base` is an HLC time the snapshot names (its first record's), so times close to it
 * take few bytes. A record this form cannot hold (a version kept with its derivation, a number that is not a
 * non-negative safe integer, a text with a lone surrogate, a dot or context point naming an epoch) is stored in the log's form instead (record.ts), which
 * never starts with 0x01.
 */
import type { StoredVersion, VersionVector } from '../../lib/dvv.js';
import type { KeyRecord } from '../../lib/storage.js';
import { wellFormed } from '../../lib/values.js';
import { ByteReader, ByteWriter } from './bytes.js';
import type { StoredRecord } from './record.js';

const compactError = (why: string) => new Error(`a compact record: ${why}`);

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
  if (r.uint() & 1) r.skip();
  const nv = r.uint();
  for (let i = 0; i < nv; i++) {
    const kind = r.uint();
    table.name(r.uint());
    r.uint();
    r.uint();
    r.uint();
    if (kind !== 0) r.skip();
  }
  const ne = r.uint();
  for (let i = 0; i < ne; i++) {
    table.name(r.uint());
    r.uint();
  }
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
const MAX_SPAN = 2 ** 51;
const zigzag = (x: number): number => (x >= 0 ? 2 * x : -2 * x - 1);
const unzigzag = (z: number): number => (z % 2 === 0 ? z / 2 : -(z + 1) / 2);

/** Whether `rec` fits the compact form with times counted from `base`. */
export function compactable(rec: KeyRecord, base: number): boolean {
  // Epochs are not in this form yet (docs/design/epochs-build.md, stage 2 item 4: an index into a table of epochs,
  // as ids are): a record naming one keeps the log's form, which holds them.
  if (rec.pts !== undefined) return false;
  for (const v of rec.vs) {
    if (v.ep !== undefined) return false;
    if (v.x || !isCount(v.n) || !isCount(v.c) || !Number.isSafeInteger(v.t) || Math.abs(v.t - base) >= MAX_SPAN) return false;
    if (!v.d && v.v === undefined) return false;
    if (v.d && v.v !== undefined) return false;
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
  w.uint(rec.src === undefined ? 0 : 1);
  if (rec.src !== undefined) w.text(rec.src);
  w.uint(rec.vs.length);
  for (const v of rec.vs) {
    const value = v.v;
    w.uint(v.d ? 0 : typeof value === 'string' ? 1 : 2);
    w.uint(table.of(v.r));
    w.uint(v.n);
    w.uint(zigzag(v.t - base));
    w.uint(v.c);
    if (typeof value === 'string') w.text(value);
    else if (value !== undefined) w.bytes(value);
  }
  const rs = Object.keys(rec.cc);
  w.uint(rs.length);
  for (const r of rs) {
    w.uint(table.of(r));
    w.uint(rec.cc[r]!);
  }
  return Buffer.from(w.done());
}

/** Reads a compact record; `seq` and `h` come from the snapshot's index. Throws on anything malformed. */
export function decodeCompact(b: Buffer, ctx: CompactContext, seq: number, h: string): StoredRecord {
  const reader = new ByteReader(b, 1, b.length, compactError);
  const uint = () => reader.uint();
  const run = () => reader.skip();
  const id = (): string => {
    const r = ctx.ids[uint()];
    if (r === undefined) throw new Error('a replica id outside the table');
    return r;
  };
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
    const r = id();
    const n = uint();
    const t = unzigzag(uint()) + ctx.base;
    const c = uint();
    if (kind === 0) vs[i] = { r, n, t, c, d: 1 };
    else if (kind === 1) {
      const [s, e] = run();
      vs[i] = { r, n, t, c, v: b.toString('utf8', s, e) };
    } else if (kind === 2) {
      const [s, e] = run();
      vs[i] = { r, n, t, c, v: new Uint8Array(b.subarray(s, e)) };
    } else throw new Error('an unknown version kind');
  }
  const ne = uint();
  const cc: Record<string, number> = {};
  for (let i = 0; i < ne; i++) {
    const r = id();
    // As JSON.parse makes it: an own property even for "__proto__".
    if (r === '__proto__') Object.defineProperty(cc, r, { value: uint(), enumerable: true, writable: true, configurable: true });
    else cc[r] = uint();
  }
  if (reader.at !== b.length) throw new Error('trailing bytes after a compact record');
  const rec: { vs: StoredVersion[]; cc: VersionVector; seq: number; h: string; src?: string } = { vs, cc, seq, h };
  if (src !== undefined) rec.src = src;
  return rec;
}
