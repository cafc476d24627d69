/**
 * Dotted version vector sets, one dot per version (Preguiça et al., "Dotted Version Vectors", 2012).
 *
 * A key's state is its surviving versions, each named by a dot (replicaId, counter), and a causal
 * context `cc`: for each replica that wrote the key, the highest counter of its dots seen for this key.
 *
 *   state = { vs: [ {r:'a', n:5, …}, {r:'b', n:2, …} ], cc: { a: 5, b: 2 } }
 *
 * Why a plain vector is exact here although a replica's counters for one key are sparse: a replica mints
 * a dot for key k only inside the transaction that reads its own stored state of k, and that state always
 * holds every dot it minted earlier for k (in `vs` or covered by `cc`). So the dots of one replica for one
 * key travel as prefixes, and `cc[r] >= n` means "dot (r, n) was seen", never "assumed".
 *
 * Dominance is decided per version: a version survives a join unless the other side has seen its dot
 * *and* no longer holds it. Two writes through one replica with different older contexts therefore both
 * survive (a rule of `vv[r] >= n` over the replica-wide vector would drop one of them).
 *
 * `join` is commutative, associative and idempotent (test/dvv.property.test.ts checks it); every sync
 * path relies on that.
 *
 * Epochs (epoch-points.ts, issue 10): a dot may name the writer's epoch, (r, e, n), and a context may hold, for a
 * replica, points (epoch, counter) in `pts` instead of its plain vector entry; `joinWith` and `updateWith` judge
 * coverage with a registry of the replicas' epoch ancestry. A restored writer's new branch then never collides with
 * its lost one. Untagged dots and vectors (all the stored and wire forms hold today) behave exactly as before: `join`
 * and `update` are `joinWith` and `updateWith` with a registry that knows no epoch, and a state without `pts` encodes,
 * hashes and compares as it always did.
 */

import { inHistory, maximalPoints, NO_EPOCHS, topCounter, UNTAGGED, type EpochPoints, type EpochRegistry, type Point } from './epoch-points.js';
import { hash64, hash64Scratch, hashScratch } from './hash.js';

export type { EpochPoints, EpochRegistry, Point } from './epoch-points.js';

/** replicaId → highest counter seen, for one key. Entries exist only for replicas that wrote the key. */
export type VersionVector = Readonly<Record<string, number>>;

/** A dot as a delta base names it: (replicaId, counter), and the epoch where the version's dot names one (dvv.ts StoredVersion.ep). */
export type Dot = readonly [r: string, n: number, ep?: string];

/** A version's dot as a delta base names it (no third element for an untagged dot: stored and sent as before). */
export function dotOf(v: { readonly r: string; readonly ep?: string; readonly n: number }): Dot {
  return v.ep === undefined ? [v.r, v.n] : [v.r, v.n, v.ep];
}

/** Whether version `v` has dot `d` (the whole dot: replica, counter and epoch). */
export function isDot(v: { readonly r: string; readonly ep?: string; readonly n: number }, d: Dot): boolean {
  return v.r === d[0] && v.n === d[1] && v.ep === d[2];
}

/**
 * How a version's value derives from other versions (docs/deltas.md): `value ≡ apply(merge(value(b…)), d)`. A
 * derivation is only a way to carry or store the value: the dot still names the full value.
 */
export interface Derivation {
  /** The base dots, in canonical order (replicaId, then counter, then epoch: untagged first). */
  readonly b: readonly Dot[];
  /** The delta, in its type's own encoding (no typed-value header). */
  readonly d: Uint8Array;
  /**
   * The seq of a record of this replica's log that held every base (the record the version was derived from):
   * a peer whose cursor into our log reached it before the version was written received the bases.
   */
  readonly s: number;
  /** In memory only: the base versions themselves, until the value is materialized (deltas.ts valueOf). */
  base?: readonly StoredVersion[];
  /** In memory only: derivations back to a materialized value (the in-memory chain's length). */
  k?: number;
}

/** One version of a key as stored and sent: dot (r, n), HLC (t, c), tombstone flag, encoded value. */
export interface StoredVersion {
  readonly r: string;
  /**
   * The writer's epoch the dot was minted in (epoch-points.ts); absent for an untagged dot (every dot stored or
   * sent today: the stored and wire forms do not carry epochs yet). The dot is (r, e, n).
   */
  readonly ep?: string;
  readonly n: number;
  readonly t: number;
  readonly c: number;
  readonly d?: 1;
  /**
   * The encoded value (values.ts): JSON or `~` rich text, or bytes (binary and typed values). Absent for a
   * tombstone, and for a version held as its derivation until something reads the value (deltas.ts `valueOf`
   * materializes it and caches it here: a dot names one value, so filling it in changes nothing).
   */
  v?: string | Uint8Array;
  /** Its derivation from base versions, when it was written or received as a delta. */
  readonly x?: Derivation;
}

export interface KeyState {
  /** Surviving versions, in canonical order (replicaId, then counter, then epoch: untagged first). */
  readonly vs: readonly StoredVersion[];
  /**
   * Per replica, its highest counter seen. For a replica absent from `pts` that is its one context point, in the
   * untagged epoch; for one in `pts`, only the highest counter of its points (an upper bound: no dot of it above
   * that counter is covered; which ones below are, its points tell).
   */
  readonly cc: VersionVector;
  /** The context points of replicas with a point naming an epoch (epoch-points.ts); absent when none has. */
  readonly pts?: EpochPoints;
}

/** A causal context: the vector, and the points of replicas with a point naming an epoch. */
export interface Causal {
  readonly cc: VersionVector;
  readonly pts?: EpochPoints | undefined;
}

export const EMPTY_STATE: KeyState = Object.freeze({ vs: Object.freeze([]), cc: Object.freeze({}) });

export function covers(cc: VersionVector, r: string, n: number): boolean {
  const seen = cc[r];
  return seen !== undefined && seen >= n;
}

/**
 * Whether a context (vector `cc` with points `pts`) covers dot (r, e, n): the dot lies in the history of one of r's
 * points. Without points for r, its one point is untagged: it covers untagged dots up to cc[r], and no tagged dot.
 */
export function coversDot(reg: EpochRegistry, ctx: Causal, r: string, e: string | undefined, n: number): boolean {
  const points = ctx.pts?.[r];
  if (points === undefined) return e === undefined && covers(ctx.cc, r, n);
  const epoch = e ?? UNTAGGED;
  for (const p of points) if (inHistory(reg, r, epoch, n, p)) return true;
  return false;
}

/** Canonical order of versions: replicaId, then counter, then epoch (untagged first). */
function compareDots(a: StoredVersion, b: StoredVersion): number {
  if (a.r !== b.r) return a.r < b.r ? -1 : 1;
  if (a.n !== b.n) return a.n - b.n;
  const ea = a.ep ?? UNTAGGED;
  const eb = b.ep ?? UNTAGGED;
  return ea < eb ? -1 : ea > eb ? 1 : 0;
}

/** Whether two versions name one dot (r, e, n). */
export function sameDot(a: { readonly r: string; readonly ep?: string; readonly n: number }, b: { readonly r: string; readonly ep?: string; readonly n: number }): boolean {
  return a.r === b.r && a.n === b.n && a.ep === b.ep;
}

/** A version's replica and epoch as one map key (a space is in neither a replica id nor an epoch label). */
const lineOf = (v: StoredVersion): string => (v.ep === undefined ? v.r : v.r + ' ' + v.ep);

function holds(vs: readonly StoredVersion[], v: StoredVersion): boolean {
  for (const u of vs) if (sameDot(u, v)) return true;
  return false;
}

/** States with more versions than this are compared through sets of their dots rather than by scanning. */
const SCAN_VERSIONS = 8;

/**
 * Whether a version's dot is among `vs`'s: a scan for a few versions, else a set of them built once, so a
 * comparison stays linear in the versions (a peer's claimed state may hold as many as a frame does).
 */
export function dotTest(vs: readonly StoredVersion[]): (v: StoredVersion) => boolean {
  // The versions `vs` holds now: a caller may go on pushing to it.
  const count = vs.length;
  if (count <= SCAN_VERSIONS) {
    return (v) => {
      for (let i = 0; i < count; i++) if (sameDot(vs[i]!, v)) return true;
      return false;
    };
  }
  // Per replica (and epoch), its counters (no string made per untagged version); built at the first question, if one comes.
  let byReplica: Map<string, Set<number>> | undefined;
  return (v) => {
    if (!byReplica) {
      byReplica = new Map();
      for (let i = 0; i < count; i++) {
        const u = vs[i]!;
        const line = lineOf(u);
        let ns = byReplica.get(line);
        if (!ns) byReplica.set(line, (ns = new Set()));
        ns.add(u.n);
      }
    }
    return byReplica.get(lineOf(v))?.has(v.n) === true;
  };
}

export function mergeVectors(a: VersionVector, b: VersionVector): VersionVector {
  let out: Record<string, number> | undefined;
  for (const r in b) {
    const nb = b[r]!;
    const na = a[r];
    if (na === undefined || nb > na) (out ??= { ...a })[r] = nb;
  }
  return out ?? a;
}

/**
 * Which of two versions under one dot a state keeps. Honest replicas never mint a dot twice, so the two are the
 * same version; a replica restored from an older copy that nobody told yet mints its lost dots again, for other
 * writes, and those meet the lost ones on their way back. Every replica keeps the earlier write (HLC, then the
 * tombstone flag), the one minted first: the same choice everywhere, so join stays commutative, and the owner
 * re-issues the later one under a fresh dot once it learns of the restore (dvv.ts contradiction, reidentify.ts).
 */
export function firstMinted(a: StoredVersion, b: StoredVersion): StoredVersion {
  if (a.t !== b.t) return a.t < b.t ? a : b;
  if (a.c !== b.c) return a.c < b.c ? a : b;
  return !a.d && b.d ? b : a;
}

/**
 * Received states (sync/resolve.ts) where a held version named a dot of a former id of ours that we hold as another
 * write (another HLC) and was resolved to ours, minted first (the join keeps it): such a state does not show the peer
 * holding our write there (core.ts holdsOurs). Weak: nothing outlives the state.
 */
export const anotherWriteHeld = new WeakSet<object>();

/**
 * The causal context of two (the union of their points, kept maximal). Plain vectors merge as they always did;
 * a replica with a point naming an epoch on either side gets its maximal points, and its vector entry is their
 * highest counter.
 */
export function mergeCausal(reg: EpochRegistry, a: Causal, b: Causal): Causal {
  const merged = mergeVectors(a.cc, b.cc);
  const ap = a.pts;
  const bp = b.pts;
  if (ap === undefined && bp === undefined) return { cc: merged };
  const cc: Record<string, number> = { ...merged };
  const pts: Record<string, readonly Point[]> = {};
  // The replicas either side lists points of, sorted (no set nor spread copies: every join of a state naming epochs).
  const rs: string[] = ap === undefined ? [] : Object.keys(ap);
  if (bp !== undefined) for (const r of Object.keys(bp)) if (ap === undefined || !Object.hasOwn(ap, r)) rs.push(r);
  if (rs.length > 1) rs.sort();
  for (const r of rs) {
    const points = mergePoints(reg, r, pointsOf(a, r), pointsOf(b, r));
    pts[r] = points;
    cc[r] = topCounter(points);
  }
  return { cc, pts };
}

/**
 * maximalPoints of both sides' points of replica r. A replica with one point on each side in one epoch, or one point in
 * all (a replica never restored: every state names one point of it), keeps the higher with no map nor walk.
 */
function mergePoints(reg: EpochRegistry, r: string, pa: readonly Point[], pb: readonly Point[]): Point[] {
  if (pa.length + pb.length === 1) return [pa.length === 1 ? pa[0]! : pb[0]!];
  if (pa.length === 1 && pb.length === 1 && pa[0]!.e === pb[0]!.e) return [pb[0]!.n > pa[0]!.n ? pb[0]! : pa[0]!];
  return maximalPoints(reg, r, [...pa, ...pb]);
}

/** A context's points of replica r: its listed points, or the untagged point of its vector entry. */
export function pointsOf(ctx: Causal, r: string): readonly Point[] {
  const points = ctx.pts?.[r];
  if (points !== undefined) return points;
  const n = ctx.cc[r];
  return n === undefined ? [] : [{ e: UNTAGGED, n }];
}

const withContext = (vs: StoredVersion[], ctx: Causal): KeyState => (ctx.pts === undefined ? { vs, cc: ctx.cc } : { vs, cc: ctx.cc, pts: ctx.pts });

/**
 * The key state of a record (or any state with more fields): its versions and whole context, points included — a
 * state built from `vs` and `cc` alone would take a point naming an epoch for the untagged point of its counter.
 */
export const stateOf = (s: { readonly vs: readonly StoredVersion[]; readonly cc: VersionVector; readonly pts?: EpochPoints }): KeyState =>
  s.pts === undefined ? { vs: s.vs, cc: s.cc } : { vs: s.vs, cc: s.cc, pts: s.pts };

/** A state with no version left and `s`'s whole context (a collected tombstone's record, a context sent alone). */
export const contextOnly = (s: Causal): KeyState => withContext([], s);

/**
 * The least upper bound of two states of one key, judging dots that name epochs as the registry that knows none
 * does (each tagged epoch a root): states with no epoch in them, every state stored or sent today, join as they
 * always did. `joinWith` judges with the replica's registry.
 */
export function join(a: KeyState, b: KeyState): KeyState {
  return joinWith(NO_EPOCHS, a, b);
}

/**
 * The least upper bound of two states of one key: a version survives unless the other side has seen its dot (one
 * of its points covers it, by `reg`'s ancestry of epochs) and no longer holds it.
 */
export function joinWith(reg: EpochRegistry, a: KeyState, b: KeyState): KeyState {
  // A key not held yet (every client of a relay, per delivery of a fresh write: S7): the state as it came.
  if (isEmptyState(a) && joinsAsItIs(b)) return b;
  const vs: StoredVersion[] = [];
  const inB = dotTest(b.vs);
  let twice = false;
  for (const v of a.vs) {
    if (!coversDot(reg, b, v.r, v.ep, v.n)) vs.push(v);
    else if (inB(v)) {
      vs.push(v);
      twice = true;
    }
  }
  // A version of b's is new unless a kept its dot (a state names each dot once).
  const inA = dotTest(vs);
  for (const v of b.vs) if (!coversDot(reg, a, v.r, v.ep, v.n) && !inA(v)) vs.push(v);
  vs.sort(compareDots);
  if (twice) pickFirstMinted(vs, b.vs);
  if (a.pts === undefined && b.pts === undefined) return { vs, cc: mergeVectors(a.cc, b.cc) };
  return withContext(vs, mergeCausal(reg, a, b));
}

/** No version and an empty context (EMPTY_STATE, or any such). */
function isEmptyState(a: KeyState): boolean {
  if (a.vs.length !== 0 || a.pts !== undefined) return false;
  for (const r in a.cc) if (Object.hasOwn(a.cc, r)) return false;
  return true;
}

/**
 * Whether joining `b` into the empty state gives `b` field for field, in the same order, so `b` itself can stand for the
 * join (a state is a value: nothing mutates one): its versions in canonical order, each dot once (the join sorts them),
 * and for each replica it lists points of, one point, whose counter is the vector's entry (the join keeps maximal
 * points and sets the entry to their top), the replicas in sorted order (as mergeCausal lists them). A decoded state of
 * one fresh write is such; one that is not takes the join's own path.
 */
function joinsAsItIs(b: KeyState): boolean {
  const vs = b.vs;
  for (let i = 1; i < vs.length; i++) if (compareDots(vs[i - 1]!, vs[i]!) >= 0) return false;
  const pts = b.pts;
  if (pts === undefined) return true;
  let last: string | undefined;
  for (const r in pts) {
    const p = pts[r]!;
    if (!Object.hasOwn(pts, r) || p.length !== 1 || b.cc[r] !== topCounter(p) || (last !== undefined && r <= last)) return false;
    last = r;
  }
  return true;
}

/** Where `vs` and `other` hold one dot under two writes (other HLCs), `vs` takes the one minted first. */
function pickFirstMinted(vs: StoredVersion[], other: readonly StoredVersion[]): void {
  let at: Map<string, Map<number, number>> | undefined;
  const find = (u: StoredVersion): number => {
    if (vs.length <= SCAN_VERSIONS) return vs.findIndex((v) => sameDot(v, u));
    if (!at) {
      at = new Map();
      for (let i = 0; i < vs.length; i++) {
        const line = lineOf(vs[i]!);
        let ns = at.get(line);
        if (!ns) at.set(line, (ns = new Map()));
        ns.set(vs[i]!.n, i);
      }
    }
    return at.get(lineOf(u))?.get(u.n) ?? -1;
  };
  for (const u of other) {
    const i = find(u);
    if (i < 0) continue;
    const v = vs[i]!;
    if (v.t !== u.t || v.c !== u.c || !v.d !== !u.d) vs[i] = firstMinted(v, u);
  }
}

/**
 * A new version written with causal context `ctx`: it supersedes exactly the versions `ctx` covers and
 * stays a sibling of the rest. A plain vector `ctx` holds untagged points (`ctx === state.cc` is the state's own
 * context, points included); `updateWith` takes a context with points and judges with the replica's registry.
 */
export function update(state: KeyState, ctx: VersionVector, version: StoredVersion): KeyState {
  if (state.pts !== undefined || version.ep !== undefined) return updateWith(NO_EPOCHS, state, ctx === state.cc ? state : { cc: ctx }, version);
  let vs: StoredVersion[] | undefined;
  // Indexed loops here and in stateHash: a put runs them on the frozen EMPTY_STATE, whose iterator was not optimized away.
  for (let i = 0; i < state.vs.length; i++) {
    const v = state.vs[i]!;
    if (!covers(ctx, v.r, v.n)) (vs ??= []).push(v);
  }
  if (vs === undefined) vs = [version];
  else {
    vs.push(version);
    vs.sort(compareDots);
  }
  // mergeVectors answers with a fresh vector, or with state.cc itself when ctx adds nothing: copy only that one.
  const merged = ctx === state.cc ? ctx : mergeVectors(state.cc, ctx);
  const cc: Record<string, number> = merged === state.cc || merged === ctx ? { ...merged } : (merged as Record<string, number>);
  cc[version.r] = Math.max(cc[version.r] ?? 0, version.n);
  return { vs, cc };
}

/** `update` with a context that may hold points naming epochs, judged by `reg`'s ancestry. */
export function updateWith(reg: EpochRegistry, state: KeyState, ctx: Causal, version: StoredVersion): KeyState {
  if (state.pts === undefined && ctx.pts === undefined && version.ep === undefined) return update(state, ctx === state ? state.cc : ctx.cc, version);
  const vs = state.vs.filter((v) => !coversDot(reg, ctx, v.r, v.ep, v.n));
  vs.push(version);
  vs.sort(compareDots);
  const own: Causal =
    version.ep === undefined ? { cc: { [version.r]: version.n } } : { cc: { [version.r]: version.n }, pts: { [version.r]: [{ e: version.ep, n: version.n }] } };
  return withContext(vs, mergeCausal(reg, mergeCausal(reg, state, ctx), own));
}

/** Whether a state holds a dot, a delta base or a context point naming an epoch (none of the stored and wire forms carries one yet). */
export function namesEpochs(s: KeyState): boolean {
  if (s.pts !== undefined) return true;
  for (const v of s.vs) {
    if (v.ep !== undefined) return true;
    // A delta base naming an epoch (no stored or wire form of a base carries one yet).
    if (v.x !== undefined) for (const b of v.x.b) if (b[2] !== undefined) return true;
  }
  return false;
}

/** Whether two states are the same state (same dots, HLCs and context); values follow from the dots. */
export function sameState(a: KeyState, b: KeyState): boolean {
  if (a === b) return true;
  if (a.vs.length !== b.vs.length) return false;
  for (let i = 0; i < a.vs.length; i++) {
    const x = a.vs[i]!;
    const y = b.vs[i]!;
    if (x.r !== y.r || x.n !== y.n || x.t !== y.t || x.c !== y.c || x.ep !== y.ep) return false;
  }
  return sameVector(a.cc, b.cc) && samePoints(a.pts, b.pts);
}

/** Whether two contexts list the same points (both sorted, as `mergeCausal` leaves them). */
export function samePoints(a: EpochPoints | undefined, b: EpochPoints | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  const ra = Object.keys(a);
  if (ra.length !== Object.keys(b).length) return false;
  for (const r of ra) {
    const pa = a[r]!;
    const pb = b[r];
    if (pb === undefined || pa.length !== pb.length) return false;
    for (let i = 0; i < pa.length; i++) if (pa[i]!.e !== pb[i]!.e || pa[i]!.n !== pb[i]!.n) return false;
  }
  return true;
}

export function sameVector(a: VersionVector, b: VersionVector): boolean {
  let count = 0;
  for (const r in a) {
    if (a[r] !== b[r]) return false;
    count++;
  }
  for (const _ in b) count--;
  return count === 0;
}

/**
 * The canonical text a key's state hashes from: dots, tombstone flags and context in sorted order,
 * never the encoded values (a dot names one value), so equal states hash equal on every replica.
 */
export function canonicalStateText(key: string, s: KeyState): string {
  let out = key + '\u0000';
  // A dot naming an epoch as `r:n@e`, a replica's points as `r:n@e;n@e` (untagged ones without `@`): states
  // without epochs hash as they always did.
  for (const v of s.vs) out += v.r + ':' + v.n + (v.ep === undefined ? '' : '@' + v.ep) + (v.d ? 'd,' : ',');
  out += '|';
  const rs = Object.keys(s.cc);
  if (rs.length > 1) rs.sort();
  for (const r of rs) {
    const points = s.pts?.[r];
    out += r + ':' + (points === undefined ? s.cc[r] : points.map((p) => p.n + (p.e === UNTAGGED ? '' : '@' + p.e)).join(';')) + ',';
  }
  return out;
}

const utf8 = new TextEncoder();

/**
 * hash64(canonicalStateText(key, s)) without building the text: its UTF-8 bytes are written straight into the
 * hasher's scratch buffer (a put hashes its key's new state; the text was a tenth of what a put allocated). States
 * naming epochs too (at protocol 11 most do: every replica that stored one hashed its text). Replica ids or epoch
 * labels that are not plain ASCII, and counters that are not safe integers, take the text's way.
 */
export function stateHash(key: string, s: KeyState): string {
  // A context of one replica (most keys: one writer) needs no array of its ids (a put hashes once).
  let only: string | undefined;
  let count = 0;
  for (const r in s.cc) {
    only = r;
    count++;
  }
  const rs = count > 1 ? Object.keys(s.cc).sort() : undefined;
  const pts = s.pts;
  let size = key.length * 3 + 2;
  for (let i = 0; i < s.vs.length; i++) size += s.vs[i]!.r.length + 20 + (s.vs[i]!.ep?.length ?? 0);
  if (rs) for (const r of rs) size += r.length + 18;
  else if (only !== undefined) size += only.length + 18;
  if (pts !== undefined) for (const r in pts) for (const p of pts[r]!) size += p.e.length + 18;
  const buf = hashScratch(size);
  // (Module-level writers, not closures over `at`: a put hashes once, and closures were a tenth of what it allocated.)
  let at = writeAscii(buf, 0, key);
  if (at < 0) at = utf8.encodeInto(key, buf).written;
  buf[at++] = 0;
  for (let i = 0; i < s.vs.length; i++) {
    const v = s.vs[i]!;
    at = writeAscii(buf, at, v.r);
    if (at < 0) return hash64(canonicalStateText(key, s));
    buf[at++] = 58; // ':'
    at = writeDigits(buf, at, v.n);
    if (at >= 0 && v.ep !== undefined) {
      buf[at++] = 64; // '@'
      at = writeAscii(buf, at, v.ep);
    }
    if (at < 0) return hash64(canonicalStateText(key, s));
    if (v.d) buf[at++] = 100; // 'd'
    buf[at++] = 44; // ','
  }
  buf[at++] = 124; // '|'
  if (rs) {
    for (const r of rs) {
      at = writeEntry(buf, at, r, s.cc[r]!, pts?.[r]);
      if (at < 0) return hash64(canonicalStateText(key, s));
    }
  } else if (only !== undefined) {
    at = writeEntry(buf, at, only, s.cc[only]!, pts?.[only]);
    if (at < 0) return hash64(canonicalStateText(key, s));
  }
  return hash64Scratch(at);
}

/**
 * Writes a context entry at `at` — `r:n,`, or where the replica has points `r:n@e;n@e,` (an untagged point without
 * `@`) — and returns the position after it, or -1 (see writeAscii, writeDigits).
 */
function writeEntry(buf: Uint8Array, at: number, r: string, n: number, points: readonly Point[] | undefined): number {
  at = writeAscii(buf, at, r);
  if (at < 0) return -1;
  buf[at++] = 58; // ':'
  if (points === undefined) at = writeDigits(buf, at, n);
  else {
    for (let i = 0; i < points.length && at >= 0; i++) {
      if (i > 0) buf[at++] = 59; // ';'
      at = writeDigits(buf, at, points[i]!.n);
      if (at >= 0 && points[i]!.e !== UNTAGGED) {
        buf[at++] = 64; // '@'
        at = writeAscii(buf, at, points[i]!.e);
      }
    }
  }
  if (at < 0) return -1;
  buf[at++] = 44; // ','
  return at;
}

/** Writes plain-ASCII `text` at `at`; the position after it, or -1 when `text` is not plain ASCII (bytes written are junk then). */
function writeAscii(buf: Uint8Array, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return -1;
    buf[at++] = c;
  }
  return at;
}

/** Writes a non-negative safe integer's decimal digits at `at`; the position after them, or -1 for any other number. */
function writeDigits(buf: Uint8Array, at: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) return -1;
  const start = at;
  do {
    buf[at++] = 48 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  for (let a = start, b = at - 1; a < b; a++, b--) {
    const t = buf[a]!;
    buf[a] = buf[b]!;
    buf[b] = t;
  }
  return at;
}

// ---- opaque, serializable contexts ---------------------------------------------------------------

/** The causal context of a read: pass it back to `put(key, v, { context })`. A string, so it crosses tabs and processes. */
export type Context = string & { readonly __concordContext?: never };

const REPLICA_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A replica id as minted (base64url); names of Object.prototype members are refused, since ids key plain objects. */
export function isReplicaId(r: unknown): r is string {
  return typeof r === 'string' && REPLICA_ID.test(r) && !(r in Object.prototype) && r !== '__proto__';
}

/**
 * A context as text: `r:n` per replica (n in base 36), sorted by replica. A replica with points naming epochs
 * (`pts`) has one part per point, `r:n@e` (its untagged point, if it is one, `r:n`): a context without them is
 * the text it always was.
 */
export function encodeContext(cc: VersionVector, pts?: EpochPoints): Context {
  return Object.keys(cc)
    .sort()
    .map((r) => {
      const points = pts?.[r];
      if (points === undefined) return r + ':' + cc[r]!.toString(36);
      return points.map((p) => r + ':' + p.n.toString(36) + (p.e === UNTAGGED ? '' : '@' + p.e)).join(',');
    })
    .join(',');
}

/** Parses a context without points naming epochs; returns undefined when it is not one (decodeCausal takes both). */
export function decodeContext(text: unknown): VersionVector | undefined {
  const ctx = decodeCausal(text);
  return ctx === undefined || ctx.pts !== undefined ? undefined : ctx.cc;
}

/**
 * A context read part by part (the text form, `decodeCausal`; the wire form, epoch-wire.ts `readCausal`): per replica
 * its untagged entry, or its points once one names an epoch. `add` is false for a second point of a replica in one
 * epoch (no context holds two). Maps, not objects, for the duplicate checks: ids naming Object.prototype members
 * ("constructor", "__proto__") are never minted and are refused everywhere (isReplicaId).
 */
export class CausalParts {
  private readonly plain = new Map<string, number>();
  private readonly tagged = new Map<string, Point[]>();

  add(r: string, e: string, n: number): boolean {
    let points = this.tagged.get(r);
    if (points === undefined) {
      if (e === UNTAGGED && !this.plain.has(r)) {
        this.plain.set(r, n);
        return true;
      }
      this.tagged.set(r, (points = this.plain.has(r) ? [{ e: UNTAGGED, n: this.plain.get(r)! }] : []));
      this.plain.delete(r);
    }
    if (points.some((p) => p.e === e)) return false;
    points.push({ e, n });
    return true;
  }

  /** The context: a replica whose only part is untagged keeps its vector entry; the others their points, in order. */
  build(): Causal {
    const cc: Record<string, number> = Object.fromEntries(this.plain);
    if (this.tagged.size === 0) return { cc };
    const pts: Record<string, readonly Point[]> = {};
    for (const r of [...this.tagged.keys()].sort()) {
      // Each holds a point naming an epoch: a second untagged part of a replica is refused by `add`.
      const points = this.tagged.get(r)!.sort((a, b) => (a.e < b.e ? -1 : a.e > b.e ? 1 : a.n - b.n));
      pts[r] = points;
      cc[r] = topCounter(points);
    }
    return { cc, pts };
  }
}

/** Parses a context, points naming epochs included; returns undefined when it is not one. */
export function decodeCausal(text: unknown): Causal | undefined {
  if (typeof text !== 'string') return undefined;
  if (text === '') return { cc: {} };
  const parts = new CausalParts();
  for (const part of text.split(',')) {
    const i = part.lastIndexOf(':');
    const r = part.slice(0, i);
    const at = part.indexOf('@', i + 1);
    const nText = at < 0 ? part.slice(i + 1) : part.slice(i + 1, at);
    if (i <= 0 || !isReplicaId(r) || !/^[0-9a-z]{1,11}$/.test(nText)) return undefined;
    const n = parseInt(nText, 36);
    if (!Number.isSafeInteger(n) || n <= 0) return undefined;
    const e = at < 0 ? UNTAGGED : part.slice(at + 1);
    if (at >= 0 && !isReplicaId(e)) return undefined;
    if (!parts.add(r, e, n)) return undefined;
  }
  return parts.build();
}

/**
 * A restored replica's state of a key without its own dots past the restore point: they may name other
 * values on the peers that hold them (DESIGN.md: "a dot names exactly one value"). Returns the stripped state
 * and the versions removed (to be re-issued under a new id). The context keeps covering the replica's own
 * dots up to the point — all of them were minted by reading this key's state, which the restored copy holds —
 * and no longer covers the suspect ones, so their values come back from the peers that hold them.
 * Dots naming an epoch are never suspect (a restored branch's dots are other dots than the lost branch's): they,
 * and the points naming epochs, stay; only the untagged ones and the untagged point are cut.
 */
export function stripOwnDots(state: KeyState, id: string, point: number): { state: KeyState; removed: StoredVersion[] } {
  const suspect = (v: StoredVersion) => v.r === id && v.ep === undefined && v.n > point;
  const removed = state.vs.filter(suspect);
  const points = state.pts?.[id];
  if (points !== undefined) {
    const untagged = points.find((p) => p.e === UNTAGGED);
    if (removed.length === 0 && (untagged === undefined || untagged.n <= point)) return { state, removed };
    const kept = points.flatMap((p) => (p.e !== UNTAGGED || p.n <= point ? [p] : point > 0 ? [{ e: UNTAGGED, n: point }] : []));
    const cc = { ...state.cc, [id]: topCounter(kept) };
    return { state: { vs: state.vs.filter((v) => !suspect(v)), cc, pts: { ...state.pts, [id]: kept } }, removed };
  }
  const seen = state.cc[id];
  if (removed.length === 0 && (seen === undefined || seen <= point)) return { state, removed };
  const cc: Record<string, number> = { ...state.cc };
  if (point > 0) cc[id] = Math.min(seen ?? 0, point);
  else delete cc[id];
  return { state: withContext(state.vs.filter((v) => !suspect(v)), { cc, pts: state.pts }), removed };
}

/**
 * A remote state of a key contradicting what replica `me` minted: the same dot of ours with another write
 * (another HLC: our storage was restored, or the version is forged), or a context that would drop a version of
 * ours minted since `since` (this open) although no peer can have superseded it: the context claims counters
 * of ours beyond any we minted (`top`). Joining
 * it as it is would lose our write (dropped as covered) or keep one dot for two values. Returns the versions of
 * ours to mint again under fresh counters (the caller adds them as siblings, above the claim), and `prev`
 * without them and with the remote's versions of those dots joined in (they are the other writes).
 * Without a contradiction: undefined (the usual join applies).
 */
export function contradiction(
  prev: KeyState,
  remote: KeyState,
  me: string,
  top: number,
  since: number,
  reg: EpochRegistry = NO_EPOCHS,
): { base: KeyState; again: StoredVersion[] } | undefined {
  const claimed = remote.cc[me] ?? 0;
  let again: StoredVersion[] | undefined;
  for (const v of prev.vs) {
    if (v.r !== me) continue;
    // Dots naming epochs: a restored branch's dot is another dot than the lost branch's under the same counter, and
    // a point of the lost branch does not cover it, so neither test fires for it.
    const theirs = remote.vs.find((u) => sameDot(u, v));
    const collides = theirs !== undefined && (theirs.t !== v.t || theirs.c !== v.c);
    const coveredByClaim = theirs === undefined && claimed > top && v.n > since && coversDot(reg, remote, me, v.ep, v.n);
    if (collides || coveredByClaim) (again ??= []).push(v);
  }
  if (!again) return undefined;
  const kept = prev.vs.filter((v) => !again!.includes(v));
  // The remote's own versions of the colliding dots are writes we lost: keep them (our context covers their
  // counters, so a plain join would skip them).
  const taken = remote.vs.filter((u) => u.r === me && again!.some((v) => sameDot(u, v)));
  const joined = joinWith(reg, withContext(kept, prev), remote);
  const vs = [...joined.vs];
  for (const u of taken) if (!holds(vs, u)) vs.push(u);
  vs.sort(compareDots);
  return { base: withContext(vs, joined), again };
}
