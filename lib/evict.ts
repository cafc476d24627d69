/**
 * The oldest entries of a bounded Map or Set kept in recency order (most recent last) go in one pass, a batch at a
 * time, never one per insert: V8's ordered hash tables keep a deleted entry's slot until the table is rebuilt, and an
 * iteration from the start steps over every such slot, so taking the oldest entry once per insert costs up to the
 * table's size per insert once the table is full.
 */
export function dropOldest<K>(c: Map<K, unknown> | Set<K>, count: number, dropped?: (k: K) => void): void {
  if (count <= 0) return;
  for (const k of c.keys()) {
    c.delete(k);
    dropped?.(k);
    if (--count === 0) return;
  }
}
