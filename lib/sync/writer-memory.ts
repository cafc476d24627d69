/**
 * What writers (codec.ts) keep from one frame to the next, made once and used again: scratch buffers, and the bytes of
 * plain values. A relay fans a write out to n sessions: n frames of the same value, written one after another.
 */

/** A plain value as `Writer.value` writes it into a frame whose string table is empty: its bytes and the strings it adds. */
export interface EncodedPlain {
  readonly text: string;
  readonly bytes: Uint8Array;
  readonly strings: readonly string[];
}

/**
 * Encode once: plain values written where the frame's table is empty (the first value of a LIVE frame), keyed by the
 * immutable version that holds them. A relay sends one stored version to every session where its space is live;
 * the value's bytes are then the same for each, and made once.
 */
export const plainOnce = new WeakMap<object, EncodedPlain>();

/**
 * Scratch buffers of finished writers, written again by the next ones: a frame costs one allocation, its bytes copied
 * out at `done` (an ArrayBuffer of a writer's starting size lives outside the JS heap, slow to allocate and to free).
 * Bounded: a few buffers of at most SPARE_BYTES each.
 */
export interface Scratch {
  readonly buf: Uint8Array;
  readonly view: DataView;
}
const spare: Scratch[] = [];
const SPARE_BUFFERS = 4;
const SPARE_BYTES = 1 << 16;
/** A finished writer's buffer: writing to it throws. */
export const FINISHED: Scratch = { buf: new Uint8Array(0), view: new DataView(new ArrayBuffer(0)) };

/** A buffer of at least `size` bytes (its content is garbage: a writer reads only what it wrote). */
export function takeScratch(size: number): Scratch {
  const s = spare.pop();
  if (s && s.buf.length >= size) return s;
  const buf = new Uint8Array(Math.max(size, s?.buf.length ?? 0));
  return { buf, view: new DataView(buf.buffer) };
}

/** A finished writer's buffer goes back, if there is room. */
export function giveBack(buf: Uint8Array, view: DataView): void {
  if (buf.length <= SPARE_BYTES && spare.length < SPARE_BUFFERS) spare.push({ buf, view });
}
