/**
 * Typed CRDT values: values that carry their type, so their siblings merge by that type on every replica,
 * whether or not the app registered a merge function for the key. (A merge that depends on every replica's
 * registration loses increments silently where one forgot it.)
 *
 * A type is registered once per process under a stable wire name ('counter', 'add-wins', 'yjs'). Its values are
 * stored and sent as bytes: `0x01, name length, name, payload` (values.ts). Invariants a type must keep:
 *   - `merge` is a join (commutative, associative, idempotent) whose result is canonical: the same set of
 *     siblings, in any order, gives an equal value, so replicas merging at once write back equal values;
 *   - `decode` validates: it throws on any payload its `encode` could not have produced, and what it returns
 *     never breaks `merge` (hostile bytes from the wire reach it);
 *   - `diff(base, next)` / `apply(base, delta)`, when present, satisfy apply(base, diff(base, next)) ≡ next
 *     (equal by `merge`'s notion: the same value), for a base the receiver holds: the delta hooks the sync engine
 *     and storage use to carry a version as a change against a version the other side already has;
 *     `compose(deltas)` applies as the deltas do in order; `checkDelta(d)` throws on anything `apply` would throw on,
 *     and `applySize` bounds what `apply` can make (a tiny hostile delta must not expand into a huge value).
 *
 * A type the core does not know (a Yjs document on a replica that never imported `concord/yjs`) still decodes:
 * to `TypedBytes`, the payload with its type name, which re-encodes to the same bytes when put back. Only its
 * merge is missing; see view.ts for what a read does then.
 */
import type { EpochRegistry } from './epoch-points.js';
import { ConcordError } from './errors.js';

export interface ValueType<T = unknown> {
  /** Stable wire name: 1–32 characters of a–z, 0–9 and '-', starting with a letter. */
  readonly name: string;
  /** Recognises this type's values at `put`. */
  is(value: unknown): value is T;
  encode(value: T): Uint8Array;
  /** Validates and decodes a payload; throws on a malformed one. */
  decode(payload: Uint8Array): T;
  /**
   * The join of two or more values of this type; canonical (see above). `epochs`: the ancestry a type whose own dots
   * name epochs judges them by (add-wins sets); none known when absent.
   */
  merge(values: readonly T[], epochs?: EpochRegistry): T;
  /** Whether two values are the same value (default: equal encodings). */
  equals?(a: T, b: T): boolean;
  /** A delta that turns `base` into `next` (undefined: none smaller than the full value). */
  diff?(base: T, next: T): Uint8Array | undefined;
  /** Applies a delta made by `diff` against `base`. Throws on a delta that does not apply to it. */
  apply?(base: T, delta: Uint8Array): T;
  /**
   * One delta doing what applying `deltas` in order does (a chain b → v1 → v2 sent as one delta). Without it,
   * a chain is applied step by step and only a single delta travels.
   */
  compose?(deltas: readonly Uint8Array[]): Uint8Array;
  /**
   * Checks a delta received from elsewhere without its base: throws when `apply` could not take it. With it (and
   * `applySize`), a received delta is stored as it is and applied only when the value is read; without it, the
   * receiver applies it at once to check it.
   */
  checkDelta?(delta: Uint8Array): void;
  /** An upper bound of the encoded size of `apply(base, delta)` for a base of `baseSize` bytes (hostile deltas included). */
  applySize?(baseSize: number, delta: Uint8Array): number;
  /**
   * A working copy that takes deltas in place, for types whose decode is the costly part of `apply` (a Yjs document
   * is loaded struct by struct). Replicas materialize a version held as a chain of deltas every so many deltas; with
   * this, the copy made the last time is kept (for a few large values, deltas.ts) and the next time costs the new
   * deltas and one `encode`, not a decode of the whole value. `open(payload)` makes a copy of a value, `step` applies
   * a delta to it as `apply` would (throwing where `apply` throws: the copy is then dropped), `encode` gives its
   * payload, `dispose` frees a copy no longer kept.
   */
  working?: WorkingCopies;
  /**
   * For a type that mints its own per-replica tags from the value it reads (an add-wins set's item tags): `value`,
   * written by replica `oldId` after its storage went back to an older copy, with the tags it minted then moved to
   * `newId`. Those tags were minted from the older state, so another replica may hold the same tags for other
   * content (written in the future the restore lost), and a join would take the one for the other. `base`: the
   * values of this key that survived the restore point beside it (a tag of `oldId` they hold or cover is not
   * suspect). Called when a re-identification re-issues the version (identity.ts); without it the value travels
   * as written.
   */
  reissue?(value: T, oldId: string, newId: string, base: readonly T[]): T;
  /**
   * For a type whose values keep per-replica entries a replica continues (a counter's count): `value`, the merge a
   * replica writes back over its own delete of the key beside a peer's concurrent write (read repair), with that
   * replica's entries started anew — what the peer's copy holds of them is from before the delete, and continuing it
   * would lose the replica's next changes to a copy holding more (minting.ts `mintingAfterOwnDelete`). Called inside
   * the repair's write; without it the merge is written back as it is.
   */
  reopen?(value: T, replicaId: string): T;
}

/** ValueType.working: a type's working copies (`C`: the copy, e.g. a Y.Doc). */
export interface WorkingCopies<C = unknown> {
  open(payload: Uint8Array): C;
  step(copy: C, delta: Uint8Array): void;
  encode(copy: C): Uint8Array;
  dispose?(copy: C): void;
}

const NAME = /^[a-z][a-z0-9-]{0,31}$/;
const types = new Map<string, ValueType<any>>();
/** The registered types in order, as an array: `typeOf` runs on every put, and an array walk allocates no iterator. */
const typeList: Array<ValueType<any>> = [];

export function isTypeName(name: string): boolean {
  return NAME.test(name);
}

/**
 * Registers a value type (idempotent for the same object). A second, different type under a taken name is
 * refused: two meanings for one wire name would merge one replica's values by another's rules.
 */
export function registerValueType<T>(type: ValueType<T>): void {
  if (!isTypeName(type.name)) throw new ConcordError('INVALID_OPTION', `invalid value type name ${JSON.stringify(type.name)}`);
  const known = types.get(type.name);
  if (known && known !== type) throw new ConcordError('INVALID_OPTION', `value type "${type.name}" is already registered`);
  if (!known) typeList.push(type);
  types.set(type.name, type);
}

export function valueType(name: string): ValueType | undefined {
  return types.get(name);
}

/** The registered type a value belongs to, if any. */
export function typeOf(value: unknown): ValueType | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (value instanceof TypedBytes) return types.get(value.typeName);
  for (let i = 0; i < typeList.length; i++) if (typeList[i]!.is(value)) return typeList[i];
  return undefined;
}

/** The type name a decoded value carries ('' for an untyped value). */
export function typeNameOf(value: unknown): string {
  if (value instanceof TypedBytes) return value.typeName;
  return typeOf(value)?.name ?? '';
}

/**
 * Bytes that carry a type name: how a value of a byte-shaped type (a Yjs document state) reads, and how a value of
 * a type this process does not know reads. It is a Uint8Array (`Y.applyUpdate` takes it); `put` keeps its type.
 */
export class TypedBytes extends Uint8Array {
  /** Derived arrays (slice, subarray, map) are plain Uint8Arrays: they carry no type. */
  static get [Symbol.species](): Uint8ArrayConstructor {
    return Uint8Array;
  }

  declare readonly typeName: string;
}

/** A copy of `bytes` that carries the type name `typeName`. */
export function typedBytes(typeName: string, bytes: Uint8Array): TypedBytes {
  if (!isTypeName(typeName)) throw new ConcordError('INVALID_OPTION', `invalid value type name ${JSON.stringify(typeName)}`);
  const out = new TypedBytes(bytes.length);
  out.set(bytes);
  Object.defineProperty(out, 'typeName', { value: typeName, enumerable: false });
  return out;
}
