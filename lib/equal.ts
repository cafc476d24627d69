/**
 * Structural equality and a canonical total order on data values: Map, Set, Date, BigInt, RegExp, URL and
 * Uint8Array (typed bytes with their type) are understood, object key order is not significant, Sets and Maps compare as unordered collections.
 * Used to count equal siblings as one, by `checkMerge`, and by the built-in merges for canonical output.
 */

export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== typeof b || typeof a !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  if (a instanceof Uint8Array) return b instanceof Uint8Array && sameBytes(a, b);
  const pa = Object.getPrototypeOf(a);
  if (pa !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Date) return a.getTime() === (b as Date).getTime() || (isNaN(a.getTime()) && isNaN((b as Date).getTime()));
  if (a instanceof RegExp || a instanceof URL) return String(a) === String(b);
  if (a instanceof Set || a instanceof Map) return canonicalKey(a) === canonicalKey(b);
  const ka = Object.keys(a);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length || typeNameOf(a) !== typeNameOf(b)) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hex(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length; i++) out += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return out;
}

/** The type name of typed bytes ('' for plain bytes), without importing the registry. */
function typeNameOf(b: Uint8Array): string {
  return (b as { typeName?: string }).typeName ?? '';
}

/**
 * A string that is equal for structurally equal values and different otherwise; comparing these strings
 * is a total order on values (the order itself is arbitrary but the same everywhere).
 */
export function canonicalKey(v: unknown): string {
  switch (typeof v) {
    case 'undefined':
      return 'u';
    case 'boolean':
      return v ? 'bt' : 'bf';
    case 'number':
      return 'n' + (Object.is(v, -0) ? '-0' : String(v));
    case 'bigint':
      return 'i' + v.toString();
    case 'string':
      return 's' + JSON.stringify(v);
  }
  if (v === null) return 'z';
  if (Array.isArray(v)) return '[' + v.map(canonicalKey).join(',') + ']';
  if (v instanceof Date) return 'd' + v.getTime();
  if (v instanceof Uint8Array) return 'b' + typeNameOf(v) + ':' + hex(v);
  if (v instanceof RegExp) return 'r' + String(v);
  if (v instanceof URL) return 'l' + v.href;
  if (v instanceof Set) return 'S{' + [...v].map(canonicalKey).sort().join(',') + '}';
  if (v instanceof Map) {
    return 'M{' + [...v].map(([k, x]) => canonicalKey(k) + '=>' + canonicalKey(x)).sort().join(',') + '}';
  }
  const o = v as Record<string, unknown>;
  return '{' + Object.keys(o).sort().map((k) => JSON.stringify(k) + ':' + canonicalKey(o[k])).join(',') + '}';
}

/** A total order on values, consistent with deepEqual; numbers, bigints and dates compare by magnitude. */
export function compareValues(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 1) {
    const x = a as number | bigint;
    const y = b as number | bigint;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  if (ra === 2) {
    const d = (a as Date).getTime() - (b as Date).getTime();
    if (d !== 0 && !isNaN(d)) return d;
  }
  if (ra === 3) {
    const x = a as string;
    const y = b as string;
    if (x !== y) return x < y ? -1 : 1;
    return 0;
  }
  const ka = canonicalKey(a);
  const kb = canonicalKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function rank(v: unknown): number {
  if (typeof v === 'number' || typeof v === 'bigint') return 1;
  if (v instanceof Date) return 2;
  if (typeof v === 'string') return 3;
  return 4;
}
