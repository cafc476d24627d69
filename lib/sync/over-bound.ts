/**
 * Versions whose whole values are over what this replica takes (4 × maxValueBytes; resolve.ts `over`). A client lacks
 * them from the peer as if the link had left them out (lacks.ts: VALUE_TOO_LARGE told, not 'synced' until a state
 * covering them comes); the caller stores the rest of the frame and moves its cursor on. Refusing the frame whole
 * dropped the link, and the stream, resuming from its cursor, sent the same value: a reader with a smaller
 * maxValueBytes than its relay's reconnected for good, untold. A server (a relay) keeps no lacks: there the frame is
 * refused, as before.
 */
import { ProtocolError } from './codec.js';
import type { Lacks } from './lacks.js';
import { MsgType, type LeftDot } from './messages.js';

export type Over = ReadonlyArray<readonly [key: string, dots: readonly LeftDot[]]>;

/**
 * Lacks `over` from `peer`, or refuses the frame (`client` false). A key lacked already for these dots is not told
 * again: anti-entropy brings its state at every run, and the app was told once.
 */
export function lackOverBound(lacks: Lacks, client: boolean, peer: string, space: string, over: Over): void {
  if (!client) throw new ProtocolError('value over the size limit');
  const known = new Map<string, readonly LeftDot[]>();
  for (const [p, s, k, dots] of lacks.list()) if (p === peer && s === space) known.set(k, dots);
  const fresh = over.filter(([k, dots]) => !dots.every((d) => known.get(k)?.some((x) => x.r === d.r && x.e === d.e && x.n === d.n)));
  if (fresh.length > 0) lacks.told(peer, { type: MsgType.Left, space, keys: [...fresh] }, true);
}
