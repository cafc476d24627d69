/**
 * Reads outside `transact`, each in its own readonly transaction, so each sees one committed (durable)
 * state. `heads` and `states` hold the same keys, so range reads over both in one transaction align row
 * by row; a chained key's `deltas` rows are read with it (chains.ts). `index` and `spaces` read `heads` only: no
 * value is loaded.
 */
import type { IndexEntry, KeyRecord, ScanOptions } from '../../lib/storage.js';
import type { IDBPTransaction } from 'idb';
import { assemble } from './chains.js';
import { AFTER_ALL_KEYS, chainRange, prefixEnd, RECORD_STORES, type Db, type Head, type Schema, type StoredRow } from './schema.js';

export async function scanRecords(db: Db, space: string, { prefix = '', after, limit }: ScanOptions): Promise<Array<[string, KeyRecord]>> {
  const end = prefixEnd(prefix);
  const fromAfter = after !== undefined && after >= prefix;
  if (limit <= 0 || (fromAfter && end !== undefined && after >= end)) return [];
  const range = IDBKeyRange.bound([space, fromAfter ? after : prefix], end === undefined ? [space, AFTER_ALL_KEYS] : [space, end], fromAfter, true);
  const tx = db.transaction([...RECORD_STORES], 'readonly');
  const [heads, states] = await Promise.all([tx.objectStore('heads').getAll(range, limit), tx.objectStore('states').getAll(range, limit)]);
  return withChains(tx, heads, states);
}

/** Records from aligned heads and roots, the chain rows of the chained ones read too (in the same transaction). */
async function withChains(tx: IDBPTransaction<Schema, ('heads' | 'states' | 'deltas')[], 'readonly'>, heads: Head[], states: Array<StoredRow | undefined>): Promise<Array<[string, KeyRecord]>> {
  const deltas = tx.objectStore('deltas');
  const rows = await Promise.all(heads.map((head) => (head.ch ? deltas.getAll(chainRange(head.s, head.k)) : [])));
  return heads.map((head, i): [string, KeyRecord] => [head.k, assemble(head, states[i]!, rows[i]!).rec]);
}

/** The change log: the `log` index on [space, seq] of `heads`, then the states of those keys. */
export async function readLogRecords(db: Db, space: string, afterSeq: number, limit: number): Promise<Array<[string, KeyRecord]>> {
  if (limit <= 0) return [];
  const range = IDBKeyRange.bound([space, afterSeq], [space, Infinity], true, false);
  const tx = db.transaction([...RECORD_STORES], 'readonly');
  const heads = await tx.objectStore('heads').index('log').getAll(range, limit);
  const store = tx.objectStore('states');
  const states = await Promise.all(heads.map((head) => store.get([space, head.k])));
  return withChains(tx, heads, states);
}

export async function readIndex(db: Db, space: string): Promise<IndexEntry[]> {
  const heads = await db.getAll('heads', IDBKeyRange.bound([space], [space, AFTER_ALL_KEYS]));
  return heads.map((head) => ({ key: head.k, seq: head.seq, h: head.h }));
}

/** Walks the keys of `heads`, jumping from each space to the next. */
export async function listSpaces(db: Db): Promise<string[]> {
  const out: string[] = [];
  let cursor = await db.transaction('heads', 'readonly').store.openKeyCursor();
  while (cursor) {
    const space = cursor.key[0];
    out.push(space);
    cursor = await cursor.continue([space, AFTER_ALL_KEYS] as unknown as [string, string]);
  }
  return out;
}
