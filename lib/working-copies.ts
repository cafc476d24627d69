/**
 * Working copies of large values that take deltas in place (ValueType.working), kept between materializations.
 *
 * A version held as a chain of deltas is materialized every so many deltas (deltas.ts settle), each time from the
 * value materialized the time before. For a Yjs document that meant loading the whole document again — ~8–25 ms for
 * a 300 KB state on this machine, on the relay and on every follower, every 64 keystrokes: the latency spikes of
 * S10's paced keystrokes. Kept here, the copy made last time takes just the new deltas, and only `encode` costs the
 * value's size.
 *
 * Keyed by the materialized value itself (the EncodedValue object a version caches once materialized): a copy
 * answers only for exactly the bytes it was encoded to. Using it moves it to the new value, so a value taken
 * twice (two versions derived from one base) finds it the first time only and opens its own the second. A copy
 * whose delta fails is dropped, never kept half-applied. Bounded: the most recent few, by count and by encoded bytes;
 * values smaller than MIN_BYTES are not kept (decoding them is cheap).
 *
 * A copy also follows its chain as it grows (`follow`): each delta derived from the version the copy stands for is
 * stepped into it when the derived version is stored, and the copy is filed under that version. Materializing the
 * chain's head is then one `encode` (deltas.ts valueOf), and the work of the deltas is spread over the writes that
 * brought them rather than paid at once by the write that reached the chain's bound.
 */
import type { StoredVersion } from './dvv.js';
import type { WorkingCopies } from './typed.js';
import type { EncodedValue } from './values.js';

export const MAX_COPIES = 8;
export const MAX_COPY_BYTES = 4 << 20;
export const MIN_BYTES = 16 << 10;

/** Values smaller than this keep no copy (MIN_BYTES; the simulator, whose documents are small, lowers it). */
let floor = MIN_BYTES;

interface Kept {
  readonly copy: unknown;
  readonly w: WorkingCopies;
  readonly bytes: number;
}

/** Copies by the value they were encoded to, or by the (not materialized) version they followed a chain to. */
const kept = new Map<EncodedValue | StoredVersion, Kept>();
let keptBytes = 0;

/**
 * Applies `deltas` in order to `base` (its payload `payload`) through a working copy of type `w`: the one kept for
 * `base`, or a fresh one. Returns the new payload; `keep(out)` then files the copy under the value made of it.
 */
export function applyWorking(base: EncodedValue, payload: Uint8Array, w: WorkingCopies, deltas: readonly Uint8Array[]): { payload: Uint8Array; keep: (out: EncodedValue) => void } {
  const found = take(base);
  let copy: unknown = found?.w === w ? found.copy : undefined;
  if (found && copy === undefined) found.w.dispose?.(found.copy);
  try {
    copy ??= w.open(payload);
    for (const d of deltas) w.step(copy, d);
    const out = w.encode(copy);
    const made = copy;
    return { payload: out, keep: (value) => put(value, { copy: made, w, bytes: out.length }) };
  } catch (e) {
    if (copy !== undefined) w.dispose?.(copy);
    throw e;
  }
}

/**
 * A version `next` derived from `base` alone by `delta` was stored: the copy standing for `base` (its value, or `base`
 * itself when it was followed to), if any, takes the delta and now stands for `next`. A delta that fails drops it,
 * and is not thrown: the copies are a per-process cache, and what is stored must not depend on one (a receipt refused
 * where a copy was held would be taken on the retry, the copy gone, and by every replica holding none). The app is
 * told where the version is read — a step throws where `apply` throws (typed.ts), so reading it fails the same way
 * and reports it (test/review/follow-step-fails.test.ts).
 */
export function follow(base: StoredVersion, next: StoredVersion, delta: Uint8Array): void {
  const k = take(base.v ?? base);
  if (!k) return;
  try {
    k.w.step(k.copy, delta);
  } catch {
    k.w.dispose?.(k.copy);
    return;
  }
  put(next, k);
}

/**
 * The value of `v` from the copy that followed its chain to it (undefined when none did): `encode` of it, its type's
 * payload. `keep(out)` files the copy under the value made of it.
 */
export function encodeFollowed(v: StoredVersion): { payload: Uint8Array; keep: (out: EncodedValue) => void } | undefined {
  const k = take(v);
  if (!k) return undefined;
  let payload: Uint8Array;
  try {
    payload = k.w.encode(k.copy);
  } catch {
    k.w.dispose?.(k.copy);
    return undefined;
  }
  return { payload, keep: (value) => put(value, { copy: k.copy, w: k.w, bytes: payload.length }) };
}

function take(value: EncodedValue | StoredVersion): Kept | undefined {
  const k = kept.get(value);
  if (k) {
    kept.delete(value);
    keptBytes -= k.bytes;
  }
  return k;
}

function put(value: EncodedValue | StoredVersion, k: Kept): void {
  if (k.bytes < floor || k.bytes > MAX_COPY_BYTES) return k.w.dispose?.(k.copy);
  kept.set(value, k);
  keptBytes += k.bytes;
  for (const [v, old] of kept) {
    if (kept.size <= MAX_COPIES && keptBytes <= MAX_COPY_BYTES) break;
    take(v);
    old.w.dispose?.(old.copy);
  }
}

/** @internal For tests: the size below which no copy is kept (default MIN_BYTES). */
export function setWorkingCopyFloor(bytes: number): void {
  floor = bytes;
}

/** For tests: how many copies are kept, and drops them all. */
export function keptCopies(): number {
  return kept.size;
}
export function dropWorkingCopies(): void {
  for (const [v, k] of kept) {
    take(v);
    k.w.dispose?.(k.copy);
  }
}
