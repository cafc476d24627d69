/**
 * The batches not folded yet, laid over the per-key stores (schema.ts).
 *
 *   transaction ──▶ BatchCache.load: ids of `batches` now (getAllKeys) + rows not cached (getAll above the highest
 *                   cached id; get for any other) ──▶ Overlay: per space, per key, its entries in batch order
 *   a key's record = its per-key record (when its entries chain onto it) with its entries applied in order (`resolve`)
 *
 * Invariants:
 * - A batch row never changes once committed (it is only deleted, by a fold that moved its records into the per-key
 *   stores in the same transaction), so a row cached from any transaction is exact for every later one; ids are
 *   never reused (the store's key generator only goes up, and rows are added only after the commit that holds them).
 * - An overlay is built from exactly the ids the loading transaction sees, with the per-key stores read in that same
 *   transaction: one consistent snapshot, whichever tab folded or wrote meanwhile. A row missing from the cache
 *   (pruned by a load that saw a newer state) is read in the transaction itself.
 * - Overlays are immutable: a reader holding one across its reads never sees another snapshot's entries.
 */
import { unchain } from '../../lib/chain.js';
import { ConcordError } from '../../lib/errors.js';
import type { KeyRecord } from '../../lib/storage.js';
import type { ReadRecord } from './chains.js';
import type { BatchEntry, BatchRow, Schema, WrittenEntry } from './schema.js';
import type { IDBPObjectStore } from 'idb';

type BatchStore = IDBPObjectStore<Schema, ArrayLike<'batches'>, 'batches', 'readonly' | 'readwrite'>;

/** Something with the `batches` store (a readonly or readwrite transaction that includes it). */
export interface WithBatches {
  objectStore(name: 'batches'): unknown;
}

export class Overlay {
  static readonly EMPTY = new Overlay([]);
  /** Batch ids, ascending (commit order). */
  readonly ids: readonly number[];
  /** Entries in all batches. */
  readonly size: number;
  /** About the bytes of values in all batches (entrySize). */
  readonly bytes: number;
  private readonly bySpace = new Map<string, Map<string, BatchEntry[]>>();
  private readonly sorted = new Map<string, string[]>();
  private readonly logs = new Map<string, Array<[string, WrittenEntry]>>();

  constructor(readonly rows: ReadonlyArray<readonly [number, readonly BatchEntry[]]>) {
    this.ids = rows.map(([id]) => id);
    let size = 0;
    let bytes = 0;
    for (const [, entries] of rows) {
      size += entries.length;
      bytes += rowSize(entries);
      for (const e of entries) {
        let keys = this.bySpace.get(e.s);
        if (!keys) this.bySpace.set(e.s, (keys = new Map()));
        const list = keys.get(e.k);
        if (list) list.push(e);
        else keys.set(e.k, [e]);
      }
    }
    this.size = size;
    this.bytes = bytes;
  }

  /** A key's entries in batch order, or undefined when no batch holds it. */
  entries(space: string, key: string): readonly BatchEntry[] | undefined {
    return this.bySpace.get(space)?.get(key);
  }

  /** The keys of a space some batch holds, each with its entries. */
  keysOf(space: string): ReadonlyMap<string, readonly BatchEntry[]> | undefined {
    return this.bySpace.get(space);
  }

  spaces(): Iterable<string> {
    return this.bySpace.keys();
  }

  /** The keys of a space some batch holds (removed ones too), in key order (IndexedDB's for strings: UTF-16 code units). */
  sortedKeys(space: string): readonly string[] {
    let out = this.sorted.get(space);
    if (!out) this.sorted.set(space, (out = [...(this.bySpace.get(space)?.keys() ?? [])].sort()));
    return out;
  }

  /** The keys of a space whose last entry is a write, with it, in seq order: the overlay's part of the change log. */
  log(space: string): ReadonlyArray<readonly [string, WrittenEntry]> {
    let out = this.logs.get(space);
    if (!out) {
      out = [];
      for (const [key, entries] of this.bySpace.get(space) ?? []) {
        const last = entries[entries.length - 1]!;
        if (!isRemoval(last)) out.push([key, last]);
      }
      out.sort((a, b) => a[1].seq - b[1].seq);
      this.logs.set(space, out);
    }
    return out;
  }
}

/** About the bytes an entry's values take (strings at two bytes a code unit); the rest is small. */
export function entrySize(e: BatchEntry): number {
  let n = 64;
  for (const v of (e as WrittenEntry).vs ?? []) {
    n += 32;
    if (typeof v.v === 'string') n += v.v.length * 2;
    else if (v.v) n += v.v.byteLength;
    if (v.x) n += v.x.d.byteLength;
  }
  return n;
}

function rowSize(entries: readonly BatchEntry[]): number {
  let n = 0;
  for (const e of entries) n += entrySize(e);
  return n;
}

export function isRemoval(e: BatchEntry): e is BatchEntry & { rm: 1 } {
  return (e as { rm?: 1 }).rm === 1;
}

/** The last entry a key's record is read from without the entries before it (a whole record or a removal); -1: none. */
function chainStart(entries: readonly BatchEntry[]): number {
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i]!;
    if (isRemoval(e) || !e.c) return i;
  }
  return -1;
}

/** Whether a key's record needs its per-key record too: every entry of it chains onto what came before. */
export function needsFolded(entries: readonly BatchEntry[]): boolean {
  return chainStart(entries) < 0;
}

function recordOf(e: WrittenEntry, prev: KeyRecord | undefined): KeyRecord {
  try {
    return { vs: unchain(e.vs, prev), cc: e.cc, ...(e.pts !== undefined ? { pts: e.pts } : {}), seq: e.seq, h: e.h, ...(e.src !== undefined ? { src: e.src } : {}) };
  } catch (cause) {
    throw new ConcordError('CORRUPT', `the stored record of ${JSON.stringify(e.k)} in space ${JSON.stringify(e.s)} does not read back`, { cause });
  }
}

/**
 * A key's record after its batch entries, over `folded` (its per-key record, read only when `needsFolded`), with
 * the length of its chain as a fold would leave it (what the next write's form depends on: chains.ts).
 */
export function resolve(entries: readonly BatchEntry[], folded: ReadRecord | undefined): ReadRecord | undefined {
  let i = chainStart(entries);
  let cur: ReadRecord | undefined;
  if (i < 0) {
    cur = folded;
    i = 0;
  } else {
    const e = entries[i]!;
    cur = isRemoval(e) ? undefined : { rec: recordOf(e, undefined), ch: 0 };
    i++;
  }
  for (; i < entries.length; i++) {
    const e = entries[i] as WrittenEntry;
    if (!cur) throw new ConcordError('CORRUPT', `the stored record of ${JSON.stringify(e.k)} in space ${JSON.stringify(e.s)} chains onto a record that is not there`);
    cur = { rec: recordOf(e, cur.rec), ch: cur.ch + 1 };
  }
  return cur;
}

/** The rows of `batches` this tab has read or written, by id; and the last overlay built from them. */
export class BatchCache {
  private readonly rows = new Map<number, readonly BatchEntry[]>();
  /** When each cached row joined the cache (a count of insertions), so a load can tell rows cached before it began. */
  private readonly since = new Map<number, number>();
  private inserted = 0;
  private last: Overlay = Overlay.EMPTY;
  /** Entries and batches not folded as of the last load (undefined: not loaded since the connection opened). */
  backlog: { entries: number; batches: number; bytes: number } | undefined;

  /**
   * The overlay as `tx` sees it. Only IndexedDB requests of `tx` are awaited. One request (the ids) when every row is
   * cached (this tab's own commits); rows another tab added are then read, in the same transaction.
   */
  async load(tx: WithBatches): Promise<Overlay> {
    const store = tx.objectStore('batches') as BatchStore;
    // Rows cached before this transaction was made were committed before it: it sees each of them unless folded.
    const before = this.inserted;
    const keys = await store.getAllKeys();
    // The rows of this snapshot, held here: another load (another snapshot) may prune the cache meanwhile.
    const got = new Map<number, readonly BatchEntry[]>();
    const missing: number[] = [];
    for (const id of keys) {
      const row = this.rows.get(id);
      if (row) got.set(id, row);
      else missing.push(id);
    }
    if (missing.length > 0) {
      const fetched =
        missing.length > 4
          ? (await store.getAll(IDBKeyRange.bound(missing[0]!, missing[missing.length - 1]!))).filter((row) => !got.has(row.i!))
          : await Promise.all(missing.map((id) => store.get(id)));
      for (const row of fetched) if (row) got.set(row.i!, row.e);
      for (const id of missing) {
        const row = got.get(id);
        if (!row) throw new ConcordError('CORRUPT', `batch ${id} was listed but not read in the same transaction`);
        this.cache(id, row);
      }
    }
    // Rows this transaction does not see are folded (gone for good: ids only go up) when they are below the newest it
    // sees, or were cached before it was made (so committed before it; another tab may have folded them all, and then
    // it sees none). Other rows may be newer than this snapshot: kept.
    if (this.rows.size > keys.length) {
      const top = keys.length > 0 ? keys[keys.length - 1]! : -1;
      for (const [id, at] of this.since) if ((id < top || at <= before) && !got.has(id)) this.drop(id);
    }
    const last = this.last;
    let overlay: Overlay;
    if (last.ids.length === keys.length && keys.every((id, j) => last.ids[j] === id)) overlay = last;
    else overlay = new Overlay(keys.map((id) => [id, got.get(id)!] as const));
    this.last = overlay;
    this.backlog = { entries: overlay.size, batches: overlay.ids.length, bytes: overlay.bytes };
    return overlay;
  }

  /** A batch this tab committed (durably): cached, so no load reads it back. */
  added(row: BatchRow): void {
    this.cache(row.i!, row.e);
    const b = this.backlog ?? { entries: 0, batches: 0, bytes: 0 };
    this.backlog = { entries: b.entries + row.e.length, batches: b.batches + 1, bytes: b.bytes + rowSize(row.e) };
  }

  /** Batches this tab folded (committed): gone for good. */
  folded(ids: readonly number[], entries: number): void {
    let bytes = 0;
    for (const id of ids) {
      const row = this.rows.get(id);
      if (row) bytes += rowSize(row);
      this.drop(id);
    }
    const b = this.backlog;
    if (b) this.backlog = { entries: Math.max(0, b.entries - entries), batches: Math.max(0, b.batches - ids.length), bytes: Math.max(0, b.bytes - bytes) };
  }

  private cache(id: number, row: readonly BatchEntry[]): void {
    this.rows.set(id, row);
    this.since.set(id, ++this.inserted);
  }

  private drop(id: number): void {
    this.rows.delete(id);
    this.since.delete(id);
  }

  /** A new connection: the database may have been deleted and made again (ids start over). */
  clear(): void {
    this.rows.clear();
    this.since.clear();
    this.last = Overlay.EMPTY;
    this.backlog = undefined;
  }
}
