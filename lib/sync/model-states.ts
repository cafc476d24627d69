/**
 * The peer model's entries (peer-model.ts `states`): a key's id → what the link knows of the peer's state of it and what
 * the peer told (`Kept`, model-entry.ts), in recency order, bounded (at most `maxKeys`, the least recent `evict` going at
 * a time). An entry that is a ToldDot (one-dot.ts: one live version whose own dot is its whole context, told by the
 * peer itself — what a client keeps of every key a relay fans out to it) is kept in columns: its counter and HLC in
 * Float64Array chunks outside the collected heap, its writer (the id, or one object of the id and the epoch its dot
 * names, shared by the slots of that writer) in a plain array, all at the entry's slot, and the map holds the slot (a
 * small integer); the ToldDot is made again when read, equal in every field.
 *
 * Why: as an object a ToldDot was that object and its boxed HLC (a number above 2^31 is a heap number) per key the
 * client was told, ~95 bytes each young-generation collection of the client copied once, then again as it was promoted:
 * a collection's pause is as long as what survives since the last one (bench/floor/s7-client-kept.mjs lists what a
 * delivery keeps). Every other entry stays the object it is: the peer's own writes told back, joins of several writers,
 * Apart (model-entry.ts) are few.
 *
 * A slot is taken when a ToldDot is set under a key holding none, written again in place when the key's next entry is
 * one, and freed when the key goes (deleted, evicted) or takes an entry of another kind: a freed slot is taken first.
 */
import { roomFor } from '../columns.js';
import { dropOldest } from '../evict.js';
import type { Kept } from './model-entry.js';
import { ToldDot } from './one-dot.js';

/** Float64 columns per slot: the dot's counter n, HLC milliseconds t and logical c. */
const NUMS = 3;
/** Slots come in chunks of 2^SHIFT (columns.ts: the first grows to it from 64; small, as memory-records.ts says why). */
const SHIFT = 8;
const MASK = (1 << SHIFT) - 1;

/** A kept dot's writer whose dot names an epoch. */
interface EpochWriter {
  readonly r: string;
  readonly ep: string;
}

export class ModelStates {
  /** A key's id → its entry, or the slot its ToldDot is kept at. Insertion order is recency. */
  private readonly map = new Map<string, Kept | number>();
  private readonly chunks: Float64Array[] = [];
  /** Per slot: the kept dot's writer (undefined: the slot is free). */
  private readonly writers: Array<string | EpochWriter | undefined> = [];
  /** Freed slots, taken first. */
  private readonly free: number[] = [];
  /** The writer last kept: the next dot of the same writer shares it (not the string its frame decoded). */
  private last: string | EpochWriter | undefined;

  constructor(
    private readonly maxKeys: number,
    private readonly evict: number,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** Slots taken and not freed: one per entry kept in columns (tests hold it to that). */
  get slotsInUse(): number {
    return this.writers.length - this.free.length;
  }

  /** Slots ever made (never more than `maxKeys` + 1: freed ones are taken again). */
  get slotsMade(): number {
    return this.writers.length;
  }

  /** The entry of `id`: a ToldDot kept in columns is made afresh each read. */
  get(id: string): Kept | undefined {
    const e = this.map.get(id);
    return typeof e === 'number' ? this.dotAt(e) : e;
  }

  /** Removes `id`'s entry (its slot freed). */
  delete(id: string): void {
    const e = this.map.get(id);
    if (e === undefined) return;
    this.map.delete(id);
    if (typeof e === 'number') this.release(e);
  }

  /** Sets `id`'s entry as the most recent; past `maxKeys` the `evict` least recent go. */
  setRecent(id: string, e: Kept): void {
    const was = this.map.get(id);
    if (was === undefined) return this.setNew(id, e);
    this.map.delete(id);
    this.put(id, e, typeof was === 'number' ? was : undefined);
  }

  /** `setRecent` of an `id` with no entry (no lookup: every fresh key a relay fans out, on each link). */
  setNew(id: string, e: Kept): void {
    this.put(id, e, undefined);
  }

  /** Sets `e` under `id` (not in the map), in `slot` (the key's former one, if any) where it is kept in columns. */
  private put(id: string, e: Kept, slot: number | undefined): void {
    if (e instanceof ToldDot && kept(e)) {
      if (slot === undefined) slot = this.take();
      this.write(slot, e);
      this.map.set(id, slot);
    } else {
      if (slot !== undefined) this.release(slot);
      this.map.set(id, e);
    }
    // The `evict` least recent go, their slots freed.
    if (this.map.size > this.maxKeys) dropOldest(this.map, this.evict, (_, was) => typeof was === 'number' && this.release(was));
  }

  private take(): number {
    if (this.free.length > 0) return this.free.pop()!;
    const slot = this.writers.length;
    roomFor(this.chunks, slot, NUMS, SHIFT);
    this.writers.push(undefined);
    return slot;
  }

  private release(slot: number): void {
    this.writers[slot] = undefined;
    this.free.push(slot);
  }

  private write(slot: number, d: ToldDot): void {
    const chunk = this.chunks[slot >> SHIFT]!;
    const at = (slot & MASK) * NUMS;
    chunk[at] = d.n;
    chunk[at + 1] = d.t;
    chunk[at + 2] = d.c;
    const { r, ep } = d;
    const w = this.last;
    if (ep === undefined) this.writers[slot] = w === r ? w : (this.last = r);
    else this.writers[slot] = typeof w === 'object' && w.r === r && w.ep === ep ? w : (this.last = { r, ep });
  }

  private dotAt(slot: number): ToldDot {
    const chunk = this.chunks[slot >> SHIFT]!;
    const at = (slot & MASK) * NUMS;
    const w = this.writers[slot]!;
    return typeof w === 'string' ? new ToldDot(w, undefined, chunk[at]!, chunk[at + 1]!, chunk[at + 2]!) : new ToldDot(w.r, w.ep, chunk[at]!, chunk[at + 1]!, chunk[at + 2]!);
  }
}

/** Whether the dot's fields are what the columns hold (numbers, a string writer and epoch): a peer's frame is not trusted. */
function kept(d: ToldDot): boolean {
  return typeof d.n === 'number' && typeof d.t === 'number' && typeof d.c === 'number' && typeof d.r === 'string' && (d.ep === undefined || typeof d.ep === 'string');
}
