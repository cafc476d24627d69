/**
 * Values: validated, then encoded once at `put` into what storage and the wire carry as is (an EncodedValue).
 *
 *   string      plain JSON data (the common case): its JSON text
 *   string      `~` + superjson text: richer data superjson restores (Date, Map, Set, BigInt, …); `~` never
 *               starts a JSON text, so the two cannot be confused
 *   Uint8Array  0x00 ‖ bytes: a binary value (a Uint8Array put as is: no base64, no JSON)
 *   Uint8Array  0x01 ‖ name length ‖ name ‖ payload: a typed CRDT value (typed.ts), merged by its type
 *
 * Rejected with UNSERIALIZABLE_VALUE before anything is stored: functions, symbols, cycles, values nested deeper
 * than 128 levels, instances of classes that would not come back as themselves (value-check.ts).
 *
 * `validateEncoded` checks an encoding that came from elsewhere (the wire) before it is stored: a rich text must
 * parse (bounded depth, no `__proto__`, known superjson type tags) to data a local `put` could have stored; a typed
 * payload of a type this process knows must decode. A stored value can then always be read: `decodeValue` throws
 * only a ConcordError('CORRUPT') (storage written by older code), which reads report instead of failing.
 */
import superjson from 'superjson';
import { ConcordError } from './errors.js';
import { addWinsType } from './merges/add-wins.js';
import { counterType } from './merges/counter.js';
import { corrupt, parseRich } from './payload.js';
import { isTypeName, registerValueType, TypedBytes, typedBytes, typeOf, valueType, type ValueType } from './typed.js';
import { checkData, unserializable } from './value-check.js';

// The built-in typed values: registered wherever values are read, so no replica can lack them.
registerValueType(counterType);
registerValueType(addWinsType);

export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;

/** A value as stored and sent. */
export type EncodedValue = string | Uint8Array;

const RICH = 0x7e; // '~'
export const BINARY = 0x00;
export const TYPED = 0x01;

/** UTF-8 length of a string, without allocating. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether UTF-8 carries `s` as it is: no lone UTF-16 surrogate (`String.prototype.isWellFormed`, ES2024). */
export function wellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

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

/** Throws UNSERIALIZABLE_VALUE (`what`) where `type` refuses `payload`: a peer would refuse each frame carrying it. */
function assertDecodes(type: ValueType, payload: Uint8Array, what: string): void {
  try {
    type.decode(payload);
  } catch (e) {
    throw new ConcordError('UNSERIALIZABLE_VALUE', what, { cause: e });
  }
}

/** Bytes an encoded value occupies (UTF-8 for texts). */
export function encodedSize(v: EncodedValue): number {
  return typeof v === 'string' ? utf8Length(v) : v.length;
}

function tooLarge(size: number, maxBytes: number): ConcordError {
  return new ConcordError('VALUE_TOO_LARGE', `value encodes to ${size} bytes, over maxValueBytes (${maxBytes})`);
}

function withHeader(head: Uint8Array, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

export function encodeTyped(name: string, payload: Uint8Array): Uint8Array {
  const head = new Uint8Array(2 + name.length);
  head[0] = TYPED;
  head[1] = name.length;
  for (let i = 0; i < name.length; i++) head[2 + i] = name.charCodeAt(i);
  return withHeader(head, payload);
}

export function encodeValue(value: unknown, maxBytes = DEFAULT_MAX_VALUE_BYTES): EncodedValue {
  if (value instanceof Uint8Array) {
    if (value instanceof TypedBytes) {
      // Bytes claiming a type this process knows must be a value of it: a peer would refuse anything else.
      const type = valueType(value.typeName);
      if (type) assertDecodes(type, value, `these bytes are not a valid "${value.typeName}" value`);
    }
    const out = value instanceof TypedBytes ? encodeTyped(value.typeName, value) : withHeader(Uint8Array.of(BINARY), value);
    if (out.length > maxBytes) throw tooLarge(out.length, maxBytes);
    return out;
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    throw unserializable('', `a ${value.constructor.name}; binary values are Uint8Arrays`);
  }
  const type = typeOf(value);
  if (type) {
    const payload = type.encode(value);
    // A value built by hand (`new AddWins(…)`, `new Counter(…)`) may encode to bytes its type refuses: stored, every
    // peer would refuse each frame carrying it and the replica's sync would stall. Checked as received bytes are.
    assertDecodes(type, payload, `not a valid "${type.name}" value`);
    const out = encodeTyped(type.name, payload);
    if (out.length > maxBytes) throw tooLarge(out.length, maxBytes);
    return out;
  }
  const plain = checkData(value);
  const text = plain ? JSON.stringify(value) : '~' + superjson.stringify(value);
  if (text.length > maxBytes / 3 && utf8Length(text) > maxBytes) throw tooLarge(utf8Length(text), maxBytes);
  // V8's JSON.stringify answers with a rope of the pieces it wrote (a cons string: three objects for a small value),
  // which the record keeps as long as it lives. Reading a character flattens it in place into one string, and the
  // next scavenge drops the rope: 60 bytes less per put that every scavenge copies (bench S3). Elsewhere a no-op.
  text.charCodeAt(0);
  return text;
}

/** Whether an encoding is a typed value's (its first byte TYPED; the header checked by typedParts). */
export function isTypedEncoding(v: EncodedValue | undefined): v is Uint8Array {
  return v !== undefined && typeof v !== 'string' && v[0] === TYPED;
}

/** The type name and payload of a typed encoding (throws CORRUPT when the header is malformed). */
export function typedParts(v: Uint8Array): { name: string; payload: Uint8Array } {
  const len = v[1] ?? 0;
  if (v[0] !== TYPED || len < 1 || v.length < 2 + len) throw corrupt('a typed value with a malformed header');
  let name = '';
  for (let i = 0; i < len; i++) name += String.fromCharCode(v[2 + i]!);
  if (!isTypeName(name)) throw corrupt('a typed value with an invalid type name');
  return { name, payload: v.subarray(2 + len) };
}

/**
 * The value of the version a frame was decoded into last, as the wire read it (sync/codec.ts: the tree its JSON text
 * was made of): the change event the join of that version tells takes it (`takeDecoded`) instead of parsing the text
 * the wire just made. One slot, taken once: nothing is kept past the next version decoded, and no two readers share it.
 */
let decodedOf: object | undefined;
let decoded: unknown;

/** Notes `value` as what `version`'s JSON text parses to (a fresh tree nothing else holds). */
export function noteDecoded(version: object, value: unknown): void {
  decodedOf = version;
  decoded = value;
}

/** The value noted for `version` (given out once), or `fallback`. */
export function takeDecoded<F>(version: object, fallback: F): unknown {
  if (decodedOf !== version) return fallback;
  const value = decoded;
  decodedOf = decoded = undefined;
  return value;
}

/** Decodes a stored value: a fresh copy each time (mutating it changes nothing stored). Throws CORRUPT only. */
export function decodeValue(v: EncodedValue): unknown {
  if (typeof v === 'string') {
    if (v.charCodeAt(0) === RICH) return parseRich(v);
    try {
      return JSON.parse(v);
    } catch (e) {
      throw corrupt('unreadable JSON', e);
    }
  }
  if (v[0] === BINARY) return v.slice(1);
  const { name, payload } = typedParts(v);
  const type = valueType(name);
  if (!type) return typedBytes(name, payload);
  try {
    return type.decode(payload);
  } catch (e) {
    throw corrupt(`a "${name}" value its type refuses`, e);
  }
}

/**
 * Whether an encoding received from elsewhere may be stored (see the module header). Returns a reason when not.
 * A typed value of a type this process does not know is accepted as bytes: its readers validate it.
 */
export function invalidEncoding(v: unknown, maxBytes: number): string | undefined {
  if (typeof v === 'string') {
    if (v.length === 0) return 'an empty value';
    if (v.length > maxBytes) return 'a value over the size limit';
    if (v.charCodeAt(0) !== RICH) {
      // Plain values arrive as a tree (codec.ts) and are re-encoded here; a text that is not JSON is refused all the same.
      try {
        JSON.parse(v);
      } catch {
        return 'a plain value that is not JSON';
      }
      return undefined;
    }
  } else if (!(v instanceof Uint8Array) || v.length === 0) return 'an empty value';
  else if (v.length > maxBytes) return 'a value over the size limit';
  else if (v[0] === BINARY) return undefined;
  try {
    decodeValue(v);
    return undefined;
  } catch (e) {
    return e instanceof ConcordError ? e.message : 'a malformed value';
  }
}

/** Whether two encodings are the same bytes. */
export function sameEncoding(a: EncodedValue, b: EncodedValue): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
