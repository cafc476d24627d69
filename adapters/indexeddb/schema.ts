/**
 * The IndexedDB layout, and opening it.
 *
 * Writes land in `batches` first (version 3): one value per group commit holding all its records, so a commit of
 * a thousand writes is one request rather than two or three per write. A fold (fold.ts) later moves the records of
 * the oldest batches into the per-key stores below and deletes those batches, in one transaction. Readers read the
 * per-key stores and the batches not folded yet, in the same transaction, and lay the batches over the per-key
 * stores (overlay.ts).
 *
 *   heads   keyPath [s, k]      { s, k, seq, h, ch? }  one small row per key; index `log` on [s, seq] IS the
 *                                                     change log of space s (one entry per key, ordered by seq)
 *   states  key [s, k]          { vs, cc, src? }      the key's record standing alone, values included (the root
 *                                                     of its chain when `ch` > 0)
 *   deltas  key [s, k, seq]     { vs, cc, src? }      (version 2) the key's later records, each chained to the one
 *                                                     before (lib/chain.ts: deltas and references): `ch` of them
 *   meta    key name            JSON data             replica identity, sequence, sync cursors
 *   batches keyPath i (auto)    { i, e: BatchEntry[] } (version 3) committed group commits not folded yet, in commit
 *                                                     order: each entry a key's record (or its removal) as of that commit
 *
 * Invariants: `heads` and `states` hold exactly the same keys (every write and removal touches both in the
 * same transaction), so a range read over both in one transaction yields aligned rows; a key's `deltas` rows are
 * exactly its head's `ch` records after its root, written and removed in the same transactions as its head. Opening
 * a replica and catch-up walk `heads` only: values are never read to build the index (BENCHMARKS S6).
A key's record is its per-key record with its entries in unfolded batches applied in batch order (overlay.ts): an
entry is stored whole or chained onto the key's record before it, exactly as a `deltas` row would be, so folding
it is a copy. Batch ids come from the store's key generator, which never goes back: ids grow in commit order.
 * Key order is IndexedDB's: arrays compare element-wise, strings by UTF-16 code unit (as JS `<` does),
 * and an array sorts after every string, so [s, []] bounds every [s, key] from above.
 */
import { wrap, type DBSchema, type IDBPDatabase } from 'idb';
import type { ChainVersion } from '../../lib/chain.js';
import type { KeyState } from '../../lib/dvv.js';
import { randomId } from '../../lib/ids.js';

export const DB_VERSION = 3;
export const STORES = ['heads', 'states', 'deltas', 'meta', 'batches'] as const;
/** What a read outside `transact` opens, and a fold writes: the per-key stores and the batches laid over them. */
export const RECORD_STORES = ['heads', 'states', 'deltas', 'batches'] as const;

export interface Head {
  s: string;
  k: string;
  seq: number;
  h: string;
  /** Records of the key in `deltas` after its root in `states` (absent: 0). */
  ch?: number;
}

/** A stored record without its log position (in `states` and `deltas`). */
export interface StoredRow {
  vs: ChainVersion[];
  cc: KeyState['cc'];
  /** The context's points, where one names an epoch (dvv.ts KeyState.pts). */
  pts?: KeyState['pts'];
  src?: string;
}

/** A key's record as of one group commit, in a batch: stored as a `states` root (whole) or a `deltas` row (`c: 1`). */
export interface WrittenEntry extends StoredRow {
  s: string;
  k: string;
  seq: number;
  h: string;
  /** Chained onto the key's record before it (a `deltas` row when folded); absent: whole (a root). */
  c?: 1;
}

/** A key's removal, in a batch. */
export interface RemovedEntry {
  s: string;
  k: string;
  rm: 1;
}

export type BatchEntry = WrittenEntry | RemovedEntry;

/** One committed group commit not folded yet; `i` is set by the store's key generator. */
export interface BatchRow {
  i?: number;
  e: BatchEntry[];
}

export interface Schema extends DBSchema {
  heads: { key: [string, string]; value: Head; indexes: { log: [string, number] } };
  states: { key: [string, string]; value: StoredRow };
  deltas: { key: [string, string, number]; value: StoredRow };
  meta: { key: string; value: unknown };
  batches: { key: number; value: BatchRow };
}

export type Db = IDBPDatabase<Schema>;

export interface OpenHooks {
  /** Another connection wants to upgrade or delete the database: ours must close. */
  onVersionChange(): void;
  /** The browser closed the connection abnormally (storage cleared, disk error). */
  onTerminated(): void;
  /** Our open waits for other connections (older tabs) to close. */
  onBlocked?(): void;
}

/**
 * Opens (creating or upgrading) the database through `factory`. `idb` wraps what it returns; it recognises
 * IndexedDB objects by the global classes (IDBRequest, IDBDatabase...), so an injected factory must be of
 * the same implementation as those globals (fake-indexeddb/auto in Node).
 */
export function openDatabase(factory: IDBFactory, name: string, hooks: OpenHooks): Promise<Db> {
  const request = factory.open(name, DB_VERSION);
  request.addEventListener('upgradeneeded', (event) => {
    const db = request.result;
    if (event.oldVersion < 1) {
      const heads = db.createObjectStore('heads', { keyPath: ['s', 'k'] });
      heads.createIndex('log', ['s', 'seq']);
      db.createObjectStore('states');
      db.createObjectStore('meta');
    }
    if (event.oldVersion < 2) db.createObjectStore('deltas');
    // Version 3 adds a store and changes no existing row: a database of version 1 or 2 keeps its records as they are.
    if (event.oldVersion < 3) {
      db.createObjectStore('batches', { keyPath: 'i', autoIncrement: true });
      // Made (or first opened by this layout) now: no row of its making yet.
      request.transaction!.objectStore('meta').put(randomId(), MADE_META);
    }
  });
  request.addEventListener('blocked', () => hooks.onBlocked?.());
  return (wrap(request) as unknown as Promise<Db>).then((db) => {
    db.addEventListener('versionchange', () => hooks.onVersionChange());
    db.addEventListener('close', () => hooks.onTerminated());
    return db;
  });
}

/**
 * Meta row naming this database's making: a random id written when the database is created or upgraded to version 3
 * (absent in one an earlier release made at version 3). The browser may delete a database under an open connection
 * (storage pressure, site data cleared, another tab's deleteDatabase); opening the name again then makes another one,
 * which a different id tells (storage.ts connection).
 */
export const MADE_META = 'idb:made';

/** The id of the database's making (undefined: made by an earlier release), in a readonly transaction of its own. */
export function readMade(db: Db): Promise<unknown> {
  return readMeta(db, MADE_META);
}

/**
 * A meta row, in a readonly transaction of its own. The transaction's end is awaited by nobody: when the browser aborts
 * it, the read fails (its caller is told) and the transaction's own failure is dropped, not left unhandled.
 */
export function readMeta(db: Db, name: string): Promise<unknown> {
  const tx = db.transaction('meta', 'readonly');
  tx.done.catch(() => {});
  return tx.store.get(name);
}

/** The smallest string above every string that starts with `prefix`, or undefined when there is none. */
export function prefixEnd(prefix: string): string | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const c = prefix.charCodeAt(i);
    if (c < 0xffff) return prefix.slice(0, i) + String.fromCharCode(c + 1);
  }
  return undefined;
}

/** Upper bound above every [space, key]. */
export const AFTER_ALL_KEYS: IDBValidKey = [];

/** The `deltas` rows of one key. */
export function chainRange(space: string, key: string): IDBKeyRange {
  return IDBKeyRange.bound([space, key, -Infinity], [space, key, Infinity]);
}
