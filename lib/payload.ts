/**
 * Payload helpers shared by values.ts and the typed values: the guarded parse of rich (`~` + superjson) texts, and
 * JSON or value-text payloads for typed values. Every parse bounds nesting before recursing and throws on anything
 * malformed; callers turn that into their own error (CORRUPT, a type's refusal, a protocol error).
 */
import superjson from 'superjson';
import { ConcordError } from './errors.js';
import { checkData, jsonDepthExceeds, MAX_DEPTH } from './value-check.js';

const RICH = 0x7e;
const textEncoder = new TextEncoder();
// ignoreBOM: a text that starts with U+FEFF is data, kept as it was sent (by default the decoder drops it).
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function corrupt(why: string, cause?: unknown): ConcordError {
  return new ConcordError('CORRUPT', `malformed value: ${why}`, cause === undefined ? undefined : { cause });
}

/** Whether parsed JSON holds an own `__proto__` key anywhere (iterative: the depth was bounded before parsing anyway). */
function hasProtoKey(root: object): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const x = stack.pop();
    if (x === null || typeof x !== 'object') continue;
    if (!Array.isArray(x) && Object.prototype.hasOwnProperty.call(x, '__proto__')) return true;
    for (const v of Object.values(x)) if (v !== null && typeof v === 'object') stack.push(v);
  }
  return false;
}

/** Parses `~` + superjson text into data (throws CORRUPT). */
export function parseRich(text: string): unknown {
  // superjson recurses over the parsed tree: bound the depth before anything parses it.
  if (jsonDepthExceeds(text, MAX_DEPTH + 2)) throw corrupt(`nested deeper than ${MAX_DEPTH} levels`);
  let value: unknown;
  try {
    const raw: unknown = JSON.parse(text.slice(1));
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || !('json' in raw)) throw new Error('not a superjson document');
    // superjson drops `__proto__` keys silently; no value a put stores has one, so one here is forged.
    if (hasProtoKey(raw)) throw new Error('a "__proto__" key');
    value = superjson.deserialize(raw as Parameters<typeof superjson.deserialize>[0]);
  } catch (e) {
    throw corrupt('an unreadable rich value', e);
  }
  try {
    checkData(value);
  } catch (e) {
    throw corrupt('a rich value that is not data', e);
  }
  return value;
}

/** UTF-8 bytes of a JSON payload and back, for types whose payload is JSON text. */
export function jsonPayload(value: unknown): Uint8Array {
  return textEncoder.encode(JSON.stringify(value));
}

export function parseJsonPayload(payload: Uint8Array): unknown {
  const text = textDecoder.decode(payload);
  if (jsonDepthExceeds(text, MAX_DEPTH)) throw new Error('nested too deeply');
  return JSON.parse(text);
}

/** A payload that is itself an encoded plain or rich value (a typed value holding arbitrary items). */
export function textPayload(value: unknown): Uint8Array {
  const plain = checkData(value);
  return textEncoder.encode(plain ? JSON.stringify(value) : '~' + superjson.stringify(value));
}

export function parseTextPayload(payload: Uint8Array): unknown {
  const text = textDecoder.decode(payload);
  if (text.charCodeAt(0) === RICH) return parseRich(text);
  if (jsonDepthExceeds(text, MAX_DEPTH)) throw new Error('nested too deeply');
  const value: unknown = JSON.parse(text);
  // As a rich text's: no value a put stores has one, and `textPayload` (the value written back) refuses it.
  if (value !== null && typeof value === 'object' && hasProtoKey(value)) throw new Error('a "__proto__" key');
  return value;
}
