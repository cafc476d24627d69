/**
 * Group commit: the callbacks of several `transact` calls run as one readwrite IndexedDB transaction,
 * each still all-or-nothing and in call order, as if each had run alone.
 *
 *   IDB reads ──▶ base (pre-batch state: per-key stores + unfolded batches, cached) ◀── fn_i reads: own writes,
 *                 then `written`, then base
 *   fn_i returns ──▶ its writes join `written` (in order) ──▶ end of batch: ONE `batches` row holding every key's
 *                 record (one entry per key), then commit
 *
 * Invariants:
 * - No write is issued before the batch ends, so every IDB read in the batch returns the pre-batch state:
 *   caching it (`base`) is exact, and a key written earlier in the batch is read from `written` instead.
 * - The pre-batch record of a key is its per-key record with its entries in unfolded batches laid over it
 *   (overlay.ts), both read in this transaction, which IndexedDB serializes with every other readwrite one (all tabs).
 * - A key's entry is stored as a fold would store it after that record (chains.ts storedForm): whole, or chained
 *   onto it; so the overlay reads it back, and a fold copies it, without deciding anything again.
 * - Callbacks start together (so their first reads go to IndexedDB together, pipelined), but each read
 *   resolves only at the callback's turn, after every earlier callback finished and its writes joined
 *   `written`: each callback sees exactly the state after the callbacks before it.
 * - A throwing callback's writes never join `written`: it leaves nothing behind.
 * - Only IndexedDB requests and the turns (promises resolved inside the batch's own chain of callbacks)
 *   are awaited, so the IDB transaction stays active throughout.
 */
import type { IDBPTransaction } from 'idb';
import { ConcordError } from '../../lib/errors.js';
import type { KeyRecord, StorageTx } from '../../lib/storage.js';
import { assemble, storedForm, type ReadRecord } from './chains.js';
import { entrySize, needsFolded, resolve, type BatchCache, type Overlay } from './overlay.js';
import { chainRange, type BatchEntry, type BatchRow, type Head, type Schema, type StoredRow, type WrittenEntry } from './schema.js';

export type WriteTx = IDBPTransaction<Schema, ('heads' | 'states' | 'deltas' | 'meta' | 'batches')[], 'readwrite'>;
export type ReadTx = IDBPTransaction<Schema, ('heads' | 'states' | 'deltas' | 'batches')[], 'readonly' | 'readwrite'>;

/** A key's record as `overlay` and the per-key stores of `tx` tell it (the per-key record read only when needed). */
export async function readOverlaid(tx: ReadTx | WriteTx, overlay: Overlay, space: string, key: string): Promise<ReadRecord | undefined> {
  const entries = overlay.entries(space, key);
  if (!entries) return readChained(tx, space, key);
  return resolve(entries, needsFolded(entries) ? await readChained(tx, space, key) : undefined);
}

/** Reads one per-key record (head, root and chain) within a transaction; the requests are issued at once. */
export async function readChained(tx: ReadTx | WriteTx, space: string, key: string): Promise<ReadRecord | undefined> {
  const t = tx as ReadTx;
  const [head, state, rows] = await Promise.all([t.objectStore('heads').get([space, key]), t.objectStore('states').get([space, key]), t.objectStore('deltas').getAll(chainRange(space, key))]);
  return head && state ? assemble(head, state, rows) : undefined;
}

/** The record of a head whose root is `state`: its chain rows read when it has some. */
async function withChain(tx: ReadTx | WriteTx, head: Head, state: StoredRow): Promise<ReadRecord> {
  const rows = head.ch ? await (tx as ReadTx).objectStore('deltas').getAll(chainRange(head.s, head.k)) : [];
  return assemble(head, state, rows);
}

export function cloneMeta(value: unknown): unknown {
  return value !== null && typeof value === 'object' ? JSON.parse(JSON.stringify(value)) : value;
}

type Writes = Map<string, Map<string, KeyRecord | null>>;

/** Fewer first reads than this in a space are read key by key. */
const GROUP_MIN = 8;

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferredRecord(): Deferred<ReadRecord | undefined> {
  let resolve!: (value: ReadRecord | undefined) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<ReadRecord | undefined>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** The state shared by the callbacks of one batch. */
export class Batch {
  readonly written: Writes = new Map();
  readonly writtenMeta = new Map<string, unknown>();
  private readonly base = new Map<string, Map<string, Promise<KeyRecord | undefined>>>();
  /** The pre-batch records as read (with their chain lengths): what a write is stored against (chains.ts). */
  private readonly baseRead = new Map<string, Map<string, ReadRecord | undefined>>();
  private readonly baseMeta = new Map<string, Promise<unknown>>();
  private collecting = true;
  private readonly pending = new Map<string, Map<string, Deferred<ReadRecord | undefined>>>();

  /** The unfolded batches as this transaction sees them: its first request. */
  private readonly overlay: Promise<Overlay>;

  constructor(
    readonly tx: WriteTx,
    cache: BatchCache,
  ) {
    this.overlay = quiet(cache.load(tx));
    this.overlay.then((o) => void (this.unfolded = o.size), () => {});
  }

  /** Once this transaction's load of the unfolded batches answered (a request of its own, issued first), or failed. */
  async overlayLoaded(): Promise<void> {
    await this.overlay.catch(() => {});
  }

  /** Entries in unfolded batches as this transaction sees them (undefined until its load answered). */
  private unfolded: number | undefined;

  /** The pre-batch record, read once from IndexedDB (grouped with the others while callbacks start). */
  baseRecord(space: string, key: string): Promise<KeyRecord | undefined> {
    let m = this.base.get(space);
    if (!m) this.base.set(space, (m = new Map()));
    let p = m.get(key);
    if (!p) {
      let read: Promise<ReadRecord | undefined>;
      if (this.collecting) {
        const d = deferredRecord();
        let pending = this.pending.get(space);
        if (!pending) this.pending.set(space, (pending = new Map()));
        pending.set(key, d);
        read = d.promise;
      } else {
        read = readChained(this.tx, space, key);
      }
      let seen = this.baseRead.get(space);
      if (!seen) this.baseRead.set(space, (seen = new Map()));
      const known = seen;
      // The per-key record (read whatever the overlay says, so every first read goes out at once), under the overlay.
      p = Promise.all([read, this.overlay]).then(([folded, overlay]) => {
        const entries = overlay.entries(space, key);
        const r = entries ? resolve(entries, folded) : folded;
        known.set(key, r);
        return r?.rec;
      });
      m.set(key, quiet(p));
    }
    return p;
  }

  /**
   * Every callback has started: issue the first reads they asked for. Per space with many keys, one
   * range read of the (small) heads tells which keys exist, so absent keys cost no request of their own;
   * values are then read for the keys that exist. Few keys, or a crowded range: one read per key.
   */
  startReads(): void {
    this.collecting = false;
    for (const [space, pending] of this.pending) {
      if (pending.size < GROUP_MIN) {
        for (const [key, d] of pending) readChained(this.tx, space, key).then(d.resolve, d.reject);
        continue;
      }
      const keys = [...pending.keys()].sort();
      const limit = keys.length * 2 + 16;
      const range = IDBKeyRange.bound([space, keys[0]!], [space, keys[keys.length - 1]!]);
      this.tx
        .objectStore('heads')
        .getAll(range, limit)
        .then((heads) => {
          if (heads.length >= limit) {
            for (const [key, d] of pending) readChained(this.tx, space, key).then(d.resolve, d.reject);
            return;
          }
          const found = new Map(heads.map((h) => [h.k, h]));
          const states = this.tx.objectStore('states');
          for (const [key, d] of pending) {
            const head = found.get(key);
            if (!head) d.resolve(undefined);
            else states.get([space, key]).then((state) => (state ? withChain(this.tx, head, state) : undefined)).then(d.resolve, d.reject);
          }
        })
        .catch((e: unknown) => {
          for (const d of pending.values()) d.reject(e);
        });
    }
    this.pending.clear();
  }

  baseMetaValue(name: string): Promise<unknown> {
    let p = this.baseMeta.get(name);
    if (!p) this.baseMeta.set(name, (p = quiet(this.tx.objectStore('meta').get(name))));
    return p;
  }

  /** A finished callback's writes join the batch. */
  absorb(writes: Writes, meta: Map<string, unknown>): void {
    for (const [space, w] of writes) {
      let m = this.written.get(space);
      if (!m) this.written.set(space, (m = new Map()));
      for (const [key, rec] of w) m.set(key, rec);
    }
    for (const [name, value] of meta) this.writtenMeta.set(name, value);
  }

  /**
   * Issues the batch's writes: one `batches` row holding every key written (its record as of the batch, in the form
   * it is stored after the key's record before the batch), and the metadata (synchronously: all or none of them,
   * since the transaction cannot become inactive in the middle). Returns the spaces written, and the row (its id is
   * set once the add succeeded) to cache after the commit.
   */
  flush(): { spaces: string[]; rows: BatchRow[] } {
    const meta = this.tx.objectStore('meta');
    const spaces: string[] = [];
    const entries: BatchEntry[] = [];
    let count = 0;
    for (const writes of this.written.values()) count += writes.size;
    // A small commit while no batch waits (sequential writes): straight into the per-key stores, as a fold would
    // store it. Two or three requests a key, but no fold later and no overlay for readers; a batch row is one
    // request now and about three a key when folded.
    if (count > 0 && count <= DIRECT_MAX && this.unfolded === 0) {
      for (const [space, writes] of this.written) {
        this.writeDirect(space, writes);
        if (writes.size > 0) spaces.push(space);
      }
      for (const [name, value] of this.writtenMeta) ignore(value === null ? meta.delete(name) : meta.put(value, name));
      return { spaces, rows: [] };
    }
    for (const [space, writes] of this.written) {
      const read = this.baseRead.get(space);
      for (const [key, rec] of writes) {
        if (rec === null) {
          entries.push({ s: space, k: key, rm: 1 });
          continue;
        }
        // Chained to the record before the batch when it derives from it; else whole. A key written without a read
        // is stored whole (the fold then drops its old chain rows).
        const form = storedForm(rec, read?.get(key));
        const e: WrittenEntry = { s: space, k: key, seq: rec.seq, h: rec.h, vs: form.row.vs, cc: form.row.cc };
        if (form.row.pts !== undefined) e.pts = form.row.pts;
        if (form.row.src !== undefined) e.src = form.row.src;
        if (form.chained) e.c = 1;
        entries.push(e);
      }
      if (writes.size > 0) spaces.push(space);
    }
    // Rows of at most ROW_BYTES of values each: a browser refuses a value past its bound (Chromium: about 127 MiB,
    // UnknownError), which many large values written together would pass though each alone fits.
    const rows: BatchRow[] = [];
    let chunk: BatchEntry[] = [];
    let bytes = 0;
    for (const e of entries) {
      const size = entrySize(e);
      if (chunk.length > 0 && bytes + size > ROW_BYTES) {
        rows.push({ e: chunk });
        chunk = [];
        bytes = 0;
      }
      chunk.push(e);
      bytes += size;
    }
    if (chunk.length > 0) rows.push({ e: chunk });
    const batches = this.tx.objectStore('batches');
    for (const added of rows) batches.add(added).then((id) => (added.i = id as number), () => {});
    for (const [name, value] of this.writtenMeta) ignore(value === null ? meta.delete(name) : meta.put(value, name));
    return { spaces, rows };
  }

  /**
   * One space's writes into the per-key stores (no batch waits, so the per-key record IS the key's record): whole in
   * `states` (its old chain rows deleted), or chained as a `deltas` row after the record read; a removal deletes all
   * three. A key written without a read has an unknown chain: its rows are deleted whatever they are.
   */
  private writeDirect(space: string, writes: Map<string, KeyRecord | null>): void {
    const heads = this.tx.objectStore('heads');
    const states = this.tx.objectStore('states');
    const deltas = this.tx.objectStore('deltas');
    const read = this.baseRead.get(space);
    for (const [key, rec] of writes) {
      const known = read?.has(key) ?? false;
      const base = read?.get(key);
      const oldRows = !known || (base?.ch ?? 0) > 0;
      if (rec === null) {
        if (known && !base) continue;
        ignore(heads.delete([space, key]));
        ignore(states.delete([space, key]));
        if (oldRows) ignore(deltas.delete(chainRange(space, key)));
        continue;
      }
      const form = storedForm(rec, base);
      if (form.chained) {
        ignore(deltas.put(form.row, [space, key, rec.seq]));
        ignore(heads.put({ s: space, k: key, seq: rec.seq, h: rec.h, ch: form.ch }));
        continue;
      }
      if (oldRows) ignore(deltas.delete(chainRange(space, key)));
      ignore(states.put(form.row, [space, key]));
      ignore(heads.put({ s: space, k: key, seq: rec.seq, h: rec.h }));
    }
  }
}

/** Bytes of values beyond which a group commit's entries go to another `batches` row (in the same transaction). */
export const ROW_BYTES = 32 * 1024 * 1024;

/** Commits of at most this many keys go straight into the per-key stores when no batch waits. */
const DIRECT_MAX = 8;

/** One callback's view of the batch. */
export class BatchTx implements StorageTx {
  readonly writes: Writes = new Map();
  readonly meta = new Map<string, unknown>();
  private live = true;

  constructor(
    private readonly batch: Batch,
    private readonly turn: Promise<void>,
  ) {}

  async get(space: string, key: string): Promise<KeyRecord | undefined> {
    const own = this.writes.get(space);
    if (own?.has(key)) return own.get(key) ?? undefined;
    const prefetch = this.batch.baseRecord(space, key);
    await this.turn;
    const w = this.batch.written.get(space);
    if (w?.has(key)) return w.get(key) ?? undefined;
    return prefetch;
  }

  put(space: string, key: string, rec: KeyRecord): void {
    this.write(space, key, rec);
  }

  remove(space: string, key: string): void {
    this.write(space, key, null);
  }

  async getMeta<T>(name: string): Promise<T | undefined> {
    if (this.meta.has(name)) return cloneMeta(this.meta.get(name)) as T | undefined;
    const prefetch = this.batch.baseMetaValue(name);
    await this.turn;
    const value = this.batch.writtenMeta.has(name) ? this.batch.writtenMeta.get(name) : await prefetch;
    return cloneMeta(value) as T | undefined;
  }

  setMeta(name: string, value: unknown): void {
    this.assertLive();
    this.meta.set(name, cloneMeta(value));
  }

  /** Ends the callback's use of this object; later calls throw. */
  finish(): void {
    this.live = false;
  }

  private write(space: string, key: string, rec: KeyRecord | null): void {
    this.assertLive();
    let w = this.writes.get(space);
    if (!w) this.writes.set(space, (w = new Map()));
    w.set(key, rec);
  }

  private assertLive(): void {
    if (!this.live) throw new ConcordError('STORAGE_ERROR', 'transaction used after it finished');
  }
}

/** A prefetched read may fail before anyone awaits it; whoever awaits it still sees the failure. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** A failed write request aborts the transaction; the failure is reported once, through the transaction. */
function ignore(p: Promise<unknown>): void {
  p.catch(() => {});
}
