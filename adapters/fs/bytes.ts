/**
 * Varints (LEB128, up to 2^53) and length-prefixed runs, written into one growing buffer and read back within
 * bounds: the compact records (compact-record.ts) and the index columns of a snapshot (snapshot.ts).
 */
import { wellFormed } from '../../lib/values.js';

/** Texts up to this long are copied unit by unit (ByteWriter.text); a longer one is written by Buffer#write. */
const LOOP_TEXT = 24;

export class ByteWriter {
  buf: Buffer;
  at = 0;

  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }

  room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  /** A non-negative safe integer (the caller checks). */
  uint(n: number): void {
    this.room(8);
    const buf = this.buf;
    let at = this.at;
    // In 32-bit arithmetic: below 2^31 at once (counts, lengths, counters); above (an HLC time in milliseconds),
    // its low 28 bits from its low 32, then the bits above them (below 2^25 up to 2^53)
    if (n < 0x80000000) {
      let m = n | 0;
      while (m >= 0x80) {
        buf[at++] = (m & 0x7f) | 0x80;
        m >>>= 7;
      }
      buf[at++] = m;
    } else {
      const low = n >>> 0;
      for (let i = 0; i < 4; i++) buf[at++] = ((low >>> (7 * i)) & 0x7f) | 0x80;
      let m = (low >>> 28) | (((n - low) / 0x100000000) << 4);
      while (m >= 0x80) {
        buf[at++] = (m & 0x7f) | 0x80;
        m >>>= 7;
      }
      buf[at++] = m;
    }
    this.at = at;
  }

  raw(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  /** A length, then the bytes. */
  bytes(b: Uint8Array): void {
    this.uint(b.length);
    this.raw(b);
  }

  /**
   * A length, then the UTF-8 of `s`; false (nothing written) where `s` holds a lone surrogate, which UTF-8 cannot
   * carry. A text of ASCII is written at once (its length known before its bytes).
   */
  text(s: string): boolean {
    const start = this.at;
    const n = s.length;
    this.room(8 + n);
    this.uint(n);
    const buf = this.buf;
    let at = this.at;
    if (n > LOOP_TEXT) {
      // its UTF-8 as long as its UTF-16 units: ASCII
      this.room(3 * n);
      if (this.buf.write(s, at, 'utf8') === n) {
        this.at = at + n;
        return true;
      }
      this.at = start;
      return this.utf8(s);
    }
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.at = start;
        return this.utf8(s);
      }
      buf[at++] = c;
    }
    this.at = at;
    return true;
  }

  private utf8(s: string): boolean {
    if (!wellFormed(s)) return false;
    // Worst case 3 bytes per UTF-16 unit; the length is written once the bytes are known.
    this.room(8 + s.length * 3);
    const start = this.at;
    this.at += 1;
    const n = this.buf.write(s, this.at, 'utf8');
    if (n < 0x80) {
      this.buf[start] = n;
      this.at += n;
    } else {
      const body = Buffer.from(this.buf.subarray(this.at, this.at + n));
      this.at = start;
      this.bytes(body);
    }
    return true;
  }

  done(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

/** Reads varints and runs from `b` between `at` and `end`; throws `fail(why)` past `end`. */
export class ByteReader {
  constructor(
    private readonly b: Buffer,
    public at: number,
    public end: number,
    private readonly fail: (why: string) => Error = (why) => new Error(why),
  ) {}

  uint(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      if (this.at >= this.end) throw this.fail('ends early');
      const byte = this.b[this.at++]!;
      n += (byte & 0x7f) * scale;
      if (byte < 0x80) return n;
      scale *= 0x80;
      if (scale > 2 ** 56) throw this.fail('a varint too long');
    }
  }

  /** Skips a length-prefixed run; returns its bounds. */
  skip(): [number, number] {
    const len = this.uint();
    if (this.at + len > this.end) throw this.fail('a run past the end');
    this.at += len;
    return [this.at - len, this.at];
  }
}
