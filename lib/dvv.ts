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
 */

import { hash64, hash64Scratch, hashScratch } from './hash.js';

/** replicaId → highest counter seen, for one key. Entries exist only for replicas that wrote the key. */
export type VersionVector = Readonly<Record<string, number>>;

/** A dot: (replicaId, counter). */
export type Dot = readonly [r: string, n: number];

/**
 * How a version's value derives from other versions (docs/deltas.md): `value ≡ apply(merge(value(b…)), d)`. A
 * derivation is only a way to carry or store the value: the dot still names the full value.
 */
export interface Derivation {
  /** The base dots, in canonical order (replicaId, then counter). */
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
  /** Surviving versions, in canonical order (replicaId, then counter). */
  readonly vs: readonly StoredVersion[];
  readonly cc: VersionVector;
}

export const EMPTY_STATE: KeyState = Object.freeze({ vs: Object.freeze([]), cc: Object.freeze({}) });

export function covers(cc: VersionVector, r: string, n: number): boolean {
  const seen = cc[r];
  return seen !== undefined && seen >= n;
}

function compareDots(a: StoredVersion, b: StoredVersion): number {
  return a.r < b.r ? -1 : a.r > b.r ? 1 : a.n - b.n;
}

function holds(vs: readonly StoredVersion[], v: StoredVersion): boolean {
  for (const u of vs) if (u.r === v.r && u.n === v.n) return true;
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
      for (let i = 0; i < count; i++) if (vs[i]!.r === v.r && vs[i]!.n === v.n) return true;
      return false;
    };
  }
  // Per replica, its counters (no string made per version); built at the first question, if one comes.
  let byReplica: Map<string, Set<number>> | undefined;
  return (v) => {
    if (!byReplica) {
      byReplica = new Map();
      for (let i = 0; i < count; i++) {
        const u = vs[i]!;
        let ns = byReplica.get(u.r);
        if (!ns) byReplica.set(u.r, (ns = new Set()));
        ns.add(u.n);
      }
    }
    return byReplica.get(v.r)?.has(v.n) === true;
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

/** The least upper bound of two states of one key. */
export function join(a: KeyState, b: KeyState): KeyState {
  const vs: StoredVersion[] = [];
  const inB = dotTest(b.vs);
  let twice = false;
  for (const v of a.vs) {
    if (!covers(b.cc, v.r, v.n)) vs.push(v);
    else if (inB(v)) {
      vs.push(v);
      twice = true;
    }
  }
  // A version of b's is new unless a kept its dot (a state names each dot once).
  const inA = dotTest(vs);
  for (const v of b.vs) if (!covers(a.cc, v.r, v.n) && !inA(v)) vs.push(v);
  vs.sort(compareDots);
  if (twice) pickFirstMinted(vs, b.vs);
  return { vs, cc: mergeVectors(a.cc, b.cc) };
}

/** Where `vs` and `other` hold one dot under two writes (other HLCs), `vs` takes the one minted first. */
function pickFirstMinted(vs: StoredVersion[], other: readonly StoredVersion[]): void {
  let at: Map<string, Map<number, number>> | undefined;
  const find = (u: StoredVersion): number => {
    if (vs.length <= SCAN_VERSIONS) return vs.findIndex((v) => v.r === u.r && v.n === u.n);
    if (!at) {
      at = new Map();
      for (let i = 0; i < vs.length; i++) {
        let ns = at.get(vs[i]!.r);
        if (!ns) at.set(vs[i]!.r, (ns = new Map()));
        ns.set(vs[i]!.n, i);
      }
    }
    return at.get(u.r)?.get(u.n) ?? -1;
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
 * stays a sibling of the rest.
 */
export function update(state: KeyState, ctx: VersionVector, version: StoredVersion): KeyState {
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

/** Whether two states are the same state (same dots, HLCs and context); values follow from the dots. */
export function sameState(a: KeyState, b: KeyState): boolean {
  if (a.vs.length !== b.vs.length) return false;
  for (let i = 0; i < a.vs.length; i++) {
    const x = a.vs[i]!;
    const y = b.vs[i]!;
    if (x.r !== y.r || x.n !== y.n || x.t !== y.t || x.c !== y.c) return false;
  }
  return sameVector(a.cc, b.cc);
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
  for (const v of s.vs) out += v.r + ':' + v.n + (v.d ? 'd,' : ',');
  out += '|';
  const rs = Object.keys(s.cc);
  if (rs.length > 1) rs.sort();
  for (const r of rs) out += r + ':' + s.cc[r] + ',';
  return out;
}

const utf8 = new TextEncoder();

/**
 * hash64(canonicalStateText(key, s)) without building the text: its UTF-8 bytes are written straight into the
 * hasher's scratch buffer (a put hashes its key's new state; the text was a tenth of what a put allocated). Replica
 * ids that are not plain ASCII, and counters that are not safe integers, take the text's way.
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
  let size = key.length * 3 + 2;
  for (let i = 0; i < s.vs.length; i++) size += s.vs[i]!.r.length + 19;
  if (rs) for (const r of rs) size += r.length + 18;
  else if (only !== undefined) size += only.length + 18;
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
    if (at < 0) return hash64(canonicalStateText(key, s));
    if (v.d) buf[at++] = 100; // 'd'
    buf[at++] = 44; // ','
  }
  buf[at++] = 124; // '|'
  if (rs) {
    for (const r of rs) {
      at = writeEntry(buf, at, r, s.cc[r]!);
      if (at < 0) return hash64(canonicalStateText(key, s));
    }
  } else if (only !== undefined) {
    at = writeEntry(buf, at, only, s.cc[only]!);
    if (at < 0) return hash64(canonicalStateText(key, s));
  }
  return hash64Scratch(at);
}

/** Writes a context entry `r:n,` at `at`; the position after it, or -1 (see writeAscii, writeDigits). */
function writeEntry(buf: Uint8Array, at: number, r: string, n: number): number {
  at = writeAscii(buf, at, r);
  if (at < 0) return -1;
  buf[at++] = 58; // ':'
  at = writeDigits(buf, at, n);
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

export function encodeContext(cc: VersionVector): Context {
  return Object.keys(cc)
    .sort()
    .map((r) => r + ':' + cc[r]!.toString(36))
    .join(',');
}

/** Parses a context; returns undefined when it is not one. */
export function decodeContext(text: unknown): VersionVector | undefined {
  if (typeof text !== 'string') return undefined;
  if (text === '') return {};
  // A Map for the duplicate check; ids naming Object.prototype members ("constructor", "__proto__") are never
  // minted and are refused everywhere (isReplicaId), since version vectors are plain objects.
  const out = new Map<string, number>();
  for (const part of text.split(',')) {
    const i = part.lastIndexOf(':');
    const r = part.slice(0, i);
    const nText = part.slice(i + 1);
    if (i <= 0 || !isReplicaId(r) || !/^[0-9a-z]{1,11}$/.test(nText)) return undefined;
    const n = parseInt(nText, 36);
    if (!Number.isSafeInteger(n) || n <= 0 || out.has(r)) return undefined;
    out.set(r, n);
  }
  return Object.fromEntries(out);
}

/**
 * A restored replica's state of a key without its own dots past the restore point: they may name other
 * values on the peers that hold them (DESIGN.md: "a dot names exactly one value"). Returns the stripped state
 * and the versions removed (to be re-issued under a new id). The context keeps covering the replica's own
 * dots up to the point — all of them were minted by reading this key's state, which the restored copy holds —
 * and no longer covers the suspect ones, so their values come back from the peers that hold them.
 */
export function stripOwnDots(state: KeyState, id: string, point: number): { state: KeyState; removed: StoredVersion[] } {
  const removed = state.vs.filter((v) => v.r === id && v.n > point);
  const seen = state.cc[id];
  if (removed.length === 0 && (seen === undefined || seen <= point)) return { state, removed };
  const cc: Record<string, number> = { ...state.cc };
  if (point > 0) cc[id] = Math.min(seen ?? 0, point);
  else delete cc[id];
  return { state: { vs: state.vs.filter((v) => !(v.r === id && v.n > point)), cc }, removed };
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
export function contradiction(prev: KeyState, remote: KeyState, me: string, top: number, since: number): { base: KeyState; again: StoredVersion[] } | undefined {
  const claimed = remote.cc[me] ?? 0;
  let again: StoredVersion[] | undefined;
  for (const v of prev.vs) {
    if (v.r !== me) continue;
    const theirs = remote.vs.find((u) => u.r === me && u.n === v.n);
    const collides = theirs !== undefined && (theirs.t !== v.t || theirs.c !== v.c);
    const coveredByClaim = theirs === undefined && claimed > top && v.n <= claimed && v.n > since;
    if (collides || coveredByClaim) (again ??= []).push(v);
  }
  if (!again) return undefined;
  const kept = prev.vs.filter((v) => !again!.includes(v));
  // The remote's own versions of the colliding dots are writes we lost: keep them (our context covers their
  // counters, so a plain join would skip them).
  const taken = remote.vs.filter((u) => u.r === me && again!.some((v) => v.n === u.n));
  const joined = join({ vs: kept, cc: prev.cc }, remote);
  const vs = [...joined.vs];
  for (const u of taken) if (!holds(vs, u)) vs.push(u);
  vs.sort(compareDots);
  return { base: { vs, cc: joined.cc }, again };
}
