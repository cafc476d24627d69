/**
 * Values: validated, then encoded once at `put` into a string that storage and the wire carry as is.
 *
 * Plain JSON data (the common case) is stored as its JSON text; anything richer that superjson restores
 * faithfully (Date, Map, Set, BigInt, RegExp, URL, undefined in objects, NaN, ±Infinity, -0) is stored as
 * `~` + superjson text. `~` never starts a JSON text, so the two cannot be confused.
 *
 * Rejected with UNSERIALIZABLE_VALUE, before anything is stored: functions, symbols, cyclic values, and
 * instances of classes superjson cannot restore (they would come back as plain objects, silently).
 */
import superjson from 'superjson';
import { ConcordError } from './errors.js';

export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;

const RICH = 0x7e; // '~'

/** Returns true when the value is plain JSON data (encodes exactly with JSON.stringify). */
function check(value: unknown, path: string, stack: object[]): boolean {
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
  stack.push(obj);
  try {
    if (Array.isArray(obj)) {
      let plain = true;
      for (let i = 0; i < obj.length; i++) {
        if (!(i in obj)) plain = false;
        else if (!check(obj[i], `${path}[${i}]`, stack)) plain = false;
      }
      return plain;
    }
    const proto = Object.getPrototypeOf(obj);
    if (proto === Object.prototype || proto === null) {
      if (Object.getOwnPropertySymbols(obj).length > 0) throw unserializable(path, 'an object with symbol keys');
      let plain = proto === Object.prototype;
      for (const k of Object.keys(obj)) {
        if (k === '__proto__') throw unserializable(path, 'a "__proto__" key');
        if (!check((obj as Record<string, unknown>)[k], `${path}.${k}`, stack)) plain = false;
      }
      return plain;
    }
    if (obj instanceof Date || obj instanceof RegExp || obj instanceof URL) return false;
    if (obj instanceof Map) {
      for (const [k, v] of obj) {
        check(k, `${path}<key>`, stack);
        check(v, `${path}.get(${String(k)})`, stack);
      }
      return false;
    }
    if (obj instanceof Set) {
      for (const v of obj) check(v, `${path}<item>`, stack);
      return false;
    }
    const name = (proto && proto.constructor && proto.constructor.name) || 'unknown';
    throw unserializable(path, `an instance of ${name}, which would not come back as one`);
  } finally {
    stack.pop();
  }
}

function unserializable(path: string, what: string): ConcordError {
  return new ConcordError('UNSERIALIZABLE_VALUE', `value${path} is ${what}; values must be data (JSON, Date, Map, Set, BigInt, RegExp, URL)`);
}

/** UTF-8 length of a string, without allocating. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 2;
      i++;
    } else n += 2;
  }
  return n;
}

export function encodeValue(value: unknown, maxBytes = DEFAULT_MAX_VALUE_BYTES): string {
  const plain = check(value, '', []);
  const text = plain ? JSON.stringify(value) : '~' + superjson.stringify(value);
  if (text.length > maxBytes / 3 && utf8Length(text) > maxBytes) {
    throw new ConcordError('VALUE_TOO_LARGE', `value encodes to ${utf8Length(text)} bytes, over maxValueBytes (${maxBytes})`);
  }
  return text;
}

export function decodeValue(text: string): unknown {
  return text.charCodeAt(0) === RICH ? superjson.parse(text.slice(1)) : JSON.parse(text);
}

/** Whether a string is an encoding produced by `encodeValue` (checked on everything received). */
export function isEncodedValue(text: unknown): text is string {
  if (typeof text !== 'string' || text.length === 0) return false;
  try {
    decodeValue(text);
    return true;
  } catch {
    return false;
  }
}
