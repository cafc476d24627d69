/**
 * Binary frame codec: LEB128 varints, length-prefixed UTF-8 strings, and a per-frame string table so a
 * replicaId or an object key repeated across a frame's entries costs one byte after its first use.
 *
 * Values travel as they are stored (lib/values.ts), but plain JSON values are re-encoded in a compact
 * binary form (type tag + varint/float64/string/table-key). Decoding rebuilds the same JSON text:
 * JSON.stringify of the parsed structure is what was stored, so the value a dot names is unchanged.
 * Rich (superjson) values travel as their stored text; binary and typed values as their stored bytes, length-
 * prefixed and raw (no base64, no JSON). Which encodings may be stored is values.ts's to say (messages.ts asks).
 *
 * Every read is bounds-checked and throws ProtocolError: a frame from the network is never trusted.
 */
import { ProtocolError } from './protocol-error.js';
import { asciiText } from './ascii-text.js';
import { FINISHED, giveBack, plainOnce, takeScratch } from './writer-memory.js';
export { ProtocolError };

const encoder = new TextEncoder();
// ignoreBOM: a key or value that starts with U+FEFF is data, kept as it was sent (by default the decoder drops it).
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const enum Tag {
  Null = 0,
  False = 1,
  True = 2,
  Int = 3,
  Float = 4,
  Str = 5,
  Arr = 6,
  Obj = 7,
  Rich = 8,
  /** A value stored as bytes (binary or typed, values.ts): length and the bytes. */
  Bytes = 9,
}

const MAX_DEPTH = 128;
/** The table of a frame that has no string yet (never written to: `addString` makes the frame's own). */
const NO_STRINGS: Map<string, number> = new Map();

export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  pos = 0;
  /** The frame's string table; made at its first string (a LIVE frame's table is the connection's: it has none). */
  private table: Map<string, number> = NO_STRINGS;
  /** Seed strings the frame referred to (bit i: seed string i); seeds beyond 31 are not tracked. */
  seedUsed = 0;
  private readonly seedSize: number;

  constructor(seed?: readonly string[], size = 256) {
    ({ buf: this.buf, view: this.view } = takeScratch(size));
    if (seed) for (const s of seed) if (!this.table.has(s)) this.addString(s);
    this.seedSize = this.table.size;
  }

  private addString(s: string): void {
    if (this.table === NO_STRINGS) this.table = new Map();
    this.table.set(s, this.table.size);
  }

  /** Whether the frame's string table holds `s` (a seed string, or one the frame added). */
  hasString(s: string): boolean {
    return this.table.has(s);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.buf === FINISHED.buf) throw new Error('Writer: written after done()');
    let size = Math.max(64, this.buf.length * 2);
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned integer up to 2^53 (LEB128). */
  uint(n: number): void {
    this.ensure(8);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  /** Signed integer (zigzag). */
  int(n: number): void {
    this.uint(n < 0 ? -2 * n - 1 : 2 * n);
  }

  f64(x: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, x, true);
    this.pos += 8;
  }

  str(s: string): void {
    // Worst case 3 bytes per UTF-16 unit.
    this.ensure(s.length * 3 + 5);
    if (s.length < 64) {
      let ascii = true;
      for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) ascii = false;
      if (ascii) {
        this.buf[this.pos++] = s.length;
        for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
        return;
      }
    }
    const start = this.pos;
    this.pos += 5; // room for the length; moved down after
    const { written } = encoder.encodeInto(s, this.buf.subarray(this.pos));
    const lenBytes = uintSize(written);
    this.buf.copyWithin(start + lenBytes, this.pos, this.pos + written);
    this.pos = start;
    this.uint(written);
    this.pos += written;
  }

  /** A string through the frame's table: index + 1 when seen before, else 0 and the string. */
  sym(s: string): void {
    const i = this.table.get(s);
    if (i !== undefined) {
      if (i < this.seedSize) this.seedUsed |= 1 << i;
      this.uint(i + 1);
      return;
    }
    this.addString(s);
    this.uint(0);
    this.str(s);
  }

  bytes(b: Uint8Array): void {
    this.uint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A stored value (JSON text, `~` + superjson text, or bytes). */
  value(text: string | Uint8Array): void {
    if (typeof text !== 'string') {
      this.u8(Tag.Bytes);
      this.bytes(text);
      return;
    }
    if (text.charCodeAt(0) === 0x7e) {
      this.u8(Tag.Rich);
      this.str(text);
      return;
    }
    this.any(JSON.parse(text), 0);
  }

  /**
   * `value(text)` where `owner` (an immutable version) holds the text: while the frame's table is empty the bytes do
   * not depend on the frame, so they are made once per owner (plainOnce) and copied.
   */
  valueOf(owner: object, text: string | Uint8Array): void {
    if (this.table.size !== 0 || typeof text !== 'string' || text.charCodeAt(0) === 0x7e) return this.value(text);
    let e = plainOnce.get(owner);
    if (e?.text !== text) {
      const w = new Writer(undefined, 64);
      w.value(text);
      e = { text, bytes: w.done(), strings: [...w.table.keys()] };
      plainOnce.set(owner, e);
    }
    this.ensure(e.bytes.length);
    this.buf.set(e.bytes, this.pos);
    this.pos += e.bytes.length;
    for (const k of e.strings) this.addString(k);
  }

  private any(v: unknown, depth: number): void {
    if (depth > MAX_DEPTH) throw new ProtocolError('value nested too deeply');
    if (v === null) return this.u8(Tag.Null);
    switch (typeof v) {
      case 'boolean':
        return this.u8(v ? Tag.True : Tag.False);
      case 'number':
        if (Number.isSafeInteger(v)) {
          this.u8(Tag.Int);
          return this.int(v);
        }
        this.u8(Tag.Float);
        return this.f64(v);
      case 'string':
        this.u8(Tag.Str);
        return this.str(v);
    }
    if (Array.isArray(v)) {
      this.u8(Tag.Arr);
      this.uint(v.length);
      for (const x of v) this.any(x, depth + 1);
      return;
    }
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    this.u8(Tag.Obj);
    this.uint(keys.length);
    for (const k of keys) {
      this.sym(k);
      this.any(o[k], depth + 1);
    }
  }

  /** The bytes written so far (a copy of their exact size); the writer may go on. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /** `finish`, and the writer's buffer goes back to the spares: writing to it after throws. */
  done(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    giveBack(this.buf, this.view);
    ({ buf: this.buf, view: this.view } = FINISHED);
    return out;
  }
}

function uintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

export class Reader {
  pos = 0;
  /** Made at the first float read: most frames (an ACK, a live write of small numbers) have none. */
  private view: DataView | undefined;
  /** The last plain value read, as the tree its JSON text was made of (values.ts noteDecoded: not parsed again). */
  plain: unknown;
  private readonly table: string[] = [];

  constructor(
    private readonly buf: Uint8Array,
    seed?: readonly string[],
  ) {
    if (seed) for (const s of seed) if (!this.table.includes(s)) this.table.push(s);
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  done(): boolean {
    return this.pos >= this.buf.length;
  }

  u8(): number {
    if (this.pos >= this.buf.length) throw new ProtocolError('frame ends early');
    return this.buf[this.pos++]!;
  }

  uint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (i > 7) throw new ProtocolError('varint too long');
      const b = this.u8();
      n += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 0x80;
    }
    if (!Number.isSafeInteger(n)) throw new ProtocolError('integer out of range');
    return n;
  }

  int(): number {
    const z = this.uint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  /** A count of items, each at least `minBytes` long: bounded by what is left of the frame. */
  count(minBytes = 1): number {
    const n = this.uint();
    if (n * minBytes > this.remaining) throw new ProtocolError('count exceeds frame');
    return n;
  }

  f64(): number {
    if (this.remaining < 8) throw new ProtocolError('frame ends early');
    const x = (this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength)).getFloat64(this.pos, true);
    this.pos += 8;
    return x;
  }

  str(): string {
    const len = this.uint();
    if (len > this.remaining) throw new ProtocolError('string exceeds frame');
    const start = this.pos;
    this.pos += len;
    return (len < 64 ? asciiText(this.buf, start, len) : undefined) ?? this.utf8(start, len);
  }

  private utf8(start: number, len: number): string {
    try {
      return decoder.decode(this.buf.subarray(start, start + len));
    } catch {
      throw new ProtocolError('invalid UTF-8');
    }
  }

  sym(): string {
    const i = this.uint();
    if (i === 0) {
      const s = this.str();
      this.table.push(s);
      return s;
    }
    const s = this.table[i - 1];
    if (s === undefined) throw new ProtocolError('unknown string table index');
    return s;
  }

  bytes(): Uint8Array {
    const len = this.uint();
    if (len > this.remaining) throw new ProtocolError('bytes exceed frame');
    const out = this.buf.slice(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** Whether the next value is a plain one (sent as a tree, re-encoded as JSON here: valid by construction). */
  valueIsPlain(): boolean {
    const tag = this.buf[this.pos];
    return tag !== Tag.Rich && tag !== Tag.Bytes;
  }

  /** A value, returned as stored (text or bytes); the caller validates rich and byte values (values.ts). */
  value(): string | Uint8Array {
    if (this.buf[this.pos] === Tag.Bytes) {
      this.pos++;
      return this.bytes();
    }
    if (this.buf[this.pos] === Tag.Rich) {
      this.pos++;
      const text = this.str();
      if (text.charCodeAt(0) !== 0x7e) throw new ProtocolError('rich value without its marker');
      return text;
    }
    return JSON.stringify((this.plain = this.any(0)));
  }

  private any(depth: number): unknown {
    if (depth > MAX_DEPTH) throw new ProtocolError('value nested too deeply');
    const tag = this.u8();
    switch (tag) {
      case Tag.Null:
        return null;
      case Tag.False:
        return false;
      case Tag.True:
        return true;
      case Tag.Int:
        return this.int();
      case Tag.Float: {
        const x = this.f64();
        if (!Number.isFinite(x)) throw new ProtocolError('non-finite number in a plain value');
        return x === 0 ? 0 : x; // -0 as its JSON text reads back
      }
      case Tag.Str:
        return this.str();
      case Tag.Arr: {
        const n = this.count();
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = this.any(depth + 1);
        return out;
      }
      case Tag.Obj: {
        const n = this.count(2);
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const k = this.sym();
          if (k === '__proto__') throw new ProtocolError('"__proto__" key in a value');
          out[k] = this.any(depth + 1);
        }
        return out;
      }
      default:
        throw new ProtocolError(`unknown value tag ${tag}`);
    }
  }
}
