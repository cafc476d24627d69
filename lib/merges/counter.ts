/**
 * A PN-counter: per replica, the total added and the total subtracted; the value is their difference.
 * The merge takes per-replica maxima, so concurrent increments on different replicas all count.
 * Increment through `space.update` (an atomic read-modify-write): two increments by one replica computed
 * from the same state would count once.
 *
 *   await space.update('likes', (c) => counter.increment(c, replica.replicaId, 1));
 *   counter.value((await space.get('likes')).value)   // → total
 */
import type { MergeFn } from '../types.js';

export interface CounterValue {
  readonly p: Readonly<Record<string, number>>;
  readonly n: Readonly<Record<string, number>>;
}

function sortedRecord(r: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k]!;
  return out;
}

function check(c: unknown): CounterValue {
  const v = c as CounterValue;
  if (!v || typeof v !== 'object' || typeof v.p !== 'object' || typeof v.n !== 'object') {
    throw new TypeError('merges.counter works on counter values (counter.zero(), counter.increment())');
  }
  return v;
}

export function zero(): CounterValue {
  return { p: {}, n: {} };
}

export function increment(c: CounterValue | undefined, replicaId: string, by = 1): CounterValue {
  if (!Number.isFinite(by)) throw new TypeError('counter.increment: by must be a finite number');
  const v = c ? check(c) : zero();
  const side = by >= 0 ? 'p' : 'n';
  const next = { ...v[side], [replicaId]: (v[side][replicaId] ?? 0) + Math.abs(by) };
  return side === 'p' ? { p: sortedRecord(next), n: v.n } : { p: v.p, n: sortedRecord(next) };
}

export function value(c: CounterValue | undefined): number {
  if (!c) return 0;
  let total = 0;
  for (const k in c.p) total += c.p[k]!;
  for (const k in c.n) total -= c.n[k]!;
  return total;
}

function maxRecords(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = { ...a };
  for (const k in b) out[k] = Math.max(out[k] ?? 0, b[k]!);
  return sortedRecord(out);
}

export const merge: MergeFn<CounterValue> = (siblings) =>
  siblings.map(check).reduce((a, b) => ({ p: maxRecords(a.p, b.p), n: maxRecords(a.n, b.n) }));
