/**
 * Records stored as chains (docs/deltas.md, Storage): the form of a record relative to the key's previous stored
 * record, so a write that derives from it stores its delta rather than its value. Storage adapters pack these forms
 * their own way (adapters/fs/record.ts, adapters/indexeddb/tx.ts); memory storage keeps records as they are.
 *
 *   { v }          a value stored whole (a derived version is materialized for it)
 *   { p: 1 }       the same version as in the previous record (the same dot and write: sameVersion)
 *   { x }          derived from versions of the previous record: the delta and its bases
 *   { v, x }       whole, with the derivation kept (the sync engine sends it to peers holding the bases)
 *   { d: 1 }       a tombstone
 *
 * A record using `p`, or an `x` without `v`, is *chained*: it is read with the previous record (`unchain`). Adapters
 * bound their chains (a read reads the whole chain) and store a record whole past their bound — at the first record
 * whose values are at hand (`cutHere`): storing one whose value is still a chain in memory would apply it all again.
 */
import { chainBound, derivedFrom, encodedRootSize, valueOf } from './deltas.js';
import type { Derivation, Dot, StoredVersion } from './dvv.js';
import type { KeyRecord } from './storage.js';
import { sameEncoding } from './values.js';

/** A version as stored in a chain (plain data: JSON or structured clone). */
export interface ChainVersion {
  r: string;
  /** The dot's epoch, where it names one (no stored record holds such a version yet: record.ts refuses it). */
  ep?: string;
  n: number;
  t: number;
  c: number;
  d?: 1;
  v?: string | Uint8Array;
  p?: 1;
  x?: { b: readonly Dot[]; s: number; d: Uint8Array };
}

/**
 * The live version of dot (r, n, ep) `rec` holds (the whole dot: a counter under another epoch is another dot). Its
 * parts, not a `Dot`: chainForm asks for every live version of every stored record (IndexedDB: each put of a key it
 * holds), and building a `Dot` there cost an array per version.
 */
function heldUnder(rec: KeyRecord, r: string, n: number, ep: string | undefined): StoredVersion | undefined {
  for (const v of rec.vs) if (v.r === r && v.n === n && v.ep === ep && !v.d) return v;
  return undefined;
}

/**
 * Whether `held` (the previous record's version of a dot) is the version `v` (of the same dot): the same object, or
 * the same write — the same HLC (what tells two writes under one dot apart: dvv.ts firstMinted) and, where both values
 * are at hand, the same bytes. A dot names one version only among honest, never-restored writers: a replica restored
 * from an older copy, untagged, mints its lost dots again for other writes, and a join keeps the one minted first,
 * so the record after a join may hold another version under a dot than the record before it. A reference to the
 * previous record there would read the version the join dropped.
 */
function sameVersion(held: StoredVersion, v: StoredVersion): boolean {
  if (held === v) return true;
  if (held.t !== v.t || held.c !== v.c) return false;
  return held.v === undefined || v.v === undefined || sameEncoding(held.v, v.v);
}

/**
 * The versions of `rec` as stored after `prev` (the key's previous record, as readers will find it; undefined: stand
 * alone). Throws DeltaError when a version must be stored whole and its value cannot be made here.
 */
export function chainForm(rec: KeyRecord, prev: KeyRecord | undefined): { vs: ChainVersion[]; chained: boolean } {
  // A loop into an array of its final length, not `map` with a closure writing `chained`: that closure's context
  // is allocated per call unless the optimizer inlines the callback, which it stopped doing once the epoch checks
  // made the function larger (IndexedDB stores each put of a key it holds through here).
  let chained = false;
  const vs = new Array<ChainVersion>(rec.vs.length);
  for (let i = 0; i < rec.vs.length; i++) {
    const v = rec.vs[i]!;
    const out: ChainVersion = { r: v.r, n: v.n, t: v.t, c: v.c };
    vs[i] = out;
    if (v.ep !== undefined) out.ep = v.ep;
    if (v.d) {
      out.d = 1;
      continue;
    }
    const held = prev && heldUnder(prev, v.r, v.n, v.ep);
    if (held && sameVersion(held, v)) {
      chained = true;
      out.p = 1;
      continue;
    }
    const x = v.x;
    if (prev && x && basesHeld(prev, rec, x)) chained = true;
    else out.v = valueOf(v);
    if (x) out.x = { b: x.b, s: x.s, d: x.d };
  }
  return { vs, chained };
}

/**
 * Whether `prev` holds the bases of derivation `x` (of a version of `rec`) as the versions it was derived from: the
 * bases themselves while they are in memory (x.base); once the value was materialized only their dots are known, and a
 * base dot `rec` holds another version under than `prev` (a join replaced it) is not taken from `prev`.
 */
function basesHeld(prev: KeyRecord, rec: KeyRecord, x: Derivation): boolean {
  for (let i = 0; i < x.b.length; i++) {
    const d = x.b[i]!;
    const held = heldUnder(prev, d[0], d[1], d[2]);
    if (!held) return false;
    const base = x.base?.[i] ?? heldUnder(rec, d[0], d[1], d[2]);
    if (base && !sameVersion(held, base)) return false;
  }
  return true;
}

/** Whether every live version of `rec` holds its value (storing it whole materializes nothing). */
export function valuesAtHand(rec: KeyRecord): boolean {
  for (const v of rec.vs) if (!v.d && v.v === undefined) return false;
  return true;
}

/**
 * Whether a storage chain `depth` records long, whose next record is `rec`, is cut there (the record stored whole):
 * past `bound` records at the first record whose values are at hand (a document binding or a working copy
 * materialized them when the in-memory chain reached its own bound), and at twice the bound whatever it costs.
 */
export function cutHere(depth: number, bound: number, rec: KeyRecord): boolean {
  return depth >= 2 * bound || (depth >= bound && valuesAtHand(rec));
}

/** The in-memory chain bound (deltas.ts chainBound) for `rec`'s values: a storage keeping the same bound stays in step. */
export function recordChainBound(rec: KeyRecord): number {
  let size = 0;
  for (const v of rec.vs) if (!v.d) size = Math.max(size, encodedRootSize(v));
  return chainBound(size);
}

/** Whether stored versions need the previous record to be read. */
export function isChainedForm(vs: readonly ChainVersion[]): boolean {
  return vs.some((v) => v.p === 1 || (v.x !== undefined && v.v === undefined));
}

/**
 * Stored versions read back: references become `prev`'s versions, derivations are held over them (materialized when
 * read). Throws when `prev` is needed and lacks a version they refer to (the caller reports the key CORRUPT).
 */
export function unchain(vs: readonly ChainVersion[], prev: KeyRecord | undefined): StoredVersion[] {
  const find = (r: string, n: number, ep: string | undefined) => {
    const v = prev?.vs.find((u) => u.r === r && u.n === n && u.ep === ep && !u.d);
    if (!v) throw new Error(`the previous record lacks ${r}:${n}${ep === undefined ? '' : '@' + ep}`);
    return v;
  };
  return vs.map((j): StoredVersion => {
    const fields = j.ep === undefined ? { r: j.r, n: j.n, t: j.t, c: j.c } : { r: j.r, ep: j.ep, n: j.n, t: j.t, c: j.c };
    if (j.d) return { ...fields, d: 1 };
    if (j.p) return find(j.r, j.n, j.ep);
    if (!j.x) {
      if (j.v === undefined) throw new Error('a version without its value');
      return { ...fields, v: j.v };
    }
    const x = { b: j.x.b, s: j.x.s, d: j.x.d };
    if (j.v !== undefined) return { ...fields, v: j.v, x };
    return derivedFrom(fields, x.b.map((d) => find(d[0], d[1], d[2])), x.d, x.s);
  });
}
