/**
 * 64-bit hashing for key states and Merkle buckets: xxHash64 (xxhash-wasm), synchronous once loaded.
 * WebCrypto would be asynchronous and far slower per key; a JS BigInt xxHash is ~10× slower than the wasm one.
 * `loadHasher()` must have resolved before `hash64` is called (openReplica awaits it).
 */
import xxhash from 'xxhash-wasm';

type Api = Awaited<ReturnType<typeof xxhash>>;
let api: Api | undefined;
let loading: Promise<Api> | undefined;

export async function loadHasher(): Promise<void> {
  api ??= await (loading ??= xxhash());
}

/** xxHash64 of the UTF-8 text, as 16 lowercase hex digits. */
export function hash64(text: string): string {
  if (!api) throw new Error('concord: hash64 called before loadHasher() resolved');
  return api.h64ToString(text);
}

/** A scratch buffer for callers that write their text as UTF-8 bytes themselves (dvv.ts stateHash), then hash64Scratch. */
let scratch = new Uint8Array(256);

/** Views of the scratch buffer's first n bytes, by n: made once each (a put hashes once; a view per hash was 100 bytes of it). */
let views: Array<Uint8Array | undefined> = [];

/** The scratch buffer, at least `n` bytes long (its contents are not kept when it grows). */
export function hashScratch(n: number): Uint8Array {
  if (scratch.length < n) {
    scratch = new Uint8Array(Math.max(n, scratch.length * 2));
    views = [];
  }
  return scratch;
}

/** xxHash64 of the first `length` bytes of the scratch buffer, as 16 lowercase hex digits (as `hash64` of their text). */
export function hash64Scratch(length: number): string {
  if (!api) throw new Error('concord: hash64 called before loadHasher() resolved');
  const view = length < 1024 ? (views[length] ??= scratch.subarray(0, length)) : scratch.subarray(0, length);
  return api.h64Raw(view).toString(16).padStart(16, '0');
}
