/**
 * An add-wins set (an observed-remove set with a causal context). Each add tags its item with a dot
 * (replicaId, counter); a remove drops the tags it has seen, and the context remembers them, so a
 * concurrent add (an unseen tag) survives a remove, and a removed item does not come back. A typed value
 * ('add-wins'): siblings merge by this join on every replica, registered or not.
 *
 *   await space.update('list', (s) => addWins.add(s, replica.replicaId, 'milk'));
 *   await space.update('list', (s) => addWins.remove(s, 'milk'));
 *   addWins.values((await space.get('list')).value)   // → sorted items
 *
 * Change it through `space.update`: inside that write a tag's counter goes above both the set's context and the
 * replica's log seq (minting.ts), so two changes by one replica never reuse a tag, nor does an add after a delete of
 * the key (which empties the set's context) reuse one its earlier adds had — a peer away at the delete still holds
 * those. Computed apart and `put`, a tag goes above the set's context alone. Deleting the key and adding again: the new
 * set counts the deleting replica's earlier tags as seen, so where a write concurrent with the delete brings the old
 * set back, that replica's items stay deleted and the others' come back. Inside the write a replica that tags its dots
 * with epochs (protocol 11) names its epoch in the tag too (minting.ts), so a replica restored from an older copy,
 * minting its lost counters again, mints other tags than its lost branch's; a set keeps one context point per epoch a
 * replica added in. Values are `AddWins` instances (frozen, entries sorted): canonical. The helpers also accept the
 * plain `{ e, cc }` objects stored before sets carried their type.
 */
import { coversDot, isReplicaId, mergeCausal, pointsOf, type EpochPoints, type Point } from '../dvv.js';
import { maximalPoints, NO_EPOCHS, topCounter, type EpochRegistry } from '../epoch-points.js';
import { mintingEpoch, mintingFloor, noteMinted } from '../minting.js';
import { canonicalKey, compareValues } from '../equal.js';
import { parseTextPayload, textPayload } from '../payload.js';
import type { ValueType } from '../typed.js';
import type { MergeFn } from '../types.js';

/**
 * [item, replicaId, counter], and the tag's epoch where it names one (dvv.ts: a dot (r, e, n)): `add` names the epoch
 * of the write it runs in when that replica tags its dots (minting.ts), and none otherwise.
 */
export type AddWinsEntry<T = unknown> = readonly [T, string, number, string?];

export interface AddWinsSet<T = unknown> {
  readonly e: ReadonlyArray<AddWinsEntry<T>>;
  /** Per replica the highest counter of its tags seen (for one in `pts`, only an upper bound, as dvv.ts KeyState.cc). */
  readonly cc: Readonly<Record<string, number>>;
  /** The context's points of replicas with a point naming an epoch (dvv.ts KeyState.pts); absent when none has. */
  readonly pts?: EpochPoints;
}

export class AddWins<T = unknown> implements AddWinsSet<T> {
  readonly e: ReadonlyArray<AddWinsEntry<T>>;
  readonly cc: Readonly<Record<string, number>>;
  // Declared only: an untagged set has no `pts` field at all.
  declare readonly pts?: EpochPoints;
  constructor(e: AddWinsEntry<T>[], cc: Record<string, number>, pts?: EpochPoints) {
    this.e = Object.freeze(e.sort(compareEntries));
    this.cc = Object.freeze(sortedCc(cc));
    // Only where a point names an epoch: an untagged set has the fields (and the encoding) it always had.
    if (pts !== undefined) this.pts = pts;
    Object.freeze(this);
  }
}

export function empty<T = unknown>(): AddWins<T> {
  return new AddWins<T>([], {});
}

function check<T>(s: unknown): AddWinsSet<T> {
  const v = s as AddWinsSet<T>;
  if (!v || typeof v !== 'object' || !Array.isArray(v.e) || typeof v.cc !== 'object') {
    throw new TypeError('merges.addWins works on add-wins sets (addWins.empty(), addWins.add())');
  }
  return v;
}

/** `check`, and a plain set checked entry by entry as the decoder does: a set the helpers make from it must decode. */
function checkWhole<T>(s: unknown): AddWinsSet<T> {
  const why = refuses(check<T>(s));
  if (why !== undefined) throw new TypeError(`addWins: not an add-wins set (${why})`);
  return s as AddWinsSet<T>;
}

function compareEntries(a: AddWinsEntry, b: AddWinsEntry): number {
  const ea = a[3] ?? '';
  const eb = b[3] ?? '';
  return compareValues(a[0], b[0]) || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : a[2] - b[2]) || (ea < eb ? -1 : ea > eb ? 1 : 0);
}

/** A tag's whole dot as one string (replica ids and epochs hold no space). */
const tagOf = (x: AddWinsEntry): string => (x[3] === undefined ? x[1] + ':' + x[2] : x[1] + ':' + x[2] + ' ' + x[3]);

export function add<T>(set: AddWinsSet<T> | undefined, replicaId: string, ...items: T[]): AddWins<T> {
  const s = set ? checkWhole<T>(set) : empty<T>();
  if (typeof replicaId !== 'string' || replicaId.length === 0 || replicaId.length > 64 || replicaId in Object.prototype) throw new TypeError(`addWins.add: ${JSON.stringify(replicaId)} is not a replica id`);
  // Inside a write of a replica that tags, its tags name the write's epoch (minting.ts); else untagged, as always.
  const ep = mintingEpoch(replicaId);
  const keys = new Set(items.map(canonicalKey));
  // Above the set's context and, inside a write, above every tag this replica minted before (minting.ts: the floor):
  // a set a delete emptied has no context left to go above, and its old tags live on at a peer away at the delete.
  const from = Math.max(s.cc[replicaId] ?? 0, mintingFloor(replicaId));
  let n = from;
  const e: AddWinsEntry<T>[] = s.e.filter((x) => !keys.has(canonicalKey(x[0])));
  const added = new Set<string>();
  for (const item of items) {
    const k = canonicalKey(item);
    if (added.has(k)) continue;
    added.add(k);
    // The counter comes from the set's context, which any writer may have raised: past the safe integers no decoder
    // takes the set, so the add fails here rather than store what every replica refuses.
    if (n >= Number.MAX_SAFE_INTEGER) throw new RangeError(`addWins.add: the set's counter of ${replicaId} is exhausted`);
    e.push(ep === undefined ? [item, replicaId, ++n] : [item, replicaId, ++n, ep]);
  }
  noteMinted(replicaId, n);
  if (ep !== undefined && n > from) return new AddWins(e, { ...s.cc, [replicaId]: n }, withPoint(s, replicaId, ep, n));
  return new AddWins(e, { ...s.cc, [replicaId]: n }, withUntaggedPoint(s.pts, replicaId, n));
}

/**
 * `s`'s points with r's point in epoch `ep` raised to n (the new tags' top, above every point of r). A set judges by
 * no ancestry (a merge must give every replica the same value, whatever epoch records it learned; and a tag's
 * counter is the set's, not the log's, so the log's fork points would not place it anyway): every epoch is a root,
 * and r keeps one point per epoch it added in — the points of the epochs before a restore are what lets a remove
 * made after it still cover the tags it saw, and what keeps a tag of the lost branch apart from the restored one's.
 */
function withPoint(s: AddWinsSet, r: string, ep: string, n: number): EpochPoints {
  return { ...s.pts, [r]: maximalPoints(NO_EPOCHS, r, [...pointsOf(s, r).filter((p) => p.n > 0), { e: ep, n }]) };
}

/**
 * `pts` with r's untagged point raised to n (the new untagged tags' top, above every point of r), where r has points:
 * their coverage is what the join reads, and a set's vector entry is its points' top (decodeSet checks it).
 */
function withUntaggedPoint(pts: EpochPoints | undefined, r: string, n: number): EpochPoints | undefined {
  const points = pts?.[r];
  if (points === undefined || n === topCounter(points)) return pts;
  return { ...pts, [r]: [{ e: '', n }, ...points.filter((p) => p.e !== '')] };
}

export function remove<T>(set: AddWinsSet<T> | undefined, ...items: T[]): AddWins<T> {
  const s = set ? checkWhole<T>(set) : empty<T>();
  const keys = new Set(items.map(canonicalKey));
  return new AddWins(
    s.e.filter((x) => !keys.has(canonicalKey(x[0]))),
    { ...s.cc },
    s.pts,
  );
}

export function values<T>(set: AddWinsSet<T> | undefined): T[] {
  if (!set) return [];
  const out: T[] = [];
  let last: string | undefined;
  for (const [item] of check<T>(set).e) {
    const k = canonicalKey(item);
    if (k !== last) out.push(item);
    last = k;
  }
  return out;
}

export function has<T>(set: AddWinsSet<T> | undefined, item: T): boolean {
  const k = canonicalKey(item);
  return !!set && check<T>(set).e.some((x) => canonicalKey(x[0]) === k);
}

function sortedCc(cc: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(cc).sort()) out[k] = cc[k]!;
  return out;
}

/**
 * The join: a tag survives unless the other set has seen it (its context covers the whole dot, judged by `reg`'s
 * ancestry of epochs) and no longer holds it. Untagged sets join as they always did (the registry changes nothing
 * for them). Which registry a typed merge may judge by is left to stage 2 (docs/design/epochs-build.md): a merge
 * must give every replica the same value, so it cannot judge by ancestry one replica knows and another does not.
 */
function join<T>(a: AddWinsSet<T>, b: AddWinsSet<T>, reg: EpochRegistry): AddWins<T> {
  const inB = new Map(b.e.map((x) => [tagOf(x), x]));
  const inA = new Set(a.e.map(tagOf));
  const seenByA = coverage(a, reg);
  const seenByB = coverage(b, reg);
  const e: AddWinsEntry<T>[] = [];
  for (const x of a.e) {
    const y = inB.get(tagOf(x));
    // A tag both hold: one add, so one item — unless a tag was forged for another item (no decoded set holds a tag
    // twice, but two sets may each hold it once). The lesser entry stays: what a merge gives never depends on the
    // order of its siblings (keeping a's, it did), and a set made of it decodes.
    if (y !== undefined) e.push(compareEntries(x, y) <= 0 ? x : y);
    else if (!seenByB(x)) e.push(x);
  }
  for (const x of b.e) if (!inA.has(tagOf(x)) && !seenByA(x)) e.push(x);
  const ctx = mergeCausal(reg, a, b);
  return new AddWins(e, { ...ctx.cc }, ctx.pts);
}

/**
 * Whether set `s`'s context covers a tag. Judged by no ancestry (every merge today), a tag is covered by its replica's
 * point of its own epoch alone: looked up, so a join costs the tags plus the points, not their product (a hostile value
 * within the size limit holds tens of thousands of each).
 */
function coverage(s: AddWinsSet, reg: EpochRegistry): (x: AddWinsEntry) => boolean {
  if (reg !== NO_EPOCHS || s.pts === undefined) return (x) => coversDot(reg, s, x[1], x[3], x[2]);
  const byReplica = new Map<string, Map<string, number>>();
  for (const r of Object.keys(s.pts)) byReplica.set(r, new Map(s.pts[r]!.map((p) => [p.e, p.n])));
  return (x) => {
    const points = byReplica.get(x[1]);
    if (points === undefined) return x[3] === undefined && (s.cc[x[1]] ?? 0) >= x[2];
    return (points.get(x[3] ?? '') ?? 0) >= x[2];
  };
}

function joinAll<T>(sets: readonly AddWinsSet<T>[], reg: EpochRegistry = NO_EPOCHS): AddWins<T> {
  const all = sets.map((s) => check<T>(s));
  return all.slice(1).reduce<AddWins<T>>((acc, s) => join(acc, s, reg), join(all[0]!, all[0]!, reg));
}

/** As a merge function (registering it is no longer needed; it still merges plain `{ e, cc }` siblings). */
export const merge: MergeFn<AddWinsSet> = (siblings) => joinAll(siblings);

/**
 * Why a plain sibling handed to the merge function is not a set (undefined: it is one). A read leaves such a version
 * out of the merge and reports it (view.ts RefusingMerge): the join takes a plain `{ e, cc }` of any shape, and what it
 * gives is written back as a typed set, which every replica's decoder must take. The same check as that decoder.
 */
export function refuses(value: unknown): string | undefined {
  if (value instanceof AddWins) return undefined;
  try {
    decodeSet(value);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function decodeSet(raw: unknown): AddWins {
  const s = raw as { e?: unknown; cc?: unknown } | null;
  if (s === null || typeof s !== 'object' || !Array.isArray(s.e) || s.cc === null || typeof s.cc !== 'object' || Array.isArray(s.cc)) throw new TypeError('not an add-wins set');
  const cc: Record<string, number> = {};
  for (const [r, n] of Object.entries(s.cc as object)) {
    // No name an object inherits ('constructor', '__proto__'): vectors are plain objects, and the join's (dvv.ts
    // mergeVectors) would read the inherited member for a side that lacks it and drop the other side's counter.
    if (r in Object.prototype || r.length === 0 || r.length > 64 || !Number.isSafeInteger(n) || (n as number) < 0) throw new TypeError('not an add-wins context');
    cc[r] = n as number;
  }
  const pts = decodePoints((s as { pts?: unknown }).pts, cc);
  const e: AddWinsEntry[] = [];
  const tags = new Set<string>();
  for (const x of s.e as unknown[]) {
    const tagged = Array.isArray(x) && x.length === 4;
    // The context's own entry only: `cc` is a plain object, and an inherited name ('constructor') is no counter.
    if (!Array.isArray(x) || (x.length !== 3 && !tagged) || typeof x[1] !== 'string' || !Number.isSafeInteger(x[2]) || x[2] < 1 || !(Object.hasOwn(cc, x[1]) && cc[x[1]]! >= x[2])) throw new TypeError('not an add-wins entry');
    // A tag naming an epoch is covered only by a point naming one: its replica must have points (pts lists only such).
    if (tagged && (!isReplicaId(x[3]) || pts?.[x[1]] === undefined)) throw new TypeError('not an add-wins entry');
    const entry: AddWinsEntry = tagged ? [x[0], x[1], x[2], x[3] as string] : [x[0], x[1], x[2]];
    // A tag is one add of one item: a second entry under it (another item, or the same twice) is no set's, and the
    // join would keep one or the other by the order of its inputs.
    if (tags.size === tags.add(tagOf(entry)).size) throw new TypeError('two add-wins entries under one tag');
    e.push(entry);
  }
  return new AddWins(e, cc, pts);
}

/** A set's points (absent: none); each replica's sorted, naming an epoch, its highest counter its `cc` entry. */
function decodePoints(raw: unknown, cc: Record<string, number>): EpochPoints | undefined {
  if (raw === undefined) return undefined;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new TypeError('not an add-wins context');
  const pts: Record<string, readonly Point[]> = {};
  for (const [r, list] of Object.entries(raw as object)) {
    if (!isReplicaId(r) || !Array.isArray(list) || list.length === 0 || cc[r] === undefined) throw new TypeError('not an add-wins context');
    const points: Point[] = [];
    let top = 0;
    for (const p of list as unknown[]) {
      const { e, n } = (p ?? {}) as { e?: unknown; n?: unknown };
      if ((e !== '' && !isReplicaId(e)) || typeof e !== 'string' || !Number.isSafeInteger(n) || (n as number) < 1) throw new TypeError('not an add-wins context');
      const last = points[points.length - 1];
      if (last && (last.e > e || (last.e === e))) throw new TypeError('not an add-wins context');
      points.push({ e, n: n as number });
      top = Math.max(top, n as number);
    }
    if (top !== cc[r] || points.every((p) => p.e === '')) throw new TypeError('not an add-wins context');
    pts[r] = points;
  }
  return Object.keys(pts).length > 0 ? pts : undefined;
}

/**
 * The set with the tags `oldId` minted beyond what `base` knows of it moved to `newId` (above what `base` knows of
 * `newId`), and `oldId`'s context set back to what `base` knows: see ValueType.reissue. With no base (the write
 * superseded every version the restored copy held of the key) every tag of `oldId` moves: each item the restored
 * replica holds is then added again, which an add-wins set resolves as a concurrent add would; keeping a tag another
 * replica may hold for another item would instead drop that item everywhere.
 */
function reissue<T>(set: AddWinsSet<T>, oldId: string, newId: string, base: readonly AddWinsSet<T>[]): AddWins<T> {
  // What the base knows of oldId's untagged tags (its untagged point): only those are suspect (as dvv.ts
  // stripOwnDots: a restored branch's tags name their epoch, other dots than the lost branch's).
  const known = Math.max(0, ...base.map((b) => untaggedPoint(b, oldId)));
  let n = Math.max(0, ...base.map((b) => b.cc[newId] ?? 0));
  const e = set.e.map((x): AddWinsEntry<T> => (x[1] === oldId && x[3] === undefined && x[2] > known ? [x[0], newId, ++n] : x));
  const cc: Record<string, number> = { ...set.cc };
  if (n > 0) cc[newId] = Math.max(cc[newId] ?? 0, n);
  let pts = set.pts;
  const points = pts?.[oldId];
  if (points === undefined) {
    const mine = Math.min(cc[oldId] ?? 0, known);
    if (mine > 0) cc[oldId] = mine;
    else delete cc[oldId];
  } else {
    // The untagged point cut back to `known`; points naming epochs stay (at least one: a replica is listed in
    // `pts` only for one), the vector entry their highest counter.
    const kept = points.flatMap((p) => (p.e !== '' || p.n <= known ? [p] : known > 0 ? [{ e: '', n: known }] : []));
    pts = { ...pts, [oldId]: kept };
    cc[oldId] = topCounter(kept);
  }
  // A context counts tags without gaps: this one now covers `newId`'s tags below its own, so it must hold those
  // the base holds (a sibling re-issued before it), or a join would take them for removed. Siblings merge by this
  // join on every read anyway.
  const holders = base.filter((b) => (b.cc[newId] ?? 0) > 0);
  const tags = new Set<number>();
  for (const x of holders.flatMap((b) => b.e)) if (x[1] === newId && !tags.has(x[2])) e.push(x), tags.add(x[2]);
  return holders.length ? joinAll([new AddWins(e, cc, pts), ...holders]) : new AddWins(e, cc, pts);
}

/** A set's untagged point of replica r: its vector entry, or where r has points, the untagged one's counter (0: none). */
function untaggedPoint(s: AddWinsSet, r: string): number {
  const points = s.pts?.[r];
  if (points === undefined) return s.cc[r] ?? 0;
  return points.find((p) => p.e === '')?.n ?? 0;
}

export const addWinsType: ValueType<AddWins> = {
  name: 'add-wins',
  is: (v): v is AddWins => v instanceof AddWins,
  encode: (s) => textPayload(s.pts === undefined ? { e: s.e, cc: s.cc } : { e: s.e, cc: s.cc, pts: s.pts }),
  decode: (payload) => decodeSet(parseTextPayload(payload)),
  merge: (values, epochs) => joinAll(values, epochs),
  reissue: (value, oldId, newId, base) => reissue(value, oldId, newId, base),
};
