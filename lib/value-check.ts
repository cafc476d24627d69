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
export function checkData(value: unknown, path = '', stack: object[] = []): boolean {
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
      throw unserializable(path, 'a function');
    case 'symbol':
      throw unserializable(path, 'a symbol');
  }
  if (value === null) return true;
  const obj = value as object;
  if (stack.includes(obj)) throw unserializable(path, 'a cyclic reference');
  if (stack.length >= MAX_DEPTH) throw unserializable(path, `nested deeper than ${MAX_DEPTH} levels`);
  stack.push(obj);
  try {
    if (Array.isArray(obj)) {
      let plain = true;
      for (let i = 0; i < obj.length; i++) {
        if (!(i in obj)) plain = false;
        else if (!checkData(obj[i], `${path}[${i}]`, stack)) plain = false;
      }
      return plain;
    }
    const proto = Object.getPrototypeOf(obj);
    if (proto === Object.prototype || proto === null) {
      if (Object.getOwnPropertySymbols(obj).length > 0) throw unserializable(path, 'an object with symbol keys');
      let plain = proto === Object.prototype;
      for (const k of Object.keys(obj)) {
        if (k === '__proto__') throw unserializable(path, 'a "__proto__" key');
        if (!checkData((obj as Record<string, unknown>)[k], `${path}.${k}`, stack)) plain = false;
      }
      return plain;
    }
    if (obj instanceof Date || obj instanceof RegExp || obj instanceof URL) return false;
    if (obj instanceof Map) {
      for (const [k, v] of obj) {
        checkData(k, `${path}<key>`, stack);
        checkData(v, `${path}.get(${String(k)})`, stack);
      }
      return false;
    }
    if (obj instanceof Set) {
      for (const v of obj) checkData(v, `${path}<item>`, stack);
      return false;
    }
    const name = (proto && proto.constructor && proto.constructor.name) || 'unknown';
    throw unserializable(path, `an instance of ${name}, which would not come back as one`);
  } finally {
    stack.pop();
  }
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
