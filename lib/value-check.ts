/**
 * What a value may be: data that comes back as it went in. `checkData` walks a value once and tells plain JSON
 * data (stored as its JSON text) from richer data superjson restores faithfully (Date, Map, Set, BigInt, RegExp,
 * URL, undefined in objects, NaN, ±Infinity, -0), and throws UNSERIALIZABLE_VALUE on anything else: functions,
 * symbols, cycles, `__proto__` keys, values nested deeper than MAX_DEPTH, and instances of classes that would
 * come back as plain objects. The same walk checks rich values received from the wire after decoding, so what
 * is stored is always something a local `put` could have stored.
 */
import { ConcordError } from './errors.js';

/** Nesting limit of a value (arrays and objects): deeper ones are refused, so no reader recurses without bound. */
export const MAX_DEPTH = 128;

/** Returns true when the value is plain JSON data (encodes exactly with JSON.stringify). */
export function checkData(value: unknown): boolean {
  // Objects take the spare stack unless a walk is running (a getter may put); a put allocated one per put before.
  const stack = spare ?? new Stack();
  spare = undefined;
  try {
    return walk(value, stack);
  } finally {
    stack.clear();
    spare = stack;
  }
}

/** The objects above the value being walked, each with the key (or index) it was entered by: `n` slots of `s` in use. */
class Stack {
  readonly s: Array<object | string | number> = [];
  n = 0;
  /** The most slots in use during this walk: `clear` forgets those only (a put's value is rarely deep). */
  hi = 0;
  /** Forgets the walked objects (the array keeps its room for the next walk). */
  clear(): void {
    for (let i = 0; i < this.hi; i++) this.s[i] = 0;
    this.n = 0;
    this.hi = 0;
  }
}

let spare: Stack | undefined = new Stack();

/**
 * The walk behind `checkData`. `stack` holds the objects and arrays above `value` with the key (or index)
 * each was entered by; the path an error names is built from it only when there is an error (a put of a
 * valid value builds no strings).
 */
function walk(value: unknown, stack: Stack): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'undefined':
    case 'bigint':
      return false;
    case 'function':
      throw unserializable(pathOf(stack), 'a function');
    case 'symbol':
      throw unserializable(pathOf(stack), 'a symbol');
  }
  if (value === null) return true;
  const obj = value as object;
  for (let i = 0; i < stack.n; i += 2) if (stack.s[i] === obj) throw unserializable(pathOf(stack), 'a cyclic reference');
  if (stack.n >= 2 * MAX_DEPTH) throw unserializable(pathOf(stack), `nested deeper than ${MAX_DEPTH} levels`);
  const at = stack.n;
  stack.s[at] = obj;
  stack.s[at + 1] = '';
  stack.n = at + 2;
  if (stack.n > stack.hi) stack.hi = stack.n;
  try {
    if (Array.isArray(obj)) {
      let plain = true;
      for (let i = 0; i < obj.length; i++) {
        stack.s[at + 1] = i;
        if (!(i in obj)) plain = false;
        else if (!walk(obj[i], stack)) plain = false;
      }
      return plain;
    }
    const proto = Object.getPrototypeOf(obj);
    if (proto === Object.prototype || proto === null) {
      if (Object.getOwnPropertySymbols(obj).length > 0) throw unserializable(pathOf(stack, at), 'an object with symbol keys');
      let plain = proto === Object.prototype;
      for (const k in obj) {
        if (!Object.prototype.hasOwnProperty.call(obj, k)) continue;
        if (k === '__proto__') throw unserializable(pathOf(stack, at), 'a "__proto__" key');
        stack.s[at + 1] = k;
        if (!walk((obj as Record<string, unknown>)[k], stack)) plain = false;
      }
      return plain;
    }
    if (obj instanceof Date || obj instanceof RegExp || obj instanceof URL) return false;
    if (obj instanceof Map) {
      for (const [k, v] of obj) {
        stack.s[at + 1] = '<key>';
        walk(k, stack);
        stack.s[at + 1] = `get(${String(k)})`;
        walk(v, stack);
      }
      return false;
    }
    if (obj instanceof Set) {
      stack.s[at + 1] = '<item>';
      for (const v of obj) walk(v, stack);
      return false;
    }
    const name = (proto && proto.constructor && proto.constructor.name) || 'unknown';
    throw unserializable(pathOf(stack, at), `an instance of ${name}, which would not come back as one`);
  } finally {
    stack.n = at;
  }
}

/** The path of the value being walked (`.a[3].b`), from the keys on the stack (up to `end`, exclusive). */
function pathOf(stack: Stack, end = stack.n): string {
  let out = '';
  for (let i = 1; i < end; i += 2) {
    const k = stack.s[i]!;
    out += typeof k === 'number' ? `[${k}]` : k === '<key>' || k === '<item>' ? k : `.${k as string}`;
  }
  return out;
}

export function unserializable(path: string, what: string): ConcordError {
  return new ConcordError('UNSERIALIZABLE_VALUE', `value${path} is ${what}; values must be data (JSON, Date, Map, Set, BigInt, RegExp, URL, Uint8Array) or a typed value`);
}

/**
 * The deepest nesting of arrays and objects in a JSON text, counted without parsing (strings skipped), stopping
 * as soon as it passes `limit`: a cheap guard before JSON.parse and superjson, which recurse.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
