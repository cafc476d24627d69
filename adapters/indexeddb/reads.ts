/**
 * Reads outside `transact`, each in its own readonly transaction, so each sees one committed (durable)
 * state: the per-key stores and the unfolded batches laid over them (overlay.ts), read in that same transaction.
 * `heads` and `states` hold the same keys, so range reads over both in one transaction align row by row; a chained
 * key's `deltas` rows are read with it (chains.ts). `index` and `spaces` read `heads` only (and the batches): no
 * per-key value is loaded.
 *
 * A key some batch holds is answered from its entries (its per-key record read too only when they chain onto it),
 * never from its per-key row: range reads over the per-key stores fetch as many more rows as the overlay holds keys
 * in the range, so dropping those rows still leaves enough.
 */
import type { IndexEntry, KeyRecord, ScanOptions } from '../../lib/storage.js';
import { assemble, type ReadRecord } from './chains.js';
import { isRemoval, type BatchCache } from './overlay.js';
import { AFTER_ALL_KEYS, chainRange, prefixEnd, RECORD_STORES, type Db, type Head, type StoredRow, type WrittenEntry } from './schema.js';
import { readOverlaid, type ReadTx } from './tx.js';

/** A readonly transaction whose end nobody awaits: a browser's abort fails the reads (their caller is told), not the page. */
function readTx(db: Db): ReadTx {
  const tx = db.transaction([...RECORD_STORES], 'readonly');
  tx.done.catch(() => {});
  return tx;
}

export async function readKey(db: Db, cache: BatchCache, space: string, key: string): Promise<KeyRecord | undefined> {
  const tx = readTx(db);
  return (await readOverlaid(tx, await cache.load(tx), space, key))?.rec;
}

export async function scanRecords(db: Db, cache: BatchCache, space: string, { prefix = '', after, limit }: ScanOptions): Promise<Array<[string, KeyRecord]>> {
  const end = prefixEnd(prefix);
  const fromAfter = after !== undefined && after >= prefix;
  if (limit <= 0 || (fromAfter && end !== undefined && after >= end)) return [];
  const lower = fromAfter ? after : prefix;
  const range = IDBKeyRange.bound([space, lower], end === undefined ? [space, AFTER_ALL_KEYS] : [space, end], fromAfter, true);
  const tx = readTx(db);
  const overlay = await cache.load(tx);
  const inRange = (k: string) => (fromAfter ? k > lower : k >= lower) && (end === undefined || k < end);
  const over = overlay.sortedKeys(space).filter(inRange);
  const n = limit + over.length;
  const [heads, states] = await Promise.all([tx.objectStore('heads').getAll(range, n), tx.objectStore('states').getAll(range, n)]);
  const touched = overlay.keysOf(space);
  // Per-key rows of keys no batch holds, and the keys the batches hold that still exist, merged in key order.
  const picks: Array<{ key: string; at?: number }> = [];
  let i = 0;
  let j = 0;
  while (picks.length < limit && (i < heads.length || j < over.length)) {
    while (i < heads.length && touched?.has(heads[i]!.k)) i++;
    const hk = i < heads.length ? heads[i]!.k : undefined;
    const ok = j < over.length ? over[j] : undefined;
    if (hk === undefined && ok === undefined) break;
    if (ok === undefined || (hk !== undefined && hk < ok)) picks.push({ key: hk!, at: i++ });
    else {
      const entries = touched!.get(ok)!;
      if (!isRemoval(entries[entries.length - 1]!)) picks.push({ key: ok });
      j++;
    }
  }
  const records = await Promise.all(picks.map(({ key, at }) => (at !== undefined ? withChain(tx, heads[at]!, states[at]!) : readOverlaid(tx, overlay, space, key))));
  return picks.map(({ key }, p) => [key, records[p]!.rec]);
}

/** A per-key record from its head and root, its chain rows read when it has some. */
async function withChain(tx: ReadTx, head: Head, state: StoredRow): Promise<ReadRecord> {
  const rows = head.ch ? await tx.objectStore('deltas').getAll(chainRange(head.s, head.k)) : [];
  return assemble(head, state, rows);
}

/** The change log: the `log` index on [space, seq] of `heads` merged with the batches' keys by seq. */
export async function readLogRecords(db: Db, cache: BatchCache, space: string, afterSeq: number, limit: number): Promise<Array<[string, KeyRecord]>> {
  if (limit <= 0) return [];
  const range = IDBKeyRange.bound([space, afterSeq], [space, Infinity], true, false);
  const tx = readTx(db);
  const overlay = await cache.load(tx);
  const touched = overlay.keysOf(space);
  const heads = (await tx.objectStore('heads').index('log').getAll(range, limit + (touched?.size ?? 0))).filter((h) => !touched?.has(h.k));
  const log = overlay.log(space);
  let j = lowerBoundBySeq(log, afterSeq);
  let i = 0;
  const picks: Array<{ key: string; head?: Head }> = [];
  while (picks.length < limit && (i < heads.length || j < log.length)) {
    const h = heads[i];
    const o = log[j];
    if (o === undefined || (h !== undefined && h.seq < o[1].seq)) {
      picks.push({ key: h!.k, head: h! });
      i++;
    } else {
      picks.push({ key: o[0] });
      j++;
    }
  }
  const states = tx.objectStore('states');
  const records = await Promise.all(
    picks.map(async ({ key, head }) => {
      if (!head) return readOverlaid(tx, overlay, space, key);
      const state = await states.get([space, key]);
      return withChain(tx, head, state!);
    }),
  );
  return picks.map(({ key }, p) => [key, records[p]!.rec]);
}

/** The first position in `log` (sorted by seq) whose seq is above `seq`. */
function lowerBoundBySeq(log: ReadonlyArray<readonly [string, WrittenEntry]>, seq: number): number {
  let lo = 0;
  let hi = log.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (log[mid]![1].seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export async function readIndex(db: Db, cache: BatchCache, space: string): Promise<IndexEntry[]> {
  const tx = readTx(db);
  const [overlay, heads] = await Promise.all([cache.load(tx), tx.objectStore('heads').getAll(IDBKeyRange.bound([space], [space, AFTER_ALL_KEYS]))]);
  const touched = overlay.keysOf(space);
  const out: IndexEntry[] = [];
  for (const head of heads) if (!touched?.has(head.k)) out.push({ key: head.k, seq: head.seq, h: head.h });
  for (const [key, last] of overlay.log(space)) out.push({ key, seq: last.seq, h: last.h });
  return out;
}

/** Walks the keys of `heads`, jumping from each space to the next; then the batches' spaces. */
export async function listSpaces(db: Db, cache: BatchCache): Promise<string[]> {
  const tx = readTx(db);
  const overlay = await cache.load(tx);
  const heads = tx.objectStore('heads');
  const found = new Set<string>();
  let cursor = await heads.openKeyCursor();
  while (cursor) {
    const space = cursor.key[0];
    found.add(space);
    cursor = await cursor.continue([space, AFTER_ALL_KEYS] as unknown as [string, string]);
  }
  // A space the batches touch holds a key when one of its keys there was last written, or one of its per-key rows
  // is not removed by them.
  const spaces = new Set(found);
  for (const space of overlay.spaces()) {
    if (overlay.log(space).length > 0) {
      spaces.add(space);
      continue;
    }
    if (!found.has(space)) continue;
    const touched = overlay.keysOf(space)!;
    const keys = await heads.getAllKeys(IDBKeyRange.bound([space], [space, AFTER_ALL_KEYS]), touched.size + 1);
    if (!keys.some(([, k]) => !touched.has(k))) spaces.delete(space);
  }
  return [...spaces].sort();
}
