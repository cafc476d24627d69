/**
 * The fold: the records of the oldest unfolded batches move into the per-key stores, and those batches go, in one
 * readwrite transaction (so every snapshot holds a record either in its batch or in the per-key stores, never both
 * and never neither).
 *
 *   batches (oldest first, whole, up to a budget) ──▶ per key: its entries in order, over its head
 *   ──▶ heads put (or delete), the last whole entry as the `states` root, the chained entries after it as `deltas`
 *       rows (the old rows deleted first when a whole entry or a removal replaced them) ──▶ batches deleted
 *
 * Durability 'relaxed': a fold adds nothing that is not durable already (the batches are), and IndexedDB commits a
 * transaction atomically whatever its durability; a fold lost to a power cut leaves its batches in place, read and
 * folded again. A later strict commit flushes the fold with it (the backend's log is written in order).
 * Several tabs may fold: readwrite transactions are serialized, and each fold takes what is left.
 */
import { ConcordError } from '../../lib/errors.js';
import { isRemoval, type BatchCache } from './overlay.js';
import { chainRange, RECORD_STORES, type BatchEntry, type Db, type Head, type StoredRow, type WrittenEntry } from './schema.js';
import type { ReadTx } from './tx.js';

/** Fewer keys than this in a space are read head by head. */
const GROUP_MIN = 8;

/** The heads of `keys` (sorted) in one space: one range read when there are many and the range is not crowded. */
async function readHeads(tx: ReadTx, space: string, keys: readonly string[]): Promise<Map<string, Head>> {
  const heads = tx.objectStore('heads');
  const byKey = async () => {
    const got = await Promise.all(keys.map((k) => heads.get([space, k])));
    return new Map(got.flatMap((h) => (h ? [[h.k, h] as const] : [])));
  };
  if (keys.length < GROUP_MIN) return byKey();
  const limit = keys.length * 2 + 16;
  const found = await heads.getAll(IDBKeyRange.bound([space, keys[0]!], [space, keys[keys.length - 1]!]), limit);
  if (found.length >= limit) return byKey();
  const want = new Set(keys);
  return new Map(found.filter((h) => want.has(h.k)).map((h) => [h.k, h] as const));
}

function rowOf(e: WrittenEntry): StoredRow {
  const row: StoredRow = e.src === undefined ? { vs: e.vs, cc: e.cc } : { vs: e.vs, cc: e.cc, src: e.src };
  if (e.pts !== undefined) row.pts = e.pts;
  return row;
}

function corrupt(e: BatchEntry): ConcordError {
  return new ConcordError('CORRUPT', `the stored record of ${JSON.stringify(e.k)} in space ${JSON.stringify(e.s)} chains onto a record that is not there`);
}

/**
 * Folds the oldest batches, whole, up to `maxEntries` entries (at least one batch). Returns how many entries were
 * folded (0: nothing to fold). Throws (nothing folded) when the transaction fails.
 */
export async function foldStep(db: Db, cache: BatchCache, maxEntries: number): Promise<number> {
  const tx = db.transaction([...RECORD_STORES], 'readwrite', { durability: 'relaxed' });
  const done = tx.done;
  done.catch(() => {});
  try {
    const overlay = await cache.load(tx);
    const take: Array<readonly [number, readonly BatchEntry[]]> = [];
    let n = 0;
    for (const row of overlay.rows) {
      if (take.length > 0 && n + row[1].length > maxEntries) break;
      take.push(row);
      n += row[1].length;
    }
    if (take.length === 0) {
      await done;
      return 0;
    }
    // Per space, per key: its entries in batch order.
    const bySpace = new Map<string, Map<string, BatchEntry[]>>();
    for (const [, entries] of take) {
      for (const e of entries) {
        let keys = bySpace.get(e.s);
        if (!keys) bySpace.set(e.s, (keys = new Map()));
        const list = keys.get(e.k);
        if (list) list.push(e);
        else keys.set(e.k, [e]);
      }
    }
    const heads = tx.objectStore('heads');
    const states = tx.objectStore('states');
    const deltas = tx.objectStore('deltas');
    const read = await Promise.all([...bySpace].map(async ([space, keys]) => [space, keys, await readHeads(tx, space, [...keys.keys()].sort())] as const));
    for (const [space, keys, found] of read) {
      for (const [key, entries] of keys) {
        const head0 = found.get(key);
        const oldRows = (head0?.ch ?? 0) > 0;
        // The last whole entry or removal: what comes after it is chained onto it.
        let j = entries.length - 1;
        while (j >= 0) {
          const e = entries[j]!;
          if (isRemoval(e) || !e.c) break;
          j--;
        }
        const last = entries[entries.length - 1]!;
        if (isRemoval(last)) {
          if (head0) {
            ignore(heads.delete([space, key]));
            ignore(states.delete([space, key]));
            if (oldRows) ignore(deltas.delete(chainRange(space, key)));
          }
          continue;
        }
        let ch: number;
        let rows: readonly BatchEntry[];
        if (j >= 0) {
          const root = entries[j]!;
          if (isRemoval(root)) throw corrupt(entries[j + 1]!);
          if (oldRows) ignore(deltas.delete(chainRange(space, key)));
          ignore(states.put(rowOf(root), [space, key]));
          rows = entries.slice(j + 1);
          ch = rows.length;
        } else {
          if (!head0) throw corrupt(entries[0]!);
          rows = entries;
          ch = (head0.ch ?? 0) + rows.length;
        }
        for (const r of rows) ignore(deltas.put(rowOf(r as WrittenEntry), [space, key, (r as WrittenEntry).seq]));
        const head: Head = ch > 0 ? { s: space, k: key, seq: last.seq, h: last.h, ch } : { s: space, k: key, seq: last.seq, h: last.h };
        ignore(heads.put(head));
      }
    }
    const ids = take.map(([id]) => id);
    ignore(tx.objectStore('batches').delete(IDBKeyRange.upperBound(ids[ids.length - 1]!)));
    await done;
    cache.folded(ids, n);
    return n;
  } catch (e) {
    try {
      tx.abort();
    } catch {
      // Already finished.
    }
    throw e;
  }
}

/** A failed request aborts the transaction; the failure is reported once, through it. */
function ignore(p: Promise<unknown>): void {
  p.catch(() => {});
}
