/**
 * The IndexedDB layout, and opening it.
 *
 *   heads   keyPath [s, k]      { s, k, seq, h, ch? }  one small row per key; index `log` on [s, seq] IS the
 *                                                     change log of space s (one entry per key, ordered by seq)
 *   states  key [s, k]          { vs, cc, src? }      the key's record standing alone, values included (the root
 *                                                     of its chain when `ch` > 0)
 *   deltas  key [s, k, seq]     { vs, cc, src? }      (version 2) the key's later records, each chained to the one
 *                                                     before (lib/chain.ts: deltas and references): `ch` of them
 *   meta    key name            JSON data             replica identity, sequence, sync cursors
 *
 * Invariants: `heads` and `states` hold exactly the same keys (every write and removal touches both in the
 * same transaction), so a range read over both in one transaction yields aligned rows; a key's `deltas` rows are
 * exactly its head's `ch` records after its root, written and removed in the same transactions as its head. Opening
 * a replica and catch-up walk `heads` only: values are never read to build the index (BENCHMARKS S6).
 * Key order is IndexedDB's: arrays compare element-wise, strings by UTF-16 code unit (as JS `<` does),
 * and an array sorts after every string, so [s, []] bounds every [s, key] from above.
 */
import { wrap, type DBSchema, type IDBPDatabase } from 'idb';
import type { ChainVersion } from '../../lib/chain.js';
import type { KeyState } from '../../lib/dvv.js';

export const DB_VERSION = 2;
export const STORES = ['heads', 'states', 'deltas', 'meta'] as const;
export const RECORD_STORES = ['heads', 'states', 'deltas'] as const;

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
  src?: string;
}

export interface Schema extends DBSchema {
  heads: { key: [string, string]; value: Head; indexes: { log: [string, number] } };
  states: { key: [string, string]; value: StoredRow };
  deltas: { key: [string, string, number]; value: StoredRow };
  meta: { key: string; value: unknown };
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
  });
  request.addEventListener('blocked', () => hooks.onBlocked?.());
  return (wrap(request) as unknown as Promise<Db>).then((db) => {
    db.addEventListener('versionchange', () => hooks.onVersionChange());
    db.addEventListener('close', () => hooks.onTerminated());
    return db;
  });
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
