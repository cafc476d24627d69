/**
 * Merges on plain values. Each is a join (commutative, associative, idempotent) with a canonical result,
 * so replicas merging the same siblings in any order, in any grouping, write back equal values.
 */
import { compareValues, deepEqual } from '../equal.js';
import type { DeleteAwareMerge } from '../view.js';
import type { MergeFn, MergeInfo, VersionInfo } from '../types.js';

function newer(a: VersionInfo, b: VersionInfo): boolean {
  if (a.hlc.ms !== b.hlc.ms) return a.hlc.ms > b.hlc.ms;
  if (a.hlc.logical !== b.hlc.logical) return a.hlc.logical > b.hlc.logical;
  if (a.replicaId !== b.replicaId) return a.replicaId > b.replicaId;
  return a.counter > b.counter;
}

/** Last writer wins by HLC (then replicaId): the same sibling on every replica. A later concurrent delete wins too. */
export const lww: MergeFn & DeleteAwareMerge = Object.assign(
  <T>(siblings: T[], info: MergeInfo): T => {
    let best = 0;
    for (let i = 1; i < siblings.length; i++) if (newer(info.versions[i]!, info.versions[best]!)) best = i;
    return siblings[best]!;
  },
  { latestDeleteWins: true },
);

function items(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (v instanceof Set) return [...v];
  throw new TypeError(`merges.union works on arrays and Sets, got ${v === null ? 'null' : typeof v}`);
}

function sortedUnique(all: unknown[]): unknown[] {
  all.sort(compareValues);
  const out: unknown[] = [];
  for (const x of all) if (out.length === 0 || !deepEqual(out[out.length - 1], x)) out.push(x);
  return out;
}

/** Set union of arrays or Sets (Dynamo's shopping cart), sorted. Removals need `addWins`. */
export const union: MergeFn = <T>(siblings: T[]): T => {
  const all = sortedUnique(siblings.flatMap(items));
  return (siblings.every((s) => s instanceof Set) ? new Set(all) : all) as T;
};

/** The greatest value (numbers, bigints, dates, strings; other values by a fixed canonical order). */
export const max: MergeFn = <T>(siblings: T[]): T => {
  let best = siblings[0] as T;
  for (const s of siblings) if (compareValues(s, best) > 0) best = s;
  return best;
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

function joinFields(a: unknown, b: unknown): unknown {
  if (deepEqual(a, b)) return a;
  if (isPlainObject(a) && isPlainObject(b)) {
    const out: Record<string, unknown> = {};
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      out[k] = !(k in b) ? a[k] : !(k in a) ? b[k] : joinFields(a[k], b[k]);
    }
    return out;
  }
  return compareValues(a, b) >= 0 ? a : b;
}

/**
 * Field-wise merge of objects, recursively: fields set on one side only are kept, nested objects merge,
 * and where two siblings disagree on a non-object field the greater value (canonical order) wins, which
 * keeps the merge a join. For "latest edit of a field wins", store `{ value, at }` per field and use lww there.
 */
export const fields: MergeFn = <T>(siblings: T[]): T => siblings.reduce((acc, s) => joinFields(acc, s) as T);
