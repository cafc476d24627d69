/** Binary searches over sorted arrays (the storage adapters' key orders and change logs). */

/** The first index whose element is ≥ x. */
export function lowerBound<T extends string | number>(a: readonly T[], x: T): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index whose element is > x. */
export function upperBound<T extends string | number>(a: readonly T[], x: T): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The keys of a sorted array that start with `prefix` and come after `after` (exclusive), at most `limit`. */
export function keysInRange(sorted: readonly string[], prefix: string, after: string | undefined, limit: number): string[] {
  const from = after !== undefined && after >= prefix ? after : prefix;
  let i = lowerBound(sorted, from);
  if (i < sorted.length && sorted[i] === after) i++;
  const out: string[] = [];
  for (; i < sorted.length && out.length < limit; i++) {
    const key = sorted[i]!;
    if (!key.startsWith(prefix)) break;
    out.push(key);
  }
  return out;
}
