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
