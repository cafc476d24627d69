/**
 * Deltas on encoded values — the entry points the sync engine and storage call (docs/deltas.md). A delta is an
 * encoding of a version against a version the receiver already holds; the dot still names the full value.
 *
 *   diffEncoded(base, next)   → delta bytes, or undefined: send `next` whole (types differ, the type has no `diff`,
 *                               `next` does not include `base`, or the delta would not be smaller)
 *   applyEncoded(base, delta) → the encoded value the delta describes (throws DeltaError when it does not apply)
 *   sameValue(a, b)           → whether two encodings are the same value (the type's `equals`, else equal bytes)
 *
 * Invariant the types guarantee (typed.ts): sameValue(applyEncoded(base, diffEncoded(base, next)), next). The result
 * may differ from `next` in bytes (a Yjs merge is not byte-canonical) but never in value, which is what a dot names.
 * Only typed values have deltas; plain, rich and binary values always travel whole.
 */
import { valueType } from './typed.js';
import { encodeTyped, sameEncoding, typedParts, TYPED, type EncodedValue } from './values.js';

export class DeltaError extends Error {
  override readonly name = 'DeltaError';
}

function typedOf(v: EncodedValue): { name: string; payload: Uint8Array } | undefined {
  if (typeof v === 'string' || v[0] !== TYPED) return undefined;
  try {
    return typedParts(v);
  } catch {
    return undefined;
  }
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
  const b = typedOf(base);
  const type = b && valueType(b.name);
  if (!b || !type?.apply) throw new DeltaError('the base of a delta is not a value of a type with deltas here');
  try {
    return encodeTyped(b.name, type.encode(type.apply(type.decode(b.payload), delta)));
  } catch (e) {
    throw new DeltaError(`a "${b.name}" delta does not apply to its base`, { cause: e });
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
