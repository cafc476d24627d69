/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum of log frames and stored records.
 * Uses node:zlib's native `crc32` where the running Node has it (20.15+), else a table-driven version
 * written here; both give the same value, so files move freely between Node versions.
 * `crc32(b, crc32(a)) === crc32(a ‖ b)`: a checksum can be continued over several buffers.
 */
import * as zlib from 'node:zlib';

type Crc32 = (data: Uint8Array | string, initial?: number) => number;

let table: Uint32Array | undefined;

function makeTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

/** The portable implementation (exported for the test that checks it against the native one). */
export function crc32Table(data: Uint8Array, initial = 0): number {
  const t = (table ??= makeTable());
  let c = (initial ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const native = (zlib as { crc32?: Crc32 }).crc32;

/** CRC-32 of bytes, or of a string's UTF-8 encoding. */
export const crc32: Crc32 = native
  ? (data, initial = 0) => native(data, initial) >>> 0
  : (data, initial = 0) => crc32Table(typeof data === 'string' ? Buffer.from(data, 'utf8') : data, initial);
