/**
 * Deltas on encoded values — the entry points the core, the sync engine and storage call (docs/deltas.md). A delta is
 * an encoding of a version against versions the receiver already holds; the dot still names the full value.
 *
 *   diffEncoded(base, next)   → delta bytes, or undefined: send `next` whole (types differ, the type has no `diff`,
 *                               `next` does not include `base`, or the delta would not be smaller)
 *   applyEncoded(base, delta) → the encoded value the delta describes (throws DeltaError when it does not apply)
 *   sameValue(a, b)           → whether two encodings are the same value (the type's `equals`, else equal bytes)
 *
 * Derived versions (dvv.ts `Derivation`): a version written or received as a delta is held as its bases and the delta
 * until something reads its value: `valueOf` materializes it (applying the chain of deltas back to a held value in
 * one go where the type composes) and caches it on the version. In memory a chain is at most `chainBound` long (MAX_CHAIN,
 * longer over large values) and its deltas never outweigh the value they start from (`settle` materializes past
 * that), so what a chain pins is bounded.
 *
 * Invariant the types guarantee (typed.ts): sameValue(applyEncoded(base, diffEncoded(base, next)), next). The result
 * may differ from `next` in bytes (a Yjs merge is not byte-canonical) but never in value, which is what a dot names.
 * Only typed values have deltas; plain, rich and binary values always travel whole.
 */
import { dotOf, type Derivation, type Dot, type StoredVersion } from './dvv.js';
import { valueType, type ValueType } from './typed.js';
import { applyWorking, encodeFollowed, follow } from './working-copies.js';
import { encodedSize, encodeTyped, sameEncoding, isTypedEncoding, typedParts, type EncodedValue } from './values.js';

export class DeltaError extends Error {
  override readonly name = 'DeltaError';
}

/** Derivations a version may sit behind in memory before its value is materialized (for values up to 64 KiB). */
export const MAX_CHAIN = 64;

/** The longest chain any value may sit behind in memory (a large value's bound grows with its size up to this). */
export const MAX_LONG_CHAIN = 1024;

/**
 * Derivations a version of a value of `size` encoded bytes may sit behind before it is materialized: MAX_CHAIN, or
 * one per KiB of the value for larger ones (up to MAX_LONG_CHAIN). Materializing encodes the whole value (a working
 * copy spares the decode, not the encode), so over a large value it comes less often: the encoding work per delta stays
 * about the same whatever the value's size, and what the chain pins stays bounded by the value (settle's byte bound).
 */
export function chainBound(size: number): number {
  return Math.min(MAX_LONG_CHAIN, Math.max(MAX_CHAIN, size >> 10));
}

/**
 * One link of a version's history of deltas, without the versions themselves (so it pins no value): what
 * `deltaFor` composes to reach a peer that holds an older version. At most twice the chain's bound deep (chainBound).
 */
interface Link {
  readonly b: readonly Dot[];
  readonly d: Uint8Array;
  readonly s: number;
  readonly up: Link | undefined;
  readonly depth: number;
}

/** What a derived version keeps in memory beside its wire fields (dvv.ts Derivation). */
interface Held extends Derivation {
  /** Upper bound of the encoded value's size (exact once materialized). */
  z?: number;
  /** Delta bytes since the nearest materialized value, and that value's size. */
  cb?: number;
  rs?: number;
  /** This derivation's link, and its single base's (the history `deltaFor` composes along). */
  link?: Link;
  up?: Link | undefined;
}

function linkOf(v: StoredVersion): Link | undefined {
  const x = v.x as Held | undefined;
  if (!x) return undefined;
  if (!x.link) {
    const up = x.up && x.up.depth < 2 * chainBound(x.rs ?? 0) ? x.up : undefined;
    x.link = { b: x.b, d: x.d, s: x.s, up, depth: (up?.depth ?? 0) + 1 };
  }
  return x.link;
}

function typedOf(v: EncodedValue): { name: string; payload: Uint8Array } | undefined {
  if (!isTypedEncoding(v)) return undefined;
  try {
    return typedParts(v);
  } catch {
    return undefined;
  }
}

function deltaType(name: string): ValueType | undefined {
  const type = valueType(name);
  return type?.apply ? type : undefined;
}

export function diffEncoded(base: EncodedValue, next: EncodedValue): Uint8Array | undefined {
  const b = typedOf(base);
  const n = typedOf(next);
  if (!b || !n || b.name !== n.name) return undefined;
  const type = valueType(n.name);
  if (!type?.diff || !type.apply) return undefined;
  try {
    const delta = type.diff(type.decode(b.payload), type.decode(n.payload));
    return delta && delta.length < next.length ? delta : undefined;
  } catch {
    return undefined; // a malformed stored value has no delta: it travels whole (and its readers report it)
  }
}

export function applyEncoded(base: EncodedValue, delta: Uint8Array): EncodedValue {
  return applyAll(base, [delta]);
}

/** Applies deltas in order: composed into one where the type can, else one after the other. */
function applyAll(base: EncodedValue, deltas: readonly Uint8Array[]): EncodedValue {
  const b = typedOf(base);
  const type = b && deltaType(b.name);
  if (!b || !type) throw new DeltaError('the base of a delta is not a value of a type with deltas here');
  try {
    const steps = deltas.length > 1 && type.compose ? [type.compose(deltas)] : deltas;
    if (type.working) {
      // A working copy (kept from the last materialization of this value, or made now) takes the deltas in place.
      const made = applyWorking(base, b.payload, type.working, steps);
      const out = encodeTyped(b.name, made.payload);
      made.keep(out);
      return out;
    }
    let value = type.decode(b.payload);
    for (const d of steps) value = type.apply!(value, d);
    return encodeTyped(b.name, type.encode(value));
  } catch (e) {
    throw new DeltaError(`a "${b.name}" delta does not apply to its base`, { cause: e });
  }
}

/** The merge of several values of one type (the base of a version that superseded siblings). */
function mergeEncoded(values: readonly EncodedValue[]): EncodedValue {
  const parts = values.map(typedOf);
  const name = parts[0]?.name;
  const type = name === undefined ? undefined : valueType(name);
  if (!type || parts.some((p) => p?.name !== name)) throw new DeltaError('the bases of a delta are not values of one known type');
  try {
    return encodeTyped(name!, type.encode(type.merge(parts.map((p) => type.decode(p!.payload)))));
  } catch (e) {
    throw new DeltaError(`merging the "${name}" bases of a delta failed`, { cause: e });
  }
}

export function sameValue(a: EncodedValue, b: EncodedValue): boolean {
  if (sameEncoding(a, b)) return true;
  const x = typedOf(a);
  const y = typedOf(b);
  if (!x || !y || x.name !== y.name) return false;
  const type = valueType(x.name);
  if (!type?.equals) return false;
  try {
    return type.equals(type.decode(x.payload), type.decode(y.payload));
  } catch {
    return false;
  }
}

// ---- derived versions ----------------------------------------------------------------------------------

/**
 * The encoded value of a live version, materialized from its derivation when it is held as one (and cached on the
 * version, whose in-memory chain is then let go). Throws DeltaError when it cannot be (a type not loaded here).
 */
export function valueOf(v: StoredVersion): EncodedValue {
  if (v.v !== undefined) return v.v;
  if (!v.x?.base) throw new DeltaError(`the value of ${v.r}:${v.n} is neither held nor derivable here`);
  const followed = encodeFollowed(v);
  if (followed) {
    // A working copy took every delta of the chain as it was stored (settle): one encode.
    const out = encodeTyped(versionType(v), followed.payload);
    followed.keep(out);
    held(v, out);
    return out;
  }
  const deltas: Uint8Array[] = [];
  let cur: StoredVersion = v;
  let bases: readonly StoredVersion[];
  // Back along single-base links to a version holding its value (or one with several bases): one apply for all.
  for (;;) {
    deltas.push(cur.x!.d);
    bases = cur.x!.base!;
    const only = bases.length === 1 ? bases[0]! : undefined;
    if (only && only.v === undefined && only.x?.base && deltas.length < MAX_LONG_CHAIN * 2) cur = only;
    else break;
  }
  const base = bases.length === 1 ? valueOf(bases[0]!) : mergeEncoded(bases.map(valueOf));
  const out = applyAll(base, deltas.reverse());
  held(v, out);
  return out;
}

/** The type name of a live version's value ('' when untyped, a tombstone, or not known). */
export function versionType(v: StoredVersion): string {
  for (let cur: StoredVersion | undefined = v; cur; cur = cur.x?.base?.[0]) {
    if (cur.v !== undefined) return typedOf(cur.v)?.name ?? '';
    if (cur.d) return '';
  }
  return '';
}

/** The encoded size of the value a live version's chain starts from (its own, once materialized). */
export function encodedRootSize(v: StoredVersion): number {
  if (v.v !== undefined) return encodedSize(v.v);
  return (v.x as Held | undefined)?.rs ?? 0;
}

/** An upper bound of a live version's encoded size. */
export function sizeBound(v: StoredVersion): number {
  if (v.v !== undefined) return encodedSize(v.v);
  return (v.x as Held | undefined)?.z ?? Infinity;
}

/**
 * A version whose value is `apply(merge(value(base…)), delta)`, held as that until read. `base`: live versions of one
 * type with deltas, in canonical order; `s`: the seq of the local record they were read from.
 */
export function derive(fields: { r: string; ep?: string; n: number; t: number; c: number }, base: readonly StoredVersion[], delta: Uint8Array, s: number): StoredVersion {
  if (base.length === 0) throw new DeltaError('a delta needs a base');
  const name = versionType(base[0]!);
  const type = deltaType(name);
  if (!type || base.some((b) => b.d || versionType(b) !== name)) throw new DeltaError(`the bases of a delta are not live values of one type with deltas here ("${name}")`);
  return derivedFrom(fields, base, delta, s);
}

/** `derive` without its checks, for derivations read back from storage (a type not loaded here fails when read). */
export function derivedFrom(fields: { r: string; ep?: string; n: number; t: number; c: number }, base: readonly StoredVersion[], delta: Uint8Array, s: number): StoredVersion {
  const name = versionType(base[0]!);
  const type = deltaType(name);
  let k = 0;
  let cb = delta.length;
  let rs = 0;
  let size = 0;
  for (const b of base) {
    const bx = b.x as Held | undefined;
    const held = b.v !== undefined;
    k = Math.max(k, held ? 0 : (bx?.k ?? 0));
    cb += held ? 0 : (bx?.cb ?? 0);
    rs += held ? encodedSize(b.v!) : (bx?.rs ?? 0);
    size += sizeBound(b);
  }
  const header = 2 + name.length;
  const z = type?.applySize ? header + type.applySize(Math.max(0, size - header), delta) : Infinity;
  const x: Held = { b: base.map(dotOf), d: delta, s, base, k: k + 1, z, cb, rs, up: base.length === 1 ? linkOf(base[0]!) : undefined };
  // Literals: an optimized spread makes a hidden class per version (record.ts).
  if (fields.ep !== undefined) return { r: fields.r, ep: fields.ep, n: fields.n, t: fields.t, c: fields.c, x };
  return { r: fields.r, n: fields.n, t: fields.t, c: fields.c, x };
}

/**
 * Materializes a derived version when its chain grew past the bounds (MAX_CHAIN derivations, or more delta bytes
 * than the value they start from), or when its size bound passes `maxBytes`; returns its exact size then.
 * Throws DeltaError when its value cannot be made.
 */
export function settle(v: StoredVersion, maxBytes: number, whole?: () => EncodedValue): number {
  const x = v.x as Held | undefined;
  if (v.v !== undefined || !x) return sizeBound(v);
  // A working copy standing for the base takes the delta now, so materializing the chain later is one encode.
  if (x.base?.length === 1 && !whole) follow(x.base[0]!, v, x.d);
  if ((x.k ?? 0) > chainBound(x.rs ?? 0) || (x.cb ?? 0) > (x.rs ?? 0) || (x.z ?? Infinity) > maxBytes) {
    // The writer may know the value already (a document binding holds the document): cheaper than applying the chain.
    if (whole) held(v, whole());
    return encodedSize(valueOf(v));
  }
  return x.z!;
}

/** Caches a version's value, known otherwise than from its chain, and lets the chain go. */
function held(v: StoredVersion, value: EncodedValue): void {
  v.v = value;
  const x = v.x as Held;
  x.base = undefined;
  x.k = 0;
  x.z = encodedSize(value);
  x.cb = 0;
  x.rs = x.z;
}

/**
 * Checks a delta received from elsewhere, before anything of it is stored: it must be one its type takes, and what it
 * makes must stay within `maxBytes` (a tiny delta must not expand into a huge value). A type that cannot check a
 * delta alone, or bound what it makes, gets it applied here at once. Throws DeltaError on a delta that fails.
 */
export function checkReceived(v: StoredVersion, maxBytes: number): void {
  const x = v.x!;
  const type = deltaType(versionType(x.base![0]!));
  if (!type) throw new DeltaError('no type with deltas for the base');
  if (type.checkDelta && type.applySize) {
    try {
      type.checkDelta(x.d);
    } catch (e) {
      throw new DeltaError('a malformed delta', { cause: e });
    }
  } else valueOf(v);
  const size = settle(v, maxBytes);
  if (size > maxBytes) throw new DeltaError(`a delta makes a value of ${size} bytes, over maxValueBytes (${maxBytes})`);
}

/** Whether the type of a version's value can take deltas in this process. */
export function takesDeltas(typeName: string): boolean {
  return deltaType(typeName) !== undefined;
}

/**
 * A delta that makes `v`'s value from versions the receiver holds: its own derivation when `holds` accepts it, or the
 * deltas of its history composed back to a derivation `holds` accepts. Undefined when there is none.
 */
export function deltaFor(v: StoredVersion, holds: (x: { readonly b: readonly Dot[]; readonly s: number }) => boolean): { b: readonly Dot[]; d: Uint8Array } | undefined {
  const x = v.x as Held | undefined;
  if (!x) return undefined;
  if (holds(x)) return { b: x.b, d: x.d };
  const deltas = [x.d];
  for (let link = x.up; link; link = link.up) {
    deltas.push(link.d);
    if (holds(link)) {
      const type = valueType(versionType(v));
      if (!type?.compose) return undefined;
      try {
        return { b: link.b, d: type.compose(deltas.reverse()) };
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
