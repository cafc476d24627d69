/**
 * The JSON text of plain data written straight into a byte buffer as UTF-8: the bytes of
 * `Buffer.from(JSON.stringify(value), 'utf8')`, without the string in between. A stored record's text (record.ts) is
 * made so on every put of a file storage (frame.ts RecordArea.appendJson): the string, its copy into the record area
 * and its garbage were a tenth of a durable put's own work (S4, issue 14).
 *
 * It writes what it can write exactly as JSON.stringify would: objects whose prototype is Object.prototype or null,
 * arrays, strings, numbers, booleans and null, and an object with a toJSON method as what that returns. Anything else — a
 * class instance, a bigint, what a toJSON returns that JSON.stringify would leave out, nesting past
 * MAX_DEPTH (a cycle), or an enumerable property on Object.prototype (for-in would list it, JSON.stringify does not) —
 * throws NOT_PLAIN, and the caller takes JSON.stringify's text (or its error). Strings of printable ASCII are copied
 * byte by byte; a string holding anything else is written as JSON.stringify escapes it (control characters, lone
 * surrogates), encoded as UTF-8.
 */

/** Thrown when a value is not written here exactly as JSON.stringify writes it. */
export const NOT_PLAIN: unique symbol = Symbol('not plain JSON data');

const MAX_DEPTH = 64;
/** Whole numbers below this are written in 32-bit integer arithmetic (JsonWriter.number). */
const SMALL = 2 ** 31;
const OBJECT_PROTO = Object.prototype;
const EMPTY = {};

/**
 * Writes the JSON of `value` into `buf` from `at`, not past `end`; returns where it ended, or -1 when it does not fit
 * (what was written between `at` and `end` is then garbage). Throws NOT_PLAIN (see above).
 */
export function writeJson(value: unknown, buf: Buffer, at: number, end: number): number {
  return writeWith(buf, at, end, value, writeValue);
}

/**
 * Runs `write` with the writer set on `buf` between `at` and `end` (its primitives, for JSON laid out by the caller:
 * frame.ts a log frame's head); returns where it ended, or -1 when it did not fit. Throws NOT_PLAIN (see above).
 */
export function writeWith<T>(buf: Buffer, at: number, end: number, arg: T, write: (w: JsonWriter, arg: T) => boolean): number {
  if (inherited()) throw NOT_PLAIN;
  // the shared writer, unless a getter of the value being written writes JSON itself (then one of its own)
  const w = writer.buf === NO_BYTES ? writer : new JsonWriter();
  w.buf = buf;
  w.at = at;
  w.end = end;
  try {
    return write(w, arg) ? w.at : -1;
  } finally {
    w.buf = NO_BYTES;
  }
}

const writeValue = (w: JsonWriter, value: unknown): boolean => w.value(value, 0);

const NO_BYTES: Buffer = Buffer.alloc(0);

/** Whether objects inherit an enumerable property (from Object.prototype): for-in would list it. */
function inherited(): boolean {
  for (const name in EMPTY) return name !== undefined;
  return false;
}

/**
 * One writer for every call (a call writes to its end before the next starts: nothing here awaits). Each method writes
 * its piece, or answers false when it does not fit.
 */
export class JsonWriter {
  buf: Buffer = NO_BYTES;
  at = 0;
  end = 0;

  /**
   * Writes a value, the property `key` of its holder (an array's index as a number); false when it did not fit. An object
   * with a toJSON method is written as what it returns for `key`, which is not asked again (as JSON.stringify does): a
   * local write's record (record.ts WrittenRecord) is one.
   */
  value(v: unknown, depth: number, key: string | number = '', asked = false): boolean {
    if (!asked && typeof v === 'object' && v !== null && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      const toJSON = (v as { toJSON: (k: string) => unknown }).toJSON;
      const x = toJSON.call(v, typeof key === 'number' ? String(key) : key);
      // What JSON.stringify would leave out or write as null (the holder decides which): left to it.
      if (x === undefined || typeof x === 'function' || typeof x === 'symbol') throw NOT_PLAIN;
      return this.value(x, depth, key, true);
    }
    switch (typeof v) {
      case 'string':
        return this.string(v);
      case 'number':
        return this.number(v);
      case 'boolean':
        return v ? this.ascii('true') : this.ascii('false');
      case 'object':
        if (v === null) return this.ascii('null');
        if (depth >= MAX_DEPTH) throw NOT_PLAIN;
        if (Array.isArray(v)) return this.array(v, depth + 1);
        {
          const proto: unknown = Object.getPrototypeOf(v);
          if (proto !== OBJECT_PROTO && proto !== null) throw NOT_PLAIN;
        }
        return this.object(v as Record<string, unknown>, depth + 1);
      default:
        throw NOT_PLAIN;
    }
  }

  private array(a: readonly unknown[], depth: number): boolean {
    if (!this.byte(0x5b)) return false;
    for (let i = 0; i < a.length; i++) {
      if (i > 0 && !this.byte(0x2c)) return false;
      const x = a[i];
      // JSON.stringify writes null for what it cannot write in an array
      if (x === undefined || typeof x === 'function' || typeof x === 'symbol' ? !this.ascii('null') : !this.value(x, depth, i)) return false;
    }
    return this.byte(0x5d);
  }

  private object(o: Record<string, unknown>, depth: number): boolean {
    if (!this.byte(0x7b)) return false;
    let first = true;
    for (const k in o) {
      const x = o[k];
      // JSON.stringify leaves out properties whose value it cannot write
      if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
      if (!first && !this.byte(0x2c)) return false;
      first = false;
      if (!this.string(k) || !this.byte(0x3a) || !this.value(x, depth, k)) return false;
    }
    return this.byte(0x7d);
  }

  byte(b: number): boolean {
    if (this.at >= this.end) return false;
    this.buf[this.at++] = b;
    return true;
  }

  /** Writes again the bytes it wrote from `from` to `to` (a text written before, as it was written). */
  again(from: number, to: number): boolean {
    let at = this.at;
    if (at + (to - from) > this.end) return false;
    const buf = this.buf;
    for (let i = from; i < to; i++) buf[at++] = buf[i]!;
    this.at = at;
    return true;
  }

  /** A text known to be printable ASCII, as it is (JSON punctuation, literals). */
  ascii(s: string): boolean {
    let at = this.at;
    if (at + s.length > this.end) return false;
    const buf = this.buf;
    for (let i = 0; i < s.length; i++) buf[at++] = s.charCodeAt(i);
    this.at = at;
    return true;
  }

  number(n: number): boolean {
    // A whole number up to 2^53 - 1 digit by digit (-0 too: "0"), in 32-bit integer arithmetic: below 2^31 at once,
    // above as its part above 10^8 and its last eight digits (a timestamp in milliseconds, a CRC-32 past 2^31: the
    // floating-point division a digit took was most of a record's numbers' cost). Any other as JavaScript (and JSON)
    // writes it.
    if (n >= 0 && n <= Number.MAX_SAFE_INTEGER && Math.floor(n) === n) {
      if (n < SMALL) return this.small(n);
      const high = Math.floor(n / 1e8);
      if (!this.small(high)) return false;
      let at = this.at + 8;
      if (at > this.end) return false;
      this.at = at;
      const buf = this.buf;
      let m = (n - high * 1e8) | 0;
      for (let i = 0; i < 8; i++) {
        const q = (m / 10) | 0;
        buf[--at] = 0x30 + m - q * 10;
        m = q;
      }
      return true;
    }
    return this.ascii(Number.isFinite(n) ? String(n) : 'null');
  }

  /** A whole number from 0 below 2^31. */
  private small(n: number): boolean {
    let digits = 1;
    for (let m = 10; m <= n; m *= 10) digits++;
    let at = this.at + digits;
    if (at > this.end) return false;
    this.at = at;
    const buf = this.buf;
    let m = n | 0;
    do {
      const q = (m / 10) | 0;
      buf[--at] = 0x30 + m - q * 10;
      m = q;
    } while (m > 0);
    return true;
  }

  /** A string, quoted and escaped. */
  string(s: string): boolean {
    // at most two bytes a character on the fast path, and the quotes
    let at = this.at;
    if (at + 2 * s.length + 2 > this.end) return this.escaped(s);
    const buf = this.buf;
    buf[at++] = 0x22;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e) return this.escaped(s);
      if (c === 0x22 || c === 0x5c) buf[at++] = 0x5c;
      buf[at++] = c;
    }
    buf[at++] = 0x22;
    this.at = at;
    return true;
  }

  /** A string as JSON.stringify escapes it, as UTF-8 (at most three bytes a UTF-16 unit). */
  private escaped(s: string): boolean {
    const text = JSON.stringify(s);
    if (this.at + 3 * text.length > this.end) return false;
    this.at += this.buf.write(text, this.at, 'utf8');
    return true;
  }
}

const writer = new JsonWriter();
