/**
 * The oldest entries of a bounded Map or Set kept in recency order (most recent last) go in one pass, a batch at a
 * time, never one per insert: V8's ordered hash tables keep a deleted entry's slot until the table is rebuilt, and an
 * iteration from the start steps over every such slot, so taking the oldest entry once per insert costs up to the
 * table's size per insert once the table is full.
 */
export function dropOldest<K, V>(c: Map<K, V>, count: number, dropped?: (k: K, v: V) => void): void;
export function dropOldest<K>(c: Set<K>, count: number, dropped?: (k: K) => void): void;
/** `dropped` is told of each entry gone, after it went (of a Map with its value). */
export function dropOldest<K, V>(c: Map<K, V> | Set<K>, count: number, dropped?: (k: K, v: V) => void): void {
  if (count <= 0) return;
  for (const [k, v] of c.entries() as IterableIterator<[K, V]>) {
    c.delete(k);
    dropped?.(k, v);
    if (--count === 0) return;
  }
}
