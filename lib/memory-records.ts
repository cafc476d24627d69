/**
 * The memory storage's records of one space (memory-storage.ts), kept in columns: a record of one plain version (a value:
 * no tombstone or derivation) whose own dot is its whole context — a key one replica wrote, most keys; where the dot
 * names an epoch, its context is that one point — is its version's numbers (seq, counter, HLC) and its hash's two
 * 32-bit halves in Float64Array columns (NaN while a local write's or a join's hash is unread: record.ts WrittenRecord), and two
 * slots of plain arrays (the encoded value, flattened; the writer: its id, or one object of its id, the epoch its dot
 * names and the record's source, shared by the slots naming them), all at the key's slot; the record is rebuilt when
 * read. Any other record is kept whole in the value's slot.
 *
 * A record with a source (`src`: a peer's state stored as the peer sent it, core.ts joinNow) is kept so too: each client
 * of a relay stores every key the relay fans out so, and kept whole such a record was 12 objects of ~550 bytes (the
 * record, its version and boxed HLC, the arrays of its versions and points, its context and points, its point, its hash's
 * text) that each of the client's young-generation collections copied: with 50 clients on one thread (bench S7), those
 * collections were the pauses inside S7's slowest writes (bench/floor/s7-tail.mjs). So is the value's text: V8's
 * JSON.stringify (a plain value decoded from a frame, codec.ts) answers with a rope of its pieces, three objects where
 * one flat string does.
 *
 * Why columns: every object a put leaves on the heap is copied twice by the young-generation collector before it settles
 * (bench S3: that copying was a put's largest single cost, more than everything the put does). Kept as an object of its
 * own, such a record was that object, a boxed HLC (a number above 2^31 is a heap number) and its hash's text: ~130 bytes
 * copied twice per put. In columns a put leaves only its encoded value (the key's slot is a small integer in the map, the
 * numbers sit in typed arrays outside the collected heap), and the memory a key costs falls with it. (A Map of small
 * objects of two fields was faster still in an experiment, but such an object cannot hold the record's numbers without a
 * boxed HLC and a hash text again.)
 */
import { roomFor } from './columns.js';
import { stateHash } from './dvv.js';
import { onlyPoint } from './epoch-points.js';
import { WrittenRecord } from './record.js';
import type { KeyRecord } from './storage.js';

/**
 * Float64 columns per slot: the record's seq, the version's counter n, HLC milliseconds t and logical c, and the hash's
 * two 32-bit halves, in chunks of 2^SHIFT slots (columns.ts roomFor: the first grows to it from 64, a chunk is never
 * copied once full, and a table of a few keys stays small).
 */
const NUMS = 6;
// 2^8: the first chunk's growth copies at most 128 slots; past 256 a fresh chunk is added. Tables that grow in step (a
// process's many replicas of one space, a relay's links) copied up to 1024 slots each at once with 2^11 (S7's 513th key).
const SHIFT = 8;
const MASK = (1 << SHIFT) - 1;

/** Whether `h` is 16 lowercase hex digits (the hash64 form): only then is it kept as two 32-bit halves. */
function hexHalves(h: string, out: Float64Array, at: number): boolean {
  if (h.length !== 16) return false;
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < 16; i++) {
    const ch = h.charCodeAt(i);
    const d = ch >= 48 && ch <= 57 ? ch - 48 : ch >= 97 && ch <= 102 ? ch - 87 : -1;
    if (d < 0) return false;
    if (i < 8) hi = (hi << 4) | d;
    else lo = (lo << 4) | d;
  }
  out[at] = hi;
  out[at + 1] = lo;
  return true;
}

function hex8(x: number): string {
  const s = (x >>> 0).toString(16);
  return s.length === 8 ? s : '0'.repeat(8 - s.length) + s;
}

export class RecordTable {
  /** Each key's slot. */
  private readonly slots = new Map<string, number>();
  private readonly chunks: Float64Array[] = [];
  /** Per slot: the kept version's encoded value, or the whole record (then `ids` holds undefined there). */
  private readonly vals: Array<string | Uint8Array | KeyRecord | undefined> = [];
  /**
   * Per slot: the kept version's writer — its id, or its id with the epoch its dot names and the record's source (one
   * object for all the slots of a writer's epoch and source: `tagged`) — or undefined when `vals` holds the whole record.
   */
  private readonly ids: Array<string | KeptWriter | undefined> = [];
  /** The writer `keptValue` found in the record it kept; the last object one, shared by the slots that name it. */
  private keptWriter: string | KeptWriter = '';
  private tagged: KeptWriter | undefined;
  /** Slots of removed keys, reused first. */
  private readonly free: number[] = [];
  /**
   * The key `get` or `set` looked up last and its slot (undefined: absent): a put reads its key, then stores it, and
   * the store then needs no second lookup. Kept right by `set` and `delete`.
   */
  private lastKey: string | undefined;
  private lastSlot: number | undefined;

  get size(): number {
    return this.slots.size;
  }

  keys(): IterableIterator<string> {
    return this.slots.keys();
  }

  has(key: string): boolean {
    return this.slots.has(key);
  }

  /** The record of `key`: a fresh one each read of a kept version (mutating it changes nothing kept). */
  get(key: string): KeyRecord | undefined {
    const slot = this.slots.get(key);
    this.lastKey = key;
    this.lastSlot = slot;
    return slot === undefined ? undefined : this.recordAt(key, slot);
  }

  /** The seq of `key`'s record (no record built). */
  seqOf(key: string): number | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    const r = this.ids[slot];
    return r === undefined ? (this.vals[slot] as KeyRecord).seq : this.chunks[slot >> SHIFT]![(slot & MASK) * NUMS]!;
  }

  /** Stores `rec` as `key`'s record; returns whether the key is new. */
  set(key: string, rec: KeyRecord): boolean {
    let slot = key === this.lastKey ? this.lastSlot : this.slots.get(key);
    if (slot !== undefined) {
      const v = this.keptValue(rec, slot);
      this.vals[slot] = v === undefined ? rec : v;
      this.ids[slot] = v === undefined ? undefined : this.keptWriter;
      return false;
    }
    slot = this.free.length > 0 ? this.free.pop()! : this.vals.length;
    this.slots.set(key, slot);
    this.lastKey = key;
    this.lastSlot = slot;
    if (slot < this.vals.length) {
      const v = this.keptValue(rec, slot);
      this.vals[slot] = v === undefined ? rec : v;
      this.ids[slot] = v === undefined ? undefined : this.keptWriter;
      return true;
    }
    roomFor(this.chunks, slot, NUMS, SHIFT);
    const v = this.keptValue(rec, slot);
    this.vals.push(v === undefined ? rec : v);
    this.ids.push(v === undefined ? undefined : this.keptWriter);
    return true;
  }

  /** Removes `key`; returns whether it was there. */
  delete(key: string): boolean {
    const slot = this.slots.get(key);
    if (slot === undefined) return false;
    this.slots.delete(key);
    if (key === this.lastKey) this.lastSlot = undefined;
    this.vals[slot] = this.ids[slot] = undefined;
    this.free.push(slot);
    return true;
  }

  /** Every key with its record's seq and hash (no record built). */
  index(): Array<{ key: string; seq: number; h: string }> {
    const out: Array<{ key: string; seq: number; h: string }> = [];
    for (const [key, slot] of this.slots) {
      const whole = this.ids[slot] === undefined ? (this.vals[slot] as KeyRecord) : undefined;
      out.push(whole ? { key, seq: whole.seq, h: whole.h } : { key, seq: this.chunks[slot >> SHIFT]![(slot & MASK) * NUMS]!, h: this.hashAt(key, slot) });
    }
    return out;
  }

  /**
   * Where `rec` is exactly what its one version rebuilds into, writes its numbers and hash at `slot` and returns the
   * version's value (its writer in `keptWriter`); else undefined (the record is kept whole). A version whose dot names
   * an epoch rebuilds with the one context point that dot is (a tagged replica's write: at protocol 11, every write of
   * a replica from its storage's second open).
   */
  private keptValue(rec: KeyRecord, slot: number): string | Uint8Array | undefined {
    const src = rec.src;
    if (rec.vs.length !== 1 || (src !== undefined && typeof src !== 'string')) return undefined;
    const { r, n, t, c, v, d, ep, x } = rec.vs[0]!;
    if (v === undefined || d !== undefined || x !== undefined) return undefined;
    if (typeof n !== 'number' || typeof t !== 'number' || typeof c !== 'number' || typeof rec.seq !== 'number') return undefined;
    for (const id in rec.cc) if (id !== r) return undefined;
    if (rec.cc[r] !== n) return undefined;
    if (ep === undefined) {
      if (rec.pts !== undefined) return undefined;
    } else if (typeof ep !== 'string' || !onlyPoint(rec.pts, r, ep, n)) return undefined;
    const chunk = this.chunks[slot >> SHIFT]!;
    const at = (slot & MASK) * NUMS;
    // A local write's or a join's record whose hash nobody read yet: hashed from the columns when asked (hashAt), else never.
    const h = rec instanceof WrittenRecord ? rec.knownHash : rec.h;
    if (h === undefined) chunk[at + 4] = NaN;
    else if (!hexHalves(h, chunk, at + 4)) return undefined;
    chunk[at] = rec.seq;
    chunk[at + 1] = n;
    chunk[at + 2] = t;
    chunk[at + 3] = c;
    if (ep === undefined && src === undefined) this.keptWriter = r;
    else {
      const w = this.tagged;
      this.keptWriter = w !== undefined && w.r === r && w.ep === ep && w.src === src ? w : (this.tagged = { r, ep, src });
    }
    if (typeof v === 'string') v.charCodeAt(0); // flattens a rope in place: the next scavenge keeps the one string
    return v;
  }

  /** The hash of `key`'s record kept in columns at `slot`: computed and kept now if its write left it unread (NaN). */
  private hashAt(key: string, slot: number): string {
    const chunk = this.chunks[slot >> SHIFT]!;
    const at = (slot & MASK) * NUMS;
    if (Number.isNaN(chunk[at + 4])) {
      const h = stateHash(key, this.recordAt(key, slot, ''));
      hexHalves(h, chunk, at + 4);
      return h;
    }
    return hex8(chunk[at + 4]!) + hex8(chunk[at + 5]!);
  }

  /** The record at `slot`; a kept one rebuilt with hash `h` (undefined: its hash, hashAt). */
  private recordAt(key: string, slot: number, h?: string): KeyRecord {
    const w = this.ids[slot];
    if (w === undefined) return this.vals[slot] as KeyRecord;
    const chunk = this.chunks[slot >> SHIFT]!;
    const at = (slot & MASK) * NUMS;
    const n = chunk[at + 1]!;
    const v = this.vals[slot] as string | Uint8Array;
    if (typeof w === 'string') return { vs: [{ r: w, n, t: chunk[at + 2]!, c: chunk[at + 3]!, v }], cc: { [w]: n }, seq: chunk[at]!, h: h ?? this.hashAt(key, slot) };
    const { r, ep, src } = w;
    const seq = chunk[at]!;
    // The fields in the order record.ts `record` makes them (src last, only where there is one).
    // (An untagged writer is an object only with a source.)
    if (ep === undefined) return { vs: [{ r, n, t: chunk[at + 2]!, c: chunk[at + 3]!, v }], cc: { [r]: n }, seq, h: h ?? this.hashAt(key, slot), src };
    const vs = [{ r, ep, n, t: chunk[at + 2]!, c: chunk[at + 3]!, v }];
    const pts = { [r]: [{ e: ep, n }] };
    return src === undefined ? { vs, cc: { [r]: n }, pts, seq, h: h ?? this.hashAt(key, slot) } : { vs, cc: { [r]: n }, pts, seq, h: h ?? this.hashAt(key, slot), src };
  }
}

/** A kept version's writer whose dot names an epoch, or whose record has a source (`src`), or both. */
interface KeptWriter {
  readonly r: string;
  readonly ep: string | undefined;
  readonly src: string | undefined;
}
