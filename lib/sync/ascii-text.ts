/**
 * Short strings of a frame (keys, names, short values), decoded where they are plain ASCII — most are — without
 * TextDecoder, whose call costs more than such a string's few characters.
 */

/**
 * The text of `len` bytes of `buf` from `start` when every one is ASCII, else undefined (the caller decodes UTF-8). Made
 * eight characters at a time: one string per eight characters, not one per character.
 */
export function asciiText(buf: Uint8Array, start: number, len: number): string | undefined {
  const end = start + len;
  let bits = 0;
  for (let i = start; i < end; i++) bits |= buf[i]!;
  if (bits > 0x7f) return undefined;
  let s = '';
  let i = start;
  for (; i + 8 <= end; i += 8) s += String.fromCharCode(buf[i]!, buf[i + 1]!, buf[i + 2]!, buf[i + 3]!, buf[i + 4]!, buf[i + 5]!, buf[i + 6]!, buf[i + 7]!);
  for (; i + 2 <= end; i += 2) s += String.fromCharCode(buf[i]!, buf[i + 1]!);
  if (i < end) s += String.fromCharCode(buf[i]!);
  return s;
}
