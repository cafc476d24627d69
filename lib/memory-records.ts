/**
 * The memory storage's records of one space (memory-storage.ts), kept in columns: a record of one plain version (a value:
 * no tombstone, epoch or derivation) whose own dot is its whole context — a key one replica wrote, most keys — is its
 * version's numbers (seq, counter, HLC) in a Float64Array, its hash's 64 bits in an Int32Array, and two slots of plain
 * arrays (the encoded value, the writer's id), all at the key's slot; the record is rebuilt when read. Any other record
 * is kept whole in the value's slot.
 *
 * Why columns: every object a put leaves on the heap is copied twice by the young-generation collector before it settles
 * (bench S3: that copying was a put's largest single cost, more than everything the put does). Kept as an object of its
 * own, such a record was that object, a boxed HLC (a number above 2^31 is a heap number) and its hash's text: ~130 bytes
 * copied twice per put. In columns a put leaves only its encoded value (the key's slot is a small integer in the map, the
 * numbers sit in typed arrays outside the collected heap), and the memory a key costs falls with it.
 */
import type { KeyRecord } from './storage.js';

/** Float64 columns per slot: the record's seq, the version's counter n, HLC milliseconds t and logical c. */
const NUMS = 4;

/** Whether `h` is 16 lowercase hex digits (the hash64 form): only then is it kept as two 32-bit halves. */
function hexHalves(h: string, out: Int32Array, at: number): boolean {
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
  private nums = new Float64Array(NUMS * 64);
  private hashes = new Int32Array(2 * 64);
  /** Per slot: the kept version's encoded value, or the whole record (then `ids` holds undefined there). */
  private readonly vals: Array<string | Uint8Array | KeyRecord | undefined> = [];
  /** Per slot: the kept version's writer id, or undefined when `vals` holds the whole record. */
  private readonly ids: Array<string | undefined> = [];
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
    return slot === undefined ? undefined : this.recordAt(slot);
  }

  /** The seq of `key`'s record (no record built). */
  seqOf(key: string): number | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    const r = this.ids[slot];
    return r === undefined ? (this.vals[slot] as KeyRecord).seq : this.nums[slot * NUMS]!;
  }

  /** Stores `rec` as `key`'s record; returns whether the key is new. */
  set(key: string, rec: KeyRecord): boolean {
    let slot = key === this.lastKey ? this.lastSlot : this.slots.get(key);
    if (slot !== undefined) {
      const v = this.keptValue(rec, slot);
      this.vals[slot] = v === undefined ? rec : v;
      this.ids[slot] = v === undefined ? undefined : rec.vs[0]!.r;
      return false;
    }
    slot = this.free.length > 0 ? this.free.pop()! : this.vals.length;
    this.slots.set(key, slot);
    this.lastKey = key;
    this.lastSlot = slot;
    if (slot < this.vals.length) {
      const v = this.keptValue(rec, slot);
      this.vals[slot] = v === undefined ? rec : v;
      this.ids[slot] = v === undefined ? undefined : rec.vs[0]!.r;
      return true;
    }
    if ((slot + 1) * NUMS > this.nums.length) this.grow();
    const v = this.keptValue(rec, slot);
    this.vals.push(v === undefined ? rec : v);
    this.ids.push(v === undefined ? undefined : rec.vs[0]!.r);
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
      out.push(whole ? { key, seq: whole.seq, h: whole.h } : { key, seq: this.nums[slot * NUMS]!, h: this.hashAt(slot) });
    }
    return out;
  }

  /** Doubles the typed columns. */
  private grow(): void {
    const nums = new Float64Array(this.nums.length * 2);
    nums.set(this.nums);
    this.nums = nums;
    const hashes = new Int32Array(this.hashes.length * 2);
    hashes.set(this.hashes);
    this.hashes = hashes;
  }

  /**
   * Where `rec` is exactly what its one version rebuilds into, writes its numbers and hash at `slot` and returns the
   * version's value; else undefined (the record is kept whole).
   */
  private keptValue(rec: KeyRecord, slot: number): string | Uint8Array | undefined {
    if (rec.vs.length !== 1 || rec.pts !== undefined || rec.src !== undefined) return undefined;
    const { r, n, t, c, v, d, ep, x } = rec.vs[0]!;
    if (v === undefined || d !== undefined || ep !== undefined || x !== undefined) return undefined;
    if (typeof n !== 'number' || typeof t !== 'number' || typeof c !== 'number' || typeof rec.seq !== 'number') return undefined;
    for (const id in rec.cc) if (id !== r) return undefined;
    if (rec.cc[r] !== n || !hexHalves(rec.h, this.hashes, slot * 2)) return undefined;
    const at = slot * NUMS;
    this.nums[at] = rec.seq;
    this.nums[at + 1] = n;
    this.nums[at + 2] = t;
    this.nums[at + 3] = c;
    return v;
  }

  private hashAt(slot: number): string {
    return hex8(this.hashes[slot * 2]!) + hex8(this.hashes[slot * 2 + 1]!);
  }

  private recordAt(slot: number): KeyRecord {
    const r = this.ids[slot];
    if (r === undefined) return this.vals[slot] as KeyRecord;
    const at = slot * NUMS;
    const n = this.nums[at + 1]!;
    return { vs: [{ r, n, t: this.nums[at + 2]!, c: this.nums[at + 3]!, v: this.vals[slot] as string | Uint8Array }], cc: { [r]: n }, seq: this.nums[at]!, h: this.hashAt(slot) };
  }
}
