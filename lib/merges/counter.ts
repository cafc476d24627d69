/**
 * A PN-counter: per replica, the total added and the total subtracted; the value is their difference. A typed
 * value ('counter'): siblings merge by per-entry maxima on every replica, registered or not, so concurrent
 * increments on different replicas all count. Increment through `space.update` (an atomic read-modify-write):
 * two increments by one replica computed from the same state would count once.
 *
 * A replica's entry is keyed by its id, or, for a counter it starts after its first write, by its id and an
 * incarnation (`entryOf`): a counter re-created after a delete does not share its entry with the deleted one. A peer
 * away at the delete that increments its old copy wrote concurrently with the delete: its counter comes back beside
 * the new one (as a plain value's concurrent write does), and the join counts both, old entries included.
 *
 *   await space.update('likes', (c) => counter.increment(c, replica.replicaId, 1));
 *   counter.value((await space.get('likes')).value)   // → total
 *
 * Values are `Counter` instances (frozen, `p` and `n` records sorted by replica): canonical, so equal counters encode
 * equal. Each count is a finite number; `value` saturates at ±Number.MAX_VALUE (see there). The helpers also accept the
 * plain `{ p, n }` objects stored before counters carried their type.
 */
import { mintingAfterOwnDelete, mintingFloor, noteMinted } from '../minting.js';
import { jsonPayload, parseJsonPayload } from '../payload.js';
import { fnv1a } from '../sync/sketch.js';
import type { ValueType } from '../typed.js';
import type { MergeFn } from '../types.js';

export interface CounterValue {
  readonly p: Readonly<Record<string, number>>;
  readonly n: Readonly<Record<string, number>>;
}

export class Counter implements CounterValue {
  readonly p: Readonly<Record<string, number>>;
  readonly n: Readonly<Record<string, number>>;
  constructor(p: Record<string, number>, n: Record<string, number>) {
    this.p = Object.freeze(sortedRecord(p));
    this.n = Object.freeze(sortedRecord(n));
    Object.freeze(this);
  }
}

function sortedRecord(r: Readonly<Record<string, number>>): Record<string, number> {
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

export function zero(): Counter {
  return new Counter({}, {});
}

export function increment(c: CounterValue | undefined, replicaId: string, by = 1): Counter {
  if (!Number.isFinite(by)) throw new TypeError('counter.increment: by must be a finite number');
  const v = c ? check(c) : zero();
  const side = by >= 0 ? 'p' : 'n';
  const key = entryOf(v, replicaId);
  // Its own entry only ('constructor' names no inherited member here), and finite: every decoder refuses any other.
  const total = (Object.hasOwn(v[side], key) ? v[side][key]! : 0) + Math.abs(by);
  if (!Number.isFinite(total)) throw new TypeError('counter.increment: the count would not be a finite number');
  const next = { ...v[side], [key]: total };
  return side === 'p' ? new Counter(next, v.n) : new Counter(v.p, next);
}

/**
 * The entry `replicaId` increments: of its entries in `v` (either side), the one of the highest incarnation. None (a
 * counter it never incremented, or one a delete emptied): a new incarnation, keyed `<stem>~<n>` (n in base 36) by the
 * seq of the write it starts in (minting.ts: above every seq the replica used, so no entry it started before, in this
 * key or a peer's old copy of it, has that key). Outside a write, or in a replica's first write, the plain id (the
 * incarnation 0, what every counter used before): no floor tells it apart from an earlier one there.
 *
 * Every release decodes a key of 1–64 characters and merges entries by key, summing them all: an incarnation is an
 * entry like any other, read and joined alike everywhere. A key is the replica's own by its form only (no key is
 * signed): a peer that writes `<id>~<n>` makes `id` increment that entry, which it could already do writing `<id>`.
 */
function entryOf(v: CounterValue, replicaId: string): string {
  // The replica's first write since its own delete: what the value holds of its entries is a peer's copy from before
  // the delete (minting.ts): a new incarnation, whatever entry that copy brings back.
  if (mintingAfterOwnDelete(replicaId)) return freshEntry(replicaId) ?? replicaId;
  const s = stem(replicaId);
  let best: string | undefined;
  let top = -1;
  for (const r of [v.p, v.n]) {
    for (const k of Object.keys(r)) {
      const n = k === replicaId ? 0 : incarnation(k, s);
      if (n !== undefined && n > top) [best, top] = [k, n];
    }
  }
  return best ?? freshEntry(replicaId) ?? replicaId;
}

/** A new incarnation of `replicaId`'s entry, keyed by the running write's seq (undefined outside a write or in its first). */
function freshEntry(replicaId: string): string | undefined {
  const floor = mintingFloor(replicaId);
  if (floor === 0 || floor >= Number.MAX_SAFE_INTEGER) return undefined;
  noteMinted(replicaId, floor + 1);
  return `${stem(replicaId)}~${(floor + 1).toString(36)}`;
}

/** ValueType.reopen: `c` with a new incarnation of `replicaId`'s entry at 0 (its later increments go there). */
function reopen(c: Counter, replicaId: string): Counter {
  const key = freshEntry(replicaId);
  return key === undefined || Object.hasOwn(c.p, key) ? c : new Counter({ ...c.p, [key]: 0 }, c.n);
}

/** The incarnation a key names for the stem `s` (undefined: not one of its keys). */
function incarnation(k: string, s: string): number | undefined {
  if (k.length <= s.length + 1 || k[s.length] !== '~' || !k.startsWith(s)) return undefined;
  const text = k.slice(s.length + 1);
  if (!/^[1-9a-z][0-9a-z]{0,10}$/.test(text)) return undefined;
  const n = parseInt(text, 36);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * What an incarnation's key starts with: the replica id, when `<id>~<n>` fits every decoder's 64 characters for any
 * safe n (11 digits). A longer id (never minted here: ids are 16 characters, but an app may pass its own) is its first
 * 32 characters and two 32-bit hashes of the whole, after a '.' no replica id holds, so no id stands for it.
 */
function stem(id: string): string {
  if (id.length <= 64 - 12) return id;
  return `${id.slice(0, 32)}.${fnv1a(id).toString(36)}${fnv1a(`~${id}`).toString(36)}`;
}

/**
 * The count: what was added less what was subtracted. Saturated at ±Number.MAX_VALUE: each count is finite (an
 * increment that would make its own count infinite is refused), but concurrent increments on different replicas — none
 * refusable, each fine alone — may sum past the doubles, which read Infinity (both sides past: NaN). Past that bound
 * the counts are summed scaled down by a power of two (exact) in the order of their replica ids, so every replica
 * reads the same number whatever the order of the records it holds.
 */
export function value(c: CounterValue | undefined): number {
  if (!c) return 0;
  let total = 0;
  for (const k in c.p) total += c.p[k]!;
  for (const k in c.n) total -= c.n[k]!;
  return Number.isFinite(total) ? total : saturated(c);
}

/** `value` where the plain sum passed the doubles: the sum of counts scaled by 2^-s (s enough for every count), clamped. */
function saturated(c: CounterValue): number {
  const p = Object.keys(c.p).sort();
  const n = Object.keys(c.n).sort();
  const scale = 2 ** -Math.ceil(Math.log2(p.length + n.length));
  let total = 0;
  for (const k of p) total += c.p[k]! * scale;
  for (const k of n) total -= c.n[k]! * scale;
  const out = total / scale;
  return Number.isFinite(out) ? out : out > 0 ? Number.MAX_VALUE : -Number.MAX_VALUE;
}

function maxRecords(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = { ...a };
  // Own entries only: a key named like an inherited member ('constructor', 'toString') is a counter like any other.
  for (const k in b) out[k] = Math.max(Object.hasOwn(out, k) ? out[k]! : 0, b[k]!);
  return out;
}

function join(values: readonly CounterValue[]): Counter {
  let p: Record<string, number> = {};
  let n: Record<string, number> = {};
  for (const v of values.map(check)) {
    p = maxRecords(p, v.p);
    n = maxRecords(n, v.n);
  }
  return new Counter(p, n);
}

/** As a merge function (registering it is no longer needed; it still merges plain `{ p, n }` siblings). */
export const merge: MergeFn<CounterValue> = (siblings) => join(siblings);

function record(x: unknown): Record<string, number> {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) throw new TypeError('not a record');
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(x)) {
    if (k === '__proto__' || k.length === 0 || k.length > 64 || typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TypeError('not a counter record');
    out[k] = v;
  }
  return out;
}

/** A counter from its JSON form, checked as the decoder checks what arrives (throws on anything else). */
function decodeCounter(x: unknown): Counter {
  const raw = x as { p?: unknown; n?: unknown } | null;
  if (raw === null || typeof raw !== 'object' || Object.keys(raw).length !== 2) throw new TypeError('not a counter');
  return new Counter(record(raw.p), record(raw.n));
}

/** Why a plain sibling handed to the merge function is not a counter (undefined: it is one): see add-wins.ts `refuses`. */
export function refuses(value: unknown): string | undefined {
  if (value instanceof Counter) return undefined;
  try {
    decodeCounter(value);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

export const counterType: ValueType<Counter> = {
  name: 'counter',
  is: (v): v is Counter => v instanceof Counter,
  encode: (c) => jsonPayload({ p: c.p, n: c.n }),
  decode: (payload) => decodeCounter(parseJsonPayload(payload)),
  merge: join,
  /** The records that grew (a counter only grows per replica); none when `next` lacks some of `base`. */
  diff(base, next) {
    const grown = (b: Readonly<Record<string, number>>, n: Readonly<Record<string, number>>) => {
      const out: Record<string, number> = {};
      for (const k in b) if ((Object.hasOwn(n, k) ? n[k]! : 0) < b[k]!) return undefined;
      for (const k in n) if (!Object.hasOwn(b, k) || n[k]! > b[k]!) out[k] = n[k]!;
      return out;
    };
    const p = grown(base.p, next.p);
    const n = grown(base.n, next.n);
    return p && n ? jsonPayload({ p, n }) : undefined;
  },
  apply: (base, delta) => join([base, counterType.decode(delta)]),
  compose: (deltas) => counterType.encode(join(deltas.map((d) => counterType.decode(d)))),
  checkDelta: (delta) => void counterType.decode(delta),
  /** A join keeps each replica's record once, at the larger number: never more than both texts together. */
  applySize: (baseSize, delta) => baseSize + delta.length,
  reopen,
};
