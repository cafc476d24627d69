/**
 * A key state larger than one frame (protocol 10): its siblings together outgrow the frame limit though each value
 * fits (maxValueBytes). It goes as PART frames, each carrying some of the key's versions and no context of its own
 * (the versions' own dots), then as the CHANGES frame it belongs to — log frame or repair state alike — carrying
 * the key with its whole context and no versions. The receiver stages the parts and joins the key only with that
 * last frame, as one state: a context never reaches the receiver ahead of the versions it covers (joining a part
 * with the whole context would drop the siblings not sent yet), and no part is joined alone (a part without its
 * context would show versions that the context supersedes as siblings — a merge on read would bring them back).
 *
 *   sender     every part of a key is framed before the first goes, and all go in one turn: nothing else on the
 *              connection comes between them (wire.ts)
 *   receiver   one key is staged at a time; anything but the next PART of that key or the CHANGES frame that ends
 *              it is a protocol error, and so is staging past STAGED_FRAMES frames' bytes (+ PER_VERSION a version):
 *              a peer cannot make us hold more. The staging belongs to the connection: a connection that closes
 *              between parts leaves nothing staged and nothing joined, and the cursor did not move (it moves only
 *              with the last frame, in the join's transaction, space-sync.ts)
 *
 * A peer that does not speak 10 gets no PART: such a key stays unsendable to it and is reported (VALUE_TOO_LARGE); its
 * context alone goes, for the replicas with no version in it (fit-state.ts).
 */
import type { KeyState, StoredVersion } from '../dvv.js';
import { ProtocolError } from './codec.js';
import { entrySize, MsgType, type Changes, type Entry, type Message, type Part } from './messages.js';
import { dotsContext, sortDots } from './wire-state.js';

/** The first protocol version with PART. */
export const KEY_PARTS = 10;
/**
 * A key state in parts may take at most this many frames' bytes at the receiver (16 MiB at the default 4 MiB frames,
 * per connection: a relay with many connections must not be made to hold much more than their frames) ...
 */
export const STAGED_FRAMES = 4;
/** ... counting each version this much more (what it costs held in memory beyond its bytes). */
export const PER_VERSION = 64;

/** What the staging of one key state may take on a connection whose frames are at most `maxFrameBytes`. */
export function stagingLimit(maxFrameBytes: number): number {
  return STAGED_FRAMES * maxFrameBytes;
}

/**
 * The state of some versions alone: their own dots as context, points included where they name epochs (protocol 11),
 * so the frame carries no context.
 */
function partState(vs: readonly StoredVersion[]): KeyState {
  return { vs: [...vs], ...dotsContext(vs) };
}

/**
 * The PART frames of `entry` in `space`, each under `maxFrameBytes` (`encode` frames one), or why they cannot be
 * made: a version alone outgrows a frame, or the whole outgrows what a receiver stages. Nothing is sent here.
 */
export function partFrames(space: string, entry: Entry, maxFrameBytes: number, encode: (m: Part) => Uint8Array): Uint8Array[] | string {
  const [key, state] = entry;
  const budget = maxFrameBytes - 64 - 3 * (key.length + space.length);
  const chunks: StoredVersion[][] = [];
  let chunk: StoredVersion[] = [];
  let bytes = 0;
  for (const v of state.vs) {
    const size = entrySize('', { vs: [v], cc: {} });
    if (chunk.length > 0 && bytes + size > budget) (chunks.push(chunk), (chunk = []), (bytes = 0));
    chunk.push(v);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  const frames: Uint8Array[] = [];
  let staged = 0;
  const frame = (vs: StoredVersion[]): string | undefined => {
    const f = encode({ type: MsgType.Part, space, upTo: 0, entries: [[key, partState(vs)]] });
    if (f.byteLength > maxFrameBytes) {
      if (vs.length === 1) return `a version of "${key}" in space "${space}" encodes to ${f.byteLength} bytes, over the connection's frame limit (${maxFrameBytes} bytes): maxValueBytes must stay under the frame limit`;
      const half = Math.ceil(vs.length / 2);
      return frame(vs.slice(0, half)) ?? frame(vs.slice(half));
    }
    frames.push(f);
    staged += f.byteLength + PER_VERSION * vs.length;
    return undefined;
  };
  for (const c of chunks) {
    const error = frame(c);
    if (error) return error;
  }
  const limit = stagingLimit(maxFrameBytes);
  if (staged > limit) return `"${key}" in space "${space}" holds ${state.vs.length} versions of ${staged} bytes in all, over what a peer stages of one key (${limit} bytes, ${STAGED_FRAMES} frames)`;
  return frames;
}

/** The last frame of a key in parts: the message it belonged to, with the key's context and no versions. */
export function lastOfParts(m: Changes): Changes {
  const [key, state] = m.entries[0]!;
  return { ...m, entries: [[key, state.pts === undefined ? { vs: [], cc: state.cc } : { vs: [], cc: state.cc, pts: state.pts }]] };
}

/** The receiver's side: the parts of one key state of a connection, until the frame that ends it. */
export class PartStaging {
  private space = '';
  private key: string | undefined;
  private vs: StoredVersion[] = [];
  private bytes = 0;

  /** `limit`: the bytes one key state in parts may take (0: the peer may not send parts). */
  constructor(private readonly limit: number) {}

  /**
   * A decoded message: a PART is staged (undefined: nothing to handle yet); the CHANGES frame that ends the staged
   * key comes back with the key's whole state; anything else while a key is staged is refused.
   */
  take(m: Message, frameBytes: number): Message | undefined {
    if (m.type === MsgType.Part) return this.stage(m, frameBytes);
    if (this.key === undefined) return m;
    if (m.type !== MsgType.Changes || m.space !== this.space || m.entries.length !== 1 || m.entries[0]![0] !== this.key) {
      throw new ProtocolError(`the parts of "${this.key}" in space "${this.space}" were not followed by its context`);
    }
    const [key, last] = m.entries[0]!;
    const vs = [...this.vs, ...last.vs];
    this.key = undefined;
    this.vs = [];
    this.bytes = 0;
    sortDots(vs);
    for (const v of vs) if ((last.cc[v.r] ?? 0) < v.n) throw new ProtocolError('a version outside its causal context');
    return { ...m, entries: [[key, last.pts === undefined ? { vs, cc: last.cc } : { vs, cc: last.cc, pts: last.pts }]] };
  }

  private stage(m: Part, frameBytes: number): undefined {
    if (this.limit === 0) throw new ProtocolError('a PART from a peer that did not announce protocol 10');
    const [key, s] = m.entries[0]!;
    if (this.key !== undefined && (this.key !== key || this.space !== m.space)) {
      throw new ProtocolError(`a part of "${key}" in space "${m.space}" while the parts of "${this.key}" were not ended`);
    }
    this.bytes += frameBytes + PER_VERSION * s.vs.length;
    if (this.bytes > this.limit) {
      throw new ProtocolError(`the parts of "${key}" in space "${m.space}" outgrew what this replica stages of one key (${this.limit} bytes, ${STAGED_FRAMES} frames)`);
    }
    this.space = m.space;
    this.key = key;
    for (const v of s.vs) this.vs.push(v);
    return undefined;
  }
}
